"""Rotations and the oracle distance (seed 001_a78d46c299591382.txt, sections 5-11).

Two halves, one concept: how a latent trajectory is compared with, or turned towards, a
reference frame.

**Measuring.** The seeds score a latent trajectory ``z: (T, d)`` against the oracle
trajectory ``o: (T, d)`` of their synthetic task by the orthogonal Procrustes distance
(Schönemann, 1966): the misfit left after the best orthogonal map,

    d^2(z, o) = min_{R^T R = I} |z R - o|_F^2 = |z|_F^2 + |o|_F^2 - 2 |z^T o|_*,

where ``|.|_*`` is the nuclear norm (sum of singular values). The minimiser is
``R = U V^T`` from ``z^T o = U S V^T``; reflections (``det R = -1``) are allowed, as in
``scipy.linalg.orthogonal_procrustes``. This module computes the distance from the
singular values only (DESIGN.md, "Known traps"): autodiff through ``U`` and ``V``
divides by ``s_i^2 - s_j^2`` and returns NaN at repeated singular values (seed 001,
section 11, attempt 1), while the gradient of ``sum(s)`` stays finite.
:func:`oracle_distance` is the seeds' metric exactly as DESIGN.md, "Oracle distance",
records it: per sample the RMSE over all ``T x d`` entries after the best orthogonal map,
not centred, not scaled, averaged over samples. Seed 001, section 10 "removed centering";
``centred=True`` gives the older, centred variant. :func:`gram_loss` is section 11's
option B, ``|z z^T - o o^T|_F^2``, rotation-invariant without any SVD.

**Turning.** The seeds' learnable rotations are Cayley transforms of a skew matrix,
``R = (I - A)(I + A)^{-1}`` with ``A = W - W^T`` (section 7): always orthogonal with
``det R = +1`` (a Cayley rotation can never reflect). :class:`StaticCayleyRotation`
learns one ``W`` (section 5, "Learnable Global Rotation"); :class:`DynamicCayleyRotation`
predicts ``W`` from a context of the trajectory, ``c -> Dense(128) -> ReLU -> W``, with
the three contexts the seed tried: the temporal mean (section 7), the velocity
(sections 8-9) and the trajectory endpoints (section 10), and section 8's uncentred
covariance ``z^T z / T`` (``"covariance"``, in :data:`ALL_CONTEXTS`). :func:`orthogonality_penalty`
is the seed's regularizer ``|R^T R - I|_F^2`` (section 11 and "What to Keep").
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
    "nuclear_norm",
    "procrustes_sq",
    "procrustes_distance",
    "procrustes_rotation",
    "oracle_distance",
    "oracle_distances",
    "svd_procrustes_loss",
    "gram_loss",
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


def _pair(a, b) -> tuple[jax.Array, jax.Array, bool]:
    """Both trajectories as (B, T, d) with equal shapes; ``unbatched`` if both were (T, d)."""
    a3, ua = as_batched(a, "a")
    b3, ub = as_batched(b, "b")
    if ua != ub or a3.shape != b3.shape:
        raise ValueError(f"the two trajectories must have the same shape, (B, T, d) or (T, d); got {tuple(jnp.shape(a))} and {tuple(jnp.shape(b))}")
    return a3, b3, ua


def _centre(x: jax.Array) -> jax.Array:
    """Subtract the temporal mean: x: (B, T, d) -> (B, T, d)."""
    return x - jnp.mean(x, axis=-2, keepdims=True)


def _safe_sqrt(x: jax.Array) -> jax.Array:
    """sqrt(max(x, 0)) with a zero (not infinite) gradient at x <= 0 (the double-where trick)."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


# --------------------------------------------------------------------------- measuring
# One batched LAPACK call at a time. jaxlib's CPU LAPACK kernels split a large batch over
# the intra-op thread pool and block the calling pool thread until the pieces finish
# (jaxlib 0.10.2, ``ParallelBatchMap``). When XLA runs two such calls concurrently on a
# pool of two threads (a 2-core CI machine), both threads wait for work that no thread is
# left to run: the process hangs forever in ``block_until_ready``. Seen in CI on the
# ladder's three oracle distances (three independent SVDs in one program); the flag
# ``--xla_cpu_multi_thread_eigen=false`` does not prevent it. So several distances go
# through one SVD (:func:`oracle_distances`), and ``slogdet`` is ordered after the SVD.
def _after(first: jax.Array, x: jax.Array) -> jax.Array:
    """``x``, but available only once ``first`` is computed (an ``optimization_barrier``
    ties them), so a LAPACK call on ``x`` cannot run concurrently with the one making ``first``."""
    return jax.lax.optimization_barrier((first, x))[1]


