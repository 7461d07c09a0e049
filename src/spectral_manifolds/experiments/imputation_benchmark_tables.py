"""Tables and the figure of the imputation benchmark (issue 10, item 3): mean ± std over
mask seeds (and model seeds), the paired-bootstrap verdicts against linear
interpolation, and skill by gap length.

Inputs are :class:`~spectral_manifolds.experiments.imputation_benchmark.BenchmarkResult`
objects; outputs are lists of dicts, pandas DataFrames (``report.table``) and a
matplotlib figure.
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import report
from spectral_manifolds.imputation import CAUSAL, metrics

__all__ = ["summary_rows", "verdict_rows", "series_table", "verdict_grid", "family_tables", "skipped_table", "skill_figure",
           "REGIME_ORDER", "REGIME_FAMILIES"]

REGIME_ORDER = ("gap1", "mcar10", "gap4", "mcar30", "real_gaps", "gap16", "block16", "mcar50", "gap52")
#: The regimes in the groups :func:`family_tables` shows one table each (at most 56 rows).
REGIME_FAMILIES = {"scattered entries (MCAR)": ("mcar10", "mcar30", "mcar50"),
                   "contiguous gaps in one channel": ("gap1", "gap4", "gap16", "gap52"),
                   "CO2's real gap mixture; blocks across all channels": ("real_gaps", "block16")}


def _groups(result: BenchmarkResult, series: str | None = None) -> dict:
    """(series, regime, method) -> {mask seed: [rows over model seeds]}; only ``series``'s rows unless None."""
    groups: dict = {}
    for row in result.rows:
        if series is not None and row["series"] != series:
            continue
        groups.setdefault((row["series"], row["regime"], row["method"]), {}).setdefault(row["seed"], []).append(row)
    return groups


def _per_mask(by_seed: dict, key: str) -> list[float]:
    """The metric per mask seed (a learned method: its mean over model seeds), in seed order."""
    return [float(np.mean([r[key] for r in by_seed[k]])) for k in sorted(by_seed)]


def summary_rows(result: BenchmarkResult, series: str | None = None) -> list[dict]:
    """Per series × regime × method (one series unless ``series`` is None): MAE, RMSE,
    skill mean ± std over every run (mask seeds × model seeds), the model-seed spread
    (mean over masks of the std over model seeds; '—' for a deterministic method),
    parameters and fit seconds."""
    out = []
    for (name, regime, method), by_seed in _groups(result, series).items():
        rs = [r for k in sorted(by_seed) for r in by_seed[k]]
        n_model = len(by_seed[min(by_seed)])
        skills = [r["skill"] for r in rs if r["skill"] is not None]
        spread = f'{np.mean([np.std([r["mae"] for r in v], ddof=1) for v in by_seed.values()]):.2g}' if n_model > 1 else "—"
        out.append({
            "series": name, "regime": regime, "method": method,
            "direction": "causal" if method in CAUSAL else "bidirectional",
            "mask seeds": len(by_seed), "model seeds": n_model if rs[0]["model_seed"] is not None else "— (deterministic)",
            "MAE": report.mean_std([r["mae"] for r in rs]), "RMSE": report.mean_std([r["rmse"] for r in rs]),
            "skill": report.mean_std(skills) if skills else "—", "MAE std over model seeds": spread,
            "parameters": result.parameters.get(f"{name}/{method}", "—"),
            "fit s": report.mean_std([r["fit_seconds"] for r in rs], sig=1),
            "MAE mean": float(np.mean([r["mae"] for r in rs])),
            "skill mean": float(np.mean(skills)) if skills else float("nan"),
        })
    return out


def verdict_rows(result: BenchmarkResult, *, n_boot: int = 10_000, series: str | None = None) -> list[dict]:
    """Each method against linear per series × regime (one series unless ``series`` is
    None; a bootstrap costs about 10 ms, so a table of one series need not decide all): the paired bootstrap
    (:func:`metrics.bootstrap_compare` on MAE, paired by mask seed; a learned method's
    value per mask is its mean over model seeds) says wins / loses / tie.
    Needs >= 2 mask seeds on which both ran; other groups are left out."""
    groups = _groups(result, series)
    out = []
    for (name, regime, method), by_seed in groups.items():
        ref = groups.get((name, regime, "linear"), {})
        seeds = sorted(set(by_seed) & set(ref))
        if method == "linear" or len(seeds) < 2:
            continue
        a = _per_mask({k: by_seed[k] for k in seeds}, "mae")
        b = _per_mask({k: ref[k] for k in seeds}, "mae")
        cmp = metrics.bootstrap_compare(a, b, n_boot=n_boot)
        out.append({"series": name, "regime": regime, "method": method,
                    "direction": "causal" if method in CAUSAL else "bidirectional", "seeds": len(seeds),
                    "MAE diff vs linear (95 % CI)": f"{report.mean_std(cmp.diff)} {cmp.interval}",
                    "vs linear": cmp.verdict, "t verdict": cmp.t_verdict})
    return out


