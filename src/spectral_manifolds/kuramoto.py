"""Kuramoto coupling as attention, and the ManifoldFormer's latent field (Flax NNX).

Seed 000_bd4cbe8700a1031d.txt, Stage II writes the latent ODE as

    dz/dt = Pi_{T_z}( W_style M(t) + F_kuramoto(z) ),
    F_kuramoto(z) = W_out sum_j sin(<q^, k^_j>) k^_j ,

and seed 001_a78d46c299591382.txt, section 5 adds a learnable lag ``alpha``. This module
holds the two layers the ManifoldFormer uses:

* :class:`KuramotoAttention` (learnable q/k projections, attention over the sequence,
  learnable ``alpha``, zero-initialized output; ``form="sakaguchi"`` for the
  Sakaguchi-Kuramoto mean field ``W_out L_alpha m`` or the seed's ``form="seed"``);
* :class:`ManifoldField`, which adds the power-law memory
  (:mod:`spectral_manifolds.fractional`), projects onto the tangent space and steps
  with classic RK4 plus retraction (:mod:`spectral_manifolds.ode`). Zero-initialized
  forcing (seed 001, section 13, Patch E): at initialization the field is exactly zero,
  so a step is the identity map.

*The learned lag only reparametrizes ``W_out``* (``form="sakaguchi"``): ``L_alpha`` is
linear and, for ``cos(alpha) != 0``, invertible, so ``(W_out, alpha)`` and
``(W_out L_alpha, 0)`` compute the same force. The orbit-vs-collapse physics of chapter
3 (the lag keeps a synchronized cluster turning) holds for the mean-field weights of
:func:`set_mean_field_weights` (``W_out = K I``, uniform attention, or ``q = k = z``);
a learned ``W_out`` can undo or imitate any lag.

The phase-model theory these layers reduce to (``sphere_field``, ``seed_field``,
Ott-Antonsen, ...) lives in :mod:`spectral_manifolds.kuramoto_theory`, the RK4 test
problem in :mod:`spectral_manifolds.driven_rotor`; both are re-exported here, so
``from spectral_manifolds.kuramoto import sphere_field`` keeps working.
"""

from __future__ import annotations

import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spectral_manifolds import ode, sphere, validate
from spectral_manifolds.conv_memory import DepthwiseConvMemory
from spectral_manifolds.driven_rotor import driven_rotor_field, driven_rotor_solution
from spectral_manifolds.fractional import PowerLawMemory
from spectral_manifolds.kuramoto_theory import (
    critical_coupling,
    lag_generator,
    lag_operator,
    lorentzian_frequencies,
    order_parameter,
    ott_antonsen_r,
    phase_field,
    phase_order_parameter,
    phases_to_sphere,
    sakaguchi_phase_coupling,
    seed_field,
    seed_phase_coupling,
    sphere_field,
    sphere_to_phases,
    time_averaged_order,
)

__all__ = [
    "KuramotoAttention",
    "set_mean_field_weights",
    "fold_lag_into_output",
    "ManifoldField",
    "MEMORY_KINDS",
    # re-exported from kuramoto_theory and driven_rotor
    "lorentzian_frequencies",
    "critical_coupling",
    "ott_antonsen_r",
    "phases_to_sphere",
    "sphere_to_phases",
    "order_parameter",
    "phase_order_parameter",
    "lag_generator",
    "lag_operator",
    "phase_field",
    "sphere_field",
    "seed_field",
    "seed_phase_coupling",
    "sakaguchi_phase_coupling",
    "time_averaged_order",
    "driven_rotor_field",
    "driven_rotor_solution",
]


#: The memories of :class:`ManifoldField`: the book's power law, the main script's convolution.
MEMORY_KINDS = ("power_law", "depthwise_conv")


