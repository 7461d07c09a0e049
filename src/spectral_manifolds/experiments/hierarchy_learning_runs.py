"""The task, per-band error and training loop shared by the per-band learning runs of the chapter
"Per-band learning dynamics" (seed 004 §4.2 option B, §4.3 widths, §6.1 learning rates, §6.2
weight decay, §6.3 EMA, §9.3 losses, §11.2 per-manifold clipping; issue 9, Part IV, chapter 2):
the knobs of :mod:`~spectral_manifolds.experiments.hierarchy_learning` and the interference
experiment of :mod:`~spectral_manifolds.experiments.hierarchy_interference`.

**The task** (:func:`make_task`): the three-speed field of
:func:`~spectral_manifolds.hierarchy.datasets.three_speed_field` with *hard* masks at the
config's cut-offs, so the model's bands are orthogonal projections and each band's truth
(``clip.parts``) is exact. Band b moves ``0.1 * 3^b`` pixels per frame (slow coarse, fast
fine) in a direction drawn per seed (:func:`seed_velocity`, ``(3, 2)``). Training windows
come from the texture ``train_texture``, test windows from ``test_texture`` (same
velocities): the dynamics must generalize, the texture is new. :class:`Task` holds windows
``x: (S, H, N, N)``, targets ``y: (S, N, N)`` and per-band truth ``yb: (S, 3, N, N)``.

**Per-band error** (:func:`band_errors`): the prediction ``(B, N, N)`` projected on each
band's mask (:func:`project`, ``(B, 3, N, N)``), MSE against the band's truth
(:func:`band_mse`, ``(3,)``), divided by persistence's MSE on that band (1 = persistence,
0 = exact). With hard masks the raw per-band MSEs sum to the total MSE (Parseval; tested).
The same projection is used for every model, so the hierarchical model and the single-band
baseline are scored alike.

**Training** (:func:`train`): AdamW on ``loss = MSE(pred, y) + sum_b w_b MSE(out_b, y_b)``,
the §9.3 reconstruction plus per-manifold losses with the §9.3 weights
(``per_band.MANIFOLD_LOSS_WEIGHTS``); ``out_b`` is manifold b's output (for the single-band
model: the projection of its prediction). Learning rates per band from a table
(:data:`LR_ORDERS`: uniform, the seed's §6.1 hierarchy coarse slowest, its reverse), via
``per_band.band_param_groups`` (:func:`lr_table`); the §6.1 per-step decays are left out
(each order keeps its ratios through the run). Optional §6.2 weight decay, §6.3 EMA, and
per-band clipping: the clipping the seed meant (``per_band.clip_norms``, coarse tightest) or
the seed's formula (``per_band.seed_clip_norms``, coarse loosest), both with the fine band's
``max_norm = clip_fine``. Models (:func:`build_model`) start at persistence (``HierarchicalSpectralModel.zero_decoders``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from spectral_manifolds import runtime
from spectral_manifolds.hierarchy import baselines, datasets, per_band
from spectral_manifolds.hierarchy.bands import decompose, masks as band_masks
from spectral_manifolds.hierarchy.fields import persistence, windows
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel

BANDS = ("coarse", "mid", "fine")
#: lr order -> multiplier of ``lr`` per band (coarse, mid, fine); §6.1's ratios are 0.1 / 0.5 / 1.
LR_ORDERS = {"uniform": (1.0, 1.0, 1.0), "hierarchical (§6.1)": (0.1, 0.5, 1.0), "reverse": (1.0, 0.5, 0.1)}
BASELINES = ("persistence", "ls_multiplier")


@dataclass(frozen=True)
class LearningConfig:
    """Sizes of the per-band learning experiments (pick with :func:`config_for`)."""

    n: int = 32
    cutoffs: tuple = (0.1, 0.3)  # §4.2 option B
    factor: int = 8  # texture block-average factor (crop n * factor)
    train_texture: str = "grass"
    test_texture: str = "brick"
    frames: int = 48  # per clip
    history: int = 4
    base_dim: int = 8  # coarse band's width; mid 2x, fine 4x (§4.3)
    batch: int = 16
    steps: int = 300
    lr: float = 3e-3  # the fastest band's lr (Adam)
    clip_fine: float = 0.01  # the fine band's max_norm, shared by both clipping formulas
    log_every: int = 20
    n_seeds: int = 5
    # interference (hierarchy_interference)
    change_step: int = 150  # the fine band's velocity changes here
    fine_velocity_factor: float = -1.0  # new fine velocity = factor x old (reversed)

    def __post_init__(self):
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        if len(self.cutoffs) != 2:
            raise ValueError(f"this chapter uses 3 bands: 2 cut-offs, got {self.cutoffs}")
        for name in ("n", "frames", "history", "base_dim", "batch", "steps", "log_every", "factor"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.frames < self.history + 2:
            raise ValueError(f"frames must exceed history + 1, got {self.frames} and {self.history}")
        if not 0 < self.change_step < self.steps:
            raise ValueError(f"change_step must lie in (0, steps), got {self.change_step}")
        if not (self.lr > 0 and self.clip_fine > 0):
            raise ValueError("lr and clip_fine must be positive")


def config_for(budget: str | None = None) -> LearningConfig:
    """Quick (CI, 2 CPU cores) or full (one GPU) sizes; None: the active budget."""
    quick = LearningConfig(n=16, cutoffs=(0.2, 0.5), factor=16, frames=16, history=3, base_dim=4, batch=8,
                           steps=16, log_every=4, n_seeds=3, change_step=8)
    return runtime.sized(quick=quick, full=LearningConfig(), budget_name=budget)


# --------------------------------------------------------------------------- the task
@dataclass
class Task:
    """Windows ``x: (S, H, N, N)``, ``y: (S, N, N)``, per-band truth ``yb: (S, 3, N, N)``; train and test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    train_yb: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    test_yb: torch.Tensor
    velocity: np.ndarray


