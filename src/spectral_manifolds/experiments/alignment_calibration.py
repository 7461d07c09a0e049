"""Chapter 6's calibration of the oracle distance, and the helpers that build test rotations.

Seed 001_a78d46c299591382.txt, sections 7-14, reports oracle distances near 0.25 but no
scale. :func:`calibrate` measures reference latents on the seeds' task
(:func:`spectral_manifolds.data.oscillators.seed_task`) against the scale DESIGN.md,
"The seeds' experimental setup", records from the seeds' code (a random unit latent 0.285,
a constant latent 0.309, one of the three oscillators exact 0.201, a rotated oracle 0),
uncentred and centred, with the Gram loss beside them. :func:`random_orthogonal` and
:func:`plane_rotation` make the known rotations of chapter 6's fits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds.data.oscillators import OscillatorData, SeedTaskConfig, seed_task

__all__ = ["SEED_CALIBRATION", "random_orthogonal", "plane_rotation", "one_oscillator", "CalibrationConfig",
           "CalibrationResult", "calibration_latents", "calibrate"]

# The oracle-distance scale recorded in DESIGN.md ("Oracle distance", from the seeds' code).
SEED_CALIBRATION: dict[str, float] = {
    "rotated oracle": 0.0,
    "one oscillator exact": 0.201,
    "random unit latent": 0.285,
    "constant latent": 0.309,
}


# --------------------------------------------------------------------------- helpers
def random_orthogonal(d: int, rng: np.random.Generator, *, det: int = 1) -> np.ndarray:
    """A Haar-random orthogonal ``(d, d)`` float64 matrix with determinant ``det`` (+1 or -1)."""
    if det not in (1, -1):
        raise ValueError(f"det must be +1 or -1, got {det}")
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))  # Haar measure on O(d)
    if np.linalg.det(q) * det < 0:
        q[:, 0] = -q[:, 0]
    return q


def plane_rotation(d: int, u: np.ndarray, v: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotations by ``theta`` in the plane of orthonormal ``u, v``: ``(..., d, d)`` float64.

    ``Q = I + (cos theta - 1)(u u^T + v v^T) + sin theta (u v^T - v u^T)`` (row-vector
    convention: ``x Q`` turns ``u`` towards ``v``).
    """
    theta = np.asarray(theta, dtype=np.float64)[..., None, None]
    uu, vv = np.outer(u, u), np.outer(v, v)
    uv = np.outer(u, v) - np.outer(v, u)
    return np.eye(d) + (np.cos(theta) - 1.0) * (uu + vv) + np.sin(theta) * uv


def one_oscillator(data: OscillatorData, k: int = 0) -> np.ndarray:
    """The oracle with only oscillator ``k``'s (sin, cos) pair kept, renormalised to unit rows.

    The oracle's layout is ``[sin f_1..K t, cos f_1..K t, 0...]`` (``seed_task``), so the
    pair of oscillator ``k`` is columns ``k`` and ``K + k``; each row of the result is
    ``[.., sin f_k t, .., cos f_k t, ..]`` with unit norm.

    Returns:
        (N, T, d) float32.
    """
    n_osc = data.freqs.shape[1]
    if not 0 <= k < n_osc:
        raise ValueError(f"k must be in [0, {n_osc}), got {k}")
    out = np.zeros_like(data.oracle)
    cols = [k, n_osc + k]
    out[..., cols] = data.oracle[..., cols]
    return (out / np.linalg.norm(out, axis=-1, keepdims=True)).astype(np.float32)


# --------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class CalibrationConfig:
    """The task to calibrate on (the seeds' task by default: 640 samples, T = 255, d = 21)."""

    task: SeedTaskConfig = SeedTaskConfig()
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.task, SeedTaskConfig):
            raise TypeError(f"task must be a SeedTaskConfig, got {type(self.task).__name__}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")


@dataclass
class CalibrationResult:
    """Oracle distance of reference latents; ``rows`` holds one dict per case."""

    n_samples: int
    seq_len: int
    latent_dim: int
    rows: list[dict] = field(default_factory=list)

    def row(self, case: str) -> dict:
        """The row of one case (e.g. 'random unit latent')."""
        for r in self.rows:
            if r["case"] == case:
                return r
        raise KeyError(case)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def calibration_latents(data: OscillatorData, seed: int = 0) -> dict[str, np.ndarray]:
    """Reference latents for every sample of ``data``, each (N, T, d) float32 with unit rows.

    * ``oracle`` -- the oracle itself;
    * ``rotated oracle`` -- ``o Q`` with one Haar-random ``Q`` in SO(d) per sample;
    * ``reflected oracle`` -- the same with ``det Q = -1``;
    * ``one oscillator exact`` -- :func:`one_oscillator` with ``k = 0`` (the amplitude-1
      oscillator);
    * ``random unit latent`` -- i.i.d. standard normal steps, normalised per step;
    * ``constant latent`` -- one random unit vector per sample, repeated over time.
    """
    rng = np.random.default_rng([seed, 6])
    o = data.oracle.astype(np.float64)
    n, t, d = o.shape
    rot = np.stack([random_orthogonal(d, rng) for _ in range(n)])
    ref = np.stack([random_orthogonal(d, rng, det=-1) for _ in range(n)])
    noise = rng.standard_normal(o.shape)
    const = np.broadcast_to(rng.standard_normal((n, 1, d)), o.shape)
    unit = lambda x: (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)  # noqa: E731
    return {
        "oracle": data.oracle,
        "rotated oracle": unit(o @ rot),
        "reflected oracle": unit(o @ ref),
        "one oscillator exact": one_oscillator(data, 0),
        "random unit latent": unit(noise),
        "constant latent": unit(const),
    }


def calibrate(config: CalibrationConfig = CalibrationConfig()) -> CalibrationResult:
    """Oracle distance (uncentred and centred) and Gram loss of each reference latent."""
    from spectral_manifolds.alignment import gram_loss, oracle_distance

    data = seed_task(config.task)
    n, t, d = data.oracle.shape
    result = CalibrationResult(n_samples=n, seq_len=t, latent_dim=d)
    for case, z in calibration_latents(data, config.seed).items():
        result.rows.append(
            {
                "case": case,
                "uncentred": float(oracle_distance(z, data.oracle)),
                "centred": float(oracle_distance(z, data.oracle, centred=True)),
                "gram": float(gram_loss(z, data.oracle)),
                "seed_value": SEED_CALIBRATION.get(case),
            }
        )
    return result
