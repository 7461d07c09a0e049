"""Structural state-space imputers (statsmodels ``UnobservedComponents``): a causal Kalman
filter and a bidirectional smoother of the same model (issue 10, item 3).

The model, per channel, on the standardised series ``z = (y - mean) / std``::

    z_t = mu_t + gamma_t + a_t + eps_t,          eps_t ~ N(0, s_eps^2)
    mu_{t+1} = mu_t + beta_t + eta_t,            (level; local linear trend if trend)
    beta_{t+1} = beta_t + zeta_t,
    gamma_t = sum_j sum_{k<=h_j} gamma_{j,k,t}   (freq_seasonal: h_j stochastic harmonics
                                                  of each period P_j, Harvey 1989, 3.2)
    a_{t+1} = phi a_t + xi_t                     (AR(p), default p = 1)

State-space models accept NaN directly: the Kalman recursions skip the update at a
missing step. Parameters (the variances and phi) come from maximum likelihood
(``fit(method='lbfgs')``); ``train_end`` restricts that fit -- and the standardisation --
to ``y[:train_end]`` and then runs the filter or smoother of those fixed parameters
over the whole series.

* :func:`kalman` fills a missing ``y_t`` with the filtered signal
  ``E[y_t | y_1..y_{t-1}]`` (**causal** when ``train_end`` is at or before the first
  entry it fills; with ``train_end=None`` the state estimate is causal but the
  parameters have seen the whole series).
* :func:`state_space` fills it with the smoothed signal ``E[y_t | y_1..y_T]``
  (**bidirectional**).

Cost: each likelihood evaluation is one Kalman pass, O(T m^2) for m states
(m = 2 + 2 sum h_j + p); the fit takes tens to hundreds of passes (about 1-2 s for
T = 2800 on one CPU core). Needs at least ``10 + 2 m`` observations.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from spectral_manifolds.imputation.classical import channelwise

__all__ = ["kalman", "state_space", "n_states", "structural_fit"]


def _periods(period, harmonics) -> list[dict]:
    if period is None:
        return []
    periods = [float(p) for p in (period if isinstance(period, (list, tuple, np.ndarray)) else [period])]
    hs = harmonics if isinstance(harmonics, (list, tuple, np.ndarray)) else [harmonics] * len(periods)
    if len(hs) != len(periods):
        raise ValueError(f"harmonics needs one entry per period, got {len(hs)} for {len(periods)}")
    out = []
    for p, h in zip(periods, hs):
        if not p >= 2:
            raise ValueError(f"a seasonal period must be >= 2 steps, got {p!r}")
        h = int(h)
        if not 1 <= h <= int(p // 2):
            raise ValueError(f"harmonics for period {p} must be in 1..{int(p // 2)}, got {h}")
        out.append({"period": p, "harmonics": h})
    return out


def n_states(period=None, harmonics: int | Sequence[int] = 2, ar: int = 1, trend: bool = True) -> int:
    """The state dimension m of the structural model (level, trend, harmonics, AR)."""
    return 1 + int(bool(trend)) + sum(2 * s["harmonics"] for s in _periods(period, harmonics)) + int(ar)


def structural_fit(y: np.ndarray, *, period=None, harmonics=2, ar: int = 1, trend: bool = True, train_end: int | None = None, maxiter: int = 200):
    """Fit the structural model to ``y`` ((T,) float64, NaN allowed) and return
    ``(results, mean, std)``: statsmodels results on the *whole* standardised series
    with the parameters estimated on ``y[:train_end]`` (all of ``y`` when None)."""
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    fit_part = y if train_end is None else y[: int(train_end)]
    mean = float(np.nanmean(fit_part))
    std = float(np.nanstd(fit_part)) or 1.0
    spec = dict(
        level=True,
        trend=bool(trend),
        stochastic_level=True,
        stochastic_trend=bool(trend),
        irregular=True,
        freq_seasonal=_periods(period, harmonics) or None,
        autoregressive=int(ar) if ar else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning / start-parameter notices
        fit_model = UnobservedComponents((fit_part - mean) / std, **spec)
        res = fit_model.fit(method="lbfgs", maxiter=int(maxiter), disp=False)
        if train_end is not None:
            full = UnobservedComponents((y - mean) / std, **spec)
            res = full.smooth(res.params)
    return res, mean, std


@channelwise
def kalman(y: np.ndarray, period=None, harmonics=2, ar: int = 1, trend: bool = True, train_end: int | None = None, maxiter: int = 200) -> np.ndarray:
    """Kalman-filter fill of the structural model (causal: filtered, not smoothed).

    Assumes a local linear trend + stochastic harmonics + AR(p) + white noise (see the
    module docstring). In a gap the forecast runs the state forward without updates:
    the trend continues, the harmonics keep rotating, the AR part decays to 0.

    Args:
        period: seasonal period(s) in steps (float or list; None: no seasonal term).
        harmonics: harmonics per period (int or list).
        ar: AR order of the cycle term (0: none).
        trend: include the stochastic slope.
        train_end: estimate parameters (and the scaling) on ``y[:train_end]`` only.
        maxiter: L-BFGS iterations of the likelihood fit.
    """
    res, mean, std = structural_fit(y, period=period, harmonics=harmonics, ar=ar, trend=trend, train_end=train_end, maxiter=maxiter)
    pred = res.get_prediction(information_set="filtered").predicted_mean
    return np.asarray(pred, dtype=np.float64).ravel() * std + mean


@channelwise
def state_space(y: np.ndarray, period=None, harmonics=2, ar: int = 1, trend: bool = True, train_end: int | None = None, maxiter: int = 200) -> np.ndarray:
    """Kalman-smoother fill of the structural model (bidirectional).

    Same model and options as :func:`kalman`; a missing entry takes the smoothed signal
    ``E[y_t | all observations]``, which bends the fill toward the observations after
    the gap as well as before it.
    """
    res, mean, std = structural_fit(y, period=period, harmonics=harmonics, ar=ar, trend=trend, train_end=train_end, maxiter=maxiter)
    pred = res.get_prediction(information_set="smoothed").predicted_mean
    return np.asarray(pred, dtype=np.float64).ravel() * std + mean
