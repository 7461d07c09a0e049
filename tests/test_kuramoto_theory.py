"""Tests of spectral_manifolds.kuramoto_theory: the Sakaguchi-Kuramoto phase model on the
circle and on the sphere, against scipy, closed forms and the Ott-Antonsen theory."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds import kuramoto_theory as ku
from spectral_manifolds import ode, sphere
from spectral_manifolds.experiments import kuramoto as exp


# ====================================================================== theory
def test_lorentzian_frequencies_are_cauchy_mid_quantiles():
    w = np.asarray(ku.lorentzian_frequencies(1000, 0.7, omega0=0.2))
    q = (np.arange(1000) + 0.5) / 1000
    np.testing.assert_allclose(w, scipy.stats.cauchy.ppf(q, loc=0.2, scale=0.7), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w + w[::-1], 0.4, atol=1e-3)  # symmetric about omega0


@pytest.mark.parametrize("K", [1.2, 1.6, 3.0])
def test_ott_antonsen_r_solves_the_kuramoto_self_consistency_equation(K):
    # alpha = 0: r = K r int_{-pi/2}^{pi/2} cos^2(x) g(K r sin x) dx with g the Lorentzian density
    # (Kuramoto 1984, locked oscillators only; the drifting ones contribute nothing when g is even).
    delta = 0.5
    r = float(ku.ott_antonsen_r(K, delta, 0.0))
    integral, _ = scipy.integrate.quad(lambda x: np.cos(x) ** 2 * scipy.stats.cauchy.pdf(K * r * np.sin(x), scale=delta), -np.pi / 2, np.pi / 2)
    assert K * integral == pytest.approx(1.0, rel=1e-8)


def test_ott_antonsen_r_is_zero_below_onset_and_tends_to_one():
    assert ku.ott_antonsen_r(0.99, 0.5, 0.0) == 0.0
    assert ku.ott_antonsen_r(1.5, 0.5, 1.0) == 0.0  # K cos(alpha) = 0.81 < 2 delta
    assert ku.ott_antonsen_r(1e6, 0.5, 0.3) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(ku.critical_coupling(0.5, 0.8), 1.0 / np.cos(0.8))


# ====================================================================== d = 2 reduction
N_HYP = 24  # fixed size: the jitted fields compile once for all hypothesis examples
_sphere_d2 = jax.jit(lambda th, w, k, a: ku.sphere_field(ku.phases_to_sphere(th), w, k, a))
_phase_d2 = jax.jit(ku.phase_field)
_seed_d2 = jax.jit(lambda th, a: ku.seed_field(ku.phases_to_sphere(th), None, 1.0, a))


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 3.0), st.floats(-1.5, 1.5), st.integers(0, 2**31 - 1))
def test_sphere_field_in_d2_is_exactly_sakaguchi_kuramoto(K, alpha, seed):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-np.pi, np.pi, N_HYP)
    omega = rng.normal(size=N_HYP)
    # oracle: the pairwise Sakaguchi-Kuramoto sum in float64
    pairwise = omega + K / N_HYP * np.sin(theta[None, :] - theta[:, None] - alpha).sum(axis=1)
    th32, w32 = jnp.asarray(theta, jnp.float32), jnp.asarray(omega, jnp.float32)
    v = np.asarray(_sphere_d2(th32, w32, K, alpha))
    e_theta = np.stack([-np.sin(theta), np.cos(theta)], axis=-1)
    np.testing.assert_allclose(np.sum(v * e_theta, axis=-1), pairwise, atol=2e-5 * (1 + K))
    np.testing.assert_allclose(np.sum(v * np.stack([np.cos(theta), np.sin(theta)], -1), axis=-1), 0.0, atol=2e-6 * (1 + K))
    np.testing.assert_allclose(_phase_d2(th32, w32, K, alpha), pairwise, atol=2e-5 * (1 + K))


@settings(max_examples=25, deadline=None)
@given(st.floats(-1.5, 1.5), st.integers(0, 2**31 - 1))
def test_seed_field_in_d2_has_phase_coupling_sin_cos_plus_alpha_times_sin(alpha, seed):
    theta = np.random.default_rng(seed).uniform(-np.pi, np.pi, N_HYP)
    v = np.asarray(_seed_d2(jnp.asarray(theta, jnp.float32), alpha))
    e_theta = np.stack([-np.sin(theta), np.cos(theta)], axis=-1)
    dtheta = theta[None, :] - theta[:, None]
    expected = np.mean(np.sin(np.cos(dtheta) + alpha) * np.sin(dtheta), axis=1)  # float64 oracle
    np.testing.assert_allclose(np.sum(v * e_theta, axis=-1), expected, atol=3e-6)
    np.testing.assert_allclose(ku.seed_phase_coupling(jnp.asarray(dtheta[0]), alpha), np.sin(np.cos(dtheta[0]) + alpha) * np.sin(dtheta[0]), atol=1e-6)


def test_seed_coupling_is_odd_for_every_lag_but_sakaguchi_is_not():
    x = jnp.linspace(-np.pi, np.pi, 101)
    for alpha in (0.0, 0.5, 1.2):
        np.testing.assert_allclose(ku.seed_phase_coupling(-x, alpha), -ku.seed_phase_coupling(x, alpha), atol=1e-6)
        assert float(ku.sakaguchi_phase_coupling(0.0, alpha)) == pytest.approx(-np.sin(alpha), abs=1e-7)
    assert float(jnp.max(jnp.abs(ku.sakaguchi_phase_coupling(-x, 0.8) + ku.sakaguchi_phase_coupling(x, 0.8)))) > 1.0


def test_phase_and_sphere_reductions_reproduce_ott_antonsen_within_001():
    # The claim: N >= 2000 Lorentzian oscillators, several (K, alpha), |r - r*| < 0.01.
    n, delta = 2000, 0.5
    omega = ku.lorentzian_frequencies(n, delta)
    theta0 = jnp.asarray(exp.initial_phases(n, 0))
    ks = jnp.asarray([1.5, 2.0, 3.0, 3.0], jnp.float32)
    alphas = jnp.asarray([0.0, 0.5, 1.0, -0.6], jnp.float32)
    theory = ku.ott_antonsen_r(np.asarray(ks), delta, np.asarray(alphas))
    assert np.all(theory > 0.4)
    for model in ("phase", "sphere"):
        f = jax.jit(jax.vmap(lambda k, a, model=model: ku.time_averaged_order(model, omega, theta0, k, a, h=0.1, t_transient=25.0, t_total=70.0)))
        r, _ = f(ks, alphas)
        np.testing.assert_array_less(np.abs(np.asarray(r) - theory), 0.01, err_msg=f"{model}: r={np.asarray(r)}, r*={theory}")


def test_time_averaged_order_rejects_bad_arguments():
    w = ku.lorentzian_frequencies(10, 0.5)
    with pytest.raises(ValueError, match="model"):
        ku.time_averaged_order("torus", w, jnp.zeros(10), 1.0, 0.0, h=0.1, t_transient=1.0, t_total=5.0)
    with pytest.raises(ValueError, match="times"):
        ku.time_averaged_order("phase", w, jnp.zeros(10), 1.0, 0.0, h=0.1, t_transient=6.0, t_total=5.0)


# ====================================================================== lag operator
@pytest.mark.parametrize("d", [2, 4, 6])
def test_linear_lag_is_the_rotation_exp_minus_alpha_a_in_even_d(d):
    a = np.asarray(ku.lag_generator(d), np.float64)
    np.testing.assert_allclose(a, -a.T)
    np.testing.assert_allclose(a @ a, -np.eye(d))
    np.testing.assert_allclose(ku.lag_operator(0.7, d), scipy.linalg.expm(-0.7 * a), atol=1e-6)
    np.testing.assert_allclose(ku.lag_operator(0.7, d, kind="rotation"), scipy.linalg.expm(-0.7 * a), atol=1e-6)


def test_linear_lag_differs_from_rotation_in_odd_d_only_on_the_axis():
    lin, rot = np.asarray(ku.lag_operator(0.7, 3)), np.asarray(ku.lag_operator(0.7, 3, kind="rotation"))
    np.testing.assert_allclose(lin[:2, :2], rot[:2, :2], atol=1e-6)
    assert lin[2, 2] == pytest.approx(np.cos(0.7)) and rot[2, 2] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kind"):
        ku.lag_operator(0.7, 3, kind="cayley")
    with pytest.raises(ValueError, match="d must"):
        ku.lag_generator(1)


@pytest.mark.parametrize("d", [3, 4, 5])
def test_synchronized_cluster_drifts_along_the_generator_under_the_linear_lag(d):
    # Pi_z(L_alpha z) = -sin(alpha) A z: the Sakaguchi-Kuramoto frequency shift, in every d.
    z = sphere.random_point(jax.random.key(d), (5, 1, d))  # 5 clusters (batch axis) of N = 1 state
    v = ku.sphere_field(z, None, 1.3, 0.6)
    np.testing.assert_allclose(v, -1.3 * np.sin(0.6) * np.asarray(z) @ np.asarray(ku.lag_generator(d)).T, atol=1e-6)


# ====================================================================== on the sphere
@pytest.mark.parametrize("d,lag", [(3, "linear"), (4, "linear"), (3, "rotation")])
def test_trajectories_stay_on_the_sphere(d, lag):
    n = 16
    z0 = sphere.random_point(jax.random.key(0), (n, d))
    omega = jnp.linspace(-2.0, 2.0, n)
    _, zs = jax.jit(lambda z: ode.integrate(lambda t, y: ku.sphere_field(y, omega, 1.5, 0.7, lag=lag), z, h=0.1, n_steps=500, retract=sphere.normalize, save_every=50))(z0)
    assert np.all(np.isfinite(np.asarray(zs)))
    np.testing.assert_allclose(np.linalg.norm(np.asarray(zs), axis=-1), 1.0, atol=1e-6)


def test_without_retraction_rk4_drifts_off_the_sphere():
    # Why the retraction: a coarse RK4 step of a rotation leaves the sphere.
    z0 = sphere.random_point(jax.random.key(1), (8, 2))
    omega = jnp.full((8,), 3.0)
    f = lambda t, y: ku.sphere_field(y, omega, 1.0, 0.3)  # noqa: E731
    _, free = ode.integrate(f, z0, h=0.5, n_steps=40, save_every=40)
    _, kept = ode.integrate(f, z0, h=0.5, n_steps=40, save_every=40, retract=sphere.normalize)
    assert np.abs(np.linalg.norm(np.asarray(free[-1]), axis=-1) - 1).max() > 1e-2
    np.testing.assert_allclose(np.linalg.norm(np.asarray(kept[-1]), axis=-1), 1.0, atol=1e-6)
