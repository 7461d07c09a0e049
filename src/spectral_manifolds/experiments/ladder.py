"""Chapter 7's runs: the debug ladder of seed 002 and one trainer for every seed experiment.

Seed 002_808d64c66db33027.txt is an ordered debug plan: strip the ManifoldFormer down to
a trivial model and add one part back at a time ("patches" A-E). Seed
001_a78d46c299591382.txt, section 13 reports running it, and section 14 the full model
with the fix it found (zero-initialized dynamics). This module re-runs all of that, and
experiments 7-12 of seed 001 (:mod:`spectral_manifolds.experiments.seed_experiments`),
with ONE generic trainer, :func:`run`.

**The model** (:class:`LadderModel`) is assembled from the book's tested parts:

* encoder -- the causal-conv encoder of :class:`spectral_manifolds.rvae.RVAE`, used three
  ways: ``"euclidean"`` (the raw mean head, not normalized; seed 002, Patch A),
  ``"sphere"`` (the mean normalized onto the sphere, no sampling; seed 002, section 3.1)
  and ``"sphere_sample"`` (tangent sample + exponential map; the full model);
* rotation -- optional :class:`spectral_manifolds.alignment.DynamicCayleyRotation`
  (contexts ``"mean"``, ``"velocity"``, ``"endpoints"``: seed 001, sections 7, 9, 10) or
  :class:`CovarianceCayleyRotation` (section 8), between encoder and dynamics;
* dynamics -- ``"identity"``; ``"residual"``, seed 002 section 4.1's cell
  ``z + tanh(z W + b)`` (``W`` Xavier-uniform, ``b = 0``; verbatim, no retraction);
  ``"manifold"``, :class:`spectral_manifolds.kuramoto.ManifoldField` (power-law memory +
  Kuramoto coupling, one classic RK4 step of ``h = 1`` + retraction) with ``init="zero"``
  (output weights zero, the identity at initialization) or ``"random"``;
* decoder -- the RVAE's pointwise MLP: ``pred = decode(z_next)``, ``recon = decode(z)``.

**One compile for many runs.** The model holds every part; which encoder, rotation
and dynamics a run uses, and the weights of its loss terms, are *runtime* inputs of
the compiled train step (``jax.lax.switch`` runs only the chosen branch). Runs that share
the array shapes (task, batch) and the optimizer reuse one compiled step: the whole
patch ladder compiles once, every main-task run once more.

**Metrics.** The train step returns every term for its batch, computed before its
update. ``Result.history[m][e]`` for ``e >= 1`` is the mean over epoch ``e``'s batches,
as the seeds' logs averaged their epochs; ``history[m][0]`` is the first batch before
any update. Metrics: the optimized ``objective``, ``fidelity`` (the fractional fidelity
"spectral loss" of :mod:`spectral_manifolds.losses`), ``entropy`` (the latent spectral
entropy), ``pred_mse``, ``recon_mse``, ``mse`` (their sum, DESIGN.md's tracked "MSE"),
and the oracle distance (:func:`spectral_manifolds.alignment.oracle_distance`) of the
encoder's latent ``z`` (``oracle``: the sampled ``z``, as the seeds' code measured it),
of its mean (``oracle_mu``) and centred (``oracle_centred``, seed 001 before section 10).

**Tasks** (DESIGN.md, "The seeds' experimental setup"): :data:`MAIN_TASK` (255 steps,
16 channels, latent 21, noise 0.1; sections 12 and 14, experiments 7-12) and
:data:`ABLATION_TASK` (64 steps, latent 16, two harmonics, no noise; section 13).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spectral_manifolds import runtime, sphere
from spectral_manifolds.alignment import DynamicCayleyRotation, as_batched, cayley, oracle_distance, orthogonality_penalty
from spectral_manifolds.data.oscillators import OscillatorData, SeedTaskConfig, seed_task
from spectral_manifolds.kuramoto import ManifoldField
from spectral_manifolds.rvae import RVAE

__all__ = [
    "MAIN_TASK",
    "ABLATION_TASK",
    "ENCODERS",
    "DYNAMICS",
    "INITS",
    "ROTATIONS",
    "LOSSES",
    "METRICS",
    "Config",
    "Scale",
    "Result",
    "ResidualCell",
    "CovarianceCayleyRotation",
    "covariance_context",
    "decorrelation_loss",
    "fidelity_loss",
    "latent_entropy",
    "LadderModel",
    "LadderOutput",
    "make_data",
    "run",
    "run_many",
]

# --------------------------------------------------------------------------- tasks
#: Seed 001 sections 12 and 14, experiments 7-12: the seeds' main task (DESIGN.md).
MAIN_TASK = SeedTaskConfig()
#: Seed 001 section 13 (the debug ablation): 64 steps, latent 16, two harmonics, no noise.
#: (``seq_len = 65``: input and target, shifted by one, have 64 steps.)
ABLATION_TASK = SeedTaskConfig(seq_len=65, latent_dim=16, n_active=2, amplitudes=(1.0, 0.5), noise=0.0)

ENCODERS = ("euclidean", "sphere", "sphere_sample")
DYNAMICS = ("identity", "residual", "manifold")
INITS = ("zero", "random")
ROTATIONS = ("none", "mean", "velocity", "endpoints", "covariance")
LOSSES = ("mse", "spectral", "mse+spectral", "spectral+entropy")
ENTROPIES = ("power", "magnitude")
METRICS = ("objective", "fidelity", "entropy", "pred_mse", "recon_mse", "mse", "oracle", "oracle_mu", "oracle_centred")
_WEIGHTS = ("mse", "fidelity", "entropy", "magnitude_entropy", "phase", "decorrelation", "oracle", "ortho")


# --------------------------------------------------------------------------- config
def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _choice(name: str, value, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


@dataclass(frozen=True)
class Config:
    """One run of the generic trainer: a patch of the ladder or a seed experiment.

    Attributes:
        name: a label for tables and progress bars.
        task: the data (:data:`MAIN_TASK` or :data:`ABLATION_TASK`, possibly resized);
            its ``n_samples`` and ``batch`` are replaced by ``n_batches * batch``.
        n_batches: batches per epoch; the same ``n_batches * batch`` samples, in the same
            order, every epoch (the seeds' fixed data).
        batch, epochs, lr, weight_decay: optax AdamW (the seeds': 64, 5, 1e-3, optax's
            default 1e-4).
        seed: parameters and latent samples (the data seed is ``task.seed``).
        encoder: one of :data:`ENCODERS`.
        dynamics: one of :data:`DYNAMICS`; ``init`` (:data:`INITS`) for ``"manifold"``.
        form: Kuramoto coupling of the manifold dynamics, ``"seed"`` (seed 000's
            ``sin(<q, k> + alpha)``, as the seeds ran it) or ``"sakaguchi"`` (the book's).
        gamma: power-law memory exponent of the manifold dynamics.
        sigma_init: initial latent scale of the RVAE (``RVAE(sigma_init=...)``); ``None``
            (default) is the seeds' initialization, ``sigma`` near ``softplus(0) = 0.69``
            per coordinate; the book's RVAE default is 0.05.
        rotation: one of :data:`ROTATIONS` (``"none"``: no rotation).
        loss: the base objective, one of :data:`LOSSES`: ``"mse"`` (prediction MSE),
            ``"spectral"`` (fractional fidelity), ``"mse+spectral"`` (their sum: Patches
            C-E) or ``"spectral+entropy"`` (fidelity + ``entropy_weight`` x latent
            spectral entropy: the seeds' "spectral loss" of sections 12-14).
        entropy: ``"power"`` (sections 12-14) or ``"magnitude"`` (experiment 7).
        entropy_weight: weight of the entropy in ``"spectral+entropy"`` (0.05).
        phase_weight: weight of the phase term inside the fidelity loss (1.0; 0 gives
            the magnitude-only loss of experiments 7-8, 0.5 is experiment 9's).
        decorrelation_weight: off-diagonal latent covariance penalty (experiment 8).
        oracle_weight: direct MSE between ``z`` and the oracle (experiment 11).
        ortho_weight: orthogonality regularizer of the rotation (experiment 11).
    """

    name: str = "run"
    task: SeedTaskConfig = MAIN_TASK
    n_batches: int = 10
    batch: int = 64
    epochs: int = 5
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    encoder: str = "sphere_sample"
    dynamics: str = "manifold"
    init: str = "zero"
    form: str = "seed"
    gamma: float = 0.5
    sigma_init: Optional[float] = None
    rotation: str = "none"
    loss: str = "spectral+entropy"
    entropy: str = "power"
    entropy_weight: float = 0.05
    phase_weight: float = 1.0
    decorrelation_weight: float = 0.0
    oracle_weight: float = 0.0
    ortho_weight: float = 0.0

    def __post_init__(self):
        if not isinstance(self.task, SeedTaskConfig):
            raise ValueError(f"task must be a SeedTaskConfig, got {type(self.task).__name__}")
        for name in ("n_batches", "batch", "epochs"):
            _positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        _choice("encoder", self.encoder, ENCODERS)
        _choice("dynamics", self.dynamics, DYNAMICS)
        _choice("init", self.init, INITS)
        _choice("form", self.form, ("seed", "sakaguchi"))
        _choice("rotation", self.rotation, ROTATIONS)
        _choice("loss", self.loss, LOSSES)
        _choice("entropy", self.entropy, ENTROPIES)
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be positive and finite, got {self.lr!r}")
        for name in ("weight_decay", "entropy_weight", "phase_weight", "decorrelation_weight", "oracle_weight", "ortho_weight"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        if not 0.0 < float(self.gamma) < 1.0:
            raise ValueError(f"gamma must lie strictly between 0 and 1, got {self.gamma!r}")
        if self.sigma_init is not None and not (isinstance(self.sigma_init, (int, float)) and math.isfinite(self.sigma_init) and self.sigma_init > 1e-4):
            raise ValueError(f"sigma_init must be None or a finite scale above the RVAE's 1e-4 floor, got {self.sigma_init!r}")
        if self.task.seq_len < 3:
            raise ValueError(f"task.seq_len must be >= 3 (at least two model steps), got {self.task.seq_len}")
        if self.dynamics == "manifold" and self.encoder == "euclidean":
            raise ValueError("manifold dynamics live on the sphere: use encoder 'sphere' or 'sphere_sample'")
        if self.ortho_weight > 0 and self.rotation == "none":
            raise ValueError("ortho_weight needs a rotation (rotation != 'none')")

    @property
    def data_config(self) -> SeedTaskConfig:
        """The task with ``n_samples = n_batches * batch`` samples in seeded blocks of ``batch``."""
        return dataclasses.replace(self.task, n_samples=self.n_batches * self.batch, batch=self.batch)

    @property
    def steps(self) -> int:
        """Model time steps per sequence, ``task.seq_len - 1``."""
        return self.task.seq_len - 1

    def objective_terms(self) -> dict[str, float]:
        """The weighted terms of the optimized loss: name -> weight (nonzero weights only).

        ``"mse"`` is the *prediction* MSE (seed 002, section 1.2); ``"oracle"`` the
        direct latent MSE of experiment 11; ``"ortho"`` the rotation's regularizer.
        """
        terms = {
            "mse": {"mse": 1.0},
            "spectral": {"fidelity": 1.0},
            "mse+spectral": {"mse": 1.0, "fidelity": 1.0},
            "spectral+entropy": {"fidelity": 1.0, "entropy": self.entropy_weight},
        }[self.loss]
        terms = dict(terms)
        for name, w in (("decorrelation", self.decorrelation_weight), ("oracle", self.oracle_weight), ("ortho", self.ortho_weight)):
            terms[name] = float(w)
        return {k: float(v) for k, v in terms.items() if v > 0}

    def switches(self) -> np.ndarray:
        """(3,) int32: indices of the encoder, rotation and dynamics branches."""
        return np.asarray([ENCODERS.index(self.encoder), ROTATIONS.index(self.rotation), DYNAMICS.index(self.dynamics)], np.int32)

    def weights(self) -> np.ndarray:
        """(8,) float32 runtime loss knobs: term weights, entropy kind, phase weight."""
        terms = self.objective_terms()
        w = {name: terms.get(name, 0.0) for name in _WEIGHTS}
        w["magnitude_entropy"] = 1.0 if self.entropy == "magnitude" else 0.0
        w["phase"] = float(self.phase_weight)
        return np.asarray([w[name] for name in _WEIGHTS], np.float32)

    def compile_key(self) -> tuple:
        """What the compiled train step depends on: shapes, coupling form, gamma, optimizer."""
        t = self.task
        return (t.seq_len, t.n_channels, t.latent_dim, self.n_batches, self.batch, self.form, float(self.gamma), float(self.lr), float(self.weight_decay))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["task"] = dataclasses.asdict(self.data_config)
        return d


@dataclass(frozen=True)
class Scale:
    """The sizes a chapter picks with ``runtime.sized`` (defaults: the seeds' sizes).

    Attributes:
        batch: samples per batch (64).
        n_batches_main: batches per epoch on the main task (the seeds' code: 10).
        n_batches_ablation: batches per epoch on the ablation task (the seeds'
            ablation script: ``1000 // 64 = 15``).
        seq_len_main, seq_len_ablation: sequence lengths (model steps + 1).
        epochs: ``None`` keeps each run's own epoch count (the seed's); an int overrides it.
        seeds: random seeds (parameter inits and latent samples) per configuration;
            tables and verdicts use the mean over them.
    """

    batch: int = 64
    n_batches_main: int = 10
    n_batches_ablation: int = 15
    seq_len_main: int = 256
    seq_len_ablation: int = 65
    epochs: Optional[int] = None
    seeds: int = 1

    def __post_init__(self):
        for name in ("batch", "n_batches_main", "n_batches_ablation", "seq_len_main", "seq_len_ablation", "seeds"):
            _positive_int(name, getattr(self, name))
        if self.epochs is not None:
            _positive_int("epochs", self.epochs)

    def apply(self, config: Config, *, ablation: bool) -> Config:
        """``config`` resized: batch, batches per epoch, sequence length (and epochs when set)."""
        seq_len = self.seq_len_ablation if ablation else self.seq_len_main
        n_batches = self.n_batches_ablation if ablation else self.n_batches_main
        return dataclasses.replace(
            config,
            task=dataclasses.replace(config.task, seq_len=seq_len),
            batch=self.batch,
            n_batches=n_batches,
            epochs=config.epochs if self.epochs is None else self.epochs,
        )


# --------------------------------------------------------------------------- result
@dataclass
class Result:
    """One run's history (JSON-able by :meth:`to_dict`).

    ``history[m]`` for each metric ``m`` in :data:`METRICS`: ``epochs + 1`` values,
    index 0 the first batch before any update, index ``e >= 1`` the mean over epoch
    ``e``'s batches (each computed before that batch's update, as the seeds' epoch
    averages). ``after[m]``: the first batch after training. ``compile_seconds`` is 0
    when the run reused a step compiled by an earlier run.
    """

    name: str
    config: dict
    history: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    n_params: int = 0
    compile_seconds: float = 0.0
    train_seconds: float = 0.0
    steps: int = 0
    device: str = ""

    @property
    def epochs(self) -> int:
        return len(self.history["objective"]) - 1

    def at(self, metric: str, epoch: int) -> float:
        """``metric`` after ``epoch`` epochs (1..epochs; 0 = before training; -1 = the last)."""
        values = self.history[metric]
        return float(values[epoch])

    def final(self, metric: str) -> float:
        """``metric`` in the last epoch."""
        return self.at(metric, -1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- modules
class ResidualCell(nnx.Module):
    """Seed 002, section 4.1: ``z_next = z + tanh(z W + b)``, ``W`` Xavier-uniform, ``b = 0``.

    Verbatim: no tangent projection and no retraction, so ``z_next`` leaves the sphere.

    Call: ``z: (..., d)`` -> ``(..., d)``.
    """

    def __init__(self, d: int, *, rngs: nnx.Rngs):
        self.linear = nnx.Linear(d, d, kernel_init=nnx.initializers.xavier_uniform(), bias_init=nnx.initializers.zeros, rngs=rngs)

    def __call__(self, z):
        return z + jnp.tanh(self.linear(z))


def covariance_context(z):
    """Seed 001, section 8's context ``C = z^T z / T`` (uncentred, as the seed wrote it), flattened.

    Args:
        z: (B, T, d) or (T, d).
    Returns:
        (B, d*d) or (d*d,).
    """
    z3, unbatched = as_batched(z)
    c = jnp.einsum("bti,btj->bij", z3, z3) / z3.shape[-2]
    c = c.reshape(z3.shape[0], -1)
    return c[0] if unbatched else c


class CovarianceCayleyRotation(nnx.Module):
    """A rotation predicted from the covariance context (seed 001, section 8).

    ``c = covariance_context(z) -> Dense(hidden) -> ReLU -> Dense(d*d) = W``,
    ``R = alignment.cayley(W)`` per sample. The same head as
    :class:`spectral_manifolds.alignment.DynamicCayleyRotation` (whose contexts do not
    include the covariance), with default (random) initialization, as the seed's.

    ``rotation(z)``: ``z: (B, T, d)`` -> ``R: (B, d, d)``; call: ``z R``.
    """

    def __init__(self, d: int, *, hidden: int = 128, rngs: nnx.Rngs):
        self.d = d
        self.hidden_layer = nnx.Linear(d * d, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, d * d, rngs=rngs)

    def rotation(self, z):
        """z: (B, T, d) or (T, d) -> R: (B, d, d) or (d, d)."""
        w = self.out(jax.nn.relu(self.hidden_layer(covariance_context(z))))
        return cayley(w.reshape(*w.shape[:-1], self.d, self.d))

    def __call__(self, z):
        """z: (B, T, d) or (T, d) -> z R, same shape."""
        r = self.rotation(z)
        return jnp.matmul(z, r)


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


class LadderOutput(NamedTuple):
    """What :class:`LadderModel` returns for ``x: (B, T, C)``.

    Attributes:
        pred: (B, T, C) decoded ``z_next``, the prediction of the next step;
        recon: (B, T, C) decoded ``z``, the reconstruction of the current step;
        z: (B, T, d) the encoder latent (sampled for ``"sphere_sample"``);
        mu: (B, T, d) the encoder mean (not normalized for ``"euclidean"``);
        z_next: (B, T, d) after rotation and dynamics;
        rotation: (B, d, d) the rotation (the identity without one).
    """

    pred: jax.Array
    recon: jax.Array
    z: jax.Array
    mu: jax.Array
    z_next: jax.Array
    rotation: jax.Array


class LadderModel(nnx.Module):
    """Encoder -> rotation -> dynamics -> decoder, holding every variant of each part.

    Which variant runs is chosen per call by ``switches`` (see :meth:`Config.switches`),
    so one compiled step serves every run of the ladder. Parameters of unused parts get
    zero gradients.

    Args:
        task: the data config (channels, latent dimension, steps).
        form, gamma: the manifold dynamics' coupling form and memory exponent.
        init: ``"zero"`` or ``"random"`` output weights of the manifold dynamics.
        sigma_init: the RVAE's initial latent scale (None: the seeds' initialization).
        rngs: ``nnx.Rngs``. The RVAE is created first, so runs with the same seed start
            from the same encoder and decoder whatever their other parts.
    """

    def __init__(
        self, task: SeedTaskConfig, *, form: str = "seed", gamma: float = 0.5, init: str = "zero",
        sigma_init: Optional[float] = None, rngs: nnx.Rngs,
    ):
        _choice("init", init, INITS)
        d, c, steps = task.latent_dim, task.n_channels, task.seq_len - 1
        self.d = d
        self.vae = RVAE(c, d, sigma_init=sigma_init, rngs=rngs)
        self.cell = ResidualCell(d, rngs=rngs)
        self.field = ManifoldField(d, gamma=gamma, memory_len=steps, form=form, zero_init=init == "zero", rngs=rngs)
        self.rot_mean = DynamicCayleyRotation(d, context="mean", identity_init=False, rngs=rngs)
        self.rot_velocity = DynamicCayleyRotation(d, context="velocity", identity_init=False, rngs=rngs)
        self.rot_endpoints = DynamicCayleyRotation(d, context="endpoints", identity_init=False, rngs=rngs)
        self.rot_covariance = CovarianceCayleyRotation(d, rngs=rngs)

    def encode(self, x, key, encoder):
        """x: (B, T, C) -> (z, mu), (B, T, d) each; ``encoder`` an index into :data:`ENCODERS`."""
        vae = self.vae  # the RVAE's conv trunk and heads (RVAE.encode always normalizes)
        h = jax.nn.relu(vae.conv2(jax.nn.relu(vae.conv1(x))))
        raw = vae.to_mu(h)

        def euclidean(_):
            return raw, raw

        def on_sphere(_):
            mu = sphere.normalize(raw)
            return mu, mu

        def sampled(_):
            mu = sphere.normalize(raw)
            sigma = jax.nn.softplus(vae.to_sigma(h)) + vae.sigma_eps
            z, _ = vae.sample(key, mu, sigma)
            return z, mu

        return jax.lax.switch(encoder, (euclidean, on_sphere, sampled), None)

    def rotate(self, z, rotation):
        """z: (B, T, d) -> (z R, R: (B, d, d)); ``rotation`` an index into :data:`ROTATIONS`."""
        eye = jnp.broadcast_to(jnp.eye(self.d, dtype=z.dtype), (z.shape[0], self.d, self.d))
        modules = (self.rot_mean, self.rot_velocity, self.rot_endpoints, self.rot_covariance)
        branches = [lambda _: eye] + [lambda _, m=m: m.rotation(z) for m in modules]
        r = jax.lax.switch(rotation, branches, None)
        return jnp.matmul(z, r), r

    def advance(self, z, dynamics):
        """z: (B, T, d) -> z_next, same shape; ``dynamics`` an index into :data:`DYNAMICS`."""
        branches = (lambda _: z, lambda _: self.cell(z), lambda _: self.field.step(z, h=1.0))
        return jax.lax.switch(dynamics, branches, None)

    def __call__(self, x, key, switches) -> LadderOutput:
        """x: (B, T, C) or (T, C); key: PRNG key for the latent sample; switches: (3,) int
        indices of encoder, rotation, dynamics. Returns :class:`LadderOutput` (batch axis
        as in ``x``)."""
        x = jnp.asarray(x)
        if x.ndim == 2:
            return LadderOutput(*(a[0] for a in self(x[None], key, switches)))
        if x.ndim != 3:
            raise ValueError(f"x must have shape (B, T, C) or (T, C), got shape {tuple(x.shape)}")
        switches = jnp.asarray(switches)
        z, mu = self.encode(x, key, switches[0])
        z_aligned, r = self.rotate(z, switches[1])
        z_next = self.advance(z_aligned, switches[2])
        return LadderOutput(self.vae.decode(z_next), self.vae.decode(z), z, mu, z_next, r)


# --------------------------------------------------------------------------- losses
def fidelity_loss(pred, target, phase_weight=1.0):
    """The seeds' fractional fidelity loss with a phase weight (seed 001, sections 7-14).

    ``mean_gamma(magnitude + phase_weight * phase)`` from
    :func:`spectral_manifolds.losses.fractional_fidelity_terms` with the seeds' settings
    (naive reversed kernel of 128 taps, unweighted phase, ``eps = 1e-8``); at
    ``phase_weight = 1`` it is :func:`spectral_manifolds.losses.seed_fidelity_loss`.
    ``phase_weight`` may be a traced scalar.

    Args:
        pred, target: (B, T, C) or (T, C), same shape.
    Returns:
        scalar.
    """
    from spectral_manifolds import losses

    terms = losses.fractional_fidelity_terms(
        pred, target, gammas=losses.SEED_GAMMAS, kernel_size=losses.SEED_KERNEL_SIZE, kernel="seed",
        weighting="uniform", mag_floor=0.0, eps=losses.SEED_EPS,
    )
    return jnp.mean(terms["magnitude"] + phase_weight * terms["phase"])


def latent_entropy(z, kind: str = "power"):
    """The seeds' latent spectral entropy (not normalized, ``eps = 1e-8``), power- or magnitude-based.

    Args:
        z: (B, T, d) latent trajectory.
    Returns:
        scalar (nats, at most ``log(T // 2 + 1)``).
    """
    from spectral_manifolds import losses

    return losses.spectral_entropy(z, kind=kind, normalize=False, eps=losses.SEED_EPS)


def _terms(out: LadderOutput, weights, y_next, y_recon, oracle) -> dict:
    """Every loss term and metric of one batch (scalars); ``weights`` as :meth:`Config.weights`."""
    w = dict(zip(_WEIGHTS, weights))
    t = {}
    t["pred_mse"] = jnp.mean((out.pred - y_next) ** 2)
    t["recon_mse"] = jnp.mean((out.recon - y_recon) ** 2)
    t["mse"] = t["pred_mse"] + t["recon_mse"]
    t["fidelity"] = fidelity_loss(out.pred, y_next, w["phase"])
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


def _metrics(out: LadderOutput, t: dict, oracle):
    """(len(METRICS),) vector of the tracked metrics."""
    t = dict(t)
    t["oracle"] = oracle_distance(out.z, oracle)
    t["oracle_mu"] = oracle_distance(out.mu, oracle)
    t["oracle_centred"] = oracle_distance(out.z, oracle, centred=True)
    return jnp.stack([t[name] for name in METRICS])


# --------------------------------------------------------------------------- data
def make_data(config: Config) -> OscillatorData:
    """The run's fixed training data: ``n_batches * batch`` samples of ``config.task``."""
    return seed_task(config.data_config)


# --------------------------------------------------------------------------- training
@dataclass
class _Compiled:
    graphdef: object
    rest: object
    tx: object
    step: runtime.CompiledFn


_CACHE: dict[tuple, _Compiled] = {}


def _model(cfg: Config, key) -> LadderModel:
    return LadderModel(cfg.task, form=cfg.form, gamma=cfg.gamma, init=cfg.init, sigma_init=cfg.sigma_init, rngs=nnx.Rngs(params=key))


def _compiled(cfg: Config, params, arrays, key) -> tuple[_Compiled, float]:
    """The compiled train step for ``cfg``'s :meth:`Config.compile_key` (cached), and the
    seconds spent compiling now (0 when reused)."""
    ck = cfg.compile_key()
    if ck in _CACHE:
        return _CACHE[ck], 0.0
    import optax

    graphdef, _, rest = nnx.split(_model(cfg, key), nnx.Param, ...)
    tx = optax.adamw(cfg.lr, weight_decay=cfg.weight_decay)
    b = cfg.batch

    def loss_and_metrics(p, data, i, k, switches, weights):
        x, yn, yr, o = (jax.lax.dynamic_slice_in_dim(a, i * b, b, axis=0) for a in data)
        out = nnx.merge(graphdef, p, rest)(x, k, switches)
        t = _terms(out, weights, yn, yr, o)
        return t["objective"], _metrics(out, t, o)

    @jax.jit
    def train_step(p, state, data, i, k, switches, weights):
        (_, metrics), grads = jax.value_and_grad(loss_and_metrics, has_aux=True)(p, data, i, k, switches, weights)
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, metrics

    example = (params, tx.init(params), arrays, jnp.asarray(0, jnp.int32), key, jnp.asarray(cfg.switches()), jnp.asarray(cfg.weights()))
    step = runtime.compile_with_notice(train_step, *example, name=f"ladder train step ({cfg.steps} steps, latent {cfg.task.latent_dim})")
    _CACHE[ck] = _Compiled(graphdef, rest, tx, step)
    return _CACHE[ck], step.compile_seconds


def run(config: Config, *, data: Optional[OscillatorData] = None, progress: bool = True) -> Result:
    """Train one configuration; return its per-epoch history (see :class:`Result`).

    AdamW on the ``nnx.Param`` leaves (functional ``nnx.split``/``nnx.merge`` style),
    one ``jax.jit`` train step compiled ahead of time with a notice and shared by every
    run with the same :meth:`Config.compile_key`. Batches come in the same order every
    epoch; the latent sample of step ``s`` uses ``fold_in(key, s)``.

    Args:
        config: the run.
        data: optional training data in place of :func:`make_data` (e.g. another data
            set with the task's shapes): ``x, y_next, y_recon: (n_batches * batch, T, C)``,
            ``oracle: (n_batches * batch, T, latent_dim)``.
        progress: show a progress bar over epochs.
    """
    cfg = config
    key = runtime.seed_everything(int(cfg.seed))
    init_key, noise_key, eval_key = jax.random.split(key, 3)
    if data is None:
        data = make_data(cfg)
    n, t, c, d = cfg.n_batches * cfg.batch, cfg.steps, cfg.task.n_channels, cfg.task.latent_dim
    shapes = {"x": (n, t, c), "y_next": (n, t, c), "y_recon": (n, t, c), "oracle": (n, t, d)}
    for name, shape in shapes.items():
        if tuple(getattr(data, name).shape) != shape:
            raise ValueError(f"data.{name} must have shape {shape} for this config, got {tuple(getattr(data, name).shape)}")
    _, params, _ = nnx.split(_model(cfg, init_key), nnx.Param, ...)
    arrays = tuple(jnp.asarray(a) for a in (data.x, data.y_next, data.y_recon, data.oracle))
    compiled, compile_seconds = _compiled(cfg, params, arrays, init_key)
    step = compiled.step
    opt_state = compiled.tx.init(params)
    switches, weights = jnp.asarray(cfg.switches()), jnp.asarray(cfg.weights())
    result = Result(cfg.name, cfg.to_dict(), device=runtime.device_name(), compile_seconds=compile_seconds)
    result.n_params = int(sum(p.size for p in jax.tree_util.tree_leaves(params)))
    i0 = jnp.asarray(0, jnp.int32)
    _, _, first = step(params, opt_state, arrays, i0, eval_key, switches, weights)  # before training (update discarded)
    rows = [first]
    epochs = range(cfg.epochs)
    if progress:
        epochs = runtime.progress(epochs, desc=cfg.name, unit="epoch", leave=False)
    with runtime.Timer() as timer:
        for epoch in epochs:
            per_batch = []
            for i in range(cfg.n_batches):
                k = jax.random.fold_in(noise_key, epoch * cfg.n_batches + i)
                params, opt_state, metrics = step(params, opt_state, arrays, jnp.asarray(i, jnp.int32), k, switches, weights)
                per_batch.append(metrics)
            rows.append(jnp.mean(jnp.stack(per_batch), axis=0))
        runtime.block(params)
    _, _, after = step(params, opt_state, arrays, i0, eval_key, switches, weights)
    result.train_seconds = timer.seconds
    result.steps = cfg.epochs * cfg.n_batches
    hist = np.asarray(jnp.stack(rows), dtype=float)
    result.history = {name: hist[:, j].tolist() for j, name in enumerate(METRICS)}
    result.after = dict(zip(METRICS, np.asarray(after, dtype=float).tolist()))
    return result


def run_many(configs: Sequence[Config], *, progress: bool = True) -> dict[str, Result]:
    """Run configurations in order (names must be unique); returns name -> :class:`Result`.

    Runs with equal :meth:`Config.compile_key` share one compiled step.
    """
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"configuration names must be unique, got {names}")
    it = runtime.progress(configs, desc="runs", unit="run") if progress else configs
    return {cfg.name: run(cfg, progress=False) for cfg in it}
