"""Spectral entropy of a latent trajectory over time, in JAX (seed 001_a78d46c299591382.txt, §7, §§12-14).

Power-based (``p ~ |Z|^2``, the seeds' §§12-14 regularizer) or magnitude-based
(``p ~ |Z|``, §7). Chapter 5 proves that the magnitude entropy is never below the power
entropy (``p^(b) ~ q^b`` has ``dH/db = -b Var(log q) <= 0``).
:mod:`spectral_manifolds.losses` re-exports :func:`spectral_entropy`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from spectral_manifolds.spectral_terms import _rfft, as_batched, safe_magnitude

__all__ = ["spectral_entropy"]


def spectral_entropy(z, *, kind: str = "power", normalize: bool = True, eps: float = 1e-12) -> jax.Array:
    """Entropy of each latent coordinate's spectrum over time, averaged over batch and coordinates.

    ``S_f = |Z_f|^2`` (``kind="power"``, seed 001 §§12-14) or ``|Z_f|`` (``"magnitude"``,
    §7), ``Z = rfft(z)`` along time with ``F`` bins; ``p_f = S_f / (sum S + eps)`` and
    ``H = -sum_f p_f log(p_f + eps)``. With ``normalize=True`` it is divided by ``log F``,
    so a flat spectrum scores 1 and a single line 0. An all-zero coordinate scores 0.
    Both kinds are invariant to rescaling ``z`` (they see only the spectrum's shape).

    Args:
        z: (B, T, D) or (T, D) latent trajectory; T >= 2 when normalized.
        eps: guard in the normalization and the log; the seeds used 1e-8 in both.
    Returns:
        scalar.
    """
    if kind not in ("power", "magnitude"):
        raise ValueError(f"kind must be 'power' or 'magnitude', got {kind!r}")
    z = as_batched(z, "z")
    if normalize and z.shape[1] // 2 + 1 < 2:
        raise ValueError(f"a normalized entropy needs at least 2 frequency bins (T >= 2), got T = {z.shape[1]}")
    return _spectral_entropy(z, kind=kind, normalize=bool(normalize), eps=float(eps))


@partial(jax.jit, static_argnames=("kind", "normalize", "eps"))
def _spectral_entropy(z, *, kind, normalize, eps):
    Z = _rfft(z, None)  # (B, F, D)
    F = Z.shape[1]
    s = jnp.real(Z) ** 2 + jnp.imag(Z) ** 2 if kind == "power" else safe_magnitude(Z)
    p = s / (jnp.sum(s, axis=1, keepdims=True) + eps)
    h = -jnp.sum(p * jnp.log(p + eps), axis=1)  # (B, D)
    if normalize:
        h = h / jnp.log(F)
    return jnp.mean(h)
