"""The oracle filter of issue 10, item 2: per-sample least squares on the candidate frequencies.

A forecaster that *knows* the task's candidate frequencies (the pool ``{1, 2, 3, 5, 8}``
of :class:`spectral_manifolds.data.oscillators.SeedTaskConfig`) but not which three a
sample uses, their amplitudes or phases. At input step ``s`` it fits, per sample and
channel, the coefficients of ``b(t) = [sin f t, cos f t]_{f in pool}`` (2K regressors) to
the noisy inputs ``x_0 .. x_s`` (times ``t_0 .. t_s``) by least squares, and forecasts the
next step as ``b(t_{s+1}) . coef_s``: causal, like the model it is compared with. With
white noise of variance ``sigma^2`` and a signal in the span of the basis, its expected
squared error per entry is ``sigma^2 b(t_{s+1})^T G_s^{-1} b(t_{s+1})`` with
``G_s = sum_{u <= s} b(t_u) b(t_u)^T`` (:func:`oracle_filter_variance`), about
``sigma^2 2K / s`` late in the sequence.

numpy (float64), normal equations accumulated by a cumulative sum; no JAX, no LAPACK in
any jitted program.
"""

from __future__ import annotations

import numpy as np

__all__ = ["basis", "oracle_filter_forecast", "oracle_filter_variance"]


def basis(t: np.ndarray, pool) -> np.ndarray:
    """``t: (T,)`` -> ``(T, 2K)``: ``[sin f t for f in pool] + [cos f t for f in pool]``."""
    f = np.asarray(pool, np.float64)
    arg = np.asarray(t, np.float64)[:, None] * f[None, :]
    return np.concatenate([np.sin(arg), np.cos(arg)], axis=-1)


def _gram(t: np.ndarray, pool, start: int):
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"t must be a (T,) grid with T >= 2, got shape {t.shape}")
    b = basis(t, pool)  # (T, 2K), t_0 .. t_{T-1}
    g = np.cumsum(b[:, :, None] * b[:, None, :], axis=0)  # (T, 2K, 2K): G_s
    p = b.shape[1]
    if not 0 <= start < t.size - 1:
        raise ValueError(f"start must be in [0, {t.size - 2}], got {start}")
    if start + 1 < p:
        raise ValueError(f"start must be >= 2K - 1 = {p - 1} so that the least squares is determined, got {start}")
    return b, g


def oracle_filter_forecast(x: np.ndarray, t: np.ndarray, pool, *, start: int) -> np.ndarray:
    """Causal least-squares forecasts of the next step from the steps seen so far.

    Args:
        x: (N, S, C) noisy inputs at times ``t[:S]`` (the seeds' ``x = noisy[:-1]``).
        t: (S + 1,) or longer time grid (the task's ``t``); step ``s`` is forecast at ``t[s + 1]``.
        pool: the K candidate frequencies.
        start: the first input step that is forecast (``>= 2K - 1``).

    Returns:
        (N, S - start, C): the forecast of the clean value at ``t[s + 1]`` for ``s = start .. S - 1``
        (compare with ``y_next[:, start:]``).
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (N, S, C), got {x.shape}")
    n, s, c = x.shape
    t = np.asarray(t, np.float64)
    if t.ndim != 1 or t.size < s + 1:
        raise ValueError(f"t must be a (T,) grid with T >= S + 1 = {s + 1}, got shape {t.shape}")
    b, g = _gram(t[: s + 1], pool, start)
    h = np.cumsum(np.einsum("sp,nsc->nspc", b[:s], x), axis=1)  # (N, S, 2K, C)
    gs = g[start:s]  # (S - start, 2K, 2K)
    coef = np.linalg.solve(gs[None], h[:, start:])  # (N, S - start, 2K, C)
    return np.einsum("sp,nspc->nsc", b[start + 1 : s + 1], coef)


def oracle_filter_variance(t: np.ndarray, pool, *, start: int, noise: float) -> np.ndarray:
    """(S - start,) the expected squared forecast error per entry, ``noise^2 b^T G_s^{-1} b``
    (module docstring), for ``s = start .. S - 1`` with ``S = len(t) - 1``."""
    t = np.asarray(t, np.float64)
    b, g = _gram(t, pool, start)
    s = t.size - 1
    nxt = b[start + 1 : s + 1]
    return noise**2 * np.einsum("sp,sp->s", nxt, np.linalg.solve(g[start:s], nxt[..., None])[..., 0])
