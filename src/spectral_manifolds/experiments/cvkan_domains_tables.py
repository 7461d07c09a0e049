"""Chapter 15's tables, verdicts and figure, from a
:class:`~spectral_manifolds.experiments.cvkan_domains.DomainsResult`.

Accuracies are in percent (points). Every verdict follows
:data:`spectral_manifolds.report.RULE` on per-seed values paired by seed: test accuracy
after the last epoch with the margin :data:`MARGIN_POINTS` (half a point), forecasting
MSE in the series' units squared with margin 0. A classical baseline has no seed: its one
value is paired with every seed of the model, so the interval is that of the model's
spread around it.
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import report
from spectral_manifolds.experiments.cvkan_domains import (
    C, CLASSIFICATION, CVKAN_NAME, CVKAN_REL, FORECAST_BASELINES, LOGREG_RAW, LOGREG_SUMMARY, R, SEED_POOLING, Z0, DomainsResult,
)
from spectral_manifolds.experiments.cvkan_norms import ACCURACY_MARGIN

__all__ = ["MARGIN_POINTS", "DATASET_LABELS", "FORECAST_BASELINES", "cell", "accuracy_points", "classification_rows", "classification_verdicts",
           "standardized_mse", "FORECASTERS", "forecast_rows", "forecast_verdicts", "best_baseline_verdicts", "seed_vs_ours_rows", "depth_name", "depth_rows", "depth_verdicts", "plot_depth", "findings", "data_rows"]

MARGIN_POINTS = 100 * ACCURACY_MARGIN
DATASET_LABELS = {"digits": "digits (sklearn), 16 tokens of 2x2 pixels", "japanese_vowels": "JapaneseVowels (aeon), 16 frames x 12 cepstra",
                  "basic_motions": "BasicMotions (aeon), 10 tokens of 1 s x 6 sensors"}
#: the learned forecasters of the forecasting table (those that were run), before the classical baselines
FORECASTERS = (CVKAN_NAME, CVKAN_REL, R, C)
_ORDER = (CVKAN_NAME, Z0, R, C, LOGREG_RAW, LOGREG_SUMMARY)


def accuracy_points(result: DomainsResult, task: str, model: str) -> list[float]:
    """Per-seed test accuracy after the last epoch, in percent, ordered by seed."""
    return [100.0 * a for a in result.values(task, model, "accuracy")]


def cell(values, digits: int = 1) -> str:
    """mean ± std over seeds, or the one value and "(deterministic)" when every seed gives the same
    (a deterministic baseline; ``digits`` decimals, or 3 significant figures below 10)."""
    v = np.asarray(list(values), dtype=float)
    if np.ptp(v) <= 1e-9 * max(1.0, abs(v).max()):
        return (f"{v[0]:.{digits}f}" if abs(v[0]) >= 10 else f"{v[0]:.3g}") + " (deterministic)"
    return report.mean_std(v)


def _fix_b(row: dict, name: str, values) -> dict:
    """Show a deterministic B as one value in a verdict row (report.verdict_row prints its ± 0)."""
    if cell(values).endswith("(deterministic)"):
        row["B (ours)"] = f"{name}: {cell(values)}"
    return row


def _present(result: DomainsResult, task: str, names) -> list[str]:
    have = {r["model"] for r in result.runs if r["task"] == task}
    return [n for n in names if n in have]


def _classification_tasks(result: DomainsResult) -> list[str]:
    return [t for t in result.config["datasets"] if t in CLASSIFICATION]


def classification_rows(result: DomainsResult) -> list[dict]:
    """Per data set: each model's parameters and test accuracy (%) mean ± std over seeds."""
    rows = []
    for task in _classification_tasks(result):
        for model in _present(result, task, _ORDER):
            rows.append({"data set": DATASET_LABELS[task], "model": model, "parameters": int(result.values(task, model, "n_params")[0]),
                         "test accuracy (%)": cell(accuracy_points(result, task, model)), "seeds": len(result.values(task, model, "seed"))})
    return rows


