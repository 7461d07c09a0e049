"""Tests for the Riemannian VAE (spectral_manifolds.rvae) and its experiment module; its
latent law and KL (spectral_manifolds.wrapped_normal) are tested in test_wrapped_normal.py."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spectral_manifolds import rvae, sphere, wrapped_normal
from spectral_manifolds.experiments import rvae as exp_rvae

C, D = 16, 21


@pytest.fixture(scope="module")
def model():
    return rvae.RVAE(C, D, rngs=nnx.Rngs(0))


# --------------------------------------------------------------------------- shapes
def test_batched_and_unbatched_shapes(model):
    x = jax.random.normal(jax.random.key(0), (4, 32, C))
    out = model(x, jax.random.key(1))
    assert out.x_hat.shape == (4, 32, C)
    for a in (out.z, out.mu, out.sigma, out.v):
        assert a.shape == (4, 32, D)
    single = model(x[1], jax.random.key(1))
    assert single.x_hat.shape == (32, C) and single.mu.shape == (32, D)
    mu_b, sigma_b = model.encode(x)
    mu_1, sigma_1 = model.encode(x[1])
    np.testing.assert_allclose(np.asarray(mu_1), np.asarray(mu_b[1]), atol=1e-6)
    np.testing.assert_allclose(np.asarray(sigma_1), np.asarray(sigma_b[1]), atol=1e-6)
    assert model.decode(mu_b).shape == (4, 32, C)


@pytest.mark.parametrize("shape", [(C,), (2, 3, 40, C), ()])
def test_other_ranks_are_refused(model, shape):
    with pytest.raises(ValueError, match=r"\(B, T, C\) or \(T, C\)"):
        model.encode(jnp.zeros(shape))


def test_wrong_channels_and_latent_are_refused(model):
    with pytest.raises(ValueError, match="C=16"):
        model(jnp.zeros((10, C + 1)))
    with pytest.raises(ValueError, match="21"):
        model.decode(jnp.zeros((10, D + 1)))


def test_encoder_outputs_and_sample_live_where_they_should(model):
    x = jax.random.normal(jax.random.key(2), (4, 32, C))
    out = model(x, jax.random.key(3))
    np.testing.assert_allclose(np.linalg.norm(np.asarray(out.mu), axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(out.z), axis=-1), 1.0, atol=1e-5)
    assert float(out.sigma.min()) >= model.sigma_eps
    assert np.abs(np.sum(np.asarray(out.v * out.mu), axis=-1)).max() < 1e-5  # tangent
    np.testing.assert_allclose(np.asarray(out.z), np.asarray(sphere.exp(out.mu, out.v)), atol=1e-6)
    mean = model(x)  # no key: decode the mean direction
    np.testing.assert_array_equal(np.asarray(mean.z), np.asarray(mean.mu))


def test_encoder_is_causal(model):
    x = jax.random.normal(jax.random.key(4), (32, C))
    x2 = x.at[20:].set(5.0)  # change the future from step 20 on
    mu, sigma = model.encode(x)
    mu2, sigma2 = model.encode(x2)
    np.testing.assert_allclose(np.asarray(mu2[:20]), np.asarray(mu[:20]), atol=1e-6)
    np.testing.assert_allclose(np.asarray(sigma2[:20]), np.asarray(sigma[:20]), atol=1e-6)
    assert np.abs(np.asarray(mu2[20] - mu[20])).max() > 1e-3


def test_parameter_count_matches_the_architecture(model):
    n = sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
    conv = (5 * C * 64 + 64) + (5 * 64 * 64 + 64)
    heads = 2 * (64 * D + D)
    decoder = (D * 128 + 128) + (128 * C + C)
    assert n == conv + heads + decoder


def test_sigma_init_and_the_seed_init_antipode_trap():
    x = jax.random.normal(jax.random.key(5), (4, 32, C))
    small = rvae.RVAE(C, D, sigma_init=0.05, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(np.asarray(small.encode(x)[1]), 0.05, rtol=1e-5)
    with pytest.raises(ValueError):
        rvae.RVAE(C, D, sigma_init=0.0, rngs=nnx.Rngs(0))
    # the seed's init: sigma ~ softplus(O(1)) per coordinate, |v| ~ sigma sqrt(d-1) ~ pi:
    # samples land nearer the antipode -mu than mu itself
    seed_init = rvae.RVAE(C, D, sigma_init=None, rngs=nnx.Rngs(0))
    out = seed_init(x, jax.random.key(6))
    d_mu = np.asarray(sphere.dist(out.z, out.mu))
    assert np.median(d_mu) > math.pi / 2 + 0.5
    out_small = small(x, jax.random.key(6))
    assert np.median(np.asarray(sphere.dist(out_small.z, out_small.mu))) < 0.5


def test_wrapped_normal_names_are_re_exported():
    """The book uses rvae.kl_to_uniform, rvae.sample_tangent, ...: the same objects as in wrapped_normal."""
    for name in wrapped_normal.__all__:
        assert getattr(rvae, name) is getattr(wrapped_normal, name) and name in rvae.__all__


# --------------------------------------------------------------------------- experiment
def test_config_validation():
    with pytest.raises(ValueError, match="multiple of 64"):
        exp_rvae.Config(n_train=100)
    with pytest.raises(ValueError, match="divide"):
        exp_rvae.Config(n_train=128, batch=48)
    with pytest.raises(ValueError, match="beta"):
        exp_rvae.Config(beta=-1.0)
    with pytest.raises(ValueError, match="sigma_init"):
        exp_rvae.Config(sigma_init=0.0)
    with pytest.raises(ValueError, match="differ only"):
        exp_rvae.run_many([exp_rvae.Config(epochs=1), exp_rvae.Config(epochs=2)])


@pytest.fixture(scope="module")
def sweep():
    """Three betas (up to 1e-2: larger ones can run away, see chapter 1), plus (in the same
    compiled program) extreme initial sigmas and the seed's initialization."""
    cfg = exp_rvae.Config(epochs=60, n_train=64, n_test=64, batch=32, seq_len=32)
    extra = [dataclasses.replace(cfg, beta=b, sigma_init=s) for b, s in ((1e-2, 1e-3), (1e-2, 8.0), (0.0, None))]
    return exp_rvae.run_many([dataclasses.replace(cfg, beta=b) for b in (0.0, 1e-3, 1e-2)] + extra)


