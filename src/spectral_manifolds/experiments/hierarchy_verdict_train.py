"""The training loop of the chapter "Phased training and the verdict" (seed 004 §6.1, §6.3, §9.2, §9.3; issue 9, chapter 4).

One trainer for every learned model of the chapter, plugged into
:func:`~spectral_manifolds.hierarchy.evaluate.evaluate_next_frame` through its ``trainer`` hook, so
that all models see the same windows, batch size, batch order (one ``randperm`` per epoch from
``torch.Generator().manual_seed(seed)``, as the default trainer), number of steps and base ``lr``.
:func:`fit` differs from the default trainer only where the seed asks for it:

- every model starts at persistence (:func:`baselines.start_at_persistence`, the residual identity;
  §9.1.3 "identity-like"), the hierarchical model and the baselines alike;
- loss: next-frame MSE; for a hierarchical model plus the §9.3 per-manifold terms
  ``sum_b w_b MSE(out_b, y_b)`` (``per_band.MANIFOLD_LOSS_WEIGHTS``: coarse 1, mid 0.5, fine 0.3),
  ``y_b = model.band_targets(y)``. The §9.3 routing, entropy and spectral terms are off in every run
  (chapter "Bands and routing" compares them), so phased and all-at-once runs differ in the schedule only;
- optimizer: AdamW. A hierarchical model gets ``per_band.band_param_groups`` (§6.2 weight decays) with
  the learning-rate table :data:`LR_TABLES` (``"per_band"``: the §6.1 ratios, fine = ``lr``; ``"uniform"``:
  every group at ``lr``). The §6.1 per-step decays (0.999^step ...) are left out, as in the chapter
  "Per-band learning dynamics": with them the fine rate falls below the coarse one after 254 steps.
  Other models: one group at ``lr``, AdamW's default weight decay 0.01;
- ``ema``: ``per_band.band_ema`` (§6.3 decays 0.9999 / 0.999 / 0.99) updated after every step; its
  weights replace the manifolds' at the end ("For inference, use EMA weights");
- ``phased``: §9.2's four phases (``per_band.PHASES``) rescaled to the run (:func:`scaled_phases`),
  applied by ``per_band.PhaseScheduler.apply`` before each step (frozen components get no gradient),
  the phase's losses, and phase 4's lr factor through ``per_band.band_lr_scheduler``.

``log`` (a dict, optional) receives per label a list of phases with the components whose parameters
changed during each phase (:func:`fit`), the check that the scheduler touched the intended groups.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from spectral_manifolds import validate
from spectral_manifolds.hierarchy import baselines, per_band
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel

__all__ = ["LR_TABLES", "PHASE_FRACTIONS", "Training", "PLAIN", "scaled_phases", "param_groups", "batch_loss", "fit"]

#: learning-rate tables for ``per_band.band_param_groups`` (rows of §6.1; per-step decay 1.0 = none).
LR_TABLES = {
    "per_band": {row: (lr, 1.0) for row, (lr, _) in per_band.LR_TABLE.items()},
    "uniform": {row: (1e-3, 1.0) for row in per_band.LR_TABLE},
}
#: §9.2's phase starts (steps 5000, 15000, 30000) as fractions of the run, reading phase 4
#: ("30000+") as 10000 more steps: 5000 / 40000, 15000 / 40000, 30000 / 40000 (phase 4's length is ours).
PHASE_FRACTIONS = (0.125, 0.375, 0.75)


@dataclass(frozen=True)
class Training:
    """How :func:`fit` trains one model: ``lr`` a key of :data:`LR_TABLES`, §6.3 ``ema``, §9.2 ``phased``."""

    lr: str = "per_band"
    ema: bool = True
    phased: bool = False

    def __post_init__(self):
        validate.choice("lr", self.lr, tuple(LR_TABLES))


#: what every non-hierarchical model gets (the options only act on a hierarchical model).
PLAIN = Training(lr="uniform", ema=False, phased=False)


def scaled_phases(total_steps: int, fractions=PHASE_FRACTIONS) -> per_band.PhaseScheduler:
    """§9.2's :data:`per_band.PHASES` with starts at ``round(f * total_steps)``, each phase >= 1 step."""
    validate.positive_int("total_steps", total_steps)
    if total_steps < len(per_band.PHASES):
        raise ValueError(f"four phases need at least 4 steps, got total_steps={total_steps}")
    starts = [0]
    for i, f in enumerate(fractions, 1):
        starts.append(min(max(starts[-1] + 1, round(f * total_steps)), total_steps - (len(fractions) - i) - 1))
    ends = starts[1:] + [None]
    return per_band.PhaseScheduler(tuple(dataclasses.replace(p, start=s, end=e)
                                         for p, s, e in zip(per_band.PHASES, starts, ends)))


def _hierarchical(module) -> bool:
    return isinstance(module, HierarchicalSpectralModel) and not module.single_band


