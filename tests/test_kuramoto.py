"""Tests of spectral_manifolds.kuramoto (the attention layer) and the chapter-3 experiment (quick sizes).

The ManifoldField tests are in tests/test_manifold_field.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import spectral_manifolds.driven_rotor as rotor
import spectral_manifolds.kuramoto_theory as theory
from spectral_manifolds import kuramoto as ku
from spectral_manifolds import ode, sphere
from spectral_manifolds.experiments import kuramoto as exp


def test_kuramoto_re_exports_the_theory_and_the_test_problem():
    # other modules import these names from spectral_manifolds.kuramoto (chapter 3's split)
    for name in theory.__all__:
        assert getattr(ku, name) is getattr(theory, name), name
    for name in rotor.__all__:
        assert getattr(ku, name) is getattr(rotor, name), name
    assert set(ku.__all__) >= set(theory.__all__) | set(rotor.__all__)


# ====================================================================== experiment
def test_portraits_collapse_without_lag_and_orbit_with_it():
    cfg = exp.KuramotoConfig(portrait_n=16, portrait_t=40.0, portrait_h=0.2, portrait_alpha=0.8)
    p, _ = exp.run_portraits(cfg)
    names = [v[0] for v in exp.PORTRAIT_VARIANTS]
    no_lag, sk, seed_form, rotation = (p[n] for n in names)
    for q in p.values():
        assert q["r_final"] > 0.999 and q["max_norm_error"] < 1e-6
        assert q["n_at_mean"] + q["n_at_antipode"] == cfg.portrait_n  # at rest or orbiting: all in one cluster
        assert q["r_final"] == pytest.approx((q["n_at_mean"] - q["n_at_antipode"]) / cfg.portrait_n, abs=1e-3)
    assert no_lag["late_speed"] < 1e-4  # static synchrony
    assert seed_form["late_speed"] < 1e-4  # the seed's lag produces no drift
    assert rotation["late_speed"] < 1e-3 and abs(rotation["final_height"]) > 0.999  # spirals into the axis
    # sustained orbit at the Sakaguchi-Kuramoto speed K sin(alpha) |A m|
    assert sk["late_speed"] > 0.1
    assert sk["late_speed"] == pytest.approx(sk["cluster_speed"], rel=0.02)
    assert sk["cluster_speed"] == pytest.approx(np.sin(0.8) * np.sqrt(1 - sk["final_height"] ** 2), rel=1e-4)


def test_seed_form_pushes_a_far_oscillator_to_the_antipode_and_keeps_it_there():
    # The seed's weight sin(cos(dtheta) + alpha) is negative (repulsive) beyond dtheta = arccos(-alpha):
    # an oscillator that far from a cluster ends at the cluster's antipode, so r < 1 at rest.
    # The Sakaguchi-Kuramoto coupling pulls it into the cluster instead.
    alpha, n = 0.8, 16
    rng = np.random.default_rng(0)
    cluster = np.array([1.0, 0.0, 0.0]) + 0.05 * rng.standard_normal((n - 1, 3))
    far = np.array([np.cos(2.8), np.sin(2.8), 0.0])  # 2.8 rad > arccos(-0.8) = 2.50 rad
    z0 = sphere.normalize(jnp.asarray(np.vstack([cluster, far]), jnp.float32))
    assert 2.8 > np.arccos(-alpha)

    def final(f):
        return np.asarray(ode.integrate(f, z0, h=0.1, n_steps=600, retract=sphere.normalize, save_every=600)[1][-1])

    seed_end = final(lambda t, z: ku.seed_field(z, None, 1.0, alpha))
    sk_end = final(lambda t, z: ku.sphere_field(z, None, 1.0, 0.0))
    assert seed_end[:-1] @ seed_end[-1] == pytest.approx(-np.ones(n - 1), abs=1e-4)  # the far one sits at the antipode
    assert float(ku.order_parameter(jnp.asarray(seed_end))) == pytest.approx((n - 2) / n, abs=1e-4)
    assert float(ku.order_parameter(jnp.asarray(sk_end))) == pytest.approx(1.0, abs=1e-4)


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
    with pytest.raises(ValueError, match="d=4"):
        layer(jnp.ones((2, 9, 3)))  # wrong latent size
    with pytest.raises(ValueError, match="mask"):
        layer(Z, jnp.ones((2, 5), bool))
    with pytest.raises(ValueError, match="mask"):
        layer(Z[0], jnp.ones((2, 9), bool))  # batched mask for an unbatched sequence
    with pytest.raises(ValueError, match="form"):
        ku.KuramotoAttention(4, form="dot", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="skew"):
        ku.KuramotoAttention(4, generator=np.eye(4), rngs=nnx.Rngs(0))


def test_the_learned_lag_only_reparametrizes_w_out():
    layer = ku.KuramotoAttention(5, alpha_init=0.7, zero_init=False, rngs=nnx.Rngs(0))
    z = sphere.random_point(jax.random.key(1), (2, 9, 5))
    folded = ku.fold_lag_into_output(layer)
    assert float(folded.alpha[...]) == 0.0 and float(layer.alpha[...]) == pytest.approx(0.7)
    np.testing.assert_allclose(folded(z), layer(z), atol=1e-6)
    # with W_out fixed at K I the lag does change the force (the physics of chapter 3)
    fixed = ku.set_mean_field_weights(ku.KuramotoAttention(5, causal=False, alpha_init=0.7, rngs=nnx.Rngs(0)), 1.0)
    unlagged = ku.set_mean_field_weights(ku.KuramotoAttention(5, causal=False, alpha_init=0.0, rngs=nnx.Rngs(0)), 1.0)
    assert np.abs(np.asarray(fixed(z) - unlagged(z))).max() > 0.1
    with pytest.raises(ValueError, match="sakaguchi"):
        ku.fold_lag_into_output(ku.KuramotoAttention(5, form="seed", rngs=nnx.Rngs(0)))
