"""Train the seeds of one configuration together: one vectorized step for all of them.

DESIGN.md's evidence standard trains every configuration over five seeds. Part III's
models are small, so on a GPU a training step is launch-bound: the device waits for the
host to issue kernels, and five seeds trained one after another cost five times one.
:func:`train_classifier_seeds` stacks the seeds' parameters
(``torch.func.stack_module_state``) and runs every seed's forward and backward pass in one
``torch.func.vmap``-ed call, so the host issues each kernel once for all seeds.

It is the same training as :func:`spectral_manifolds.cvkan.train.train_classifier` run
once per seed: seed ``s`` builds its model after ``runtime.seed_everything(s)`` (the same
initialization), draws its own batch order from ``torch.Generator().manual_seed(s)`` (the
same order), and AdamW, being elementwise, updates each seed's slice of the stacked
tensors exactly as it would update that seed's own tensors. The loss is the sum of the
seeds' losses, so each seed's gradient is its own. Models with dropout train with
independent dropout masks per seed (``randomness="different"``) and then match
``train_classifier`` in distribution only. Buffers that a forward pass updates
(BatchNorm's running statistics) are not supported.

``seeds_speed`` measures, in one run, seeds x steps per second trained together against
one at a time (the speed benchmark of the brief: a ratio, not a timed test).
"""

from __future__ import annotations

import copy
import time
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from spectral_manifolds import runtime, validate
from spectral_manifolds.cvkan.layers import n_real_parameters
from spectral_manifolds.cvkan.train import Fit, _build, _check_output, _labels, _sequences, epochs_for, train_classifier

__all__ = ["train_classifier_seeds", "seeds_speed"]


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"seeds must be distinct non-negative integers, at least one; got {seeds}")
    return seeds


def _built_models(model, seeds: list[int], in_features: int, k: int, device) -> list[nn.Module]:
    """One model per seed, each built right after seeding torch with its seed."""
    if isinstance(model, nn.Module):
        raise ValueError("model must be a callable (in_features, n_classes) -> nn.Module, so that each seed builds its own")
    nets = []
    for s in seeds:
        runtime.seed_everything(s)
        nets.append(_build(model, in_features, k).to(device))
    for net in nets:
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()):
            raise ValueError("models whose forward pass updates buffers (BatchNorm) cannot be trained together")
    return nets


def _stacked_forward(base: nn.Module, randomness: str) -> Callable:
    """``f(params, buffers, x) -> logits`` vectorized over a leading seed axis of all three."""

    def one(params, buffers, x):
        return functional_call(base, (params, buffers), (x,))

    return vmap(one, randomness=randomness)


def _splits(X, y, X_test, y_test, n_seeds: int | None) -> tuple:
    """Checked ``(X, y, X_test, y_test)``: one shared split, or (``n_seeds`` given) ``S`` splits
    stacked on a leading seed axis, ``X: (S, N, T, C)``, ``y: (S, N)``."""
    if n_seeds is None:
        X, X_te = _sequences(X, "X"), _sequences(X_test, "X_test")
        y, y_te = _labels(y, len(X), "y"), _labels(y_test, len(X_te), "y_test")
        if X_te.shape[1:] != X.shape[1:] or X_te.dtype != X.dtype:
            raise ValueError(f"X_test {X_te.shape} {X_te.dtype} must match X {X.shape} {X.dtype} beyond the first axis")
        return X, y, X_te, y_te
    parts = [list(v) if isinstance(v, (list, tuple)) else list(np.asarray(v)) for v in (X, y, X_test, y_test)]
    if any(len(p) != n_seeds for p in parts):
        raise ValueError(f"per_seed_data: X, y, X_test, y_test must each hold one array per seed ({n_seeds}), got {[len(p) for p in parts]}")
    split = [_splits(*one, None) for one in zip(*parts)]
    if len({tuple((a.shape, a.dtype) for a in s) for s in split}) != 1:
        raise ValueError("per_seed_data: every seed's arrays must have the same shapes and dtypes")
    return tuple(np.stack(a) for a in zip(*split))


