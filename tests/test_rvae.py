"""Tests for the Riemannian VAE (spectral_manifolds.rvae) and its experiment module."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.special
import scipy.stats
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds import rvae, sphere
from spectral_manifolds.experiments import rvae as exp_rvae

C, D = 16, 21


@pytest.fixture(scope="module")
def model():
    return rvae.RVAE(C, D, rngs=nnx.Rngs(0))


def tangent_basis(mu: np.ndarray) -> np.ndarray:
    """(d, d-1) orthonormal basis of the tangent space at unit ``mu`` (scipy null space)."""
    return scipy.linalg.null_space(mu[None, :])


@functools.partial(jax.jit, static_argnames=("n", "n_wraps"))
def sample_and_kl(key, mu, sigma, n: int, n_wraps: int = 5):
    """n samples z = exp_mu(v) of the seed's sampler and their single-sample KL estimates."""
    d = mu.shape[-1]
    z, v = rvae.sample_tangent(key, jnp.broadcast_to(mu, (n, d)), jnp.broadcast_to(sigma, (n, d)))
    return z, v, rvae.kl_to_uniform(mu, sigma, v, n_wraps)


def log_area(d):
    return math.log(2) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)


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


# --------------------------------------------------------------------------- the tangent Gaussian
@settings(max_examples=10, deadline=None)
@given(d=st.integers(2, 12), seed=st.integers(0, 2**31 - 1))
def test_tangent_logpdf_matches_scipy_in_a_basis(d, seed):
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal(d)
    mu /= np.linalg.norm(mu)
    sigma = 10 ** rng.uniform(-4, 1.5, d)  # from the sigma floor to very wide: strong anisotropy
    mu = np.eye(d)[np.argmin(sigma)] + 1e-3 * mu  # lean on the tightest axis (cancellation-prone)
    mu /= np.linalg.norm(mu)
    B = tangent_basis(mu)
    cov = B.T @ np.diag(sigma**2) @ B  # (d-1, d-1): covariance of B^T Proj(eps * sigma)
    w = B @ rng.standard_normal(d - 1)
    expected = scipy.stats.multivariate_normal(np.zeros(d - 1), cov).logpdf(B.T @ w)
    ours = float(rvae.tangent_gaussian_logpdf(jnp.asarray(mu, jnp.float32), jnp.asarray(sigma, jnp.float32), jnp.asarray(w, jnp.float32)))
    assert ours == pytest.approx(expected, rel=1e-4, abs=1e-3)
    assert ours <= rvae.tangent_gaussian_logpdf(jnp.asarray(mu), jnp.asarray(sigma), jnp.zeros(d)) + 1e-3  # quadratic form >= 0


def test_projected_sample_has_covariance_P_D_P():
    d, n = 5, 200_000
    mu = sphere.normalize(jnp.asarray([1.0, -2.0, 0.5, 0.3, 1.0]))
    sigma = jnp.asarray([0.3, 1.0, 0.5, 2.0, 0.7])
    _, v = rvae.sample_tangent(jax.random.key(0), jnp.broadcast_to(mu, (n, d)), jnp.broadcast_to(sigma, (n, d)))
    P = np.eye(d) - np.outer(mu, mu)
    expected = P @ np.diag(np.asarray(sigma) ** 2) @ P
    np.testing.assert_allclose(np.cov(np.asarray(v).T), expected, atol=0.03)


def test_exp_map_jacobian_is_sinc_power():
    """|det d exp_mu| on the tangent space at |v| = r is |sin r / r|^(d-2) (the density's factor)."""
    d = 6
    mu = sphere.normalize(jnp.arange(1.0, d + 1.0))
    B = jnp.asarray(tangent_basis(np.asarray(mu)))
    for r in (0.3, 1.7, 3.0, 4.5):
        c = jnp.asarray(np.random.default_rng(int(r * 10)).standard_normal(d - 1))
        c = r * c / jnp.linalg.norm(c)
        z = sphere.exp(mu, B @ c)
        Bz = jnp.asarray(tangent_basis(np.asarray(z)))
        jac = Bz.T @ jax.jacfwd(lambda cc: sphere.exp(mu, B @ cc))(c)  # (d-1, d-1)
        assert abs(float(jnp.linalg.det(jac))) == pytest.approx(abs(math.sin(r) / r) ** (d - 2), rel=1e-4)


