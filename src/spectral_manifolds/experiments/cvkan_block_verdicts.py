"""Chapter "The polarizing block": its verdict rows, from a :class:`~.cvkan_block.BlockResult`.

Every row comes from ``report.compare`` (paired over seeds); re-exported by
:mod:`spectral_manifolds.experiments.cvkan_block`.
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import report

__all__ = ["SEED_FLAT_ACC", "SEED_TOLERANCE", "pct", "amplification_rows", "comparison_rows", "matched_names",
           "width_depth_rows", "point_rows"]

SEED_FLAT_ACC = 99.7  # %, seed 003, hierarchical table: Flat (Mean Agg), 174k, val acc epoch 3
SEED_TOLERANCE = 1.0  # points: "reproduced" = above the seed's figure minus one point


def pct(values) -> list[float]:
    """Accuracies in [0, 1] -> percent."""
    return [100.0 * v for v in values]


def amplification_rows(res: BlockResult, model: str | None = None, key: str = "separation") -> list[dict]:
    """Verdict rows "block l+1 raises ``key`` over block l" (paired over seeds) for ``model``
    (default: the deepest profiled stack); layer 0 (input) to 1 included."""
    model = model or max(res.profiles, key=lambda n: len(res.profiles[n][0]))
    p = res.profile(model, key)
    return [report.verdict_row(f"{model}: block {l + 1} raises {key} over {'the input' if l == 0 else f'block {l}'}",
                               report.compare(p[:, l + 1], p[:, l], lower_is_better=False),
                               seed_figure="open question (no figure)", a_name=f"after {l + 1}", b_name="input" if l == 0 else f"after {l}", metric=key)
            for l in range(p.shape[1] - 1)]


def comparison_rows(res: BlockResult, task: str, flat: str, at_report: bool = True) -> list[dict]:
    """Verdict rows for ``task``: the flat model reaches the seed's 99.7 % (minus
    :data:`SEED_TOLERANCE`, seed's task only), then "flat beats X" for every other model."""
    acc = {k: pct(v) for k, v in (res.accuracy_at_report if at_report else res.accuracy)[task].items()}
    metric = f"test accuracy (%), epoch {res.config['report_epoch'] if at_report else res.config['epochs']}"
    rows = []
    if task == "seed's task":
        floor = [SEED_FLAT_ACC - SEED_TOLERANCE] * len(acc[flat])
        rows.append(report.verdict_row(f"{task}: flat stack reaches the seed's 99.7 % (within 1 point)", report.compare(acc[flat], floor, lower_is_better=False),
                                       seed_figure="99.7 %", a_name="flat", b_name="99.7 % − 1 pt", metric=metric))
    for other in acc:
        if other != flat and (not other.startswith("CVKAN") or "norm" in other):
            rows.append(report.verdict_row(f"{task}: flat stack beats {other}", report.compare(acc[flat], acc[other], lower_is_better=False),
                                           seed_figure="99.7 % (flat, no baseline)" if task == "seed's task" else "—", a_name="flat", b_name=other, metric=metric))
    return rows


def matched_names(res: BlockResult) -> list[str]:
    """The common-phase CVKAN models at the flat model's parameter count, shallowest first."""
    names = [n for n in res.accuracy["common phase"] if n.startswith("CVKAN") and "norm" not in n]
    return sorted(names, key=lambda n: int(n.split("L=")[1].split(",")[0]))


def width_depth_rows(res: BlockResult, at_report: bool = False) -> list[dict]:
    """Verdict rows "the shallowest, widest stack beats the deeper, narrower one" at equal
    parameters (common-phase task), one per deeper model."""
    acc = {k: pct(v) for k, v in (res.accuracy_at_report if at_report else res.accuracy)["common phase"].items()}
    names = matched_names(res)
    metric = f"test accuracy (%), epoch {res.config['report_epoch'] if at_report else res.config['epochs']}"
    return [report.verdict_row(f"common phase: {names[0]} beats {n}", report.compare(acc[names[0]], acc[n], lower_is_better=False),
                               seed_figure="'width seems better' (no figure)", a_name=names[0].split(" ", 1)[1], b_name=n.split(" ", 1)[1], metric=metric)
            for n in names[1:]]


EXACT = 1e-4  # similarity residual below this: the one-point form holds (float32 tokens give ~1e-7)


EXACT_COLUMNS = ("similarity residual", "max |arg kappa|")  # shown as their largest value over seeds
POINT_COLUMNS = ("median |p|", "mean cos arg p", "median circle contrast", "median max/min |z|")  # mean ± std


def point_table(res):
    """One row per profiled depth, after its last block (a DataFrame): the largest
    :data:`EXACT_COLUMNS` value over seeds, and each :data:`POINT_COLUMNS` column of
    :func:`~spectral_manifolds.cvkan.similarity.point_profile` as mean ± std over seeds."""
    rows = []
    for name in sorted(res.points, key=lambda n: len(res.points[n][0])):
        row = {"model": name}
        row.update({f"{key}, max over seeds": f"{res.point(name, key)[:, -1].max():.1e}" for key in EXACT_COLUMNS})
        row.update({key: report.mean_std(res.point(name, key)[:, -1]) for key in POINT_COLUMNS})
        rows.append(row)
    return report.table(rows, index="model")


def point_rows(res) -> list[dict]:
    """Verdict rows: the deepest stack's last layer is one point's distances per channel
    (similarity residual below :data:`EXACT`), and it reaches a larger magnitude contrast
    (median max/min |z| per channel) than the one-block stack."""
    names = sorted(res.points, key=lambda n: len(res.points[n][0]))
    shallow, deep = names[0], names[-1]
    log_resid = np.log10(res.point(deep, "similarity residual")[:, -1])
    contrast = {n: res.point(n, "median max/min |z|")[:, -1] for n in (deep, shallow)}
    return [
        report.verdict_row(f"{deep}: after the last block every channel is one point's distances (residual < {EXACT:g})",
                           report.compare(log_resid, [np.log10(EXACT)] * len(log_resid)), seed_figure="open question (no figure)",
                           a_name="residual", b_name="threshold", metric="log10 similarity residual"),
        report.verdict_row(f"{deep} reaches a larger magnitude contrast than {shallow}",
                           report.compare(contrast[deep], contrast[shallow], lower_is_better=False), seed_figure="open question (no figure)",
                           a_name=deep, b_name=shallow, metric="median max/min |z| per channel"),
    ]
