"""Chapter 12's tables, verdicts and plotted series, from an
:class:`~spectral_manifolds.experiments.cvkan_aggregation.AggregationResult`.

Accuracies are shown in percent (points), as the seed's pooling table gives them; every
verdict follows :data:`spectral_manifolds.report.RULE` on the per-seed test accuracies after
the last epoch, paired by seed, with the margin :data:`MARGIN_POINTS` (half a point: a
model right on one more test sample in every seed would otherwise decide a verdict on a
difference with no spread).
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import report
from spectral_manifolds.experiments.cvkan_aggregation import (
    ACCURACY_MARGIN, AGGREGATION_SPECS, BASELINES, FRACTION_SPECS, LOGISTICS, PER_TOKEN_SPECS, POOLING_SPECS, R, SEED_POOLING, Spec,
    AggregationResult, mean_field,
)

__all__ = ["MARGIN_POINTS", "accuracy_points", "pooling_rows", "aggregation_rows", "fraction_rows", "seed_vs_ours_rows",
           "pooling_verdicts", "aggregation_verdicts", "fraction_verdicts", "baseline_verdicts", "fraction_series", "accuracy_curves"]

MARGIN_POINTS = 100 * ACCURACY_MARGIN
NOT_SEED = "— (not in the seed)"
MEAN = Spec().name  # mean aggregation, mean pooling, 3 blocks: the seed's default stack


def accuracy_points(result: AggregationResult, task: str, model: str) -> list[float]:
    """Per-seed test accuracy after the last epoch, in percent, ordered by seed."""
    return [100.0 * a for a in result.values(task, model, "accuracy")]


def _trained(result: AggregationResult, task: str) -> list[str]:
    return [m for m in result.models() if any(r["task"] == task and r["model"] == m for r in result.runs)]


def _rows(result: AggregationResult, names: list[str]) -> list[dict]:
    rows = []
    for task in result.config["task_names"]:
        present = _trained(result, task)
        for model in [n for n in names if n in present]:
            rows.append({"task": task, "model": model, "parameters": int(result.values(task, model, "n_params")[0]),
                         "test accuracy (%)": report.mean_std(accuracy_points(result, task, model))})
    return rows


def pooling_rows(result: AggregationResult) -> list[dict]:
    """Per main task: the 3-block stack with each pooling, the baselines, the logistics."""
    return _rows(result, [s.name for s in POOLING_SPECS] + list(BASELINES) + list(LOGISTICS))


def aggregation_rows(result: AggregationResult) -> list[dict]:
    """Per main task: each aggregation at 1 and 3 blocks (causal, window where run), the baselines, the logistics."""
    return _rows(result, [s.name for s in (*AGGREGATION_SPECS, *PER_TOKEN_SPECS)] + list(BASELINES) + list(LOGISTICS))


def fraction_rows(result: AggregationResult) -> list[dict]:
    """One row per signal fraction: sigma, the mean field, each aggregation's and each logistic's accuracy (%)."""
    rows = []
    cfg = result.config
    for task, f, sigma in zip(cfg["fraction_task_names"], cfg["fraction_values"], cfg["fraction_sigmas"]):
        row = {"signal fraction": f"{f:.0%}", "σ (rad)": round(sigma, 2), "E mean(Z) per channel": round(mean_field(f, sigma), 4)}
        for model in [s.name for s in FRACTION_SPECS] + list(LOGISTICS):
            row[model] = report.mean_std(accuracy_points(result, task, model))
        rows.append(row)
    return rows


def seed_vs_ours_rows(result: AggregationResult) -> list[dict]:
    """The seed's pooling table (one run per domain) beside ours (mean ± std over seeds)."""
    rows = [{"source": "seed 003 (one run)", "domain": dom, "mean pooling": f"{m:g} {unit}", "attention pooling": f"{a:g} {unit}",
             "difference": f"{a - m:+.1f}" if unit.startswith("%") else f"{a - m:+.2f}", "seeds": 1} for dom, (m, a, unit) in SEED_POOLING.items()]
    att = Spec(pooling="attention").name
    for task in result.config["task_names"]:
        m, a = accuracy_points(result, task, MEAN), accuracy_points(result, task, att)
        rows.append({"source": "ours (synthetic)", "domain": task, "mean pooling": f"{report.mean_std(m)} % accuracy",
                     "attention pooling": f"{report.mean_std(a)} % accuracy", "difference": report.mean_std(np.subtract(a, m)), "seeds": len(m)})
    return rows


def _row(result, task, claim, a, b, figure):
    cmp = report.compare(accuracy_points(result, task, a), accuracy_points(result, task, b), lower_is_better=False, margin=MARGIN_POINTS)
    return report.verdict_row(f"{task}: {claim}", cmp, seed_figure=figure, a_name=a, b_name=b, metric="test accuracy (%)")


