"""Chapter 2's benchmark: power-law memory by one Toeplitz matmul against a zero-padded FFT.

Both functions of :mod:`spectral_manifolds.fractional` compute the same causal sum
``M[t] = sum_{k=1}^{t} w_k z[t-k]`` with a kernel as long as the series (``n = T``), on
``z: (batch, T, dim)`` in float32. Three variants per length:

* ``direct FP32``: :func:`~spectral_manifolds.fractional.memory_direct` with
  ``precision="highest"`` (plain float32 matmul, what the book uses as its reference);
* ``direct default``: the backend's default matmul precision (TF32 on an NVIDIA GPU of
  the Ampere generation or later; identical to FP32 on a CPU);
* ``FFT``: :func:`~spectral_manifolds.fractional.memory_fft`.

Every function is compiled ahead of time *before* timing starts (one notice, one total,
seed 000_bd4cbe8700a1031d.txt lesson 3; per-function compile seconds are in the rows), so
the progress bar of the timing loop is never interrupted. Each is warmed up once and
timed ``repeats`` times, every call ended by ``block_until_ready``; the median is kept.
All ratios come from the same run.

Memory: the direct method materializes the ``(T, T)`` Toeplitz matrix, ``4 T^2`` bytes.
The FFT's device time is set against its **memory-traffic floor**: the bytes its
compiled program moves (XLA's own cost analysis, ``bytes accessed``; a staged count of
pad, rfft, product, irfft and slice where XLA reports none) divided by the device's copy
bandwidth, measured in the same run by timing ``x + 1`` on a large float32 array (one
read and one write per element).

Growth exponents are least-squares slopes of log(seconds) against log(T) over the larger
half of the lengths only: at short lengths every method measures dispatch, not work.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from spectral_manifolds import runtime

METHODS = ("direct FP32", "direct default", "FFT")


@dataclass(frozen=True)
class BenchmarkConfig:
    """Sizes of the benchmark; chapter 2 picks them with ``runtime.sized``.

    lengths: sequence lengths T, increasing; batch, dim: ``z`` has shape (batch, T, dim);
    gamma: memory exponent; repeats: timed calls per method and length (median reported);
    bandwidth_mb: size in MB of the float32 array whose ``x + 1`` measures copy bandwidth.
    """

    lengths: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
    batch: int = 4
    dim: int = 16
    gamma: float = 0.5
    repeats: int = 5
    bandwidth_mb: int = 64
    seed: int = 0

    def __post_init__(self):
        if len(self.lengths) < 2:
            raise ValueError("lengths needs at least two sequence lengths to fit a growth exponent")
        if any(int(t) < 2 for t in self.lengths) or list(self.lengths) != sorted(set(self.lengths)):
            raise ValueError(f"lengths must be distinct, increasing and >= 2, got {self.lengths}")
        for name in ("batch", "dim", "repeats", "bandwidth_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma}")


@dataclass
class BenchmarkResult:
    """One row per length (seconds of each method, ratios, memory, agreement) and the fits."""

    device: str
    backend: str
    bandwidth_bytes_per_s: float = float("nan")  # measured copy bandwidth (read + write)
    rows: list[dict] = field(default_factory=list)
    fit_lengths: list[int] = field(default_factory=list)  # the larger half, where the exponents are fitted
    exponents: dict = field(default_factory=dict)  # method -> growth exponent over fit_lengths
    compile_seconds: float = 0.0  # total over all compilations

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def table(self):
        """The rows as a DataFrame indexed by T (times in ms, memory in MB)."""
        from spectral_manifolds import report

        return report.table(
            [
                {
                    "T": r["T"],
                    "direct FP32 [ms]": round(1e3 * r["direct FP32_s"], 3),
                    "direct default [ms]": round(1e3 * r["direct default_s"], 3),
                    "FFT [ms]": round(1e3 * r["FFT_s"], 3),
                    "FP32 / FFT": round(r["fp32_over_fft"], 1),
                    "FP32 / default": round(r["fp32_over_default"], 2),
                    "Toeplitz [MB]": round(r["toeplitz_bytes"] / 1e6, 1),
                    "FFT moves [MB]": round(r["fft_bytes"] / 1e6, 1),
                    "FFT floor [ms]": round(1e3 * r["fft_floor_s"], 3),
                    "FFT / floor": round(r["fft_over_floor"], 1),
                    "max rel. diff FFT": f"{r['rel_diff_fft']:.1e}",
                    "max rel. diff default": f"{r['rel_diff_default']:.1e}",
                }
                for r in self.rows
            ],
            index="T",
        )

    def exponent_table(self):
        """Growth exponents over the larger half of the lengths, one row per method."""
        from spectral_manifolds import report

        span = f"T = {self.fit_lengths[0]}..{self.fit_lengths[-1]}" if self.fit_lengths else "—"
        return report.table(
            [{"method": m, f"growth exponent ({span})": round(self.exponents[m], 2)} for m in METHODS], index="method"
        )


def growth_exponent(lengths, seconds) -> float:
    """Least-squares slope of log(seconds) against log(lengths)."""
    lengths, seconds = np.asarray(lengths, float), np.asarray(seconds, float)
    if lengths.size < 2:
        return float("nan")
    return float(np.polyfit(np.log(lengths), np.log(seconds), 1)[0])


def staged_fft_bytes(batch: int, T: int, dim: int, L: int) -> int:
    """Bytes read and written by the FFT memory, stage by stage (float32 in, complex64 spectra).

    pad z to L, rfft, multiply by the kernel's spectrum, irfft, slice the first T outputs:
    each stage reads its input array and writes its output array once.
    """
    real_t, real_l, spec = 4 * batch * T * dim, 4 * batch * L * dim, 8 * batch * (L // 2 + 1) * dim
    return (real_t + real_l) + (real_l + spec) + (2 * spec) + (spec + real_l) + (2 * real_t)


def _bytes_accessed(compiled) -> float:
    """XLA's estimate of the bytes a compiled program moves (0 when it reports none)."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # not every backend implements it
        return 0.0
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else {}
    return float((cost or {}).get("bytes accessed", 0.0))