# --------------------------------------------------------------------------- the wrapped-normal density and KL
def test_circle_density_and_kl_match_scipy_quadrature():
    """d = 2: the classic wrapped normal on the circle, written independently."""
    a = 0.3
    mu = jnp.asarray([math.cos(a), math.sin(a)])
    sigma = jnp.asarray([0.8, 1.5])
    s2 = 0.8**2 * math.sin(a) ** 2 + 1.5**2 * math.cos(a) ** 2  # tangent variance e^T D e

    def q_ref(th):  # angle th measured from mu
        k = np.arange(-20, 21)
        return np.sum(np.exp(-((th + 2 * np.pi * k) ** 2) / (2 * s2)) / np.sqrt(2 * np.pi * s2))

    def q_ours(th):
        z = jnp.asarray([math.cos(a + th), math.sin(a + th)])
        return float(jnp.exp(rvae.wrapped_normal_log_prob(mu, sigma, sphere.log(mu, z))))

    for th in (-3.0, -1.0, 0.0, 0.5, 2.9):
        assert q_ours(th) == pytest.approx(q_ref(th), rel=1e-4)
    kl_ref = scipy.integrate.quad(lambda th: q_ref(th) * math.log(q_ref(th)), -np.pi, np.pi)[0] + math.log(2 * np.pi)
    n = 200_000
    kl = np.asarray(sample_and_kl(jax.random.key(1), mu, sigma, n)[2])
    assert abs(kl.mean() - kl_ref) < 4 * kl.std() / math.sqrt(n) + 1e-4


@pytest.fixture(scope="module")
def s2_grid():
    """Midpoint grid on S^2 in polar coordinates around ``mu``: points (n, 2n, 3) and area weights."""
    mu = np.asarray(sphere.normalize(jnp.asarray([0.2, -0.5, 0.9])))
    b1 = np.cross(mu, [1.0, 0.0, 0.0])
    b1 /= np.linalg.norm(b1)
    b2 = np.cross(mu, b1)
    n = 200
    th = (np.arange(n) + 0.5) * np.pi / n
    ph = (np.arange(2 * n) + 0.5) * np.pi / n
    T, P = np.meshgrid(th, ph, indexing="ij")
    Z = np.cos(T)[..., None] * mu + np.sin(T)[..., None] * (np.cos(P)[..., None] * b1 + np.sin(P)[..., None] * b2)
    return mu, Z, np.sin(T) * (np.pi / n) ** 2


def test_sphere_density_integrates_to_one_and_is_the_samplers_law(s2_grid):
    """d = 3: q integrates to 1 over S^2; the probability of a cap from samples matches the integral of q."""
    mu, Z, w = s2_grid
    sigma = jnp.asarray([0.3, 0.9, 0.45])  # wide enough that some samples wrap past the antipode
    mu_j = jnp.asarray(mu, jnp.float32)
    q = np.asarray(jax.jit(lambda zz: jnp.exp(rvae.wrapped_normal_log_prob(mu_j, sigma, sphere.log(mu_j, zz))))(jnp.asarray(Z, jnp.float32)))
    assert float(np.sum(q * w)) == pytest.approx(1.0, abs=2e-3)
    n = 100_000
    z, v, kl = sample_and_kl(jax.random.key(2), mu_j, sigma, n)
    for center, radius in (([0.5, -0.2, 0.8], 0.4), ([-0.2, 0.5, -0.9], 0.8), ([1.0, 1.0, 0.0], 0.6)):
        c = sphere.normalize(jnp.asarray(center))
        p_quad = float(np.sum(q * w * (np.asarray(sphere.dist(jnp.asarray(Z, jnp.float32), c)) < radius)))
        p_mc = float(jnp.mean(sphere.dist(z, c) < radius))
        assert abs(p_mc - p_quad) < 4 * math.sqrt(p_quad * (1 - p_quad) / n) + 2e-3
    kl = np.asarray(kl)
    kl_quad = float(np.sum(w * q * np.log(q))) + log_area(3)
    assert abs(kl.mean() - kl_quad) < 4 * kl.std() / math.sqrt(n) + 2e-3


