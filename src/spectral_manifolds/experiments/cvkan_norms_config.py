"""Chapter 11's configuration: the tasks, the sizes, the model names and the result container.

Split out of :mod:`spectral_manifolds.experiments.cvkan_norms` (which re-exports every name
here), so that the runs and the tables (:mod:`.cvkan_norms_tables`) both import it.

Seed 003 ("2026-01-20 Layer Normalization Suppresses Polarization") compares the norm after
each polarizing block; in the seed's code ``'none'`` still centred the magnitudes after
every block (issue 8, "The stack"): that is our ``"centre"`` (:data:`SEED_NONE`).

* :class:`Task`, :data:`TASKS` -- the settings of the synthetic task of
  :mod:`spectral_manifolds.data.polarization`: the seed's sigma = 0.5, sigma = 1.5, and a
  random common phase per sample.
* :class:`NormsConfig` -- the sizes of the chapter's runs (:meth:`NormsConfig.for_budget`).
* :data:`Z0_MODELS`, :data:`LOGISTICS` -- the names of the baselines besides the stacks:
  the two **Z0** (no block; the seed-style head, and the same head without its LayerNorm)
  and the logistic regressions on ``mean(Z)``.
* :class:`NormsResult` -- every (task, model, seed) run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from spectral_manifolds import runtime, validate
from spectral_manifolds.cvkan.layers import NORMS

__all__ = ["Task", "TASKS", "NormsConfig", "NormsResult", "LOGISTICS", "SEED_NONE", "Z0_MODELS", "TRANSFORMERS"]

LOGISTICS = {"logistic on (Re, Im) of mean(Z)": "reim", "logistic on |mean(Z)|": "abs"}
SEED_NONE = "centre"  # the seed's norm_type='none' still centred the magnitudes
Z0_MODELS = {"Z0": True, "Z0 (no head norm)": False}  # name -> head_norm (the seed-style head, or none)
TRANSFORMERS = ("R", "C")  # issue 8's baselines: real Transformer, complex Transformer (cvkan.baselines)


@dataclass(frozen=True)
class Task:
    """One setting of the synthetic task (``make_polarization(sigma=..., common_phase=...)``)."""

    name: str
    sigma: float = 0.5
    common_phase: bool = False


TASKS = (
    Task("seed's task (σ = 0.5)", 0.5, False),
    Task("σ = 1.5", 1.5, False),
    Task("common phase (σ = 0.5)", 0.5, True),
)


@dataclass(frozen=True)
class NormsConfig:
    """Sizes of the chapter's runs; :meth:`for_budget` is the one place they depend on the budget."""

    n_train: int = 800
    n_test: int = 400
    epochs: int = 3
    batch_size: int = 64
    n_seeds: int = 3
    tasks: tuple = TASKS
    norms: tuple = NORMS
    with_z0: bool = True
    d: int = 32
    n_tokens: int = 16
    n_signal: int = 4
    n_blocks: int = 3
    hidden: int = 128
    lr: float = 1e-3
    seed_epochs: int = 3  # the seed's tables are at epoch 3
    with_transformers: bool = True  # R and C at the centre stack's parameter count (+-5 %)
    baseline_tasks: tuple | None = None  # names of the tasks R and C train on (None: every task)
    baseline_layers: int = 1  # encoder layers of R and C
    baseline_heads: int = 4
    long_epochs: int = 4  # the long run of section 5 (the first task, every norm)
    long_seeds: int = 2

    def __post_init__(self):
        for name in ("n_train", "n_test", "epochs", "batch_size", "d", "n_tokens", "n_signal", "n_blocks", "hidden", "seed_epochs", "baseline_layers", "baseline_heads", "long_epochs", "long_seeds"):
            validate.positive_int(name, getattr(self, name))
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for a paired verdict, got {self.n_seeds}")
        if self.seed_epochs > self.epochs:
            raise ValueError(f"seed_epochs={self.seed_epochs} must not exceed epochs={self.epochs}")
        if not self.tasks or not all(isinstance(t, Task) for t in self.tasks):
            raise ValueError(f"tasks must be a non-empty tuple of Task, got {self.tasks!r}")
        if not self.norms:
            raise ValueError("norms must name at least one norm")
        for kind in self.norms:
            validate.choice("norm", kind, NORMS)
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    @classmethod
    def for_budget(cls, budget: str | None = None) -> "NormsConfig":
        """quick: CI on two CPU cores; full: the seed's 2,500 + 2,500 sequences, 5 seeds, 5 epochs
        (R and C on every task, the long run 12 epochs, 3 seeds); quick trains R and C on the seed's task only."""
        quick = cls(baseline_tasks=(TASKS[0].name,))  # R and C cost 3 to 7 stack fits each on a CPU
        full = cls(n_train=5000, n_test=2000, epochs=5, batch_size=128, n_seeds=5, long_epochs=12, long_seeds=3)
        return runtime.sized(quick=quick, full=full, budget_name=budget)


@dataclass
class NormsResult:
    """Every run: ``runs`` holds one dict per (task, model, seed) with keys task, model, seed,
    n_params, accuracy (after ``epochs``), accuracy_seed_epochs, test_acc (per epoch; None
    for the logistics), auroc_by_layer (0 = embedding; None for the Z0s and the logistics),
    auroc (after the last block and its norm), auroc_before_norm (last block, before its
    norm), signal_noise_ratio (mean |z| of signal over noise tokens after the last norm),
    grad_norms (stacks only, else None: ``{"block 1", ..., "all"}`` -> per-step gradient norm,
    :mod:`.cvkan_norms_gradients`). ``stability`` holds the long run (:func:`~.cvkan_norms.stability_run`)
    when it was run: one dict per (norm, seed) with grad_norms, train_loss (per epoch) and test_acc."""

    config: dict
    runs: list = field(default_factory=list)
    seconds: float = 0.0
    stability: list = field(default_factory=list)

    def models(self) -> list[str]:
        return list(dict.fromkeys(r["model"] for r in self.runs))

    def values(self, task: str, model: str, metric: str) -> list[float]:
        """Per-seed values of ``metric``, ordered by seed (pairs across models)."""
        rows = sorted((r for r in self.runs if r["task"] == task and r["model"] == model), key=lambda r: r["seed"])
        if not rows:
            raise ValueError(f"no runs for task {task!r} and model {model!r}")
        return [r[metric] for r in rows]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))
