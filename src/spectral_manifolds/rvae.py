"""The Riemannian VAE of the ManifoldFormer (seed 000_bd4cbe8700a1031d.txt, Stage I), in Flax NNX.

Encoder (DESIGN.md, "The seeds' experimental setup"): two causal 1-D convolutions over
time (64 channels, kernel 5, ReLU; causal = padded on the left only, so step ``t`` sees
steps ``<= t``), then two dense heads per time step::

    mu    = normalize(Dense_mu(h))            on S^(d-1)
    sigma = softplus(Dense_sigma(h)) + eps    (d,), one scale per ambient coordinate

Sampling (seed 000, Stage I)::

    eps ~ N(0, I_d),   v = Proj_{T_mu}(eps * sigma) = eps*sigma - <eps*sigma, mu> mu,
    z = exp_mu(v)

Decoder: a pointwise MLP ``Dense(128) - ReLU - Dense(C)`` applied at every time step.

The seed gives no KL term. The sampler, the exact density of ``z`` on the sphere (the
"wrapped normal") and the Monte-Carlo KL to the uniform prior used by
:func:`elbo_terms` live in :mod:`spectral_manifolds.wrapped_normal`, with their
derivation and the properties chapter 1 measures; their names are re-exported here
(``rvae.kl_to_uniform``, ``rvae.sample_tangent``, ...).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from spectral_manifolds import sphere, validate

# Re-exported: these names lived here before wrapped_normal.py (the book uses rvae.kl_to_uniform, ...).
from spectral_manifolds.wrapped_normal import (
    kl_to_uniform,
    log_sphere_area,
    sample_tangent,
    tangent_gaussian_logpdf,
    wrapped_normal_log_prob,
)

__all__ = [
    "RVAE",
    "RVAEOutput",
    "log_sphere_area",
    "tangent_gaussian_logpdf",
    "wrapped_normal_log_prob",
    "kl_to_uniform",
    "sample_tangent",
    "elbo_terms",
]

# --------------------------------------------------------------------------- model
class RVAEOutput(NamedTuple):
    """What :meth:`RVAE.__call__` returns; the batch axis is present iff it was in the input.

    Attributes:
        x_hat: (..., T, C) reconstruction; z: (..., T, d) latent on the sphere;
        mu: (..., T, d); sigma: (..., T, d); v: (..., T, d) tangent sample (zeros when
        decoding the mean).
    """

    x_hat: jax.Array
    z: jax.Array
    mu: jax.Array
    sigma: jax.Array
    v: jax.Array


class RVAE(nnx.Module):
    """Stage I of the ManifoldFormer: causal-conv encoder onto S^(d-1), pointwise decoder.

    Args:
        n_channels: C, signal channels (16 in the seeds).
        latent_dim: d, the latent sphere is S^(d-1) in R^d (21 in the seeds).
        hidden: conv channels (64); kernel: conv kernel length (5).
        decoder_hidden: width of the decoder MLP (128).
        sigma_eps: the ``+ eps`` floor of ``sigma``.
        sigma_init: every ``sigma`` starts at this value (zero kernel, bias
            ``softplus^-1(sigma_init - sigma_eps)``); default 0.05. None keeps the seed's
            initialization (the sigma head initialized like any dense layer, so ``sigma``
            starts near ``softplus(0) = 0.69`` per coordinate and a tangent sample has
            length about ``0.69 sqrt(d - 1)``: 3.1 rad for d = 21, next to the antipode of
            ``mu``; chapter 1 measures what that does).
        rngs: ``nnx.Rngs`` for the parameters.
    """

    def __init__(
        self,
        n_channels: int = 16,
        latent_dim: int = 21,
        *,
        hidden: int = 64,
        kernel: int = 5,
        decoder_hidden: int = 128,
        sigma_eps: float = 1e-4,
        sigma_init: float | None = 0.05,
        rngs: nnx.Rngs,
    ):
        if latent_dim < 2:
            raise ValueError(f"latent_dim must be >= 2 (S^(d-1) with d >= 2), got {latent_dim}")
        self.n_channels, self.latent_dim, self.sigma_eps = n_channels, latent_dim, sigma_eps
        causal = ((kernel - 1, 0),)  # pad the past only
        self.conv1 = nnx.Conv(n_channels, hidden, (kernel,), padding=causal, rngs=rngs)
        self.conv2 = nnx.Conv(hidden, hidden, (kernel,), padding=causal, rngs=rngs)
        self.to_mu = nnx.Linear(hidden, latent_dim, rngs=rngs)
        self.to_sigma = nnx.Linear(hidden, latent_dim, rngs=rngs)
        if sigma_init is not None:
            if not sigma_init > sigma_eps:
                raise ValueError(f"sigma_init must exceed sigma_eps={sigma_eps}, got {sigma_init}")
            s0 = sigma_init - sigma_eps
            bias = s0 + math.log(-math.expm1(-s0))  # softplus^-1(s0), stable for small and large s0
            self.to_sigma.kernel.value = jnp.zeros_like(self.to_sigma.kernel.value)
            self.to_sigma.bias.value = jnp.full_like(self.to_sigma.bias.value, bias)
        self.dec1 = nnx.Linear(latent_dim, decoder_hidden, rngs=rngs)
        self.dec2 = nnx.Linear(decoder_hidden, n_channels, rngs=rngs)

    def encode(self, x):
        """x: (B, T, C) or (T, C) -> (mu, sigma), each (B, T, d) or (T, d); mu on the sphere."""
        xb, squeeze = validate.sequence(x, "RVAE input", last=self.n_channels, last_name="C")
        h = jax.nn.relu(self.conv1(xb))
        h = jax.nn.relu(self.conv2(h))
        mu = sphere.normalize(self.to_mu(h))
        sigma = jax.nn.softplus(self.to_sigma(h)) + self.sigma_eps
        return (mu[0], sigma[0]) if squeeze else (mu, sigma)

    def sample(self, key, mu, sigma):
        """Reparameterized sample, see :func:`sample_tangent`: returns (z, v), shapes of ``mu``."""
        return sample_tangent(key, mu, sigma)

    def decode(self, z):
        """z: (..., d) on the sphere -> (..., C), the same MLP at every time step."""
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"decode expects (..., {self.latent_dim}) latents, got shape {tuple(z.shape)}")
        return self.dec2(jax.nn.relu(self.dec1(z)))

    def __call__(self, x, key=None) -> RVAEOutput:
        """Encode, sample (or take ``z = mu`` when ``key`` is None), decode.

        Args:
            x: (B, T, C) or (T, C).
            key: PRNG key for the sample; None decodes the mean direction.
        Returns:
            :class:`RVAEOutput` with the batch axis present iff it was in ``x``.
        """
        mu, sigma = self.encode(x)
        if key is None:
            z, v = mu, jnp.zeros_like(mu)
        else:
            z, v = self.sample(key, mu, sigma)
        return RVAEOutput(self.decode(z), z, mu, sigma, v)


def elbo_terms(model: RVAE, x, target, key, n_wraps: int = 8):
    """Reconstruction MSE and Monte-Carlo KL of one batch (the loss is ``mse + beta * kl``).

    Args:
        model: the RVAE; x: (B, T, C) or (T, C) noisy input; target: same shape, the
            clean signal to reconstruct; key: PRNG key for the latent sample.
    Returns:
        mse: scalar, mean over all entries of ``(x_hat - target)^2``;
        kl: scalar, mean over time steps of the single-sample KL to the uniform prior
        (nats per latent vector).
    """
    out = model(x, key)
    mse = jnp.mean(jnp.square(out.x_hat - target))
    kl = jnp.mean(kl_to_uniform(out.mu, out.sigma, out.v, n_wraps))
    return mse, kl
