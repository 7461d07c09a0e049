"""Tables, verdicts and plotted series of the chapter "Hierarchical polarization".

The results come from :mod:`spectral_manifolds.experiments.cvkan_hierarchy`; this module
turns them into rows for ``report.table`` / ``report.verdict_table`` (seed 003's figures
beside ours, accuracy in percent) and into the series of the sweeps' plots. Every
verdict is ``report.compare`` on per-seed test accuracies (higher is better), paired by
seed because every model of a seed trains on the same draw of the task.
:data:`FLOOR_CLAIMS` ask what no block at all reaches: Z0 without its head's ``LayerNorm``
(``z0_raw``) against Z0, against the flat stack and against the logistic on ``|mean Z|``.
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.experiments.cvkan_hierarchy import HIERARCHY_MODELS, LABELS, SEED_TABLE, SHORT, TRANSFORMERS, Condition, ConditionResult
from spectral_manifolds.report import compare, mean_std, verdict_row

__all__ = ["SEED_CLAIMS", "FLOOR_CLAIMS", "best_logistic", "seed_table_rows", "variant_rows", "seed_verdicts", "floor_verdicts",
           "variant_verdicts", "best_hierarchy", "transformer_verdicts", "sweep_series"]


def best_logistic(res: ConditionResult) -> list:
    """Per seed, the better of the two logistics on the test split (selection favours this baseline)."""
    return [max(a, b) for a, b in zip(res.logistic["reim"], res.logistic["abs"])]


def seed_table_rows(res: ConditionResult, seed_epoch: int = 3) -> list:
    """Rows for the seed's table beside ours: parameters (allocated / used), accuracy % after epoch 1,
    ``seed_epoch`` and the last epoch (mean ± std over seeds); then both logistics."""
    pct = lambda v: mean_std([100 * x for x in v])  # noqa: E731
    last = len(next(iter(res.models.values())).acc[0])
    cols = ("seed: parameters", f"seed: val acc % (ep {seed_epoch})", "parameters (allocated)", "parameters (used)",
            "test acc % (ep 1)", f"test acc % (ep {seed_epoch})", f"test acc % (ep {last})", "s / epoch")
    rows = []
    for m, r in res.models.items():
        vals = (*SEED_TABLE.get(m, ("—", "—")), f"{r.n_params:,}", f"{r.n_used:,}", pct(r.at_epoch(1)),
                pct(r.at_epoch(seed_epoch)), pct(r.final()), round(r.seconds_per_epoch, 2))
        rows.append({"model": LABELS[m], **dict(zip(cols, vals))})
    for f, name in (("reim", "logistic on (Re, Im) of mean(Z)"), ("abs", "logistic on |mean(Z)|")):
        n, v = f"{res.logistic_params[f]:,}", pct(res.logistic[f])
        rows.append({"model": name, **dict(zip(cols, ("—", "—", n, n, "—", v, v, "—")))})
    return rows


def variant_rows(results: list) -> list:
    """One row per condition: final test accuracy % (mean ± std) of every model and both logistics
    ("—" where a model did not run on that condition)."""
    rows = []
    names = list(dict.fromkeys(m for res in results for m in res.models))
    for res in results:
        row = {"condition": Condition(**res.condition).label}
        for m in names:
            row[LABELS[m]] = mean_std([100 * x for x in res.models[m].final()]) if m in res.models else "—"
        row["logistic (Re, Im)"] = mean_std([100 * x for x in res.logistic["reim"]])
        row["logistic |mean Z|"] = mean_std([100 * x for x in res.logistic["abs"]])
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- verdicts
# (claim, A, B, epoch: "seed" (the seed's epoch) or 1, seed's figure); A/B: a model, "99", "logistic"
# (on (Re, Im) of mean Z) or "logistic_abs" (on |mean Z|)
SEED_CLAIMS = (
    ("per-level beats flat", "per_level", "flat", "seed", "100.0 vs 99.7 %"),
    ("mag-weighted beats flat", "magnitude", "flat", "seed", "100.0 vs 99.7 %"),
    ("per-level is above 99 % after 1 epoch", "per_level", "99", 1, "> 99 % in 1 epoch"),
    ("mag-weighted is above 99 % after 1 epoch", "magnitude", "99", 1, "> 99 % in 1 epoch"),
    ("flat is below 99 % after 1 epoch (needs 3)", "99", "flat", 1, "3 epochs to > 99 %"),
    ("per-level beats flat after 1 epoch", "per_level", "flat", 1, "1 vs 3 epochs to > 99 %"),
    ("mag-weighted beats per-level (even stronger)", "magnitude", "per_level", "seed", "100.0 vs 100.0 %"),
    ("mag-weighted beats per-level after 1 epoch (fastest)", "magnitude", "per_level", 1, "fastest convergence"),
    ("per-level beats top-down (top-down unnecessary)", "per_level", "top_down", "seed", "100.0 vs 99.3 %"),
    ("per-level beats shared", "per_level", "shared", "seed", "100.0 vs 93.0 %"),
    ("per-level beats the 65-parameter logistic", "per_level", "logistic", "seed", "—"),
)


# (claim, A, B) at the last epoch; "logistic_abs", the logistic on |mean Z|, reads the same features as Z0's head
FLOOR_CLAIMS = (
    ("Z0 (no head norm) beats Z0 (the head's LayerNorm holds Z0 at chance)", "z0_raw", "z0"),
    ("flat beats Z0 (no head norm) (the blocks add to no block at all)", "flat", "z0_raw"),
    ("logistic on |mean(Z)| beats Z0 (no head norm) (same features)", "logistic_abs", "z0_raw"),
)
_PSEUDO = {"99", "logistic", "logistic_abs"}


def _side(res: ConditionResult, who: str, epoch: int) -> tuple:
    """(name, per-seed accuracy %) of a model after ``epoch``, the 99 % line or a logistic."""
    if who == "99":
        return "99 %", [99.0] * len(res.seeds)
    if who == "logistic":
        return "logistic (Re, Im)", [100 * a for a in res.logistic["reim"]]
    if who == "logistic_abs":
        return "logistic |mean Z|", [100 * a for a in res.logistic["abs"]]
    return SHORT[who], [100 * a for a in res.models[who].at_epoch(epoch)]


def _claim_rows(res: ConditionResult, claims, epoch_of) -> list:
    """Verdict rows of ``(claim, A, B, epoch, seed's figure)``, skipping claims on models not run."""
    rows = []
    for claim, a, b, ep, fig in claims:
        if not {a, b} - _PSEUDO <= res.models.keys():
            continue
        e = epoch_of(ep)
        (an, va), (bn, vb) = _side(res, a, e), _side(res, b, e)
        rows.append(verdict_row(claim, compare(va, vb, lower_is_better=False), seed_figure=fig, a_name=an, b_name=bn,
                                metric=f"test acc (%), epoch {e}"))
    return rows


def seed_verdicts(res: ConditionResult, seed_epoch: int = 3) -> list:
    """:data:`SEED_CLAIMS` as ``report.verdict_row`` rows (test accuracy %, higher is better);
    claims about a model that was not run are left out."""
    return _claim_rows(res, SEED_CLAIMS, lambda ep: seed_epoch if ep == "seed" else ep)


def floor_verdicts(res: ConditionResult) -> list:
    """:data:`FLOOR_CLAIMS` at the last epoch as ``report.verdict_row`` rows (claims on models not run are left out)."""
    last = len(next(iter(res.models.values())).acc[0])
    return _claim_rows(res, [(c, a, b, last, "—") for c, a, b in FLOOR_CLAIMS], lambda ep: ep)


def variant_verdicts(results: list) -> list:
    """Per condition: per-level vs flat, mag-weighted vs per-level, flat and per-level vs the best logistic,
    flat vs Z0 without head norm (blocks against no block at all)."""
    rows = []
    for res in results:
        m, label = res.models, Condition(**res.condition).label
        long = res.condition["n_tokens"] > 16
        for a, b in (("per_level", "flat"), ("magnitude", "per_level"), ("flat", "logistic"), ("per_level", "logistic"),
                     ("flat", "z0_raw")):
            if a not in m or (b != "logistic" and b not in m):
                continue
            vb = best_logistic(res) if b == "logistic" else m[b].final()
            bn = "best logistic" if b == "logistic" else SHORT[b]
            fig = "'especially for long sequences'" if long and (a, b) == ("per_level", "flat") else "—"
            cmp = compare([100 * x for x in m[a].final()], [100 * x for x in vb], lower_is_better=False)
            rows.append(verdict_row(f"{label}: {SHORT[a]} beats {bn}", cmp, seed_figure=fig, a_name=SHORT[a], b_name=bn,
                                    metric="test acc (%), last epoch"))
    return rows


def best_hierarchy(res: ConditionResult) -> str:
    """The hierarchical variant with the highest mean final accuracy on ``res`` (picked on the test
    split, so the choice favours the hierarchy)."""
    run = [m for m in HIERARCHY_MODELS if m in res.models]
    if not run:
        raise ValueError("no hierarchical variant ran on this condition")
    return max(run, key=lambda m: float(np.mean(res.models[m].final())))


def transformer_verdicts(results: list) -> list:
    """Per condition on which R or C ran: "best hierarchical variant beats R" and "... beats C"
    (``report.compare`` on final test accuracy %, paired by seed)."""
    rows = []
    for res in results:
        if not set(TRANSFORMERS) & res.models.keys():
            continue
        best, label = best_hierarchy(res), Condition(**res.condition).label
        for t in TRANSFORMERS:
            if t not in res.models:
                continue
            cmp = compare([100 * x for x in res.models[best].final()], [100 * x for x in res.models[t].final()], lower_is_better=False)
            rows.append(verdict_row(f"{label}: best hierarchical ({SHORT[best]}) beats {t}", cmp, seed_figure="— (not run by the seed)",
                                    a_name=SHORT[best], b_name=t, metric="test acc (%), last epoch"))
    return rows


def sweep_series(results: list, vary: str) -> tuple:
    """Mean final accuracy (%) against ``vary`` ("sigma": N = 16; "n_tokens": sigma = 0.5), no common phase.

    Returns ``(x, {name: [mean accuracy % per x]})`` for the models run at every x and both logistics."""
    validate.choice("vary", vary, ("sigma", "n_tokens"))
    keep = (lambda c: c["n_tokens"] == 16) if vary == "sigma" else (lambda c: c["sigma"] == 0.5)
    picked = sorted((r for r in results if keep(r.condition) and not r.condition["common_phase"]), key=lambda r: r.condition[vary])
    if not picked:
        raise ValueError(f"no condition varies {vary!r} in these results")
    everywhere = [m for m in picked[0].models if all(m in r.models for r in picked)]  # R and C run on a few conditions only
    series = {LABELS[m]: [100 * float(np.mean(r.models[m].final())) for r in picked] for m in everywhere}
    series["logistic (Re, Im)"] = [100 * float(np.mean(r.logistic["reim"])) for r in picked]
    series["logistic |mean Z|"] = [100 * float(np.mean(r.logistic["abs"])) for r in picked]
    return [r.condition[vary] for r in picked], series
