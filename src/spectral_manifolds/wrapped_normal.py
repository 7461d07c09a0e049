"""The wrapped normal on the sphere: the latent law of the Riemannian VAE and its KL.

The sampler of the ManifoldFormer's Riemannian VAE (seed 000_bd4cbe8700a1031d.txt,
Stage I), its exact density on S^(d-1) and the Monte-Carlo KL to the uniform prior; the
model that uses them is :mod:`spectral_manifolds.rvae`, which re-exports every public
name here (``rvae.kl_to_uniform``, ``rvae.sample_tangent``, ...).

Sampling (seed 000, Stage I), with ``mu`` on the sphere and ``sigma: (d,)`` one scale per
ambient coordinate::

    eps ~ N(0, I_d),   v = Proj_{T_mu}(eps * sigma) = eps*sigma - <eps*sigma, mu> mu,
    z = exp_mu(v)

The seed gives no KL term. The one implemented here is exact for this sampler:

* ``eps * sigma ~ N(0, D)`` with ``D = diag(sigma^2)``; the projection is linear, so
  ``v ~ N(0, P D P)`` with ``P = I - mu mu^T``: a Gaussian on the (d-1)-dimensional
  tangent space ``T_mu``. With ``B`` an orthonormal basis of ``T_mu`` its covariance is
  ``C = B^T D B``, and (matrix determinant lemma / Schur complement, O(d), no matrices)::

      log det C = sum log sigma^2 + log a,          a = mu^T D^-1 mu
      w^T C^-1 w = w^T D^-1 w - (w^T D^-1 mu)^2 / a   for w in T_mu.

* ``z = exp_mu(v)`` pushes that Gaussian onto the sphere. The exp map stretches
  volume by ``|sin r / r|^(d-2)`` at ``|v| = r`` and is not one-to-one: every
  ``t e`` with ``t = r0 + 2 pi k`` (``k`` in Z, ``r0 = dist(mu, z)``, ``e`` the unit
  direction of ``log_mu z``) maps to the same ``z``. The density on the sphere (w.r.t.
  its surface measure) is the "wrapped normal"::

      q(z) = sum_k N(t_k e; 0, C) * (|t_k| / sin r0)^(d-2)

  (the ``k = 0`` factor written ``1/sinc(r0)^(d-2)``, finite at ``z = mu``).

* The prior is the uniform distribution on ``S^(d-1)``, density ``1/A`` with
  ``A = 2 pi^(d/2) / Gamma(d/2)``, so ``KL(q || p) = E_q[log q(z)] + log A``,
  estimated by Monte Carlo with the same reparameterized sample that feeds the
  decoder (as in Kingma & Welling 2014 when no closed form exists).

Two properties measured in chapter 1 (and tested in tests/test_wrapped_normal.py):

* for d >= 3 a very wide ``q`` is NOT uniform (the angle from ``mu`` becomes uniform on
  [0, pi]); its KL tends to ``log A_(d-1) - log A_(d-2) - log pi + (d-2) log 2`` and is
  smallest near ``sigma ~ pi / (2 sqrt(d-1))``;
* ``q`` is singular (integrably) at ``-mu`` and, through the wraps, at ``mu``
  (``log q ~ -(d-2) log sin r0``), so the single-sample reparameterized KL gradient
  contains ``(d-2) cot(r0) dr0/dsigma ~ +-(d-2)/|pi - |v||`` near ``|v| = pi``: its
  expectation diverges logarithmically, so once samples reach those points (``sigma``
  above about 0.45 in d = 21) the pathwise estimator has no mean, not merely an
  infinite variance, and a large ``beta`` can throw ``sigma`` onto the wide plateau of
  the KL. Truncating the wrap sum at a fixed ``|k|``
  biases the KL low at large ``sigma`` and makes that worse; the windows of
  :func:`wrapped_normal_log_prob` follow the peak of the terms instead.

See Davidson et al. (2018, von Mises-Fisher) and De Cao & Aziz (2020, Power Spherical)
for distributions made for the sphere with closed-form KL; chapter 1 explains why the
book keeps the seed's sampler and pays for a Monte-Carlo KL instead.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from spectral_manifolds import sphere

__all__ = [
    "log_sphere_area",
    "tangent_gaussian_logpdf",
    "wrapped_normal_log_prob",
    "kl_to_uniform",
    "sample_tangent",
]

_LOG_2PI = math.log(2.0 * math.pi)


def log_sphere_area(d: int) -> float:
    """``log A(S^(d-1))`` with ``A = 2 pi^(d/2) / Gamma(d/2)``, the area of the unit sphere in R^d."""
    if d < 2:
        raise ValueError(f"the sphere S^(d-1) needs d >= 2, got d={d}")
    return math.log(2.0) + 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d)


def _tangent_terms(mu, sigma):
    """Pieces of the tangent Gaussian N(0, P diag(sigma^2) P) shared by every evaluation.

    Args:
        mu: (..., d) on the sphere; sigma: (..., d) positive.
    Returns:
        inv: (..., d) ``1/sigma^2``; a: (...,) ``mu^T D^-1 mu``; log_c: (...,) the log
        normalizer ``-1/2 [(d-1) log 2 pi + log det C]``.
    """
    d = mu.shape[-1]
    inv = 1.0 / jnp.square(sigma)
    a = jnp.sum(inv * jnp.square(mu), axis=-1)
    log_det = jnp.sum(2.0 * jnp.log(sigma), axis=-1) + jnp.log(a)
    log_c = -0.5 * ((d - 1) * _LOG_2PI + log_det)
    return inv, a, log_c


def _quad(inv, a, mu, w):
    """``w^T C^-1 w`` for tangent ``w: (..., d)``; returns (...,), >= 0.

    ``w^T D^-1 w - (w^T D^-1 mu)^2 / a`` is the minimum over ``alpha`` of
    ``(w + alpha mu)^T D^-1 (w + alpha mu)``; it is computed in that form, a sum of
    squares, because the difference cancels catastrophically in float32 when one
    ``sigma_i`` is tiny and ``mu`` leans on axis ``i`` (a negative "variance" then makes
    NaNs).
    """
    alpha = -jnp.sum(inv * w * mu, axis=-1, keepdims=True) / a[..., None]
    return jnp.sum(inv * jnp.square(w + alpha * mu), axis=-1)


def tangent_gaussian_logpdf(mu, sigma, v):
    """Log density of ``v = Proj_{T_mu}(eps * sigma)`` on the (d-1)-dim tangent space at ``mu``.

    Args:
        mu: (..., d) on the sphere; sigma: (..., d) > 0; v: (..., d) tangent at ``mu``.
    Returns:
        (...,): ``log N(v; 0, P diag(sigma^2) P)`` w.r.t. Lebesgue measure on ``T_mu``.
    """
    inv, a, log_c = _tangent_terms(mu, sigma)
    return log_c - 0.5 * _quad(inv, a, mu, v)


def wrapped_normal_log_prob(mu, sigma, v, n_wraps: int = 8, floor: float = 1e-12):
    """Log density on the sphere of ``z = exp_mu(v)`` under the sampler of :func:`sample_tangent`.

    Any preimage works: pass the sampled ``v`` itself, or ``sphere.log(mu, z)`` to
    evaluate the density at a given point ``z``.

    The preimages are ``t e`` with ``t = r0 + 2 pi j`` (``j >= 0``) and ``t = r0 - 2 pi j``
    (``j >= 1``). Their terms ``N(t e) |t|^(d-2)`` peak near ``|t| = s sqrt(d-2)``, with
    ``s = (e^T C^-1 e)^(-1/2)`` the tangent scale along ``e``; high dimensions put the
    mass several wraps out as soon as ``s`` nears 1. So the sum runs over two windows of
    ``2 n_wraps + 1`` preimages each (``t > 0`` and ``t < 0``), centred on that peak.
    When ``s > 1.25 n_wraps`` the windows could miss mass, and the sum is replaced by its
    continuum limit (Poisson summation, leading term),
    ``(1/2 pi) int N(t e) |t|^(d-2) dt / sin^(d-2) r0``, exact to about 1e-7 in log for
    d >= 8 at that scale (2e-2 for d = 3, whose ``|t|`` kink makes the limit slow).

    Args:
        mu: (..., d) on the sphere; sigma: (..., d) > 0; v: (..., d) tangent at ``mu``.
        n_wraps: half-width of each window of preimages (8: 34 terms).
        floor: lower bound on ``sin r0`` and ``sinc r0`` inside logs (the density has
            integrable singularities at ``z = -mu``, and for ``j != 0`` at ``z = mu``).
    Returns:
        (...,): ``log q(z)`` w.r.t. the sphere's surface measure.
    """
    d = mu.shape[-1]
    inv, a, log_c = _tangent_terms(mu, sigma)
    r = sphere.safe_norm(v)  # (..., 1)
    # unit direction of v; at v = 0 (z = mu) any tangent direction gives the same wraps in
    # d = 2 and the density is singular there for d >= 3: take a fixed tangent direction
    fallback = sphere.normalize(sphere.project(mu, jax.nn.one_hot(jnp.argmin(jnp.abs(mu), axis=-1), d, dtype=mu.dtype)))
    positive = r > 0
    e = jnp.where(positive, v / jnp.where(positive, r, 1.0), fallback)
    e = sphere.normalize(sphere.project(mu, e))  # tangent to rounding error, even for tiny v
    # (...,), same for e and -e; C's eigenvalues lie below max sigma^2, so q_e >= min(1/sigma^2)
    q_e = jnp.maximum(_quad(inv, a, mu, e), jnp.min(inv, axis=-1))
    r = r[..., 0]
    two_pi = 2.0 * math.pi
    r_mod = jnp.mod(r, two_pi)
    r0 = jnp.where(r_mod > math.pi, two_pi - r_mod, r_mod)  # principal angle in [0, pi]
    log_sin = jnp.log(jnp.maximum(jnp.abs(jnp.sin(r0)), floor))

    # windows of preimages centred on the peak of N(t e) |t|^(d-2)
    scale = jax.lax.stop_gradient(jax.lax.rsqrt(q_e))  # s, along e
    k_c = jnp.round(jnp.sqrt(float(max(d - 2, 0))) * scale / two_pi)
    steps = jnp.arange(2 * n_wraps + 1, dtype=v.dtype)
    j_pos = jnp.maximum(k_c - n_wraps, 0.0)[..., None] + steps  # j >= 0: t = r0 + 2 pi j
    j_neg = jnp.maximum(k_c - n_wraps, 1.0)[..., None] + steps  # j >= 1: t = r0 - 2 pi j
    t = jnp.concatenate([r0[..., None] + two_pi * j_pos, r0[..., None] - two_pi * j_neg], axis=-1)
    principal = jnp.concatenate([j_pos == 0, jnp.zeros_like(j_neg, dtype=bool)], axis=-1)
    log_terms = log_c[..., None] - 0.5 * jnp.square(t) * q_e[..., None]
    if d > 2:
        safe_t = jnp.where(principal, 1.0, jnp.abs(t))
        log_jac = (d - 2) * (jnp.log(safe_t) - log_sin[..., None])
        log_jac_0 = -(d - 2) * jnp.log(jnp.maximum(sphere.sinc(r0), floor))[..., None]
        log_terms = log_terms + jnp.where(principal, log_jac_0, log_jac)
    windowed = jax.nn.logsumexp(log_terms, axis=-1)

    # continuum limit: (1/2 pi) int |t|^(d-2) exp(-q t^2 / 2) dt = Gamma((d-1)/2) (2/q)^((d-1)/2) / (2 pi)
    half = 0.5 * (d - 1)
    continuum = log_c - math.log(two_pi) + math.lgamma(half) + half * (math.log(2.0) - jnp.log(q_e)) - (d - 2) * log_sin
    return jnp.where(scale > 1.25 * n_wraps, continuum, windowed)


def kl_to_uniform(mu, sigma, v, n_wraps: int = 8):
    """Single-sample Monte-Carlo estimate of ``KL(q || Uniform(S^(d-1)))`` at the sample ``v``.

    ``log q(exp_mu v) + log A(S^(d-1))``; its mean over samples ``v`` from
    :func:`sample_tangent` is the KL (>= 0, zero only for the uniform distribution).

    Args:
        mu: (..., d) on the sphere; sigma: (..., d) > 0; v: (..., d) tangent sample.
    Returns:
        (...,) nats per latent vector.
    """
    return wrapped_normal_log_prob(mu, sigma, v, n_wraps) + log_sphere_area(mu.shape[-1])


def sample_tangent(key, mu, sigma):
    """The seed's sampler: ``v = Proj_{T_mu}(eps * sigma)``, ``z = exp_mu(v)``.

    Args:
        key: JAX PRNG key; mu: (..., d) on the sphere; sigma: (..., d) > 0.
    Returns:
        z: (..., d) on the sphere; v: (..., d) the tangent sample (for the KL).
    """
    eps = jax.random.normal(key, mu.shape, mu.dtype)
    v = sphere.project(mu, eps * sigma)
    return sphere.exp(mu, v), v
