"""The ladder's loss terms and tracked metrics (seed 001, sections 7-14; seed 002, section 1.2).

* :func:`fidelity_loss` -- the seeds' fractional fidelity ("spectral") loss with a phase
  weight (``losses.seed_fidelity_loss`` at weight 1), from :func:`fidelity_parts`;
* :func:`latent_entropy` -- the seeds' latent spectral entropy, power- or magnitude-based;
* :func:`decorrelation_loss` -- experiment 8's off-diagonal covariance penalty;
* :func:`terms` -- every term of one batch and the weighted objective;
* :func:`metrics` -- the vector of :data:`METRICS`, oracle distances included.
"""

from __future__ import annotations

import jax.numpy as jnp

from spectral_manifolds import losses
from spectral_manifolds.alignment import oracle_distances
from spectral_manifolds.experiments.ladder.config import _WEIGHTS, METRICS
from spectral_manifolds.rotations import as_batched, orthogonality_penalty

__all__ = ["fidelity_parts", "fidelity_loss", "latent_entropy", "decorrelation_loss", "terms", "metrics"]


def decorrelation_loss(z):
    """Seed 001, section 8: ``sum_{i != j} Cov(z)_ij^2``, the covariance over time of each sample.

    Args:
        z: (B, T, d) or (T, d).
    Returns:
        Scalar, the mean over the batch; 0 when the latent coordinates are uncorrelated.
    """
    z, _ = as_batched(z)
    zc = z - jnp.mean(z, axis=-2, keepdims=True)
    cov = jnp.einsum("bti,btj->bij", zc, zc) / z.shape[-2]
    off = cov * (1.0 - jnp.eye(z.shape[-1], dtype=z.dtype))
    return jnp.mean(jnp.sum(off * off, axis=(-2, -1)))


def fidelity_parts(pred, target):
    """The two parts of the seeds' fractional fidelity loss, each averaged over the gammas.

    :func:`spectral_manifolds.losses.fractional_fidelity_terms` with the seeds' settings
    (naive reversed kernel of 128 taps, unweighted phase, ``eps = 1e-8``).

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
    Returns:
        (magnitude, phase): scalars; ``magnitude + phase`` is
        :func:`spectral_manifolds.losses.seed_fidelity_loss`.
    """
    parts = losses.fractional_fidelity_terms(
        pred, target, gammas=losses.SEED_GAMMAS, kernel_size=losses.SEED_KERNEL_SIZE, kernel="seed",
        weighting="uniform", mag_floor=0.0, eps=losses.SEED_EPS,
    )
    return jnp.mean(parts["magnitude"]), jnp.mean(parts["phase"])


def fidelity_loss(pred, target, phase_weight=1.0):
    """The seeds' fractional fidelity loss with a phase weight (seed 001, sections 7-14):
    ``magnitude + phase_weight * phase`` of :func:`fidelity_parts`; at ``phase_weight = 1``
    it is :func:`spectral_manifolds.losses.seed_fidelity_loss`. ``phase_weight`` may be a
    traced scalar.

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
    Returns:
        scalar.
    """
    magnitude, phase = fidelity_parts(pred, target)
    return magnitude + phase_weight * phase


def latent_entropy(z, kind: str = "power"):
    """The seeds' latent spectral entropy (not normalized, ``eps = 1e-8``), power- or magnitude-based.

    Args:
        z: (B, T, d) latent trajectory.
    Returns:
        scalar (nats, at most ``log(T // 2 + 1)``).
    """
    return losses.spectral_entropy(z, kind=kind, normalize=False, eps=losses.SEED_EPS)


def terms(out, weights, y_next, y_recon, oracle) -> dict:
    """Every loss term of one batch (scalars) for ``out``, a ``LadderOutput``; ``weights``
    as :meth:`Config.weights` ((8,) array, may be traced). Returns name -> scalar,
    ``"objective"`` the weighted sum that is optimized."""
    w = dict(zip(_WEIGHTS, weights))
    t = {}
    t["pred_mse"] = jnp.mean((out.pred - y_next) ** 2)
    t["recon_mse"] = jnp.mean((out.recon - y_recon) ** 2)
    t["mse"] = t["pred_mse"] + t["recon_mse"]
    t["fidelity_magnitude"], t["fidelity_phase"] = fidelity_parts(out.pred, y_next)
    t["fidelity"] = t["fidelity_magnitude"] + w["phase"] * t["fidelity_phase"]
    power, magnitude = latent_entropy(out.z_next, "power"), latent_entropy(out.z_next, "magnitude")
    t["entropy"] = power + w["magnitude_entropy"] * (magnitude - power)
    t["decorrelation"] = decorrelation_loss(out.z)
    t["oracle_mse"] = jnp.mean((out.z - oracle) ** 2)  # seed 001, section 11: direct supervision
    t["ortho"] = orthogonality_penalty(out.rotation)
    t["objective"] = (
        w["mse"] * t["pred_mse"]
        + w["fidelity"] * t["fidelity"]
        + w["entropy"] * t["entropy"]
        + w["decorrelation"] * t["decorrelation"]
        + w["oracle"] * t["oracle_mse"]
        + w["ortho"] * t["ortho"]
    )
    return t


def metrics(out, t: dict, oracle):
    """(len(METRICS),) vector of the tracked metrics: ``t`` from :func:`terms`, plus the oracle
    distance of the latent ``z``, of the mean ``mu`` and centred (``oracle: (B, T, d)``)."""
    t = dict(t)
    def centre(x):
        return x - jnp.mean(x, axis=-2, keepdims=True)

    # One SVD for the three distances: two LAPACK calls at once can hang a 2-core CPU
    # (see spectral_manifolds.alignment).
    t["oracle"], t["oracle_mu"], t["oracle_centred"] = oracle_distances(
        [out.z, out.mu, centre(out.z)], [oracle, oracle, centre(oracle)]
    )
    return jnp.stack([t[name] for name in METRICS])
