"""Chapter 7's seed runs: run them over seeds, decide every claim, tabulate seed vs ours.

The runs, the seed's numbers and its claims are defined in
:mod:`spectral_manifolds.experiments.ladder.seed_runs` (re-exported here). This module

* runs them (:func:`run_all`: every random seed of one configuration trained together by
  :func:`spectral_manifolds.experiments.ladder.run_seeds`, one :class:`StepCache` per call);
* decides each claim with :func:`spectral_manifolds.report.compare` from the per-seed
  values, paired by seed (:func:`check`), and a run from its claims (:func:`verdict`);
* builds the chapter's tables as pandas DataFrames (:mod:`spectral_manifolds.report`).

**How a claim becomes a paired comparison** (the rule itself is ``report.RULE``):

* ``falls`` -- "last epoch beats epoch 1" (lower is better); ``rises`` -- the same with
  higher is better;
* ``below`` -- "this run's metric beats the other run's" (lower is better);
* ``not_falls`` -- "last + tol beats epoch 1" (higher is better): the last epoch stays
  above the first minus ``tol``;
* ``flat`` -- two one-sided claims, "last + m beats first" (higher) and "last - m beats
  first" (lower) with ``m = tol |mean first|``: reproduced when both are, not reproduced
  when either is not (an equivalence test);
* ``monotone`` -- "epoch e beats epoch e - 1" for every e >= 2, combined the same way.

A run gets its claims' verdict when they all share one (reproduced, not reproduced or
inconclusive) and **mixed** otherwise (the claim table shows which claim decides what).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Sequence

import numpy as np

from spectral_manifolds import report, runtime
from spectral_manifolds.experiments.ladder import MAIN_TASK, Result, Scale, StepCache, run_seeds
from spectral_manifolds.experiments.ladder.seed_runs import (
    ALL_RUNS,
    EXPERIMENTS,
    PATCHES,
    SECTION_14,
    TOLERANCE_FLAT,
    TOLERANCE_ORACLE,
    Claim,
    SeedRun,
)

__all__ = [
    "Claim", "SeedRun", "PATCHES", "SECTION_14", "EXPERIMENTS", "ALL_RUNS", "TOLERANCE_ORACLE", "TOLERANCE_FLAT",
    "MIXED", "run_all", "per_seed", "mean_curve", "our_last", "seed_last", "check", "verdict", "claims_table",
    "patch_table", "section14_table", "experiment_table", "summary_frame", "sampling_table", "untrained_table",
    "calibration_table",
]

#: A run whose claims are neither all reproduced nor all not reproduced.
MIXED = "mixed"


# --------------------------------------------------------------------------- running
def run_all(
    scale: Scale, keys: Optional[Sequence[str]] = None, seeds: Optional[int] = None, *, progress: bool = True,
    cache: Optional[StepCache] = None,
) -> dict[str, list[Result]]:
    """Run the seed runs ``keys`` (default: all) at ``scale`` for seeds ``0 .. seeds-1``
    (default ``scale.seeds``), each configuration's seeds in one vmapped step; runs on one
    task share one compiled step of ``cache`` (default: a fresh :class:`StepCache`).

    Returns:
        key -> list of :class:`Result`, one per seed, in seed order.
    """
    seeds = scale.seeds if seeds is None else seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 2:
        raise ValueError(f"a verdict needs seeds >= 2, got {seeds!r}")
    keys = list(ALL_RUNS) if keys is None else list(keys)
    unknown = [k for k in keys if k not in ALL_RUNS]
    if unknown:
        raise KeyError(f"unknown seed runs {unknown}; known: {list(ALL_RUNS)}")
    cache = StepCache() if cache is None else cache
    it = runtime.progress(keys, desc=f"seed runs ({seeds} seeds each)", unit="run") if progress else keys
    out: dict[str, list[Result]] = {}
    for key in it:
        r = ALL_RUNS[key]
        out[key] = run_seeds(scale.apply(r.config, ablation=r.ablation), range(seeds), cache=cache)
    return out


# --------------------------------------------------------------------------- values
def per_seed(results: Mapping[str, Sequence[Result]], key: str, metric: str, epoch: int = -1) -> np.ndarray:
    """(seeds,) ``metric`` of run ``key`` at ``epoch`` (0 before training, -1 the last)."""
    return np.asarray([r.history[metric][epoch] for r in results[key]], dtype=float)


def mean_curve(results: Sequence[Result], metric: str) -> np.ndarray:
    """(epochs + 1,) mean over seeds of ``history[metric]`` (index 0 = before training)."""
    return np.mean([r.history[metric] for r in results], axis=0)


def our_last(results: Mapping[str, Sequence[Result]], key: str, metric: str) -> float:
    """Our last-epoch value of ``metric`` for run ``key``, mean over seeds."""
    return float(np.mean(per_seed(results, key, metric)))


def seed_last(key: str, metric: str) -> Optional[float]:
    """The seed's number for ``metric`` at the last epoch it reports for run ``key`` (None if none)."""
    s = ALL_RUNS[key].seed.get(metric, {})
    return float(s[max(s)]) if s else None


