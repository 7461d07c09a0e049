"""Tests of the power-law memory (src/spectral_manifolds/fractional.py).

Oracles: closed forms of the Riemann-Liouville integral, mpmath.differint and
mpmath.quad, the Hurwitz zeta function for the naive partial sums, and the direct sum
for the FFT convolution.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from spectral_manifolds.fractional import (
    FixedKernel,
    PowerLawMemory,
    fft_length,
    memory_direct,
    memory_fft,
    naive_weights,
    power_law_weights,
)

GAMMAS = [0.1, 0.3, 0.5, 0.7, 0.9]


def _grid_memory(f, gamma, t_end, steps):
    """RL integral of order 1-gamma of f at t_end on a grid of `steps` cells (midpoint hold)."""
    h = t_end / steps
    x = (np.arange(steps + 1) + 0.5) * h
    z = jnp.asarray(f(x), jnp.float32)[:, None]
    m = memory_fft(z, power_law_weights(steps, gamma))
    return float(m[steps, 0]) * h ** (1.0 - gamma)


# ----------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("gamma", GAMMAS)
def test_constant_input_is_exact(gamma):
    """Piecewise-constant input: product integration gives I^a[1](t) = t^a / Gamma(1+a) exactly."""
    T = 300
    m = np.asarray(memory_fft(jnp.ones((T, 1)), power_law_weights(T, gamma)))[:, 0]
    t = np.arange(T)
    a = 1.0 - gamma
    expect = t**a / math.gamma(1 + a)
    np.testing.assert_allclose(m, expect, rtol=2e-5, atol=1e-6 * expect.max())  # float32 FFT round-off


@pytest.mark.parametrize("gamma,beta", [(0.3, 0.5), (0.7, 1.0), (0.9, 2.0), (0.1, 1.5)])
def test_riemann_liouville_of_power_converges_to_closed_form(gamma, beta):
    """I^a[t^b](1) = Gamma(b+1)/Gamma(b+1+a); the grid error falls as the grid refines."""
    a = 1.0 - gamma
    exact = math.gamma(beta + 1) / math.gamma(beta + 1 + a)
    errors = [abs(_grid_memory(lambda x: x**beta, gamma, 1.0, n) / exact - 1) for n in (250, 500, 1000, 2000)]
    assert errors[-1] < 2e-3, errors
    assert errors[-1] < errors[0] / 3, errors  # refines at least ~first order


@pytest.mark.parametrize("gamma", [0.2, 0.6, 0.9])
def test_agrees_with_mpmath_differint(gamma):
    """mpmath.differint(f, t, -a) is the RL integral of order a: compare on a smooth input."""
    f = lambda x: np.sin(3 * x) + x  # noqa: E731
    t_end = 2.0
    ours = _grid_memory(f, gamma, t_end, 4000)
    ref = float(mpmath.differint(lambda x: mpmath.sin(3 * x) + x, t_end, -(1.0 - gamma)))
    assert abs(ours - ref) < 2e-3 * max(1.0, abs(ref)), (ours, ref)


@pytest.mark.parametrize("gamma", [0.25, 0.9])
def test_exact_for_piecewise_constant_input(gamma):
    """Against QUADPACK: (1/Gamma(1-g)) * int_0^t z(floor tau) (t-tau)^(-g) dtau, interval by interval.

    The last interval holds the singularity; scipy's ``weight='alg'`` (QAWS) integrates
    ``(b - x)^(-g)`` exactly there, the others are smooth.
    """
    rng = np.random.default_rng(1)
    steps = rng.normal(size=6)
    m = np.asarray(memory_direct(jnp.asarray(steps[:, None], jnp.float32), power_law_weights(6, gamma)))[:, 0]
    for t in range(6):
        ref = 0.0
        for j in range(t):
            if j == t - 1:
                piece = integrate.quad(lambda u: 1.0, j, j + 1, weight="alg", wvar=(0.0, -gamma))[0]
            else:
                piece = integrate.quad(lambda u: (t - u) ** (-gamma), j, j + 1)[0]
            ref += steps[j] * piece
        ref /= math.gamma(1 - gamma)
        assert abs(m[t] - ref) < 1e-5 * max(1.0, abs(ref)), (t, m[t], ref)


def test_telescoping_sum_of_weights():
    for g in GAMMAS:
        w = np.asarray(power_law_weights(1000, g), np.float64)
        np.testing.assert_allclose(np.cumsum(w), np.arange(1, 1001) ** (1 - g) / math.gamma(2 - g), rtol=1e-5)
        assert np.all(w > 0) and np.all(np.diff(w) < 0)


# ----------------------------------------------------------------------- limits and naive
def test_gamma_to_one_limit_is_a_one_step_delay():
    """g -> 1: an integral of order 0, i.e. the held input delayed by one step."""
    z = jax.random.normal(jax.random.key(0), (2, 50, 3))
    m = memory_fft(z, power_law_weights(50, 1.0 - 1e-6))
    np.testing.assert_allclose(m[:, 1:], z[:, :-1], atol=1e-4)
    np.testing.assert_allclose(m[:, 0], 0.0, atol=1e-6)
    # the naive weights instead vanish: 1/Gamma(1-g) -> 0
    assert float(jnp.max(naive_weights(50, 1.0 - 1e-6))) < 1e-5


def test_gamma_to_zero_limit_is_the_running_sum():
    z = jax.random.normal(jax.random.key(1), (40, 2))
    m = memory_direct(z, power_law_weights(40, 1e-6))
    expect = jnp.concatenate([jnp.zeros((1, 2)), jnp.cumsum(z, axis=0)[:-1]])
    np.testing.assert_allclose(m, expect, atol=1e-4)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_naive_partial_sums_match_hurwitz_zeta(gamma):
    """sum_{k<=t} k^(-g) = zeta(g) - zeta(g, t+1): the naive weights' total, by an independent route."""
    t = 256
    naive = float(np.sum(np.asarray(naive_weights(t, gamma), np.float64)))
    ref = float((mpmath.zeta(gamma) - mpmath.zeta(gamma, t + 1)) / mpmath.gamma(1 - gamma))
    assert abs(naive - ref) < 1e-4 * abs(ref)


