"""The imputation benchmark (issue 10, item 3): every method of ``imputation.METHODS`` on
artificially hidden entries of weekly CO2, monthly sunspots and the book's two synthetic
tasks (:mod:`.imputation_benchmark_data`).

Protocol, per series (:func:`run`):

1. :func:`.imputation_benchmark_data.load`: a training part and a test part (real series:
   chronological split, ``train_fraction``; synthetic: a held-out trajectory). The
   **test part** is imputed and scored; the :class:`~spectral_manifolds.data.real_series.Scaler`
   is fitted on the observed *training* values only (nothing hidden or future leaks).
2. Each mask regime hides entries of the test part (:mod:`spectral_manifolds.imputation.masks`,
   pygrinder, seeded per mask seed): ``mcar10`` / ``mcar30`` / ``mcar50`` (that share of
   the observed entries, scattered), ``gap1`` / ``gap4`` / ``gap16`` / ``gap52``
   (contiguous gaps of that many steps, ``gap_rate`` of the entries in all) and, for CO2
   only, ``real_gaps`` (gap lengths drawn from CO2's 22 real gaps, ``gap_rate``); for
   C > 1 channels, ``block16`` (16-step blocks across all channels, ``gap_rate``).
3. The classical methods (deterministic: one run per mask) fill the scaled test part
   (``fit_impute``; the period of :data:`PERIODS` and ``harmonics`` where a method takes
   them). The learned ones (:data:`.imputation_benchmark_learned.LEARNED`) train once
   per **model seed** on the training part and fill every mask with those weights. A
   method that cannot run on a regime (a ``ValueError``) is skipped, the reason recorded.
4. MAE / RMSE on the hidden entries only, against the truth, in the data's units (ppmv,
   sunspot number); skill = 1 - MAE / MAE(linear) on the same mask; fit seconds.

:func:`summary_rows` gives mean ± std over mask seeds (and model seeds); :func:`verdict_rows`
decides each method against linear interpolation with
:func:`~spectral_manifolds.imputation.metrics.bootstrap_compare`, paired by mask seed (a
learned method's value on a mask is its mean over model seeds; the spread over model
seeds is reported beside it). CO2's 59 real missing weeks have no truth: :func:`real_gap_fill`
fills them for a plot and they are never scored.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spectral_manifolds import report, runtime, validate
from spectral_manifolds.data import real_series
from spectral_manifolds.experiments import imputation_benchmark_data as bdata
from spectral_manifolds.experiments.imputation_benchmark_learned import LEARNED, fit_all
from spectral_manifolds.imputation import CAUSAL, METHODS, fit_impute, masks, metrics

__all__ = [
    "SERIES", "REGIMES", "PERIODS", "LEARNED", "CLASSICAL", "BenchmarkConfig", "BenchmarkResult", "config_for",
    "method_options", "make_mask", "score_one", "run", "summary_rows", "verdict_rows", "real_gap_fill", "n_parameters",
]

SERIES = bdata.SERIES
PERIODS = bdata.PERIODS
REGIMES = ("mcar10", "mcar30", "mcar50", "gap1", "gap4", "gap16", "gap52", "real_gaps", "block16")
CLASSICAL = tuple(m for m in METHODS if m not in LEARNED)
# options each method takes (beyond the series); the rest take none
_PERIODIC = {"kalman": ("period", "harmonics"), "state_space": ("period", "harmonics"),
             "sinusoid": ("period", "harmonics"), "stl_linear": ("period",)}
_HARMONICS = {"co2": 3, "sunspots": 1, "normal_modes": 5, "oscillator": 8}


@dataclass(frozen=True)
class BenchmarkConfig:
    """Sizes of one benchmark run.

    Attributes:
        series: names from :data:`SERIES`.
        regimes: names from :data:`REGIMES` ('real_gaps' applies to CO2 only, 'block16'
            to series with C > 1).
        seeds: mask seeds (>= 2 distinct for a verdict).
        model_seeds: seeds of the learned methods (each trains once per model seed).
        methods: names from ``METHODS``; must include 'linear' (the skill reference).
        gap_rate: share of observed test entries hidden by the gap regimes, in (0, 1).
        train_fraction: chronological split point of the real series, in (0, 1).
        harmonics: series -> harmonics of its period for state-space / sinusoid.
        learned_options: method -> options of its ``fit`` (e.g. epochs, batch_size);
            'manifoldformer' holds both ManifoldFormer methods' options.
        train_steps: the learned methods train on the last ``train_steps`` steps of the
            training part (None: all of it).
        synthetic_steps: (training, test) lengths of the synthetic trajectories.
        workers: processes for the classical methods (one mask per job; 1: in process).
    """

    series: tuple[str, ...] = SERIES
    regimes: tuple[str, ...] = REGIMES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    model_seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] = METHODS
    gap_rate: float = 0.1
    train_fraction: float = 0.7
    harmonics: dict = field(default_factory=lambda: dict(_HARMONICS))
    learned_options: dict = field(default_factory=dict)
    train_steps: int | None = None
    synthetic_steps: tuple[int, int] = (1024, 512)
    workers: int = 1

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
        for name in ("seeds", "model_seeds"):
            v = getattr(self, name)
            if not isinstance(v, tuple) or not v or len(set(v)) != len(v):
                raise ValueError(f"{name} must be a non-empty tuple of distinct integers, got {v!r}")
            for s in v:
                if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                    raise ValueError(f"{name} must be non-negative integers, got {s!r}")
        for name in ("gap_rate", "train_fraction"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {v!r}")
        for s in self.series:
            h = self.harmonics.get(s) if isinstance(self.harmonics, dict) else None
            if isinstance(h, bool) or not isinstance(h, int) or h < 1:
                raise ValueError(f"harmonics[{s!r}] must be a positive integer, got {h!r}")
        if self.train_steps is not None:
            validate.positive_int("train_steps", self.train_steps)
        validate.positive_int("workers", self.workers)


def config_for(budget: str | None = None) -> BenchmarkConfig:
    """Quick or full sizes; ``budget=None`` follows ``runtime.sized``.

    Quick (~1 min on 2 CPU cores): CO2 and sunspots, MCAR 30 %, 16-step gaps and CO2's
    real gap mixture, 3 mask seeds x 2 model seeds, BRITS left out (the slowest fit),
    short training on the last 384 training steps. Full: every series, regime and
    method, 5 mask seeds x 3 model seeds, the learned methods' full epochs in batches
    of 64 windows (the GPU gets whole epochs per step), the classical methods spread
    over the CPU cores (``workers``).
    """
    quick = BenchmarkConfig(
        series=("co2", "sunspots"), regimes=("mcar30", "gap16", "real_gaps"), seeds=(0, 1, 2), model_seeds=(0, 1),
        methods=tuple(m for m in METHODS if m != "brits"), train_steps=384,
        learned_options={"gru": {"epochs": 15}, "bigru": {"epochs": 30}, "saits": {"epochs": 20},
                         "manifoldformer": {"epochs": 15}},
    )
    full = BenchmarkConfig(learned_options={m: {"batch_size": 64} for m in ("gru", "bigru", "saits", "brits", "manifoldformer")},
                           workers=max((os.cpu_count() or 1) - 1, 1))
    return runtime.sized(quick=quick, full=full, budget_name=budget)


@dataclass
class BenchmarkResult:
    """``rows``: one dict per (series, regime, seed, method, model seed) that ran
    (``model_seed`` None for a classical method); ``skipped``: one per combination that
    did not, with its reason; ``parameters``: (series, method) -> count as
    ``"series/method"`` keys; ``config``: the config as a dict."""

    rows: list[dict]
    skipped: list[dict]
    config: dict
    seconds: float
    parameters: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


def method_options(method: str, series: str, harmonics: int) -> dict:
    """The options ``fit_impute`` gets for ``method`` on ``series`` (period, harmonics)."""
    opts = {"period": PERIODS[series], "harmonics": int(harmonics)}
    return {k: opts[k] for k in _PERIODIC.get(method, ())}


def n_parameters(method: str, options: dict) -> int:
    """Fitted parameters of a classical method: 0 for the interpolators; the
    state-space models' variances and AR coefficients (per channel); the sinusoid
    fit's trend, amplitudes and frequencies."""
    if method in ("kalman", "state_space"):
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