# --------------------------------------------------------------------------- verdicts
def _combine(parts: Sequence[report.Comparison]) -> report.Comparison:
    """All parts reproduced -> reproduced; any not reproduced -> not reproduced (that part
    is returned); else inconclusive. Returns the deciding comparison."""
    failing = [c for c in parts if c.verdict == report.NOT_REPRODUCED]
    if failing:
        return min(failing, key=lambda c: c.high)
    return min(parts, key=lambda c: c.low)  # the weakest part: reproduced only if all are


def check(claim: Claim, results: Mapping[str, Sequence[Result]]) -> tuple[report.Comparison, str, str]:
    """Decide ``claim`` from the per-seed values of ``results`` (key -> results per seed).

    Returns:
        ``(comparison, a_name, b_name)``: the deciding :class:`report.Comparison` (its
        ``verdict`` is the claim's) and the names of its two sides.
    """
    c = claim
    if c.kind == "below":
        om = c.other_metric or c.metric
        a, b = per_seed(results, c.run, c.metric, c.epoch), per_seed(results, c.other, om, c.other_epoch)
        ep = lambda e: "last" if e == -1 else f"epoch {e}"  # noqa: E731
        return report.compare(a, b), f"{c.run} {c.metric} ({ep(c.epoch)})", f"{c.other} {om} ({ep(c.other_epoch)})"
    first, last = per_seed(results, c.run, c.metric, 1), per_seed(results, c.run, c.metric, -1)
    if c.kind == "falls":
        return report.compare(last, first), "last epoch", "epoch 1"
    if c.kind == "rises":
        return report.compare(last, first, lower_is_better=False), "last epoch", "epoch 1"
    if c.kind == "not_falls":
        return report.compare(last + c.tol, first, lower_is_better=False), f"last + {c.tol:g}", "epoch 1"
    if c.kind == "flat":
        m = c.tol * abs(float(np.mean(first)))
        parts = [report.compare(last + m, first, lower_is_better=False), report.compare(last - m, first)]
        return _combine(parts), f"last ± {m:.3g} ({c.tol:.0%})", "epoch 1"
    curve = np.asarray([r.history[c.metric] for r in results[c.run]], dtype=float)  # monotone: (seeds, epochs + 1)
    parts = [report.compare(curve[:, e], curve[:, e - 1]) for e in range(2, curve.shape[1])]
    return _combine(parts), "each epoch", "the epoch before"


def verdict(seed_run: SeedRun, results: Mapping[str, Sequence[Result]]) -> tuple[str, dict[str, int]]:
    """A run's verdict from its claims: ``(verdict, counts)``.

    ``verdict`` is the claims' verdict when they all share one (reproduced, not
    reproduced or inconclusive), :data:`MIXED` otherwise, and
    ``"(control)"`` for a run without claims; ``counts`` maps each claim verdict to how
    many claims got it.
    """
    if not seed_run.claims:
        return "(control)", {}
    got = [check(c, results)[0].verdict for c in seed_run.claims]
    counts = {v: got.count(v) for v in report.VERDICTS if v in got}
    if len(set(got)) == 1:  # every claim got the same verdict
        return got[0], counts
    return MIXED, counts


# --------------------------------------------------------------------------- tables
def _seed_figure(sr: SeedRun, metric: str) -> str:
    s = sr.seed.get(metric, {})
    if not s:
        return "—"
    epochs = sorted(s)
    if len(epochs) == 1:
        return f"{s[epochs[0]]:.4g} (ep {epochs[0]})"
    return f"{s[epochs[0]]:.4g} → {s[epochs[-1]]:.4g}"


def claims_table(results: Mapping[str, Sequence[Result]], keys: Optional[Sequence[str]] = None):
    """A verdict DataFrame (``report.verdict_table``): one row per claim of the runs ``keys``."""
    keys = [k for k in (keys or ALL_RUNS) if k in results]
    rows = []
    for key in keys:
        sr = ALL_RUNS[key]
        for c in sr.claims:
            comparison, a_name, b_name = check(c, results)
            row = report.verdict_row(f"{key}: {c.text}", comparison, seed_figure=_seed_figure(sr, c.metric), a_name=a_name, b_name=b_name, metric=c.metric)
            rows.append(row)
    return report.verdict_table(rows)


def _ours(results, key: str, metric: str, epoch: int = -1) -> str:
    return report.mean_std(per_seed(results, key, metric, epoch))