def test_naive_weights_are_about_54_percent_low_at_gamma_09():
    """DESIGN.md's trap, measured on a constant input at t = 256 (the seeds' sequence length)."""
    t, g = 256, 0.9
    exact = t ** (1 - g) / math.gamma(2 - g)
    rel = float(jnp.sum(naive_weights(t, g))) / exact - 1
    assert -0.6 < rel < -0.5, rel
    # and product integration is exact there
    assert abs(float(jnp.sum(power_law_weights(t, g))) / exact - 1) < 1e-5


# ----------------------------------------------------------------------- FFT vs direct
@settings(max_examples=10, deadline=None)
@given(
    T=st.integers(1, 200),
    n=st.integers(1, 260),
    d=st.integers(1, 4),
    batched=st.booleans(),
    gamma=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**16),
)
def test_fft_equals_direct_float32(T, n, d, batched, gamma, seed):
    shape = (2, T, d) if batched else (T, d)
    z = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    w = power_law_weights(n, gamma)
    a, b = memory_direct(z, w), memory_fft(z, w)
    assert a.shape == b.shape == shape and a.dtype == b.dtype == jnp.float32
    a, b = np.asarray(a), np.asarray(b)
    assert np.max(np.abs(a - b)) <= 1e-5 * max(1.0, np.max(np.abs(a)))


def test_fft_equals_direct_long_sequence():
    z = jax.random.normal(jax.random.key(3), (2, 2048, 3), jnp.float32)
    w = power_law_weights(2048, 0.9)
    a, b = memory_direct(z, w), memory_fft(z, w)
    assert float(jnp.max(jnp.abs(a - b))) <= 1e-5 * float(jnp.max(jnp.abs(a)))


