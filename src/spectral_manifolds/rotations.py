"""Cayley rotations (seed 001_a78d46c299591382.txt, sections 5-11).

How a latent trajectory is turned towards a reference frame; measuring how far it is from
one (the oracle distance, the alignment losses) is :mod:`spectral_manifolds.alignment`,
which re-exports every public name here.

The seeds' learnable rotations are Cayley transforms of a skew matrix,
``R = (I - A)(I + A)^{-1}`` with ``A = W - W^T`` (section 7): always orthogonal with
``det R = +1`` (a Cayley rotation can never reflect). :class:`StaticCayleyRotation`
learns one ``W`` (section 5, "Learnable Global Rotation"); :class:`DynamicCayleyRotation`
predicts ``W`` from a context of the trajectory, ``c -> Dense(128) -> ReLU -> W``, with
the three contexts the seed tried: the temporal mean (section 7), the velocity
(sections 8-9) and the trajectory endpoints (section 10), and section 8's uncentred
covariance ``z^T z / T`` (``"covariance"``, in :data:`ALL_CONTEXTS`). :func:`orthogonality_penalty`
is the seed's regularizer ``|R^T R - I|_F^2`` (section 11 and "What to Keep").

:func:`as_batched`, the trajectory shape convention ((B, T, d) or (T, d)) that
:mod:`spectral_manifolds.alignment` uses too, lives here so that alignment can import it
(and re-export everything here) without a circular import.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
    "CONTEXTS",
    "ALL_CONTEXTS",
    "as_batched",
    "cayley",
    "orthogonality_penalty",
    "rotation_context",
    "context_dim",
    "StaticCayleyRotation",
    "DynamicCayleyRotation",
]

Context = Literal["mean", "endpoints", "velocity", "covariance"]
#: The contexts of seed 001, sections 7-10, that chapter 6 trains.
CONTEXTS: tuple[str, ...] = ("mean", "endpoints", "velocity")
#: Every context: also section 8's covariance context (chapter 7's experiment 8).
ALL_CONTEXTS: tuple[str, ...] = CONTEXTS + ("covariance",)
# Full float32 products: on GPUs JAX may otherwise use TF32 (about 3 decimal digits) for
# float32 matmuls, which would blur distances of 0 into about 0.01.
_HI = jax.lax.Precision.HIGHEST


# --------------------------------------------------------------------------- shapes
def as_batched(x, name: str = "z") -> tuple[jax.Array, bool]:
    """Return ``(x as (B, T, d), was_unbatched)``.

    Args:
        x: (B, T, d) or (T, d) trajectory (seed 001, lesson 5: the imputation pipeline
            passes unbatched (T, d) data).

    Raises:
        ValueError: for any other rank, naming the expected shapes.
    """
    x = jnp.asarray(x)
    if x.ndim == 2:
        return x[None], True
    if x.ndim == 3:
        return x, False
    raise ValueError(f"{name} must have shape (B, T, d) or (T, d), got shape {tuple(x.shape)}")



# --------------------------------------------------------------------------- turning
def cayley(w) -> jax.Array:
    """Cayley rotation of the skew part of ``w`` (seed 001, section 7).

    ``A = w - w^T``, ``R = (I - A)(I + A)^{-1}``. ``I + A`` is always invertible for a
    skew ``A`` (its eigenvalues are ``1 + i lambda``), so no input gives NaN. ``R`` is
    orthogonal with ``det R = +1``; rotations with an eigenvalue -1 are reached only as
    ``|A| -> infinity``.

    Args:
        w: (..., d, d) unconstrained matrices.

    Returns:
        (..., d, d) rotations. ``(I - A)`` and ``(I + A)^{-1}`` commute, so
        ``R = solve(I + A, I - A)``.
    """
    w = jnp.asarray(w)
    if w.ndim < 2 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"w must have shape (..., d, d), got {tuple(w.shape)}")
    a = w - jnp.swapaxes(w, -1, -2)
    eye = jnp.eye(w.shape[-1], dtype=w.dtype)
    return jnp.linalg.solve(eye + a, eye - a)


def orthogonality_penalty(r) -> jax.Array:
    """The seed's orthogonality regularizer ``|R^T R - I|_F^2``, mean over leading axes.

    Args:
        r: (..., d, d) matrices.

    Returns:
        Scalar; 0 exactly for orthogonal ``r``.
    """
    r = jnp.asarray(r)
    if r.ndim < 2 or r.shape[-1] != r.shape[-2]:
        raise ValueError(f"r must have shape (..., d, d), got {tuple(r.shape)}")
    g = jnp.matmul(jnp.swapaxes(r, -1, -2), r, precision=_HI) - jnp.eye(r.shape[-1], dtype=r.dtype)
    return jnp.mean(jnp.sum(g * g, axis=(-2, -1)))


def context_dim(context: str, d: int) -> int:
    """Length of the context vector for a latent of dimension ``d``."""
    if context not in ALL_CONTEXTS:
        raise ValueError(f"context must be one of {ALL_CONTEXTS}, got {context!r}")
    return {"endpoints": 2 * d, "covariance": d * d}.get(context, d)


def rotation_context(z, context: str) -> jax.Array:
    """The context a :class:`DynamicCayleyRotation` reads from a trajectory.

    * ``"mean"`` (seed 001, section 7): ``mean_t z_t``, (B, d).
    * ``"endpoints"`` (section 10): ``[z_0, z_{T-1}]`` concatenated, (B, 2d).
    * ``"velocity"`` (sections 8-9, "the spin (Delta z)"): ``mean_t (z_{t+1} - z_t)``,
      (B, d). Note the sum telescopes: this equals ``(z_{T-1} - z_0) / (T - 1)``, a
      linear function of the endpoints context.
    * ``"covariance"`` (section 8): ``z^T z / T`` (uncentred, as the seed wrote it),
      flattened, (B, d*d).

    Args:
        z: (B, T, d) or (T, d).
        context: one of ``ALL_CONTEXTS``.

    Returns:
        (B, k) or (k,) context, ``k = context_dim(context, d)``.
    """
    z3, unbatched = as_batched(z)
    context_dim(context, z3.shape[-1])  # validates the name
    if context == "mean":
        c = jnp.mean(z3, axis=1)
    elif context == "endpoints":
        c = jnp.concatenate([z3[:, 0], z3[:, -1]], axis=-1)
    elif context == "covariance":
        c = (jnp.einsum("bti,btj->bij", z3, z3, precision=_HI) / z3.shape[1]).reshape(z3.shape[0], -1)
    else:
        if z3.shape[1] < 2:
            raise ValueError(f"the velocity context needs T >= 2 time steps, got T = {z3.shape[1]}")
        c = jnp.mean(jnp.diff(z3, axis=1), axis=1)
    return c[0] if unbatched else c


def _apply(z, r: jax.Array) -> jax.Array:
    """``z R`` for z: (B, T, d) or (T, d) and r: (d, d) or (B, d, d) (per sample)."""
    z3, unbatched = as_batched(z)
    out = jnp.matmul(z3, r, precision=_HI)
    return out[0] if unbatched else out


class StaticCayleyRotation(nnx.Module):
    """One learnable global rotation ``R = cayley(W)`` (seed 001, section 5), ``z -> z R``.

    ``W: (d, d)`` is an ``nnx.Param`` (only its skew part matters); ``init_scale = 0``
    starts at ``R = I``.
    """

    def __init__(self, d: int, *, rngs: nnx.Rngs, init_scale: float = 0.0):
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"d must be a positive int, got {d!r}")
        self.d = d
        self.skew = nnx.Param(init_scale * jax.random.normal(rngs.params(), (d, d), jnp.float32))

    def rotation(self) -> jax.Array:
        """R: (d, d), orthogonal with det +1."""
        return cayley(self.skew[...])

    def __call__(self, z) -> jax.Array:
        """z: (B, T, d) or (T, d) -> z R, same shape."""
        z3, _ = as_batched(z)
        if z3.shape[-1] != self.d:
            raise ValueError(f"z has {z3.shape[-1]} latent dims, the rotation has d = {self.d}")
        return _apply(z, self.rotation())


class DynamicCayleyRotation(nnx.Module):
    """A rotation predicted per sample from the trajectory (seed 001, sections 7-10).

    ``c = rotation_context(z, context) -> Dense(hidden) -> ReLU -> Dense(d*d) = W``,
    ``R = cayley(W)`` per sample, ``z_aligned = z R``. With ``identity_init`` the last
    layer starts at zero, so ``R = I`` at initialisation (the zero-init lesson of seed
    001, section 13); otherwise it uses Flax's default initialisers.
    """

    def __init__(self, d: int, *, context: Context = "mean", hidden: int = 128, rngs: nnx.Rngs, identity_init: bool = True):
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"d must be a positive int, got {d!r}")
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive int, got {hidden!r}")
        self.d = d
        self.context = context
        self.hidden_layer = nnx.Linear(context_dim(context, d), hidden, rngs=rngs)
        extra = dict(kernel_init=nnx.initializers.zeros, bias_init=nnx.initializers.zeros) if identity_init else {}
        self.out = nnx.Linear(hidden, d * d, rngs=rngs, **extra)

    def rotation(self, z) -> jax.Array:
        """z: (B, T, d) or (T, d) -> R: (B, d, d) or (d, d), one rotation per sample."""
        z3, unbatched = as_batched(z)
        if z3.shape[-1] != self.d:
            raise ValueError(f"z has {z3.shape[-1]} latent dims, the rotation has d = {self.d}")
        c = rotation_context(z3, self.context)  # (B, k)
        w = self.out(jax.nn.relu(self.hidden_layer(c))).reshape(-1, self.d, self.d)
        r = cayley(w)
        return r[0] if unbatched else r

    def __call__(self, z) -> jax.Array:
        """z: (B, T, d) or (T, d) -> z R(z), same shape."""
        return _apply(z, self.rotation(z))
