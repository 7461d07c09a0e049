"""Learned imputers in PyTorch: a causal GRU and a bidirectional GRU, trained
self-supervised on the series itself (issue 10, item 3).

Protocol, shared with :mod:`.pypots_methods` (SAITS / BRITS):

1. **Scale** each channel with :class:`~spectral_manifolds.data.real_series.Scaler`
   fitted on the *observed* entries of ``x[:train_end]`` (all of ``x`` when None).
2. **Windows**: the training set is the overlapping windows ``(N, L, C)`` of the
   scaled ``x[:train_end]`` (:func:`windows`: length ``L = min(window, T)``, stride
   ``L // 2``, the last window flush with the end).
3. **Self-supervised training** (as SAITS and BRITS do): every batch hides a fresh
   random ``mask_rate`` share of the observed inputs (artificial missingness, drawn
   from a seeded ``torch.Generator``); the loss is the MSE of the predictions at every
   observed entry. Neither network sees ``x_t`` when it predicts ``x_t``, so every
   observed entry is a fair target and the extra masking teaches it to carry on
   through gaps.
4. **Fill** the missing entries of the whole series; observed entries come back bit
   for bit.

The two networks (``C`` channels, hidden size ``H``):

* :func:`gru` (**causal**) -- a ``GRUCell`` rolled forward over time, as BRITS's
  RITS (Cao et al. 2018, sec. 4.1) without the decay: ``h_t = GRU([c_{t-1}, m_{t-1}],
  h_{t-1})``, ``p_t = W h_t + b`` predicts ``x_t`` from ``x_<t`` only, and the next
  input is the complement ``c_t = m_t x_t + (1 - m_t) p_t``: a missing entry is
  filled with the model's own one-step prediction and the rollout continues from it,
  in training and at imputation alike. With ``train_end`` at or before the first entry
  it fills, nothing after ``t`` reaches the fill at ``t``; with ``train_end=None`` the
  rollout is causal but the weights have seen the whole series (like
  :func:`~.statespace.kalman`).
* :func:`bigru` (**bidirectional**) -- ``nn.GRU(bidirectional=True)`` over the
  zero-filled input with its mask, ``[m_t x_t, m_t]``; the prediction of ``x_t`` reads
  the forward state at ``t - 1`` and the backward state at ``t + 1``:
  ``p_t = W [f_{t-1}, b_{t+1}] + b``. One parallel pass, no rollout.

Sizes: ``hidden=32`` (3,489 parameters for "gru", 6,977 for "bigru" at C = 1, :func:`parameter_count`), windows of
64, batches of 16, Adam at ``lr=5e-3``; epochs ``runtime.sized(quick=30, full=150)``
unless given. Seeded with ``runtime.seed_everything(seed)`` (weights) and the
generator (batches, masks); on ``runtime.torch_device()`` with one CPU thread on small
machines (``runtime.torch_cpu_threads``). Needs at least :data:`MIN_OBSERVED`
observations per channel.

The protocol's pieces (scaling, windows, levels, blending, :class:`Fitted`) live in
:mod:`.learned_protocol` and are importable from here too.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.imputation import learned_protocol
from spectral_manifolds.imputation.learned_protocol import (  # noqa: F401  (re-exported)
    MIN_OBSERVED, Fitted, blend, causal_level, fill_missing, prepare, window_level, windows, windows_many)

__all__ = ["MIN_OBSERVED", "Fitted", "fit", "window_level", "causal_level", "prepare", "windows", "windows_many", "blend",
           "fill_missing", "gru", "bigru", "parameter_count", "epochs_for"]

_EPOCHS = {"gru": (30, 150), "bigru": (30, 150)}


def epochs_for(method: str, epochs: int | None, budget: str | None, table: dict | None = None) -> int:
    """``epochs`` when given (a positive int), else ``runtime.sized`` of the method's
    (quick, full) epochs in ``table`` (default: this module's) for ``budget``."""
    return learned_protocol.epochs_for(method, epochs, budget, _EPOCHS if table is None else table)


# --------------------------------------------------------------------------- networks
def _causal_net(C: int, hidden: int):
    import torch.nn as nn

    return nn.ModuleDict({"cell": nn.GRUCell(2 * C, hidden), "head": nn.Linear(hidden, C)})


def _causal_forward(net, z, m):
    """Roll the causal GRU: z, m (B, T, C) (z zero where m = 0) -> p (B, T, C), p_t from x_<t."""
    import torch

    B, T, C = z.shape
    h = z.new_zeros(B, net["cell"].hidden_size)
    prev, prev_m = z.new_zeros(B, C), z.new_zeros(B, C)
    preds = []
    for t in range(T):
        h = net["cell"](torch.cat([prev, prev_m], dim=-1), h)
        p = net["head"](h)
        preds.append(p)
        prev = m[:, t] * z[:, t] + (1 - m[:, t]) * p  # the complement: roll on from the fill
        prev_m = m[:, t]
    return torch.stack(preds, dim=1)


def _bidir_net(C: int, hidden: int):
    import torch.nn as nn

    return nn.ModuleDict({"gru": nn.GRU(2 * C, hidden, batch_first=True, bidirectional=True), "head": nn.Linear(2 * hidden, C)})


def _bidir_forward(net, z, m):
    """Bidirectional GRU: z, m (B, T, C) -> p (B, T, C), p_t from [f_{t-1}, b_{t+1}] (never x_t)."""
    import torch
    import torch.nn.functional as F

    out, _ = net["gru"](torch.cat([z * m, m], dim=-1))
    H = out.shape[-1] // 2
    fwd = F.pad(out[:, :-1, :H], (0, 0, 1, 0))  # f_{t-1}, zeros at t = 0
    bwd = F.pad(out[:, 1:, H:], (0, 0, 0, 1))  # b_{t+1}, zeros at t = T - 1
    return net["head"](torch.cat([fwd, bwd], dim=-1))


_NETS: dict[str, tuple[Callable, Callable]] = {"gru": (_causal_net, _causal_forward), "bigru": (_bidir_net, _bidir_forward)}


def parameter_count(method: str, n_features: int = 1, hidden: int = 32) -> int:
    """Trainable parameters of the 'gru' or 'bigru' network for ``n_features`` channels."""
    build, _ = _NETS[method]
    return int(sum(p.numel() for p in build(int(n_features), int(hidden)).parameters()))


def fit(method: str, x: np.ndarray, *, hidden: int = 32, window: int = 64, epochs: int | None = None, batch_size: int = 16,
        lr: float = 5e-3, mask_rate: float = 0.2, train_end: int | None = None, seed: int = 0, budget: str | None = None,
        local_level: bool = False) -> Fitted:
    """Train ``method``'s network ('gru' or 'bigru') on windows of ``x[:train_end]`` (module docstring).

    ``local_level``: model the deviation from a local level instead of the scaled value
    (a series whose level leaves the training range, e.g. a trend): 'gru' subtracts
    :func:`causal_level` (the mean of the last ``window`` observed steps, causal),
    'bigru' each window's observed mean (:func:`window_level`), in training and fill alike.
    """
    import torch

    validate.choice("method", method, tuple(_NETS))
    for name, v in (("hidden", hidden), ("window", window), ("batch_size", batch_size)):
        validate.positive_int(name, v)
    if not 0.0 <= float(mask_rate) < 1.0:
        raise ValueError(f"mask_rate must be in [0, 1), got {mask_rate!r}")
    if not float(lr) > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    n_epochs = epochs_for(method, epochs, budget)
    start = time.perf_counter()
    z, scaler, end = prepare(x, train_end)
    L = int(min(window, end))
    causal = local_level and method == "gru"
    W, _ = windows(z[:end] - causal_level(z[:end], L) if causal else z[:end], L)
    if local_level and not causal:
        W = W - window_level(W)
    device = runtime.torch_device()
    build, forward = _NETS[method]
    runtime.seed_everything(int(seed))
    gen = torch.Generator().manual_seed(int(seed))
    with runtime.torch_cpu_threads(device):
        net = build(z.shape[1], int(hidden)).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=float(lr))
        M = torch.from_numpy(~np.isnan(W)).float()
        Z = torch.from_numpy(np.nan_to_num(W, nan=0.0))
        for _ in range(n_epochs):
            order = torch.randperm(len(Z), generator=gen)
            for idx in order.split(int(batch_size)):
                m = M[idx]
                keep = (torch.rand(m.shape, generator=gen) >= float(mask_rate)).float() * m
                zb, mb, kb = Z[idx].to(device), m.to(device), keep.to(device)
                pred = forward(net, zb * kb, kb)
                loss = ((pred - zb) ** 2 * mb).sum() / mb.sum().clamp_min(1.0)
                opt.zero_grad()
                loss.backward()
                opt.step()
    n_params = int(sum(p.numel() for p in net.parameters()))

    def predict(Z: np.ndarray) -> np.ndarray:
        level = np.stack([causal_level(z, L) for z in Z]) if causal else 0.0
        with runtime.torch_cpu_threads(device), torch.no_grad():
            return _predict(method, net, Z - level, L, device, centre=local_level and not causal) + level

    return Fitted(method, net, scaler, L, n_params, time.perf_counter() - start, predict)


