"""Masks of artificially hidden entries for the imputation benchmark (issue 10, item 3).

Every function takes the series ``x`` ((T,) or (T, C), NaN where already missing), a
``seed``, and returns a boolean array of ``x``'s shape, True on the entries to hide.
A mask **never hides an already-missing entry**, and the hidden *fraction* is counted
over the observed entries.

The random draws come from ``pygrinder`` (``mcar``, ``seq_missing``, ``block_missing``),
which draws from numpy's *global* RNG (DESIGN.md, "Known traps"): each function seeds
it with ``seed`` and restores the previous global state afterwards.

pygrinder alone does not give the benchmark what it needs, so each function wraps it:

* ``pygrinder.mcar`` hides each entry with probability ``p`` (a Bernoulli count, and it
  also "hides" already-missing entries). :func:`mcar_mask` draws with it until at least
  the requested count of observed entries is hit, then drops a uniformly random excess:
  the result is a uniformly random subset of *exactly* ``round(rate * n_observed)``
  observed entries.
* ``pygrinder.seq_missing`` / ``block_missing`` draw all start positions at once, with
  replacement, so gaps overlap, merge and fall on real gaps. :func:`gap_mask`,
  :func:`block_mask` and :func:`real_gap_mask` call them once per gap, restricted
  (``step_idx``, ``feature_idx``) to the starts where a gap fits on observed entries,
  at least one observed step away from any other missing entry (so each hidden run
  has exactly the drawn length) and, with ``interior=True``, away from both ends (so a
  bidirectional method interpolates rather than extrapolates).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np

from spectral_manifolds import validate

__all__ = ["mcar_mask", "gap_mask", "block_mask", "real_gap_mask", "global_seed"]


@contextlib.contextmanager
def global_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG for the block, then restore its previous state."""
    state = np.random.get_state()
    np.random.seed(int(seed) % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


def _observed(x: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"x must have shape (T,) or (T, C), got shape {x.shape}")
    x2 = x[:, None] if x.ndim == 1 else x
    return ~np.isnan(x2), x.ndim == 1


def _rate(rate: float) -> float:
    if not 0.0 < float(rate) < 1.0:
        raise ValueError(f"rate must be in (0, 1), got {rate!r}")
    return float(rate)


def mcar_mask(x: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """Hide exactly ``round(rate * n_observed)`` observed entries, uniformly at random.

    Args:
        x: (T,) or (T, C) float, NaN where already missing.
        rate: fraction of the observed entries to hide, in (0, 1).
        seed: seeds numpy's global RNG, which pygrinder draws from.

    Returns:
        bool, x's shape: True on the hidden entries.
    """
    import pygrinder

    obs, flat = _observed(x)
    rate = _rate(rate)
    target = int(round(rate * obs.sum()))
    hidden = np.zeros_like(obs)
    with global_seed(seed):
        while hidden.sum() < target:
            left = obs & ~hidden
            p = min(max((target - hidden.sum()) / max(left.sum(), 1), 1e-6), 0.999)
            draw = np.isnan(pygrinder.mcar(np.where(left, 0.0, np.nan)[None], p)[0])
            hidden |= draw & left
        excess = int(hidden.sum() - target)
        if excess:
            drop = np.random.choice(np.flatnonzero(hidden), excess, replace=False)
            hidden.flat[drop] = False
    return hidden[:, 0] if flat else hidden


def _valid_starts(free: np.ndarray, length: int, interior: bool) -> np.ndarray:
    """Starts s where free[s - 1 : s + length + 1] is all True (clipped at the ends)."""
    T = free.size
    pad = np.concatenate([[not interior], free, [not interior]])
    # window of length + 2 on the padded array starting at s covers free[s-1 .. s+length]
    c = np.concatenate([[0], np.cumsum(pad.astype(np.int64))])
    n = T - length + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    s = np.arange(n)
    return s[(c[s + length + 2] - c[s]) == length + 2]


def _place(free: np.ndarray, lengths: Sequence[int], interior: bool) -> np.ndarray:
    """Place gaps of the given lengths, one pygrinder draw each; ``free``: (T,) bool."""
    import pygrinder

    free = free.copy()
    hidden = np.zeros_like(free)
    T = free.size
    for length in lengths:
        starts = _valid_starts(free, int(length), interior)
        if starts.size == 0:
            raise ValueError(
                f"cannot place another gap of length {length}: the rate is too high for "
                f"separated gaps on this series (placed {int(hidden.sum())} of {T} steps)"
            )
        # hit_rate = p * T / length = 0.5 -> exactly one start, drawn from step_idx
        out = pygrinder.seq_missing(np.zeros((1, T, 1)), p=0.5 * length / T, seq_len=int(length), step_idx=starts.tolist())
        run = np.isnan(out[0, :, 0])
        hidden |= run
        free &= ~run
    return hidden


def _gap_count(n_observed: int, rate: float, length: int) -> int:
    return max(int(round(rate * n_observed / length)), 1)


def gap_mask(x: np.ndarray, rate: float, length: int, seed: int, *, interior: bool = True) -> np.ndarray:
    """Hide contiguous gaps of exactly ``length`` steps, per channel.

    ``round(rate * n_observed_c / length)`` (at least one) gaps go in each channel ``c``,
    each on observed entries, separated from every other missing entry by at least one
    observed step, so the hidden fraction is ``rate`` to within half a gap per channel.

    Args:
        x: (T,) or (T, C) float, NaN where already missing.
        rate: target fraction of each channel's observed entries, in (0, 1).
        length: gap length in steps (positive int).
        seed: seeds numpy's global RNG (pygrinder draws from it).
        interior: keep gaps off the first and last step.

    Returns:
        bool, x's shape.

    Raises:
        ValueError: when the gaps do not fit (rate too high for separated gaps).
    """
    obs, flat = _observed(x)
    rate = _rate(rate)
    validate.positive_int("length", length)
    hidden = np.zeros_like(obs)
    with global_seed(seed):
        for c in range(obs.shape[1]):
            k = _gap_count(int(obs[:, c].sum()), rate, int(length))
            hidden[:, c] = _place(obs[:, c], [int(length)] * k, interior)
    return hidden[:, 0] if flat else hidden


def block_mask(x: np.ndarray, rate: float, length: int, seed: int, *, width: int | None = None, interior: bool = True, max_tries: int = 10_000) -> np.ndarray:
    """Hide blocks of ``length`` steps across ``width`` adjacent channels (default all).

    Each block's start step and first channel come from ``pygrinder.block_missing``
    (one call per block); a block is kept only when it covers observed entries at least
    one step away from any other missing entry in its channels. The number of blocks is
    ``round(rate * n_observed / (length * width))`` (at least one).

    Args:
        x: (T, C) float with C > 1 (a (T,) series is one channel: use :func:`gap_mask`).
        rate: target fraction of the observed entries, in (0, 1).
        length: block length in steps; width: channels per block (1 <= width <= C).
        seed: seeds numpy's global RNG.
    """
    import pygrinder

    obs, flat = _observed(x)
    if flat or obs.shape[1] < 2:
        raise ValueError("block_mask needs (T, C) input with C > 1; use gap_mask for one channel")
    rate = _rate(rate)
    validate.positive_int("length", length)
    T, C = obs.shape
    width = C if width is None else width
    validate.positive_int("width", width)
    if width > C or length > T:
        raise ValueError(f"a block of {length} steps x {width} channels does not fit shape {obs.shape}")
    k = max(int(round(rate * obs.sum() / (length * width))), 1)
    free = obs.copy()
    hidden = np.zeros_like(obs)
    placed = tries = 0
    steps = list(range(1 if interior else 0, T - length + (0 if interior else 1)))
    with global_seed(seed):
        while placed < k:
            tries += 1
            if tries > max_tries:
                raise ValueError(f"placed only {placed} of {k} blocks in {max_tries} tries: rate too high")
            # hit_rate * (C - width + 1) start channels = 0.5 -> exactly one block per call
            factor = 0.5 * length * width / (T * C * (C - width + 1))
            out = pygrinder.block_missing(np.zeros((1, T, C)), factor=factor, block_len=int(length), block_width=int(width), step_idx=steps)
            blk = np.isnan(out[0])
            rows = np.flatnonzero(blk.any(axis=1))
            cols = np.flatnonzero(blk.any(axis=0))
            lo, hi = max(rows[0] - 1, 0), min(rows[-1] + 2, T)
            if free[lo:hi][:, cols].all():
                hidden |= blk
                free &= ~blk
                placed += 1
    return hidden


def real_gap_mask(x: np.ndarray, rate: float, seed: int, *, lengths: Sequence[int] | None = None, interior: bool = True) -> np.ndarray:
    """Hide gaps whose lengths are drawn (with replacement) from real gap lengths.

    By default the lengths are CO2's 22 real gaps
    (:data:`spectral_manifolds.data.real_series.CO2_GAP_LENGTHS`: mostly 1 week, up to
    18). Per channel, lengths are drawn until the hidden count reaches
    ``round(rate * n_observed_c)``; the last gap is kept only if that brings the count
    closer to the target, so the fraction is within half a gap of ``rate``. Longest
    gaps are placed first (they are the hardest to fit).

    Args:
        x: (T,) or (T, C) float, NaN where already missing.
        rate: target fraction of observed entries, in (0, 1).
        seed: seeds numpy's global RNG (the length draws and pygrinder's starts).
        lengths: the empirical gap lengths to draw from.
    """
    if lengths is None:
        from spectral_manifolds.data.real_series import CO2_GAP_LENGTHS

        lengths = CO2_GAP_LENGTHS
    pool = np.asarray(lengths, dtype=np.int64)
    if pool.size == 0 or np.any(pool < 1):
        raise ValueError("lengths must be a non-empty sequence of positive integers")
    obs, flat = _observed(x)
    rate = _rate(rate)
    hidden = np.zeros_like(obs)
    with global_seed(seed):
        for c in range(obs.shape[1]):
            target = int(round(rate * obs[:, c].sum()))
            drawn: list[int] = []
            total = 0
            while total < target:
                L = int(np.random.choice(pool))
                if total + L - target > target - total and drawn:
                    break  # overshooting by more than we are short: stop here
                drawn.append(L)
                total += L
            hidden[:, c] = _place(obs[:, c], sorted(drawn, reverse=True), interior)
    return hidden[:, 0] if flat else hidden
