"""Least-squares sinusoid fit: a harmonic-regression baseline for imputation (issue 10, item 3).

Per channel, on the observed steps ``t`` only::

    y_t ~ sum_{d <= degree} b_d (t / T)^d + sum_k [c_k sin(2 pi f_k t) + s_k cos(2 pi f_k t)]

with the linear coefficients by least squares and the frequencies ``f_k`` (cycles per
step) either given, or the harmonics ``k / period`` of a given period (a seasonal
baseline), or found greedily: the peak of the zero-padded FFT of the linearly filled
residual, refined on the observed steps, then all frequencies refined jointly by
variable projection (``scipy.optimize.least_squares`` over the frequencies with the
linear coefficients solved inside). A missing entry takes the fitted curve plus the
linear interpolation of the observed residual, so the fill meets the data at both ends
of each gap (with no sinusoids it is exactly :func:`~.classical.linear`).

Assumes the signal is a fixed sum of a few sinusoids on a polynomial trend: exact for a
noiseless sum of sinusoids, poor for a quasi-periodic cycle whose period and amplitude
drift (sunspots). Cost O(T log T) per detected frequency (FFT) plus a few dozen
least-squares solves of size T x (degree + 1 + 2K). Needs at least ``degree + 2 + 3K``
observations (``2K`` coefficients and K frequencies).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from spectral_manifolds.imputation.classical import channelwise

__all__ = ["sinusoid", "design", "fit_frequencies"]


def design(t: np.ndarray, freqs: Sequence[float], degree: int, T: int) -> np.ndarray:
    """(len(t), degree + 1 + 2K) regressors: polynomial in t/T, then sin and cos of each f."""
    cols = [(t / T) ** d for d in range(degree + 1)]
    for f in freqs:
        cols += [np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)]
    return np.stack(cols, axis=1)


def _residual(t: np.ndarray, y: np.ndarray, freqs, degree: int, T: int) -> np.ndarray:
    A = design(t, freqs, degree, T)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return y - A @ coef


def fit_frequencies(t: np.ndarray, y: np.ndarray, T: int, n_frequencies: int, degree: int = 1) -> list[float]:
    """Greedy + joint least-squares frequency estimates (cycles per step), in (0, 0.5).

    Args:
        t: (n,) observed steps; y: (n,) their values; T: series length.
        n_frequencies: how many sinusoids to find.
        degree: polynomial trend degree removed alongside.
    """
    from scipy.optimize import least_squares, minimize_scalar

    grid = np.arange(T)
    freqs: list[float] = []
    pad = 8 * T
    df = 1.0 / pad
    for _ in range(int(n_frequencies)):
        r = _residual(t, y, freqs, degree, T)
        filled = np.interp(grid, t, r)
        power = np.abs(np.fft.rfft(filled - filled.mean(), n=pad)) ** 2
        power[0] = 0.0
        for f in freqs:  # do not pick a found frequency again
            k = int(round(f * pad))
            power[max(k - 4, 0) : k + 5] = 0.0
        f0 = float(np.argmax(power)) / pad
        lo, hi = max(f0 - 2 * df, 1e-6), min(f0 + 2 * df, 0.5 - 1e-6)
        best = minimize_scalar(lambda f: float(np.sum(_residual(t, y, freqs + [f], degree, T) ** 2)), bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
        freqs.append(float(best.x))
    if len(freqs) > 1:
        sol = least_squares(lambda fs: _residual(t, y, list(fs), degree, T), np.asarray(freqs), bounds=(1e-6, 0.5 - 1e-6), x_scale=df, xtol=1e-12, ftol=1e-12)
        freqs = [float(f) for f in sol.x]
    return freqs


@channelwise
def sinusoid(y: np.ndarray, frequencies: Sequence[float] | None = None, period: float | None = None, harmonics: int = 1, n_frequencies: int = 3, degree: int = 1) -> np.ndarray:
    """Fill with a least-squares sum of sinusoids + trend + interpolated residual.

    Args:
        frequencies: known frequencies in cycles per step (e.g. ``[1 / 52.18]``).
        period: or a seasonal period in steps: uses ``k / period`` for k = 1..harmonics.
        harmonics: harmonics of ``period``.
        n_frequencies: or the number of frequencies to detect (when neither is given).
        degree: polynomial trend degree (0: a constant).
    """
    T = y.size
    grid = np.arange(T)
    obs = ~np.isnan(y)
    t, v = grid[obs].astype(np.float64), y[obs]
    if frequencies is not None:
        freqs = [float(f) for f in np.atleast_1d(frequencies)]
    elif period is not None:
        freqs = [k / float(period) for k in range(1, int(harmonics) + 1)]
    else:
        freqs = fit_frequencies(t, v, T, int(n_frequencies), int(degree))
    A = design(t, freqs, int(degree), T)
    coef, *_ = np.linalg.lstsq(A, v, rcond=None)
    curve = design(grid.astype(np.float64), freqs, int(degree), T) @ coef
    return curve + np.interp(grid, t, v - A @ coef)
