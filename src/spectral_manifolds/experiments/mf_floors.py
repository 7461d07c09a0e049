"""Classical forecasters for the gaps of Chapter 4: the floors a practitioner would try
for a linear oscillator before a neural model (DESIGN.md, "The evidence standard":
the strongest simple baseline). numpy only.

* :func:`estimate_frequencies` -- the system's frequencies from the training set by
  ESPRIT (the shift invariance of the signal subspace of its Hankel windows).
* :func:`sinusoid_forecast` -- per sequence, a least-squares fit of
  ``c + sum_k a_k sin(2 pi f_k t) + b_k cos(2 pi f_k t)`` (every channel at once) to the
  context, evaluated over the gap.
* :func:`fit_ar` / :func:`ar_forecast` -- an AR(p) model ``x_t = c + sum_i phi_i x_{t-i}``
  fitted by least squares (the closed form of conditional maximum likelihood) on the
  training set, pooled over sequences and channels, and iterated over the gap. A sum of
  ``K`` sinusoids obeys an exact linear recurrence of order ``2K``, so AR(p >= 2K) can
  forecast it; the noise makes a longer p useful.

Both forecasters see only the context, as the model's rollouts do; linear interpolation
(:func:`spectral_manifolds.data.gaps.linear_fill`) also sees the far side.
"""

from __future__ import annotations

import numpy as np

__all__ = ["estimate_frequencies", "sinusoid_forecast", "fit_ar", "ar_forecast"]


def _seq(x, name: str = "x") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"{name} must have shape (B, T, C) or (T, C) with T >= 2, got {x.shape}")
    return x


def estimate_frequencies(x, k: int, *, window: int | None = None, max_windows: int = 20_000) -> np.ndarray:
    """The ``k`` frequencies of a sum of ``k`` sinusoids in noise, by ESPRIT.

    Windows of ``window`` steps from every sequence and channel (the training set's
    Hankel matrices, stacked) span, up to noise, the ``2k``-dimensional space of
    ``exp(+-2 pi i f_j t)``; their top ``2k`` right singular vectors ``V`` are shift-invariant,
    ``V[1:] = V[:-1] Phi``, and the eigenvalues of ``Phi`` are ``exp(+-2 pi i f_j)``
    (Roy & Kailath 1989). Pooling the sequences resolves modes that one short sequence (a
    periodogram's resolution, 1 / T) cannot.

    Args:
        x: (B, T, C) or (T, C) sequences of one system (e.g. the training set).
        k: how many frequencies.
        window: window length (default ``min(T // 2, 64)``).
        max_windows: cap on the stacked windows (evenly spaced over the data).
    Returns:
        (k,) frequencies in cycles per step, in [0, 0.5], ascending.
    """
    x = _seq(x)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    T = x.shape[1]
    w = int(window or min(T // 2, 64))
    if not 2 * k < w <= T:
        raise ValueError(f"window must lie in (2k, T] = ({2 * k}, {T}], got {w}")
    series = np.moveaxis(x, 2, 1).reshape(-1, T)  # (B*C, T); not centred: a sum of sinusoids stays exact
    win = np.lib.stride_tricks.sliding_window_view(series, w, axis=1).reshape(-1, w)
    win = win[np.linspace(0, win.shape[0] - 1, min(max_windows, win.shape[0])).astype(int)]
    v = np.linalg.svd(win, full_matrices=False)[2][: 2 * k].T  # (w, 2k)
    phi = np.linalg.lstsq(v[:-1], v[1:], rcond=None)[0]
    angles = np.sort(np.abs(np.angle(np.linalg.eigvals(phi))))  # conjugate pairs: equal |angle|
    return np.sort(angles.reshape(k, 2).mean(axis=1) / (2 * np.pi))


def sinusoid_forecast(context, freqs, n_steps: int) -> np.ndarray:
    """Least-squares sinusoids on the context, extrapolated ``n_steps`` steps.

    Args:
        context: (B, t0, C) or (t0, C) observed steps ``0 .. t0-1``.
        freqs: (K,) frequencies in cycles per step (shared by all sequences).
        n_steps: gap length.
    Returns:
        (B, n_steps, C) (or (n_steps, C)): the fit at steps ``t0 .. t0 + n_steps - 1``.
    """
    squeeze = np.asarray(context).ndim == 2
    x = _seq(context, "context")
    f = np.asarray(freqs, dtype=np.float64).ravel()
    t0 = x.shape[1]

    def design(t):
        w = 2 * np.pi * np.outer(t, f)
        return np.concatenate([np.ones((t.size, 1)), np.sin(w), np.cos(w)], axis=1)

    a = design(np.arange(t0, dtype=np.float64))  # (t0, 2K+1), the same for every sequence
    coef = np.einsum("pt,btc->bpc", np.linalg.pinv(a), x)
    out = np.einsum("tp,bpc->btc", design(np.arange(t0, t0 + n_steps, dtype=np.float64)), coef).astype(np.float32)
    return out[0] if squeeze else out


def fit_ar(x, p: int, *, max_rows: int = 2_000_000) -> np.ndarray:
    """AR(p) coefficients ``[c, phi_1, ..., phi_p]`` by least squares, pooled over sequences
    and channels.

    Args:
        x: (B, T, C) or (T, C) training sequences, T > p.
        p: the order.
        max_rows: cap on the regression rows (the first sequences are used).
    Returns:
        (p + 1,) the intercept and the lag coefficients (lag 1 first).
    """
    x = _seq(x)
    if not isinstance(p, (int, np.integer)) or p < 1 or p >= x.shape[1]:
        raise ValueError(f"p must be an integer in [1, T) with T = {x.shape[1]}, got {p!r}")
    series = np.moveaxis(x, 2, 1).reshape(-1, x.shape[1])  # (B*C, T)
    per = x.shape[1] - p
    series = series[: max(1, max_rows // per)]
    lags = np.stack([series[:, p - i : series.shape[1] - i] for i in range(1, p + 1)], axis=-1)  # (S, T-p, p)
    a = np.concatenate([np.ones(lags.shape[:2] + (1,)), lags], axis=-1).reshape(-1, p + 1)
    y = series[:, p:].reshape(-1)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return coef


def ar_forecast(context, coef, n_steps: int) -> np.ndarray:
    """Iterate an AR(p) model over the gap, each channel on its own.

    Args:
        context: (B, t0, C) or (t0, C), t0 >= p.
        coef: (p + 1,) from :func:`fit_ar`.
        n_steps: gap length.
    Returns:
        (B, n_steps, C) (or (n_steps, C)).
    """
    squeeze = np.asarray(context).ndim == 2
    x = _seq(context, "context")
    coef = np.asarray(coef, dtype=np.float64)
    p = coef.size - 1
    if x.shape[1] < p:
        raise ValueError(f"the context has {x.shape[1]} steps, AR({p}) needs at least {p}")
    hist = list(np.moveaxis(x[:, -p:], 1, 0))  # p arrays (B, C), oldest first
    out = []
    for _ in range(n_steps):
        nxt = coef[0] + sum(coef[i] * hist[-i] for i in range(1, p + 1))
        out.append(nxt)
        hist.append(nxt)
    res = np.stack(out, axis=1).astype(np.float32) if out else np.zeros((x.shape[0], 0, x.shape[2]), np.float32)
    return res[0] if squeeze else res