# =========================================================================== NNX layers
def _check_sequence(z, d: int):
    """``z: (B, T, d) or (T, d)`` as a JAX array, else ``ValueError`` (:func:`validate.sequence`)."""
    validate.sequence(z, "z", last=d, last_name="d")
    return jnp.asarray(z)


def _allowed_keys(shape: tuple, causal: bool, mask):
    """Boolean ``(T, T)`` or ``(B, T, T)`` for ``z`` of ``shape``: query ``t`` may attend key ``s``."""
    T = shape[-2]
    allowed = jnp.ones((T, T), dtype=bool)
    if causal:
        allowed = jnp.tril(allowed)
    if mask is not None:
        mask = jnp.asarray(mask, dtype=bool)
        if mask.shape not in ((T,), shape[:-1]):
            expected = f"({shape[0]}, {T}) or ({T},)" if len(shape) == 3 else f"({T},)"
            raise ValueError(f"mask must have shape {expected} for z of shape {shape}, got shape {mask.shape}")
        allowed = allowed & mask[..., None, :]
    return allowed


class KuramotoAttention(nnx.Module):
    """Kuramoto coupling over a sequence of latent states, as attention (seed 000, Stage II).

    Each position ``t`` of ``z: (B, T, d)`` is an oscillator coupled to the positions it
    may attend (``s <= t`` when ``causal``, and ``mask[s]`` true).

    ``form="sakaguchi"`` (default, the Sakaguchi-Kuramoto mean field)::

        a_ts = softmax_s( <W_q z^_t, W_k z^_s> / sqrt(d_qk) )      (attention weights)
        m_t  = sum_s a_ts z^_s                                     (attended mean field)
        F_t  = W_out L_alpha m_t,    L_alpha = cos(alpha) I - sin(alpha) A

    With ``W_q = 0`` (uniform attention), ``W_out = K I`` and no causal mask, the
    projected force is exactly :func:`sphere_field` (see :func:`set_mean_field_weights`).

    ``form="seed"`` (seed 000's ``sin(<q, k> + alpha)`` form)::

        q^_t = normalize(W_q z_t),  k^_s = normalize(W_k z_s)
        F_t  = W_out mean_s sin(<q^_t, k^_s> + alpha) k^_s

    (mean over the attended keys instead of the seed's sum; with a causal mask the two
    differ by ``n_t``, the number of keys of query ``t``: not one rescaling of ``W_out``).

    Two switches reproduce the seeds' public main script (``form="seed"`` only; defaults
    keep the book's layer): ``projections=False`` drops ``W_q`` and ``W_k`` (no query/key
    ``Linear`` is created), so ``q^ = k^ = z^``: the layer with ``W_q = W_k = I``.
    ``reduce="sum"`` sums over the attended keys instead of averaging (divides by 1, not by
    their number ``n_t``): the force at query ``t`` is ``n_t`` times the mean's, up to
    ``T`` times at the end of a causal sequence.

    ``alpha`` is a learnable scalar ``nnx.Param``. With ``zero_init`` (default; seed 001,
    section 13) ``W_out = 0``, so the force is exactly zero at initialization.
    The output is *not* projected; :class:`ManifoldField` projects the total force.

    Args:
        d: latent dimension.
        form: "sakaguchi" or "seed".
        d_qk: query/key width (default ``d``).
        causal: attend only to ``s <= t`` (default True; the ManifoldFormer predicts
            ``z_{t+1}`` from ``z_{<=t}``, so non-causal coupling would leak the target).
        alpha_init: initial phase lag (radians).
        zero_init: zero-initialize ``W_out``.
        generator: skew ``(d, d)`` for ``L_alpha`` (default :func:`lag_generator`).
        projections: learnable q/k projections (``False``: ``q = k = z``; seed form only).
        reduce: ``"mean"`` or ``"sum"`` over the attended keys (seed form only).
        rngs: ``nnx.Rngs`` for the q/k projections.

    Call: ``z: (B, T, d) or (T, d)`` (unit vectors; normalized internally), optional
    ``mask: (B, T) or (T,)`` bool (True = valid key; ``(T,)`` only for unbatched ``z``
    or shared by the batch), optional ``keys`` (the shape of ``z``: the sequence the keys
    and values come from; default ``z`` itself) -> ``F``, same shape as ``z``.
    A query with no valid key gets ``F = 0`` (no NaN).
    """

    def __init__(
        self,
        d: int,
        *,
        form: str = "sakaguchi",
        d_qk: Optional[int] = None,
        causal: bool = True,
        alpha_init: float = 0.0,
        zero_init: bool = True,
        generator=None,
        projections: bool = True,
        reduce: str = "mean",
        rngs: nnx.Rngs,
    ):
        if form not in ("sakaguchi", "seed"):
            raise ValueError(f"form must be 'sakaguchi' or 'seed', got {form!r}")
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
            raise ValueError(f"d must be an integer >= 2, got {d!r}")
        _check_seed_options(form, projections, reduce)
        d_qk = d if d_qk is None else int(d_qk)
        if not projections and d_qk != d:
            raise ValueError(f"projections=False means q = k = z, so d_qk must equal d={d}, got {d_qk}")
        self.d, self.d_qk, self.form, self.causal = int(d), d_qk, form, bool(causal)
        self.projections, self.reduce = projections, reduce
        if projections:
            self.query = nnx.Linear(d, d_qk, use_bias=False, rngs=rngs)
            self.key = nnx.Linear(d, d_qk, use_bias=False, rngs=rngs)
        width = d if form == "sakaguchi" else d_qk
        kernel_init = nnx.initializers.zeros if zero_init else nnx.initializers.lecun_normal()
        self.out = nnx.Linear(width, d, use_bias=False, kernel_init=kernel_init, rngs=rngs)
        self.alpha = nnx.Param(jnp.asarray(alpha_init, dtype=jnp.float32))
        gen = np.asarray(lag_generator(d) if generator is None else generator, dtype=np.float64)
        if gen.shape != (d, d) or not np.allclose(gen, -gen.T):
            raise ValueError(f"generator must be a skew-symmetric ({d}, {d}) matrix, got shape {gen.shape}")
        # fixed, hashable static data (not a Variable): nnx.split(model, nnx.Param) stays exhaustive
        self.generator = tuple(tuple(float(v) for v in row) for row in gen)

    def _keys(self, z, zh, keys):
        """The normalized sequence keys and values come from: ``zh`` itself (the same traced
        value, so the default graph and its gradient are the book's) or ``keys^``."""
        if keys is None:
            return zh
        keys = _check_sequence(keys, self.d)
        if keys.shape != z.shape:
            raise ValueError(f"keys must have the shape of z {z.shape}, got {keys.shape}")
        return sphere.normalize(keys)

    def weights(self, z, mask=None, keys=None):
        """Coupling weights ``(..., T, T)``: attention ``a_ts`` (sakaguchi) or
        ``sin(<q^_t, k^_s> + alpha) / n_t`` (seed; ``/ 1`` for ``reduce="sum"``), zero
        where ``s`` is not attended; keys from ``keys`` (default ``z``)."""
        z = _check_sequence(z, self.d)
        zh = sphere.normalize(z)
        kz = self._keys(z, zh, keys)
        allowed = _allowed_keys(z.shape, self.causal, mask)
        if self.projections:
            q, k = self.query(zh), self.key(kz)
        else:
            q, k = zh, kz
        alpha = self.alpha[...]
        if self.form == "sakaguchi":
            scores = q @ jnp.swapaxes(k, -1, -2) / math.sqrt(self.d_qk)
            scores = jnp.where(allowed, scores, -1e30)  # finite: an all-masked row stays finite
            w = jax.nn.softmax(scores, axis=-1) * allowed
            return w / jnp.maximum(jnp.sum(w, axis=-1, keepdims=True), 1e-30)
        qh, kh = sphere.normalize(q), sphere.normalize(k)
        s = jnp.sin(qh @ jnp.swapaxes(kh, -1, -2) + alpha) * allowed
        if self.reduce == "sum":
            return s
        return s / jnp.maximum(jnp.sum(allowed, axis=-1, keepdims=True), 1)

    def __call__(self, z, mask=None, keys=None):
        z = _check_sequence(z, self.d)
        w = self.weights(z, mask, keys)
        kz = self._keys(z, sphere.normalize(z), keys)
        if self.form == "sakaguchi":
            m = w @ kz  # (..., T, d)
            lag = lag_operator(self.alpha[...], self.d, jnp.asarray(self.generator, jnp.float32))
            return self.out(m @ lag.T)
        kh = sphere.normalize(self.key(kz)) if self.projections else sphere.normalize(kz)
        return self.out(w @ kh)