def _fit_fill(method: str, x: np.ndarray, **kw) -> np.ndarray:
    """Train ``method``'s network on windows of ``x[:train_end]`` and fill ``x``'s NaN."""
    return fit(method, x, **kw).fill(x)


def _predict(method: str, net, Z: np.ndarray, window: int, device, centre: bool = False) -> np.ndarray:
    """(B, T, C) predictions of the trained network over the scaled series ``Z`` (B, T, C),
    all of them in one batched pass.

    'gru': one causal rollout over each whole series. 'bigru': the training windows'
    length, overlapping windows blended with triangular weights (a step counts most in
    the window where it is central, so both directions have context).
    """
    import torch

    _, forward = _NETS[method]
    B, T = Z.shape[:2]
    if method == "gru":
        W, starts = Z, np.zeros(1, dtype=int)
    else:
        W, starts = windows_many(Z, window)
    level = window_level(W) if centre else np.zeros((len(W), 1, W.shape[2]), W.dtype)
    W = W - level
    m = torch.from_numpy(~np.isnan(W)).float().to(device)
    zz = torch.from_numpy(np.nan_to_num(W, nan=0.0)).to(device)
    P = (forward(net, zz * m, m).cpu().numpy().astype(np.float64) + level).reshape(B, len(starts), W.shape[1], W.shape[2])
    return np.stack([blend(p, starts, T) for p in P])


