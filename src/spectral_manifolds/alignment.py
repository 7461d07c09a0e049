"""The oracle distance and the alignment losses (seed 001_a78d46c299591382.txt, sections 10-11).

How a latent trajectory is compared with a reference frame; turning it towards one (the
Cayley rotations of sections 5-11) is :mod:`spectral_manifolds.rotations`, whose public
names this module re-exports (``alignment.cayley``, ``alignment.DynamicCayleyRotation``, ...).

The seeds score a latent trajectory ``z: (T, d)`` against the oracle
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
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Re-exported: these names lived here before rotations.py (the book uses alignment.cayley, ...).
from spectral_manifolds.rotations import (
    ALL_CONTEXTS,
    CONTEXTS,
    Context,
    DynamicCayleyRotation,
    StaticCayleyRotation,
    as_batched,
    cayley,
    context_dim,
    orthogonality_penalty,
    rotation_context,
)

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

# Full float32 products: on GPUs JAX may otherwise use TF32 (about 3 decimal digits) for
# float32 matmuls, which would blur distances of 0 into about 0.01.
_HI = jax.lax.Precision.HIGHEST


# --------------------------------------------------------------------------- shapes
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