# (T, n) pairs whose linear-convolution length T + min(n, T-1) is already a fast FFT size
# (2^a 3^b 5^c), so next_fast_len adds no slack: any padding shorter by one sample wraps.
EXACT_LENGTHS = [(33, 31), (65, 31), (100, 28), (41, 100), (41, 4), (23, 22), (129, 127), (7, 2)]


@pytest.mark.parametrize("T,n", EXACT_LENGTHS)
def test_fft_linear_convolution_where_next_fast_len_does_not_round_up(T, n):
    """Oracle: numpy's direct linear convolution of z with the kernel [0, w_1, ..., w_n]."""
    m = min(n, T - 1)
    assert fft_length(T, n) == T + m  # no rounding up: the padding is exactly the minimum
    rng = np.random.default_rng(T * 1000 + n)
    z = rng.normal(size=(T, 2))
    w = np.asarray(power_law_weights(n, 0.6), np.float64)
    kernel = np.concatenate([[0.0], w])
    expect = np.stack([np.convolve(z[:, c], kernel)[:T] for c in range(2)], axis=1)
    got = np.asarray(memory_fft(z.astype(np.float32), w.astype(np.float32)), np.float64)
    assert np.max(np.abs(got - expect)) <= 2e-5 * max(1.0, np.max(np.abs(expect)))
    # an impulse at the last step must not wrap onto the first outputs
    last = np.zeros((T, 1), np.float32)
    last[-1] = 1.0
    assert float(np.max(np.abs(np.asarray(memory_fft(last, w.astype(np.float32)))))) < 1e-6


def test_direct_precisions_agree_and_bad_precision_rejected():
    z = jax.random.normal(jax.random.key(7), (2, 96, 3))
    w = power_law_weights(96, 0.4)
    hi, lo = memory_direct(z, w), memory_direct(z, w, precision="default")
    scale = float(jnp.max(jnp.abs(hi)))
    assert float(jnp.max(jnp.abs(hi - lo))) <= 1e-2 * scale  # TF32 keeps ~1e-3 relative, float32 far better
    with pytest.raises(ValueError, match="precision"):
        memory_direct(z, w, precision="tf32")


def test_fft_convolution_is_linear_not_circular():
    """An impulse at the last sample must not wrap around onto early outputs."""
    T = 64
    z = jnp.zeros((T, 1)).at[T - 1, 0].set(1.0)
    np.testing.assert_array_equal(np.asarray(memory_direct(z, power_law_weights(T, 0.5))), 0.0)
    assert float(jnp.max(jnp.abs(memory_fft(z, power_law_weights(T, 0.5))))) < 1e-6
    # impulse at 0: the output is the kernel itself, delayed by one step
    z0 = jnp.zeros((T, 1)).at[0, 0].set(1.0)
    w = power_law_weights(T, 0.5)
    np.testing.assert_allclose(memory_fft(z0, w)[1:, 0], w[: T - 1], atol=1e-6)
    assert fft_length(T, T) >= 2 * T - 1


def test_causality_and_truncation():
    z = jax.random.normal(jax.random.key(4), (80, 2))
    w = power_law_weights(10, 0.4)
    m = memory_fft(z, w)
    z2 = z.at[50].add(5.0)
    m2 = memory_fft(z2, w)
    np.testing.assert_allclose(m[:51], m2[:51], atol=1e-5)  # z[t] never reaches M[<=t]
    assert float(jnp.max(jnp.abs(m2[51:61] - m[51:61]))) > 0.1
    np.testing.assert_allclose(m[61:], m2[61:], atol=1e-5)  # lags beyond n = 10 are dropped