@pytest.mark.parametrize("d", [2, 3, 8, 21, 64])
def test_wrap_sum_matches_brute_force(d):
    """Windows centred on the peak (and the continuum limit beyond) vs 1601 preimages in float64."""
    rng = np.random.default_rng(d)
    mu = rng.standard_normal(d)
    mu /= np.linalg.norm(mu)
    B = tangent_basis(mu)
    for scale in (0.05, 0.5, 2.0, 6.0, 9.0, 11.0, 30.0):
        if d == 3 and scale > 10:  # the continuum limit converges slowly in d = 3 (documented)
            continue
        sigma = scale * rng.uniform(0.5, 1.5, d)
        cov = B.T @ np.diag(sigma**2) @ B
        c = rng.standard_normal(d - 1)
        v = B @ (rng.uniform(0.1, 3.0) * c / np.linalg.norm(c))
        r0, e = np.linalg.norm(v), v / np.linalg.norm(v)
        t = r0 + 2 * np.pi * np.arange(-800, 801)
        gauss = scipy.stats.multivariate_normal(np.zeros(d - 1), cov).logpdf((t[:, None] * e) @ B)
        brute = scipy.special.logsumexp(gauss + (d - 2) * (np.log(np.abs(t)) - np.log(np.sin(r0))))
        ours = float(rvae.wrapped_normal_log_prob(jnp.asarray(mu, jnp.float32), jnp.asarray(sigma, jnp.float32), jnp.asarray(v, jnp.float32)))
        assert ours == pytest.approx(brute, abs=2e-3 * max(1.0, abs(brute))), (scale, ours, brute)


@pytest.mark.parametrize("d", [3, 8, 21])
def test_kl_is_nonnegative_and_has_the_closed_form_wide_limit(d):
    """Very wide tangent noise wraps around many times: the angle from mu becomes uniform on
    [0, pi], which is NOT the uniform distribution on S^(d-1) for d >= 3. Its KL is
    log A_(d-1) - log A_(d-2) - log pi + (d - 2) log 2 > 0."""
    n = 20_000
    mu = sphere.normalize(jnp.ones(d))
    kls = {}
    for s in (0.05, 0.35, 1.0, 30.0):
        sigma = jnp.full((d,), s)
        kl = np.asarray(sample_and_kl(jax.random.key(3), mu, sigma, n, n_wraps=30)[2])
        kls[s] = (kl.mean(), kl.std() / math.sqrt(n))
        assert kl.mean() > -4 * kls[s][1]
    limit = log_area(d) - log_area(d - 1) - math.log(math.pi) + (d - 2) * math.log(2)
    mean, se = kls[30.0]
    assert abs(mean - limit) < 4 * se + 0.02 * limit
    assert kls[0.05][0] > kls[30.0][0] or d == 3  # very narrow is far from uniform in high d


def test_kl_of_wide_circle_distribution_vanishes():
    """d = 2 is the exception: a wide wrapped normal on the circle is uniform (KL -> 0)."""
    n = 50_000
    mu = jnp.asarray([0.0, 1.0])
    sigma = jnp.full((2,), 20.0)
    assert abs(float(sample_and_kl(jax.random.key(4), mu, sigma, n, n_wraps=30)[2].mean())) < 1e-3


def test_log_sphere_area_closed_forms():
    assert math.exp(rvae.log_sphere_area(2)) == pytest.approx(2 * math.pi)
    assert math.exp(rvae.log_sphere_area(3)) == pytest.approx(4 * math.pi)
    assert math.exp(rvae.log_sphere_area(4)) == pytest.approx(2 * math.pi**2)
    with pytest.raises(ValueError):
        rvae.log_sphere_area(1)


def test_kl_gradient_is_finite_at_the_degenerate_sample():
    """v = 0 (z = mu): the direction of v is undefined, the density singular for k != 0."""
    mu = sphere.normalize(jnp.ones(D))
    g_v, g_s = jax.jit(jax.grad(lambda v, s: rvae.kl_to_uniform(mu, s, v), argnums=(0, 1)))(jnp.zeros(D), jnp.full((D,), 0.2))
    assert np.isfinite(np.asarray(g_v)).all() and np.isfinite(np.asarray(g_s)).all()
    assert np.isfinite(float(rvae.kl_to_uniform(mu, jnp.full((D,), 0.2), jnp.zeros(D))))


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
