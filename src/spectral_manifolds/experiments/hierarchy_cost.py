"""Part IV benchmark: the cost of cross-manifold attention as the grid N grows (issue 9, "Speed").

Three methods on M = 3 band feature maps of an N x N grid, batch B:

* ``seed all-tokens``: :class:`~spectral_manifolds.hierarchy.cross_attention.SeedCrossAttention`
  with the seed's §11.1 widths ``dims = (32, 64, 128)`` (one attention over all M N^2
  tokens, width 128, 4 heads): ``B h (M N^2)^2`` scores, O(N^4);
* ``ours position``: :class:`~spectral_manifolds.hierarchy.cross_attention.CrossManifoldAttention`,
  band tokens at each pixel, ``B h N^2 M^2`` scores, O(N^2);
* ``ours pooled``: the same with keys/values pooled to ``pool x pool``,
  ``B h (M N^2)(M pool^2)`` scores, O(N^2).

Ours take C = max(dims) = 128 channels per band (the seed's common attention width), the
``topology`` given (default ``"hierarchical"``, §7.3's recommendation; the score count
does not depend on it: masked scores are computed and set to -inf).

Per (N, method), one run measures: ``score_entries`` (the scores tensor's size: ours from
the module's ``last_score_entries``, the seed's from its shapes), ``gflop_fwd`` (matmul
FLOPs of one forward, counted by ``torch.utils.flop_counter.FlopCounterMode`` on the
``meta`` device, so nothing is computed; FFTs, softmax and LayerNorm are not counted)
and ``ms``, the median wall time of ``repeats`` forward+backward passes (loss = sum of the
outputs) after ``warmup`` untimed ones, each ended by ``torch.cuda.synchronize`` on a GPU.
On a small CPU the timing runs with one torch thread (``runtime.torch_cpu_threads``).
``ms_ratio`` and ``score_ratio`` divide by ``ours position`` at the same N.
"""

from __future__ import annotations

import copy
import math
import statistics
import time

import numpy as np
import pandas as pd
import torch

from spectral_manifolds import runtime, validate
from spectral_manifolds.hierarchy.cross_attention import (
    CrossManifoldAttention, SeedCrossAttention, seed_score_entries,
)

__all__ = ["METHODS", "cost_table", "growth_exponents", "cost_memory_table", "tail_exponents"]

METHODS = ("seed all-tokens", "ours position", "ours pooled")
REFERENCE = "ours position"


def _modules(method: str, dims: tuple, topology: str, pool: int, heads: int):
    if method == "seed all-tokens":
        return SeedCrossAttention(list(dims), n_heads=heads)
    mode = "position" if method == "ours position" else "pooled"
    return CrossManifoldAttention(len(dims), max(dims), topology, mode=mode, heads=heads, pool=pool)


def _inputs(method: str, dims: tuple, batch: int, n: int, device, generator: torch.Generator):
    if method == "seed all-tokens":
        return [torch.randn(batch, d, n, n, generator=generator).to(device) for d in dims]
    return torch.randn(batch, len(dims), max(dims), n, n, generator=generator).to(device)


def _loss(y) -> torch.Tensor:
    return sum(t.sum() for t in y) if isinstance(y, list) else y.sum()