def test_sweep_learns_and_trades_kl_for_reconstruction(sweep):
    low, mid, high = sweep[:3]
    for r in sweep:
        assert all(np.isfinite(r.loss)) and r.model is not None  # finite for tiny, huge and the seed's sigma
        assert np.isfinite([r.test_mse_mean, r.test_mse_sample, r.test_kl]).all()
    for r in sweep[:3]:
        assert r.mse[-1] < r.mse[0]
        assert len(r.radius) == len(r.mse) == 60 and all(np.isfinite(r.radius))
        assert set(r.to_dict()) >= {"beta", "mse", "kl", "test_mse_mean", "test_kl"} and "model" not in r.to_dict()
    assert low.test_mse_mean < low.noise_mse < low.signal_var  # without KL it denoises held-out data
    # more weight on the KL: lower KL, worse reconstruction
    assert low.test_kl > mid.test_kl > high.test_kl
    assert low.test_mse_sample < high.test_mse_sample
    assert sweep[0].compile_seconds > 0 and sweep[0].config["beta"] == 0.0
    assert [r.config["sigma_init"] for r in sweep[3:]] == [1e-3, 8.0, None]


def test_seed_init_decodes_the_mean_badly(sweep):
    """Chapter 1's claim: with the seed's init, samples sit near -mu, so decoding mu fails."""
    seed_init = sweep[5]
    assert seed_init.tangent_radius > 2.5 and min(seed_init.radius) > 2.5  # next to the antipode all along
    assert seed_init.test_mse_mean > 2 * seed_init.test_mse_sample
    assert sweep[0].test_mse_mean < seed_init.test_mse_mean  # same beta, the book's init


def test_seeds_change_weights_data_and_noise_but_not_within_a_seed():
    cfg = exp_rvae.Config(epochs=2, n_train=64, n_test=64, batch=64, seq_len=16, beta=0.0)
    a0, b0, a1 = exp_rvae.run_many([cfg, dataclasses.replace(cfg, beta=1e-2), dataclasses.replace(cfg, seed=1)])
    # beta = 0 at seed 0 reproduces the single-seed run exactly (same weights, data, noise)
    single = exp_rvae.run(cfg)
    assert a0.loss == pytest.approx(single.loss, rel=1e-5) and a0.test_mse_mean == pytest.approx(single.test_mse_mean, rel=1e-5)
    # same seed, other beta: same test data; other seed: other test data and other results
    assert a0.noise_mse == b0.noise_mse and a0.noise_mse != a1.noise_mse
    assert a1.config["seed"] == 1 and a0.loss != a1.loss
    with pytest.raises(ValueError, match="differ only"):
        exp_rvae.run_many([cfg, dataclasses.replace(cfg, lr=1e-2)])


def test_run_is_the_one_beta_case():
    cfg = exp_rvae.Config(epochs=2, n_train=64, n_test=64, batch=64, seq_len=16, beta=0.1)
    single = exp_rvae.run(cfg)
    assert single.beta == 0.1 and single.config["beta"] == 0.1
    assert len(single.loss) == 2 and np.isfinite(single.test_kl)
