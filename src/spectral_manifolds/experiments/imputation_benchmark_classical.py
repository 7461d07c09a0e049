"""The classical side of the imputation benchmark (issue 10, item 3): the mask regimes,
scoring on the hidden entries, the options and parameter counts of the classical
methods, and the jobs a worker process runs (:func:`~.imputation_benchmark.run` sends
them to a process pool).

* :func:`classical_job`: every model-free classical method (and the sinusoid fit, whose
  least squares is refitted per mask) on one mask, through ``fit_impute``.
* :func:`structural_fit_job` / :func:`structural_job`: the structural state-space model
  ('kalman', 'state_space'). Its parameters are estimated once per series and channel on
  the scaled **training part** (:func:`spectral_manifolds.imputation.statespace.fit_structural`),
  as the learned methods are trained once; each mask then costs one Kalman filter +
  smoother pass with those parameters, which gives both fills (the filter's for
  'kalman', causal in its parameters too; the smoother's for 'state_space'). Each of the
  two is charged the whole estimation plus the pass as its fit seconds.

Names here are also importable from :mod:`.imputation_benchmark`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.data import real_series
from spectral_manifolds.experiments import imputation_benchmark_data as bdata
from spectral_manifolds.imputation import CAUSAL, METHODS, fit_impute, masks, metrics, statespace

__all__ = ["REGIMES", "STRUCTURAL", "method_options", "n_parameters", "make_mask", "scores", "score_one", "classical_job",
           "structural_fit_job", "structural_job", "real_gap_fill"]

REGIMES = ("mcar10", "mcar30", "mcar50", "gap1", "gap4", "gap16", "gap52", "real_gaps", "block16")
#: The methods of the structural model, fitted once per series on its training part.
STRUCTURAL = ("kalman", "state_space")
# options each method takes (beyond the series); the rest take none
_PERIODIC = {"kalman": ("period", "harmonics"), "state_space": ("period", "harmonics"),
             "sinusoid": ("period", "harmonics"), "stl_linear": ("period",)}


def method_options(method: str, series: str, harmonics: int) -> dict:
    """The options ``fit_impute`` gets for ``method`` on ``series`` (period, harmonics)."""
    opts = {"period": bdata.PERIODS[series], "harmonics": int(harmonics)}
    return {k: opts[k] for k in _PERIODIC.get(method, ())}


def n_parameters(method: str, options: dict) -> int:
    """Fitted parameters of a classical method (one channel): 0 for the interpolators; the
    state-space models' variances and AR coefficients; the sinusoid fit's trend,
    amplitudes and frequencies."""
    if method in STRUCTURAL:
        return 1 + 1 + 1 + 1 + 2  # irregular, level, trend and seasonal variances; AR(1) phi and variance
    if method == "sinusoid":
        return 2 + 2 * int(options.get("harmonics", 1))
    return 0


def make_mask(x: np.ndarray, regime: str, seed: int, gap_rate: float = 0.1) -> np.ndarray:
    """Bool, x's shape, True on the entries ``regime`` hides in ``x`` ((T,) or (T, C), NaN = missing)."""
    validate.choice("regime", regime, REGIMES)
    if regime.startswith("mcar"):
        return masks.mcar_mask(x, int(regime[4:]) / 100.0, seed)
    if regime.startswith("gap"):
        return masks.gap_mask(x, gap_rate, int(regime[3:]), seed)
    if regime.startswith("block"):
        return masks.block_mask(x, gap_rate, int(regime[5:]), seed)
    return masks.real_gap_mask(x, gap_rate, seed)


def scores(truth, filled, mask, seconds) -> dict:
    """MAE / RMSE of ``filled`` against ``truth`` on the hidden entries (``mask``), their count, the seconds."""
    return {"mae": metrics.mae(truth, filled, mask), "rmse": metrics.rmse(truth, filled, mask),
            "n_hidden": int(mask.sum()), "fit_seconds": float(seconds)}


