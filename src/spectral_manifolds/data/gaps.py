"""Gap masks for imputation and the linear-interpolation floor.

Split out of :mod:`spectral_manifolds.data.oscillators` (which re-exports every name
here); all three work on plain numpy arrays, independent of the data generators.

* :func:`gap_mask` / :func:`random_gaps` -- boolean masks, ``True`` inside the gap to
  impute; every gap keeps at least one observed step before it (the context an imputer
  starts from).
* :func:`linear_fill` -- linear interpolation across the gaps (the floor that any
  imputer should beat, seed 000_bd4cbe8700a1031d.txt, lesson 1 as the book measures it).

Not to be confused with :func:`spectral_manifolds.imputation.masks.gap_mask`, which
hides gaps of a fixed length at a target rate, per channel of a (T, C) series.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from spectral_manifolds import validate

__all__ = ["gap_mask", "random_gaps", "linear_fill"]


def gap_mask(seq_len: int, gap_start: int, gap_len: int) -> np.ndarray:
    """One contiguous gap: ``(T,)`` bool, ``True`` at steps ``gap_start .. gap_start+gap_len-1``.

    A gap needs at least one observed step before it (the context an imputer starts from)
    and must end inside the sequence. ``gap_len = 0`` is allowed and gives an all-False
    mask (nothing to impute).

    Raises:
        ValueError: ``seq_len < 1``, ``gap_len < 0``, ``gap_start < 1`` (no context) or
            ``gap_start + gap_len > seq_len``.
    """
    validate.positive_int("seq_len", seq_len)
    if not isinstance(gap_len, (int, np.integer)) or gap_len < 0:
        raise ValueError(f"gap_len must be a non-negative integer, got {gap_len!r}")
    if not isinstance(gap_start, (int, np.integer)) or gap_start < 1:
        raise ValueError(f"gap_start must be >= 1 so that at least one step is observed before the gap, got {gap_start!r}")
    if gap_start + gap_len > seq_len:
        raise ValueError(f"gap [{gap_start}, {gap_start + gap_len}) does not fit in a sequence of {seq_len} steps")
    mask = np.zeros(seq_len, dtype=bool)
    mask[gap_start : gap_start + gap_len] = True
    return mask


def random_gaps(
    n: int, seq_len: int, gap_len: int | Sequence[int], *, min_context: int = 1, seed: int = 0
) -> np.ndarray:
    """One random contiguous gap per row: ``(n, T)`` bool, ``True`` inside the gap.

    Args:
        n: number of rows.
        seq_len: T.
        gap_len: one length for every row, or ``n`` lengths (0 allowed: no gap in that row).
        min_context: observed steps required before every gap (>= 1).
        seed: ``default_rng(seed)`` draws each gap start uniformly from
            ``[min_context, T - gap_len]``.

    Raises:
        ValueError: when a gap plus its context cannot fit, or the arguments are invalid.
    """
    validate.positive_int("n", n)
    validate.positive_int("seq_len", seq_len)
    validate.positive_int("min_context", min_context)
    lengths = np.broadcast_to(np.asarray(gap_len), (n,)) if np.ndim(gap_len) == 0 else np.asarray(gap_len)
    if lengths.shape != (n,):
        raise ValueError(f"gap_len must be an int or a sequence of n={n} ints, got shape {lengths.shape}")
    if lengths.size and (not np.issubdtype(lengths.dtype, np.integer) or lengths.min() < 0):
        raise ValueError(f"gap lengths must be non-negative integers, got {lengths}")
    if lengths.max() + min_context > seq_len:
        raise ValueError(f"a gap of {lengths.max()} steps after {min_context} context steps does not fit in {seq_len} steps")
    rng = np.random.default_rng(seed)
    starts = rng.integers(min_context, seq_len - lengths + 1)
    return np.stack([gap_mask(seq_len, int(s), int(g)) for s, g in zip(starts, lengths)])


def linear_fill(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Linear interpolation across masked steps, channel by channel (the imputation floor).

    Args:
        x: (T, C) or (B, T, C) signal; values under the mask are ignored.
        mask: (T,) or (B, T) bool, ``True`` where a value is missing.

    Returns:
        Array like ``x`` (float32) with masked steps replaced by the straight line between
        the nearest observed steps; a gap that reaches the end holds the last observed value.

    Raises:
        ValueError: on wrong ranks, mismatched shapes or a row with no observed step.
    """
    x = np.asarray(x)
    mask = np.asarray(mask, dtype=bool)
    if x.ndim == 2:
        return linear_fill(x[None], mask[None] if mask.ndim == 1 else mask)[0]
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, C) or (B, T, C), got {x.shape}")
    if mask.ndim == 1:
        mask = np.broadcast_to(mask, x.shape[:2])
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match x's (B, T) = {x.shape[:2]}")
    if (~mask).sum(axis=1).min() == 0:
        raise ValueError("every row needs at least one observed step to interpolate from (mask is all True)")
    out = np.array(x, dtype=np.float32, copy=True)
    steps = np.arange(x.shape[1])
    for b in range(x.shape[0]):
        if not mask[b].any():
            continue
        obs = ~mask[b]
        for c in range(x.shape[2]):
            out[b, mask[b], c] = np.interp(steps[mask[b]], steps[obs], x[b, obs, c])
    return out