def nuclear_norm(m) -> jax.Array:
    """Sum of singular values, from the singular values only (finite gradients).

    Args:
        m: (..., p, q) matrices.

    Returns:
        (...) nuclear norms ``|m|_*``.
    """
    return jnp.sum(jnp.linalg.svd(jnp.asarray(m), compute_uv=False), axis=-1)


def procrustes_sq(a, b, *, centred: bool = False, reflections: bool = True) -> jax.Array:
    """Squared orthogonal Procrustes distance, ``min_R |a R - b|_F^2``.

    Computed as ``|a|^2 + |b|^2 - 2 |a^T b|_*`` from singular values only, clamped at 0
    (float32 rounding can make it slightly negative when the distance is 0).

    Args:
        a, b: (B, T, d) or (T, d) trajectories of equal shape.
        centred: subtract each trajectory's temporal mean first (the variant seed 001,
            section 10 removed).
        reflections: minimise over all of O(d), as ``scipy.linalg.orthogonal_procrustes``
            and the seeds' metric do (default). ``False`` restricts ``R`` to rotations,
            ``det R = +1`` (what a Cayley rotation can reach): when ``det(a^T b) < 0`` the
            smallest singular value enters with a minus sign (Kabsch's correction).

    Returns:
        (B,) per-sample squared distances, or a scalar for (T, d) input.
    """
    a3, b3, unbatched = _pair(a, b)
    if centred:
        a3, b3 = _centre(a3), _centre(b3)
    m = jnp.einsum("bti,btj->bij", a3, b3, precision=_HI)  # (B, d, d)
    s = jnp.linalg.svd(m, compute_uv=False)  # (B, d), descending
    overlap = jnp.sum(s, axis=-1)
    if not reflections:
        sign, _ = jnp.linalg.slogdet(jax.lax.stop_gradient(_after(s, m)))
        overlap = overlap - 2.0 * jnp.where(sign < 0, s[..., -1], 0.0)
    sq = jnp.sum(a3 * a3, axis=(-2, -1)) + jnp.sum(b3 * b3, axis=(-2, -1)) - 2.0 * overlap
    sq = jnp.maximum(sq, 0.0)
    return sq[0] if unbatched else sq


def procrustes_distance(a, b, *, centred: bool = False, reflections: bool = True) -> jax.Array:
    """Orthogonal Procrustes distance ``min_R |a R - b|_F`` (Frobenius, not normalised).

    Args:
        a, b: (B, T, d) or (T, d) trajectories of equal shape.
        centred: subtract temporal means first.
        reflections: allow ``det R = -1``; see :func:`procrustes_sq`.

    Returns:
        (B,) distances, or a scalar for (T, d) input; the gradient is finite at 0.
    """
    return _safe_sqrt(procrustes_sq(a, b, centred=centred, reflections=reflections))


def procrustes_rotation(a, b, *, centred: bool = False) -> jax.Array:
    """The optimal orthogonal map ``R = U V^T`` of ``a^T b = U S V^T`` (for display, not for gradients).

    Agrees with ``scipy.linalg.orthogonal_procrustes(a, b)[0]`` whenever the singular
    values are distinct and nonzero (otherwise the minimiser is not unique).

    Args:
        a, b: (B, T, d) or (T, d) trajectories of equal shape.

    Returns:
        (B, d, d) or (d, d) orthogonal matrices, possibly with ``det = -1``.
    """
    a3, b3, unbatched = _pair(a, b)
    if centred:
        a3, b3 = _centre(a3), _centre(b3)
    u, _, vt = jnp.linalg.svd(jnp.einsum("bti,btj->bij", a3, b3, precision=_HI), full_matrices=False)
    r = jnp.matmul(u, vt, precision=_HI)
    return r[0] if unbatched else r