def seed_velocity(seed: int) -> np.ndarray:
    """(3, 2) velocities: ``0.1 * 3^b`` pixels/frame, each band at an angle drawn from ``default_rng(seed)``."""
    a = np.random.default_rng(seed).uniform(0, 2 * np.pi, 3)
    return 0.1 * 3.0 ** np.arange(3)[:, None] * np.stack([np.sin(a), np.cos(a)], 1)


def _clip_windows(cfg: LearningConfig, tex: str, velocity) -> tuple:
    clip = datasets.three_speed_field(cfg.frames, cfg.n, texture_name=tex, factor=cfg.factor, bands=tuple(cfg.cutoffs),
                                      velocity=velocity, masks="hard")
    frames = torch.from_numpy(clip.frames)
    x, y = windows(frames, cfg.history)
    yb = torch.stack([windows(frames, cfg.history, target=torch.from_numpy(p))[1] for p in clip.parts], 1)
    return x, y, yb


def make_task(cfg: LearningConfig, seed: int, velocity=None) -> Task:
    """Train windows from ``cfg.train_texture``, test from ``cfg.test_texture`` (module docstring)."""
    v = seed_velocity(seed) if velocity is None else np.asarray(velocity, dtype=float)
    return Task(*_clip_windows(cfg, cfg.train_texture, v), *_clip_windows(cfg, cfg.test_texture, v), v)


def project(pred: torch.Tensor, cfg: LearningConfig) -> torch.Tensor:
    """``pred: (B, N, N)`` -> its bands ``(B, 3, N, N)`` under the hard masks of ``cfg.cutoffs``."""
    m = band_masks(pred.shape[-1], tuple(cfg.cutoffs), "hard", half=True, dtype=pred.dtype, device=pred.device)
    return decompose(pred[:, None], masks=m)[:, :, 0]


def band_mse(pred: torch.Tensor, yb: torch.Tensor, cfg: LearningConfig) -> np.ndarray:
    """Raw per-band MSE ``(3,)`` of ``pred (B, N, N)`` against the band truth ``yb (B, 3, N, N)``."""
    return (project(pred, cfg) - yb).pow(2).mean(dim=(0, 2, 3)).detach().cpu().double().numpy()


def band_errors(pred: torch.Tensor, task: Task, cfg: LearningConfig) -> np.ndarray:
    """Per-band test MSE ``(3,)`` relative to persistence's (module docstring)."""
    ref = band_mse(persistence(task.test_x), task.test_yb, cfg)
    return band_mse(pred, task.test_yb, cfg) / ref


def baseline_errors(task: Task, cfg: LearningConfig) -> dict:
    """``{name: (3,)}`` relative per-band errors of persistence (1) and the least-squares multiplier (exact for translations)."""
    return {name: band_errors(baselines.CLASSICAL[name](task.test_x), task, cfg) for name in BASELINES}


# --------------------------------------------------------------------------- models and training
def build_model(cfg: LearningConfig, single_band: bool = False, **single_kw) -> HierarchicalSpectralModel:
    """The hierarchical model (3 hard bands, no router, no attention) or the single-band baseline, decoders at zero."""
    if single_band:
        m = HierarchicalSpectralModel(tuple(cfg.cutoffs), n=cfg.n, single_band=True, masks="hard", attention=False, **single_kw)
    else:
        m = HierarchicalSpectralModel(tuple(cfg.cutoffs), n=cfg.n, attention=False, masks="hard", base_dim=cfg.base_dim)
    return m.zero_decoders()