def patch_table(results: Mapping[str, Sequence[Result]]):
    """One row per patch: the seed's last-epoch MSE, spectral and loss beside ours (mean ± std)."""
    rows = []
    for key, sr in PATCHES.items():
        if key not in results:
            continue
        row = {"patch": key, "what": sr.title}
        for metric, label in (("pred_mse", "MSE"), ("fidelity", "spectral"), ("objective", "loss")):
            v = seed_last(key, metric)
            row[f"seed {label}"] = "—" if v is None else f"{v:.4g}"
            row[f"our {label}"] = _ours(results, key, metric)
        row["verdict"] = verdict(sr, results)[0]
        rows.append(row)
    return report.table(rows, index="patch")


def section14_table(results: Mapping[str, Sequence[Result]], keys: Sequence[str] = ("12", "14")):
    """Seed vs ours (mean ± std over seeds) at epoch 1 and the last epoch, for sections 12 and 14."""
    rows = []
    for key in keys:
        sr = ALL_RUNS[key]
        for metric, label in sr.labels.items():
            s = sr.seed.get(metric, {})
            rows.append({
                "run": f"§{key}", "metric": label,
                "seed epoch 1": s.get(1, "—"), "seed last": s[max(s)] if s else "—",
                "our epoch 1": _ours(results, key, metric, 1), "our last": _ours(results, key, metric),
            })
    return report.table(rows)


def experiment_table(results: Mapping[str, Sequence[Result]], keys: Optional[Sequence[str]] = None):
    """One row per experiment and metric: the seed's figures (first → last epoch) and ours."""
    keys = [k for k in (keys or EXPERIMENTS) if k in results]
    rows = []
    for key in keys:
        sr = ALL_RUNS[key]
        for metric, label in sr.labels.items():
            rows.append({
                "exp.": key, "metric": label, "seed": _seed_figure(sr, metric),
                "ours, epoch 1": _ours(results, key, metric, 1), "ours, last": _ours(results, key, metric),
                "epochs": results[key][0].epochs,
            })
    return report.table(rows)


def summary_frame(results: Mapping[str, Sequence[Result]]):
    """One row per seed run with claims: where the seed reports it, the claim counts, the verdict."""
    rows = []
    for key, sr in ALL_RUNS.items():
        if key not in results or not sr.claims:
            continue
        v, counts = verdict(sr, results)
        rows.append({"run": key, "source": sr.source, **{k: counts.get(k, 0) for k in report.VERDICTS}, "verdict": v})
    return report.table(rows, index="run")


def sampling_table(results: Mapping[str, Sequence[Result]], keys: Optional[Sequence[str]] = None):
    """Per main-task run: does the encoder's mean ``mu`` score a lower oracle distance than the
    sample ``z`` at the last epoch? A verdict DataFrame (A = mu, B = z)."""
    keys = [k for k in (keys or ALL_RUNS) if k in results and not ALL_RUNS[k].ablation]
    rows = [
        report.verdict_row(f"{k}: mu beats z", report.compare(per_seed(results, k, "oracle_mu"), per_seed(results, k, "oracle")),
                           a_name="mu", b_name="z", metric="oracle distance (last epoch)")
        for k in keys
    ]
    return report.verdict_table(rows)


def untrained_table(results: Mapping[str, Sequence[Result]], keys: Optional[Sequence[str]] = None, metric: str = "oracle_mu"):
    """Per main-task run: does training end *worse* than the same seed's untrained encoder?

    A verdict DataFrame for the claim "the untrained encoder beats the trained one" on
    ``metric`` (lower is better), both measured on the same first batch: before any update
    (``history[metric][0]``) and after training (``after[metric]``).
    """
    keys = [k for k in (keys or ALL_RUNS) if k in results and not ALL_RUNS[k].ablation]
    rows = []
    for k in keys:
        trained = np.asarray([r.after[metric] for r in results[k]], dtype=float)
        c = report.compare(per_seed(results, k, metric, 0), trained)
        rows.append(report.verdict_row(f"{k}: untrained beats trained", c, a_name="untrained", b_name="trained", metric=metric))
    return report.verdict_table(rows)


def calibration_table(task, n_samples: int = 64, seed: int = 0):
    """The oracle-distance scale on ``task`` (chapter 6's
    :func:`~spectral_manifolds.experiments.alignment_calibration.calibrate`): a DataFrame
    with DESIGN.md's value (main task only) and ours, uncentred and centred."""
    from spectral_manifolds.experiments.alignment_calibration import SEED_CALIBRATION, CalibrationConfig, calibrate

    cfg = CalibrationConfig(task=dataclasses.replace(task, n_samples=n_samples, batch=n_samples), seed=seed)
    main = task.latent_dim == MAIN_TASK.latent_dim and task.n_active == MAIN_TASK.n_active
    rows = [
        {
            "reference latent": r["case"],
            "DESIGN.md": SEED_CALIBRATION.get(r["case"], "—") if main else "—",
            "ours": round(r["uncentred"], 4),
            "ours, centred": round(r["centred"], 4),
        }
        for r in calibrate(cfg).rows
        if r["case"] != "oracle"
    ]
    return report.table(rows, index="reference latent")