def _median_seconds(fn, args, repeats: int) -> float:
    runtime.block(fn(*args))  # warm-up call
    times = []
    for _ in range(repeats):
        with runtime.Timer() as t:
            runtime.block(fn(*args))
        times.append(t.seconds)
    return float(np.median(times))


def copy_bandwidth(n_bytes: int, repeats: int = 5) -> float:
    """Measured bytes per second of ``x + 1`` on a float32 array of ``n_bytes`` (read + write)."""
    import jax
    import jax.numpy as jnp

    x = jnp.zeros((max(int(n_bytes) // 4, 1),), jnp.float32)
    add = jax.jit(lambda a: a + 1.0).lower(x).compile()
    return 2 * 4 * x.size / _median_seconds(add, (x,), repeats)


def run(config: BenchmarkConfig) -> BenchmarkResult:
    """Time direct (FP32 and default precision) and FFT memory for every length."""
    import jax
    import jax.numpy as jnp

    from spectral_manifolds.fractional import fft_length, memory_direct, memory_fft, power_law_weights

    runtime.seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    fns = {
        "direct FP32": jax.jit(partial(memory_direct, precision="highest")),
        "direct default": jax.jit(partial(memory_direct, precision="default")),
        "FFT": jax.jit(memory_fft),
    }
    result = BenchmarkResult(device=runtime.device_name(), backend=runtime.jax_backend())
    inputs, compiled = {}, {}
    n_fns = len(config.lengths) * len(fns)
    print(f"Compiling {n_fns} functions with JAX ({len(fns)} methods x {len(config.lengths)} lengths), "
          "before any timing...", flush=True)
    with runtime.Timer() as total:
        for T in config.lengths:
            z = jnp.asarray(rng.standard_normal((config.batch, T, config.dim), np.float32))
            inputs[T] = (z, power_law_weights(T, config.gamma))
            for name, fn in fns.items():
                with runtime.Timer() as t:
                    compiled[T, name] = fn.lower(*inputs[T]).compile()
                compiled[T, name, "s"] = t.seconds
    result.compile_seconds = total.seconds
    print(f"Compiled {n_fns} functions in {total.seconds:.2f} s on {runtime.jax_backend()}.", flush=True)

    result.bandwidth_bytes_per_s = copy_bandwidth(config.bandwidth_mb * 1_000_000, config.repeats)
    for T in runtime.progress(config.lengths, desc="lengths"):
        args = inputs[T]
        out = {name: np.asarray(compiled[T, name](*args)) for name in fns}
        ref = out["direct FP32"]
        scale = max(float(np.max(np.abs(ref))), 1e-30)
        secs = {name: _median_seconds(compiled[T, name], args, config.repeats) for name in fns}
        L = fft_length(T, T)
        fft_bytes = _bytes_accessed(compiled[T, "FFT"]) or staged_fft_bytes(config.batch, T, config.dim, L)
        floor = fft_bytes / result.bandwidth_bytes_per_s
        result.rows.append(
            {
                "T": int(T),
                **{f"{name}_s": secs[name] for name in fns},
                **{f"{name}_compile_s": compiled[T, name, "s"] for name in fns},
                "fp32_over_fft": secs["direct FP32"] / secs["FFT"],
                "default_over_fft": secs["direct default"] / secs["FFT"],
                "fp32_over_default": secs["direct FP32"] / secs["direct default"],
                "toeplitz_bytes": 4 * T * T,
                "fft_bytes": float(fft_bytes),
                "fft_floor_s": floor,
                "fft_over_floor": secs["FFT"] / floor,
                "rel_diff_fft": float(np.max(np.abs(out["FFT"] - ref)) / scale),
                "rel_diff_default": float(np.max(np.abs(out["direct default"] - ref)) / scale),
            }
        )
    lengths = [r["T"] for r in result.rows]
    upper = slice(len(lengths) // 2, None)
    result.fit_lengths = lengths[upper]
    result.exponents = {m: growth_exponent(lengths[upper], [r[f"{m}_s"] for r in result.rows][upper]) for m in METHODS}
    return result