def _count(module, x) -> tuple[int, int | None]:
    """Forward matmul FLOPs and (ours) score entries, from a copy on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    meta = copy.deepcopy(module).to("meta")
    xm = [t.to("meta") for t in x] if isinstance(x, list) else x.to("meta")
    with FlopCounterMode(display=False) as counter:
        meta(xm)
    return counter.get_total_flops(), getattr(meta, "last_score_entries", None)


def _time_ms(module, x, device, warmup: int, repeats: int) -> float:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step():
        module.zero_grad(set_to_none=True)
        _loss(module(x)).backward()

    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def cost_table(ns=(8, 16, 32), batch: int = 8, *, dims=(32, 64, 128), topology: str = "hierarchical",
               pool: int = 4, heads: int = 4, methods=METHODS, seed_max_n: int | None = None,
               warmup: int = 1, repeats: int = 3, device=None, seed: int = 0) -> pd.DataFrame:
    """Rows (N, method): score entries, forward GFLOP, ms per forward+backward, ratios vs ours.

    Args:
        ns: grid sizes N (each >= ``pool``); batch: B.
        dims: the seed's per-band widths (§11.1: 32, 64, 128); ours use C = max(dims).
        topology, pool, heads: of :class:`CrossManifoldAttention` (heads also the seed's).
        methods: a subset of :data:`METHODS`; ``"ours position"`` is always added (reference).
        seed_max_n: time the seed only up to this N (None: all); beyond it its row keeps the
            score and FLOP counts, with ``ms`` NaN (O(N^4) time and memory).
        warmup, repeats: untimed and timed passes per row (the median is kept).
        device: torch device (default :func:`runtime.torch_device`).

    Returns a DataFrame with columns ``n, method, score_entries, gflop_fwd, ms, ms_ratio,
    score_ratio, device, threads``, ``n`` ascending, methods in :data:`METHODS` order.
    """
    ns = tuple(ns)
    for n in ns:
        validate.positive_int("n", n)
        if n < pool:
            raise ValueError(f"every N must be >= pool={pool}, got {n}")
    validate.positive_int("batch", batch)
    validate.positive_int("repeats", repeats)
    for m in methods:
        validate.choice("method", m, METHODS)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    methods = [m for m in METHODS if m in set(methods) | {REFERENCE}]
    device = runtime.torch_device() if device is None else torch.device(device)
    rows = []
    with runtime.torch_cpu_threads(device):
        threads = torch.get_num_threads() if device.type == "cpu" else None
        for n in ns:
            for method in methods:
                torch.manual_seed(seed)
                module = _modules(method, tuple(dims), topology, pool, heads)
                x = _inputs(method, tuple(dims), batch, n, torch.device("cpu"), torch.Generator().manual_seed(seed))
                flops, scores = _count(module, x)
                if scores is None:
                    scores = seed_score_entries(len(dims), n, batch, heads)
                timed = method != "seed all-tokens" or seed_max_n is None or n <= seed_max_n
                ms = math.nan
                if timed:
                    module = module.to(device)
                    x = [t.to(device) for t in x] if isinstance(x, list) else x.to(device)
                    ms = _time_ms(module, x, device, warmup, repeats)
                rows.append({"n": n, "method": method, "score_entries": int(scores), "gflop_fwd": flops / 1e9,
                             "ms": ms, "device": str(device), "threads": threads})
                del module, x
    df = pd.DataFrame(rows)
    ref = df[df.method == REFERENCE].set_index("n")
    df["ms_ratio"] = df.ms / df.n.map(ref.ms)
    df["score_ratio"] = df.score_entries / df.n.map(ref.score_entries)
    return df[["n", "method", "score_entries", "gflop_fwd", "ms", "ms_ratio", "score_ratio", "device", "threads"]]


def growth_exponents(table: pd.DataFrame, column: str = "ms") -> pd.Series:
    """Least-squares slope of log(column) against log(N) per method (NaN rows dropped; < 2 points: NaN)."""
    out = {}
    for method, g in table.dropna(subset=[column]).groupby("method", sort=False):
        g = g[g[column] > 0]
        out[method] = float(np.polyfit(np.log(g.n), np.log(g[column]), 1)[0]) if len(g) >= 2 else math.nan
    return pd.Series(out, name=f"exponent of {column}")


# ---- added for chapter 22 (cross-manifold attention and observability): memory, steps/s, tail exponents ----

def _peak_bytes(module, x, device) -> float:
    """Peak CUDA memory (bytes) of one forward+backward above what was allocated before it; NaN off CUDA."""
    if device.type != "cuda":
        return math.nan
    module.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    _loss(module(x)).backward()
    torch.cuda.synchronize()
    return float(torch.cuda.max_memory_allocated(device) - before)


def cost_memory_table(ns=(8, 16, 32), batch: int = 8, *, seed_max_n: int | None = None, device=None,
                      **kwargs) -> pd.DataFrame:
    """:func:`cost_table` plus ``steps_per_s`` (1000 / ms, forward+backward) and ``peak_mb``.

    ``peak_mb``: ``torch.cuda.max_memory_allocated`` during one extra forward+backward, minus
    the memory allocated before it (module, inputs), in MiB; on a CPU it is NaN (not
    measured: ``tracemalloc`` does not see torch's allocator). ``mb_ratio`` divides by
    ``ours position`` at the same N. Other arguments as :func:`cost_table`.
    """
    device = runtime.torch_device() if device is None else torch.device(device)
    df = cost_table(ns, batch, seed_max_n=seed_max_n, device=device, **kwargs)
    dims = tuple(kwargs.get("dims", (32, 64, 128)))
    topology, pool, heads = kwargs.get("topology", "hierarchical"), kwargs.get("pool", 4), kwargs.get("heads", 4)
    peaks = []
    for n, method, ms in zip(df.n, df.method, df.ms):
        if device.type != "cuda" or not math.isfinite(ms):
            peaks.append(math.nan)
            continue
        torch.manual_seed(kwargs.get("seed", 0))
        module = _modules(method, dims, topology, pool, heads).to(device)
        x = _inputs(method, dims, batch, int(n), device, torch.Generator().manual_seed(kwargs.get("seed", 0)))
        peaks.append(_peak_bytes(module, x, device) / 2 ** 20)
        del module, x
    df["steps_per_s"] = 1e3 / df.ms
    df["peak_mb"] = peaks
    ref = df[df.method == REFERENCE].set_index("n")
    df["mb_ratio"] = df.peak_mb / df.n.map(ref.peak_mb)
    return df


def tail_exponents(table: pd.DataFrame, columns=("ms", "peak_mb", "score_entries")) -> pd.DataFrame:
    """:func:`growth_exponents` of each column, every method fitted over the same N (rows: methods).

    The N are those at which every method has a value of the column (the seed's all-tokens
    attention is timed only up to a smaller N than ours); of these the upper half, with at
    least three points when there are three (below that the timings measure dispatch). The
    range per column is in ``result.attrs["fitted over N"]``.
    """
    out, ranges = {}, {}
    for c in columns:
        have = table.dropna(subset=[c])
        per_method = [set(g.n) for _, g in have.groupby("method", sort=False)]
        ns = np.sort(list(set.intersection(*per_method))) if per_method else np.array([])
        keep = ns[min(len(ns) // 2, max(len(ns) - 3, 0)):]
        out[f"exponent of {c}"] = growth_exponents(have[have.n.isin(keep)], c)
        ranges[c] = f"{int(keep[0])}-{int(keep[-1])}" if len(keep) else "—"
    df = pd.DataFrame(out)
    df.attrs["fitted over N"] = ranges
    return df