def _test_metrics(forward, params, buffers, xe: torch.Tensor, ye: torch.Tensor, n_seeds: int, chunk: int, per_seed: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-seed test loss and accuracy ``(S,)`` on the shared test split (``per_seed``: ``xe (S, N_test, ...)``, ``ye (S, N_test)``)."""
    logits = []
    for i in range(0, xe.shape[1] if per_seed else len(xe), chunk):
        xb = xe[:, i : i + chunk] if per_seed else xe[i : i + chunk].expand(n_seeds, *xe[i : i + chunk].shape)
        logits.append(forward(params, buffers, xb))
    logits = torch.cat(logits, dim=1)  # (S, N_test, K)
    target = ye.flatten() if per_seed else ye.repeat(n_seeds)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), target, reduction="none").view(n_seeds, -1).mean(1)
    acc = (logits.argmax(-1) == ye).sum(1).double() / ye.shape[-1]  # exact count ratio, as train_classifier's
    return loss, acc


def train_classifier_seeds(X, y, *, model, seeds: Sequence[int], X_test, y_test, epochs: int | None = None, budget: str | None = None, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-2, device=None, progress: bool = True, per_seed_data: bool = False) -> list[Fit]:
    """Train one classifier per seed, all seeds in one vectorized step.

    Args:
        X: (N, T, C) real, (N, T) real or (N, T, d) complex numpy array (training split).
        y: (N,) integer labels 0..K-1.
        model: a callable ``model(in_features, n_classes) -> nn.Module`` (built once per seed).
        seeds: distinct non-negative seeds, ``S`` of them.
        X_test, y_test: the test split, shared by every seed.
        epochs / budget: as :func:`~spectral_manifolds.cvkan.train.train_classifier`.
        batch_size, lr, weight_decay, device, progress: as there.
        per_seed_data: when True, ``X, y, X_test, y_test`` are sequences of ``S`` arrays, seed ``i``'s
            own draw (equal shapes across seeds): seed ``i`` trains and is tested on its own split.

    Returns:
        ``S`` :class:`~spectral_manifolds.cvkan.train.Fit` objects, in the order of ``seeds``;
        each history holds that seed's train_loss, train_acc, test_loss, test_acc and the
        epoch's wall seconds (shared by all seeds).
    """
    seeds = _check_seeds(seeds)
    X, y, X_te, y_te = _splits(X, y, X_test, y_test, len(seeds) if per_seed_data else None)
    validate.positive_int("batch_size", batch_size)
    k = int(y.max()) + 1
    n_epochs = epochs_for(budget, epochs)
    device = runtime.torch_device() if device is None else torch.device(device)
    nets = _built_models(model, seeds, X.shape[-1], k, device)
    params, buffers = stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")
    has_dropout = any(isinstance(m, nn.Dropout) or "Dropout" in type(m).__name__ for m in base.modules())
    forward = _stacked_forward(base, "different" if has_dropout else "error")
    opt = torch.optim.AdamW(list(params.values()), lr=lr, weight_decay=weight_decay)
    xt, yt = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    xe, ye = torch.from_numpy(X_te).to(device), torch.from_numpy(y_te).to(device)
    rows_of = torch.arange(len(seeds), device=device)[:, None]  # (S, 1): seed i reads its own split
    pick = (lambda a, idx: a[rows_of, idx]) if per_seed_data else (lambda a, idx: a[idx])
    n_train = xt.shape[1] if per_seed_data else len(xt)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    hist = {key: [[] for _ in seeds] for key in ("train_loss", "train_acc", "test_loss", "test_acc", "seconds")}
    bar = runtime.progress(range(n_epochs), desc=f"{len(seeds)} seeds together", disable=not progress)
    with runtime.torch_cpu_threads(device):
        for _ in bar:
            t0 = time.perf_counter()
            base.train()
            order = torch.stack([torch.randperm(n_train, generator=g) for g in gens]).to(device)  # (S, N)
            loss_sum = torch.zeros(len(seeds), device=device)
            hits = torch.zeros(len(seeds), device=device)
            for idx in order.split(batch_size, dim=1):  # (S, B)
                logits = forward(params, buffers, pick(xt, idx))  # (S, B, K)
                _check_output(logits[0], (idx.shape[1], k), "train_classifier_seeds")
                target = pick(yt, idx)
                losses = nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none").view(len(seeds), -1).mean(1)
                opt.zero_grad(set_to_none=True)
                losses.sum().backward()
                opt.step()
                loss_sum += losses.detach() * idx.shape[1]
                hits += (logits.detach().argmax(-1) == target).sum(1)
            base.eval()
            with torch.no_grad():
                test_loss, test_acc = _test_metrics(forward, params, buffers, xe, ye, len(seeds), 4 * batch_size, per_seed_data)
            seconds = time.perf_counter() - t0
            rows = {"train_loss": loss_sum / n_train, "train_acc": hits / n_train, "test_loss": test_loss, "test_acc": test_acc}
            for key, values in rows.items():
                for i, v in enumerate(values.tolist()):
                    hist[key][i].append(v)
            for i in range(len(seeds)):
                hist["seconds"][i].append(seconds)
    bar.close()
    return _unstack(nets, params, hist, seeds)


def _unstack(nets: list[nn.Module], params: dict, hist: dict, seeds: list[int]) -> list[Fit]:
    """Copy each seed's slice of the stacked parameters back into its own module."""
    fits = []
    for i, net in enumerate(nets):
        with torch.no_grad():
            for name, p in net.named_parameters():
                p.copy_(params[name][i])
        net.eval()
        h = {key: values[i] for key, values in hist.items()}
        fits.append(Fit(net, h, {"accuracy": h["test_acc"][-1], "loss": h["test_loss"][-1]}, n_real_parameters(net), {"seed": seeds[i]}))
    return fits


def seeds_speed(X, y, *, model, seeds: Sequence[int], X_test, y_test, epochs: int = 1, batch_size: int = 64, device=None) -> dict:
    """Seeds x steps per second, trained together and one at a time, in one run.

    Returns ``{"together_s", "one_at_a_time_s", "speedup", "seed_steps_per_s_together",
    "seed_steps_per_s_one_at_a_time", "n_seeds", "steps_per_seed"}``; the first run of each
    way is a warm-up (not timed) on one epoch with the first seed.
    """
    seeds = _check_seeds(seeds)
    n = len(np.asarray(X))
    steps = epochs * -(-n // batch_size)
    kw = dict(X_test=X_test, y_test=y_test, batch_size=batch_size, device=device, progress=False)
    train_classifier(X, y, model=model, seed=seeds[0], epochs=1, **kw)  # warm-up
    train_classifier_seeds(X, y, model=model, seeds=seeds[:1], epochs=1, **kw)
    t0 = time.perf_counter()
    train_classifier_seeds(X, y, model=model, seeds=seeds, epochs=epochs, **kw)
    together = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in seeds:
        train_classifier(X, y, model=model, seed=s, epochs=epochs, **kw)
    alone = time.perf_counter() - t0
    total = steps * len(seeds)
    return {"together_s": together, "one_at_a_time_s": alone, "speedup": alone / together,
            "seed_steps_per_s_together": total / together, "seed_steps_per_s_one_at_a_time": total / alone,
            "n_seeds": len(seeds), "steps_per_seed": steps}
