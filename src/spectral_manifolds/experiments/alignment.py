"""Chapter 6's runs: oracle-distance calibration, SVD gradients, Cayley rotation fits.

Seed 001_a78d46c299591382.txt, sections 5-11, on the seeds' synthetic task
(:func:`spectral_manifolds.data.oscillators.seed_task`):

* :func:`calibrate` -- the oracle distance of reference latents, against the scale that
  DESIGN.md, "The seeds' experimental setup", records from the seeds' code (a random unit
  latent 0.285, a constant latent 0.309, one of the three oscillators exact 0.201, a
  rotated oracle 0), uncentred and centred, with the Gram loss beside them.
* :func:`svd_gradient_table` and :func:`seed_case_gradients` -- gradients of the seed's
  SVD-based Procrustes loss (section 11, attempt 1) against the singular-value form, over
  the gap between two singular values and on the seed's own rank-deficient case.
* :func:`run` -- learnable Cayley rotations trained to undo known rotations of the
  oracle: a static rotation (sections 5 and 11, option A) and a dynamic one with each of
  the seed's three contexts (sections 7-10).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime
from spectral_manifolds.data.oscillators import OscillatorData, SeedTaskConfig, seed_task

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


# --------------------------------------------------------------------------- rotation fits
@dataclass(frozen=True)
class RotationFitConfig:
    """Sizes of the Cayley-rotation fits.

    ``n_train`` and ``n_test`` samples of the seeds' task (each a multiple of 64, the
    task's generation batch); Adam with ``lr`` for ``steps`` steps of ``batch`` samples;
    the dynamic rotation's hidden width ``hidden`` (128 in seed 001, section 7); the
    per-sample angles of the dynamic task uniform in ``[-max_angle, max_angle]``.
    """

    n_train: int = 128
    n_test: int = 64
    batch: int = 16
    steps: int = 150
    lr: float = 2e-2
    hidden: int = 128
    max_angle: float = math.pi / 2
    seed: int = 0

    def __post_init__(self):
        for name in ("n_train", "n_test", "batch", "steps", "hidden"):
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


def _train(model, z_tr, o_tr, z_te, o_te, cfg: RotationFitConfig, name: str, batch_idx: np.ndarray) -> FitRun:
    """Adam on ``mean((model(z) - o)^2)``; functional NNX step compiled once with a notice."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from spectral_manifolds.alignment import oracle_distance, orthogonality_penalty, procrustes_sq

    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(cfg.lr)
    opt_state = tx.init(params)
    z_tr, o_tr = jnp.asarray(z_tr), jnp.asarray(o_tr)

    def loss_fn(p, zb, ob):
        return jnp.mean((nnx.merge(graphdef, p)(zb) - ob) ** 2)

    @jax.jit
    def step(p, state, idx):
        loss, grads = jax.value_and_grad(loss_fn)(p, z_tr[idx], o_tr[idx])
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    idx = jnp.asarray(batch_idx)
    compiled = runtime.compile_with_notice(step, params, opt_state, idx[0], name=f"{name} step")
    losses = []
    with runtime.Timer() as timer:
        for i in runtime.progress(range(cfg.steps), desc=name, leave=False):
            params, opt_state, loss = compiled(params, opt_state, idx[i])
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
        compile_seconds=compiled.compile_seconds,
        steps_per_second=cfg.steps / timer.seconds,
    )


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


def run(config: RotationFitConfig = RotationFitConfig()) -> RotationFitResult:
    """Train the seed's rotations to undo known rotations of the oracle.

    * ``static: rotation`` -- a :class:`StaticCayleyRotation` on ``z = o Q`` with one
      shared ``Q`` in SO(21) (the seeds' zero-padded oracle);
    * ``static: reflection, d=6`` -- the same on the unpadded oracle (d = 2K = 6) with
      ``det Q = -1``, which no rotation can undo (on the padded oracle one can: see
      ``fit_data``'s ``z_ref_*`` and ``procrustes_sq(..., reflections=False)``);
    * ``dynamic: mean|endpoints|velocity`` -- a :class:`DynamicCayleyRotation` with that
      context on ``z_i = o_i Q(theta_i)``, one angle per sample.

    Each minimises the frame-dependent MSE ``mean((z R - o)^2)`` (seed 001, section 11,
    attempt 2, with the rotation in front of it); test metrics on held-out samples.
    """
    import jax
    from flax import nnx

    from spectral_manifolds.alignment import CONTEXTS, DynamicCayleyRotation, StaticCayleyRotation

    key = runtime.seed_everything(config.seed)
    data = fit_data(config)
    d = data["o_train"].shape[-1]
    rng = np.random.default_rng([config.seed, 15])
    batch_idx = np.stack([rng.choice(config.n_train, config.batch, replace=False) for _ in range(config.steps)])
    result = RotationFitResult(config=dataclasses.asdict(config))
    keys = jax.random.split(key, 1 + len(CONTEXTS))
    static = {"rotation": ("z_rot", "o"), "reflection, d=6": ("z_ref6", "o6")}
    for label, (z_key, o_key) in static.items():
        name = f"static: {label}"
        dim = data[f"{o_key}_train"].shape[-1]
        model = StaticCayleyRotation(dim, rngs=nnx.Rngs(params=keys[0]))
        result.runs[name] = _train(model, data[f"{z_key}_train"], data[f"{o_key}_train"], data[f"{z_key}_test"], data[f"{o_key}_test"], config, name, batch_idx)
    for i, context in enumerate(CONTEXTS):
        name = f"dynamic: {context}"
        model = DynamicCayleyRotation(d, context=context, hidden=config.hidden, rngs=nnx.Rngs(params=keys[1 + i]))
        result.runs[name] = _train(model, data["z_dyn_train"], data["o_train"], data["z_dyn_test"], data["o_test"], config, name, batch_idx)
    return result
