"""Chapter "Bands and routing", part 3: routing collapse of the seed's router and the regularizers
(seed 004 §5.3 "Preventing Routing Collapse", §5.4, §8.3 alerts, §11.2 ``lambda_entropy``;
issue 9, Part IV, chapter 1; DESIGN.md "Known traps", routing balance).

The seed's router (``SeedRouter``, soft gates, its §5.4 recommendation) on the 3-band
version of the task of :mod:`~spectral_manifolds.experiments.hierarchy_band_task` (data and
bands both at §4.2's 0.1 and 0.3 of Nyquist, one integer velocity per band), so that any
gate that is constant over the pixels is harmless (each band's kernel absorbs it) and a
gate near 0 loses that band. The trigger: the router's learning rate times
``lr_multiplier`` (100), from two normal rates: §6.1's 0.0003 (the gates drift, the
regularizers can act) and the boundary experiment's 0.02 (the multiplied step saturates
the softmax at once). :func:`run_collapse` trains, per seed, the normal learning rate
without a regularizer and the multiplied one with each regularizer of
:data:`~spectral_manifolds.experiments.hierarchy_band_task.REGULARIZERS` at its weight.
:func:`collapse_rows` gives the verdicts: collapse (largest usage), uniformity (per-token
entropy), confident balance (mutual information), the task's error; :func:`identity_rows`
checks soft Switch = 1 + M^2 Var_pop(P) on every trained router.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.experiments.hierarchy_band_task import REGULARIZERS, BandPredictor, make_task, train
from spectral_manifolds.experiments.hierarchy_routing import COLLAPSE_ALERT, RoutingConfig

NORMAL = "normal lr, none"  # the run at the router's normal learning rate, no regularizer
METRICS = ("max_usage", "entropy", "mi", "test_error", "switch", "soft_switch", "variance_form")


def run_name(reg: str) -> str:
    """Name of the run with regularizer ``reg`` at the multiplied router learning rate."""
    return f"lr x100, {reg}"


@dataclass
class CollapseResult:
    """JSON-able: ``metrics[run][metric]`` per seed (``max_usage``, ``entropy`` and ``mi`` over
    log M, ``test_error``, ``switch``, ``soft_switch``, ``variance_form``), ``usage[run]``
    per seed the final usage (M,), ``curves[run]`` per seed the usage (log steps, M)."""

    config: dict
    seeds: list
    runs: list = field(default_factory=list)
    router_lr: float = 0.0  # the normal router learning rate of this result
    metrics: dict = field(default_factory=dict)
    usage: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def values(self, run: str, metric: str) -> np.ndarray:
        return np.array(self.metrics[run][metric], dtype=float)

    def curve(self, run: str) -> np.ndarray:
        """``(seeds, log steps, M)`` usage curves."""
        return np.array(self.curves[run], dtype=float)


def plan(cfg: RoutingConfig, router_lr: float | None = None) -> dict:
    """Run name -> (router learning rate, regularizer); ``router_lr`` the normal rate
    (default ``cfg.collapse_router_lr``), multiplied by ``cfg.lr_multiplier`` in every run but the first."""
    base = cfg.collapse_router_lr if router_lr is None else float(router_lr)
    if not base > 0:
        raise ValueError(f"router_lr must be positive, got {router_lr!r}")
    out = {NORMAL: (base, "none")}
    for reg in cfg.regularizers:
        out[run_name(reg)] = (base * cfg.lr_multiplier, reg)
    return out


def run_collapse(cfg: RoutingConfig, router_lr: float | None = None, *, progress: bool = True) -> CollapseResult:
    """Train the seed's router for every run of :func:`plan`, per seed (module docstring).

    ``router_lr``: the normal router learning rate (default §6.1's ``cfg.collapse_router_lr``;
    the chapter also runs the boundary experiment's ``cfg.router_lr``)."""
    t0 = time.perf_counter()
    seeds = report.seeds_for(cfg.n_seeds)
    runs = plan(cfg, router_lr)
    res = CollapseResult(dataclasses.asdict(cfg), seeds, list(runs), router_lr=runs[NORMAL][0])
    res.metrics = {r: {m: [] for m in METRICS} for r in runs}
    bar = runtime.progress(total=cfg.n_seeds * len(runs), desc="router fits", disable=not progress)
    device = runtime.torch_device()
    with runtime.torch_cpu_threads(device):
        for seed in seeds:
            _, task = make_task(cfg.collapse_n, cfg.collapse_cutoffs, cfg.collapse_velocities, cfg.sequences, cfg.frames, seed)
            for run, (router_lr, reg) in runs.items():
                torch.manual_seed(seed)
                model = BandPredictor(cfg.collapse_n, cfg.collapse_cutoffs, "seed gate", router_dim=cfg.router_dim)
                out = train(task, model, steps=cfg.collapse_steps, batch=cfg.batch, lr=cfg.collapse_lr, router_lr=router_lr, seed=seed,
                            regularizer=reg, log_every=cfg.log_every, device=device)
                for m in METRICS:
                    res.metrics[run][m].append(out[m])
                res.usage.setdefault(run, []).append(out["usage"])
                res.curves.setdefault(run, []).append(out["history"]["usage"])
                res.steps = out["history"]["step"]
                bar.update(1)
    bar.close()
    res.seconds = time.perf_counter() - t0
    return res


def summary_rows(res: CollapseResult) -> list[dict]:
    """One row per run: weight, final usage, largest usage, collapsed seeds (> the §8.3 80 %),
    per-token entropy and mutual information (over log M), the test error; mean ± std."""
    rows = []
    for run in res.runs:
        reg = "none" if run == NORMAL else run.split(", ", 1)[1]
        u = np.array(res.usage[run])
        mx = res.values(run, "max_usage")
        rows.append({"run": run, "weight": REGULARIZERS[reg][1], "usage P (mean over seeds)": ", ".join(f"{p:.2f}" for p in u.mean(0)),
                     "largest usage": report.mean_std(mx), f"seeds > {COLLAPSE_ALERT:.0%}": f"{int((mx > COLLAPSE_ALERT).sum())}/{mx.size}",
                     "H(g) / log M": report.mean_std(res.values(run, "entropy").round(4)),
                     "I / log M": report.mean_std(res.values(run, "mi").round(4)),
                     "test error (%)": report.mean_std(100 * res.values(run, "test_error"))})
    return rows


def collapse_rows(res: CollapseResult) -> list[dict]:
    """Verdict rows, paired by seed: the trigger collapses the router (largest usage above the
    normal run's); each regularizer against the unregularized multiplied run on the largest
    usage (prevents collapse), the per-token entropy (pushes to uniform) and the mutual
    information (confident, balanced routing); every run's largest usage against §8.3's
    80 % alert (below it: "reproduced"); the error against the normal run."""
    x = run_name("none")
    rows = [report.verdict_row("lr x100 collapses the seed's router", report.compare(res.values(x, "max_usage"), res.values(NORMAL, "max_usage"), lower_is_better=False),
                               seed_figure="'Routing could collapse' (§5.3)", a_name="x100", b_name="normal", metric="largest usage")]
    for run in res.runs:
        if run in (NORMAL, x):
            continue
        reg = run.split(", ", 1)[1]
        for metric, claim, lower, label in (("max_usage", "prevents collapse", True, "largest usage"),
                                            ("entropy", "raises per-token entropy", False, "H(g) / log M"),
                                            ("mi", "raises mutual information", False, "I / log M")):
            rows.append(report.verdict_row(f"{reg} {claim}", report.compare(res.values(run, metric), res.values(x, metric), lower_is_better=lower),
                                           seed_figure=_seed_words(reg), a_name=reg, b_name="none", metric=label + ", lr x100"))
    for run in res.runs:
        alert = [COLLAPSE_ALERT] * len(res.seeds)
        rows.append(report.verdict_row(f"{run}: largest usage stays below the {COLLAPSE_ALERT:.0%} alert",
                                       report.compare(res.values(run, "max_usage"), alert), seed_figure="'One manifold has >80% of traffic' (§8.3)",
                                       a_name=run, b_name="alert", metric="largest usage"))
    for run in res.runs[1:]:
        rows.append(report.verdict_row(f"{run}: error lower than at the normal lr", report.compare(res.values(run, "test_error") * 100, res.values(NORMAL, "test_error") * 100),
                                       a_name=run, b_name="normal lr", metric="test error (%)"))
    return rows


def _seed_words(reg: str) -> str:
    return {"entropy": "'Encourages routing to spread across manifolds' (§5.3)",
            "usage variance": "'Penalizes imbalanced manifold usage' (§5.3)"}.get(reg, "— (not in the seed)")


def identity_rows(res: CollapseResult) -> list[dict]:
    """Per run, over seeds: the largest ``|soft Switch - (1 + M^2 Var_pop(P))|``, the soft
    Switch (``M sum P_i^2``) and the hard Switch (``M sum f_i P_i``) of the final gates."""
    rows = []
    for run in res.runs:
        s, v = res.values(run, "soft_switch"), res.values(run, "variance_form")
        rows.append({"run": run, "soft Switch M Σ P²": report.mean_std(s), "1 + M² Var_pop(P)": report.mean_std(v),
                     "max |difference|": float(np.abs(s - v).max()), "hard Switch M Σ f P": report.mean_std(res.values(run, "switch"))})
    return rows


def contrast_rows(res: CollapseResult) -> list[dict]:
    """Verdict rows between regularizers (all at the multiplied rate, paired by seed): the seed's
    entropy term against mutual information (uniform vs confident routing), and the Switch
    loss against the usage variance (one regularizer, Section 4 of the chapter)."""
    pairs = (("entropy", "mutual information", "entropy", False, "H(g) / log M", "entropy: pixels more uniform than with mutual information"),
             ("mutual information", "entropy", "mi", False, "I / log M", "mutual information: more confident, balanced routing than entropy"),
             ("mutual information", "Switch", "max_usage", True, "largest usage", "mutual information: lower largest usage than Switch"),
             ("Switch", "usage variance", "max_usage", True, "largest usage", "Switch: lower largest usage than usage variance"))
    rows = []
    for a, b, metric, lower, label, claim in pairs:
        ra, rb = run_name(a), run_name(b)
        if ra in res.metrics and rb in res.metrics:
            rows.append(report.verdict_row(claim, report.compare(res.values(ra, metric), res.values(rb, metric), lower_is_better=lower),
                                           seed_figure=_seed_words(a), a_name=a, b_name=b, metric=label + ", lr x100"))
    return rows
