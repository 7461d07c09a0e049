"""The imputation benchmark on real series (issue 10, item 3): classical methods on
artificially hidden entries of weekly CO2 and monthly sunspots.

Protocol, per series (:func:`run`):

1. :func:`~spectral_manifolds.data.real_series.chronological_split` (``train_fraction``);
   the **test part** is imputed and scored, the :class:`~spectral_manifolds.data.real_series.Scaler`
   is fitted on the observed *training* values only (nothing hidden or future leaks).
2. Each mask regime hides entries of the test part (:mod:`spectral_manifolds.imputation.masks`,
   pygrinder, seeded per mask seed): ``mcar10`` / ``mcar30`` / ``mcar50`` (that share of
   the observed entries, scattered), ``gap1`` / ``gap4`` / ``gap16`` / ``gap52``
   (contiguous gaps of that many steps, ``gap_rate`` of the entries in all) and, for CO2
   only, ``real_gaps`` (gap lengths drawn from CO2's 22 real gaps, ``gap_rate``).
3. Each method of :data:`spectral_manifolds.imputation.METHODS` fills the scaled series
   (``fit_impute``; CO2: period 52.18 weeks, sunspots: period 132 months, with
   ``harmonics`` where a method takes them); a method that cannot run on a regime
   (too few observations, a ``ValueError``) is skipped and the reason recorded.
4. MAE / RMSE on the hidden entries only, back in the data's units (ppmv, sunspot
   number); skill = 1 - MAE / MAE(linear) on the same mask; fit seconds.

:func:`summary_rows` gives mean ± std over mask seeds; :func:`verdict_rows` decides each
method against linear interpolation with :func:`~spectral_manifolds.imputation.metrics.bootstrap_compare`
(paired by mask seed). CO2's 59 real missing weeks have no truth: :func:`real_gap_fill`
fills them for a plot and they are never scored.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spectral_manifolds import report, runtime, validate
from spectral_manifolds.data import real_series
from spectral_manifolds.imputation import CAUSAL, METHODS, fit_impute, masks, metrics

__all__ = [
    "SERIES", "REGIMES", "PERIODS", "BenchmarkConfig", "BenchmarkResult", "config_for",
    "method_options", "make_mask", "score_one", "run", "summary_rows", "verdict_rows", "real_gap_fill",
]

SERIES = ("co2", "sunspots")
REGIMES = ("mcar10", "mcar30", "mcar50", "gap1", "gap4", "gap16", "gap52", "real_gaps")
#: Period in steps a periodic method uses: CO2 weekly (365.25 / 7), sunspots monthly (~11 y).
PERIODS = {"co2": 52.18, "sunspots": 132.0}
_LOADERS = {"co2": real_series.load_co2, "sunspots": real_series.load_sunspots}
# options each method takes (beyond the series); the rest take none
_PERIODIC = {"kalman": ("period", "harmonics"), "state_space": ("period", "harmonics"),
             "sinusoid": ("period", "harmonics"), "stl_linear": ("period",)}


@dataclass(frozen=True)
class BenchmarkConfig:
    """Sizes of one benchmark run.

    Attributes:
        series: names from :data:`SERIES`.
        regimes: names from :data:`REGIMES` ('real_gaps' applies to CO2 only).
        seeds: mask seeds (>= 2 distinct for a verdict).
        methods: names from ``METHODS``; must include 'linear' (the skill reference).
        gap_rate: share of observed test entries hidden by the gap regimes, in (0, 1).
        train_fraction: chronological split point, in (0, 1).
        harmonics: series -> harmonics of its period for state-space / sinusoid.
    """

    series: tuple[str, ...] = SERIES
    regimes: tuple[str, ...] = REGIMES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    methods: tuple[str, ...] = METHODS
    gap_rate: float = 0.1
    train_fraction: float = 0.7
    harmonics: dict = field(default_factory=lambda: {"co2": 3, "sunspots": 1})

    def __post_init__(self) -> None:
        for name, values, allowed in (("series", self.series, SERIES), ("regimes", self.regimes, REGIMES), ("methods", self.methods, METHODS)):
            if not isinstance(values, tuple) or not values:
                raise ValueError(f"{name} must be a non-empty tuple, got {values!r}")
            for v in values:
                validate.choice(name, v, allowed)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} has duplicates: {values!r}")
        if "linear" not in self.methods:
            raise ValueError("methods must include 'linear', the reference of skill and verdicts")
        if not isinstance(self.seeds, tuple) or not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be a non-empty tuple of distinct integers, got {self.seeds!r}")
        for s in self.seeds:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                raise ValueError(f"seeds must be non-negative integers, got {s!r}")
        for name in ("gap_rate", "train_fraction"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {v!r}")
        for s in self.series:
            h = self.harmonics.get(s) if isinstance(self.harmonics, dict) else None
            if isinstance(h, bool) or not isinstance(h, int) or h < 1:
                raise ValueError(f"harmonics[{s!r}] must be a positive integer, got {h!r}")


def config_for(budget: str | None = None) -> BenchmarkConfig:
    """Quick (MCAR 30 % and the real gap mixture, 2 mask seeds, ~20 s on 2 CPU cores) or full (every regime,
    5 mask seeds) sizes; ``budget=None`` follows ``runtime.sized``."""
    quick = BenchmarkConfig(regimes=("mcar30", "real_gaps"), seeds=(0, 1))
    full = BenchmarkConfig()
    return runtime.sized(quick=quick, full=full, budget_name=budget)


@dataclass
class BenchmarkResult:
    """``rows``: one dict per (series, regime, seed, method) that ran; ``skipped``: one
    per combination that did not, with its reason; ``config``: the config as a dict."""

    rows: list[dict]
    skipped: list[dict]
    config: dict
    seconds: float

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


def method_options(method: str, series: str, harmonics: int) -> dict:
    """The options ``fit_impute`` gets for ``method`` on ``series`` (period, harmonics)."""
    opts = {"period": PERIODS[series], "harmonics": int(harmonics)}
    return {k: opts[k] for k in _PERIODIC.get(method, ())}


def make_mask(x: np.ndarray, regime: str, seed: int, gap_rate: float = 0.1) -> np.ndarray:
    """(T,) bool, True on the entries ``regime`` hides in ``x`` ((T,), NaN = missing)."""
    validate.choice("regime", regime, REGIMES)
    if regime.startswith("mcar"):
        return masks.mcar_mask(x, int(regime[4:]) / 100.0, seed)
    if regime.startswith("gap"):
        return masks.gap_mask(x, gap_rate, int(regime[3:]), seed)
    return masks.real_gap_mask(x, gap_rate, seed)


def score_one(truth: np.ndarray, mask: np.ndarray, method: str, scaler: real_series.Scaler | None = None, **options: Any) -> dict:
    """Hide ``mask`` in ``truth`` ((T,)), fill the scaled series with ``method``, score it.

    Returns:
        dict with 'mae', 'rmse' (hidden entries only, ``truth``'s units), 'n_hidden',
        'fit_seconds'. Raises ``ValueError`` when the method cannot run.
    """
    truth = np.asarray(truth, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if scaler is None:
        scaler = real_series.Scaler.fit(np.where(mask, np.nan, truth))
    hidden = np.where(mask, np.nan, truth)
    start = time.perf_counter()
    filled = scaler.inverse(fit_impute(scaler.transform(hidden), method, **options))
    seconds = time.perf_counter() - start
    return {"mae": metrics.mae(truth, filled, mask), "rmse": metrics.rmse(truth, filled, mask),
            "n_hidden": int(mask.sum()), "fit_seconds": float(seconds)}


def run(config: BenchmarkConfig | None = None, *, progress: bool = True) -> BenchmarkResult:
    """Run every (series, regime, seed, method) of ``config`` (default: :func:`config_for`).

    Linear interpolation runs first on each mask so every row carries its skill.
    """
    config = config_for() if config is None else config
    start = time.perf_counter()
    methods = ("linear",) + tuple(m for m in config.methods if m != "linear")
    jobs = [(s, r, k) for s in config.series for r in config.regimes for k in config.seeds]
    rows: list[dict] = []
    skipped: list[dict] = []
    data = {}
    for name in config.series:
        train, test, split = real_series.chronological_split(_LOADERS[name]().values, config.train_fraction)
        data[name] = (test, real_series.Scaler.fit(train))
    bar = runtime.progress(total=len(jobs) * len(methods), desc="imputation benchmark", disable=not progress)
    for name, regime, seed in jobs:
        key = {"series": name, "regime": regime, "seed": int(seed)}
        test, scaler = data[name]
        try:
            if regime == "real_gaps" and name != "co2":
                raise ValueError("the real gap-length mixture is CO2's; sunspots have no real gaps")
            mask = make_mask(test, regime, int(seed), config.gap_rate)
        except ValueError as err:
            skipped += [{**key, "method": m, "reason": f"mask: {err}"} for m in methods]
            bar.update(len(methods))
            continue
        ref = None
        for method in methods:
            try:
                out = score_one(test, mask, method, scaler, **method_options(method, name, config.harmonics[name]))
            except ValueError as err:
                skipped.append({**key, "method": method, "reason": str(err)})
            else:
                if method == "linear":
                    ref = out["mae"]
                out["skill"] = float(metrics.skill(out["mae"], ref)) if ref is not None else None
                rows.append({**key, "method": method, "causal": method in CAUSAL, **out})
            bar.update(1)
    bar.close()
    return BenchmarkResult(rows, skipped, dataclasses.asdict(config), time.perf_counter() - start)


def _groups(result: BenchmarkResult) -> dict:
    groups: dict = {}
    for row in result.rows:
        groups.setdefault((row["series"], row["regime"], row["method"]), {})[row["seed"]] = row
    return groups


def summary_rows(result: BenchmarkResult) -> list[dict]:
    """Mean ± std over mask seeds per series × regime × method (strings from
    ``report.mean_std``), with 'direction' causal / bidirectional and the seed count."""
    out = []
    for (name, regime, method), by_seed in _groups(result).items():
        rs = [by_seed[k] for k in sorted(by_seed)]
        skills = [r["skill"] for r in rs if r["skill"] is not None]
        out.append({
            "series": name, "regime": regime, "method": method,
            "direction": "causal" if method in CAUSAL else "bidirectional", "seeds": len(rs),
            "MAE": report.mean_std([r["mae"] for r in rs]), "RMSE": report.mean_std([r["rmse"] for r in rs]),
            "skill": report.mean_std(skills) if skills else "—",
            "fit s": report.mean_std([r["fit_seconds"] for r in rs], sig=1),
            "MAE mean": float(np.mean([r["mae"] for r in rs])),
        })
    return out


def verdict_rows(result: BenchmarkResult, *, n_boot: int = 10_000) -> list[dict]:
    """Each method against linear per series × regime: the paired bootstrap
    (:func:`metrics.bootstrap_compare` on MAE, paired by mask seed) says wins / loses / tie.
    Needs >= 2 seeds on which both ran; other groups are left out."""
    groups = _groups(result)
    out = []
    for (name, regime, method), by_seed in groups.items():
        ref = groups.get((name, regime, "linear"), {})
        seeds = sorted(set(by_seed) & set(ref))
        if method == "linear" or len(seeds) < 2:
            continue
        cmp = metrics.bootstrap_compare([by_seed[k]["mae"] for k in seeds], [ref[k]["mae"] for k in seeds], n_boot=n_boot)
        out.append({"series": name, "regime": regime, "method": method,
                    "direction": "causal" if method in CAUSAL else "bidirectional", "seeds": len(seeds),
                    "MAE diff vs linear (95 % CI)": f"{report.mean_std(cmp.diff)} {cmp.interval}",
                    "vs linear": cmp.verdict, "t verdict": cmp.t_verdict})
    return out


def real_gap_fill(series: str = "co2", method: str = "state_space", *, harmonics: int = 3, train_fraction: float = 0.7) -> real_series.RealSeries:
    """CO2 with its 59 real missing weeks filled by ``method`` (for a plot; no truth, not scored).

    The series is scaled by a Scaler fitted on the observed training part; observed
    entries are returned bit for bit unchanged.

    Returns:
        a :class:`RealSeries` like :func:`load_co2`'s, ``values`` (2284,) with no NaN.
    """
    validate.choice("series", series, ("co2",))
    validate.choice("method", method, METHODS)
    raw = _LOADERS[series]()
    train, _, _ = real_series.chronological_split(raw.values, train_fraction)
    scaler = real_series.Scaler.fit(train)
    filled = scaler.inverse(fit_impute(scaler.transform(raw.values), method, **method_options(method, series, harmonics)))
    values = raw.values.copy()
    values[raw.missing] = filled[raw.missing]
    return dataclasses.replace(raw, values=values)