def gru(x: np.ndarray, hidden: int = 32, window: int = 64, epochs: int | None = None, batch_size: int = 16,
        lr: float = 5e-3, mask_rate: float = 0.2, train_end: int | None = None, local_level: bool = False, *, seed: int = 0,
        budget: str | None = None) -> np.ndarray:
    """Causal GRU imputer: fills each missing ``x_t`` by rolling the network forward from ``x_<t``.

    Args:
        x: (T,) or (T, C) float, NaN = missing; channels are modelled jointly.
        hidden: GRU state size H.
        window: training window length L (capped at T).
        epochs: passes over the windows (None: ``runtime.sized(quick=30, full=150)``).
        batch_size, lr: Adam's batches and step size.
        mask_rate: share of observed inputs hidden afresh in every batch.
        train_end: scale and train on ``x[:train_end]`` only (the fill still covers all of x).
        local_level: model deviations from the causal local level (see :func:`fit`).
        seed: weights, batch order and artificial masks.
        budget: 'quick' / 'full' / None (``runtime``'s default) for the default epochs.

    Returns:
        a filled copy, x's shape, float64; observed entries unchanged.
    """
    return _fit_fill("gru", x, hidden=hidden, window=window, epochs=epochs, batch_size=batch_size, lr=lr,
                     mask_rate=mask_rate, train_end=train_end, seed=seed, budget=budget, local_level=local_level)


def bigru(x: np.ndarray, hidden: int = 32, window: int = 64, epochs: int | None = None, batch_size: int = 16,
          lr: float = 5e-3, mask_rate: float = 0.2, train_end: int | None = None, local_level: bool = False, *, seed: int = 0,
          budget: str | None = None) -> np.ndarray:
    """Bidirectional GRU imputer: fills ``x_t`` from the forward state at t - 1 and the
    backward state at t + 1. Same arguments and return as :func:`gru`."""
    return _fit_fill("bigru", x, hidden=hidden, window=window, epochs=epochs, batch_size=batch_size, lr=lr,
                     mask_rate=mask_rate, train_end=train_end, seed=seed, budget=budget, local_level=local_level)
