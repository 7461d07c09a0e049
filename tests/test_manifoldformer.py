"""Tests for the ManifoldFormer model (spectral_manifolds.manifoldformer); chapter 4's runs
are tested in test_mf_train.py, test_mf_eval.py, test_mf_floors.py and test_mf_lessons.py."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spectral_manifolds import sphere
from spectral_manifolds.manifoldformer import ManifoldFormer, ManifoldFormerConfig, count_params, param_breakdown

C, D, T = 4, 6, 24
SMALL = dict(n_channels=C, latent_dim=D, hidden=8, decoder_hidden=16, memory_len=T)


def make(**kw) -> ManifoldFormer:
    return ManifoldFormer(ManifoldFormerConfig(**{**SMALL, **kw}), rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def x():
    return jax.random.normal(jax.random.key(1), (3, T, C))


@pytest.fixture(scope="module")
def trained_like():
    """A model whose dynamics are not zero (random output weights), to test the wiring."""
    return make(zero_init=False)


# --------------------------------------------------------------------------- model
def n_params_formula(c: int, d: int, h: int, k: int, dh: int, mem: int) -> int:
    """Trainable scalars of the ManifoldFormer, counted by hand from its layers."""
    encoder = (c * h * k + h) + (h * h * k + h) + 2 * (h * d + d)  # two convs, mu and sigma heads
    decoder = (d * dh + dh) + (dh * c + c)
    dynamics = 3 * d * d + 1 + mem + d * d  # W_q, W_k, W_out, alpha, memory kernel, W_style
    return encoder + decoder + dynamics


def test_parameter_count_matches_the_layers_and_the_seeds_size():
    assert count_params(make()) == n_params_formula(C, D, 8, 5, 16, T)
    assert count_params(make(dynamics=False)) == n_params_formula(C, D, 8, 5, 16, T) - (4 * D * D + 1 + T)
    seed_size = n_params_formula(16, 21, 64, 5, 128, 255)  # the seeds' model (DESIGN.md)
    assert 30_000 < seed_size < 45_000  # DESIGN.md: "about 39k parameters"


def test_shapes_batched_and_unbatched(x):
    m = make()
    out = m(x)
    assert out.pred.shape == out.recon.shape == (3, T, C)
    assert out.z.shape == out.z_next.shape == out.mu.shape == out.sigma.shape == (3, T, D)
    single = m(x[0])
    assert single.pred.shape == (T, C) and single.z_next.shape == (T, D)
    np.testing.assert_allclose(single.pred, out.pred[0], atol=1e-5)


@pytest.mark.parametrize("shape", [(T,), (1, 2, T, C), (T, C + 1)])
def test_bad_rank_or_channels_raise(shape):
    m = make()
    with pytest.raises(ValueError, match=r"\(B, T, C\) or \(T, C\)"):
        m(jnp.zeros(shape))


def test_latents_stay_on_the_sphere(x, trained_like):
    out = trained_like(x, jax.random.key(2))
    for z in (out.z, out.z_next, out.mu):
        np.testing.assert_allclose(jnp.linalg.norm(z, axis=-1), 1.0, atol=1e-5)
    roll = trained_like.rollout(out.mu[:, :10], 12)
    np.testing.assert_allclose(jnp.linalg.norm(roll, axis=-1), 1.0, atol=1e-5)
    assert bool(jnp.all(jnp.isfinite(out.pred)))


@pytest.mark.parametrize("n_substeps", [1, 4])
def test_zero_init_dynamics_is_the_identity_step(x, n_substeps):
    m = make(n_substeps=n_substeps)  # zero_init=True by default (seed 001, section 13)
    out = m(x)
    np.testing.assert_allclose(out.z_next, out.z, atol=1e-6)
    np.testing.assert_allclose(out.pred, out.recon, atol=1e-5)
    # and with random output weights the step is not the identity
    moved = make(n_substeps=n_substeps, zero_init=False)(x)
    assert float(jnp.max(jnp.abs(moved.z_next - moved.z))) > 1e-2


def test_dynamics_off_is_the_identity(x):
    m = make(dynamics=False, zero_init=False)
    assert m.field is None
    out = m(x)
    np.testing.assert_array_equal(out.z_next, out.z)


def test_scanned_substeps_equal_manifold_field_step(x, trained_like):
    m = make(zero_init=False, n_substeps=4)
    z = m.encode(x)[0]
    np.testing.assert_allclose(m.advance(z), m.field.step(z, h=1.0, n_substeps=4), atol=1e-5)
    # one step of h = 1 is exactly ManifoldField.step
    z1 = trained_like.encode(x)[0]
    np.testing.assert_allclose(trained_like.advance(z1), trained_like.field.step(z1), atol=1e-6)


def test_teacher_forcing_is_causal(x, trained_like):
    z = trained_like.encode(x)[0]
    t = 10
    perturbed = z.at[:, t:].set(sphere.normalize(z[:, t:] + 0.5))
    np.testing.assert_allclose(trained_like.advance(perturbed)[:, :t], trained_like.advance(z)[:, :t], atol=1e-5)
    # the encoder is causal too
    x2 = x.at[:, t:].set(0.0)
    np.testing.assert_allclose(trained_like.encode(x2)[0][:, :t], z[:, :t], atol=1e-5)


def test_step_is_the_last_position_of_advance(x, trained_like):
    z = trained_like.encode(x)[0]
    np.testing.assert_allclose(trained_like.step(z[:, :7]), trained_like.advance(z[:, :7])[:, -1], atol=1e-6)
    assert trained_like.step(z[0, :7]).shape == (D,)


def test_rollout_shapes_and_recurrence(x, trained_like):
    m = trained_like
    mu = m.encode(x)[0]
    ctx = mu[:, :8]
    roll = m.rollout(ctx, 5)
    assert roll.shape == (3, 5, D)
    assert m.rollout(ctx[0], 5).shape == (5, D)
    assert m.rollout(ctx, 0).shape == (3, 0, D)
    # each rolled-out latent is Step of the context plus the latents before it
    hist = ctx
    for i in range(5):
        nxt = m.step(hist)
        np.testing.assert_allclose(roll[:, i], nxt, atol=2e-5)
        hist = jnp.concatenate([hist, roll[:, i : i + 1]], axis=1)
    with pytest.raises(ValueError):
        m.rollout(ctx, -1)
    with pytest.raises(ValueError):
        m.rollout(ctx[..., :3], 2)


def test_feedback_rollout_reencodes_the_decoded_signal(x, trained_like):
    m = trained_like
    xc = x[:, :8]
    fb = m.feedback_rollout(xc, 3)
    lat = m.impute_latent(xc, 3)
    assert fb.shape == lat.shape == (3, 3, C)
    assert m.feedback_rollout(xc[0], 3).shape == (3, C)
    # the first step is the same for both (nothing has been fed back yet) ...
    np.testing.assert_allclose(fb[:, 0], lat[:, 0], atol=1e-5)
    # ... the second re-encodes the decoded first step
    x_next = jnp.concatenate([xc, fb[:, :1]], axis=1)
    np.testing.assert_allclose(fb[:, 1], m.decode(m.step(m.encode(x_next)[0])), atol=1e-5)


def test_config_validation():
    for bad in (dict(latent_dim=1), dict(gamma=1.0), dict(n_substeps=0), dict(h=0.0), dict(form="x"), dict(hidden=0),
                dict(sigma_init=0.0), dict(sigma_init=float("nan"))):
        with pytest.raises(ValueError):
            ManifoldFormerConfig(**bad)
    ManifoldFormerConfig(sigma_init=None)  # the seed's initialization


def test_sigma_init_reaches_the_encoder(x):
    """sigma_init=0.05 starts every sigma at 0.05; None (the seed's) near softplus(0) = 0.69."""
    book = make(sigma_init=0.05)
    np.testing.assert_allclose(book.encode(x)[1], 0.05, atol=1e-5)
    seed = make(sigma_init=None)
    s = np.asarray(seed.encode(x)[1])
    assert 0.3 < s.mean() < 1.2 and s.std() > 1e-3  # a dense head: varies around softplus(0)


def test_param_breakdown_sums_to_the_count():
    for kw in ({}, dict(dynamics=False), dict(use_memory=False)):
        m = make(**kw)
        parts = param_breakdown(m)
        assert sum(parts.values()) == count_params(m)
    parts = param_breakdown(make())
    assert parts["coupling W_out"] == D * D and parts["memory kernel"] == T and parts["phase lag alpha"] == 1
    assert parts["sigma head"] == parts["mu head"] == 8 * D + D


def test_advance_with_a_traced_step_size_matches_the_config(x, trained_like):
    z = trained_like.encode(x)[0]
    np.testing.assert_allclose(trained_like.advance(z, h=1.0), trained_like.advance(z), atol=1e-6)
    quarter = make(zero_init=False, h=0.25)
    z = quarter.encode(x)[0]
    f = jax.jit(lambda h: quarter.advance(z, h=h))
    np.testing.assert_allclose(f(jnp.float32(0.25)), quarter.advance(z), atol=1e-5)
    assert float(jnp.max(jnp.abs(f(jnp.float32(1.0)) - quarter.advance(z)))) > 1e-3


