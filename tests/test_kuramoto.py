"""Tests of spectral_manifolds.kuramoto and the chapter-3 experiment (quick sizes)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.stats
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds import kuramoto as ku
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


def test_portraits_collapse_without_lag_and_orbit_with_it():
    cfg = exp.KuramotoConfig(portrait_n=16, portrait_t=40.0, portrait_h=0.2, portrait_alpha=0.8)
    p, _ = exp.run_portraits(cfg)
    names = [v[0] for v in exp.PORTRAIT_VARIANTS]
    no_lag, sk, seed_form, rotation = (p[n] for n in names)
    for q in p.values():
        assert q["r_final"] > 0.999 and q["max_norm_error"] < 1e-6
    assert no_lag["late_speed"] < 1e-4  # static synchrony
    assert seed_form["late_speed"] < 1e-4  # the seed's lag produces no drift
    assert rotation["late_speed"] < 1e-3 and abs(rotation["final_height"]) > 0.999  # spirals into the axis
    # sustained orbit at the Sakaguchi-Kuramoto speed K sin(alpha) |A m|
    assert sk["late_speed"] > 0.1
    assert sk["late_speed"] == pytest.approx(sk["cluster_speed"], rel=0.02)
    assert sk["cluster_speed"] == pytest.approx(np.sin(0.8) * np.sqrt(1 - sk["final_height"] ** 2), rel=1e-4)


def test_rk4_order_experiment_measures_fourth_order():
    res = exp.run_rk4_order(exp.KuramotoConfig())
    assert np.all((res["ratios"][1:] > 13.0) & (res["ratios"][1:] < 20.0))
    assert res["substeps_error"] < res["one_step_error"] / 10


def test_config_validation():
    with pytest.raises(ValueError):
        exp.KuramotoConfig(n_oscillators=1)
    with pytest.raises(ValueError):
        exp.KuramotoConfig(alphas=(0.0, 1.6))
    with pytest.raises(ValueError):
        exp.KuramotoConfig(t_transient=200.0, t_total=100.0)
    with pytest.raises(ValueError):
        exp.KuramotoConfig(order_steps=(0.3, 0.15), order_t=1.0)


# ====================================================================== NNX layers
Z = sphere.random_point(jax.random.key(7), (2, 9, 4))


@pytest.mark.parametrize("form", ["sakaguchi", "seed"])
def test_attention_is_zero_at_initialization_and_alpha_is_a_param(form):
    layer = ku.KuramotoAttention(4, form=form, alpha_init=0.3, rngs=nnx.Rngs(0))
    assert np.all(np.asarray(layer(Z)) == 0.0)
    assert isinstance(layer.alpha, nnx.Param) and float(layer.alpha[...]) == pytest.approx(0.3)


@pytest.mark.parametrize("form,oracle", [("sakaguchi", ku.sphere_field), ("seed", ku.seed_field)])
def test_mean_field_weights_reproduce_the_physics(form, oracle):
    layer = ku.set_mean_field_weights(ku.KuramotoAttention(4, form=form, causal=False, alpha_init=0.5, rngs=nnx.Rngs(0)), 1.7)
    np.testing.assert_allclose(sphere.project(Z, layer(Z)), oracle(Z, None, 1.7, 0.5), atol=1e-6)


@pytest.mark.parametrize("form", ["sakaguchi", "seed"])
def test_attention_is_causal_and_batch_consistent(form):
    layer = ku.KuramotoAttention(4, form=form, zero_init=False, alpha_init=0.4, rngs=nnx.Rngs(1))
    out = layer(Z)
    changed = Z.at[:, 5:].set(sphere.random_point(jax.random.key(3), (2, 4, 4)))
    np.testing.assert_allclose(layer(changed)[:, :5], out[:, :5], atol=1e-6)
    np.testing.assert_allclose(layer(Z[1]), out[1], atol=1e-6)
    assert not np.allclose(layer(changed)[:, 5:], out[:, 5:])


@pytest.mark.parametrize("form", ["sakaguchi", "seed"])
def test_all_masked_keys_give_zero_force_and_finite_gradients(form):
    layer = ku.KuramotoAttention(4, form=form, zero_init=False, rngs=nnx.Rngs(2))
    mask = jnp.zeros((2, 9), bool).at[1, 3:].set(True)  # sample 0: no valid key; sample 1: rows 0-2 none
    out = layer(Z, mask)
    assert np.all(np.isfinite(np.asarray(out)))
    assert np.all(np.asarray(out[0]) == 0.0) and np.all(np.asarray(out[1, :3]) == 0.0)
    graphdef, params = nnx.split(layer, nnx.Param)
    grads = jax.grad(lambda p: jnp.sum(nnx.merge(graphdef, p)(Z, mask) ** 2))(params)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree_util.tree_leaves(grads))


def test_attention_rejects_wrong_shapes_and_options():
    layer = ku.KuramotoAttention(4, rngs=nnx.Rngs(0))
    for bad in (jnp.ones((4,)), jnp.ones((1, 2, 3, 4))):
        with pytest.raises(ValueError, match=r"\(B, T, d\) or \(T, d\)"):
            layer(bad)
    with pytest.raises(ValueError, match="mask"):
        layer(Z, jnp.ones((2, 5), bool))
    with pytest.raises(ValueError, match="mask"):
        layer(Z[0], jnp.ones((2, 9), bool))  # batched mask for an unbatched sequence
    with pytest.raises(ValueError, match="form"):
        ku.KuramotoAttention(4, form="dot", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="skew"):
        ku.KuramotoAttention(4, generator=np.eye(4), rngs=nnx.Rngs(0))


@pytest.mark.parametrize("form", ["sakaguchi", "seed"])
def test_manifold_field_starts_as_the_identity_step(form):
    field = ku.ManifoldField(4, memory_len=16, form=form, rngs=nnx.Rngs(0))
    assert np.all(np.asarray(field(Z)) == 0.0)
    for n in (1, 4):
        np.testing.assert_allclose(field.step(Z, n_substeps=n), Z, atol=1e-6)


def test_manifold_field_is_tangent_and_steps_stay_on_the_sphere():
    field = ku.ManifoldField(4, memory_len=16, zero_init=False, alpha_init=0.5, rngs=nnx.Rngs(3))
    v = field(Z)
    np.testing.assert_allclose(np.sum(np.asarray(v) * np.asarray(Z), axis=-1), 0.0, atol=1e-5)
    one, four = field.step(Z), field.step(Z, h=1.0, n_substeps=4)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(one), axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(four), axis=-1), 1.0, atol=1e-6)
    assert not np.allclose(one, four, atol=1e-4)
    np.testing.assert_allclose(field.step(Z[0]), one[0], atol=1e-5)  # (T, d) input
    with pytest.raises(ValueError, match="memory"):
        field(Z, memory=jnp.ones((2, 3, 4)))


def test_manifold_field_memory_term_uses_the_past_only():
    field = ku.ManifoldField(4, memory_len=16, zero_init=False, rngs=nnx.Rngs(4))
    changed = Z.at[:, 6:].set(sphere.random_point(jax.random.key(5), (2, 3, 4)))
    np.testing.assert_allclose(field(changed)[:, :6], field(Z)[:, :6], atol=1e-6)
    np.testing.assert_allclose(field.step(changed)[:, :6], field.step(Z)[:, :6], atol=1e-6)


def test_manifold_field_gradients_reach_every_parameter_from_zero_init():
    field = ku.ManifoldField(4, memory_len=16, alpha_init=0.2, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(field, nnx.Param)
    target = sphere.random_point(jax.random.key(9), Z.shape)

    def loss(p):
        return jnp.sum((nnx.merge(graphdef, p).step(Z) - target) ** 2)

    grads = jax.jit(jax.grad(loss))(params)
    flat = {jax.tree_util.keystr(k): np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(grads)}
    assert all(np.all(np.isfinite(g)) for g in flat.values())
    # the zero-initialized output layers get a gradient at once (the force can grow from zero)
    assert np.abs(flat[next(k for k in flat if "out" in k)]).max() > 0
    assert np.abs(flat[next(k for k in flat if "w_style" in k)]).max() > 0
