"""Multi-step forecasting with any model: ``train_forecaster`` and its simple baselines.

Issue 8, "Build": ``train_forecaster(series, horizon, ...)`` taking a numpy series, so a
reader can run a model on their own data. The training loop is the one of
:func:`spectral_manifolds.cvkan.train.train_classifier`.

Forecasting windows are chronological (DESIGN.md, "Compare like with like"): with
``cut = T - n_test_steps``, every training window (context and target) lies in
``[0, cut)`` and every test window's target lies in ``[cut, T)``; a test context may
reach back before ``cut`` (the past is known when forecasting), but no test target is
ever seen in training. The series is standardized per channel with statistics of
``[0, cut)`` only; metrics are on the original scale, beside three baselines on the same
test windows: seasonal naive (``y[t + h] <- y[t + h - P (floor((h-1)/P) + 1)]``), last
value, and a ridge regression on the flattened context (closed form).
"""

from __future__ import annotations

import numpy as np
import torch

from spectral_manifolds import runtime, validate
from spectral_manifolds.cvkan.layers import n_real_parameters
from spectral_manifolds.cvkan.train import Fit, _build, _check_output, _loop, epochs_for

__all__ = ["train_forecaster", "chronological_windows", "seasonal_naive", "last_value", "ridge_forecast"]


def chronological_windows(n_steps: int, context: int, horizon: int, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray, int]:
    """Window starts for a chronological split of a series of ``n_steps`` steps.

    A window starting at ``s`` reads ``[s, s + context)`` and predicts ``[s + context, s + context + horizon)``.

    Returns:
        ``(train_starts, test_starts, cut)``: training windows end at or before ``cut``;
        test targets start at or after ``cut`` (``n_steps - cut = max(horizon, round(f T))``).
    """
    for name, v in (("n_steps", n_steps), ("context", context), ("horizon", horizon)):
        validate.positive_int(name, v)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    cut = n_steps - max(horizon, int(round(test_fraction * n_steps)))
    train = np.arange(0, cut - context - horizon + 1)
    test = np.arange(max(cut, context), n_steps - horizon + 1) - context
    if len(train) < 2 or len(test) < 1:
        raise ValueError(f"a series of {n_steps} steps is too short for context={context}, horizon={horizon}, test_fraction={test_fraction}: {len(train)} training and {len(test)} test windows (need 2 and 1)")
    return train, test, int(cut)


