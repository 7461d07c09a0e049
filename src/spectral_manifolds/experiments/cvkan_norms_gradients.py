"""Chapter 11's gradient-flow measurements (seed 003, "Open Research Questions / Gradient Flow & Stability").

The seed asks, without an answer: "How do gradients flow without normalization?" and "Are
there stability issues during long training runs?". This module measures both on the
fits that chapter 11 trains anyway, without touching the training loop:

* :class:`GradientRecorder` -- tensor hooks on a model's parameters record, at every
  backward pass, the norm of ``d loss / d theta_g`` for each named group ``g`` of
  parameters (``||g||_2`` over every entry of the group; a complex entry counts as its
  modulus). :func:`block_groups` names the groups of a ``CVKAN``: ``"block 1"``..``"block L"``
  (the polarizing blocks' own parameters, not their norms) and ``"all"`` (every parameter).
  With ``optimizer.zero_grad`` before every step, the recorded norm is that step's
  gradient, the one the optimizer uses.
* :func:`depth_ratio` -- per fit, ``log10`` of the first block's over the last block's
  gradient norm, the median over training steps: > 0 when the gradient grows towards the
  input, < 0 when it vanishes.
* :func:`stability_summary` -- per fit of a long run: steps with a non-finite gradient,
  the largest step gradient norm over the median one, and the largest rise of the epoch's
  training loss over its lowest value so far.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["GradientRecorder", "block_groups", "depth_ratio", "stability_summary", "GRAD_MARGIN", "gradient_rows", "gradient_verdict_rows", "gradient_curves", "stability_rows"]


def block_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """``{"block 1": [...], ..., "block L": [...], "all": [...]}`` for a flat ``CVKAN``
    (``model.blocks``); only ``"all"`` for a model without blocks."""
    groups = {f"block {i + 1}": [p for p in block.parameters() if p.requires_grad] for i, block in enumerate(getattr(model, "blocks", []))}
    groups["all"] = [p for p in model.parameters() if p.requires_grad]
    return groups


class GradientRecorder:
    """Record per-group gradient norms at every backward pass of a model.

    Args:
        groups: name -> parameters (e.g. :func:`block_groups`); a parameter may sit in
            several groups. Every parameter must receive a gradient at every backward
            pass (true of ``CVKAN``; a group with an unused parameter raises in :meth:`norms`).

    The hooks keep the squared norms as tensors on the parameters' device (no host sync
    inside training); :meth:`norms` turns them into numpy. Use as a context manager, or
    call :meth:`remove` when done.
    """

    def __init__(self, groups: Mapping[str, Sequence[nn.Parameter]]):
        if not groups or any(len(ps) == 0 for ps in groups.values()):
            raise ValueError(f"every group needs at least one parameter, got sizes { {k: len(v) for k, v in groups.items()} }")
        self.names = list(groups)
        params = {id(p): p for ps in groups.values() for p in ps}
        self._members = {name: [id(p) for p in ps] for name, ps in groups.items()}
        self._sq: dict[int, list[torch.Tensor]] = {k: [] for k in params}
        self._handles = [p.register_hook(self._hook(k)) for k, p in params.items()]

    def _hook(self, key: int):
        def hook(grad: torch.Tensor):
            self._sq[key].append(torch.linalg.vector_norm(grad.detach()).square())
            return None

        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> "GradientRecorder":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def norms(self) -> dict[str, np.ndarray]:
        """``{group: (steps,) float64}``: the gradient norm of each group at every recorded step."""
        lengths = {len(v) for v in self._sq.values()}
        if len(lengths) != 1:
            raise ValueError(f"parameters received gradients at different numbers of steps ({sorted(lengths)}): an unused parameter?")
        if not lengths.pop():
            return {name: np.zeros(0) for name in self.names}
        sq = {k: torch.stack(v).double().cpu().numpy() for k, v in self._sq.items()}
        return {name: np.sqrt(np.sum([sq[k] for k in keys], axis=0)) for name, keys in self._members.items()}


def depth_ratio(norms: Mapping[str, np.ndarray]) -> float:
    """``log10(median_t |g_block 1| / |g_block L|)`` over the steps ``t`` where both are finite and positive."""
    blocks = sorted((k for k in norms if k.startswith("block ")), key=lambda k: int(k.split()[1]))
    if len(blocks) < 2:
        raise ValueError(f"depth_ratio needs at least two blocks, got {blocks}")
    first, last = np.asarray(norms[blocks[0]], float), np.asarray(norms[blocks[-1]], float)
    ok = np.isfinite(first) & np.isfinite(last) & (first > 0) & (last > 0)
    if not ok.any():
        return float("nan")
    return float(np.median(np.log10(first[ok] / last[ok])))


def stability_summary(total: np.ndarray, train_loss: Sequence[float], window: int = 20) -> dict:
    """One long fit: ``total`` (steps,) gradient norm of all parameters, ``train_loss`` (epochs,).

    Returns ``non-finite steps`` (count), ``largest gradient jump`` (``max_t |g_t| / median
    |g_{t-window..t-1}|`` over finite steps ``t >= window``: how far one step's gradient
    rises above the recent ones; nan when the run is shorter than ``window``),
    ``max loss rise`` (``max_e loss_e / min_{e' < e} loss_e'``; below 1 when the loss never
    rose above its lowest earlier value) and ``non-finite epochs`` of the loss.
    """
    total, loss = np.asarray(total, float), np.asarray(train_loss, float)
    jumps = [total[t] / np.median(total[t - window:t]) for t in range(window, len(total)) if np.isfinite(total[t - window:t + 1]).all()]
    rise = [loss[e] / loss[:e].min() for e in range(1, len(loss)) if np.isfinite(loss[:e + 1]).all()]
    return {
        "non-finite steps": int(np.sum(~np.isfinite(total))),
        "largest gradient jump": float(max(jumps)) if jumps else float("nan"),
        "max loss rise": float(max(rise)) if rise else float("nan"),
        "non-finite epochs": int(np.sum(~np.isfinite(loss))),
    }


# --------------------------------------------------------------------------- tables (chapter 11, section 5)
GRAD_MARGIN = 0.1  # in log10: first and last block's gradients within a factor 10^0.1 ~ 1.26 count as equal


def _stacks(runs: Sequence[Mapping]) -> list[Mapping]:
    return [r for r in runs if r.get("grad_norms")]


def _per_seed(runs: Sequence[Mapping], task: str, model: str) -> list[Mapping]:
    return sorted((r for r in _stacks(runs) if r["task"] == task and r["model"] == model), key=lambda r: r["seed"])


def gradient_rows(runs: Sequence[Mapping]) -> list[dict]:
    """One row per (task, stack): the median over steps of each block's gradient norm, and
    :func:`depth_ratio`, mean ± std over seeds; also the steps with a non-finite gradient."""
    from spectral_manifolds import report

    rows = []
    for task, model in dict.fromkeys((r["task"], r["model"]) for r in _stacks(runs)):
        fits = _per_seed(runs, task, model)
        blocks = [k for k in fits[0]["grad_norms"] if k.startswith("block ")]
        row = {"task": task, "model": model}
        for b in blocks:
            row[f"|grad| {b} (median over steps)"] = report.mean_std([float(np.nanmedian(f["grad_norms"][b])) for f in fits])
        row["log10 |grad block 1| / |grad last block|"] = report.mean_std([depth_ratio(f["grad_norms"]) for f in fits])
        row["non-finite steps"] = int(sum(np.sum(~np.isfinite(np.asarray(f["grad_norms"]["all"], float))) for f in fits))
        rows.append(row)
    return rows


def gradient_verdict_rows(runs: Sequence[Mapping], none: str = "norm=none", centre: str = "norm=centre") -> list[dict]:
    """Per (task, stack): "block 1 gets a larger gradient than the last block" -- ``depth_ratio > 0``
    by more than :data:`GRAD_MARGIN`, against 0 over seeds (``report.compare``; *not reproduced*:
    it gets a smaller one, the gradient vanishes towards the input). Per task also "truly none has a
    larger ratio than centre" (paired by seed). Not seed claims: the seed asks."""
    from spectral_manifolds import report

    rows, metric = [], "log10 |grad block 1| / |grad last block|"
    ratio = lambda task, model: [depth_ratio(f["grad_norms"]) for f in _per_seed(runs, task, model)]
    for task, model in dict.fromkeys((r["task"], r["model"]) for r in _stacks(runs)):
        r = ratio(task, model)
        cmp = report.compare(r, [0.0] * len(r), lower_is_better=False, margin=GRAD_MARGIN)
        rows.append(report.verdict_row(f"{task}, {model}: block 1 gets a larger gradient than the last block", cmp, seed_figure="open question (no figure)",
                                       a_name=model, b_name="equal (0)", metric=metric))
    for task in dict.fromkeys(r["task"] for r in _stacks(runs)):
        if _per_seed(runs, task, none) and _per_seed(runs, task, centre):
            cmp = report.compare(ratio(task, none), ratio(task, centre), lower_is_better=False, margin=GRAD_MARGIN)
            rows.append(report.verdict_row(f"{task}: without any norm the ratio is larger than with centre", cmp, seed_figure="open question (no figure)",
                                           a_name=none, b_name=centre, metric=metric))
    return rows


def gradient_curves(runs: Sequence[Mapping], task: str, model: str) -> dict[str, np.ndarray]:
    """``{group: (seeds, steps)}`` gradient norms of one stack on one task (``"all"`` left out)."""
    fits = _per_seed(runs, task, model)
    if not fits:
        raise ValueError(f"no gradient records for task {task!r} and model {model!r}")
    return {k: np.asarray([f["grad_norms"][k] for f in fits], float) for k in fits[0]["grad_norms"] if k != "all"}


def stability_rows(runs: Sequence[Mapping]) -> list[dict]:
    """One row per stack of a long run (:func:`stability_summary` per seed): the worst value over seeds
    of each column, the final test accuracy (mean ± std) and the depth ratio."""
    from spectral_manifolds import report

    rows = []
    for task, model in dict.fromkeys((r["task"], r["model"]) for r in _stacks(runs)):
        fits = _per_seed(runs, task, model)
        summ = [stability_summary(f["grad_norms"]["all"], f["train_loss"]) for f in fits]
        rows.append({"model": model, "epochs": fits[0].get("epochs", len(fits[0]["train_loss"])), "seeds": len(fits),
                     **{f"{k} (worst seed)": max(s[k] for s in summ) for k in summ[0]},
                     "final test accuracy": report.mean_std([f["test_acc"][-1] for f in fits]),
                     "log10 |grad block 1| / |grad last block|": report.mean_std([depth_ratio(f["grad_norms"]) for f in fits])})
    return rows
