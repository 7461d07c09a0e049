"""The ladder's configuration: :class:`Config` and :class:`MainScriptConfig`.

Seed 002_808d64c66db33027.txt (the debug plan, Patches A-E and section 7.3's tangent
step) and seed 001_a78d46c299591382.txt (sections 7-14): one :class:`Config` describes
one run of :func:`spectral_manifolds.experiments.ladder.run`; a :class:`MainScriptConfig`
(:func:`main_script_config`) adds the five switches of the seeds' public main script
(issue 7, section 6). The tasks (:data:`MAIN_TASK` and :data:`ABLATION_TASK`, the seeds'
two tasks: DESIGN.md, "The seeds' experimental setup"), the switchable parts and
:class:`Scale` live in :mod:`spectral_manifolds.experiments.ladder.options` and are
re-exported here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.data.oscillators import SeedTaskConfig
from spectral_manifolds.experiments.ladder.options import (  # noqa: F401  (re-exported)
    _TASK_SHAPE_FIELDS,
    _WEIGHTS,
    ABLATION_TASK,
    DYNAMICS,
    ENCODERS,
    ENTROPIES,
    INITS,
    LOSSES,
    MAIN_SCRIPT_OFF,
    MAIN_SCRIPT_ON,
    MAIN_SCRIPT_SWITCHES,
    MAIN_TASK,
    METRICS,
    ROTATIONS,
    RUNTIME_FIELDS,
    Scale,
)
from spectral_manifolds.manifold_field import MEMORY_KINDS


# --------------------------------------------------------------------------- config
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
        dynamics: one of :data:`DYNAMICS`; ``init`` (:data:`INITS`) for ``"manifold"``;
            ``"tangent"`` is seed 002 section 7.3's minimal manifold step (a tangent step
            of ``h = 0.1`` and a retraction).
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
            validate.positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        validate.choice("encoder", self.encoder, ENCODERS)
        validate.choice("dynamics", self.dynamics, DYNAMICS)
        validate.choice("init", self.init, INITS)
        validate.choice("form", self.form, ("seed", "sakaguchi"))
        validate.choice("rotation", self.rotation, ROTATIONS)
        validate.choice("loss", self.loss, LOSSES)
        validate.choice("entropy", self.entropy, ENTROPIES)
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
        if self.dynamics in ("manifold", "tangent") and self.encoder == "euclidean":
            raise ValueError(f"{self.dynamics} dynamics live on the sphere: use encoder 'sphere' or 'sphere_sample'")
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

    def dynamics_options(self) -> dict:
        """Keyword options of :class:`~spectral_manifolds.experiments.ladder.LadderModel`'s
        manifold dynamics: the book's (every main-script switch off); see
        :class:`MainScriptConfig`."""
        return dict(MAIN_SCRIPT_OFF)

    @property
    def logs_after_update(self) -> bool:
        """Whether the epoch metrics are computed after each update (the book: before)."""
        return False

    def compile_key(self) -> tuple:
        """Every field the compiled train step depends on: all of them except
        :data:`RUNTIME_FIELDS` (runtime inputs of the step, or used only to build the
        initial parameters and the data), with the task in full.

        A field added to :class:`Config` enters the key unless it is declared a runtime
        field, so a cached step can never be reused for a configuration it was not
        compiled for.
        """
        items = []
        for f in dataclasses.fields(self):
            if f.name in RUNTIME_FIELDS:
                continue
            v = getattr(self, f.name)
            if f.name == "task":
                v = tuple((k, getattr(self.task, k)) for k in _TASK_SHAPE_FIELDS)
            items.append((f.name, v))
        return tuple(items)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["task"] = dataclasses.asdict(self.data_config)
        return d


@dataclass(frozen=True)
class MainScriptConfig(Config):
    """A :class:`Config` with the five switches of the seeds' public main script (issue 7, §6).

    Every switch defaults to the book's choice, so ``MainScriptConfig(**kw)`` trains exactly
    as ``Config(**kw)`` (``tests/test_ladder_main_script.py`` checks it). A subclass keeps
    the published chapters' :class:`Config` (and its field list) unchanged; the new fields
    are static: :meth:`Config.compile_key` iterates ``dataclasses.fields(self)``, so each
    enters the key of the compiled step (none is in :data:`RUNTIME_FIELDS`).

    Attributes (the main script's value in brackets):
        projections: the Kuramoto coupling's learnable query/key maps (False: q = k = z).
        reduce: ``"mean"`` over the attended keys (``"sum"``: up to ``T`` times the force).
        freeze_keys: hold the coupling's keys at the step's input through the RK4 stages (True).
        memory_kind: ``"power_law"`` or ``"depthwise_conv"`` (a learned causal depthwise
            convolution over the same lags, ``manifold_field.ManifoldField``).
        metrics_after_update: compute each batch's logged metrics with the parameters
            *after* its update (True), at the cost of a second forward pass per step.
    """

    projections: bool = True
    reduce: str = "mean"
    freeze_keys: bool = False
    memory_kind: str = "power_law"
    metrics_after_update: bool = False

    def __post_init__(self):
        super().__post_init__()
        for name in ("projections", "freeze_keys", "metrics_after_update"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        validate.choice("reduce", self.reduce, ("mean", "sum"))
        validate.choice("memory_kind", self.memory_kind, MEMORY_KINDS)
        if self.form != "seed" and (not self.projections or self.reduce != "mean"):
            raise ValueError(f"projections=False and reduce='sum' are options of form='seed', got form={self.form!r}")

    def dynamics_options(self) -> dict:
        return {name: getattr(self, name) for name in MAIN_SCRIPT_OFF}

    @property
    def logs_after_update(self) -> bool:
        return bool(self.metrics_after_update)

    def switched(self) -> tuple[str, ...]:
        """The main-script switches this configuration turns on (issue order)."""
        on = {**MAIN_SCRIPT_ON, "metrics_after_update": True}
        return tuple(name for name in MAIN_SCRIPT_SWITCHES if getattr(self, name) == on[name])


def main_script_config(config: Optional[Config] = None, *, only: Optional[str] = None, name: Optional[str] = None) -> MainScriptConfig:
    """The seeds' main-script configuration of a run: all five switches on, or ``only`` one.

    Args:
        config: the book's run (default: the main-task run of seed 001 section 14,
            ``Config(task=MAIN_TASK, n_batches=10, init="zero")``, the seeds' setup with
            zero-initialized dynamics).
        only: one of :data:`MAIN_SCRIPT_SWITCHES` to turn on alone (default: all five).
        name: the run's name (default: ``config.name`` with the switches appended).
    Returns:
        A :class:`MainScriptConfig` with ``config``'s fields.
    """
    config = Config(name="main task", task=MAIN_TASK, n_batches=10, init="zero") if config is None else config
    if not isinstance(config, Config):
        raise ValueError(f"config must be a Config, got {type(config).__name__}")
    on = {**MAIN_SCRIPT_ON, "metrics_after_update": True}
    if only is not None:
        validate.choice("only", only, MAIN_SCRIPT_SWITCHES)
        on = {only: on[only]}
    base = {f.name: getattr(config, f.name) for f in dataclasses.fields(Config)}
    label = "main script" if only is None else only
    base["name"] = name if name is not None else f"{config.name} + {label}"
    return MainScriptConfig(**{**base, **on})
