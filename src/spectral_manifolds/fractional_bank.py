"""The seeds' fractional fidelity bank and their training loss, in JAX
(seed 001_a78d46c299591382.txt: §5 table, §9, §12-14; DESIGN.md, "The seeds' experimental setup").

For each ``gamma in {0.1, 0.3, 0.5, 0.7, 0.9}`` prediction and target are convolved with a
fractional kernel (linear convolution, zero-padded FFT), then scored by the log-magnitude
and phase terms of :mod:`spectral_manifolds.spectral_terms`; the bank is averaged over gamma.

What the seeds' code did: ``get_fractional_kernel(gamma, 128)`` returned the *naive*
weights ``n^(-gamma)/Gamma(1-gamma)``, ``n = 1..128``, **reversed** (shaped for a Flax
conv), and the loss used that reversed array directly as an FFT kernel: lag
``l = 0..127`` weighted ``(128 - l)^(-gamma)/Gamma(1-gamma)`` (``kernel="seed"``). The FFT
length was ``T + 127`` (full linear convolution), the phase term unweighted with weight
1.0, the bank averaged over the five gammas, plus ``0.05 x`` the power-based spectral
entropy of the latent (natural log, not normalized).

The kernel's spectrum cancels from both terms (chapter 5) when the spectra are those of
the full convolution, the bins are weighted uniformly and ``|K_f| |Y_f| >> eps``; a
truncated causal convolution (``convolution="causal"``) or magnitude weights break it.
:mod:`spectral_manifolds.losses` re-exports every public name.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from spectral_manifolds.entropy import spectral_entropy
from spectral_manifolds.fractional import check_gamma, naive_weights, power_law_weights
from spectral_manifolds.spectral_terms import SEED_EPS, _check_weighting, _log_magnitude, _pair, _phase, _rfft

__all__ = [
    "SEED_GAMMAS",
    "SEED_KERNEL_SIZE",
    "SEED_PHASE_WEIGHT",
    "SEED_ENTROPY_WEIGHT",
    "KERNELS",
    "CONVOLUTIONS",
    "fractional_kernel",
    "fractional_fidelity_terms",
    "fractional_fidelity_loss",
    "seed_fidelity_loss",
    "seed_total_loss",
]

SEED_GAMMAS = (0.1, 0.3, 0.5, 0.7, 0.9)
SEED_KERNEL_SIZE = 128
SEED_PHASE_WEIGHT = 1.0  # §10 raised it from 0.5 (§9) to 1.0; the §12-14 code uses 1.0
SEED_ENTROPY_WEIGHT = 0.05  # §7 raised it from 0.01 to 0.05
KERNELS = ("seed", "naive", "product")
CONVOLUTIONS = ("full", "causal")


def fractional_kernel(gamma: float, size: int = SEED_KERNEL_SIZE, kind: str = "seed") -> jax.Array:
    """Convolution kernel (index = lag) of the fractional fidelity bank.

    * ``"seed"``: the seeds' array, naive weights reversed: ``k[l] = (size - l)^(-g)/Gamma(1-g)``,
      ``l = 0..size-1`` (shape ``(size,)``).
    * ``"naive"``: ``k[0] = 0``, ``k[l] = l^(-g)/Gamma(1-g)`` for ``l = 1..size`` (``(size+1,)``).
    * ``"product"``: ``k[0] = 0``, ``k[l] = w_l`` of :func:`~spectral_manifolds.fractional.power_law_weights`
      (``(size+1,)``): the causal memory of chapter 2.
    """
    check_gamma(gamma)
    if kind == "seed":
        return naive_weights(size, gamma)[::-1]
    if kind == "naive":
        return jnp.concatenate([jnp.zeros(1), naive_weights(size, gamma)])
    if kind == "product":
        return jnp.concatenate([jnp.zeros(1), power_law_weights(size, gamma)])
    raise ValueError(f"kernel must be one of {KERNELS}, got {kind!r}")


def fractional_fidelity_terms(
    pred, target, *, gammas=SEED_GAMMAS, kernel_size: int = SEED_KERNEL_SIZE, kernel: str = "seed",
    weighting: str = "uniform", mag_floor: float = 0.0, phase_floor: float = 1e-3, eps: float = SEED_EPS,
    convolution: str = "full",
) -> dict:
    """Per-gamma terms of the fractional fidelity bank (seed 001, §5 and §9).

    For each ``gamma``: ``P = rfft(pred) * K``, ``Y = rfft(target) * K`` with ``K`` the
    spectrum of :func:`fractional_kernel`, all zero-padded to ``T + len(kernel) - 1`` (a
    linear convolution, nothing wraps); then the log-magnitude and phase terms on ``P, Y``,
    both with the given ``weighting`` (``"uniform"``: the seeds').

    ``convolution="full"`` (the seeds') keeps all ``T + len(kernel) - 1`` outputs, so the
    spectra are exactly ``rfft(x) * K`` and ``K`` cancels from both terms under uniform
    weights (chapter 5). ``"causal"`` keeps only the first ``T`` outputs, what a causal
    convolution layer returns, and takes their length-``T`` spectra: truncation is not a
    product in frequency, so the kernel no longer cancels.

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
        gammas: memory exponents in (0, 1).
    Returns:
        dict of (G,) arrays ``magnitude`` and ``phase``, one entry per gamma.
    """
    _check_weighting(weighting)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if convolution not in CONVOLUTIONS:
        raise ValueError(f"convolution must be one of {CONVOLUTIONS}, got {convolution!r}")
    pred, target = _pair(pred, target)
    gammas = tuple(check_gamma(g) for g in gammas)
    if len(gammas) == 0:
        raise ValueError("gammas must hold at least one exponent")
    mags, phases = _fidelity_terms(
        pred, target, gammas=gammas, kernel_size=int(kernel_size), kernel=kernel, weighting=weighting,
        mag_floor=float(mag_floor), phase_floor=float(phase_floor), eps=float(eps), convolution=convolution,
    )
    return dict(magnitude=mags, phase=phases)


@partial(jax.jit, static_argnames=("gammas", "kernel_size", "kernel", "weighting", "mag_floor", "phase_floor", "eps", "convolution"))
def _fidelity_terms(pred, target, *, gammas, kernel_size, kernel, weighting, mag_floor, phase_floor, eps, convolution="full"):
    T = pred.shape[1]
    mags, phases = [], []
    for g in gammas:
        k = fractional_kernel(g, kernel_size, kernel)
        n = T + k.shape[0] - 1
        K = jnp.fft.rfft(k, n=n)[None, :, None]
        P, Y = _rfft(pred, n) * K, _rfft(target, n) * K
        if convolution == "causal":  # keep the first T outputs of the linear convolution
            P = _rfft(jnp.fft.irfft(P, n=n, axis=1)[:, :T], T)
            Y = _rfft(jnp.fft.irfft(Y, n=n, axis=1)[:, :T], T)
        mags.append(_log_magnitude(P, Y, eps, mag_floor, weighting))
        phases.append(_phase(P, Y, weighting, phase_floor, eps))
    return jnp.stack(mags), jnp.stack(phases)


def fractional_fidelity_loss(
    pred, target, *, gammas=SEED_GAMMAS, kernel_size: int = SEED_KERNEL_SIZE, kernel: str = "seed",
    phase_weight: float = SEED_PHASE_WEIGHT, weighting: str = "uniform", mag_floor: float = 0.0,
    phase_floor: float = 1e-3, eps: float = SEED_EPS, convolution: str = "full",
) -> jax.Array:
    """Fractional fidelity loss: mean over gamma of ``magnitude + phase_weight * phase``.

    Defaults are the seeds' (kernel ``"seed"``, uniform phase, weight 1); see
    :func:`fractional_fidelity_terms` for the terms.

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
    Returns:
        scalar.
    """
    terms = fractional_fidelity_terms(
        pred, target, gammas=gammas, kernel_size=kernel_size, kernel=kernel, weighting=weighting,
        mag_floor=mag_floor, phase_floor=phase_floor, eps=eps, convolution=convolution,
    )
    return jnp.mean(terms["magnitude"] + phase_weight * terms["phase"])

# --------------------------------------------------------------------------- the seeds' loss
def seed_fidelity_loss(pred, target) -> jax.Array:
    """The fractional fidelity loss of seed 001, §12-14, as its public code computed it.

    Naive kernel ``n^(-g)/Gamma(1-g)``, ``n = 1..128``, reversed (``kernel="seed"``); gammas
    0.1, 0.3, 0.5, 0.7, 0.9; linear (zero-padded) FFT convolution; per gamma
    ``mean |log(|P|+1e-8) - log(|Y|+1e-8)| + 1.0 * mean(1 - cos dphase)`` (unweighted);
    averaged over gamma.

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
    Returns:
        scalar.
    """
    return fractional_fidelity_loss(
        pred, target, gammas=SEED_GAMMAS, kernel_size=SEED_KERNEL_SIZE, kernel="seed",
        phase_weight=SEED_PHASE_WEIGHT, weighting="uniform", eps=SEED_EPS,
    )


def seed_total_loss(pred, target, latent) -> jax.Array:
    """The training loss of seed 001, §12-14: ``seed_fidelity_loss + 0.05 * entropy``.

    The entropy is the power-based spectral entropy of the latent over time, *not*
    normalized (the seeds' code: natural log, ``eps = 1e-8``; at most ``log F``).

    Args:
        pred, target: (B, T, C) or (T, C), same shape (prediction and its target).
        latent: (B, T, D) or (T, D), the dynamics' latent trajectory ``z_dyn``.
    Returns:
        scalar.
    """
    entropy = spectral_entropy(latent, kind="power", normalize=False, eps=SEED_EPS)
    return seed_fidelity_loss(pred, target) + SEED_ENTROPY_WEIGHT * entropy
