"""The ManifoldFormer's latent vector field and its RK4 step (Flax NNX).

Seed 000_bd4cbe8700a1031d.txt, Stage II writes the latent ODE as

    dz/dt = Pi_{T_z}( W_style M(t) + F_kuramoto(z) ),
    F_kuramoto(z) = W_out sum_j sin(<q^, k^_j>) k^_j .

:class:`ManifoldField` is that field: it adds the power-law memory ``M``
(:mod:`spectral_manifolds.fractional`; or the seeds' main-script depthwise convolution,
:mod:`spectral_manifolds.conv_memory`) to the Kuramoto coupling ``F``
(:class:`spectral_manifolds.kuramoto.KuramotoAttention`), projects onto the tangent
space and steps with classic RK4 plus retraction (:mod:`spectral_manifolds.ode`).
Zero-initialized forcing (seed 001_a78d46c299591382.txt, section 13, Patch E): at
initialization the field is exactly zero, so a step is the identity map.

The attention layer and its helpers stay in :mod:`spectral_manifolds.kuramoto`, which
re-exports :class:`ManifoldField` and :data:`MEMORY_KINDS`, so
``from spectral_manifolds.kuramoto import ManifoldField`` keeps working.
"""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp
import numpy as np
from flax import nnx

from spectral_manifolds import ode, sphere, validate
from spectral_manifolds.conv_memory import DepthwiseConvMemory
from spectral_manifolds.fractional import PowerLawMemory
from spectral_manifolds.kuramoto import KuramotoAttention, _check_sequence

__all__ = ["ManifoldField", "MEMORY_KINDS"]


#: The memories of :class:`ManifoldField`: the book's power law, the main script's convolution.
MEMORY_KINDS = ("power_law", "depthwise_conv")


class ManifoldField(nnx.Module):
    """The ManifoldFormer's latent vector field and its RK4 step (seed 000, Stage II).

    ``dz/dt = Pi_{T_z}( W_style M + F(z) )`` with ``M`` the causal power-law memory of the
    sequence (:class:`spectral_manifolds.fractional.PowerLawMemory`, kernel initialized
    as the product-integration weights) and ``F`` a :class:`KuramotoAttention`.
    ``W_style`` and ``W_out`` are zero-initialized (seed 001, section 13): the field is
    zero at initialization and :meth:`step` is the identity.

    Args:
        d: latent dimension.
        gamma: memory exponent (0 < gamma < 1); memory_len: kernel length (lags).
        use_memory: include the ``W_style M`` term.
        learnable_memory: memory kernel is an ``nnx.Param``.
        form, causal, alpha_init, d_qk: passed to :class:`KuramotoAttention`.
        zero_init: zero-initialize ``W_style`` and ``W_out``.
        projections, reduce: the seeds' main-script switches of :class:`KuramotoAttention`.
        memory_kind: one of :data:`MEMORY_KINDS`.
        rngs: ``nnx.Rngs``.

    ``__call__(z, memory=None, mask=None)``: ``z: (B, T, d) or (T, d)`` -> tangent field,
    same shape. ``memory`` (same shape) overrides ``M``; by default ``M`` is computed
    from ``z``.

    ``step(z, h=1.0, n_substeps=1, mask=None, freeze_keys=False)``: ``z: (B, T, d) or (T, d)`` on the sphere
    -> ``z_next``, same shape, on the sphere. The memory ``M`` is computed once from the
    input sequence and held fixed during the step (the observed past is the forcing);
    the coupling is re-evaluated at each RK4 stage. ``n_substeps = 1`` is the seed's
    one step of ``h = 1``; ``n_substeps = 4`` its earlier 4 substeps of ``h = 0.25``;
    ``sphere.normalize`` retracts after each substep. ``freeze_keys=True`` (the seeds'
    main script) also holds the coupling's keys (and values) at the input sequence ``z``
    through every RK4 stage and substep: only the queries move,
    ``f(y) = Pi_{T_y}( W_style M(z) + F(y; keys = z) )``.

    The seeds' main script (defaults keep the book's field): ``projections`` and
    ``reduce`` go to :class:`KuramotoAttention`; ``memory_kind="depthwise_conv"``
    replaces the power-law memory with a learned causal depthwise convolution over the
    same ``memory_len`` lags (:class:`spectral_manifolds.conv_memory.DepthwiseConvMemory`,
    lecun-normal initialization, justified there); ``gamma`` and ``learnable_memory``
    then do not apply.
    """

    def __init__(
        self,
        d: int,
        *,
        gamma: float = 0.5,
        memory_len: int = 256,
        use_memory: bool = True,
        learnable_memory: bool = True,
        form: str = "sakaguchi",
        causal: bool = True,
        alpha_init: float = 0.0,
        d_qk: Optional[int] = None,
        zero_init: bool = True,
        projections: bool = True,
        reduce: str = "mean",
        memory_kind: str = "power_law",
        rngs: nnx.Rngs,
    ):
        validate.choice("memory_kind", memory_kind, MEMORY_KINDS)
        self.d = int(d)
        self.use_memory = bool(use_memory)
        self.memory_kind = memory_kind
        self.coupling = KuramotoAttention(
            d, form=form, d_qk=d_qk, causal=causal, alpha_init=alpha_init, zero_init=zero_init,
            projections=projections, reduce=reduce, rngs=rngs,
        )
        if self.use_memory and memory_kind == "depthwise_conv":
            self.memory = DepthwiseConvMemory(d, memory_len, rngs=rngs)
        elif self.use_memory:
            self.memory = PowerLawMemory(gamma, memory_len, learnable=learnable_memory)
        if self.use_memory:
            kernel_init = nnx.initializers.zeros if zero_init else nnx.initializers.lecun_normal()
            self.w_style = nnx.Linear(d, d, use_bias=False, kernel_init=kernel_init, rngs=rngs)

    def forcing(self, z):
        """``W_style M``: ``z: (B, T, d) or (T, d)`` -> same shape (zeros without memory)."""
        z = _check_sequence(z, self.d)
        if not self.use_memory:
            return jnp.zeros_like(z)
        return self.w_style(self.memory(z))

    def _field(self, z, forcing, mask, keys=None):
        zh = sphere.normalize(z)
        return sphere.project(zh, forcing + self.coupling(z, mask, keys))

    def __call__(self, z, memory=None, mask=None):
        z = _check_sequence(z, self.d)
        if memory is None:
            forcing = self.forcing(z)
        else:
            memory = jnp.asarray(memory)
            if memory.shape != z.shape:
                raise ValueError(f"memory must have the shape of z {z.shape}, got {memory.shape}")
            forcing = self.w_style(memory) if self.use_memory else jnp.zeros_like(z)
        return self._field(z, forcing, mask)

    def step(self, z, h: float = 1.0, n_substeps: int = 1, mask=None, freeze_keys: bool = False):
        z = _check_sequence(z, self.d)
        if not isinstance(freeze_keys, (bool, np.bool_)):
            raise ValueError(f"freeze_keys must be a bool, got {freeze_keys!r}")
        forcing = self.forcing(z)
        keys = z if freeze_keys else None
        return ode.rk4_substeps(
            lambda t, y: self._field(y, forcing, mask, keys), 0.0, z, h, n_substeps, retract=sphere.normalize
        )