# ----------------------------------------------------------------------- validation
@pytest.mark.parametrize("gamma", [0.0, 1.0, -0.5, 1.5, float("nan"), "x", None])
def test_bad_gamma_rejected(gamma):
    with pytest.raises(ValueError):
        power_law_weights(8, gamma)
    with pytest.raises(ValueError):
        naive_weights(8, gamma)
    with pytest.raises(ValueError):
        PowerLawMemory(gamma, 8)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_length_rejected(n):
    with pytest.raises(ValueError):
        power_law_weights(n, 0.5)


@pytest.mark.parametrize("fn", [memory_direct, memory_fft])
def test_bad_shapes_rejected(fn):
    w = power_law_weights(4, 0.5)
    for bad in (jnp.ones(5), jnp.ones((1, 2, 3, 4)), jnp.ones((0, 3))):
        with pytest.raises(ValueError, match=r"\(B, T, d\)|time step"):
            fn(bad, w)
    with pytest.raises(ValueError, match=r"\(n,\)"):
        fn(jnp.ones((5, 2)), jnp.ones((2, 2)))


# ----------------------------------------------------------------------- the module
def test_module_kernel_is_param_initialized_as_power_law():
    mem = PowerLawMemory(0.7, 32)
    params = nnx.state(mem, nnx.Param)
    assert isinstance(mem.kernel, nnx.Param)
    np.testing.assert_array_equal(np.asarray(mem.kernel[...]), np.asarray(power_law_weights(32, 0.7)))
    assert sum(x.size for x in jax.tree_util.tree_leaves(params)) == 32
    fixed = PowerLawMemory(0.7, 32, learnable=False)
    assert isinstance(fixed.kernel, FixedKernel)
    assert jax.tree_util.tree_leaves(nnx.state(fixed, nnx.Param)) == []


def test_module_methods_agree_and_gradients_flow():
    z = jax.random.normal(jax.random.key(5), (3, 40, 4))
    fft_mem, direct_mem = PowerLawMemory(0.5, 40), PowerLawMemory(0.5, 40, method="direct")
    np.testing.assert_allclose(fft_mem(z), direct_mem(z), atol=1e-5)
    np.testing.assert_allclose(fft_mem(z[0]), fft_mem(z)[0], atol=1e-6)  # unbatched input
    graphdef, params = nnx.split(fft_mem, nnx.Param)

    @jax.jit
    def loss(p):
        return jnp.mean(nnx.merge(graphdef, p)(z) ** 2)

    grads = jax.grad(loss)(params)
    g = jax.tree_util.tree_leaves(grads)[0]
    assert g.shape == (40,) and bool(jnp.all(jnp.isfinite(g))) and float(jnp.max(jnp.abs(g))) > 0
    with pytest.raises(ValueError):
        PowerLawMemory(0.5, 8, method="circular")


def test_module_truncates_long_sequences_to_its_lags():
    mem = PowerLawMemory(0.3, 16)
    z = jax.random.normal(jax.random.key(6), (100, 2))
    np.testing.assert_allclose(mem(z), memory_direct(z, power_law_weights(16, 0.3)), atol=1e-5)


# ----------------------------------------------------------------------- chapter 2's experiments
from spectral_manifolds.experiments import memory_benchmark, power_law_memory  # noqa: E402


def test_held_sinusoid_gain_reduces_to_geometric_series_at_order_one():
    """a = 1 (g -> 0): W = sum_{k>=1} exp(-i w k) = 1 / (exp(i w) - 1)."""
    for omega in (0.1, 1.0, 3.0):
        w = power_law_memory.held_sinusoid_gain(1e-12, omega)
        assert abs(w - 1 / (np.exp(1j * omega) - 1)) < 1e-6 * abs(w)


@pytest.mark.parametrize("gamma,period", [(0.2, 12.0), (0.6, 40.0), (0.9, 8.0)])
def test_sinusoid_response_matches_closed_forms(gamma, period):
    r = power_law_memory.sinusoid_response(gamma, period, T=4096)
    assert abs(r["gain"] / r["gain_discrete"] - 1) < 1e-3
    assert abs(r["lag"] - r["lag_discrete"]) < 1e-3
    # the hold delays the continuous lag a*pi/2 by between half a step (g -> 0) and one step (g -> 1)
    extra = r["lag_discrete"] - r["lag_continuous"]
    assert 0.45 * r["omega"] < extra < 1.05 * r["omega"]


