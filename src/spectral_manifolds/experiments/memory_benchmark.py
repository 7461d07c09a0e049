"""Chapter 2's benchmark: power-law memory by direct O(T^2) sum against zero-padded FFT.

Both functions of :mod:`spectral_manifolds.fractional` compute the same causal sum
``M[t] = sum_{k=1}^{t} w_k z[t-k]`` with a kernel as long as the series (``n = T``).
For each length ``T`` the benchmark compiles both with ``jax.jit`` (ahead of time, with
the notice of seed 000_bd4cbe8700a1031d.txt, lesson 3), runs each once to warm up and
then times ``repeats`` calls, each ended by ``block_until_ready``; it reports the median.
The growth exponent of each method is the slope of log(seconds) against log(T).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime


@dataclass(frozen=True)
class BenchmarkConfig:
    """Sizes of the benchmark; chapter 2 picks them with ``runtime.sized``.

    lengths: sequence lengths T, increasing; batch, dim: ``z`` has shape (batch, T, dim);
    gamma: memory exponent; repeats: timed calls per method and length (median reported).
    """

    lengths: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
    batch: int = 4
    dim: int = 16
    gamma: float = 0.5
    repeats: int = 5
    seed: int = 0

    def __post_init__(self):
        if len(self.lengths) < 2:
            raise ValueError("lengths needs at least two sequence lengths to fit a growth exponent")
        if any(int(t) < 2 for t in self.lengths) or list(self.lengths) != sorted(set(self.lengths)):
            raise ValueError(f"lengths must be distinct, increasing and >= 2, got {self.lengths}")
        for name in ("batch", "dim", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma}")


@dataclass
class BenchmarkResult:
    """One row per length: seconds of each method (median), their ratio, agreement."""

    device: str
    backend: str
    rows: list[dict] = field(default_factory=list)
    slope_direct: float = float("nan")  # fitted over all lengths
    slope_fft: float = float("nan")
    slope_direct_upper: float = float("nan")  # fitted over the larger half of the lengths
    slope_fft_upper: float = float("nan")
    compile_seconds: float = 0.0  # total over all compilations

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def table(self) -> str:
        """The rows as a fixed-width text table."""
        lines = [f"{'T':>7} {'direct [ms]':>12} {'FFT [ms]':>10} {'direct/FFT':>11} {'max rel. diff':>14}"]
        for r in self.rows:
            lines.append(
                f"{r['T']:>7} {1e3 * r['direct_s']:>12.3f} {1e3 * r['fft_s']:>10.3f} {r['ratio']:>11.1f} {r['max_rel_diff']:>14.1e}"
            )
        return "\n".join(lines)


def growth_exponent(lengths, seconds) -> float:
    """Least-squares slope of log(seconds) against log(lengths)."""
    lengths, seconds = np.asarray(lengths, float), np.asarray(seconds, float)
    if lengths.size < 2:
        return float("nan")
    return float(np.polyfit(np.log(lengths), np.log(seconds), 1)[0])


def _median_seconds(fn, args, repeats: int) -> float:
    runtime.block(fn(*args))  # warm-up call
    times = []
    for _ in range(repeats):
        with runtime.Timer() as t:
            runtime.block(fn(*args))
        times.append(t.seconds)
    return float(np.median(times))


def run(config: BenchmarkConfig) -> BenchmarkResult:
    """Time direct and FFT memory for every length in ``config.lengths``."""
    import jax
    import jax.numpy as jnp

    from spectral_manifolds.fractional import memory_direct, memory_fft, power_law_weights

    runtime.seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    result = BenchmarkResult(device=runtime.device_name(), backend=runtime.jax_backend())
    for T in runtime.progress(config.lengths, desc="lengths"):
        z = jnp.asarray(rng.standard_normal((config.batch, T, config.dim), np.float32))
        w = power_law_weights(T, config.gamma)
        direct = runtime.compile_with_notice(jax.jit(memory_direct), z, w, name=f"direct memory (T={T})")
        fft = runtime.compile_with_notice(jax.jit(memory_fft), z, w, name=f"FFT memory (T={T})")
        result.compile_seconds += direct.compile_seconds + fft.compile_seconds
        a, b = np.asarray(direct(z, w)), np.asarray(fft(z, w))
        rel = float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30))
        t_direct = _median_seconds(direct, (z, w), config.repeats)
        t_fft = _median_seconds(fft, (z, w), config.repeats)
        result.rows.append(dict(T=int(T), direct_s=t_direct, fft_s=t_fft, ratio=t_direct / t_fft, max_rel_diff=rel))
    lengths = [r["T"] for r in result.rows]
    result.slope_direct = growth_exponent(lengths, [r["direct_s"] for r in result.rows])
    result.slope_fft = growth_exponent(lengths, [r["fft_s"] for r in result.rows])
    upper = slice(len(lengths) // 2, None)
    result.slope_direct_upper = growth_exponent(lengths[upper], [r["direct_s"] for r in result.rows][upper])
    result.slope_fft_upper = growth_exponent(lengths[upper], [r["fft_s"] for r in result.rows][upper])
    return result
