"""Tests for spectral_manifolds.sphere against geoopt's Sphere, mpmath and closed forms."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import geoopt
import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds import sphere as S

GEOOPT = geoopt.Sphere()
# jitted once per shape: eager op-by-op dispatch recompiles every primitive for each new d
J = SimpleNamespace(**{name: jax.jit(getattr(S, name)) for name in ("exp", "log", "dist", "transport", "project", "normalize", "retract", "safe_norm")})
# Dimensions 2..64 from a fixed menu, so that jitted maps compile once per dimension and the
# whole file stays fast on two CPU cores (each new shape costs an XLA compile).
DIMS = st.sampled_from((2, 3, 4, 5, 8, 13, 21, 32, 47, 64))
SEEDS = st.integers(min_value=0, max_value=2**31 - 1)
FAST = settings(max_examples=10, deadline=None)


@contextlib.contextmanager
def x64():
    """Enable float64 in JAX for the block and restore the previous setting afterwards."""
    previous = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def pairs(d: int, n: int, seed: int, r_min: float, r_max: float):
    """Float64 test points: z on S^(d-1), v tangent at z with |v| in [r_min, r_max], y = exp_z(v)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    v = rng.standard_normal((n, d))
    v -= np.sum(v * z, axis=-1, keepdims=True) * z
    v *= rng.uniform(r_min, r_max, (n, 1)) / np.linalg.norm(v, axis=-1, keepdims=True)
    r = np.linalg.norm(v, axis=-1, keepdims=True)
    y = np.cos(r) * z + np.sin(r) / r * v
    return z, v, y


def t(a):
    return torch.from_numpy(np.asarray(a))


# --------------------------------------------------------------------------- geoopt
@FAST
@given(d=DIMS, seed=SEEDS)
def test_agrees_with_geoopt_float32(d, seed):
    z, v, y = (a.astype(np.float32) for a in pairs(d, 64, seed, 0.5, 2.5))
    w = (3.0 * v + 0.5).astype(np.float32)  # an ambient, non-tangent vector
    assert J.exp(z, v).dtype == jnp.float32
    checks = {
        "exp": (J.exp(z, v), GEOOPT.expmap(t(z), t(v))),
        "log": (J.log(z, y), GEOOPT.logmap(t(z), t(y))),
        "dist": (J.dist(z, y), GEOOPT.dist(t(z), t(y))),
        "project": (J.project(z, w), GEOOPT.proju(t(z), t(w))),
        "retract": (J.retract(z, v), GEOOPT.retr(t(z), t(v))),
        "normalize": (J.normalize(w), GEOOPT.projx(t(w))),
    }
    for name, (ours, theirs) in checks.items():
        np.testing.assert_allclose(np.asarray(ours), theirs.numpy(), atol=1e-6, rtol=0, err_msg=name)


@FAST
@given(d=DIMS, seed=SEEDS)
def test_agrees_with_geoopt_float64(d, seed):
    z, v, y = pairs(d, 64, seed, 0.01, 3.1)  # geoopt's float64 dist clamps <z,y> to 1 - 1e-5
    w = 3.0 * v + 0.5
    with x64():
        assert J.exp(z, v).dtype == jnp.float64
        checks = {
            "exp": (J.exp(z, v), GEOOPT.expmap(t(z), t(v))),
            "log": (J.log(z, y), GEOOPT.logmap(t(z), t(y))),
            "dist": (J.dist(z, y), GEOOPT.dist(t(z), t(y))),
            "project": (J.project(z, w), GEOOPT.proju(t(z), t(w))),
            "retract": (J.retract(z, v), GEOOPT.retr(t(z), t(v))),
            "normalize": (J.normalize(w), GEOOPT.projx(t(w))),
        }
        for name, (ours, theirs) in checks.items():
            np.testing.assert_allclose(np.asarray(ours), theirs.numpy(), atol=1e-12, rtol=0, err_msg=name)


def test_x64_context_restores_setting():
    before = jax.config.read("jax_enable_x64")
    with x64():
        assert jnp.zeros(1).dtype == jnp.float64
    assert jax.config.read("jax_enable_x64") == before
    assert jnp.zeros(1).dtype == (jnp.float64 if before else jnp.float32)


