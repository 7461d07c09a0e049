"""Chapter 15's pooling table: mean against attention pooling of the CV-KAN on the real data
sets, beside seed 003's figures ("2026-01-20 Attention Pooling Marginally Better for
Classification", :data:`~spectral_manifolds.experiments.cvkan_aggregation.SEED_POOLING`:
CIFAR-10 46.8 -> 48.2 %, Speech Commands 29.7 -> 30.5 %, ETTh1 0.92 -> 0.92 MSE, one run each).

The data sets differ (no CIFAR-10, Speech Commands or ETTh1 offline): the seed's rows and ours
stand side by side. Pairs: per seed, :data:`CVKAN_ATTN` against :data:`CVKAN_NAME` on a
classification set (test accuracy in points, margin
:data:`~spectral_manifolds.experiments.cvkan_domains_tables.MARGIN_POINTS`), and
:data:`CVKAN_REL_ATTN` against :data:`CVKAN_REL` on a series (test MSE of standardized values,
the unit of the seed's ETTh1 figure, margin 0). The relative forecaster is the one compared
because the plain one's error is dominated by the window level its head cannot pass on
(chapter 15, section 4). Verdicts follow :data:`spectral_manifolds.report.RULE`.
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import report
from spectral_manifolds.experiments.cvkan_domains import CVKAN_ATTN, CVKAN_NAME, CVKAN_REL, CVKAN_REL_ATTN, SEED_POOLING, DomainsResult
from spectral_manifolds.experiments.cvkan_domains_tables import DATASET_LABELS, MARGIN_POINTS, accuracy_points, standardized_mse

__all__ = ["SEED_ROWS", "pooling_pairs", "pooling_rows", "pooling_verdicts"]

#: our task -> (the seed's domain key in SEED_POOLING, or None)
SEED_ROWS = {"digits": "Image (CIFAR-10)", "japanese_vowels": "Audio (Speech Commands)", "basic_motions": None}


def _seed_key(task: str):
    return SEED_ROWS.get(task, "Timeseries (ETTh1)")


def pooling_pairs(result: DomainsResult) -> list[tuple]:
    """``(task, mean values, attention values, higher is better)`` per task that ran both poolings,
    values per seed (accuracy in points, or standardized test MSE)."""
    have = {(r["task"], r["model"]) for r in result.runs}
    out = []
    for task in result.config["datasets"]:
        if (task, CVKAN_ATTN) in have:
            out.append((task, accuracy_points(result, task, CVKAN_NAME), accuracy_points(result, task, CVKAN_ATTN), True))
    for task in result.config["series"]:
        if (task, CVKAN_REL_ATTN) in have:
            out.append((task, standardized_mse(result, task, CVKAN_REL), standardized_mse(result, task, CVKAN_REL_ATTN), False))
    return out


def _seed_cells(task: str) -> dict:
    key = _seed_key(task)
    if key is None:
        return {"seed's data": "—", "seed: mean": "—", "seed: attention": "—", "seed: delta": "—"}
    m, a, unit = SEED_POOLING[key]
    unit = " %" if unit.startswith("%") else " MSE"
    return {"seed's data": key.split(" (")[1].rstrip(")"), "seed: mean": f"{m}{unit}", "seed: attention": f"{a}{unit}", "seed: delta": f"{a - m:+.1f}{unit} (1 run)"}


def pooling_rows(result: DomainsResult) -> list[dict]:
    """The seed's pooling table beside ours: per task the seed's figures (where it has a row) and our
    mean ± std over seeds for mean and attention pooling, and the paired difference (attention - mean)."""
    rows = []
    for task, mean, attn, _ in pooling_pairs(result):
        unit = " %" if task in DATASET_LABELS else " MSE"
        ours = DATASET_LABELS.get(task, f"{task} (relative CV-KAN, MSE of standardized values)")
        diff = np.asarray(attn) - np.asarray(mean)
        rows.append({**_seed_cells(task), "our data": ours, "ours: mean": report.mean_std(mean) + unit, "ours: attention": report.mean_std(attn) + unit,
                     "ours: delta (paired)": report.mean_std(diff) + unit, "seeds": len(diff)})
    return rows


def pooling_verdicts(result: DomainsResult) -> list[dict]:
    """"Attention pooling beats mean pooling" per task, paired by seed (the seed's delta as its figure;
    its ETTh1 row claims no difference, which an inconclusive verdict here is consistent with)."""
    rows = []
    for task, mean, attn, higher in pooling_pairs(result):
        cmp = report.compare(attn, mean, lower_is_better=not higher, margin=MARGIN_POINTS if higher else 0.0)
        fig = _seed_cells(task)["seed: delta"]
        rows.append(report.verdict_row(f"{task}: attention pooling beats mean pooling", cmp, seed_figure=fig, a_name="attention", b_name="mean",
                                       metric="test accuracy (%)" if higher else "test MSE (standardized)"))
    return rows
