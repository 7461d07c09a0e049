"""One shared validator for the book's sequence inputs (DESIGN.md, "House style").

Every module that takes a sequence accepts it batched ``(B, T, k)`` or unbatched
``(T, k)`` and rejects anything else with a clear ``ValueError``. The checks use only
``.ndim``, ``.shape`` and indexing, so they work for numpy, JAX (also traced inside
``jit``: shapes are static) and torch tensors alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _shape(x: Any) -> tuple:
    return tuple(int(s) for s in x.shape)


def sequence(x: Any, name: str = "x", *, last: int | None = None, last_name: str = "d", min_steps: int = 1, finite: bool = False) -> tuple[Any, bool]:
    """Check a ``(B, T, k)`` or ``(T, k)`` sequence and return it batched.

    Args:
        x: an array or tensor of shape (B, T, k) or (T, k); lists become numpy arrays.
        name: what to call it in the error message.
        last: the required size of the last axis (None: any).
        last_name: the last axis's symbol in messages (e.g. 'C' or 'd').
        min_steps: the fewest time steps T accepted.
        finite: also reject NaN or infinite entries (concrete arrays only; a traced JAX
            value cannot be inspected and is passed through).

    Returns:
        ``(x_batched, was_unbatched)`` where ``x_batched`` has shape (B, T, k); index the
        model's output with ``[0]`` when ``was_unbatched``.

    Raises:
        ValueError: wrong rank, wrong last axis, too few steps, or non-finite entries.
    """
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    shape = _shape(x)
    k = last_name if last is None else last
    want = f"(B, T, {last_name}) or (T, {last_name})" + ("" if last is None else f" with {last_name}={last}")
    if len(shape) not in (2, 3):
        raise ValueError(f"{name} must have shape {want}, got shape {shape}")
    if last is not None and shape[-1] != last:
        raise ValueError(f"{name} must have shape {want}, got shape {shape} (last axis {shape[-1]} != {k})")
    if shape[-2] < min_steps:
        raise ValueError(f"{name} needs at least {min_steps} time step(s), got shape {shape}")
    if finite:
        check_finite(x, name)
    return (x[None], True) if len(shape) == 2 else (x, False)


def check_finite(x: Any, name: str = "x") -> None:
    """Raise ``ValueError`` when a concrete array holds NaN or inf (traced values pass)."""
    try:
        values = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    except Exception:  # a JAX tracer: nothing to inspect at trace time
        return
    if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise ValueError(f"{name} holds {bad} NaN or infinite entr{'y' if bad == 1 else 'ies'}")


def choice(name: str, value: Any, allowed: tuple | list) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(repr(a) for a in allowed)} ({name} must be one of {tuple(allowed)})")


def positive_int(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive integer (``bool`` is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