def param_groups(module, training: Training, lr: float) -> list[dict]:
    """AdamW groups: per band / router / attention for a hierarchical model (module docstring), else one."""
    if not _hierarchical(module):
        return [{"params": list(module.parameters()), "lr": lr, "lr_decay": 1.0, "name": "all"}]
    return per_band.band_param_groups(module.manifolds, lr, LR_TABLES[training.lr], router=module.router,
                                      attention=module.attention)


def _components(module) -> dict:
    parts = {"manifolds": module.manifolds, "router": module.router, "attention": module.attention}
    return {k: v for k, v in parts.items() if v is not None}


def _snapshot(parts: dict) -> dict:
    return {k: torch.cat([p.detach().flatten().clone() for p in m.parameters()]) for k, m in parts.items()}


def batch_loss(module, xb, yb, losses) -> tuple[torch.Tensor, torch.Tensor]:
    """(training loss, next-frame MSE) of a batch ``xb (B, H, N, N)`` -> ``yb (B, N, N)``.

    ``losses``: the §9.3 terms that are on (a phase's ``losses``): ``"reconstruction"`` the next-frame
    MSE, ``"manifold"`` the per-band terms ``sum_b w_b MSE(out_b, y_b)``; any other term is ignored.
    A non-hierarchical model always trains on the next-frame MSE.
    """
    if not _hierarchical(module):
        mse = torch.mean((_predict(module, xb) - yb) ** 2)
        return mse, mse
    pred, info = module(xb, detach=False)
    mse = torch.mean((pred - yb) ** 2)
    loss = mse if "reconstruction" in losses else pred.new_zeros(())
    if "manifold" in losses:
        target = module.band_targets(yb)
        weights = [per_band.MANIFOLD_LOSS_WEIGHTS[b] for b in per_band.band_names(module.n_bands)]
        loss = loss + sum(w * torch.mean((info["bands"][:, i] - target[:, i]) ** 2) for i, w in enumerate(weights))
    return loss, mse


def _predict(module, xb) -> torch.Tensor:
    out = module(xb)
    return out[0] if isinstance(out, tuple) else out


def fit(module, x, y, *, epochs, batch_size, lr, seed, bar, label, trainings: dict | None = None,
        log: dict | None = None) -> list[float]:
    """Train ``module`` on windows ``x (S, H, N, N)`` -> ``y (S, N, N)`` (module docstring); per-epoch training MSE.

    ``trainings``: label -> :class:`Training` (labels not in it: :data:`PLAIN`). The signature is the
    ``trainer`` hook of ``evaluate_next_frame``; bind ``trainings``/``log`` with ``functools.partial``.
    """
    training = (trainings or {}).get(label, PLAIN)
    baselines.start_at_persistence(module)
    hier = _hierarchical(module)
    total = epochs * math.ceil(len(x) / batch_size)
    opt = torch.optim.AdamW(param_groups(module, training if hier else PLAIN, lr), lr=lr)
    phases = scaled_phases(total) if (hier and training.phased) else None
    sched = per_band.band_lr_scheduler(opt, phases)
    ema = per_band.band_ema(module.manifolds) if (hier and training.ema) else None
    parts = _components(module) if hier else {}
    g = torch.Generator().manual_seed(seed)
    step, hist, phase_log, current, snap = 0, [], [], None, None
    module.train()
    for _ in range(epochs):
        run = torch.zeros((), device=x.device)
        for idx in torch.randperm(len(x), generator=g).split(batch_size):
            if phases is not None:
                phase = phases.apply(step, parts)
                if phase.name != current:
                    if snap is not None:
                        phase_log[-1]["changed"] = _changed(snap, parts)
                    phase_log.append({"phase": phase.name, "start": step, "train": sorted(phase.train)})
                    current, snap = phase.name, _snapshot(parts)
                losses = phase.losses
            else:
                losses = {"reconstruction", "manifold"}
            loss, mse = batch_loss(module, x[idx], y[idx], losses)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                for e, m in zip(ema, module.manifolds):
                    e.update_parameters(m)
            run = run + mse.detach() * len(idx)
            step += 1
            bar.update(1)
        hist.append(float(run) / len(x))
        bar.set_postfix(model=label, loss=f"{hist[-1]:.3g}")
    if snap is not None:
        phase_log[-1]["changed"] = _changed(snap, parts)
    for p in module.parameters():
        p.requires_grad_(True)
    if ema is not None:
        with torch.no_grad():
            for e, m in zip(ema, module.manifolds):
                for p, q in zip(m.parameters(), e.module.parameters()):
                    p.copy_(q)
    if log is not None and phase_log:
        log[label] = phase_log
    module.eval()
    return hist


def _changed(snap: dict, parts: dict) -> dict:
    now = _snapshot(parts)
    return {k: bool(not torch.equal(snap[k], now[k])) for k in snap}
