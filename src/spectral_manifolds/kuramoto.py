"""Kuramoto coupling as attention (Flax NNX).

Seed 000_bd4cbe8700a1031d.txt, Stage II writes the latent ODE as

    dz/dt = Pi_{T_z}( W_style M(t) + F_kuramoto(z) ),
    F_kuramoto(z) = W_out sum_j sin(<q^, k^_j>) k^_j ,

and seed 001_a78d46c299591382.txt, section 5 adds a learnable lag ``alpha``. This module
holds the coupling ``F_kuramoto``, the attention layer the ManifoldFormer uses:

* :class:`KuramotoAttention` (learnable q/k projections, attention over the sequence,
  learnable ``alpha``, zero-initialized output; ``form="sakaguchi"`` for the
  Sakaguchi-Kuramoto mean field ``W_out L_alpha m`` or the seed's ``form="seed"``).

The whole field (memory + coupling, tangent projection, RK4 step) is
:class:`spectral_manifolds.manifold_field.ManifoldField`; it and :data:`MEMORY_KINDS`
are re-exported here, so ``from spectral_manifolds.kuramoto import ManifoldField``
keeps working.

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

from spectral_manifolds import sphere, validate
from spectral_manifolds.driven_rotor import driven_rotor_field, driven_rotor_solution
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
    # re-exported from manifold_field (lazily, see __getattr__ at the bottom)
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
    The output is *not* projected;
    :class:`spectral_manifolds.manifold_field.ManifoldField` projects the total force.

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


# ================================================ re-exports from manifold_field
#: Names that live in :mod:`spectral_manifolds.manifold_field` and stay importable from here.
_MOVED = ("ManifoldField", "MEMORY_KINDS")


def __getattr__(name: str):
    """``kuramoto.ManifoldField`` and ``kuramoto.MEMORY_KINDS`` (PEP 562).

    :mod:`spectral_manifolds.manifold_field` imports this module, so an import of it at
    module level here would be a cycle (importing ``manifold_field`` first would fail);
    resolving the names on first access imports it only once this module is complete.
    """
    if name in _MOVED:
        from spectral_manifolds import manifold_field

        value = getattr(manifold_field, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_MOVED))