def _check_seed_options(form: str, projections, reduce) -> None:
    """``projections`` a bool, ``reduce`` in ("mean", "sum"); the main script's values
    (``projections=False``, ``reduce="sum"``) exist for ``form="seed"`` only."""
    if not isinstance(projections, (bool, np.bool_)):
        raise ValueError(f"projections must be a bool, got {projections!r}")
    validate.choice("reduce", reduce, ("mean", "sum"))
    if form != "seed" and (not projections or reduce != "mean"):
        raise ValueError(f"projections=False and reduce='sum' are options of form='seed', got form={form!r}")


def set_mean_field_weights(layer: KuramotoAttention, K: float) -> KuramotoAttention:
    """Set ``layer``'s weights (in place) so that it computes the plain mean-field coupling.

    ``sakaguchi``: ``W_q = 0`` (uniform attention), ``W_out = K I``; ``seed``:
    ``W_q = W_k = I``, ``W_out = K I`` (so ``q = k = z``, the seed 001 section 2 choice).
    With ``causal=False`` the projected force then equals :func:`sphere_field`
    (resp. :func:`seed_field`) with ``omega = None`` and the layer's ``alpha``.
    Returns the layer.
    """
    eye = jnp.eye(layer.d, dtype=jnp.float32)
    if layer.form == "sakaguchi":
        layer.query.kernel[...] = jnp.zeros_like(layer.query.kernel[...])
    elif layer.projections:
        if layer.d_qk != layer.d:
            raise ValueError("the seed form's mean-field weights need d_qk == d")
        layer.query.kernel[...] = eye
        layer.key.kernel[...] = eye
    layer.out.kernel[...] = K * eye
    return layer