# --------------------------------------------------------------------------- accuracy where geoopt clamps
@pytest.mark.parametrize("angle", [1e-6, 1e-4, 1e-2, 0.5, 3.0, np.pi - 1e-3])
def test_dist_float32_matches_mpmath_over_whole_range(angle):
    """The atan2 form keeps full relative accuracy at small distances, where arccos cannot."""
    x = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    y = np.array([np.cos(angle), np.sin(angle), 0.0], dtype=np.float32)  # the float32 point we test
    dps = mpmath.mp.dps
    with mpmath.workdps(40):  # local precision: mpmath's global setting is left as it was
        xm, ym = [mpmath.mpf(float(a)) for a in x], [mpmath.mpf(float(a)) for a in y]
        ym_norm = mpmath.sqrt(sum(a * a for a in ym))
        exact = 2 * mpmath.asin(mpmath.sqrt(sum((a - b / ym_norm) ** 2 for a, b in zip(xm, ym))) / 2)
    assert mpmath.mp.dps == dps
    ours = float(J.dist(x, y))
    assert abs(ours - float(exact)) <= 4e-7 * max(float(exact), 1e-3) + 1e-12


# --------------------------------------------------------------------------- identities
@FAST
@given(d=DIMS, seed=SEEDS)
def test_log_exp_identity_float32(d, seed):
    z, v, _ = pairs(d, 64, seed, 0.0, 2.5)
    z, v = jnp.asarray(z, jnp.float32), jnp.asarray(v, jnp.float32)
    np.testing.assert_allclose(np.asarray(J.log(z, J.exp(z, v))), np.asarray(v), atol=2e-6, rtol=0)


@FAST
@given(d=DIMS, seed=SEEDS)
def test_log_exp_identity_float64(d, seed):
    z, v, _ = pairs(d, 64, seed, 0.0, 3.0)
    with x64():
        np.testing.assert_allclose(np.asarray(J.log(z, J.exp(z, v))), v, atol=1e-12, rtol=0)
        y = np.asarray(J.exp(z, v))
        np.testing.assert_allclose(np.asarray(J.exp(z, J.log(z, y))), y, atol=1e-12, rtol=0)
        np.testing.assert_allclose(np.asarray(J.dist(z, y)), np.linalg.norm(v, axis=-1), atol=1e-12, rtol=0)


@FAST
@given(d=DIMS, seed=SEEDS, scale=st.floats(min_value=0.0, max_value=100.0))
def test_points_stay_on_sphere(d, seed, scale):
    z, v, _ = pairs(d, 64, seed, 0.0, 1.0)
    z, v = jnp.asarray(z, jnp.float32), jnp.asarray(scale * v, jnp.float32)
    for p in (J.exp(z, v), J.retract(z, v), J.normalize(v + 1.0)):
        np.testing.assert_allclose(np.linalg.norm(np.asarray(p), axis=-1), 1.0, atol=1e-6)
    tangent = J.project(z, v + 1.0)
    assert np.abs(np.sum(np.asarray(tangent * z), axis=-1)).max() < 1e-4 * (scale + 2)


@FAST
@given(d=DIMS, seed=SEEDS)
def test_retraction_agrees_with_exp_to_second_order(d, seed):
    z, v, _ = pairs(d, 64, seed, 1.0, 1.0)
    with x64():
        errs = [np.abs(np.asarray(J.retract(z, h * v) - J.exp(z, h * v))).max() for h in (1e-2, 2e-2)]
    # |retract - exp| ~ |v|^3 / 3: doubling the step multiplies the error by 8
    assert 6.0 < errs[1] / errs[0] < 10.0


