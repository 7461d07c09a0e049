"""Chapter 6: learnable Cayley rotations trained to undo known rotations of the oracle.

Seed 001_a78d46c299591382.txt, sections 5-11: a static rotation (sections 5 and 11,
option A) and a dynamic one with each of the seed's three contexts (sections 7-10),
trained by the frame-dependent MSE of section 11's attempt 2. :func:`run` fits them;
``RotationFitConfig.phases`` chooses the seeds' oracles (every sample starts at phase 0
and spans whole cycles) or per-sample random phases over a window of partial cycles.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime
from spectral_manifolds.data.oscillators import SeedTaskConfig, seed_task
from spectral_manifolds.experiments.alignment_calibration import plane_rotation, random_orthogonal

__all__ = ["RotationFitConfig", "FitRun", "RotationFitResult", "phased_oracle", "fit_data", "run", "run_seeds"]


# --------------------------------------------------------------------------- rotation fits
@dataclass(frozen=True)
class RotationFitConfig:
    """Sizes of the Cayley-rotation fits.

    ``n_train`` and ``n_test`` samples of the seeds' task (each a multiple of 64, the
    task's generation batch); Adam with ``lr`` for ``steps`` steps of ``batch`` samples;
    the dynamic rotation's hidden width ``hidden`` (128 in seed 001, section 7); the
    per-sample angles of the dynamic task uniform in ``[-max_angle, max_angle]``.

    ``phases``: ``"zero"`` fits the seeds' oracles as they are: every sample starts at
    phase 0 (``o_0 = [0, 0, 0, 1, 1, 1, 0, ...] / sqrt 3``) and spans whole cycles of
    every oscillator, so the temporal mean is exactly zero and the first step is the same
    for every sample -- the mean context carries nothing and the endpoints show the
    rotation directly, *by construction*. ``"random"`` gives each oscillator of each
    sample a phase ``U(0, 2 pi)`` and keeps the first ``window`` steps (partial cycles),
    so neither the mean nor the first step is fixed.
    """

    n_train: int = 128
    n_test: int = 64
    batch: int = 16
    steps: int = 150
    lr: float = 2e-2
    hidden: int = 128
    max_angle: float = math.pi / 2
    phases: str = "zero"
    window: int = 200
    seed: int = 0

    def __post_init__(self):
        if self.phases not in ("zero", "random"):
            raise ValueError(f"phases must be 'zero' or 'random', got {self.phases!r}")
        for name in ("n_train", "n_test", "batch", "steps", "hidden", "window"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name in ("n_train", "n_test"):
            if getattr(self, name) % 64:
                raise ValueError(f"{name} must be a multiple of 64 (the seeds' generation batch), got {getattr(self, name)}")
        if self.batch > self.n_train:
            raise ValueError(f"batch ({self.batch}) cannot exceed n_train ({self.n_train})")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not (0 < self.max_angle <= math.pi):
            raise ValueError(f"max_angle must be in (0, pi], got {self.max_angle}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")


@dataclass
class FitRun:
    """One trained rotation: its training history and held-out measurements.

    ``frame_rmse`` is ``sqrt(mean((z R - o)^2))`` on the test samples (the
    frame-dependent misfit the rotation can remove), ``frame_rmse_before`` the same with
    ``R = I``; ``best_rmse`` the smallest frame RMSE any rotation of the model's kind
    reaches (``det R = +1``: one shared rotation for a static model, one per sample for a
    dynamic one), from :func:`~spectral_manifolds.alignment.procrustes_sq` with
    ``reflections=False``; ``oracle_distance`` is :func:`~spectral_manifolds.alignment.oracle_distance`
    of ``z R`` (rotation-invariant, so it cannot move); ``orthogonality`` is the mean
    ``|R^T R - I|_F^2`` and ``min_det`` the smallest ``det R`` over the test samples.
    """

    name: str
    losses: list[float] = field(default_factory=list)
    frame_rmse_before: float = float("nan")
    frame_rmse: float = float("nan")
    best_rmse: float = float("nan")
    latent_dim: int = 0
    oracle_distance_before: float = float("nan")
    oracle_distance: float = float("nan")
    orthogonality: float = float("nan")
    min_det: float = float("nan")
    max_det: float = float("nan")
    n_params: int = 0
    compile_seconds: float = 0.0
    steps_per_second: float = float("nan")


@dataclass
class RotationFitResult:
    """All runs of :func:`run`, keyed by name ('static: rotation', 'dynamic: mean', ...)."""

    config: dict
    runs: dict[str, FitRun] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _train(model, z_tr, o_tr, z_te, o_te, cfg: RotationFitConfig, name: str, batch_idx: np.ndarray, cache: dict | None = None) -> FitRun:
    """Adam on ``mean((model(z) - o)^2)``; functional NNX step compiled once with a notice
    (reused from ``cache`` for another seed of the same model and shapes)."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from spectral_manifolds.alignment import oracle_distance, procrustes_sq
    from spectral_manifolds.rotations import orthogonality_penalty

    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(cfg.lr)
    opt_state = tx.init(params)
    z_tr, o_tr = jnp.asarray(z_tr), jnp.asarray(o_tr)

    def loss_fn(p, zb, ob):
        return jnp.mean((nnx.merge(graphdef, p)(zb) - ob) ** 2)

    @jax.jit
    def step(p, state, z_all, o_all, idx):
        loss, grads = jax.value_and_grad(loss_fn)(p, z_all[idx], o_all[idx])
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    idx = jnp.asarray(batch_idx)
    cache = {} if cache is None else cache
    if name not in cache:
        cache[name] = runtime.compile_with_notice(step, params, opt_state, z_tr, o_tr, idx[0], name=f"{name} step")
        compile_seconds = cache[name].compile_seconds
    else:
        compile_seconds = 0.0
    compiled = cache[name]
    losses = []
    with runtime.Timer() as timer:
        for i in runtime.progress(range(cfg.steps), desc=name, leave=False):
            params, opt_state, loss = compiled(params, opt_state, z_tr, o_tr, idx[i])
            losses.append(loss)
        runtime.block(params)
    trained = nnx.merge(graphdef, params)
    z_te, o_te = jnp.asarray(z_te), jnp.asarray(o_te)
    aligned = trained(z_te)
    rot = trained.rotation(z_te) if hasattr(trained, "hidden_layer") else trained.rotation()
    dets = np.atleast_1d(np.asarray(jnp.linalg.det(rot)))
    n, t, d = z_te.shape
    if hasattr(trained, "hidden_layer"):  # dynamic: one rotation per sample
        best_sq = jnp.mean(procrustes_sq(z_te, o_te, reflections=False)) / (t * d)
    else:  # static: one rotation for all samples
        best_sq = procrustes_sq(z_te.reshape(n * t, d), o_te.reshape(n * t, d), reflections=False) / (n * t * d)
    return FitRun(
        name=name,
        losses=[float(v) for v in jnp.stack(losses)],
        frame_rmse_before=float(jnp.sqrt(jnp.mean((z_te - o_te) ** 2))),
        frame_rmse=float(jnp.sqrt(jnp.mean((aligned - o_te) ** 2))),
        best_rmse=float(jnp.sqrt(best_sq)),
        latent_dim=int(d),
        oracle_distance_before=float(oracle_distance(z_te, o_te)),
        oracle_distance=float(oracle_distance(aligned, o_te)),
        orthogonality=float(orthogonality_penalty(rot)),
        min_det=float(dets.min()),
        max_det=float(dets.max()),
        n_params=int(sum(x.size for x in jax.tree.leaves(params))),
        compile_seconds=compile_seconds,
        steps_per_second=cfg.steps / timer.seconds,
    )


