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
   (the period of :data:`PERIODS` and ``harmonics`` where a method takes them): the
   model-free ones and the sinusoid fit on each masked test part itself (``fit_impute``);
   the structural state-space model ('kalman', 'state_space') is fitted once per series
   on the training part and filters / smooths every mask with those parameters
   (:mod:`.imputation_benchmark_classical`). The learned ones
   (:data:`.imputation_benchmark_learned.LEARNED`) train once per **model seed** on the
   training part and fill all masks of a series with those weights in one batched pass. A
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

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.data import real_series
from spectral_manifolds.experiments import imputation_benchmark_data as bdata
from spectral_manifolds.experiments.imputation_benchmark_classical import (  # noqa: F401  (re-exported)
    REGIMES, STRUCTURAL, classical_job, make_mask, method_options, n_parameters, real_gap_fill, score_one, scores,
    structural_fit_job, structural_job)
from spectral_manifolds.experiments import imputation_benchmark_learned as ibl
from spectral_manifolds.experiments.imputation_benchmark_learned import LEARNED
from spectral_manifolds.imputation import METHODS, metrics
from spectral_manifolds.imputation.statespace import StructuralFit

__all__ = [
    "SERIES", "REGIMES", "PERIODS", "LEARNED", "CLASSICAL", "BenchmarkConfig", "BenchmarkResult", "config_for",
    "method_options", "make_mask", "score_one", "run", "summary_rows", "verdict_rows", "real_gap_fill", "n_parameters",
]

SERIES = bdata.SERIES
PERIODS = bdata.PERIODS
CLASSICAL = tuple(m for m in METHODS if m not in LEARNED)
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
        learned_workers: processes that train the learned methods, one (series, method)
            job each (:func:`.imputation_benchmark_learned.groups`), beside each other on
            the one GPU (1: in process, one after another).
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
    learned_workers: int = 1

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
        validate.positive_int("learned_workers", self.learned_workers)


def config_for(budget: str | None = None) -> BenchmarkConfig:
    """Quick or full sizes; ``budget=None`` follows ``runtime.sized``.

    Quick (~1 min on 2 CPU cores): CO2 and sunspots, MCAR 30 %, 16-step gaps and CO2's
    real gap mixture, 3 mask seeds x 2 model seeds, BRITS left out (the slowest fit),
    short training on the last 384 training steps. Full: every series, regime and
    method, 5 mask seeds x 3 model seeds, the learned methods on the last 1536 training
    steps (all of the synthetic tasks'; CO2 and sunspots then have equally many windows
    and their ManifoldFormers share one compiled train step), each epoch one batch of
    every window (the GPU gets whole epochs per step; SAITS and BRITS at 64 windows per
    batch left a remnant batch of 2 or 18 windows that cost a full step), BRITS at 50
    epochs with a step size of 0.01 (as good as 100 epochs at 0.003 in batches of 64, a
    quarter of its steps: measured on CO2 and sunspots), the classical methods over at
    most 6 CPU processes (``workers``), the learned methods' (series, method) jobs in up to
    6 processes beside each other on the GPU (``learned_workers``; the models are small,
    so one alone leaves the GPU mostly idle: measured on the H200, one series' learned
    fits take about 260 s one after another).
    """
    quick = BenchmarkConfig(
        series=("co2", "sunspots"), regimes=("mcar30", "gap16", "real_gaps"), seeds=(0, 1, 2), model_seeds=(0, 1),
        methods=tuple(m for m in METHODS if m != "brits"), train_steps=384,
        learned_options={"gru": {"epochs": 15}, "bigru": {"epochs": 30}, "saits": {"epochs": 20},
                         "manifoldformer": {"epochs": 15}},
    )
    full = BenchmarkConfig(
        train_steps=1536, workers=min(max((os.cpu_count() or 1) - 1, 1), 6),
        learned_workers=min(max((os.cpu_count() or 1) // 2, 1), 6),
        learned_options={"gru": {"batch_size": 128}, "bigru": {"batch_size": 128}, "saits": {"batch_size": 128},
                         "brits": {"batch_size": 128, "epochs": 50, "lr": 1e-2}, "manifoldformer": {"batch_size": 128}},
    )
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


class _Done:
    """A finished result with a future's ``result()`` (the in-process path of :func:`run`)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _masks(name: str, data: bdata.BenchmarkSeries, config: BenchmarkConfig, methods) -> tuple[list, list]:
    """``([(key, mask)], skipped)``: the masks of ``config``'s regimes and seeds on one series."""
    jobs, skipped = [], []
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
    return jobs, skipped


def _pool(workers: int, **kwargs):
    """A spawned process pool of ``workers`` (spawned, not forked: safe after CUDA is initialised), or None for 1."""
    import concurrent.futures
    import multiprocessing

    if workers < 2:
        return None
    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), **kwargs)