# --------------------------------------------------------------------------- gradients at the degenerate points
def test_exp_gradient_at_zero_is_identity_and_the_naive_form_is_nan():
    z = jnp.asarray([0.0, 0.6, 0.8])
    jac = jax.jacobian(lambda v: J.exp(z, v))(jnp.zeros(3))
    np.testing.assert_allclose(np.asarray(jac), np.eye(3), atol=1e-7)

    naive = jax.jacobian(lambda v: S.exp_naive(z, v))
    assert np.isnan(np.asarray(naive(jnp.zeros(3)))).any()  # the trap of DESIGN.md, behind a where
    v = jnp.asarray([0.3, -0.4, 0.3])
    v = S.project(z, v)
    np.testing.assert_allclose(np.asarray(S.exp_naive(z, v)), np.asarray(S.exp(z, v)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(naive(v)), np.asarray(jax.jacobian(lambda w: S.exp(z, w))(v)), atol=1e-5)


@pytest.mark.parametrize("d", [2, 3, 21, 64])
def test_gradients_finite_at_degenerate_points(d):
    z = J.normalize(jnp.arange(1.0, d + 1.0))
    v0 = jnp.zeros(d)
    grads = {
        "exp": jax.grad(lambda v: jnp.sum(J.exp(z, v) ** 3))(v0),
        "log at y=z": jax.grad(lambda y: jnp.sum(J.log(z, y)))(z),
        "dist at y=z": jax.grad(lambda y: J.dist(z, y))(z),
        "normalize at 0": jax.grad(lambda x: jnp.sum(J.normalize(x)))(v0),
        "safe_norm at 0": jax.grad(lambda x: jnp.sum(J.safe_norm(x)))(v0),
        "retract": jax.grad(lambda v: jnp.sum(J.retract(z, v)))(v0),
        "transport at y=x": jax.grad(lambda y: jnp.sum(J.transport(z, y, J.project(z, jnp.ones(d)))))(z),
    }
    for name, g in grads.items():
        assert np.isfinite(np.asarray(g)).all(), name
    # d log_z(y)/dy at y = z is the tangent projection
    jac = jax.jacobian(lambda y: J.log(z, y))(z)
    np.testing.assert_allclose(np.asarray(jac), np.eye(d) - np.outer(z, z), atol=1e-6)


def test_values_at_degenerate_points():
    z = jnp.asarray([1.0, 0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(J.exp(z, jnp.zeros(3))), np.asarray(z))
    np.testing.assert_array_equal(np.asarray(J.log(z, z)), np.zeros(3))
    assert float(J.dist(z, z)) == 0.0
    assert float(J.dist(z, -z)) == pytest.approx(np.pi, abs=1e-6)
    np.testing.assert_array_equal(np.asarray(J.normalize(jnp.zeros(3))), np.zeros(3))
    assert np.isfinite(np.asarray(J.log(z, -z))).all()
    assert np.isfinite(np.asarray(J.transport(z, -z, jnp.asarray([0.0, 1.0, 0.0])))).all()


# --------------------------------------------------------------------------- parallel transport
@FAST
@given(d=DIMS, seed=SEEDS)
def test_transport_is_parallel(d, seed):
    x, u, y = pairs(d, 64, seed, 0.1, 3.0)
    rng = np.random.default_rng(seed + 1)
    v = rng.standard_normal(x.shape)
    v -= np.sum(v * x, axis=-1, keepdims=True) * x
    with x64():
        pv = np.asarray(J.transport(x, y, v))
        # tangent at y, isometry, the geodesic's velocity is carried to the velocity at y
        np.testing.assert_allclose(np.sum(pv * y, axis=-1), 0.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(pv, axis=-1), np.linalg.norm(v, axis=-1), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(J.transport(x, y, u)), -np.asarray(J.log(y, x)), atol=1e-10)
        np.testing.assert_allclose(np.asarray(J.transport(y, x, pv)), v, atol=1e-10)
        # the textbook form: v + (cos t - 1) <e, v> e - sin t <e, v> x
        th = np.linalg.norm(u, axis=-1, keepdims=True)
        e = u / th
        ev = np.sum(e * v, axis=-1, keepdims=True)
        np.testing.assert_allclose(pv, v + (np.cos(th) - 1) * ev * e - np.sin(th) * ev * x, atol=1e-12)
    # an independent oracle: project v onto the tangent space at many points along the geodesic
    steps = 2000
    w = v.copy()
    for k in range(1, steps + 1):
        s = th * k / steps
        p = np.cos(s) * x + np.sin(s) * e
        w -= np.sum(w * p, axis=-1, keepdims=True) * p
        w *= np.linalg.norm(v, axis=-1, keepdims=True) / np.linalg.norm(w, axis=-1, keepdims=True)
    np.testing.assert_allclose(pv, w, atol=5e-3 * np.abs(v).max())


# --------------------------------------------------------------------------- shapes
def test_broadcasting_over_leading_axes():
    key = jax.random.key(0)
    z = S.random_point(key, (4, 5, 7))
    v = J.project(z, jax.random.normal(jax.random.key(1), (7,)))
    assert v.shape == (4, 5, 7)
    assert J.exp(z, v).shape == (4, 5, 7)
    assert J.log(z, z[0]).shape == (4, 5, 7)
    assert J.dist(z, z[:, :1]).shape == (4, 5)
    assert J.transport(z, z[::-1], v).shape == (4, 5, 7)
    single = J.exp(z[1, 2], v[1, 2])
    np.testing.assert_allclose(np.asarray(single), np.asarray(J.exp(z, v)[1, 2]), atol=1e-7)