def phased_oracle(freqs: np.ndarray, t: np.ndarray, d: int, rng: np.random.Generator, window: int) -> np.ndarray:
    """The seeds' oracle with a random phase per oscillator and sample, first ``window`` steps.

    ``o_t = [sin(f_k t + phi_k), cos(f_k t + phi_k)]_k / sqrt(K)``, zero-padded to ``d``;
    ``phi ~ U(0, 2 pi)``.

    Args:
        freqs: (N, K) frequencies; t: (T,) the task's time grid (the first ``window`` of
            its steps are used).
    Returns:
        (N, window, d) float64 with unit rows.
    """
    n, k = freqs.shape
    if not 0 < window <= len(t) - 1:
        raise ValueError(f"window must be in [1, {len(t) - 1}], got {window}")
    phi = rng.uniform(0, 2 * np.pi, size=(n, 1, k))
    ang = freqs[:, None, :].astype(np.float64) * t[None, :window, None] + phi
    o = np.zeros((n, window, d))
    o[..., :k], o[..., k:2 * k] = np.sin(ang), np.cos(ang)
    return o / np.sqrt(k)


def fit_data(cfg: RotationFitConfig) -> dict[str, np.ndarray]:
    """The oracle trajectories and their rotated copies used by :func:`run`.

    Returns a dict of float32 arrays: ``o_train (n_train, T, d)``, ``o_test``; for the
    static fits ``z_rot_*`` (one Haar-random ``Q`` in SO(d) shared by all samples) and
    ``z_ref_*`` (one ``Q`` with ``det = -1``), ``o6_*`` and ``z_ref6_*`` (the oracle
    without its zero padding, d = 2K = 6, reflected by one ``Q`` with ``det = -1``); for the dynamic fits ``z_dyn_*`` (per-sample
    rotation by ``theta_i ~ U(-max_angle, max_angle)`` in one fixed random plane) and the
    angles ``theta_*``.
    """
    data = seed_task(SeedTaskConfig(n_samples=cfg.n_train + cfg.n_test, seed=cfg.seed))
    o = data.oracle.astype(np.float64)
    d = o.shape[-1]
    if cfg.phases == "random":
        o = phased_oracle(data.freqs, data.t, d, np.random.default_rng([cfg.seed, 16]), cfg.window)
    rng = np.random.default_rng([cfg.seed, 14])
    q_rot = random_orthogonal(d, rng)
    q_ref = random_orthogonal(d, rng, det=-1)
    d6 = 2 * data.freqs.shape[1]
    q_ref6 = random_orthogonal(d6, rng, det=-1)
    uv, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    theta = rng.uniform(-cfg.max_angle, cfg.max_angle, size=len(o))
    q_dyn = plane_rotation(d, uv[:, 0], uv[:, 1], theta)
    out = {}
    for split, sl in (("train", slice(0, cfg.n_train)), ("test", slice(cfg.n_train, None))):
        out[f"o_{split}"] = o[sl]
        out[f"z_rot_{split}"] = o[sl] @ q_rot
        out[f"z_ref_{split}"] = o[sl] @ q_ref
        out[f"o6_{split}"] = o[sl][..., :d6]  # the padding is zero: still unit rows
        out[f"z_ref6_{split}"] = o[sl][..., :d6] @ q_ref6
        out[f"z_dyn_{split}"] = np.einsum("ntd,nde->nte", o[sl], q_dyn[sl])
        out[f"theta_{split}"] = theta[sl]
    return {k: v.astype(np.float32) for k, v in out.items()}


