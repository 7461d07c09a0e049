"""Tables, verdicts and plotted series of chapter 11 ("which norm after each polarizing block").

Split out of :mod:`spectral_manifolds.experiments.cvkan_norms` (which re-exports every name
here): the runs' :class:`~spectral_manifolds.experiments.cvkan_norms_config.NormsResult`
turned into the chapter's rows and curves.

Seed 003 ("2026-01-20 Layer Normalization Suppresses Polarization"): "By normalizing
magnitudes, we prevent the 'polarization' effect where important tokens grow larger ...
Best performance achieved with ``norm_type='none'``." :func:`verdict_rows` tests both
claims (the seed's ``'none'`` is our ``"centre"``), :func:`floor_rows` compares with the
floor "no block at all"; every verdict is ``report.compare`` on per-seed values paired by
seed, with the margins :data:`ACCURACY_MARGIN` and :data:`AUROC_MARGIN`.
:func:`results_rows`, :func:`accuracy_curves` and :func:`mean_auroc_by_layer` are the
chapter's tables and curves.
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import report
from spectral_manifolds.experiments.cvkan_norms_config import SEED_NONE, NormsResult

__all__ = ["ACCURACY_MARGIN", "AUROC_MARGIN", "results_rows", "verdict_rows", "floor_rows", "baseline_rows", "accuracy_curves", "mean_auroc_by_layer"]

ACCURACY_MARGIN = 0.005  # half a percentage point: smaller accuracy differences do not count
AUROC_MARGIN = 0.02  # smaller AUROC (or separation) differences do not count


def _cell(values) -> str:
    return "—" if any(v is None for v in values) else report.mean_std(values)


def results_rows(result: NormsResult) -> list[dict]:
    """One row per (task, model): parameters, accuracies and polarization, mean ± std over seeds."""
    e, e0 = result.config["epochs"], result.config["seed_epochs"]
    rows = []
    for task in dict.fromkeys(r["task"] for r in result.runs):
        for model in dict.fromkeys(r["model"] for r in result.runs if r["task"] == task):
            n = result.values(task, model, "n_params")
            rows.append({
                "task": task, "model": model, "parameters": int(n[0]),
                f"test accuracy, epoch {e0} (seed's)": _cell(result.values(task, model, "accuracy_seed_epochs")),
                f"test accuracy, epoch {e}": _cell(result.values(task, model, "accuracy")),
                "AUROC |z| after last norm": _cell(result.values(task, model, "auroc")),
                "AUROC |z| before last norm": _cell(result.values(task, model, "auroc_before_norm")),
                "mean |z| signal / noise": _cell(result.values(task, model, "signal_noise_ratio")),
            })
    return rows


def _separation(values: list[float]) -> list[float]:
    """``2 |AUROC - 1/2|``: 0 when magnitudes carry nothing, 1 when they separate perfectly (either way)."""
    return [2 * abs(v - 0.5) for v in values]


def verdict_rows(result: NormsResult) -> tuple[list[dict], list[dict]]:
    """(accuracy verdicts, polarization verdicts), one set per task.

    Accuracy, seed 003's "best performance with norm 'none'": the seed's 'none' (= centre)
    beats LayerNorm; truly none beats LayerNorm; and (not a seed claim) centre beats RMS.
    Polarization, "LayerNorm suppresses polarization": the AUROC of |z| after the last norm
    is higher with centre (and with none) than with LayerNorm; "destroys the
    magnitude-based signal": the separation ``2 |AUROC - 1/2|`` (either direction) is
    higher with centre than with LayerNorm; and (not a seed claim) RMS polarizes less
    than centre. Accuracy after ``epochs``; paired by seed; margins :data:`ACCURACY_MARGIN`
    and :data:`AUROC_MARGIN` (a difference of one test sample in every seed has zero
    spread and would otherwise decide a verdict).
    """
    acc, pol = [], []
    c, ln, rms = f"norm={SEED_NONE}", "norm=layernorm", "norm=rms"
    seed_acc, seed_pol, absent = "'none' best (SST-2; no number given)", "suppresses (no number given)", "— (not in the seed)"

    def row(task, claim, a, b, metric, label, figure, fn=lambda v: v):
        margin = ACCURACY_MARGIN if metric == "accuracy" else AUROC_MARGIN
        cmp = report.compare(fn(result.values(task, a, metric)), fn(result.values(task, b, metric)), lower_is_better=False, margin=margin)
        return report.verdict_row(f"{task}: {claim}", cmp, seed_figure=figure, a_name=a, b_name=b, metric=label)

    for task in dict.fromkeys(r["task"] for r in result.runs):
        acc += [row(task, "seed's 'none' (= centre) beats LayerNorm", c, ln, "accuracy", "test accuracy", seed_acc),
                row(task, "truly none beats LayerNorm", "norm=none", ln, "accuracy", "test accuracy", seed_acc),
                row(task, "centre beats RMS norm", c, rms, "accuracy", "test accuracy", absent)]
        pol += [row(task, "LayerNorm polarizes less than centre", c, ln, "auroc", "AUROC of |z| after last norm", seed_pol),
                row(task, "LayerNorm polarizes less than truly none", "norm=none", ln, "auroc", "AUROC of |z| after last norm", seed_pol),
                row(task, "LayerNorm erases the magnitude difference", c, ln, "auroc", "2 |AUROC − ½| after last norm", "destroys (no number given)", _separation),
                row(task, "RMS norm polarizes less than centre", c, rms, "auroc", "AUROC of |z| after last norm", absent)]
    return acc, pol


def floor_rows(result: NormsResult) -> list[dict]:
    """Against the floor "no block at all" (``Z0 (no head norm)``), per task: does the logistic
    on ``|mean(Z)|`` (the same features) beat it, and does each stack? Not seed claims; accuracy
    after ``epochs``, paired by seed, margin :data:`ACCURACY_MARGIN`."""
    floor, rows = "Z0 (no head norm)", []
    for task in dict.fromkeys(r["task"] for r in result.runs):
        for a in ["logistic on |mean(Z)|"] + [m for m in result.models() if m.startswith("norm=")]:
            cmp = report.compare(result.values(task, a, "accuracy"), result.values(task, floor, "accuracy"), lower_is_better=False, margin=ACCURACY_MARGIN)
            rows.append(report.verdict_row(f"{task}: {a} beats {floor}", cmp, seed_figure="— (not in the seed)", a_name=a, b_name=floor, metric="test accuracy"))
    return rows


def baseline_rows(result: NormsResult, baselines=("R", "C")) -> list[dict]:
    """Against issue 8's Transformer baselines, per task: "the best norm beats R" and "... beats C".

    The best norm is the stack with the highest mean accuracy after ``epochs`` on that task
    (picked on the test accuracies it is then compared on, so the rows favour the stacks
    slightly). Not seed claims; paired by seed, margin :data:`ACCURACY_MARGIN`. Baselines
    missing from ``result`` are skipped.
    """
    rows = []
    for task in dict.fromkeys(r["task"] for r in result.runs):
        models = list(dict.fromkeys(r["model"] for r in result.runs if r["task"] == task))
        stacks = [m for m in models if m.startswith("norm=")]
        best = max(stacks, key=lambda m: np.mean(result.values(task, m, "accuracy")))
        for b in (b for b in baselines if b in models):
            cmp = report.compare(result.values(task, best, "accuracy"), result.values(task, b, "accuracy"), lower_is_better=False, margin=ACCURACY_MARGIN)
            rows.append(report.verdict_row(f"{task}: best norm ({best}) beats {b}", cmp, seed_figure="— (not in the seed)", a_name=best, b_name=b, metric="test accuracy"))
    return rows


def accuracy_curves(result: NormsResult, task: str) -> dict[str, np.ndarray]:
    """``{model: (seeds, epochs) test accuracy}`` for the trained models of ``task``."""
    out = {}
    for model in dict.fromkeys(r["model"] for r in result.runs if r["task"] == task):
        hist = result.values(task, model, "test_acc")
        if all(h is not None for h in hist):
            out[model] = np.asarray(hist, dtype=float)
    if not out:
        raise ValueError(f"no trained models for task {task!r}")
    return out


def mean_auroc_by_layer(result: NormsResult) -> list[dict]:
    """Rows: task, model, then the mean AUROC of |z| over seeds at each state (0 = embedding)."""
    rows = []
    for task in dict.fromkeys(r["task"] for r in result.runs):
        for model in dict.fromkeys(r["model"] for r in result.runs if r["task"] == task):
            per_seed = result.values(task, model, "auroc_by_layer")
            if any(p is None for p in per_seed):
                continue
            m = np.mean(np.asarray(per_seed, dtype=float), axis=0)
            rows.append({"task": task, "model": model, **{("embedding" if i == 0 else f"after block {i}"): round(float(v), 3) for i, v in enumerate(m)}})
    return rows