def oracle_distance(z, oracle, *, centred: bool = False, reflections: bool = True) -> jax.Array:
    """The seeds' oracle distance (DESIGN.md, "The seeds' experimental setup").

    Per sample, the RMSE over all ``T x d`` entries after the best orthogonal map
    (reflections allowed), not scaled, ``sqrt(procrustes_sq(z, o) / (T d))``; averaged
    over samples. Not centred by default (seed 001, section 10).

    For unit-norm rows, ``|z|^2 = |o|^2 = T`` and the distance lies in
    ``[0, sqrt(2/d)]``: 0 for a rotated (or reflected) oracle, ``sqrt(2/d)`` when
    ``z^T o = 0``.

    Args:
        z: (B, T, d) or (T, d) latent trajectory.
        oracle: same shape, the oracle trajectory.
        centred: subtract temporal means first.
        reflections: allow ``det R = -1`` (the seeds' metric); see :func:`procrustes_sq`.

    Returns:
        Scalar: the mean over samples.
    """
    a3, b3, _ = _pair(z, oracle)
    _, t, d = a3.shape
    per_sample = _safe_sqrt(procrustes_sq(a3, b3, centred=centred, reflections=reflections) / (t * d))
    return jnp.mean(per_sample)


def oracle_distances(zs, oracles) -> jax.Array:
    """Several :func:`oracle_distance` values from one batched SVD.

    Args:
        zs, oracles: equal-length sequences of trajectories; pair ``k`` is ``zs[k]`` against
            ``oracles[k]``, all of one shape, (B, T, d) or (T, d) (centre a pair yourself
            for the centred variant).

    Returns:
        (K,) distances, ``[oracle_distance(zs[k], oracles[k]) for k]``, computed with one
        SVD so that no two LAPACK calls run at once (see ``_after``).
    """
    if len(zs) != len(oracles) or not zs:
        raise ValueError(f"zs and oracles must be non-empty and of equal length, got {len(zs)} and {len(oracles)}")
    pairs = [_pair(z, o)[:2] for z, o in zip(zs, oracles)]
    if len({a.shape for a, _ in pairs}) != 1:
        raise ValueError(f"every pair must have the same shape, got {[tuple(a.shape) for a, _ in pairs]}")
    k, (b, t, d) = len(pairs), pairs[0][0].shape
    a3 = jnp.concatenate([a for a, _ in pairs])  # (K B, T, d)
    b3 = jnp.concatenate([o for _, o in pairs])
    per_sample = _safe_sqrt(procrustes_sq(a3, b3) / (t * d)).reshape(k, b)
    return jnp.mean(per_sample, axis=-1)


def svd_procrustes_loss(z_pred, z_target) -> jax.Array:
    """Seed 001, section 11, attempt 1, verbatim: align with ``R = U V^T``, then the MSE.

    Equal in value to ``mean(procrustes_sq) / (T d)``, but its gradient flows through
    ``U`` and ``V`` of the SVD and is NaN when ``z_pred^T z_target`` has repeated singular
    values (e.g. a rank-deficient oracle). Kept to demonstrate that failure.

    Args:
        z_pred, z_target: (B, T, d) or (T, d), equal shapes.

    Returns:
        Scalar mean squared error after alignment.
    """
    a3, b3, _ = _pair(z_pred, z_target)
    m = jnp.matmul(jnp.transpose(a3, (0, 2, 1)), b3, precision=_HI)
    u, _, vt = jnp.linalg.svd(m)
    r = jnp.matmul(u, vt, precision=_HI)
    return jnp.mean((jnp.matmul(a3, r, precision=_HI) - b3) ** 2)


def gram_loss(z, oracle) -> jax.Array:
    """Seed 001, section 11, option B: ``|z z^T - o o^T|_F^2``, divided by ``T^2``, mean over samples.

    Invariant to any orthogonal map of either trajectory (no SVD). Computed through
    ``d x d`` matrices, ``|z^T z|^2 + |o^T o|^2 - 2 |z^T o|^2`` (Frobenius), instead of
    the ``T x T`` Gram matrices; the two are equal.

    Args:
        z, oracle: (B, T, d) or (T, d), equal shapes.

    Returns:
        Scalar: mean over samples of ``|z z^T - o o^T|_F^2 / T^2`` (the mean squared
        entry of the Gram difference).
    """
    a3, b3, _ = _pair(z, oracle)
    t = a3.shape[1]
    aa = jnp.einsum("bti,btj->bij", a3, a3, precision=_HI)
    bb = jnp.einsum("bti,btj->bij", b3, b3, precision=_HI)
    ab = jnp.einsum("bti,btj->bij", a3, b3, precision=_HI)
    sq = jnp.sum(aa * aa, axis=(-2, -1)) + jnp.sum(bb * bb, axis=(-2, -1)) - 2.0 * jnp.sum(ab * ab, axis=(-2, -1))
    return jnp.mean(jnp.maximum(sq, 0.0)) / t**2


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
