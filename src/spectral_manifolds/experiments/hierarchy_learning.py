"""Chapter "Per-band learning dynamics", part 1: per-band lr, weight decay, EMA and clipping
(seed 004 §6.1 learning rates, §6.2 weight decay, §6.3 EMA, §11.2 per-manifold clipping;
issue 9, Part IV, chapter 2).

The task (the three-speed field, hard masks, a new texture at test time), the per-band
error (test MSE per band relative to persistence's) and the training loop live in
:mod:`~spectral_manifolds.experiments.hierarchy_learning_runs` and are re-exported here.

:func:`run_learning` trains, per seed, one run per learning-rate order (:data:`LR_ORDERS`:
uniform, the seed's §6.1 hierarchy coarse slowest, its reverse) and, one at a time against
the seed's hierarchical order (:data:`REFERENCE`), the switches of :data:`SWITCHES`: §6.2
weight decay, the clipping the seed meant (coarse tightest) and the seed's formula (coarse
loosest); §6.3 EMA (:data:`EMA_RUN`) is evaluated from the reference run (EMA does not
change training). :func:`error_rows`, :func:`lr_rows`, :func:`switch_rows`,
:func:`clip_rows`, :func:`tightest_band` and :func:`plot_curves` give the tables, verdicts
and curves. The interference experiment is in
:mod:`~spectral_manifolds.experiments.hierarchy_interference`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.experiments.hierarchy_learning_runs import (  # noqa: F401  (the shared pieces, re-exported here)
    BANDS, BASELINES, LR_ORDERS, LearningConfig, Task, band_errors, band_mse, baseline_errors, build_model, config_for,
    lr_table, make_task, project, seed_velocity, train,
)

REFERENCE = "hierarchical (§6.1)"
#: switch -> (weight decay on, clipping: None / "meant" / "seed"); EMA is read off the reference run.
SWITCHES = {"+ weight decay (§6.2)": (True, None), "+ clip, meant": (False, "meant"), "+ clip, seed's 1/lr_scale": (False, "seed")}
EMA_RUN = "+ EMA (§6.3)"


# --------------------------------------------------------------------------- runs and tables
RUNS = tuple(LR_ORDERS) + tuple(SWITCHES)


@dataclass
class LearningResult:
    """JSON-able: ``final[run]`` per seed the relative per-band errors (3,), ``curves[run]`` per
    seed (logs, 3), ``clip[run]`` per seed the clipping diagnostics, ``baselines[name]`` per seed (3,)."""

    config: dict
    seeds: list
    runs: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)
    clip: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    parameters: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def values(self, run: str, band: int | None = None) -> np.ndarray:
        """``(seeds, 3)`` final relative errors of ``run`` (a run, an EMA run or a baseline), or one band's ``(seeds,)``."""
        v = np.array(self.final[run] if run in self.final else self.baselines[run], dtype=float)
        return v if band is None else v[:, band]


def run_learning(cfg: LearningConfig, *, progress: bool = True) -> LearningResult:
    """Every run of :data:`RUNS` per seed, the EMA of the reference run, and the baselines."""
    t0 = time.perf_counter()
    seeds = report.seeds_for(cfg.n_seeds)
    res = LearningResult(dataclasses.asdict(cfg), seeds, list(RUNS[:3]) + [EMA_RUN] + list(RUNS[3:]))
    bar = runtime.progress(total=cfg.n_seeds * len(RUNS), desc="per-band runs", disable=not progress)
    device = runtime.torch_device()
    with runtime.torch_cpu_threads(device):
        for seed in seeds:
            task = make_task(cfg, seed)
            for name, v in baseline_errors(task, cfg).items():
                res.baselines.setdefault(name, []).append(v.tolist())
            for run in RUNS:
                order, (wd, clip) = (run, (False, None)) if run in LR_ORDERS else (REFERENCE, SWITCHES[run])
                torch.manual_seed(seed)
                model = build_model(cfg)
                res.parameters = model.n_parameters
                out = train(model, task, cfg, seed=seed, order=order, weight_decay=wd, clip=clip, ema=run == REFERENCE, device=device)
                res.final.setdefault(run, []).append(out["final"])
                res.curves.setdefault(run, []).append(out["curve"])
                res.steps = out["steps"]
                if clip is not None:
                    res.clip.setdefault(run, []).append({k: out[k] for k in ("grad_pre", "grad_post", "clipped", "max_norms")})
                if "ema_final" in out:
                    res.final.setdefault(EMA_RUN, []).append(out["ema_final"])
                bar.update(1)
    bar.close()
    res.seconds = time.perf_counter() - t0
    return res


