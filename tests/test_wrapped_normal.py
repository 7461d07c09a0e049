"""Tests for the wrapped normal on the sphere (spectral_manifolds.wrapped_normal): the
tangent Gaussian, the density of ``z = exp_mu(v)`` and the Monte-Carlo KL to the uniform prior."""

from __future__ import annotations

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
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds import sphere
from spectral_manifolds import wrapped_normal as wn

D = 21


def tangent_basis(mu: np.ndarray) -> np.ndarray:
    """(d, d-1) orthonormal basis of the tangent space at unit ``mu`` (scipy null space)."""
    return scipy.linalg.null_space(mu[None, :])


@functools.partial(jax.jit, static_argnames=("n", "n_wraps"))
def sample_and_kl(key, mu, sigma, n: int, n_wraps: int = 5):
    """n samples z = exp_mu(v) of the seed's sampler and their single-sample KL estimates."""
    d = mu.shape[-1]
    z, v = wn.sample_tangent(key, jnp.broadcast_to(mu, (n, d)), jnp.broadcast_to(sigma, (n, d)))
    return z, v, wn.kl_to_uniform(mu, sigma, v, n_wraps)


def log_area(d):
    return math.log(2) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)


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
    ours = float(wn.tangent_gaussian_logpdf(jnp.asarray(mu, jnp.float32), jnp.asarray(sigma, jnp.float32), jnp.asarray(w, jnp.float32)))
    assert ours == pytest.approx(expected, rel=1e-4, abs=1e-3)
    assert ours <= wn.tangent_gaussian_logpdf(jnp.asarray(mu), jnp.asarray(sigma), jnp.zeros(d)) + 1e-3  # quadratic form >= 0


def test_projected_sample_has_covariance_P_D_P():
    d, n = 5, 200_000
    mu = sphere.normalize(jnp.asarray([1.0, -2.0, 0.5, 0.3, 1.0]))
    sigma = jnp.asarray([0.3, 1.0, 0.5, 2.0, 0.7])
    _, v = wn.sample_tangent(jax.random.key(0), jnp.broadcast_to(mu, (n, d)), jnp.broadcast_to(sigma, (n, d)))
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
        return float(jnp.exp(wn.wrapped_normal_log_prob(mu, sigma, sphere.log(mu, z))))

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
    q = np.asarray(jax.jit(lambda zz: jnp.exp(wn.wrapped_normal_log_prob(mu_j, sigma, sphere.log(mu_j, zz))))(jnp.asarray(Z, jnp.float32)))
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
        ours = float(wn.wrapped_normal_log_prob(jnp.asarray(mu, jnp.float32), jnp.asarray(sigma, jnp.float32), jnp.asarray(v, jnp.float32)))
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
    assert math.exp(wn.log_sphere_area(2)) == pytest.approx(2 * math.pi)
    assert math.exp(wn.log_sphere_area(3)) == pytest.approx(4 * math.pi)
    assert math.exp(wn.log_sphere_area(4)) == pytest.approx(2 * math.pi**2)
    with pytest.raises(ValueError):
        wn.log_sphere_area(1)


def test_kl_gradient_is_finite_at_the_degenerate_sample():
    """v = 0 (z = mu): the direction of v is undefined, the density singular for k != 0."""
    mu = sphere.normalize(jnp.ones(D))
    g_v, g_s = jax.jit(jax.grad(lambda v, s: wn.kl_to_uniform(mu, s, v), argnums=(0, 1)))(jnp.zeros(D), jnp.full((D,), 0.2))
    assert np.isfinite(np.asarray(g_v)).all() and np.isfinite(np.asarray(g_s)).all()
    assert np.isfinite(float(wn.kl_to_uniform(mu, jnp.full((D,), 0.2), jnp.zeros(D))))