def seasonal_naive(contexts: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Seasonal-naive forecasts: (W, L, C) contexts -> (W, horizon, C), ``y_hat[h] = c[L - P + (h - 1) mod P]``."""
    validate.positive_int("season", season)
    L = contexts.shape[1]
    if season > L:
        raise ValueError(f"season={season} needs a context of at least {season} steps, got {L}")
    return contexts[:, L - season + np.arange(horizon) % season]


def last_value(contexts: np.ndarray, horizon: int) -> np.ndarray:
    """Last-value forecasts: (W, L, C) -> (W, horizon, C), every step the context's last."""
    return np.repeat(contexts[:, -1:], horizon, axis=1)


def ridge_forecast(xs: np.ndarray, ys: np.ndarray, xq: np.ndarray, lam: float = 1e-3) -> np.ndarray:
    """Ridge on flattened windows (bias unpenalized): (W, L, C), (W, H, C), (W', L, C) -> (W', H, C)."""
    a = np.concatenate([xs.reshape(len(xs), -1), np.ones((len(xs), 1))], 1).astype(np.float64)
    reg = lam * len(xs) * np.eye(a.shape[1])
    reg[-1, -1] = 0.0
    w = np.linalg.solve(a.T @ a + reg, a.T @ ys.reshape(len(ys), -1))
    q = np.concatenate([xq.reshape(len(xq), -1), np.ones((len(xq), 1))], 1)
    return (q @ w).reshape(len(xq), *ys.shape[1:])


def train_forecaster(series, horizon: int, *, model, context: int | None = None, season: int | None = None, budget: str | None = None, seed: int = 0, epochs: int | None = None, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-2, test_fraction: float = 0.2, device=None, progress: bool = True) -> Fit:
    """Train a multi-step forecaster on one series with a chronological split (module docstring).

    Args:
        series: (T,) or (T, C) real numpy array, no NaN.
        horizon: steps predicted per window (H).
        model: an ``nn.Module`` mapping (B, context, C) to (B, H * C) or (B, H, C), or a
            callable ``model(in_features=C, out_dim=H * C) -> nn.Module``.
        context: input steps per window (default ``max(2 * season, 4 * horizon)``).
        season: period P for the seasonal-naive baseline (None: not computed).
        budget, seed, epochs, batch_size, lr, weight_decay, device, progress: as
            :func:`train_classifier`.
        test_fraction: share of the final steps whose values are test targets.

    Returns:
        A :class:`Fit`; ``test`` holds mse, mae and the baselines' MSE (original scale).
    """
    s = np.asarray(series)
    if s.dtype.kind not in "fiu" or s.ndim not in (1, 2):
        raise ValueError(f"series must be a real (T,) or (T, C) array, got dtype {s.dtype} and shape {s.shape}")
    validate.check_finite(s, "series")
    s = (s[:, None] if s.ndim == 1 else s).astype(np.float64)
    validate.positive_int("horizon", horizon)
    validate.positive_int("batch_size", batch_size)
    if season is not None:
        validate.positive_int("season", season)
    context = context if context is not None else max(2 * (season or 0), 4 * horizon)
    validate.positive_int("context", context)
    if season is not None and season > context:
        raise ValueError(f"season={season} must not exceed context={context}")
    train_starts, test_starts, cut = chronological_windows(len(s), context, horizon, test_fraction)
    n_epochs = epochs_for(budget, epochs)
    runtime.seed_everything(seed)

    mean, std = s[:cut].mean(0), s[:cut].std(0)
    std = np.where(std > 0, std, 1.0)
    norm = ((s - mean) / std).astype(np.float32)

    def windows(starts, data):
        idx = starts[:, None] + np.arange(context + horizon)
        w = data[idx]  # (W, context + H, C)
        return w[:, :context], w[:, context:]

    xs, ys = windows(train_starts, norm)
    xq, yq = windows(test_starts, norm)
    C, H = s.shape[1], horizon
    device = runtime.torch_device() if device is None else torch.device(device)
    net = _build(model, C, H * C).to(device)
    xt, yt = torch.from_numpy(xs).to(device), torch.from_numpy(ys).to(device)
    xe, ye = torch.from_numpy(xq).to(device), torch.from_numpy(yq).to(device)

    def predict(net, x):
        out = net(x)
        if out.ndim == 2 and not out.is_complex() and out.shape == (len(x), H * C):
            out = out.reshape(len(x), H, C)
        _check_output(out, (len(x), H, C), "train_forecaster")
        return out

    def step(net, x, y):
        return torch.mean((predict(net, x) - y) ** 2), {}

    def evaluate(net):
        return {"test_loss": float(torch.mean((predict(net, xe) - ye) ** 2))}

    hist = _loop(net, xt, yt, step, evaluate, epochs=n_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed, progress=progress, desc="train_forecaster")
    with torch.no_grad():
        pred = predict(net, xe).cpu().numpy().astype(np.float64) * std + mean
    raw_x, raw_y = windows(test_starts, s)
    lin = ridge_forecast(xs.astype(np.float64), ys.astype(np.float64), xq.astype(np.float64)) * std + mean
    test = {
        "mse": float(np.mean((pred - raw_y) ** 2)),
        "mae": float(np.mean(np.abs(pred - raw_y))),
        "seasonal_naive_mse": None if season is None else float(np.mean((seasonal_naive(raw_x, H, season) - raw_y) ** 2)),
        "last_value_mse": float(np.mean((last_value(raw_x, H) - raw_y) ** 2)),
        "linear_mse": float(np.mean((lin - raw_y) ** 2)),
    }
    info = {"cut": cut, "train_starts": train_starts, "test_starts": test_starts, "context": context, "mean": mean, "std": std}
    return Fit(net, hist, test, n_real_parameters(net), info)