def classification_verdicts(result: DomainsResult) -> list[dict]:
    """"The CV-KAN beats X" on every data set, for every baseline X that was run."""
    rows = []
    for task in _classification_tasks(result):
        a = accuracy_points(result, task, CVKAN_NAME)
        for other in _present(result, task, _ORDER[1:]):
            b = accuracy_points(result, task, other)
            cmp = report.compare(a, b, lower_is_better=False, margin=MARGIN_POINTS)
            rows.append(_fix_b(report.verdict_row(f"{task}: CV-KAN beats {other}", cmp, seed_figure="— (not in the seed)", a_name="CV-KAN",
                                                  b_name=other.split(" (")[0], metric="test accuracy (%)"), other.split(" (")[0], b))
    return rows


def _forecast_tasks(result: DomainsResult) -> list[str]:
    return list(result.config["series"])


def standardized_mse(result: DomainsResult, task: str, model: str) -> list[float]:
    """Per-seed test MSE divided by the variance of the series' training part (the units of
    the seed's ETTh1 figure, whose series are standardized)."""
    var = result.config["info"][task]["train_std"] ** 2
    return [v / var for v in result.values(task, model, "mse")]


def forecast_rows(result: DomainsResult) -> list[dict]:
    """Per series: the learned forecasters (:data:`FORECASTERS`, those run) and the three baselines,
    test MSE and MAE in the series' units."""
    rows = []
    for task in _forecast_tasks(result):
        info = result.config["info"][task]
        for model in _present(result, task, (*FORECASTERS, *FORECAST_BASELINES)):
            rows.append({"series": f"{task} ({info['units']})", "model": model, "parameters": int(result.values(task, model, "n_params")[0]),
                         "test MSE": cell(result.values(task, model, "mse")), "test MAE": cell(result.values(task, model, "mae"), 2),
                         "seeds": len(result.values(task, model, "seed"))})
    return rows


def forecast_verdicts(result: DomainsResult) -> list[dict]:
    """"The CV-KAN (each variant that was run) beats X" on test MSE, X in the three baselines, on every series."""
    rows = []
    for task in _forecast_tasks(result):
        for model in _present(result, task, (CVKAN_NAME, CVKAN_REL)):
            a = result.values(task, model, "mse")
            for other in FORECAST_BASELINES:
                b = result.values(task, other, "mse")
                cmp = report.compare(a, b, lower_is_better=True)
                rows.append(_fix_b(report.verdict_row(f"{task}: {model} beats {other}", cmp, a_name=model, b_name=other, metric="test MSE"), other, b))
    return rows


def best_baseline_verdicts(result: DomainsResult) -> list[dict]:
    """"X beats the best classical baseline" on test MSE, per series, for every learned forecaster X
    that was run (:data:`FORECASTERS`); the best baseline is the one of :data:`FORECAST_BASELINES`
    with the lowest test MSE on that series (chosen on the test windows, which favours it)."""
    rows = []
    for task in _forecast_tasks(result):
        best, _ = _best(result, task, FORECAST_BASELINES, lambda n: result.values(task, n, "mse"), lower=True)
        b = result.values(task, best, "mse")
        for model in _present(result, task, FORECASTERS):
            cmp = report.compare(result.values(task, model, "mse"), b, lower_is_better=True)
            rows.append(_fix_b(report.verdict_row(f"{task}: {model} beats {best} (best classical)", cmp, a_name=model.split(" (")[0], b_name=best,
                                                  metric="test MSE"), best, b))
    return rows


def _best(result: DomainsResult, task: str, names, key, lower: bool) -> tuple[str, float]:
    vals = {n: float(np.mean(key(n))) for n in _present(result, task, names)}
    best = min(vals, key=vals.get) if lower else max(vals, key=vals.get)
    return best, vals[best]


