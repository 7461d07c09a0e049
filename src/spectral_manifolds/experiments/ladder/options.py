"""The ladder's options: the seeds' two tasks, the switchable parts and :class:`Scale`.

Split out of :mod:`spectral_manifolds.experiments.ladder.config` (which re-exports every
name here): the vocabulary a :class:`~spectral_manifolds.experiments.ladder.config.Config`
picks from, and the sizes a chapter resizes it with.

Seed 002_808d64c66db33027.txt (the debug plan, Patches A-E and section 7.3's tangent
step) and seed 001_a78d46c299591382.txt (sections 7-14). :data:`MAIN_TASK` and
:data:`ABLATION_TASK` are the seeds' two tasks (DESIGN.md, "The seeds' experimental
setup"); :data:`ENCODERS`, :data:`DYNAMICS`, :data:`INITS`, :data:`ROTATIONS`,
:data:`LOSSES`, :data:`ENTROPIES` the switchable parts; :data:`RUNTIME_FIELDS` the
fields the compiled train step does not depend on; :data:`MAIN_SCRIPT_OFF`,
:data:`MAIN_SCRIPT_ON` and :data:`MAIN_SCRIPT_SWITCHES` the five differences of the
seeds' public main script (issue 7, section 6); :class:`Scale` the sizes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from spectral_manifolds import validate
from spectral_manifolds.data.oscillators import SeedTaskConfig

if TYPE_CHECKING:
    from spectral_manifolds.experiments.ladder.config import Config

# --------------------------------------------------------------------------- tasks
#: Seed 001 sections 12 and 14, experiments 7-12: the seeds' main task (DESIGN.md).
MAIN_TASK = SeedTaskConfig()
#: Seed 001 section 13 (the debug ablation): 64 steps, latent 16, two harmonics, no noise.
#: (``seq_len = 65``: input and target, shifted by one, have 64 steps.)
ABLATION_TASK = SeedTaskConfig(seq_len=65, latent_dim=16, n_active=2, amplitudes=(1.0, 0.5), noise=0.0)

ENCODERS = ("euclidean", "sphere", "sphere_sample")
DYNAMICS = ("identity", "residual", "manifold", "tangent")
INITS = ("zero", "random")
ROTATIONS = ("none", "mean", "velocity", "endpoints", "covariance")
LOSSES = ("mse", "spectral", "mse+spectral", "spectral+entropy")
ENTROPIES = ("power", "magnitude")
METRICS = ("objective", "fidelity", "fidelity_magnitude", "fidelity_phase", "entropy", "pred_mse", "recon_mse", "mse", "oracle", "oracle_mu", "oracle_centred")
_WEIGHTS = ("mse", "fidelity", "entropy", "magnitude_entropy", "phase", "decorrelation", "oracle", "ortho")
#: Config fields that the compiled train step reads as runtime inputs (branch switches,
#: loss weights, PRNG keys, loop length) or that only shape the initial parameters
#: (``init``, ``sigma_init``, ``seed``) or the data (task fields other than shapes).
RUNTIME_FIELDS = (
    "name", "seed", "epochs", "encoder", "dynamics", "init", "sigma_init", "rotation", "loss", "entropy",
    "entropy_weight", "phase_weight", "decorrelation_weight", "oracle_weight", "ortho_weight",
)
#: Task fields that fix array shapes (the others change only the data's values).
_TASK_SHAPE_FIELDS = ("seq_len", "n_channels", "latent_dim")

#: The five ways the seeds' public main script differs from the book's ladder model
#: (issue 7, section 6), as :class:`MainScriptConfig` fields: the book's value of each ...
MAIN_SCRIPT_OFF = {"projections": True, "reduce": "mean", "freeze_keys": False, "memory_kind": "power_law"}
#: ... and the main script's. ``metrics_after_update`` changes the logging, not the model.
MAIN_SCRIPT_ON = {"projections": False, "reduce": "sum", "freeze_keys": True, "memory_kind": "depthwise_conv"}
#: The switches, in the order of the issue: (1) q = k = z, (2) sum over keys, (3) keys
#: frozen across the RK4 stages, (4) depthwise-convolution memory, (5) metrics after update.
MAIN_SCRIPT_SWITCHES = ("projections", "reduce", "freeze_keys", "memory_kind", "metrics_after_update")


# --------------------------------------------------------------------------- sizes
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
        seeds: random seeds (parameter inits and latent samples) per configuration,
            trained together; verdicts compare their per-seed values (>= 3 at quick,
            >= 5 at full by the evidence standard; default 5).
    """

    batch: int = 64
    n_batches_main: int = 10
    n_batches_ablation: int = 15
    seq_len_main: int = 256
    seq_len_ablation: int = 65
    epochs: Optional[int] = None
    seeds: int = 5

    def __post_init__(self):
        for name in ("batch", "n_batches_main", "n_batches_ablation", "seq_len_main", "seq_len_ablation", "seeds"):
            validate.positive_int(name, getattr(self, name))
        if self.epochs is not None:
            validate.positive_int("epochs", self.epochs)

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