def pooling_verdicts(result: AggregationResult) -> list[dict]:
    """Per main task: attention pooling beats mean pooling (the seed's claim); magnitude pooling beats mean pooling (not the seed's)."""
    rows = []
    for task in result.config["task_names"]:
        rows.append(_row(result, task, "attention pooling beats mean pooling", Spec(pooling="attention").name, MEAN, "+1.4 (CIFAR-10), +0.8 (Speech Commands)"))
        rows.append(_row(result, task, "magnitude pooling beats mean pooling", Spec(pooling="magnitude").name, MEAN, NOT_SEED))
    return rows


def _gap(a: str, b: str):
    """Per-seed accuracy difference ``a - b`` (points) of two models on a task."""
    return lambda result, task: list(np.subtract(accuracy_points(result, task, a), accuracy_points(result, task, b)))


def aggregation_verdicts(result: AggregationResult) -> list[dict]:
    """Per main task and depth: attention beats mean, magnitude beats mean, attention beats magnitude;
    per task: the attention-minus-mean gap, and the attention-minus-magnitude gap, are larger at 1 block than at 3."""
    rows = []
    depths = sorted({s.n_blocks for s in AGGREGATION_SPECS})
    for task in result.config["task_names"]:
        names = {}
        for n in depths:
            att, mag, mean = (Spec(aggregation=k, n_blocks=n).name for k in ("attention", "magnitude", "mean"))
            names[n] = (att, mag, mean)
            rows += [_row(result, task, f"L={n}: attention aggregation beats mean", att, mean, "'consistently outperforms' (no number)"),
                     _row(result, task, f"L={n}: magnitude aggregation beats mean", mag, mean, "open question"),
                     _row(result, task, f"L={n}: attention aggregation beats magnitude", att, mag, "open question ('close the gap?')")]
        lo, hi = names[depths[0]], names[depths[-1]]
        for claim, i in (("attention − mean", 2), ("attention − magnitude", 1)):
            va, vb = _gap(lo[0], lo[i])(result, task), _gap(hi[0], hi[i])(result, task)
            cmp = report.compare(va, vb, lower_is_better=False, margin=MARGIN_POINTS)
            rows.append(report.verdict_row(f"{task}: the {claim} gap shrinks from L={depths[0]} to L={depths[-1]}", cmp,
                                           seed_figure="open question", a_name=f"gap at L={depths[0]}", b_name=f"gap at L={depths[-1]}",
                                           metric="accuracy gap (points)"))
    return rows


def fraction_verdicts(result: AggregationResult) -> list[dict]:
    """Per fraction: attention and magnitude aggregation beat mean; then "attention's benefit over
    mean is larger at the smallest fraction than at the largest" (the seed's hypothesis)."""
    names = result.config["fraction_task_names"]
    att, mag = Spec(aggregation="attention").name, Spec(aggregation="magnitude").name
    rows = []
    for task in names:
        rows += [_row(result, task, "attention aggregation beats mean", att, MEAN, "hypothesis: yes at 10 %"),
                 _row(result, task, "magnitude aggregation beats mean", mag, MEAN, "open question")]
    gap = _gap(att, MEAN)
    cmp = report.compare(gap(result, names[0]), gap(result, names[-1]), lower_is_better=False, margin=MARGIN_POINTS)
    f0, f1 = result.config["fraction_values"][0], result.config["fraction_values"][-1]
    rows.append(report.verdict_row(f"attention − mean gap larger at {f0:.0%} than at {f1:.0%} signal", cmp, seed_figure="'too noisy' at 10 % (hypothesis)",
                                   a_name=f"gap at {f0:.0%}", b_name=f"gap at {f1:.0%}", metric="accuracy gap (points)"))
    return rows


def baseline_verdicts(result: AggregationResult) -> list[dict]:
    """Per main task: the CVKAN with the highest mean accuracy against R and against the better logistic
    (not seed claims; the CVKAN is picked by its mean over the same seeds, which favours it slightly)."""
    rows = []
    for task in result.config["task_names"]:
        cvkans = [m for m in _trained(result, task) if m.startswith("agg=")]
        best = max(cvkans, key=lambda m: np.mean(accuracy_points(result, task, m)))
        logistic = max(LOGISTICS, key=lambda m: np.mean(accuracy_points(result, task, m)))
        for other in ([R] if R in _trained(result, task) else []) + [logistic]:
            rows.append(_row(result, task, f"best CVKAN ({best}) beats {other}", best, other, NOT_SEED))
    return rows


def fraction_series(result: AggregationResult) -> tuple[list[float], dict[str, list[float]]]:
    """``(fractions in %, {model: mean accuracy (%) per fraction})`` for the sweep's plot."""
    cfg = result.config
    series = {m: [float(np.mean(accuracy_points(result, t, m))) for t in cfg["fraction_task_names"]] for m in [s.name for s in FRACTION_SPECS] + list(LOGISTICS)}
    return [100.0 * f for f in cfg["fraction_values"]], series


def accuracy_curves(result: AggregationResult, task: str, models) -> dict[str, np.ndarray]:
    """``{model: (seeds, epochs) test accuracy (%)}`` for the named trained models of ``task``."""
    out = {m: 100.0 * np.asarray(result.values(task, m, "test_acc"), dtype=float) for m in models}
    if not out:
        raise ValueError("accuracy_curves needs at least one model")
    return out
