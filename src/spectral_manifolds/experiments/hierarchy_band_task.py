"""The two-speed (or M-speed) field task, the band predictor and its training loop of the
chapter "Bands and routing" (seed 004 §4.2 option A/B, §5.1-5.4, §8.3, §11.1 ``LearnedRouter``,
§11.2 ``lambda_entropy``; issue 9, Part IV, chapter 1), shared by the boundary experiment
(:mod:`~spectral_manifolds.experiments.hierarchy_routing`) and the collapse experiment
(:mod:`~spectral_manifolds.experiments.hierarchy_collapse`).

* :func:`make_task` -- :func:`~spectral_manifolds.hierarchy.fields.advection_diffusion` on an
  N x N torus, hard band masks at ``cutoffs``, one integer velocity per band, a white
  spectrum (:func:`white_amplitudes`); returns the frames ``(S, T, N, N)`` and the
  next-frame windows of history 1 (``train_x``/``test_x``: ``(B, 1, N, N)``, ``*_y``: ``(B, N, N)``).
* :class:`BandPredictor` -- a router of :data:`ROUTERS` splits ``x: (B, 1, N, N)`` into M
  bands ``(B, M, 1, N, N)``, one 3 x 3 circular kernel per band, summed: ``(B, N, N)``.
* :func:`train` -- Adam on the relative MSE plus a regularizer of :data:`REGULARIZERS`
  (:func:`reg_loss`, on gates ``(B, M, T, N, N)``); :func:`evaluate` gives the test relative
  L2 error (:func:`rel_error`) and, for the seed's gate, the usage / entropy / mutual
  information / Switch statistics.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from spectral_manifolds import runtime
from spectral_manifolds.hierarchy import (
    LearnableBandEdges, ModeRouter, SeedRouter, advection_diffusion, decompose, masks, next_frame_task,
    routing_losses as RL, spatial_gate,
)

ROUTERS = ("fixed", "seed gate", "edges", "modes", "exact")
#: name -> (term, weight); the term is added to the loss times the weight (see :func:`reg_loss`).
REGULARIZERS = {
    "none": ("none", 0.0),
    "entropy": ("entropy", 0.1),  # the seed's -0.1 H(g) (§5.3 item 2, §11.2 lambda_entropy = 0.1)
    "Switch": ("switch", 0.01),  # Fedus et al. 2021: alpha = 0.01
    "usage variance": ("variance", 0.09),  # lambda = alpha M^2 for M = 3: the soft Switch's gradient at alpha
    "mutual information": ("mi", 0.1),  # -0.1 I(token; expert), the weight of the seed's entropy term
    "z-loss": ("z", 1e-3),  # Zoph et al. 2022: 1e-3
}


# --------------------------------------------------------------------------- the task
def white_amplitudes(n: int, cutoffs) -> list[float]:
    """Per-band RMS ``a_b = sqrt(share of modes in band b)`` (hard masks): a white spectrum."""
    share = masks(n, cutoffs, "hard", dtype=torch.float64).mean(dim=(1, 2))
    return [float(s) ** 0.5 for s in share]


def make_task(n: int, cutoffs, velocities, sequences: int, frames: int, seed: int):
    """The multi-speed field of the module docstring and its next-frame windows (history 1)."""
    f = advection_diffusion(sequences, frames, n, bands=tuple(cutoffs), velocity=tuple(velocities), masks="hard",
                            amplitudes=white_amplitudes(n, tuple(cutoffs)), seed=seed)
    return f, next_frame_task(f, history=1)


class BandPredictor(nn.Module):
    """Route ``x: (B, 1, N, N)`` into M bands, one 3 x 3 circular kernel per band, sum: ``(B, N, N)``.

    ``router`` in :data:`ROUTERS`; ``cutoffs`` the bands the router starts from (``exact``:
    the true cut-offs, hard masks). Kernels start at the identity (persistence).
    ``forward`` returns ``(prediction, gates, logits)``; gates ``(B, M, 1, N, N)`` and the
    tempered logits are those of the seed gate, None for the other routers.
    """

    def __init__(self, n: int, cutoffs, router: str = "fixed", *, router_dim: int = 32):
        super().__init__()
        if router not in ROUTERS:
            raise ValueError(f"router must be one of {ROUTERS}, got {router!r}")
        self.n, self.kind, self.m = n, router, len(cutoffs) + 1
        w = torch.zeros(self.m, 1, 3, 3)
        w[:, 0, 1, 1] = 1.0
        self.kernels = nn.Parameter(w)
        self.register_buffer("fixed_masks", masks(n, tuple(cutoffs), "hard" if router == "exact" else "cosine", half=True))
        self.router = {"edges": lambda: LearnableBandEdges(n, tuple(cutoffs)), "modes": lambda: ModeRouter(n, tuple(cutoffs)),
                       "seed gate": lambda: SeedRouter(self.m, router_dim)}.get(router, lambda: None)()

    def split(self, x: torch.Tensor):
        """Routed bands ``(B, M, 1, N, N)``, gates and tempered logits (seed gate only)."""
        if self.kind in ("edges", "modes"):
            return self.router(x), None, None
        bands = decompose(x, masks=self.fixed_masks)
        if self.kind != "seed gate":
            return bands, None, None
        z = self.router.tempered_logits(x)
        g = torch.softmax(z, dim=-4)  # the seed's soft routing (§5.4: "Train with SOFT routing")
        return spatial_gate(bands, g), g, z

    def forward(self, x: torch.Tensor):
        routed, g, z = self.split(x)
        b = routed[:, :, 0]
        out = F.conv2d(F.pad(b, (1, 1, 1, 1), mode="circular"), self.kernels, groups=self.m).sum(1)
        return out, g, z

    def router_parameters(self) -> list:
        return [] if self.router is None else list(self.router.parameters())


def reg_loss(name: str, g: torch.Tensor | None, z: torch.Tensor | None) -> torch.Tensor:
    """The regularizer ``name`` of :data:`REGULARIZERS` times its weight, on gates ``(B, M, T, N, N)``."""
    term, w = REGULARIZERS[name]
    if term == "none" or g is None:
        return torch.zeros(())
    value = {"entropy": lambda: -RL.entropy(g, dim=-4), "switch": lambda: RL.switch_loss(g, dim=-4),
             "variance": lambda: RL.usage_variance(g, dim=-4), "mi": lambda: -RL.mutual_information(g, dim=-4),
             "z": lambda: RL.z_loss(z, dim=-4)}[term]()
    return w * value


def rel_error(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Relative L2 error ``|pred - y| / |y|`` over the whole set."""
    return float((pred - y).detach().norm() / y.norm())


