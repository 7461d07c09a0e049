"""Chapter 7's runs: the debug ladder of seed 002 and one trainer for every seed experiment.

Seed 002_808d64c66db33027.txt is an ordered debug plan: strip the ManifoldFormer down to
a trivial model and add one part back at a time (Patches A-E, and section 7.3's minimal
tangent step). Seed 001_a78d46c299591382.txt, section 13 reports running it, section 14
the full model with the fix it found (zero-initialized dynamics), sections 7-12 the
experiments before. All of it runs through one trainer. By concern:

* :mod:`.config` -- :class:`Config` (and :class:`~.config.MainScriptConfig`); the tasks,
  the switchable parts and :class:`Scale` in :mod:`.options`, re-exported by :mod:`.config`;
* :mod:`.modules` -- :class:`LadderModel` and its cells;
* :mod:`.losses` -- the fidelity loss, the latent entropy, the other terms, the metrics;
* :mod:`.trainer` -- :func:`run_seeds` (seeds vmapped in one step), :func:`run`,
  :class:`StepCache`, :class:`Result`.
"""

from spectral_manifolds.experiments.ladder.config import (
    ABLATION_TASK,
    DYNAMICS,
    ENCODERS,
    ENTROPIES,
    INITS,
    LOSSES,
    MAIN_TASK,
    METRICS,
    ROTATIONS,
    RUNTIME_FIELDS,
    Config,
    Scale,
)
from spectral_manifolds.experiments.ladder.losses import decorrelation_loss, fidelity_loss, fidelity_parts, latent_entropy, metrics, terms
from spectral_manifolds.experiments.ladder.modules import LadderModel, LadderOutput, ResidualCell, TangentStepCell
from spectral_manifolds.experiments.ladder.trainer import Result, StepCache, make_data, run, run_many, run_seeds

__all__ = [
    "MAIN_TASK", "ABLATION_TASK", "ENCODERS", "DYNAMICS", "INITS", "ROTATIONS", "LOSSES", "ENTROPIES", "METRICS",
    "RUNTIME_FIELDS", "Config", "Scale", "Result", "StepCache", "ResidualCell", "TangentStepCell", "LadderModel",
    "LadderOutput", "decorrelation_loss", "fidelity_loss", "fidelity_parts", "latent_entropy", "terms", "metrics", "make_data", "run",
    "run_seeds", "run_many",
]
