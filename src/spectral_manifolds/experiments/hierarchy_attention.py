"""Chapter "Cross-manifold attention and observability", part 1: do attention and its topology help?
(seed 004 §7.1-7.3, §9.1.3, §11.1 ``CrossManifoldAttention``; issue 9, Part IV, chapter 3).

**The task**: next-frame prediction on the three-speed field
(:func:`~spectral_manifolds.hierarchy.datasets.three_speed_field`: a bundled texture split into
M cosine bands, band b translating at its own velocity). The first 75 % of the frames train, the
last 25 % test (chronological, :func:`~spectral_manifolds.hierarchy.evaluate.split_frames`);
frames are standardized by the training segment; windows of ``context`` frames
(:func:`~spectral_manifolds.hierarchy.fields.windows`).

**The models** (``AttentionConfig.variants``): :class:`~spectral_manifolds.hierarchy.model.HierarchicalSpectralModel`
with the fixed partition-of-unity bands (router ``"none"``, §9.2 phase 1), without attention
(fewer parameters), with self-only attention (:data:`SELF_ONLY`: every parameter of the
attention, no band reading another: the equal-parameter control) and with :class:`~spectral_manifolds.hierarchy.cross_attention.CrossManifoldAttention` in each
topology of ``config.topologies`` (§7.3; for M = 3 ``"star"`` is the same graph as
``"hierarchical"``, so the full budget uses M = 4 bands, where they differ). Same data, loss
(next-frame MSE), AdamW, steps and batch order per seed; the seed sets the initialization and
the batch order (the data are the same texture for every seed).

**The classical references** on the same test windows: persistence, and the least-squares complex
multiplier per Fourier mode fitted on each context (``baselines.ls_multiplier``; exact for one
translation per mode, near-exact here: modes in a mask overlap carry two velocities).

:func:`run_topologies` returns a :class:`TopologyResult` (per seed: test MSE relative to
persistence, parameters, seconds); :func:`error_table` and :func:`verdict_rows` give the tables.
The cost side (steps/s, memory as N grows) is :mod:`~spectral_manifolds.experiments.hierarchy_cost`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.hierarchy import baselines, persistence, three_speed_field, windows
from spectral_manifolds.hierarchy.cross_attention import CONTROL_TOPOLOGY, TOPOLOGIES
from spectral_manifolds.hierarchy.evaluate import split_frames
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel

__all__ = ["NO_ATTENTION", "SELF_ONLY", "AttentionConfig", "config_for", "make_windows", "build", "train_steps", "test_mse",
           "TopologyResult", "run_topologies", "error_table", "verdict_rows"]

NO_ATTENTION = "no attention"
#: Attention with every parameter of the topologies but each band attending only to itself
#: (``topology="self"``): the control at equal parameters for "bands gain from each other".
SELF_ONLY = "self only"


@dataclass(frozen=True)
class AttentionConfig:
    """Sizes of the topology comparison (pick with :func:`config_for`)."""

    n: int = 32
    n_bands: int = 4  # M = 4: "star" (hub = band 2) differs from "hierarchical" (a chain)
    frames: int = 48
    context: int = 4
    base_dim: int = 8
    attention_channels: int = 8
    topologies: tuple = TOPOLOGIES
    steps: int = 200
    batch: int = 8
    lr: float = 2e-3
    texture: str = "grass"
    n_seeds: int = 5

    def __post_init__(self):
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        unknown = set(self.topologies) - set(TOPOLOGIES)
        if unknown or not self.topologies:
            raise ValueError(f"topologies must be a non-empty subset of {TOPOLOGIES}, got {self.topologies}")
        for name in ("n", "frames", "context", "base_dim", "attention_channels", "steps", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 2 <= self.n_bands <= 4:
            raise ValueError(f"n_bands must be 2, 3 or 4, got {self.n_bands}")
        split_frames(self.frames, self.context, 1)  # raises when too few frames

    @property
    def variants(self) -> tuple:
        return (NO_ATTENTION, SELF_ONLY) + tuple(self.topologies)


def config_for(budget: str | None = None) -> AttentionConfig:
    """Quick (CI, 2 CPU cores; M = 3, so no star) or full (one GPU) sizes; None: the active budget."""
    quick = AttentionConfig(n=16, n_bands=3, frames=24, context=3, steps=30, batch=4, topologies=("hierarchical", "full"),
                            n_seeds=3)
    return runtime.sized(quick=quick, full=AttentionConfig(), budget_name=budget)


def make_windows(cfg, device=None) -> dict:
    """Standardized train/test windows of the three-speed field: ``train_x (S, H, N, N)``, ``train_y (S, N, N)``, test alike."""
    clip = three_speed_field(cfg.frames, cfg.n, texture_name=cfg.texture, bands=cfg.n_bands)
    n_train, _ = split_frames(cfg.frames, cfg.context, 1)
    x = clip.frames
    mean, std = float(x[:n_train].mean()), float(x[:n_train].std())
    z = torch.as_tensor((x - mean) / std, dtype=torch.float32, device=device)
    tr_x, tr_y = windows(z[:n_train], cfg.context)
    te_x, te_y = windows(z[n_train:], cfg.context)
    return {"train_x": tr_x, "train_y": tr_y, "test_x": te_x, "test_y": te_y}


def build(cfg, variant: str) -> HierarchicalSpectralModel:
    """The model of ``variant`` (:data:`NO_ATTENTION`, :data:`SELF_ONLY` or a topology), router ``"none"``."""
    if variant not in (NO_ATTENTION, SELF_ONLY) and variant not in TOPOLOGIES:
        raise ValueError(f"variant must be {NO_ATTENTION!r}, {SELF_ONLY!r} or one of {TOPOLOGIES}, got {variant!r}")
    att = variant != NO_ATTENTION
    topology = {NO_ATTENTION: "hierarchical", SELF_ONLY: CONTROL_TOPOLOGY}.get(variant, variant)
    return HierarchicalSpectralModel(cfg.n_bands, n=cfg.n, attention=att, topology=topology,
                                     base_dim=cfg.base_dim, attention_channels=cfg.attention_channels)


def train_steps(model, data: dict, *, steps: int, batch: int, lr: float, seed: int) -> list[float]:
    """AdamW on the next-frame MSE for ``steps`` random batches (order fixed by ``seed``); returns the losses."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    xs, ys = data["train_x"], data["train_y"]
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(xs), (batch,), generator=g).to(xs.device)
        loss = torch.mean((model(xs[idx])[0] - ys[idx]) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    model.eval()
    return [float(v) for v in torch.stack(losses).cpu()]


@torch.no_grad()
def test_mse(predict, data: dict, batch: int = 16) -> float:
    """Mean squared next-frame error of ``predict`` (history -> frame) on the test windows."""
    x, y = data["test_x"], data["test_y"]
    se = [((predict(x[i:i + batch]) - y[i:i + batch]) ** 2).sum() for i in range(0, len(x), batch)]
    return float(torch.stack(se).sum() / y.numel())


@dataclass
class TopologyResult:
    """JSON-able: ``rel_mse[name]`` per seed (test MSE / persistence's), ``params[name]``, ``seconds[name]`` per seed."""

    config: dict
    seeds: list
    names: list = field(default_factory=list)
    rel_mse: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    persistence_mse: float = 0.0
    device: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def values(self, name: str) -> np.ndarray:
        return np.asarray(self.rel_mse[name], dtype=float)


def run_topologies(cfg: AttentionConfig, *, progress: bool = True) -> TopologyResult:
    """Train every variant per seed and score it with the classical references (module docstring)."""
    device = runtime.torch_device()
    seeds = report.seeds_for(cfg.n_seeds)
    res = TopologyResult(dataclasses.asdict(cfg), seeds, device=str(device))
    res.names = list(cfg.variants) + ["ls multiplier", "persistence"]
    bar = runtime.progress(total=len(seeds) * len(cfg.variants), desc="topology fits", disable=not progress)
    with runtime.torch_cpu_threads(device):
        data = make_windows(cfg, device)
        p_mse = test_mse(persistence, data)
        ls_mse = test_mse(baselines.ls_multiplier, data)
        res.persistence_mse = p_mse
        for seed in seeds:
            for v in cfg.variants:
                torch.manual_seed(seed)
                model = build(cfg, v).to(device)
                t0 = time.perf_counter()
                train_steps(model, data, steps=cfg.steps, batch=cfg.batch, lr=cfg.lr, seed=seed)
                res.seconds.setdefault(v, []).append(time.perf_counter() - t0)
                res.rel_mse.setdefault(v, []).append(test_mse(lambda h: model(h)[0], data) / p_mse)
                res.params[v] = model.n_parameters
                bar.update(1)
            res.rel_mse.setdefault("ls multiplier", []).append(ls_mse / p_mse)
            res.rel_mse.setdefault("persistence", []).append(1.0)
            for k in ("ls multiplier", "persistence"):
                res.params[k] = 0
                res.seconds.setdefault(k, []).append(0.0)
    bar.close()
    return res


def error_table(res: TopologyResult) -> list[dict]:
    """One row per model: parameters, test MSE / persistence (mean ± std), fit seconds."""
    return [{"model": k, "parameters": res.params[k], "test MSE / persistence": report.mean_std(res.values(k), 3),
             "fit seconds": report.mean_std(res.seconds[k])} for k in res.names]


def verdict_rows(res: TopologyResult) -> list[dict]:
    """Paired by seed: each topology vs no attention and vs self-only attention (equal parameters);
    each topology vs the first; the best learned model vs the multiplier and persistence."""
    cfg_tops = [n for n in res.names if n in TOPOLOGIES]
    rows = []
    metric = "test MSE / persistence"
    for t in cfg_tops:
        rows.append(report.verdict_row(f"attention ({t}) beats no attention", report.compare(res.values(t), res.values(NO_ATTENTION)),
                                       seed_figure="§7.1-7.2 (no number)", a_name=t, b_name=NO_ATTENTION, metric=metric))
        if SELF_ONLY in res.names:
            rows.append(report.verdict_row(f"attention ({t}) beats self-only attention (same parameters)",
                                           report.compare(res.values(t), res.values(SELF_ONLY)),
                                           seed_figure="§7.1 'Coarse provides structural context to fine' (no number)",
                                           a_name=t, b_name=SELF_ONLY, metric=metric))
    for t in cfg_tops[1:]:
        rows.append(report.verdict_row(f"{t} beats {cfg_tops[0]}", report.compare(res.values(t), res.values(cfg_tops[0])),
                                       seed_figure="§7.3 'Start with HIERARCHICAL, try STAR if needed'"
                                       if cfg_tops[0] == "hierarchical" else "—",
                                       a_name=t, b_name=cfg_tops[0], metric=metric))
    learned = [n for n in (NO_ATTENTION, SELF_ONLY) if n in res.names] + cfg_tops
    best = min(learned, key=lambda k: res.values(k).mean())
    rows.append(report.verdict_row(f"best learned model ({best}) beats the per-mode multiplier",
                                   report.compare(res.values(best), res.values("ls multiplier")), a_name=best,
                                   b_name="ls multiplier", metric=metric))
    rows.append(report.verdict_row(f"best learned model ({best}) beats persistence",
                                   report.compare(res.values(best), res.values("persistence")), a_name=best,
                                   b_name="persistence", metric=metric))
    return rows