def _scores(truth, filled, mask, seconds) -> dict:
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
    return _scores(truth, filled, mask, time.perf_counter() - start)


def _classical_mask(args) -> tuple[list, list, float | None]:
    """Every classical method on one mask: ``(rows, skipped, MAE of linear)`` (a worker's job)."""
    key, data, mask, scaler, classical, harmonics = args
    rows, skipped, ref = [], [], None
    for method in classical:
        try:
            out = score_one(data.truth, mask, method, scaler, observed=data.test, **method_options(method, key["series"], harmonics))
        except ValueError as err:
            skipped.append({**key, "method": method, "reason": str(err)})
            continue
        ref = out["mae"] if method == "linear" else ref
        rows.append({**key, "method": method, "model_seed": None, "causal": method in CAUSAL, **out})
    return rows, skipped, ref


def run(config: BenchmarkConfig | None = None, *, progress: bool = True) -> BenchmarkResult:
    """Run every (series, regime, seed, method[, model seed]) of ``config`` (default: :func:`config_for`).

    With ``workers > 1`` the classical methods run in spawned processes while the learned
    ones train and fill in this one (on the GPU when there is one). Every row's skill
    uses linear interpolation on the same mask.
    """
    import concurrent.futures
    import multiprocessing

    config = config_for() if config is None else config
    start = time.perf_counter()
    methods = ("linear",) + tuple(m for m in config.methods if m != "linear")
    classical = [m for m in methods if m not in LEARNED]
    learned_m = [m for m in methods if m in LEARNED]
    skipped: list[dict] = []
    params: dict = {}
    pending: list = []  # (key, classical result or future, learned rows)
    bar = runtime.progress(total=len(config.series) * (1 + len(config.regimes) * len(config.seeds)), desc="imputation benchmark", disable=not progress)
    pool = (concurrent.futures.ProcessPoolExecutor(config.workers, mp_context=multiprocessing.get_context("spawn"))
            if config.workers > 1 else None)  # spawned, not forked: safe after CUDA is initialised
    try:
        for name in config.series:
            data = bdata.load(name, train_fraction=config.train_fraction, synthetic_steps=config.synthetic_steps)
            scaler = real_series.Scaler.fit(data.train)
            jobs = []
            for regime in config.regimes:
                for seed in config.seeds:
                    key = {"series": name, "regime": regime, "seed": int(seed)}
                    try:
                        if regime == "real_gaps" and name != "co2":
                            raise ValueError("the real gap-length mixture is CO2's; the other series have no real gaps")
                        if regime.startswith("block") and data.n_channels < 2:
                            raise ValueError("blocks across channels need C > 1")
                        jobs.append((key, make_mask(data.test, regime, int(seed), config.gap_rate)))
                    except ValueError as err:
                        skipped += [{**key, "method": m, "reason": f"mask: {err}"} for m in methods]
                        bar.update(1)
            args = [(key, data, mask, scaler, classical, config.harmonics[name]) for key, mask in jobs]
            futures = [pool.submit(_classical_mask, a) if pool else None for a in args]
            train = data.train if config.train_steps is None else data.train[-config.train_steps:]
            fitted = fit_all(scaler.transform(train), learned_m, config.model_seeds, config.learned_options) if learned_m else {}
            params.update({f"{name}/{m}": f["n_params"] for m, f in fitted.items()})
            params.update({f"{name}/{m}": n_parameters(m, method_options(m, name, config.harmonics[name])) for m in classical})
            bar.update(1)
            for (key, mask), a, fut in zip(jobs, args, futures):
                learned_rows = []
                hidden = scaler.transform(np.where(mask, np.nan, data.test))
                for method, f in fitted.items():
                    for ms, fill, secs in zip(config.model_seeds, f["fills"], f["fit_seconds"]):
                        t0 = time.perf_counter()
                        out = _scores(data.truth, scaler.inverse(fill(hidden)), mask, secs + time.perf_counter() - t0)
                        learned_rows.append({**key, "method": method, "model_seed": int(ms), "causal": method in CAUSAL, **out})
                pending.append((fut if fut is not None else _classical_mask(a), learned_rows))
                bar.update(1 if pool is None else 0)
        rows: list[dict] = []
        for done, learned_rows in pending:
            done_rows, failed, ref = done.result() if pool is not None else done
            skipped += failed
            for r in done_rows + learned_rows:
                r["skill"] = float(metrics.skill(r["mae"], ref)) if ref is not None else None
            rows += done_rows + learned_rows
            bar.update(1 if pool is not None else 0)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        bar.close()
    return BenchmarkResult(rows, skipped, dataclasses.asdict(config), time.perf_counter() - start, params)


def real_gap_fill(series: str = "co2", method: str = "state_space", *, harmonics: int = 3, train_fraction: float = 0.7) -> real_series.RealSeries:
    """CO2 with its 59 real missing weeks filled by ``method`` (for a plot; no truth, not scored).

    The series is scaled by a Scaler fitted on the observed training part; observed
    entries are returned bit for bit unchanged.

    Returns:
        a :class:`RealSeries` like :func:`load_co2`'s, ``values`` (2284,) with no NaN.
    """
    validate.choice("series", series, ("co2",))
    validate.choice("method", method, CLASSICAL)
    raw = real_series.load_co2()
    train, _, _ = real_series.chronological_split(raw.values, train_fraction)
    scaler = real_series.Scaler.fit(train)
    filled = scaler.inverse(fit_impute(scaler.transform(raw.values), method, **method_options(method, series, harmonics)))
    values = raw.values.copy()
    values[raw.missing] = filled[raw.missing]
    return dataclasses.replace(raw, values=values)


from spectral_manifolds.experiments.imputation_benchmark_tables import summary_rows, verdict_rows  # noqa: E402  (re-exported)
