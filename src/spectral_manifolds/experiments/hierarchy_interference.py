"""Chapter "Per-band learning dynamics", part 2: does a change in the fine band make the coarse
band forget? (seed 004 §1.1 "Interference crosses scale boundaries", §1.2 "Interference
contained within bands", §10.1 "Coarse manifold isolated from fine interference"; issue 9, chapter 2).

On the task of :mod:`~spectral_manifolds.experiments.hierarchy_learning_runs`, train for
``change_step`` steps, then switch the training batches to a field whose fine band moves at
``fine_velocity_factor`` times its old velocity (coarse and mid bands unchanged, bit for bit),
and train to ``steps``. The coarse band's test error on the *original* field is logged
throughout: **forgetting** = coarse error at the end minus coarse error at the change
(relative to persistence, as everywhere in the chapter; > 0: the coarse band got worse although
its data never changed). Two models, same optimizer (uniform lr, AdamW), same loss, same
steps: the hierarchical model (separate manifolds per band) and the single-band model (one
shared manifold), at the same parameter count within 5 % (:func:`matched_single_band`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.experiments.hierarchy_learning_runs import BANDS, LearningConfig, build_model, make_task, seed_velocity, train
from spectral_manifolds.hierarchy.manifold import capacity

MODELS = ("hierarchical (separate manifolds)", "single band (one shared manifold)")


def matched_single_band(target: int, tol: float = 0.05) -> dict:
    """``{dim, kernel_size, heads}`` of the single-band manifold closest to ``target`` parameters
    (``capacity`` of :mod:`~spectral_manifolds.hierarchy.manifold`, text layout); ValueError if none is within ``tol``."""
    best = None
    for k in (3, 5, 7):
        for d in range(4, 257, 2):  # even widths (hidden d/2); 4 attention heads where d allows, else 2
            c = capacity(d, k)
            if best is None or abs(c - target) < abs(best[0] - target):
                best = (c, {"dim": d, "kernel_size": k, "heads": 4 if d % 4 == 0 else 2})
    if abs(best[0] - target) > tol * target:
        raise ValueError(f"no single-band manifold within {tol:.0%} of {target} parameters (closest {best[0]})")
    return best[1]


@dataclass
class InterferenceResult:
    """JSON-able: ``curves[model]`` per seed (logs, 3) on the original field, ``forgetting[model]`` and
    ``fine_after[model]`` per seed, ``parameters[model]``."""

    config: dict
    seeds: list
    curves: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)
    forgetting: dict = field(default_factory=dict)
    coarse_at_change: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def changed_velocity(cfg: LearningConfig, seed: int) -> np.ndarray:
    """The seed's velocities with the fine band's multiplied by ``cfg.fine_velocity_factor``."""
    v = seed_velocity(seed).copy()
    v[2] *= cfg.fine_velocity_factor
    return v


def run_interference(cfg: LearningConfig, *, progress: bool = True) -> InterferenceResult:
    """Both models of :data:`MODELS` per seed (module docstring)."""
    t0 = time.perf_counter()
    seeds = report.seeds_for(cfg.n_seeds)
    res = InterferenceResult(dataclasses.asdict(cfg), seeds)
    bar = runtime.progress(total=cfg.n_seeds * len(MODELS), desc="interference runs", disable=not progress)
    device = runtime.torch_device()
    with runtime.torch_cpu_threads(device):
        for seed in seeds:
            task, new = make_task(cfg, seed), make_task(cfg, seed, changed_velocity(cfg, seed))
            for name in MODELS:
                torch.manual_seed(seed)
                hier = build_model(cfg)
                model = hier if name == MODELS[0] else build_model(cfg, single_band=True, **matched_single_band(hier.n_parameters))
                res.parameters[name] = model.n_parameters
                out = train(model, task, cfg, seed=seed, order="uniform", switch_task=new, switch_step=cfg.change_step, device=device)
                c = np.array(out["curve"])
                at = out["steps"].index(min(out["steps"], key=lambda s: abs(s - cfg.change_step)))
                res.curves.setdefault(name, []).append(c.tolist())
                res.coarse_at_change.setdefault(name, []).append(float(c[at, 0]))
                res.forgetting.setdefault(name, []).append(float(c[-1, 0] - c[at, 0]))
                res.steps = out["steps"]
                bar.update(1)
    bar.close()
    res.seconds = time.perf_counter() - t0
    return res


def summary_rows(res: InterferenceResult) -> list[dict]:
    """Per model: parameters, coarse error at the change and at the end, forgetting, final errors per band."""
    rows = []
    for name in MODELS:
        c = np.array(res.curves[name], dtype=float)
        rows.append({"model": name, "parameters": res.parameters[name],
                     "coarse at change": report.mean_std(res.coarse_at_change[name]),
                     "coarse at end": report.mean_std(c[:, -1, 0]),
                     "forgetting (end - change)": report.mean_std(res.forgetting[name]),
                     **{f"{b} at end": report.mean_std(c[:, -1, i]) for i, b in enumerate(BANDS) if i > 0}})
    return rows


def verdict_rows(res: InterferenceResult) -> list[dict]:
    """Separate manifolds forget less than one shared manifold; and each model forgets at all (forgetting > 0)."""
    h, s = (np.array(res.forgetting[m]) for m in MODELS)
    zero = np.zeros_like(h)
    return [report.verdict_row("separate manifolds: the coarse band forgets less", report.compare(h, s),
                               seed_figure="'Coarse manifold isolated from fine interference' (§10.1)",
                               a_name="hierarchical", b_name="single band", metric="forgetting (coarse MSE / persistence)"),
            report.verdict_row("hierarchical: the coarse band forgets (forgetting > 0)", report.compare(zero, h),
                               a_name="0", b_name="hierarchical", metric="forgetting"),
            report.verdict_row("single band: the coarse band forgets (forgetting > 0)", report.compare(zero, s),
                               seed_figure="'Interference crosses scale boundaries' (§1.1)", a_name="0", b_name="single band", metric="forgetting")]


def plot_interference(res: InterferenceResult):
    """Coarse (left) and fine (right) test error on the original field against step; the change as a vertical line."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
    for name in MODELS:
        c = np.array(res.curves[name], dtype=float)
        for ax, i in zip(axes, (0, 2)):
            ax.plot(res.steps, c[:, :, i].mean(0), label=name)
            ax.fill_between(res.steps, c[:, :, i].min(0), c[:, :, i].max(0), alpha=0.2)
    for ax, band in zip(axes, ("coarse", "fine")):
        ax.axvline(res.config["change_step"], color="k", ls=":", label="fine band changes")
        ax.set(title=f"{band} band, original field", xlabel="training step", ylabel="test MSE / persistence's MSE")
    axes[0].legend(fontsize=8)
    return fig
