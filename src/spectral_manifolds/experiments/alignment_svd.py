"""Chapter 6: why gradients through an SVD fail (seed 001_a78d46c299591382.txt, section 11).

* :func:`svd_gradient_table` -- gradients of the seed's SVD-based Procrustes loss
  (section 11, attempt 1) against the singular-value form, over the gap between two
  singular values;
* :func:`seed_case_gradients` -- the same on the seed's own rank-deficient case (a random
  unit latent against one zero-padded oracle trajectory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spectral_manifolds.data.oscillators import OscillatorData

__all__ = ["SvdGradientConfig", "gap_trajectories", "svd_gradient_table", "seed_case_gradients"]


# --------------------------------------------------------------------------- SVD gradients
@dataclass(frozen=True)
class SvdGradientConfig:
    """Gaps between the two largest singular values, and the size of the test trajectories."""

    gaps: tuple[float, ...] = (1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 0.0)
    seq_len: int = 32
    d: int = 6
    seed: int = 0

    def __post_init__(self):
        if self.d < 3:
            raise ValueError(f"d must be >= 3, got {self.d}")
        if self.seq_len < self.d:
            raise ValueError(f"seq_len ({self.seq_len}) must be >= d ({self.d})")
        if any(not math.isfinite(g) or g < 0 for g in self.gaps):
            raise ValueError(f"gaps must be finite and >= 0, got {self.gaps}")


def gap_trajectories(gap: float, config: SvdGradientConfig) -> tuple[np.ndarray, np.ndarray]:
    """Two (T, d) float32 trajectories whose ``a^T b`` has singular values ``(1 + gap, 1, ...)`` exactly.

    ``a`` holds ``diag(s)`` in its first d steps, ``b`` a random signed permutation, zeros
    after: float32 then represents the singular values, and a repeat at ``gap = 0``,
    exactly (a random rotation would blur the repeat by rounding).
    """
    d, t = config.d, config.seq_len
    rng = np.random.default_rng([config.seed, 11])
    s = np.concatenate([[1.0 + gap, 1.0], np.linspace(0.8, 0.2, d - 2)])
    perm = np.eye(d)[rng.permutation(d)] * rng.choice([-1.0, 1.0], size=d)[:, None]
    a = np.zeros((t, d), np.float32)
    b = np.zeros((t, d), np.float32)
    a[:d] = np.diag(s)
    b[:d] = perm
    return a, b


def svd_gradient_table(config: SvdGradientConfig = SvdGradientConfig()) -> list[dict]:
    """Gradient norms w.r.t. ``a`` over the gap between the two largest singular values of ``a^T b``.

    Columns of each row:

    * ``gap`` and ``s1 - s2`` as float32 computes it;
    * ``max_F`` -- the largest ``1 / |s_i^2 - s_j^2|`` (i != j), the factor JAX's SVD
      derivative multiplies by when it differentiates ``U`` and ``V``;
    * ``grad_uv`` -- the seed's ``svd_procrustes_loss`` (through ``U V^T``);
    * ``grad_sv`` -- the same loss from singular values only,
      ``procrustes_sq / (T d)``;
    * ``grad_u`` -- a quantity of ``U`` alone, ``(c_1 . u_1)(u_1 . c_2)`` (the top
      singular direction, sign-free), whose derivative truly grows like ``1 / gap``;
    * ``rel_diff`` -- ``|grad_uv - grad_sv| / |grad_sv|``.
    """
    import jax
    import jax.numpy as jnp

    from spectral_manifolds.alignment import procrustes_sq, svd_procrustes_loss

    rng = np.random.default_rng([config.seed, 12])
    c1, c2 = (jnp.asarray(rng.standard_normal(config.d), jnp.float32) for _ in range(2))

    hi = jax.lax.Precision.HIGHEST

    def sv_loss(a, b):
        return procrustes_sq(a, b) / a.size

    def top_direction(a, b):
        u = jnp.linalg.svd(jnp.matmul(a.T, b, precision=hi))[0][:, 0]
        return (c1 @ u) * (u @ c2)

    @jax.jit
    def all_grads(a, b):  # one compile for every gap (same shapes)
        s = jnp.linalg.svd(jnp.matmul(a.T, b, precision=hi), compute_uv=False)
        return s, jax.grad(svd_procrustes_loss)(a, b), jax.grad(sv_loss)(a, b), jax.grad(top_direction)(a, b)

    rows = []
    for gap in config.gaps:
        a, b = (jnp.asarray(x) for x in gap_trajectories(gap, config))
        s, g_uv, g_sv, g_u = all_grads(a, b)
        s = np.asarray(s, dtype=np.float64)
        diff = np.abs(s[:, None] ** 2 - s[None, :] ** 2)
        off = ~np.eye(len(s), dtype=bool)
        with np.errstate(divide="ignore"):
            max_f = float(np.max(1.0 / diff[off]))
        n_uv, n_sv = float(jnp.linalg.norm(g_uv)), float(jnp.linalg.norm(g_sv))
        rows.append(
            {
                "gap": float(gap),
                "s1_minus_s2": float(np.float32(s[0]) - np.float32(s[1])),
                "max_F": max_f,
                "grad_uv": n_uv,
                "grad_sv": n_sv,
                "grad_u": float(jnp.linalg.norm(g_u)),
                "rel_diff": float(jnp.linalg.norm(g_uv - g_sv) / n_sv),
            }
        )
    return rows


def seed_case_gradients(data: OscillatorData, sample: int = 0, seed: int = 0) -> dict:
    """The seed's own case: a random unit latent against one oracle trajectory (section 11).

    The oracle occupies 2K of its d coordinates, so ``z^T o`` (d x d) has at least
    ``d - 2K`` zero singular values: repeated singular values by construction.

    Returns:
        dict with the singular values, how many are (numerically) zero, and the gradient
        norms and finiteness of the SVD (U V^T) form and the singular-value form.
    """
    import jax
    import jax.numpy as jnp

    from spectral_manifolds.alignment import procrustes_sq, svd_procrustes_loss

    o = jnp.asarray(data.oracle[sample])
    rng = np.random.default_rng([seed, 13])
    z = rng.standard_normal(o.shape)
    z = jnp.asarray(z / np.linalg.norm(z, axis=-1, keepdims=True), jnp.float32)
    s = np.asarray(jnp.linalg.svd(jnp.matmul(z.T, o, precision=jax.lax.Precision.HIGHEST), compute_uv=False))
    g_uv = jax.grad(svd_procrustes_loss)(z, o)
    g_sv = jax.grad(lambda z: procrustes_sq(z, o) / z.size)(z)
    return {
        "singular_values": s.tolist(),
        "n_zero": int(np.sum(s < 1e-5 * s.max())),
        "loss_uv": float(svd_procrustes_loss(z, o)),
        "loss_sv": float(procrustes_sq(z, o) / z.size),
        "grad_uv_norm": float(jnp.linalg.norm(g_uv)),
        "grad_sv_norm": float(jnp.linalg.norm(g_sv)),
        "grad_uv_finite": bool(jnp.all(jnp.isfinite(g_uv))),
        "grad_sv_finite": bool(jnp.all(jnp.isfinite(g_sv))),
    }
