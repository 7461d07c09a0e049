"""Spectral losses of the Music Manifold Core, in JAX, and their repaired forms
(seed 001_a78d46c299591382.txt: §5 table, §7, §9, "The Promised Land" pillar 1, §12-14).

All losses compare signals along their time axis. Inputs are ``(B, T, C)`` or ``(T, C)``
(seed 001, lesson 5: the imputation path passes unbatched series); spectra are
``jnp.fft.rfft`` along time, ``F = n // 2 + 1`` bins for an FFT length ``n``.

The pieces
----------
* :func:`log_magnitude_loss` -- ``mean |log(|P| + eps) - log(|Y| + eps)|`` over bins, the
  seeds' "Log-Magnitude Spectral Loss" (§5): scaling the prediction by ``c`` costs
  ``|log c|``, so shrinking the signal towards zero is never free.
* :func:`phase_consistency_loss` -- ``1 - cos(theta_P - theta_Y)``, wrap-safe (§9).
  ``weighting="uniform"`` is the seeds' plain mean over bins; ``weighting="magnitude"``
  (default) weights each bin by the target's magnitude ``|Y_f|`` and softens the phase of
  near-silent prediction bins, so bins without energy carry no weight and no huge
  gradient (DESIGN.md, "Known traps").
* :func:`fractional_fidelity_terms` / :func:`fractional_fidelity_loss` -- the seeds'
  bank: convolve prediction and target with a fractional kernel for each
  ``gamma in {0.1, 0.3, 0.5, 0.7, 0.9}`` (linear convolution, zero-padded FFT), then
  log-magnitude + ``phase_weight`` x phase on the convolved spectra; averaged over gamma.
* :func:`spectral_entropy` -- entropy of the latent's spectrum over time, power-based
  (``p ~ |Z|^2``, §§12-14) or magnitude-based (``p ~ |Z|``, §7), normalized so that a
  flat spectrum scores 1.
* :func:`seed_fidelity_loss`, :func:`seed_total_loss` -- the loss of §12-14 as the
  seeds' public code computed it (DESIGN.md, "The seeds' experimental setup").

Where the code lives: this module re-exports the public names of three modules, one
concept each: :mod:`spectral_manifolds.spectral_terms` (log-magnitude, phase, the repaired
``spectral_loss``), :mod:`spectral_manifolds.fractional_bank` (the bank and the seeds'
loss) and :mod:`spectral_manifolds.entropy` (spectral entropy).

What the seeds' code did (read from the public code the seeds came from)
------------------------------------------------------------------------
``get_fractional_kernel(gamma, 128)`` returned the *naive* weights ``n^(-gamma)/Gamma(1-gamma)``,
``n = 1..128``, **reversed** (``weights[::-1]``, shaped for a Flax conv), and the loss
used that reversed array directly as an FFT convolution kernel: lag ``l = 0..127``
weighted ``(128 - l)^(-gamma)/Gamma(1-gamma)``. ``kernel="seed"`` reproduces it;
``"naive"`` and ``"product"`` use the memory of :mod:`spectral_manifolds.fractional`
(lags ``1..K``). The FFT length was ``T + 127`` (full linear convolution, no wrap), the
phase term unweighted with weight 1.0, and the bank **averaged** over the five gammas.

Chapter 5 shows when the kernel choice does not matter: pred and target are filtered by
the same kernel, whose spectrum ``K`` cancels from both the log-magnitude difference and
the phase difference when (1) the spectra are those of the *full* linear convolution
(zero-padded to ``T + len(kernel) - 1``, as the seeds' code did), (2) the bins are
weighted uniformly, and (3) ``|K_f| |Y_f| >> eps``. A truncated causal convolution
(``convolution="causal"``) or magnitude weights (``|K|`` enters them) break it.
"""

from __future__ import annotations

from spectral_manifolds.entropy import spectral_entropy
from spectral_manifolds.fractional_bank import (
    CONVOLUTIONS,
    KERNELS,
    SEED_ENTROPY_WEIGHT,
    SEED_GAMMAS,
    SEED_KERNEL_SIZE,
    SEED_PHASE_WEIGHT,
    fractional_fidelity_loss,
    fractional_fidelity_terms,
    fractional_kernel,
    seed_fidelity_loss,
    seed_total_loss,
)
from spectral_manifolds.spectral_terms import (
    SEED_EPS,
    WEIGHTINGS,
    as_batched,
    log_magnitude_loss,
    phase_consistency_loss,
    phase_loss_angle,
    safe_magnitude,
    spectral_loss,
    spectrum,
)

__all__ = [
    "SEED_GAMMAS",
    "SEED_KERNEL_SIZE",
    "SEED_PHASE_WEIGHT",
    "SEED_ENTROPY_WEIGHT",
    "SEED_EPS",
    "KERNELS",
    "CONVOLUTIONS",
    "WEIGHTINGS",
    "as_batched",
    "spectrum",
    "safe_magnitude",
    "log_magnitude_loss",
    "phase_consistency_loss",
    "phase_loss_angle",
    "spectral_loss",
    "fractional_kernel",
    "fractional_fidelity_terms",
    "fractional_fidelity_loss",
    "spectral_entropy",
    "seed_fidelity_loss",
    "seed_total_loss",
]