def train(task, model: BandPredictor, *, steps: int, batch: int, lr: float, router_lr: float, seed: int,
          regularizer: str = "none", log_every: int = 10, device=None) -> dict:
    """Adam on the relative MSE (+ the regularizer); returns the history and test metrics.

    History (every ``log_every`` steps): ``step``, ``loss``, ``edges`` (``edges`` router),
    ``usage`` (M,) mean gate of the batch (seed gate). Metrics: ``test_error`` (relative L2).
    """
    device = device or runtime.torch_device()
    model = model.to(device)
    xs, ys = task.train_x.to(device), task.train_y.to(device)
    groups = [{"params": [model.kernels], "lr": lr}]
    if model.router_parameters():
        groups.append({"params": model.router_parameters(), "lr": router_lr})
    opt = torch.optim.Adam(groups)
    g = torch.Generator().manual_seed(seed)
    hist = {"step": [], "loss": [], "edges": [], "usage": []}
    scale = ys.pow(2).mean()
    for step in range(steps + 1):
        idx = torch.randint(0, xs.shape[0], (batch,), generator=g).to(device)
        pred, gates, z = model(xs[idx])
        loss = (pred - ys[idx]).pow(2).mean() / scale
        total = loss + reg_loss(regularizer, gates, z).to(loss)
        if step % log_every == 0 or step == steps:
            hist["step"].append(step)
            hist["loss"].append(float(loss.detach()))
            if model.kind == "edges":
                hist["edges"].append(model.router.edges().detach().cpu().tolist())
            if gates is not None:
                hist["usage"].append(RL.usage(gates.detach(), dim=-4).cpu().tolist())
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
    return {"history": hist, **evaluate(task, model, device)}


@torch.no_grad()
def evaluate(task, model: BandPredictor, device) -> dict:
    """Test relative error and, for gated routers, the gate statistics on the test inputs."""
    model.eval()
    pred, gates, _ = model(task.test_x.to(device))
    out = {"test_error": rel_error(pred, task.test_y.to(device))}
    if gates is not None:
        m = gates.shape[-4]
        p = RL.usage(gates, dim=-4)
        out.update(usage=p.cpu().tolist(), max_usage=float(p.max()),
                   entropy=float(RL.entropy(gates, dim=-4)) / math.log(m),
                   mi=float(RL.mutual_information(gates, dim=-4)) / math.log(m),
                   switch=float(RL.switch_loss(gates, dim=-4)), soft_switch=float(RL.switch_loss(gates, dim=-4, soft=True)),
                   variance_form=float(1 + m ** 2 * RL.usage_variance(gates, dim=-4)))
    model.train()
    return out