def _submitter(pool):
    """``submit(fn, arg)``: to ``pool``, or run now in this process when ``pool`` is None."""
    return (lambda fn, a: pool.submit(fn, a)) if pool is not None else (lambda fn, a: _Done(fn(a)))  # noqa: E731


def run(config: BenchmarkConfig | None = None, *, progress: bool = True) -> BenchmarkResult:
    """Run every (series, regime, seed, method[, model seed]) of ``config`` (default: :func:`config_for`).

    With ``workers > 1`` the classical methods run in spawned processes, and with
    ``learned_workers > 1`` so do the learned ones (one job per series and method, on
    the GPU when there is one): first every series' structural-model fits, model-free
    jobs and learned jobs are handed out, then each series' structural filter / smoother
    jobs follow its fit. Every row's skill uses linear interpolation on the same mask.
    """
    config = config_for() if config is None else config
    start = time.perf_counter()
    methods = ("linear",) + tuple(m for m in config.methods if m != "linear")
    structural = [m for m in methods if m in STRUCTURAL]
    simple = [m for m in methods if m not in LEARNED and m not in STRUCTURAL]
    learned_m = [m for m in methods if m in LEARNED]
    skipped: list[dict] = []
    params: dict = {}
    pool = _pool(config.workers)
    threads = max((os.cpu_count() or 1) // max(config.workers + config.learned_workers, 1), 1)
    learned_pool = _pool(config.learned_workers if learned_m else 1, initializer=ibl.worker_init, initargs=(threads,))
    submit, submit_learned = _submitter(pool), _submitter(learned_pool)
    series = []
    for name in config.series:
        data = bdata.load(name, train_fraction=config.train_fraction, synthetic_steps=config.synthetic_steps)
        jobs, bad = _masks(name, data, config, methods)
        skipped += bad
        series.append((name, data, real_series.Scaler.fit(data.train), jobs))
    bar = runtime.progress(total=sum(1 + len(j) for *_, j in series), desc="imputation benchmark", disable=not progress)
    try:
        fits = {}  # the structural model first: its mask jobs wait for it
        for name, data, scaler, jobs in series:
            if structural and jobs:
                z = scaler.transform(data.train)
                z = z[:, None] if z.ndim == 1 else z
                opts = method_options("state_space", name, config.harmonics[name])
                fits[name] = [submit(structural_fit_job, (z[:, c], opts)) for c in range(z.shape[1])]
        simple_jobs = {name: [submit(classical_job, (key, data, mask, scaler, simple, config.harmonics[name])) for key, mask in jobs]
                       for name, data, scaler, jobs in series}
        learned_jobs: dict = {}  # series -> {group: future}, the costliest groups of every series first
        for group in ibl.groups(learned_m):
            for name, data, scaler, jobs in series:
                if jobs:
                    train = data.train if config.train_steps is None else data.train[-config.train_steps:]
                    arg = (data, scaler, scaler.transform(train), jobs, group, config.model_seeds, config.learned_options)
                    learned_jobs.setdefault(name, {})[group] = submit_learned(ibl.learned_job, arg)
        structural_jobs = {}
        for name, data, scaler, jobs in series:
            params.update({f"{name}/{m}": n_parameters(m, method_options(m, name, config.harmonics[name])) * data.n_channels for m in simple})
            if name in fits:
                try:
                    fit = StructuralFit.stack([f.result() for f in fits[name]])
                except ValueError as err:
                    skipped += [{**key, "method": m, "reason": str(err)} for key, _ in jobs for m in structural]
                else:
                    params.update({f"{name}/{m}": fit.n_params for m in structural})
                    structural_jobs[name] = [submit(structural_job, (key, data, mask, scaler, fit, structural)) for key, mask in jobs]
        rows: list[dict] = []
        for name, data, scaler, jobs in series:
            by_key = {}
            by_group = learned_jobs.get(name, {})
            for group in sorted(by_group, key=lambda g: learned_m.index(g[0])):  # rows in the config's method order
                group_rows, group_params = by_group[group].result()
                params.update({f"{name}/{m}": n for m, n in group_params.items()})
                for r in group_rows:
                    by_key.setdefault((r["regime"], r["seed"]), []).append(r)
            bar.update(1)
            for i, (key, _) in enumerate(jobs):
                done, failed, ref = simple_jobs[name][i].result()
                more, failed2 = structural_jobs[name][i].result() if name in structural_jobs else ([], [])
                skipped += failed + failed2
                mask_rows = done + more + by_key.get((key["regime"], key["seed"]), [])
                for r in mask_rows:
                    r["skill"] = float(metrics.skill(r["mae"], ref)) if ref is not None else None
                rows += mask_rows
                bar.update(1)
    finally:
        for p in (pool, learned_pool):
            if p is not None:
                p.shutdown(cancel_futures=True)
        bar.close()
    return BenchmarkResult(rows, skipped, dataclasses.asdict(config), time.perf_counter() - start, params)


from spectral_manifolds.experiments.imputation_benchmark_tables import summary_rows, verdict_rows  # noqa: E402  (re-exported)