def fold_lag_into_output(layer: KuramotoAttention) -> KuramotoAttention:
    """A copy of a ``form="sakaguchi"`` layer with ``alpha = 0`` that computes the same force.

    ``F = W_out L_alpha m`` is linear in ``m``, so the lag can move into the output
    weights: ``(W_out, alpha) -> (W_out L_alpha, 0)`` (flax's kernel, ``(in, out)``,
    becomes ``L_alpha^T kernel``). ``L_alpha`` is invertible for ``cos(alpha) != 0``, so
    the map goes both ways: with a learned ``W_out`` the lag adds no function the layer
    could not already compute; only with ``W_out`` fixed (e.g. ``K I``) does ``alpha``
    change the dynamics. The seed form's ``sin(<q, k> + alpha)`` is not linear in the
    lag and raises ``ValueError``.
    """
    if layer.form != "sakaguchi":
        raise ValueError(f"only the linear (sakaguchi) lag folds into W_out, got form={layer.form!r}")
    folded = nnx.clone(layer)
    lag = lag_operator(layer.alpha[...], layer.d, jnp.asarray(layer.generator, jnp.float32))
    folded.out.kernel[...] = lag.T @ layer.out.kernel[...]
    folded.alpha[...] = jnp.zeros_like(layer.alpha[...])
    return folded


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
