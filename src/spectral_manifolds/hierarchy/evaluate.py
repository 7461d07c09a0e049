"""The public entry point of Part IV (issue 9): next-frame prediction on a reader's own video.

``evaluate_next_frame(frames, models=..., context=..., budget=..., seed=...)`` takes ``frames``, a
``(T, N, N)`` real array (square frames, N >= 4; any units, e.g. a grayscale video), and returns a
pandas DataFrame with one row per model and the columns :data:`COLUMNS`:

- ``parameters``: trainable parameters (0 for the classical predictors);
- ``mse``, ``psnr``: next-frame error on the test windows, in the units of ``frames``; PSNR in dB
  against ``data_range`` (default ``frames.max() - frames.min()``), ``10 log10(range^2 / mse)``;
- ``rollout_mse`` (mean over the k steps) and ``rollout_mse_last`` (step k): k-step rollouts from
  the test windows, each prediction fed back as the newest frame of the context;
- ``fit_seconds``: training time (fitting time for ``spectral_ar1``; 0 for the others); ``epochs``.

Split (chronological, no leakage): the last ``max(context + k, ceil(test_fraction T))`` frames are the
test segment, the frames before it the training segment; windows of ``context`` frames and their
next frame (:func:`fields.windows`) are drawn inside each segment, rollouts start every ``k`` frames
in the test segment. Fewer than ``2 context + k + 1`` frames leaves no training window: ValueError.

Models (:data:`MODELS`; ``models`` a sequence of names, or a dict ``label -> name`` or
``label -> (name, kwargs)`` for ablations, e.g. ``{"no attention": ("hierarchical", {"attention":
False})}``): the classical ``persistence``, ``linear``, ``ls_multiplier`` (per-mode least squares on
each context) and ``spectral_ar1`` (the same multiplier fitted once on the training segment); the
learned ``convlstm``, ``unet``, ``fno`` (:class:`~spectral_manifolds.hierarchy.fno.FNO2d`),
``single_band`` and ``hierarchical``
(:class:`~spectral_manifolds.hierarchy.model.HierarchicalSpectralModel`; kwargs go to it, default
``base_dim`` from ``runtime.sized(quick=8, full=32)``). ``convlstm``, ``unet``, ``fno`` and
``single_band`` are sized to ``params`` parameters (within 5 %; default: the first hierarchical
model's count).
Learned models train on frames standardized by the training segment's mean and std, with the same
loss (next-frame MSE), optimizer (AdamW, ``lr``), batch size, epochs
(``runtime.sized(quick=3, full=30)`` unless given) and batch order (``seed``), on
``runtime.torch_device()``, under one ``runtime.progress`` bar. ``df.attrs["history"]`` holds each
learned model's per-epoch training loss, ``df.attrs["split"]`` the segment sizes.

Two hooks for experiments (chapter "Phased training and the verdict"): ``trainer`` replaces the
training loop, ``trainer(module, x, y, *, epochs, batch_size, lr, seed, bar, label)`` -> per-epoch
losses, with ``x (S, H, N, N)``, ``y (S, N, N)`` the standardized training windows; it must call
``bar.update(1)`` once per step (default: :func:`train_epochs`, AdamW on the next-frame MSE).
``band_masks`` ``(M, N, N//2+1)`` (or ``(M, N, N)``) splits each next-frame error by the masks
(:func:`~spectral_manifolds.hierarchy.bands.decompose` of the error) and adds the columns
``mse_band_0 .. mse_band_{M-1}`` (same units as ``mse``; with a partition of unity the band errors sum
to the error, their MSEs add up exactly only for disjoint, e.g. hard, masks).
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from spectral_manifolds import runtime, validate
from spectral_manifolds.cvkan.baselines import width_for_params
from spectral_manifolds.hierarchy import baselines
from spectral_manifolds.hierarchy.bands import decompose
from spectral_manifolds.hierarchy.fields import windows
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel

__all__ = ["COLUMNS", "MODELS", "DEFAULT_MODELS", "split_frames", "rollout", "train_epochs", "evaluate_next_frame"]

COLUMNS = ("model", "parameters", "mse", "psnr", "rollout_mse", "rollout_mse_last", "fit_seconds", "epochs")
CLASSICAL = ("persistence", "linear", "ls_multiplier", "spectral_ar1")
LEARNED = ("convlstm", "unet", "fno", "single_band", "hierarchical")
MODELS = CLASSICAL + LEARNED
DEFAULT_MODELS = ("persistence", "linear", "ls_multiplier", "convlstm", "unet", "single_band", "hierarchical")


def _check_frames(frames) -> np.ndarray:
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    x = np.asarray(frames)
    if x.ndim != 3:
        raise ValueError(f"frames must be a (T, H, W) array (one grayscale video), got shape {x.shape}")
    if x.dtype.kind not in "fiu":
        raise ValueError(f"frames must be real numbers, got dtype {x.dtype}")
    if x.shape[1] != x.shape[2] or x.shape[1] < 4:
        raise ValueError(f"frames must be square, N x N with N >= 4 (crop or resize first), got {x.shape[1]} x {x.shape[2]}")
    x = x.astype(np.float64)
    validate.check_finite(x, "frames")
    return x


def split_frames(t: int, context: int, k: int, test_fraction: float = 0.25) -> tuple[int, int]:
    """``(train_frames, test_frames)`` of a T-frame video: the test segment is the last frames (module docstring)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    n_test = max(context + k, math.ceil(test_fraction * t))
    if t - n_test < context + 1:
        raise ValueError(f"too few frames: {t} frames leave no training window for context={context} and "
                         f"k={k}: need at least {2 * context + k + 1} (context + 1 to train, context + k to test)")
    return t - n_test, n_test