def error_rows(res: LearningResult) -> list[dict]:
    """One row per run and baseline: per-band test MSE relative to persistence, mean ± std."""
    rows = []
    for run in res.runs + list(BASELINES):
        v = res.values(run)
        rows.append({"run": run, **{f"{b} (MSE / persistence)": report.mean_std(v[:, i]) for i, b in enumerate(BANDS)}})
    return rows


def lr_rows(res: LearningResult) -> list[dict]:
    """Verdicts per band: hierarchical vs uniform, reverse vs uniform, hierarchical vs reverse (lower error wins)."""
    rows = []
    for a, b, fig in ((REFERENCE, "uniform", "'Coarse: changes should be rare and deliberate' (§6.1)"),
                      ("reverse", "uniform", "spectral bias: low frequencies first (Rahaman et al. 2019)"),
                      (REFERENCE, "reverse", "§6.1 vs spectral bias")):
        for i, band in enumerate(BANDS):
            rows.append(report.verdict_row(f"{a} beats {b} on the {band} band", report.compare(res.values(a, i), res.values(b, i)),
                                           seed_figure=fig, a_name=a, b_name=b, metric=f"{band} MSE / persistence"))
    return rows


def switch_rows(res: LearningResult) -> list[dict]:
    """Verdicts per band: each switch (weight decay, EMA, both clippings) against the reference run, paired by seed."""
    rows = []
    figs = {"+ weight decay (§6.2)": "'Heavy regularization keeps structure stable' (§6.2)",
            EMA_RUN: "'use EMA weights (smoother predictions)' (§6.3)",
            "+ clip, meant": "'Stricter for slow-learning' (§11.2 comment)", "+ clip, seed's 1/lr_scale": "max_norm = 1/lr_scale (§11.2 code)"}
    for run, fig in figs.items():
        for i, band in enumerate(BANDS):
            rows.append(report.verdict_row(f"{run} lowers the {band} band's error", report.compare(res.values(run, i), res.values(REFERENCE, i)),
                                           seed_figure=fig, a_name=run, b_name="reference", metric=f"{band} MSE / persistence"))
    return rows


def clip_rows(res: LearningResult) -> list[dict]:
    """Per clipping formula and band: max_norm, mean gradient norm before and after clipping, share of steps clipped."""
    rows = []
    for run, per_seed in res.clip.items():
        for i, band in enumerate(BANDS):
            rows.append({"formula": run, "band": band, "max_norm": per_seed[0]["max_norms"][i],
                         "grad norm before": report.mean_std([s["grad_pre"][i] for s in per_seed]),
                         "grad norm after": report.mean_std([s["grad_post"][i] for s in per_seed]),
                         "steps clipped (%)": report.mean_std([100 * s["clipped"][i] for s in per_seed])})
    return rows


def tightest_band(res: LearningResult, run: str) -> str:
    """The band whose gradient the formula of ``run`` shrinks most (smallest mean after/before ratio)."""
    ratio = np.mean([[a / max(b, 1e-30) for a, b in zip(s["grad_post"], s["grad_pre"])] for s in res.clip[run]], 0)
    return BANDS[int(np.argmin(ratio))]


def plot_curves(res: LearningResult, runs=None, ax=None):
    """Per-band relative test error against step, mean over seeds, one panel per band."""
    import matplotlib.pyplot as plt

    runs = list(LR_ORDERS) if runs is None else runs
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3), sharey=False) if ax is None else (None, ax)
    for i, band in enumerate(BANDS):
        for run in runs:
            c = np.array(res.curves[run], dtype=float)[:, :, i]
            axes[i].plot(res.steps, c.mean(0), label=run)
            axes[i].fill_between(res.steps, c.mean(0) - c.std(0), c.mean(0) + c.std(0), alpha=0.2)
        axes[i].axhline(1.0, color="k", lw=0.8, ls="--")
        axes[i].set(title=f"{band} band", xlabel="training step", ylabel="test MSE / persistence's MSE")
    axes[0].legend(fontsize=8)
    return fig
