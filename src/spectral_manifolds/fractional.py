"""Power-law (fractional) memory on a unit time grid, in JAX
(seed 000_bd4cbe8700a1031d.txt, Stage II; fix table row "Kernel: Learnable (Init as Power-Law)").

The ManifoldFormer's dynamics carry a long-term memory of the latent path,

    M(t) = 1/Gamma(1 - g) * integral_0^t z(tau) (t - tau)^(-g) dtau ,   0 < g < 1,

which is the Riemann-Liouville fractional integral of order ``a = 1 - g`` of ``z``
(Podlubny 1999, ch. 2): recent states weigh most, but the weights fall only as a power
of the lag, so nothing is ever fully forgotten.

Discretization (the convention used everywhere in the book)
-----------------------------------------------------------
Samples ``z[j]`` sit on the unit grid ``t = 0, 1, 2, ...``; between samples the input
is held constant, ``z(tau) = z[j]`` for ``tau`` in ``[j, j + 1)``. Integrating the
kernel exactly over each unit interval gives the **product-integration** rule

    M[t] = sum_{k=1}^{t} w_k z[t - k],
    w_k  = (k^(1-g) - (k-1)^(1-g)) / Gamma(2 - g),

which is *exact* for such piecewise-constant input. ``M[t]`` uses ``z[0..t-1]`` only:
the sample ``z[t]`` itself is not included (its interval ``[t, t+1)`` lies after ``t``),
and ``M[0] = 0``. The memory is therefore strictly causal.

The naive rule samples the kernel at the integer lags, ``w_k = k^(-g) / Gamma(1 - g)``.
It misses the integrable singularity at lag 0 and is badly wrong for ``g`` near 1
(DESIGN.md, "Known traps": about 54 % low at ``g = 0.9``; chapter 2 measures it).
The seeds' loss used these naive weights (chapter 5).

Limits: as ``g -> 1`` the product weights tend to ``(1, 0, 0, ...)``, so ``M[t] -> z[t-1]``
(an integral of order 0 is the identity, delayed by the hold); as ``g -> 0`` every
weight tends to 1 and ``M`` becomes the running sum (the ordinary integral).

Two evaluations of the same sum: :func:`memory_direct` builds the ``(T, T)`` Toeplitz
matrix, O(T^2), the reference; :func:`memory_fft` multiplies spectra after zero-padding
to at least ``T + n`` samples so the circular convolution of the FFT equals the linear
one on the first ``T`` outputs, O(T log T) (DESIGN.md trap: never circular).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from scipy import fft as sp_fft
from scipy import special

from spectral_manifolds import validate

__all__ = [
    "check_gamma",
    "power_law_weights",
    "naive_weights",
    "memory_direct",
    "memory_fft",
    "fft_length",
    "FixedKernel",
    "PowerLawMemory",
]


# --------------------------------------------------------------------------- checks
def check_gamma(gamma) -> float:
    """Return ``gamma`` as a float after checking ``0 < gamma < 1``.

    Raises:
        ValueError: when ``gamma`` is not a finite number strictly between 0 and 1.
    """
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be a number in (0, 1), got {gamma!r}") from None
    if not (math.isfinite(g) and 0.0 < g < 1.0):
        raise ValueError(f"gamma must lie strictly between 0 and 1, got {gamma!r}")
    return g


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (number of lags) must be a positive integer, got {n!r}")
    return int(n)


def _check_series(z, weights):
    """Validate ``z: (B, T, d) or (T, d)`` (the shared :func:`spectral_manifolds.validate.sequence`)
    and ``weights: (n,)``; return ``(z_batched, weights, was_unbatched)`` as float arrays."""
    z, unbatched = validate.sequence(z, "z", last_name="d")
    z = jnp.asarray(z)
    weights = jnp.asarray(weights)
    if weights.ndim != 1 or weights.shape[0] < 1:
        raise ValueError(f"weights must have shape (n,) with n >= 1, got shape {weights.shape}")
    dtype = jnp.result_type(z.dtype, weights.dtype, jnp.float32)
    return z.astype(dtype), weights.astype(dtype), unbatched


PRECISIONS = {"highest": jax.lax.Precision.HIGHEST, "default": jax.lax.Precision.DEFAULT}


# --------------------------------------------------------------------------- weights
def power_law_weights(n: int, gamma: float, dtype=jnp.float32) -> jax.Array:
    """Product-integration weights of the power-law memory on a unit grid.

    ``w_k = (k^(1-g) - (k-1)^(1-g)) / Gamma(2-g)`` for ``k = 1..n``: the exact integral of
    ``(t - tau)^(-g) / Gamma(1 - g)`` over the unit interval at lag ``k``. Computed in
    float64 with ``expm1`` (no cancellation as ``g -> 1``) and cast to ``dtype``.
    Their partial sums telescope: ``sum_{k<=t} w_k = t^(1-g) / Gamma(2-g)``.

    Args:
        n: number of lags (kernel length), >= 1.
        gamma: memory exponent, 0 < gamma < 1.
    Returns:
        (n,) weights, positive and decreasing.
    """
    n, g = _check_n(n), check_gamma(gamma)
    a = 1.0 - g
    k = np.arange(1, n + 1, dtype=np.float64)
    diff = np.empty(n)
    diff[0] = 1.0  # 1^a - 0^a
    km1 = k[1:] - 1.0
    # k^a - (k-1)^a = (k-1)^a * expm1(a * log(k / (k-1)))
    diff[1:] = km1**a * np.expm1(a * np.log1p(1.0 / km1))
    return jnp.asarray(diff / special.gamma(2.0 - g), dtype=dtype)


def naive_weights(n: int, gamma: float, dtype=jnp.float32) -> jax.Array:
    """Naive weights ``w_k = k^(-g) / Gamma(1-g)``, ``k = 1..n``: the kernel sampled at the lags.

    This is the kernel the seeds' ``get_fractional_kernel`` built (before reversing it).
    It is not a consistent quadrature of the integral (see the module docstring).

    Args:
        n: number of lags, >= 1.
        gamma: memory exponent, 0 < gamma < 1.
    Returns:
        (n,) weights.
    """
    n, g = _check_n(n), check_gamma(gamma)
    k = np.arange(1, n + 1, dtype=np.float64)
    return jnp.asarray(k ** (-g) / special.gamma(1.0 - g), dtype=dtype)


# --------------------------------------------------------------------------- memory
def memory_direct(z, weights, precision: str = "highest") -> jax.Array:
    """Causal power-law memory by the direct O(T^2) sum (the reference).

    ``M[t] = sum_{k=1}^{min(t, n)} w_k z[t-k]``: ``z[t]`` itself is excluded, ``M[0] = 0``,
    lags beyond ``n`` are dropped (a kernel shorter than the series truncates the memory).
    Builds the lower-triangular ``(T, T)`` Toeplitz matrix ``W[t, s] = w_{t-s}`` (``4 T^2``
    bytes in float32) and multiplies: one matmul.

    Args:
        z: (B, T, d) or (T, d).
        weights: (n,), ``weights[k-1] = w_k``.
        precision: ``"highest"`` (default: full float32, no TF32 on GPUs) or ``"default"``
            (the backend's default matmul precision: TF32 on recent NVIDIA GPUs, float32
            on a CPU).
    Returns:
        Same shape as ``z``.
    """
    validate.choice("precision", precision, tuple(PRECISIONS))
    z, weights, unbatched = _check_series(z, weights)
    out = _memory_direct(z, weights, precision)
    return out[0] if unbatched else out


@partial(jax.jit, static_argnames=("precision",))
def _memory_direct(z, weights, precision="highest"):
    T, n = z.shape[-2], weights.shape[0]
    lag = jnp.arange(T)[:, None] - jnp.arange(T)[None, :]  # (T, T), t - s
    valid = (lag >= 1) & (lag <= n)
    toeplitz = jnp.where(valid, weights[jnp.clip(lag - 1, 0, n - 1)], 0.0)
    return jnp.einsum("ts,...sd->...td", toeplitz, z, precision=PRECISIONS[precision])


def fft_length(T: int, n: int) -> int:
    """FFT size for :func:`memory_fft`: the smallest fast length >= ``T + min(n, T-1)``.

    A kernel with lags ``0..m`` (``m = min(n, T-1)``; lags >= T never reach the first T
    outputs) convolved with T samples has ``T + m`` linear-convolution outputs; an FFT of
    at least that length wraps nothing onto the first ``T`` outputs.
    """
    m = min(int(n), int(T) - 1)
    return int(sp_fft.next_fast_len(int(T) + max(m, 0), real=True))


def memory_fft(z, weights) -> jax.Array:
    """Causal power-law memory by zero-padded FFT convolution, O(T log T).

    Same sum and convention as :func:`memory_direct` (``z[t]`` excluded, ``M[0] = 0``):
    the kernel ``[0, w_1, ..., w_m]`` and ``z`` are zero-padded to :func:`fft_length`
    so the FFT's circular convolution equals the linear one on the first ``T`` outputs.

    Args:
        z: (B, T, d) or (T, d).
        weights: (n,).
    Returns:
        Same shape as ``z``.
    """
    z, weights, unbatched = _check_series(z, weights)
    out = _memory_fft(z, weights)
    return out[0] if unbatched else out


@jax.jit
def _memory_fft(z, weights):
    T = z.shape[-2]
    m = min(weights.shape[0], T - 1)
    L = fft_length(T, weights.shape[0])
    kernel = jnp.zeros((L,), z.dtype).at[1 : m + 1].set(weights[:m])
    k_hat = jnp.fft.rfft(kernel)  # (L//2+1,)
    z_hat = jnp.fft.rfft(z, n=L, axis=-2)  # zero-pads the time axis to L
    out = jnp.fft.irfft(z_hat * k_hat[:, None], n=L, axis=-2)
    return out[..., :T, :].astype(z.dtype)


# --------------------------------------------------------------------------- module
class FixedKernel(nnx.Variable):
    """A kernel held fixed: not an ``nnx.Param``, so optimizers over ``nnx.Param`` skip it."""


class PowerLawMemory(nnx.Module):
    """Power-law memory with a kernel initialized as the product-integration weights.

    Seed 000's fix table: the kernel is "Learnable (Init as Power-Law)". With
    ``learnable=True`` the kernel is an ``nnx.Param`` of shape ``(max_len,)`` that starts
    at :func:`power_law_weights` and is free to adapt to data; with ``learnable=False``
    it is a :class:`FixedKernel` variable.

    Args:
        gamma: memory exponent of the initial kernel, 0 < gamma < 1.
        max_len: number of lags the kernel holds; a longer series sees its memory
            truncated to ``max_len`` lags.
        learnable: whether the kernel is a trainable ``nnx.Param``.
        method: ``"fft"`` (O(T log T), default) or ``"direct"`` (O(T^2) reference).

    Call: ``z: (B, T, d) or (T, d)`` -> ``M``, same shape (``M[t]`` from ``z[:t]``).
    """

    def __init__(self, gamma: float, max_len: int, learnable: bool = True, method: str = "fft"):
        self.gamma = check_gamma(gamma)
        self.max_len = _check_n(max_len)
        if method not in ("fft", "direct"):
            raise ValueError(f"method must be 'fft' or 'direct', got {method!r}")
        self.method = method
        self.learnable = bool(learnable)
        init = power_law_weights(self.max_len, self.gamma)
        self.kernel = nnx.Param(init) if self.learnable else FixedKernel(init)

    def __call__(self, z):
        kernel = self.kernel[...]
        if self.method == "fft":
            return memory_fft(z, kernel)
        return memory_direct(z, kernel)
