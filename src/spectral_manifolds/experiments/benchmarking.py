"""Timing machinery for benchmarks that compare settings side by side (generic; chapter 17 uses it).

Seed 003_65b12435998d9bd4.txt, "2026-01-22 Audio Training Performance Optimization", left
open "Benchmark actual speedup with precomputed vs raw": a speedup is a ratio of two rates,
and this module measures rates so that such ratios can be read. Every figure is a rate
measured in one process on one device; nothing here is a test of how fast a machine is.

How a rate is measured (:func:`measure`): each setting first runs ``warmup_steps`` untimed
steps; then ``repeats`` rounds, each timing ``steps`` consecutive steps of every setting (the
order of the settings rotates from round to round, so a slow drift of the machine hits all of
them), with ``torch.cuda.synchronize`` (:func:`synchronize`) before starting and before
stopping the clock on a GPU (as :func:`timed` does for a single call). A round gives samples/s = ``steps * batch_size / seconds``;
tables give the median over rounds and its range (:func:`spread`); a ratio is taken per round
(paired, :func:`ratios`) and summarized the same way.

Shapes: a setting is ``fn(i) -> None`` running step ``i`` (the caller cycles its batches by
``i``); :func:`measure` returns ``{name: [rate per round]}``, ``repeats`` floats per setting.
"""

from __future__ import annotations

import time

import numpy as np
import torch

__all__ = ["synchronize", "timed", "measure", "spread", "ratios"]


def synchronize(device) -> None:
    """``torch.cuda.synchronize(device)`` on a CUDA device; nothing elsewhere."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, *args, device) -> float:
    """Seconds of one call ``fn(*args)``, synchronized before starting and before stopping the clock."""
    synchronize(device)
    t0 = time.perf_counter()
    fn(*args)
    synchronize(device)
    return time.perf_counter() - t0


def measure(fns: dict, *, batch_size: int, warmup_steps: int, steps: int, repeats: int, device) -> dict:
    """Samples/s per round of every setting (module docstring).

    Args:
        fns: name -> ``fn(i)`` running step ``i`` (the caller cycles its batches by ``i``).
    Returns:
        name -> list of ``repeats`` rates (samples/s).
    """
    device = torch.device(device)
    names = list(fns)
    for name in names:
        for i in range(warmup_steps):
            fns[name](i)
    rates = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            synchronize(device)
            t0 = time.perf_counter()
            for i in range(steps):
                fns[name](i)
            synchronize(device)
            rates[name].append(steps * batch_size / (time.perf_counter() - t0))
    return rates


def spread(values) -> dict:
    """Median, min and max of per-round values."""
    v = np.asarray(values, dtype=float)
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max())}


def ratios(a, b) -> list[float]:
    """Per-round ratios ``a_r / b_r`` (paired by round)."""
    return [float(x / y) for x, y in zip(a, b)]