@torch.no_grad()
def rollout(predict: Callable, history: torch.Tensor, k: int) -> torch.Tensor:
    """Feed predictions back: ``history (B, H, N, N)`` -> the next k frames ``(B, k, N, N)``."""
    validate.positive_int("k", k)
    out = []
    for _ in range(k):
        p = predict(history).to(history.dtype)
        out.append(p)
        history = torch.cat([history[:, 1:], p[:, None]], 1)
    return torch.stack(out, 1)


def _spec(models) -> list[tuple[str, str, dict]]:
    items = models.items() if isinstance(models, dict) else ((m, m) for m in models)
    out = []
    for label, spec in items:
        name, kw = (spec, {}) if isinstance(spec, str) else (spec[0], dict(spec[1]))
        validate.choice("model", name, MODELS)
        out.append((str(label), name, kw))
    if not out:
        raise ValueError("models is empty")
    labels = [lb for lb, _, _ in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"model labels must be unique, got {labels}")
    return out


def _single_band(target: int, **kw) -> nn.Module:
    def build(u):
        return HierarchicalSpectralModel(single_band=True, dim=4 * u, **kw)
    return build(width_for_params(build, target, 1, 256, tol=0.05))


def _build(name: str, kw: dict, context: int, n: int, params: int | None, base_dim: int) -> nn.Module:
    if name == "hierarchical":
        return HierarchicalSpectralModel(**{"base_dim": base_dim, "n": n, **kw})
    if params is None:
        raise ValueError(f"{name} is matched to a parameter count: give params= or include a hierarchical model")
    if name == "single_band":
        return _single_band(params, **{"n": n, **kw})
    return baselines.matched(name, params, context, **kw)


def _predictor(module: nn.Module) -> Callable:
    def predict(h):
        out = module(h)
        return out[0] if isinstance(out, tuple) else out
    return predict