def run(config: RotationFitConfig = RotationFitConfig(), *, static: bool = True, cache: dict | None = None) -> RotationFitResult:
    """Train the seed's rotations to undo known rotations of the oracle (seed ``config.seed``).

    * ``static: rotation`` -- a :class:`StaticCayleyRotation` on ``z = o Q`` with one
      shared ``Q`` in SO(21) (the seeds' zero-padded oracle);
    * ``static: reflection, d=6`` -- the same on the unpadded oracle (d = 2K = 6) with
      ``det Q = -1``, which no rotation can undo (on the padded oracle one can: see
      ``fit_data``'s ``z_ref_*`` and ``procrustes_sq(..., reflections=False)``);
    * ``dynamic: mean|endpoints|velocity`` -- a :class:`DynamicCayleyRotation` with that
      context on ``z_i = o_i Q(theta_i)``, one angle per sample.

    Each minimises the frame-dependent MSE ``mean((z R - o)^2)`` (seed 001, section 11,
    attempt 2, with the rotation in front of it); test metrics on held-out samples.
    ``static=False`` skips the static fits; ``cache`` (a dict) reuses compiled steps
    across calls with the same sizes (e.g. other seeds).
    """
    import jax
    from flax import nnx

    from spectral_manifolds.rotations import CONTEXTS, DynamicCayleyRotation, StaticCayleyRotation

    key = runtime.seed_everything(config.seed)
    data = fit_data(config)
    d = data["o_train"].shape[-1]
    rng = np.random.default_rng([config.seed, 15])
    batch_idx = np.stack([rng.choice(config.n_train, config.batch, replace=False) for _ in range(config.steps)])
    result = RotationFitResult(config=dataclasses.asdict(config))
    keys = jax.random.split(key, 1 + len(CONTEXTS))
    static_fits = {"rotation": ("z_rot", "o"), "reflection, d=6": ("z_ref6", "o6")} if static else {}
    for label, (z_key, o_key) in static_fits.items():
        name = f"static: {label}"
        dim = data[f"{o_key}_train"].shape[-1]
        model = StaticCayleyRotation(dim, rngs=nnx.Rngs(params=keys[0]))
        result.runs[name] = _train(model, data[f"{z_key}_train"], data[f"{o_key}_train"], data[f"{z_key}_test"], data[f"{o_key}_test"], config, name, batch_idx, cache)
    for i, context in enumerate(CONTEXTS):
        name = f"dynamic: {context}"
        model = DynamicCayleyRotation(d, context=context, hidden=config.hidden, rngs=nnx.Rngs(params=keys[1 + i]))
        result.runs[name] = _train(model, data["z_dyn_train"], data["o_train"], data["z_dyn_test"], data["o_test"], config, name, batch_idx, cache)
    return result


def run_seeds(config: RotationFitConfig, seeds, *, static: bool = False) -> list[RotationFitResult]:
    """:func:`run` for each seed (``config.seed`` replaced), one compiled step per fit reused
    across seeds. Returns one :class:`RotationFitResult` per seed, in order."""
    cache: dict = {}
    return [run(dataclasses.replace(config, seed=int(s)), static=static, cache=cache) for s in seeds]
