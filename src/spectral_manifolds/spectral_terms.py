"""The spectral terms of the fidelity loss, in JAX (seed 001_a78d46c299591382.txt, §5 and §9).

Inputs are ``(B, T, C)`` or ``(T, C)`` (seed 001, lesson 5: the imputation path passes
unbatched series); spectra are ``jnp.fft.rfft`` along time, ``F = n // 2 + 1`` bins for an
FFT length ``n``.

* :func:`log_magnitude_loss` -- ``|log(|P| + e) - log(|Y| + e)|`` per bin, averaged
  uniformly (the seeds') or weighted by ``max(|P_f|, |Y_f|)`` (weights without gradient).
* :func:`phase_consistency_loss` -- wrap-safe ``1 - cos(theta_P - theta_Y)``, uniform (the
  seeds') or weighted by the target's magnitude and softened where the prediction is weak.
* :func:`spectral_loss` -- the book's repaired, bank-free fidelity loss: both, weighted
  and floored.
* :func:`phase_loss_angle` -- the seeds' literal ``jnp.angle`` form, kept to show its gradient.

:mod:`spectral_manifolds.losses` re-exports every public name.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from spectral_manifolds import validate

__all__ = [
    "SEED_EPS",
    "WEIGHTINGS",
    "as_batched",
    "spectrum",
    "safe_magnitude",
    "log_magnitude_loss",
    "phase_consistency_loss",
    "phase_loss_angle",
    "spectral_loss",
]

SEED_EPS = 1e-8
WEIGHTINGS = ("magnitude", "uniform")


# --------------------------------------------------------------------------- shapes
def as_batched(x, name: str = "x") -> jax.Array:
    """Return ``x`` as a float array of shape ``(B, T, C)``.

    Args:
        x: (B, T, C) or (T, C); a (T, C) series becomes (1, T, C).
    Raises:
        ValueError: for any other rank or an empty time axis (the shared
            :func:`spectral_manifolds.validate.sequence`).
    """
    x, _ = validate.sequence(x, name, last_name="C")
    x = jnp.asarray(x)
    return x.astype(jnp.result_type(x.dtype, jnp.float32))


def _pair(pred, target):
    pred, target = as_batched(pred, "pred"), as_batched(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {pred.shape} and {target.shape}")
    return pred, target


def spectrum(x, n: int | None = None) -> jax.Array:
    """``rfft`` along time, zero-padded to ``n`` (default ``T``).

    Args:
        x: (B, T, C) or (T, C).
    Returns:
        (B, n // 2 + 1, C) complex.
    """
    return _rfft(as_batched(x), n)


def _rfft(x, n):
    """rfft of a (B, T, C) array along time."""
    return jnp.fft.rfft(x, n=n, axis=1)


def safe_magnitude(z) -> jax.Array:
    """``|z|`` of a complex array with gradient 0 (not NaN) at ``z = 0`` ("double where")."""
    sq = jnp.real(z) ** 2 + jnp.imag(z) ** 2
    nonzero = sq > 0
    return jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, sq, 1.0)), 0.0)


def _unit_phasor(z) -> jax.Array:
    """``z / |z|``, and 0 where ``z = 0``; finite gradients everywhere."""
    mag = safe_magnitude(z)
    nonzero = mag > 0
    return jnp.where(nonzero, z / jnp.where(nonzero, mag, 1.0), 0.0)

# --------------------------------------------------------------------------- spectral terms
def _log_magnitude(P, Y, eps, mag_floor=0.0, weighting="uniform"):
    """|log(|P| + e) - log(|Y| + e)| per bin, e = eps + mag_floor * max_f |Y_f| per series.

    P, Y: (B, F, C) complex. ``weighting="uniform"``: mean over all bins (the seeds').
    ``"magnitude"``: per series, bins weighted by ``max(|P_f|, |Y_f|)`` (normalized to sum
    to 1), then averaged over series. Neither the floor nor the weights carry a gradient:
    a gradient step minimizes the loss with the weights frozen at the current prediction,
    whose minimum is the bin-by-bin match (through the weights, inflating an already
    matched line would steal weight from the wrong bins and lower the loss).
    """
    mag_p, mag_y = safe_magnitude(P), safe_magnitude(Y)
    floor = eps + mag_floor * jax.lax.stop_gradient(jnp.max(mag_y, axis=1, keepdims=True))
    err = jnp.abs(jnp.log(mag_p + floor) - jnp.log(mag_y + floor))
    if weighting == "uniform":
        return jnp.mean(err)
    w = jax.lax.stop_gradient(jnp.maximum(mag_p, mag_y))
    w = w / (jnp.sum(w, axis=1, keepdims=True) + eps)
    return jnp.mean(jnp.sum(w * err, axis=1))


def _phase(P, Y, weighting, phase_floor, eps):
    """Phase term on spectra P, Y: (B, F, C) complex; see :func:`phase_consistency_loss`."""
    if weighting == "uniform":
        cos = jnp.real(_unit_phasor(P) * jnp.conj(_unit_phasor(Y)))
        # a bin where both spectra are exactly 0 agrees (the seeds' angle(0) - angle(0) = 0)
        both_silent = (safe_magnitude(P) == 0) & (safe_magnitude(Y) == 0)
        return jnp.mean(jnp.where(both_silent, 0.0, 1.0 - cos))
    mag_y = jax.lax.stop_gradient(safe_magnitude(Y))
    weights = mag_y / (jnp.sum(mag_y, axis=1, keepdims=True) + eps)  # sums to 1 per series, or 0
    floor = phase_floor * jnp.max(mag_y, axis=1, keepdims=True) + eps
    mag_p = safe_magnitude(P)
    # bins where the target is below eps (weight < eps / sum|Y|) score 0: no division by ~0
    heard = mag_y > eps
    denom = jnp.maximum(mag_p, jnp.minimum(floor, mag_y)) * mag_y  # >= eps^2 where heard
    soft_cos = jnp.real(P * jnp.conj(Y)) / jnp.where(heard, denom, 1.0)
    per_series = jnp.sum(jnp.where(heard, weights * (1.0 - soft_cos), 0.0), axis=1)  # (B, C)
    return jnp.mean(per_series)


def _check_weighting(weighting):
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")


def log_magnitude_loss(
    pred, target, *, weighting: str = "uniform", n_fft: int | None = None, mag_floor: float = 0.0, eps: float = SEED_EPS
) -> jax.Array:
    """Log-magnitude spectral loss, ``mean_f |log(|P_f| + e) - log(|Y_f| + e)|``.

    Seed 001, §5: "The logarithm explodes if the amplitude drops to zero, forcing the
    model to maintain signal energy". For ``pred = c * target`` it equals ``|log c|``
    wherever ``|Y_f| >> e``.

    ``e = eps + mag_floor * max_f |Y_f|`` per series. The seeds used ``mag_floor = 0``
    (``e = 1e-8``): then bins where the target is silent (round-off, ~1e-7 in float32)
    weigh as much as its peaks, and their log-ratios are noise. A relative floor such as
    ``1e-3`` (-60 dB under the target's peak) ignores them. Silent prediction bins have a
    finite gradient (magnitude by double where), at most about ``1/e``.

    ``weighting="uniform"`` (the seeds') averages over bins, so the many bins where the
    target is (nearly) empty dominate: broadband noise there costs more than silence
    where the target has its lines. ``weighting="magnitude"`` weighs bin ``f`` by
    ``max(|P_f|, |Y_f|)``: energy that is missing *or* spurious counts by its size.
    Both give ``|log c|`` for ``pred = c * target``.

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
        n_fft: FFT length (zero-padding), default T.
    Returns:
        scalar, mean over batch, bins and channels.
    """
    _check_weighting(weighting)
    pred, target = _pair(pred, target)
    return _log_magnitude_loss(pred, target, weighting=weighting, n_fft=n_fft, mag_floor=float(mag_floor), eps=float(eps))


@partial(jax.jit, static_argnames=("weighting", "n_fft", "mag_floor", "eps"))
def _log_magnitude_loss(pred, target, *, weighting, n_fft, mag_floor, eps):
    return _log_magnitude(_rfft(pred, n_fft), _rfft(target, n_fft), eps, mag_floor, weighting)


def phase_consistency_loss(
    pred, target, *, weighting: str = "magnitude", n_fft: int | None = None, phase_floor: float = 1e-3, eps: float = SEED_EPS
) -> jax.Array:
    """Wrap-safe phase loss ``1 - cos(theta_P - theta_Y)`` per bin, averaged (seed 001, §9).

    ``1 - cos`` is periodic, so phases near ``+pi`` and ``-pi`` count as close.

    * ``weighting="uniform"``: the seeds' plain mean over all bins, with
      ``cos dtheta = Re(P conj(Y)) / (|P| |Y|)`` (0 at an exactly zero bin, where the
      seeds' ``jnp.angle`` gave a NaN gradient); a bin where *both* spectra are exactly 0
      scores 0 (they agree; the seeds' ``angle`` form gives 0 there too). Bins without
      energy weigh as much as the peaks, their phases are noise, and the gradient grows
      like ``1/|P_f|``.
    * ``weighting="magnitude"`` (default): bin ``f`` weighs ``|Y_f| / sum |Y|`` (target
      magnitude; no weight, no gradient where the target is silent), and the cosine is
      softened where the prediction is weak,
      ``Re(P conj(Y)) / (max(|P|, min(d, |Y|)) |Y|)`` with ``d = phase_floor * max_f |Y_f| + eps``
      per series: the exact cosine wherever ``|P_f| >= min(d, |Y_f|)`` (so a perfect
      prediction scores exactly 0), and a gradient bounded by about ``1/d`` where the
      prediction is silent. Bins where ``|Y_f| <= eps`` (weight below ``eps / sum |Y|``)
      score 0. It is invariant to rescaling the prediction (for
      ``|P_f| >= d``): no incentive to shrink. An all-zero target gives 0.

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
    Returns:
        scalar in [0, 2].
    """
    _check_weighting(weighting)
    pred, target = _pair(pred, target)
    return _phase_loss(pred, target, weighting=weighting, n_fft=n_fft, phase_floor=float(phase_floor), eps=float(eps))


@partial(jax.jit, static_argnames=("weighting", "n_fft", "phase_floor", "eps"))
def _phase_loss(pred, target, *, weighting, n_fft, phase_floor, eps):
    return _phase(_rfft(pred, n_fft), _rfft(target, n_fft), weighting, phase_floor, eps)


def phase_loss_angle(pred, target, *, n_fft: int | None = None) -> jax.Array:
    """The seeds' literal phase term, ``mean(1 - cos(angle(P) - angle(Y)))``.

    Kept only to show its gradient: ``jnp.angle`` has a NaN gradient at an exactly zero
    bin and one of size ``1/|P_f|`` near it. Use :func:`phase_consistency_loss` instead.
    """
    pred, target = _pair(pred, target)
    P, Y = _rfft(pred, n_fft), _rfft(target, n_fft)
    return jnp.mean(1.0 - jnp.cos(jnp.angle(P) - jnp.angle(Y)))


def spectral_loss(
    pred, target, *, phase_weight: float = 1.0, weighting: str = "magnitude", n_fft: int | None = None,
    mag_floor: float = 1e-3, phase_floor: float = 1e-3, eps: float = SEED_EPS,
) -> jax.Array:
    """Log-magnitude loss + ``phase_weight`` x phase-consistency loss on the plain spectra.

    The repaired, bank-free form of the fidelity loss (chapter 5: the bank's kernels
    cancel): ``weighting`` applies to both terms (``"magnitude"`` by default, see
    :func:`log_magnitude_loss` and :func:`phase_consistency_loss`), and relative floors
    keep round-off bins from dominating either term.

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
    Returns:
        scalar.
    """
    _check_weighting(weighting)
    pred, target = _pair(pred, target)
    return _spectral_loss(
        pred, target, phase_weight=float(phase_weight), weighting=weighting, n_fft=n_fft,
        mag_floor=float(mag_floor), phase_floor=float(phase_floor), eps=float(eps),
    )


@partial(jax.jit, static_argnames=("phase_weight", "weighting", "n_fft", "mag_floor", "phase_floor", "eps"))
def _spectral_loss(pred, target, *, phase_weight, weighting, n_fft, mag_floor, phase_floor, eps):
    P, Y = _rfft(pred, n_fft), _rfft(target, n_fft)
    return _log_magnitude(P, Y, eps, mag_floor, weighting) + phase_weight * _phase(P, Y, weighting, phase_floor, eps)