def seed_vs_ours_rows(result: DomainsResult) -> list[dict]:
    """The seed's domain table (mean pooling, its one run) beside ours on the nearest offline data.

    The data sets differ, so the rows are side by side, not compared."""
    seed = {k.split(" (")[0]: v for k, v in SEED_POOLING.items()}
    pairs = [("Image", "CIFAR-10", "digits"), ("Audio", "Speech Commands", "japanese_vowels"), ("Motion", "—", "basic_motions")]
    rows = []
    for domain, seed_data, ours in pairs:
        if ours not in _classification_tasks(result):
            continue
        fig = seed.get(domain)
        best, val = _best(result, ours, _ORDER[1:], lambda n: accuracy_points(result, ours, n), lower=False)
        rows.append({"domain": domain, "seed's data": seed_data, "seed: CV-KAN, mean pooling": "—" if fig is None else f"{fig[0]} % (1 run)",
                     "our data": DATASET_LABELS[ours], "ours: CV-KAN": report.mean_std(accuracy_points(result, ours, CVKAN_NAME)) + " %",
                     "ours: best baseline": f"{best}: {val:.1f} %"})
    for task in _forecast_tasks(result):
        fig = seed["Timeseries"]
        best, val = _best(result, task, FORECAST_BASELINES, lambda n: result.values(task, n, "mse"), lower=True)
        rows.append({"domain": "Time series (forecast)", "seed's data": "ETTh1", "seed: CV-KAN, mean pooling": f"{fig[0]} MSE (1 run)",
                     "our data": f"{task} (MSE of standardized values)", "ours: CV-KAN": report.mean_std(standardized_mse(result, task, CVKAN_NAME)) + " MSE",
                     "ours: best baseline": f"{best}: {np.mean(standardized_mse(result, task, best)):.3g} MSE"})
    return rows


def depth_name(n_blocks: int, cfg_blocks: int) -> str:
    """The run name of the depth sweep's model with ``n_blocks`` (the main CV-KAN at its own depth)."""
    return CVKAN_NAME if n_blocks == cfg_blocks else f"CV-KAN L={n_blocks}"


def depth_rows(result: DomainsResult) -> list[dict]:
    """Per depth data set and depth: MLP width, parameters, test accuracy (%)."""
    rows = []
    for task in result.config["depth_datasets"]:
        for L, w in result.config["info"][task]["depth_widths"].items():
            name = depth_name(int(L), result.config["n_blocks"])
            rows.append({"data set": DATASET_LABELS[task], "blocks": int(L), "MLP width": int(w), "parameters": int(result.values(task, name, "n_params")[0]),
                         "test accuracy (%)": report.mean_std(accuracy_points(result, task, name))})
    return rows


def depth_verdicts(result: DomainsResult) -> list[dict]:
    """The seed's "width seems to give better results than depth": the shallowest (widest)
    model against each deeper one at the same parameter count."""
    rows = []
    nb = result.config["n_blocks"]
    for task in result.config["depth_datasets"]:
        depths = sorted(int(L) for L in result.config["info"][task]["depth_widths"])
        wide = depths[0]
        for L in depths[1:]:
            cmp = report.compare(accuracy_points(result, task, depth_name(wide, nb)), accuracy_points(result, task, depth_name(L, nb)), lower_is_better=False, margin=MARGIN_POINTS)
            rows.append(report.verdict_row(f"{task}: {wide} wide block beats {L} narrower blocks", cmp, seed_figure="'width seems to give better results' (no number)",
                                           a_name=f"L={wide}", b_name=f"L={L}", metric="test accuracy (%)"))
    return rows


