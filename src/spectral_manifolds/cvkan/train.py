"""The public training entry points of Part III: ``train_classifier`` and ``train_forecaster``.

Issue 8, "Build": "``train_classifier(X, y, model=..., budget=..., seed=...)`` and
``train_forecaster(series, horizon, ...)``, taking numpy arrays -- (N, T, C) real sequences
or (N, T) -- so a reader can run the model on their own data; returns the fitted model,
per-epoch history and test metrics." Generic over any ``nn.Module`` mapping a batch of
sequences to one output vector per sample (the CV-KAN models, the baselines R and C of
:mod:`spectral_manifolds.cvkan.baselines`, a reader's own).

Both loops: AdamW, mini-batches reshuffled every epoch from ``seed``, one ``tqdm`` bar
(``runtime.progress``), no prints inside the loop; epochs from ``epochs``, else from the
budget (``runtime.sized(quick=..., full=...)`` when ``budget`` is None). Parameters are
counted as real numbers (complex entries twice).

Forecasting (``train_forecaster`` and its baselines) is in
:mod:`spectral_manifolds.cvkan.forecast`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from spectral_manifolds import runtime, validate
from spectral_manifolds.cvkan.layers import n_real_parameters

__all__ = ["Fit", "train_classifier", "epochs_for"]

EPOCHS = {"quick": 3, "full": 30}


@dataclass
class Fit:
    """A trained model and what happened.

    Attributes:
        model: the trained module (in eval mode).
        history: per-epoch lists; classifier: train_loss, train_acc, test_loss, test_acc,
            seconds; forecaster: train_loss, test_loss (standardized MSE), seconds
            (an epoch's training and its test evaluation).
        test: final metrics; classifier: accuracy, loss; forecaster: mse, mae,
            seasonal_naive_mse (None without ``season``), last_value_mse, linear_mse.
        n_params: real parameter count.
        info: split details (classifier: test_index or None; forecaster: cut,
            train_starts, test_starts, context, mean, std).
    """

    model: nn.Module
    history: dict
    test: dict
    n_params: int
    info: dict = field(default_factory=dict)


def epochs_for(budget: str | None, epochs: int | None) -> int:
    """``epochs`` when given, else the budget's (None: the active budget)."""
    if epochs is not None:
        validate.positive_int("epochs", epochs)
        return int(epochs)
    if budget is None:
        return runtime.sized(quick=EPOCHS["quick"], full=EPOCHS["full"])
    validate.choice("budget", budget, tuple(EPOCHS))
    return EPOCHS[budget]


def _sequences(X, name: str) -> np.ndarray:
    """(N, T) real -> (N, T, 1); (N, T, C) real or complex kept; else ValueError."""
    X = np.asarray(X)
    if X.dtype.kind not in "fciu" or X.ndim not in (2, 3):
        raise ValueError(f"{name} must be a numeric (N, T, C), (N, T) or complex (N, T, d) array, got dtype {X.dtype} and shape {X.shape}")
    validate.check_finite(X, name)
    if X.ndim == 2:
        X = X[:, :, None]
    return X.astype(np.complex64 if np.iscomplexobj(X) else np.float32)


def _labels(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {y.shape}")
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu" or (y.size and y.min() < 0):
        raise ValueError(f"{name} must hold integer class labels 0..K-1, got dtype {y.dtype}" + (f", min {y.min()}" if y.size else ""))
    return y.astype(np.int64)


def _build(model, in_features: int, out_dim: int) -> nn.Module:
    if isinstance(model, nn.Module):
        return model
    if callable(model):
        built = model(in_features, out_dim)
        if not isinstance(built, nn.Module):
            raise ValueError(f"model(in_features, out_dim) must return an nn.Module, got {type(built).__name__}")
        return built
    raise ValueError(f"model must be an nn.Module or a callable (in_features, out_dim) -> nn.Module, got {type(model).__name__}")


def _loop(net: nn.Module, xt: torch.Tensor, yt: torch.Tensor, step: Callable, evaluate: Callable, *, epochs: int, batch_size: int, lr: float, weight_decay: float, seed: int, progress: bool, desc: str) -> dict:
    """AdamW over shuffled mini-batches; returns the per-epoch history.

    ``step(net, x, y) -> (loss, extra)`` with ``extra`` a dict of per-batch sums (averaged
    over the epoch's samples); ``evaluate(net) -> dict`` of test metrics, in eval mode.
    """
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(int(seed))
    hist: dict[str, list] = {}
    bar = runtime.progress(range(epochs), desc=desc, disable=not progress)
    with runtime.torch_cpu_threads(xt.device):
        _epochs(net, xt, yt, step, evaluate, opt, gen, batch_size, bar, hist)
    bar.close()
    net.eval()
    return hist


def _epochs(net, xt, yt, step, evaluate, opt, gen, batch_size: int, bar, hist: dict) -> None:
    """The epochs of :func:`_loop`, appending each epoch's row to ``hist``."""
    for _ in bar:
        t0, sums = time.perf_counter(), {}
        net.train()
        # one host-to-device copy of the order and no host sync inside the epoch: the sums
        # stay tensors on the device until the epoch ends (a per-step float() would stall a GPU)
        for idx in torch.randperm(len(xt), generator=gen).to(xt.device).split(batch_size):
            loss, extra = step(net, xt[idx], yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for key, v in {"train_loss": loss.detach() * len(idx), **extra}.items():
                sums[key] = sums.get(key, 0.0) + v
        net.eval()
        with torch.no_grad():
            row = {**{k: float(v) / len(xt) for k, v in sums.items()}, **evaluate(net)}
        row["seconds"] = time.perf_counter() - t0
        for key, v in row.items():
            hist.setdefault(key, []).append(v)
        bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k != "seconds"})


def _check_output(out: torch.Tensor, shape: tuple, name: str) -> None:
    if out.is_complex() or tuple(out.shape) != shape:
        raise ValueError(f"{name}: the model must return real {shape}, got dtype {out.dtype} and shape {tuple(out.shape)}")


def train_classifier(X, y, *, model, budget: str | None = None, seed: int = 0, epochs: int | None = None, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-2, test_fraction: float = 0.2, X_test=None, y_test=None, device=None, progress: bool = True) -> Fit:
    """Train a sequence classifier with cross-entropy.

    Args:
        X: (N, T, C) real, (N, T) real (C = 1) or (N, T, d) complex numpy array.
        y: (N,) integer labels 0..K-1 (every class present in training).
        model: an ``nn.Module`` mapping (B, T, C) to real logits (B, K), or a callable
            ``model(in_features=C, n_classes=K) -> nn.Module``.
        budget: "quick" / "full" / None (the active budget); ignored when ``epochs`` is given.
        seed: seeds torch (initialization, batches) and the random split.
        batch_size, lr, weight_decay: AdamW mini-batch training.
        test_fraction: share held out at random when ``X_test`` is None (0 < f < 1).
        X_test, y_test: an explicit test split instead.
        device: a torch device (None: ``runtime.torch_device()``).
        progress: show the epoch bar.

    Returns:
        A :class:`Fit`; ``test = {"accuracy", "loss"}`` on the test split after the last epoch.
    """
    X = _sequences(X, "X")
    y = _labels(y, len(X), "y")
    validate.positive_int("batch_size", batch_size)
    n_epochs = epochs_for(budget, epochs)
    runtime.seed_everything(seed)
    if X_test is None:
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
        n_test = int(round(test_fraction * len(X)))
        if n_test < 1 or len(X) - n_test < 2:
            raise ValueError(f"too few samples ({len(X)}) for a split with test_fraction={test_fraction}")
        perm = np.random.default_rng(seed).permutation(len(X))
        test_index = np.sort(perm[:n_test])
        train_index = np.sort(perm[n_test:])
        X_tr, y_tr, X_te, y_te = X[train_index], y[train_index], X[test_index], y[test_index]
    else:
        if y_test is None:
            raise ValueError("X_test needs y_test")
        X_tr, y_tr, test_index = X, y, None
        X_te = _sequences(X_test, "X_test")
        y_te = _labels(y_test, len(X_te), "y_test")
        if len(X_te) < 1:
            raise ValueError("X_test holds no samples")
        if X_te.shape[1:] != X_tr.shape[1:] or X_te.dtype != X_tr.dtype:
            raise ValueError(f"X_test {X_te.shape} {X_te.dtype} must match X {X_tr.shape} {X_tr.dtype} beyond the first axis")
    k = int(y_tr.max()) + 1
    missing = sorted(set(range(k)) - set(y_tr.tolist()))
    if k < 2 or missing:
        raise ValueError(f"training labels must be 0..K-1 with K >= 2 and every class present; got K={k}, missing {missing}")
    if y_te.max() >= k:
        raise ValueError(f"test labels reach {int(y_te.max())}, beyond the training classes 0..{k - 1}")

    device = runtime.torch_device() if device is None else torch.device(device)
    net = _build(model, X.shape[-1], k).to(device)
    xt, yt = torch.from_numpy(X_tr).to(device), torch.from_numpy(y_tr).to(device)
    xe, ye = torch.from_numpy(X_te).to(device), torch.from_numpy(y_te).to(device)
    loss_fn = nn.CrossEntropyLoss()

    def step(net, x, y):
        logits = net(x)
        _check_output(logits, (len(x), k), "train_classifier")
        return loss_fn(logits, y), {"train_acc": (logits.argmax(-1) == y).sum()}

    def evaluate(net):
        logits = torch.cat([net(xe[i : i + 4 * batch_size]) for i in range(0, len(xe), 4 * batch_size)])
        return {"test_loss": float(loss_fn(logits, ye)), "test_acc": int((logits.argmax(-1) == ye).sum()) / len(ye)}

    hist = _loop(net, xt, yt, step, evaluate, epochs=n_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed, progress=progress, desc="train_classifier")
    return Fit(net, hist, {"accuracy": hist["test_acc"][-1], "loss": hist["test_loss"][-1]}, n_real_parameters(net), {"test_index": test_index, "n_classes": k})