def score_one(truth: np.ndarray, mask: np.ndarray, method: str, scaler: real_series.Scaler | None = None, *, observed: np.ndarray | None = None, **options: Any) -> dict:
    """Hide ``mask`` in ``observed`` (default ``truth``), fill the scaled series with ``method``, score against ``truth``.

    Returns:
        dict with 'mae', 'rmse' (hidden entries only, ``truth``'s units), 'n_hidden',
        'fit_seconds'. Raises ``ValueError`` when the method cannot run.
    """
    truth = np.asarray(truth, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    observed = truth if observed is None else np.asarray(observed, dtype=np.float64)
    hidden = np.where(mask, np.nan, observed)
    if scaler is None:
        scaler = real_series.Scaler.fit(hidden)
    start = time.perf_counter()
    filled = scaler.inverse(fit_impute(scaler.transform(hidden), method, **options))
    return scores(truth, filled, mask, time.perf_counter() - start)


def _row(key: dict, method: str, out: dict) -> dict:
    return {**key, "method": method, "model_seed": None, "causal": method in CAUSAL, **out}


def classical_job(args) -> tuple[list, list, float | None]:
    """``(key, data, mask, scaler, methods, harmonics)`` -> ``(rows, skipped, MAE of linear)``:
    each of ``methods`` (fit on the masked test part itself) on one mask."""
    key, data, mask, scaler, methods, harmonics = args
    rows, skipped, ref = [], [], None
    for method in methods:
        try:
            out = score_one(data.truth, mask, method, scaler, observed=data.test, **method_options(method, key["series"], harmonics))
        except ValueError as err:
            skipped.append({**key, "method": method, "reason": str(err)})
            continue
        ref = out["mae"] if method == "linear" else ref
        rows.append(_row(key, method, out))
    return rows, skipped, ref


def structural_fit_job(args) -> statespace.StructuralFit:
    """``(train, options)`` -> the structural model fitted on ``train`` ((T,) or (T, C), scaled);
    ``options``: ``method_options('state_space', ...)``."""
    train, options = args
    return statespace.fit_structural(train, **options)


def structural_job(args) -> tuple[list, list]:
    """``(key, data, mask, scaler, fit, methods)`` -> ``(rows, skipped)``: the ``methods`` of
    :data:`STRUCTURAL` on one mask from one filter + smoother pass of ``fit``."""
    key, data, mask, scaler, fit, methods = args
    start = time.perf_counter()
    try:
        filtered, smoothed = fit.fills(scaler.transform(np.where(mask, np.nan, data.test)))
    except ValueError as err:
        return [], [{**key, "method": m, "reason": str(err)} for m in methods]
    seconds = fit.fit_seconds + time.perf_counter() - start
    fills = {"kalman": filtered, "state_space": smoothed}
    return [_row(key, m, scores(data.truth, scaler.inverse(fills[m]), mask, seconds)) for m in methods], []


def real_gap_fill(series: str = "co2", method: str = "state_space", *, harmonics: int = 3, train_fraction: float = 0.7) -> real_series.RealSeries:
    """CO2 with its 59 real missing weeks filled by ``method`` (for a plot; no truth, not scored).

    The series is scaled by a Scaler fitted on the observed training part; observed
    entries are returned bit for bit unchanged.

    Returns:
        a :class:`RealSeries` like :func:`load_co2`'s, ``values`` (2284,) with no NaN.
    """
    from spectral_manifolds.experiments.imputation_benchmark_learned import LEARNED

    validate.choice("series", series, ("co2",))
    validate.choice("method", method, tuple(m for m in METHODS if m not in LEARNED))
    raw = real_series.load_co2()
    train, _, _ = real_series.chronological_split(raw.values, train_fraction)
    scaler = real_series.Scaler.fit(train)
    filled = scaler.inverse(fit_impute(scaler.transform(raw.values), method, **method_options(method, series, harmonics)))
    values = raw.values.copy()
    values[raw.missing] = filled[raw.missing]
    return dataclasses.replace(raw, values=values)
