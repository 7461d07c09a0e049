"""The protocol every learned imputer shares (issue 10, item 3): scaling on the observed
training values, overlapping windows, local levels, blending window predictions back
into a series, and :class:`Fitted`, a trained imputer that fills any number of series.

Used by :mod:`.learned` (GRU, bidirectional GRU), :mod:`.pypots_methods` (SAITS, BRITS)
and :mod:`.manifoldformer_method`; the steps are described in :mod:`.learned`'s
docstring. Every name here is also importable from :mod:`.learned`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.data.real_series import Scaler

__all__ = ["MIN_OBSERVED", "Fitted", "epochs_for", "prepare", "windows", "windows_many", "blend", "fill_missing",
           "window_level", "causal_level"]

#: Fewest observed entries per channel a learned imputer accepts (the scaler needs 2;
#: a handful more give the self-supervised loss something to fit).
MIN_OBSERVED = 8


def epochs_for(method: str, epochs: int | None, budget: str | None, table: dict) -> int:
    """``epochs`` when given (a positive int), else ``runtime.sized`` of the method's
    (quick, full) epochs in ``table`` for ``budget``."""
    if epochs is not None:
        validate.positive_int("epochs", epochs)
        return int(epochs)
    quick, full = table[method]
    return int(runtime.sized(quick=quick, full=full, budget_name=budget))


def prepare(x: np.ndarray, train_end: int | None) -> tuple[np.ndarray, Scaler, int]:
    """Scale ``x`` ((T,) or (T, C), NaN = missing) on the observed ``x[:train_end]``.

    Returns:
        ``(z, scaler, end)``: z (T, C) float32 scaled, NaN kept; the fitted scaler;
        ``end`` the training cut (T when ``train_end`` is None).
    """
    x2 = np.asarray(x, dtype=np.float64)
    x2 = x2[:, None] if x2.ndim == 1 else x2
    T = x2.shape[0]
    end = T if train_end is None else int(train_end)
    if not 2 <= end <= T:
        raise ValueError(f"train_end must be in 2..{T}, got {train_end!r}")
    if np.any(np.sum(~np.isnan(x2[:end]), axis=0) < 2):
        raise ValueError("every channel needs at least 2 observed entries before train_end")
    scaler = Scaler.fit(x2[:end])
    return scaler.transform(x2).astype(np.float32), scaler, end


def windows(z: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping windows of ``z`` ((T, C)): ``(W, starts)``, W (N, L, C) with
    ``L = min(length, T)``, stride ``max(L // 2, 1)``, the last window ending at T."""
    T = z.shape[0]
    L = int(min(length, T))
    if L < 2:
        raise ValueError(f"windows need a length >= 2, got {length!r} for T = {T}")
    starts = list(range(0, T - L + 1, max(L // 2, 1)))
    if starts[-1] != T - L:
        starts.append(T - L)
    starts = np.asarray(starts)
    return np.stack([z[s : s + L] for s in starts]), starts


def windows_many(Z: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`windows` of every series of ``Z`` ((B, T, C)), concatenated:
    ``(W, starts)``, W (B * N, L, C), series b's windows at rows ``b * N .. (b + 1) * N - 1``."""
    parts = [windows(z, length) for z in Z]
    return np.concatenate([w for w, _ in parts]), parts[0][1]


def blend(P: np.ndarray, starts: np.ndarray, T: int) -> np.ndarray:
    """Blend window predictions P (N, L, C) starting at ``starts`` (N,) into (T, C),
    with triangular weights ``min(i + 1, L - i)`` (a window's centre counts most)."""
    P = np.asarray(P, dtype=np.float64)
    L = P.shape[1]
    weight = np.minimum(np.arange(1, L + 1), np.arange(L, 0, -1)).astype(np.float64)[:, None]
    num = np.zeros((T, P.shape[2]))
    den = np.zeros((T, 1))
    for s, p in zip(starts, P):
        num[s : s + L] += weight * p
        den[s : s + L] += weight
    return num / den


def fill_missing(x: np.ndarray, pred_scaled: np.ndarray, scaler: Scaler) -> np.ndarray:
    """Write ``scaler.inverse(pred_scaled)`` ((T, C)) into the missing entries of a copy of ``x``."""
    out = np.array(x, dtype=np.float64, copy=True)
    pred = scaler.inverse(np.asarray(pred_scaled, dtype=np.float64))
    pred = pred[:, 0] if out.ndim == 1 else pred
    miss = np.isnan(out)
    out[miss] = pred[miss]
    return out


def window_level(W: np.ndarray) -> np.ndarray:
    """(N, 1, C): the mean of each window's observed entries (0 where a channel has none)."""
    obs = ~np.isnan(W)
    n = obs.sum(axis=1, keepdims=True)
    return np.where(n > 0, np.nansum(W, axis=1, keepdims=True) / np.maximum(n, 1), 0.0).astype(W.dtype)


def causal_level(z: np.ndarray, length: int) -> np.ndarray:
    """(T, C): at step t the mean of the observed entries of ``z[t - length : t]`` (the past
    only; 0 where there are none, e.g. at t = 0)."""
    obs = ~np.isnan(z)
    c = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum(np.where(obs, z, 0.0), axis=0)])
    n = np.concatenate([np.zeros((1, z.shape[1])), np.cumsum(obs, axis=0)])
    t = np.arange(z.shape[0])
    lo = np.maximum(t - int(length), 0)
    s, k = c[t] - c[lo], n[t] - n[lo]
    return np.where(k > 0, s / np.maximum(k, 1), 0.0).astype(z.dtype)


@dataclass
class Fitted:
    """A trained learned imputer: ``fill(x)`` imputes any series of the training channels
    with the trained weights (no retraining), scaled by the training scaler;
    ``fill_many`` imputes several series of one shape in one batched pass.

    Attributes:
        method: its name; net: the trained model; scaler: fitted on the observed
            training values; window: L; n_params: trainable parameters; fit_seconds: wall
            time; predict: ``(B, T, C) scaled -> (B, T, C) scaled predictions``.
    """

    method: str
    net: object
    scaler: Scaler
    window: int
    n_params: int
    fit_seconds: float
    predict: Callable = field(repr=False, default=None)

    def fill(self, x: np.ndarray) -> np.ndarray:
        """A filled copy of x ((T,) or (T, C), NaN = missing); observed entries unchanged."""
        return self.fill_many([x])[0]

    def fill_many(self, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Filled copies of the series ``xs`` (each (T,) or (T, C), all of one shape), from
        one batched prediction: the same fills as :meth:`fill` on each (to float rounding)."""
        xs = [np.asarray(x, dtype=np.float64) for x in xs]
        if not xs or any(x.shape != xs[0].shape for x in xs):
            raise ValueError(f"fill_many needs one or more series of one shape, got {[x.shape for x in xs]}")
        Z = np.stack([self.scaler.transform(x) for x in xs])
        Z = (Z[..., None] if Z.ndim == 2 else Z).astype(np.float32)
        P = self.predict(Z)
        return [fill_missing(x, p, self.scaler) for x, p in zip(xs, P)]
