"""Classical imputers without a fitted model: LOCF, linear, PCHIP, cubic spline, STL + linear.

Every imputer takes ``x``: (T,) or (T, C) float with NaN for missing entries, works on
each channel independently on the unit time grid ``t = 0, ..., T - 1``, and returns a
filled **copy** (float64, ``x``'s shape; observed entries unchanged, ``x`` never
modified). Input checks (rank, all-missing channels, infinities, too few observations)
are :func:`spectral_manifolds.imputation.fit_impute`'s; these functions assume a valid
array with at least the observations their docstring names.

Edges. A bidirectional interpolator has nothing to interpolate from before the first
or after the last observation; there every method here holds the nearest observed
value constant (what ``numpy.interp`` does), rather than extrapolate a polynomial.

Regimes (issue 10, item 3): **causal** methods use only the past of each missing entry
(:func:`locf`, and :func:`spectral_manifolds.imputation.statespace.kalman`);
**bidirectional** methods use both sides of a gap (the rest).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

__all__ = ["channelwise", "locf", "linear", "pchip", "spline", "stl_linear"]


def channelwise(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Lift ``fn(y: (T,) float64 with NaN, **options) -> (T,)`` to (T,) and (T, C) input.

    The wrapper copies the input to float64, skips channels with nothing missing,
    calls ``fn`` per channel and writes back only the missing entries, so observed
    values are returned bit for bit.
    """

    @functools.wraps(fn)
    def wrapper(x: np.ndarray, **options) -> np.ndarray:
        out = np.array(x, dtype=np.float64, copy=True)
        view = out[:, None] if out.ndim == 1 else out
        for c in range(view.shape[1]):
            y = view[:, c]
            miss = np.isnan(y)
            if miss.any():
                filled = np.asarray(fn(y.copy(), **options), dtype=np.float64)
                y[miss] = filled[miss]
        return out

    return wrapper


def _hold_ends(t_obs: np.ndarray, y_obs: np.ndarray, T: int, values: np.ndarray) -> np.ndarray:
    """Replace values before the first / after the last observation by that observation."""
    t = np.arange(T)
    values = np.where(t < t_obs[0], y_obs[0], values)
    return np.where(t > t_obs[-1], y_obs[-1], values)


@channelwise
def locf(y: np.ndarray) -> np.ndarray:
    """Last observation carried forward (causal).

    Assumes the signal is locally constant. A missing entry takes the most recent
    observed value, so its fill depends only on the past. The only exception: entries
    before the first observation, which have no past, take the first observed value
    (next observation carried backward). Cost O(T). Needs 1 observation.
    """
    T = y.size
    obs = ~np.isnan(y)
    idx = np.where(obs, np.arange(T), -1)
    idx = np.maximum.accumulate(idx)
    first = int(np.flatnonzero(obs)[0])
    idx = np.where(idx < 0, first, idx)
    return y[idx]


@channelwise
def linear(y: np.ndarray) -> np.ndarray:
    """Linear interpolation between the two observations around each gap (bidirectional).

    Assumes the signal is locally linear across a gap; exact for a linear function. The
    reference of the benchmark's skill score. Cost O(T). Needs 2 observations (1 gives a
    constant).
    """
    t = np.arange(y.size)
    obs = ~np.isnan(y)
    return np.interp(t, t[obs], y[obs])


@channelwise
def pchip(y: np.ndarray) -> np.ndarray:
    """Piecewise cubic Hermite interpolation (``scipy.interpolate.PchipInterpolator``).

    Assumes a smooth, locally monotone signal: the cubic's slopes at the observations are
    shape-preserving (no overshoot between monotone data), so it never rings. Exact for
    a linear function. Cost O(T). Needs 2 observations.
    """
    from scipy.interpolate import PchipInterpolator

    t = np.arange(y.size)
    obs = ~np.isnan(y)
    if obs.sum() < 3:
        return linear(y)
    values = PchipInterpolator(t[obs], y[obs], extrapolate=False)(t)
    return _hold_ends(t[obs], y[obs], y.size, values)


@channelwise
def spline(y: np.ndarray, bc_type: str = "not-a-knot") -> np.ndarray:
    """Cubic spline through every observation (``scipy.interpolate.CubicSpline``).

    Assumes a smooth signal (continuous second derivative); exact for polynomials of
    degree <= 3 with the default not-a-knot ends. Across a long gap it can overshoot
    (it rings where the data turn sharply). Cost O(T) (a banded solve). Needs 4
    observations.

    Args:
        bc_type: scipy's end condition ('not-a-knot', 'natural', 'clamped').
    """
    from scipy.interpolate import CubicSpline

    t = np.arange(y.size)
    obs = ~np.isnan(y)
    values = CubicSpline(t[obs], y[obs], bc_type=bc_type, extrapolate=False)(t)
    return _hold_ends(t[obs], y[obs], y.size, values)


@channelwise
def stl_linear(y: np.ndarray, period: float, robust: bool = True, iterations: int = 2) -> np.ndarray:
    """Seasonal-trend decomposition (statsmodels ``STL``) + linear interpolation of the remainder.

    statsmodels' STL returns all-NaN output for a series with NaN, silently (DESIGN.md,
    "Known traps"), so: fill the gaps linearly, decompose ``y = trend + seasonal +
    remainder`` with ``STL(period=round(period), robust=robust)``, then fill each gap
    with ``trend + seasonal + linear interpolation of the observed remainder``; repeat
    ``iterations`` times, each decomposition starting from the previous fill.

    Assumes a fixed integer-rounded season (CO2: 52 weeks) and a remainder that is
    locally linear across a gap. Cost O(iterations * T) (STL's loess passes; robust
    adds its outer loop). Needs a period >= 2 and at least two full periods of
    observations.

    Args:
        period: the season in steps (rounded to an integer for STL).
        robust: STL's robust (outlier-downweighting) fit.
        iterations: decompose-and-refill passes (>= 1).
    """
    from statsmodels.tsa.seasonal import STL

    t = np.arange(y.size)
    obs = ~np.isnan(y)
    filled = np.interp(t, t[obs], y[obs])
    for _ in range(max(int(iterations), 1)):
        res = STL(filled, period=int(round(period)), robust=robust).fit()
        base = np.asarray(res.trend) + np.asarray(res.seasonal)
        remainder = y - base
        fill = base + np.interp(t, t[obs], remainder[obs])
        filled = np.where(obs, y, fill)
    return filled