def plot_depth(result: DomainsResult, ax=None):
    """Test accuracy (%) against the number of blocks at a fixed parameter count: every seed
    as a dot, mean ± std as a line with error bars; the MLP width above each point."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 3.5))
    nb = result.config["n_blocks"]
    for task in result.config["depth_datasets"]:
        widths = result.config["info"][task]["depth_widths"]
        depths = sorted(int(L) for L in widths)
        pts = [accuracy_points(result, task, depth_name(L, nb)) for L in depths]
        for L, p in zip(depths, pts):
            ax.scatter([L] * len(p), p, s=12, color="0.6", zorder=2)
        mean, std = [np.mean(p) for p in pts], [np.std(p, ddof=1) for p in pts]
        ax.errorbar(depths, mean, yerr=std, marker="o", capsize=3, label=DATASET_LABELS[task], zorder=3)
        for L, m, s in zip(depths, mean, std):
            ax.annotate(f"width {widths[str(L)]}", (L, m + s), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    ax.set_xlabel("polarizing blocks (parameter count fixed ±5 %)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(sorted({int(L) for t in result.config["depth_datasets"] for L in result.config["info"][t]["depth_widths"]}))
    ax.margins(y=0.15)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def _verdict_phrase(rows: list[dict]) -> str:
    return "; ".join(f"{r['claim'].split(': ', 1)[1]}: **{r['verdict']}** ({r['paired diff (95 % CI)']})" for r in rows)


def findings(result: DomainsResult) -> str:
    """The chapter's conclusions as Markdown bullets, written from the numbers of ``result``
    (so the text is right at any budget): per data set the best model by mean and the
    CV-KAN's verdicts, per series the lowest-MSE method, and the depth sweep."""
    out = []
    cls = classification_verdicts(result)
    for task in _classification_tasks(result):
        best, val = _best(result, task, _ORDER, lambda n: accuracy_points(result, task, n), lower=False)
        cv = float(np.mean(accuracy_points(result, task, CVKAN_NAME)))
        rows = [r for r in cls if r["claim"].startswith(task + ":")]
        out.append(f"* **{DATASET_LABELS[task]}**: highest mean test accuracy {best} ({val:.1f} %), the CV-KAN {cv:.1f} %. " + _verdict_phrase(rows) + ".")
    fc = forecast_verdicts(result)
    for task in _forecast_tasks(result):
        names = (*FORECASTERS, *FORECAST_BASELINES)
        best, val = _best(result, task, names, lambda n: result.values(task, n, "mse"), lower=True)
        rows = [r for r in fc if r["claim"].startswith(task + ":")] + [r for r in best_baseline_verdicts(result)
                                                                         if r["claim"].startswith(task + ":") and r["claim"].split(": ", 1)[1].startswith((R, C))]
        out.append(f"* **{task}** (test MSE, {result.config['info'][task]['units']} squared): lowest {best} ({val:.4g}). " + _verdict_phrase(rows) + ".")
    for task in result.config["depth_datasets"]:
        rows = depth_rows(result)
        means = ", ".join(f"L={r['blocks']} (width {r['MLP width']}): {r['test accuracy (%)']} %" for r in rows if r["data set"] == DATASET_LABELS[task])
        out.append(f"* **Depth against width on {task}** at a fixed parameter count: {means}. " + _verdict_phrase([r for r in depth_verdicts(result) if r["claim"].startswith(task + ":")]) + ".")
    return "\n".join(out)


def data_rows(result: DomainsResult) -> list[dict]:
    """What each model sees: tokens x features, classes or horizon, the split sizes, the epochs
    that give ``steps`` (or ``forecast_steps``) optimizer steps."""
    rows = []
    for task in _classification_tasks(result):
        i = result.config["info"][task]
        rows.append({"data": DATASET_LABELS[task], "task": f"{i['classes']} classes", "tokens x features": f"{i['tokens']} x {i['features']}",
                     "train / test": f"{i['n_train']} / {i['n_test']} samples", "epochs": i["epochs"]})
    for task in _forecast_tasks(result):
        i = result.config["info"][task]
        rows.append({"data": f"{task}: {i['length']} {i['step']}s" + (f", {i['n_filled']} filled" if i["n_filled"] else ""),
                     "task": f"next {result.config['horizon']} {i['step']}s from {i['context']} (season {i['season']})",
                     "tokens x features": f"{i['context'] // i['patch']} x {i['patch']}",
                     "train / test": f"{i['train_windows']} / {i['test_windows']} windows", "epochs": i["epochs"]})
    return rows
