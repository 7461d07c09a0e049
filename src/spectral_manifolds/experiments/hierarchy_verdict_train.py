"""The training loop of the chapter "Phased training and the verdict" (seed 004 §6.1, §6.3, §9.2, §9.3; issue 9, chapter 4).

One training loop for every learned model of the chapter, so that all models see the same windows,
batch size, batch order (one ``randperm`` per epoch from ``torch.Generator().manual_seed(seed)``, as
the default trainer of :func:`~spectral_manifolds.hierarchy.evaluate.evaluate_next_frame`), number of
steps and base ``lr``. It differs from that default trainer only where the seed asks for it:

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
  the phase's losses, and phase 4's lr factor through ``per_band.band_lr_scheduler``;
- ``reuse``: the EMA never feeds back into training, so a run without EMA is the run of label ``reuse``
  (same model, seed, init, batches, optimizer, with EMA) before its EMA weights are swapped in:
  :func:`fit_seeds` returns those raw weights (``"raw"``), and the experiment scores them instead of
  training the same configuration twice (tests: equal to a separate run).

:func:`fit_seeds` trains the S models of one configuration, one per seed, together: their weights are
stacked (``torch.func.stack_module_state``) and one ``torch.func.vmap`` step runs all S, each on its own
batches. AdamW, the EMA and the freezing act elementwise, so each seed gets what it would get alone
(tests: equal to one-at-a-time runs); only the number of kernel launches drops, which is what a small
model on a GPU pays for. :func:`fit` is the same loop for one model, as ``evaluate_next_frame``'s
``trainer`` hook. A phased run logs its phases with the components whose parameters changed during
each (``"phase_log"``; :func:`fit`: ``log``), the check that the scheduler touched the intended groups.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from spectral_manifolds import validate
from spectral_manifolds.hierarchy import baselines, per_band
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel

__all__ = ["LR_TABLES", "PHASE_FRACTIONS", "Training", "PLAIN", "scaled_phases", "param_groups", "batch_loss",
           "fit_seeds", "fit"]

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
    """How :func:`fit` trains one model: ``lr`` a key of :data:`LR_TABLES`, §6.3 ``ema``, §9.2 ``phased``;
    ``reuse``: the label of the run (with EMA, otherwise identical) whose raw weights this one scores."""

    lr: str = "per_band"
    ema: bool = True
    phased: bool = False
    reuse: str | None = None

    def __post_init__(self):
        validate.choice("lr", self.lr, tuple(LR_TABLES))
        if self.reuse is not None and self.ema:
            raise ValueError(f"reuse={self.reuse!r} scores another run's raw weights: it needs ema=False")


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


class _Loss(nn.Module):
    """:func:`batch_loss` of ``module`` as a forward, for ``functional_call`` on stacked weights."""

    def __init__(self, module):
        super().__init__()
        self.module, self.losses = module, frozenset()

    def forward(self, xb, yb):
        return batch_loss(self.module, xb, yb, self.losses)


def _ema_groups(module, names) -> dict:
    """§6.3 decay -> the names of the manifold parameters it averages."""
    bands = per_band.band_names(len(module.manifolds))
    out: dict = {}
    for k in names:
        if k.startswith("manifolds."):
            out.setdefault(per_band.EMA_DECAY[bands[int(k.split(".")[1])]], []).append(k)
    return out


def _snapshot(params: dict, parts) -> dict:
    """Seed 0's weights per component (the phase log's "changed" check)."""
    return {c: torch.cat([v[0].detach().flatten() for k, v in params.items() if k.startswith(c + ".")]).clone()
            for c in parts}


def _looped(loss_mod):
    """The vmapped step as a loop over the seeds (slices of the stacked weights: same gradients)."""
    def step(state, xb, yb):
        outs = [functional_call(loss_mod, {k: v[s] for k, v in state.items()}, (xb[s], yb[s])) for s in range(len(xb))]
        return tuple(torch.stack(o) for o in zip(*outs))
    return step


def fit_seeds(modules, x, y, *, seeds, epochs, batch_size, lr, training: Training = PLAIN, bar=None,
              label: str = "", vectorize: bool = True) -> dict:
    """Train ``modules`` (one per seed, one architecture) together on windows ``x (W, H, N, N)`` -> ``y (W, N, N)``.

    Seed ``seeds[s]`` gets its own batch order (a ``randperm`` per epoch from
    ``torch.Generator().manual_seed(seeds[s])``) and its module's own initial weights (module docstring).
    The modules end trained (EMA weights swapped in), in eval mode. Returns ``{"history": per seed the
    per-epoch training MSE, "epoch_seconds": (epochs,) wall time of each epoch (all seeds at once),
    "raw": per seed the state dict before the EMA swap, "phase_log": seed 0's phases, or []}``.
    ``vectorize=False`` (or an op that ``vmap`` cannot batch, with a warning) loops over the seeds instead.
    Attention runs on SDPA's math backend in both: on CUDA the fused kernels reject a vmapped
    ``attn_mask`` ("attn_bias: wrong shape"), which sent every seed stack to the loop (H200, torch 2.11).
    """
    modules = list(modules)
    if len(modules) != len(seeds) or not modules:
        raise ValueError(f"one module per seed: got {len(modules)} modules and {len(seeds)} seeds")
    for m in modules:
        baselines.start_at_persistence(m)
    m0, hier = modules[0], _hierarchical(modules[0])
    training = training if hier else PLAIN
    params, buffers = stack_module_state(modules)  # name -> (S, ...) leaves
    names = {id(p): k for k, p in m0.named_parameters()}
    groups = [{**g, "params": [params[names[id(p)]] for p in g["params"]]} for g in param_groups(m0, training, lr)]
    opt = torch.optim.AdamW(groups, lr=lr)
    total = epochs * math.ceil(len(x) / batch_size)
    phases = scaled_phases(total) if (hier and training.phased) else None
    sched = per_band.band_lr_scheduler(opt, phases)
    ema_groups = _ema_groups(m0, params) if (hier and training.ema) else {}
    parts = _components(m0) if hier else {}
    loss_mod = _Loss(copy.deepcopy(m0)).train()
    state = {f"module.{k}": v for k, v in {**params, **buffers}.items()}
    looped = _looped(loss_mod)
    step_fn = looped if not vectorize else vmap(lambda st, xb, yb: functional_call(loss_mod, st, (xb, yb)),
                                                randomness="different")
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    step, hist, secs, phase_log, current, snap, ema = 0, [], [], [], None, None, None
    for _ in range(epochs):
        t0, run = time.perf_counter(), torch.zeros(len(seeds), device=x.device)
        for idx in zip(*(torch.randperm(len(x), generator=g).split(batch_size) for g in gens)):
            if phases is not None:
                phase = phases.apply(step, parts)
                for k, p in m0.named_parameters():
                    params[k].requires_grad_(p.requires_grad)
                if phase.name != current:
                    if snap is not None:
                        phase_log[-1]["changed"] = _changed(snap, params, parts)
                    phase_log.append({"phase": phase.name, "start": step, "train": sorted(phase.train)})
                    current, snap = phase.name, _snapshot(params, parts)
                loss_mod.losses = phase.losses
            else:
                loss_mod.losses = frozenset({"reconstruction", "manifold"})
            idx = torch.stack(idx)  # (S, B)
            try:
                with sdpa_kernel(SDPBackend.MATH):  # the fused kernels reject a vmapped attn_mask on CUDA
                    loss, mse = step_fn(state, x[idx], y[idx])
            except (RuntimeError, NotImplementedError) as err:  # an op without a vmap rule: same step, a loop
                if step_fn is looped:
                    raise
                warnings.warn(f"vmap failed ({err}); {label!r}: training its seeds one after another")
                step_fn = looped
                with sdpa_kernel(SDPBackend.MATH):
                    loss, mse = step_fn(state, x[idx], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            sched.step()
            with torch.no_grad():  # §6.3: first call copies, then ema <- ema + (1 - d) (p - ema), as swa_utils
                if ema is None and ema_groups:
                    ema = {k: params[k].detach().clone() for ks in ema_groups.values() for k in ks}
                elif ema is not None:
                    for d, ks in ema_groups.items():
                        torch._foreach_lerp_([ema[k] for k in ks], [params[k].detach() for k in ks], 1 - d)
            run = run + mse.detach() * idx.shape[1]
            step += 1
            if bar is not None:
                bar.update(len(seeds))
        hist.append((run / len(x)).tolist())  # one host sync per epoch
        secs.append(time.perf_counter() - t0)
        if bar is not None:
            bar.set_postfix(model=label, loss=f"{sum(hist[-1]) / len(seeds):.3g}", refresh=False)
    if snap is not None:
        phase_log[-1]["changed"] = _changed(snap, params, parts)
    raw = []
    keys = set(m0.state_dict())
    for s, m in enumerate(modules):
        sd = {k: v[s].detach().clone() for k, v in {**params, **buffers}.items() if k in keys}
        raw.append(sd)
        m.load_state_dict({**sd, **{k: v[s] for k, v in (ema or {}).items()}})
        for p in m.parameters():
            p.requires_grad_(True)
        m.eval()
    return {"history": [list(h) for h in zip(*hist)], "epoch_seconds": secs, "raw": raw, "phase_log": phase_log}


def _changed(snap: dict, params: dict, parts) -> dict:
    now = _snapshot(params, parts)
    return {k: bool(not torch.equal(snap[k], now[k])) for k in snap}


def fit(module, x, y, *, epochs, batch_size, lr, seed, bar, label, trainings: dict | None = None,
        log: dict | None = None) -> list[float]:
    """:func:`fit_seeds` for one model: the ``trainer`` hook of ``evaluate_next_frame`` (bind ``trainings``,
    label -> :class:`Training`, labels not in it :data:`PLAIN`, and ``log`` with ``functools.partial``);
    per-epoch training MSE. ``log[label]`` receives the phase log of a phased run."""
    out = fit_seeds([module], x, y, seeds=[seed], epochs=epochs, batch_size=batch_size, lr=lr,
                    training=(trainings or {}).get(label, PLAIN), bar=bar, label=label)
    if log is not None and out["phase_log"]:
        log[label] = out["phase_log"]
    return out["history"][0]