def train_epochs(module, x, y, *, epochs, batch_size, lr, seed, bar, label) -> list[float]:
    """The default trainer: AdamW(``lr``) on the next-frame MSE, one ``randperm`` of the windows per epoch
    from ``torch.Generator().manual_seed(seed)``; returns the per-epoch mean training loss."""
    opt = torch.optim.AdamW(module.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    predict, hist = _predictor(module), []
    module.train()
    for _ in range(epochs):
        total = torch.zeros((), device=x.device)
        for idx in torch.randperm(len(x), generator=g).split(batch_size):
            loss = torch.mean((predict(x[idx]) - y[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = total + loss.detach() * len(idx)  # no host sync per step
            bar.update(1)
        hist.append(float(total) / len(x))
        bar.set_postfix(model=label, loss=f"{hist[-1]:.3g}")
    module.eval()
    return hist


@torch.no_grad()
def _errors(predict, test_x, test_y, roll_x, roll_y, batch_size, band_masks=None):
    err = torch.cat([predict(test_x[i:i + batch_size]).to(test_y.dtype) - test_y[i:i + batch_size]
                     for i in range(0, len(test_x), batch_size)])  # (W, N, N)
    k = roll_y.shape[1]
    rse = torch.cat([((rollout(predict, roll_x[i:i + batch_size], k) - roll_y[i:i + batch_size]) ** 2).mean((-2, -1))
                     for i in range(0, len(roll_x), batch_size)])  # (W, k)
    bands = [] if band_masks is None else decompose(err[:, None], masks=band_masks)[:, :, 0].pow(2).mean((0, 2, 3)).tolist()
    return float(err.pow(2).mean()), float(rse.mean()), float(rse[:, -1].mean()), bands


def evaluate_next_frame(frames, models=DEFAULT_MODELS, context: int = 8, budget: str | None = None, seed: int = 0, *,
                        k: int = 10, test_fraction: float = 0.25, epochs: int | None = None, params: int | None = None,
                        batch_size: int = 16, lr: float = 1e-3, data_range: float | None = None,
                        device=None, progress: bool = True, trainer: Callable | None = None,
                        band_masks: torch.Tensor | None = None) -> pd.DataFrame:
    """Next-frame and k-step rollout errors per model on ``frames (T, N, N)`` (module docstring).

    Raises ValueError for a wrong rank, non-square or too small frames, NaN/inf, too few frames for
    ``context`` + ``k``, an unknown model or budget, or ``data_range <= 0``.
    """
    x = _check_frames(frames)
    validate.positive_int("context", context)
    validate.positive_int("k", k)
    validate.positive_int("batch_size", batch_size)
    if context < 2:
        raise ValueError(f"context must be >= 2 (linear extrapolation and the multiplier need two frames), got {context}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if params is not None:
        validate.positive_int("params", params)
    specs = _spec(models)
    trainer = train_epochs if trainer is None else trainer
    if not callable(trainer):
        raise ValueError(f"trainer must be callable, got {trainer!r}")
    if band_masks is not None:
        band_masks = torch.as_tensor(band_masks, dtype=torch.float32)
        if band_masks.ndim != 3 or band_masks.shape[1] != x.shape[1] or band_masks.shape[2] not in (x.shape[1], x.shape[1] // 2 + 1):
            raise ValueError(f"band_masks must have shape (M, N, N//2+1) or (M, N, N) with N = {x.shape[1]}, "
                             f"got {tuple(band_masks.shape)}")
    epochs = runtime.sized(quick=3, full=30, budget_name=budget) if epochs is None else epochs
    validate.positive_int("epochs", epochs)
    base_dim = runtime.sized(quick=8, full=32, budget_name=budget)
    rng = float(x.max() - x.min()) if data_range is None else float(data_range)
    if not (math.isfinite(rng) and rng > 0):
        raise ValueError(f"data_range must be positive (constant frames need an explicit data_range), got {rng!r}")
    n_train, n_test = split_frames(len(x), context, k, test_fraction)
    mean, std = x[:n_train].mean(), x[:n_train].std()
    std = std if std > 0 else 1.0
    dev = runtime.torch_device() if device is None else torch.device(device)
    z = torch.as_tensor((x - mean) / std, dtype=torch.float32, device=dev)
    train, test = z[:n_train], z[n_train:]
    tr_x, tr_y = windows(train, context)
    te_x, te_y = windows(test, context)
    starts = range(0, n_test - context - k + 1, k)
    ro_x = torch.stack([test[s:s + context] for s in starts])
    ro_y = torch.stack([test[s + context:s + context + k] for s in starts])

    built, hierarchical = {}, [(lb, kw) for lb, nm, kw in specs if nm == "hierarchical"]
    with runtime.torch_cpu_threads(dev):
        for label, name, kw in specs:
            if name in LEARNED:
                torch.manual_seed(seed)
                target = params
                if target is None and hierarchical and name != "hierarchical":
                    target = HierarchicalSpectralModel(**{"base_dim": base_dim, "n": x.shape[1], **hierarchical[0][1]}).n_parameters
                built[label] = _build(name, kw, context, x.shape[1], target, base_dim).to(dev)
        steps = epochs * math.ceil(len(tr_x) / batch_size) * len(built)
        rows, history = [], {}
        bar = runtime.progress(total=steps, desc="evaluate_next_frame", disable=not progress or steps == 0)
        try:
            for label, name, kw in specs:
                fit, n_params, n_epochs = 0.0, 0, 0
                if label in built:
                    module = built[label]
                    t0 = time.perf_counter()
                    history[label] = trainer(module, tr_x, tr_y, epochs=epochs, batch_size=batch_size, lr=lr,
                                            seed=seed, bar=bar, label=label)
                    fit, n_params, n_epochs = time.perf_counter() - t0, sum(p.numel() for p in module.parameters()), epochs
                    predict = _predictor(module)
                elif name == "spectral_ar1":
                    t0 = time.perf_counter()
                    ar = baselines.SpectralAR1().fit(train)
                    fit = time.perf_counter() - t0
                    predict = ar.predict
                else:
                    predict = baselines.CLASSICAL[name]
                mse, r_mse, r_last, per_band = _errors(predict, te_x, te_y, ro_x, ro_y, batch_size,
                                                       None if band_masks is None else band_masks.to(dev))
                mse, r_mse, r_last, *per_band = (v * std ** 2 for v in (mse, r_mse, r_last, *per_band))
                psnr = 10 * math.log10(rng ** 2 / mse) if mse > 0 else math.inf
                rows.append((label, n_params, mse, psnr, r_mse, r_last, fit, n_epochs, *per_band))
        finally:
            bar.close()
    extra = [] if band_masks is None else [f"mse_band_{i}" for i in range(len(band_masks))]
    df = pd.DataFrame(rows, columns=list(COLUMNS) + extra)
    df.attrs["history"] = history
    df.attrs["split"] = {"train_frames": n_train, "test_frames": n_test, "train_windows": len(tr_x),
                         "test_windows": len(te_x), "rollout_windows": len(ro_x), "k": k, "context": context}
    return df