def series_table(result, series: str, regimes=None):
    """One DataFrame for ``series``: rows (regime, method), causal methods first in each
    regime; MAE, RMSE, skill (mean ± std), the verdict against linear, the model-seed
    spread, parameters and fit seconds."""
    verdicts = {(v["regime"], v["method"]): v for v in verdict_rows(result, series=series)}
    rows = []
    order = {r: i for i, r in enumerate(REGIME_ORDER)}
    summary = [s for s in summary_rows(result, series) if regimes is None or s["regime"] in regimes]
    summary.sort(key=lambda s: (order.get(s["regime"], 99), s["direction"] != "causal"))
    for s in summary:
        v = verdicts.get((s["regime"], s["method"]))
        rows.append({
            "regime": s["regime"], "method": s["method"], "direction": s["direction"],
            "MAE": s["MAE"], "RMSE": s["RMSE"], "skill": s["skill"],
            "vs linear": "reference" if s["method"] == "linear" else (v["vs linear"] if v else "—"),
            "MAE diff vs linear (95 % CI)": v["MAE diff vs linear (95 % CI)"] if v else "—",
            "runs": f'{s["mask seeds"]} masks x {s["model seeds"]}' if isinstance(s["model seeds"], int) else f'{s["mask seeds"]} masks',
            "MAE std over model seeds": s["MAE std over model seeds"],
            "parameters": s["parameters"], "fit s": s["fit s"],
        })
    df = report.table(rows)
    return df.set_index(["regime", "method"]) if len(df) else df


def verdict_grid(result, series: str):
    """Methods x regimes of ``series`` (regimes by typical gap length), each cell the mean
    skill and the verdict against linear, e.g. ``"+0.85 wins"``; '—' where the method did
    not run. Index (direction, method), causal methods first."""
    import pandas as pd

    summary = summary_rows(result, series)
    if not summary:
        raise ValueError(f"no rows of series {series!r} in this result")
    verdicts = {(v["regime"], v["method"]): v["vs linear"] for v in verdict_rows(result, series=series)}
    regimes = [r for r in REGIME_ORDER if any(s["regime"] == r for s in summary)]
    cells = {(s["direction"], s["method"], s["regime"]): s for s in summary}
    methods = sorted(dict.fromkeys((s["direction"], s["method"]) for s in summary), key=lambda dm: dm[0] != "causal")
    rows = []
    for direction, method in methods:
        row = {"direction": direction, "method": method}
        for r in regimes:
            s = cells.get((direction, method, r))
            verdict = "reference" if method == "linear" else verdicts.get((r, method), "—")
            row[r] = "—" if s is None else f'{s["skill mean"]:+.2f} {verdict}'
        rows.append(row)
    return pd.DataFrame(rows).set_index(["direction", "method"])


def family_tables(result, series: str) -> dict:
    """``{family: series_table}`` for each group of :data:`REGIME_FAMILIES` that ran on ``series``."""
    ran = {r["regime"] for r in result.rows if r["series"] == series}
    return {family: series_table(result, series, regimes) for family, regimes in REGIME_FAMILIES.items()
            if ran & set(regimes)}


def skipped_table(result):
    """The skipped combinations counted by reason, numbers in a reason replaced by 'N'
    (the same reason on masks that leave different counts is one row; "CO2" stays)."""
    import re

    import pandas as pd

    reasons = [re.sub(r"\b\d+\b", "N", s["reason"]) for s in result.skipped]
    if not reasons:
        return pd.DataFrame({"count": []})
    counts = pd.Series(reasons).value_counts()
    return pd.DataFrame({"reason": counts.index, "count": counts.values}).set_index("reason")


def skill_figure(result, series=None):
    """Skill (1 - MAE / MAE(linear), mean over runs) by regime, one panel per series,
    one line per method (dashed: causal); regimes ordered by typical gap length."""
    import matplotlib.pyplot as plt

    summary = summary_rows(result)
    names = list(dict.fromkeys(s["series"] for s in summary)) if series is None else list(series)
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        rows = [s for s in summary if s["series"] == name]
        regimes = [r for r in REGIME_ORDER if any(s["regime"] == r for s in rows)]
        colors = plt.get_cmap("tab20").colors
        for k, method in enumerate(dict.fromkeys(s["method"] for s in rows)):
            ys = [next((s["skill mean"] for s in rows if s["regime"] == r and s["method"] == method), np.nan) for r in regimes]
            ax.plot(range(len(regimes)), np.clip(ys, -2, 1), "--" if method in CAUSAL else "-", marker="o", color=colors[k % 20], label=method)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(regimes)), regimes, rotation=30)
        ax.set_ylim(-2.05, 1)
        ax.set_xlabel("mask regime (shorter gaps left)")
        ax.set_ylabel("skill = 1 - MAE / MAE(linear) (clipped at -2)")
        ax.set_title(name)
    axes[0, -1].legend(fontsize=7, loc="lower left", ncol=2)
    fig.tight_layout()
    return fig