def lr_table(order: str, lr: float) -> dict:
    """A §6.1-shaped table ``{row: (lr, 1.0)}`` for :func:`per_band.band_param_groups` (no per-step decay)."""
    scales = dict(zip(BANDS, LR_ORDERS[order]))
    return {row: (lr * scales[row], 1.0) for row in BANDS}


def _band_outputs(model, pred, info, cfg):
    return project(pred, cfg) if model.single_band else info["bands"]


def train(model, task: Task, cfg: LearningConfig, *, seed: int, order: str = "uniform", weight_decay: bool = False,
          clip: str | None = None, ema: bool = False, steps: int | None = None, switch_task: Task | None = None,
          switch_step: int | None = None, device=None) -> dict:
    """Train ``model`` (module docstring); returns per-band curves on ``task``'s test set and diagnostics.

    ``switch_task``/``switch_step``: from that step on, batches come from ``switch_task`` (the
    interference experiment); curves are always scored on ``task``. Returns ``curve`` (logs, 3)
    relative per-band errors, ``steps``, ``final`` (3,), ``ema_final`` (3,) when ``ema``,
    ``grad_pre``/``grad_post`` (3,) mean per-band gradient norms before/after clipping,
    ``clipped`` (3,) the share of steps a band was clipped.
    """
    if clip not in (None, "meant", "seed"):
        raise ValueError(f"clip must be None, 'meant' or 'seed', got {clip!r}")
    steps = cfg.steps if steps is None else steps
    device = runtime.torch_device() if device is None else device
    torch.manual_seed(seed)
    model = model.to(device)
    mods = list(model.manifolds)
    if model.single_band:
        groups = [{"params": list(model.parameters()), "lr": cfg.lr, "weight_decay": 0.0}]
    else:
        wd = per_band.WEIGHT_DECAY if weight_decay else {r: 0.0 for r in BANDS}
        # band_param_groups gives lr = base_lr * scale / scale_fine: base_lr = lr * scale_fine makes it lr * scale
        groups = per_band.band_param_groups(mods, cfg.lr * LR_ORDERS[order][2], lr_table(order, 1.0), weight_decay=wd)
    opt = torch.optim.AdamW(groups)
    norms = None
    if clip is not None:
        norms = per_band.clip_norms(3, cfg.clip_fine) if clip == "meant" else [cfg.clip_fine * c for c in per_band.seed_clip_norms(3)]
    emas = per_band.band_ema(mods) if ema else None
    w = [per_band.MANIFOLD_LOSS_WEIGHTS[b] for b in BANDS]
    gen = torch.Generator().manual_seed(seed)
    to = lambda t: t.to(device)
    tx, tyb = to(task.test_x), to(task.test_yb)
    ref = band_mse(persistence(tx), tyb, cfg)
    pre, post, clipped, curve, logged = [], [], [], [], []

    def evaluate(m):
        m.eval()
        with torch.no_grad():
            p = m(tx)[0]
        m.train()
        return band_mse(p, tyb, cfg) / ref

    for step in range(steps + 1):
        if step % cfg.log_every == 0 or step == steps:
            curve.append(evaluate(model))
            logged.append(step)
        if step == steps:
            break
        src = switch_task if (switch_task is not None and step >= switch_step) else task
        idx = torch.randint(0, src.train_x.shape[0], (cfg.batch,), generator=gen)
        x, y, yb = to(src.train_x[idx]), to(src.train_y[idx]), to(src.train_yb[idx])
        pred, info = model(x, detach=False)  # the per-band terms below need the bands' graph
        out = _band_outputs(model, pred, info, cfg)
        loss = (pred - y).pow(2).mean() + sum(wi * (out[:, i] - yb[:, i]).pow(2).mean() for i, wi in enumerate(w))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if norms is not None:
            g = per_band.clip_band_grads(mods, norms)
            pre.append(g)
            post.append([min(a, c) for a, c in zip(g, norms)])
            clipped.append([a > c for a, c in zip(g, norms)])
        opt.step()
        if emas is not None:
            for e, m in zip(emas, mods):
                e.update_parameters(m)
    res = {"curve": np.array(curve).tolist(), "steps": logged, "final": curve[-1].tolist()}
    if norms is not None:
        res.update(grad_pre=np.mean(pre, 0).tolist(), grad_post=np.mean(post, 0).tolist(),
                   clipped=np.mean(clipped, 0).tolist(), max_norms=list(norms))
    if emas is not None:
        shadow = copy.deepcopy(model)
        for m, e in zip(shadow.manifolds, emas):
            m.load_state_dict(e.module.state_dict())
        res["ema_final"] = evaluate(shadow).tolist()
    return res