def test_kernel_fit_moves_the_learnable_kernel_to_the_data():
    cfg = power_law_memory.KernelFitConfig(gamma_init=0.4, gamma_true=0.8, T=48, batch=4, dim=2, steps=200, lr=5e-3)
    res = power_law_memory.run_kernel_fit(cfg)
    assert len(res.losses) == cfg.steps and res.losses[-1] < res.losses[0] / 20
    assert res.learned_error < res.init_error / 3
    assert abs(res.learned_gamma - 0.8) < abs(res.init_gamma - 0.8) / 3
    assert abs(power_law_memory.kernel_exponent(power_law_weights(500, 0.35))) == pytest.approx(0.35, abs=0.01)


def test_benchmark_rows_agree_and_fit_exponents(capsys):
    cfg = memory_benchmark.BenchmarkConfig(lengths=(32, 64, 128, 256), batch=1, dim=2, repeats=1, bandwidth_mb=4)
    res = memory_benchmark.run(cfg)
    assert [r["T"] for r in res.rows] == [32, 64, 128, 256]
    for r in res.rows:
        assert r["rel_diff_fft"] < 1e-5 and r["rel_diff_default"] < 1e-2
        assert all(r[f"{m}_s"] > 0 for m in memory_benchmark.METHODS)
        assert r["toeplitz_bytes"] == 4 * r["T"] ** 2  # the (T, T) float32 Toeplitz matrix
        # the FFT moves at least its input and its output once, and its floor is that over the bandwidth
        assert r["fft_bytes"] >= 8 * r["T"] * cfg.dim * cfg.batch
        assert r["fft_floor_s"] == pytest.approx(r["fft_bytes"] / res.bandwidth_bytes_per_s)
        assert r["fp32_over_fft"] == pytest.approx(r["direct FP32_s"] / r["FFT_s"])
    assert res.fit_lengths == [128, 256]  # the larger half only
    assert set(res.exponents) == set(memory_benchmark.METHODS) and all(np.isfinite(list(res.exponents.values())))
    assert res.bandwidth_bytes_per_s > 0
    df = res.table()
    assert list(df.index) == [32, 64, 128, 256] and "FFT / floor" in df.columns
    assert len(res.exponent_table()) == 3
    # every compile notice comes before the timing loop: exactly one notice and one total
    out = capsys.readouterr().out
    assert out.count("Compiling") == 1 and out.count("Compiled") == 1
    assert memory_benchmark.growth_exponent([10, 100, 1000], [1, 100, 10000]) == pytest.approx(2.0)


def test_staged_fft_bytes_agree_with_xla_cost_analysis():
    """The stage-by-stage count of the FFT's memory traffic against XLA's own estimate."""
    B, T, d = 4, 1024, 16
    compiled = jax.jit(memory_fft).lower(jnp.ones((B, T, d)), power_law_weights(T, 0.5)).compile()
    xla = memory_benchmark._bytes_accessed(compiled)
    staged = memory_benchmark.staged_fft_bytes(B, T, d, fft_length(T, T))
    assert xla > 0 and 0.75 < staged / xla < 1.33, (staged, xla)


@pytest.mark.parametrize(
    "kwargs", [dict(lengths=(128,)), dict(lengths=(256, 128)), dict(repeats=0), dict(gamma=1.0), dict(bandwidth_mb=0)]
)
def test_benchmark_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        memory_benchmark.BenchmarkConfig(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(gamma_true=0.0), dict(T=8), dict(lr=0.0), dict(steps=0)])
def test_kernel_fit_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        power_law_memory.KernelFitConfig(**kwargs)
