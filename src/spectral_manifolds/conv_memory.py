"""A learned causal depthwise convolution as the latent memory (the seeds' main script).

The seeds' public main script gives the ManifoldFormer's field a *learned depthwise
convolution* of the latent path as its memory, where seed 000's text (and the book,
:class:`spectral_manifolds.fractional.PowerLawMemory`) uses a power-law kernel shared by
every channel. :class:`DepthwiseConvMemory` is that alternative on the book's grid and
lags, so that the two differ only in the kernel:

    M[t, c] = sum_{k=1}^{min(t, n)} w[k-1, c] z[t-k, c],      M[0] = 0,

one kernel of ``n`` lags per channel ``c`` (depthwise: no mixing of channels; the
field's ``W_style`` mixes them afterwards). As in :mod:`spectral_manifolds.fractional`,
``z[t]`` itself is excluded (strictly causal) and the sum is evaluated by zero-padded FFT
(:func:`spectral_manifolds.fractional.fft_length`, never circular), O(T log T).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spectral_manifolds import validate
from spectral_manifolds.fractional import fft_length, power_law_weights

__all__ = ["INITS", "depthwise_memory", "DepthwiseConvMemory"]

INITS = ("lecun_normal", "power_law")


def depthwise_memory(z, kernel) -> jax.Array:
    """Causal depthwise memory ``M[t, c] = sum_{k=1}^{min(t, n)} kernel[k-1, c] z[t-k, c]``.

    Args:
        z: (B, T, d) or (T, d).
        kernel: (n, d), ``kernel[k-1, c]`` the weight of lag ``k`` in channel ``c``.
    Returns:
        Same shape as ``z``.
    """
    z, unbatched = validate.sequence(z, "z", last_name="d")
    z, kernel = jnp.asarray(z), jnp.asarray(kernel)
    if kernel.ndim != 2 or kernel.shape[0] < 1 or kernel.shape[1] != z.shape[-1]:
        raise ValueError(f"kernel must have shape (n, {z.shape[-1]}) with n >= 1, got shape {kernel.shape}")
    dtype = jnp.result_type(z.dtype, kernel.dtype, jnp.float32)
    out = _depthwise_fft(z.astype(dtype), kernel.astype(dtype))
    return out[0] if unbatched else out


@jax.jit
def _depthwise_fft(z, kernel):
    T, n = z.shape[-2], kernel.shape[0]
    m = min(n, T - 1)
    L = fft_length(T, n)
    padded = jnp.zeros((L, kernel.shape[1]), z.dtype).at[1 : m + 1].set(kernel[:m])  # lag 0 carries no weight
    k_hat = jnp.fft.rfft(padded, axis=0)  # (L//2+1, d)
    z_hat = jnp.fft.rfft(z, n=L, axis=-2)
    out = jnp.fft.irfft(z_hat * k_hat, n=L, axis=-2)
    return out[..., :T, :].astype(z.dtype)


class DepthwiseConvMemory(nnx.Module):
    """A learned causal depthwise convolution over ``max_len`` lags, one kernel per channel.

    **Initialization** (``init="lecun_normal"``, default): every weight drawn from
    ``lecun_normal`` with ``fan_in = max_len`` (a truncated normal of variance
    ``1 / max_len``), which is what ``flax.nnx.Conv`` with ``feature_group_count = d``
    (one input channel per group, ``max_len`` taps) draws when nothing else is given: the
    starting point of "a learned depthwise convolution" in the seeds' framework. It keeps
    ``M`` at the scale of ``z`` (``Var M[t, c] ~ min(t, n) / n <= 1`` for unit inputs),
    where the power-law sum grows like ``t^(1-g)`` (about 18 at ``t = 255``, ``g = 0.5``).
    The field's ``W_style`` starts at zero (seed 001, Patch E), so this choice does not
    change the field at initialization, only where its learning starts. ``init="power_law"``
    starts every channel at :func:`spectral_manifolds.fractional.power_law_weights`, where
    the memory equals :class:`~spectral_manifolds.fractional.PowerLawMemory`: a control
    that separates "one kernel per channel" from the initialization.

    Args:
        d: channels (the latent dimension).
        max_len: lags the kernel holds (a longer series sees only ``max_len`` lags).
        init: one of :data:`INITS`.
        gamma: exponent of the ``"power_law"`` initialization.
        rngs: ``nnx.Rngs`` (``"lecun_normal"`` draws from ``rngs.params()``).

    Call: ``z: (B, T, d) or (T, d)`` -> ``M``, same shape (``M[t]`` from ``z[:t]``).
    """

    def __init__(self, d: int, max_len: int, *, init: str = "lecun_normal", gamma: float = 0.5, rngs: nnx.Rngs):
        validate.positive_int("d", d)
        validate.positive_int("max_len", max_len)
        validate.choice("init", init, INITS)
        self.d, self.max_len, self.init = int(d), int(max_len), init
        if init == "lecun_normal":
            # nnx.Conv's kernel shape (taps, in_features / groups, out_features) and default init
            kernel = nnx.initializers.lecun_normal()(rngs.params(), (self.max_len, 1, self.d), jnp.float32)[:, 0, :]
        else:
            kernel = jnp.tile(power_law_weights(self.max_len, gamma)[:, None], (1, self.d))
        self.kernel = nnx.Param(kernel)

    def __call__(self, z):
        return depthwise_memory(z, self.kernel[...])


def numpy_reference(z, kernel) -> np.ndarray:
    """The same sum by ``numpy.convolve`` per channel (for tests): ``z: (T, d)``, ``kernel: (n, d)``."""
    z, kernel = np.asarray(z, np.float64), np.asarray(kernel, np.float64)
    T, d = z.shape
    full = np.stack([np.convolve(z[:, c], np.concatenate([[0.0], kernel[:, c]])) for c in range(d)], axis=-1)
    return full[:T]
