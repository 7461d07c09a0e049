"""The seed runs of chapter 7: our configuration for each, the seed's numbers, its claims.

Seed 001_a78d46c299591382.txt reports, on the seeds' task (DESIGN.md, "The seeds'
experimental setup"): section 13, the debug ablation of seed 002_808d64c66db33027.txt
(Patches A-E, :data:`PATCHES`, with seed 002 section 7.3's tangent step "T" added: the
seed prescribes it, seed 001 never ran it); sections 12 and 14, the full model with
random and with zero-initialized dynamics; experiments 7-11 (sections 7-11).

Each is a :class:`SeedRun`: our :class:`~spectral_manifolds.experiments.ladder.Config`
at the seeds' sizes, the seed's numbers (quoted, labelled as the seed's) and its claims
(:class:`Claim`), each an ordering or a direction of change that
:func:`spectral_manifolds.experiments.seed_experiments.check` decides from per-seed
values with :func:`spectral_manifolds.report.compare`.

Assumptions where the seed is silent (each stated in the chapter): experiments 7-12 and
section 12 ran before the zero-init fix of section 13 (random init); the RVAE's latent
scale starts as in the seeds' code (``sigma_init=None``); the phase term entered in
experiment 9 (weight 0.5) and rose to 1.0 in experiment 10; the magnitude-based entropy
of experiment 7 stays through experiment 11; experiment 8's decorrelation weight is 1.0;
experiment 11's rotation reads experiment 10's endpoints context; the "Spectral Loss" of
sections 7-14 is the optimized objective, section 13's "Spec" the fidelity loss alone;
oracle distances of experiments 7-9 were centred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from spectral_manifolds.experiments.ladder.config import ABLATION_TASK, MAIN_TASK, Config

__all__ = ["Claim", "SeedRun", "PATCHES", "SECTION_14", "EXPERIMENTS", "ALL_RUNS", "TOLERANCE_ORACLE", "TOLERANCE_FLAT"]

#: "does not fall" for oracle distances: the last epoch above the first minus this (about
#: 2% of the seeds' 0.25 level).
TOLERANCE_ORACLE = 0.005
#: "flat" ("stagnated"): relative change between first and last epoch within 5%.
TOLERANCE_FLAT = 0.05


# --------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Claim:
    """One testable statement of a seed, about our runs' epoch means.

    Attributes:
        text: the seed's statement, in short.
        kind: ``"falls"`` / ``"rises"`` (last epoch vs epoch 1), ``"monotone"`` (every epoch
            below the one before), ``"not_falls"`` (last > first - ``tol``), ``"flat"``
            (``|last - first| < tol * |first|``), ``"below"`` (this run's ``metric`` at
            ``epoch`` below ``other``'s ``other_metric`` at ``other_epoch``), each per seed.
        run: the key of the run it is about; metric: a :data:`ladder.METRICS` name.
        other, other_metric, epoch, other_epoch: for ``"below"`` (epochs: -1 = last).
        tol: for ``"not_falls"`` (absolute) and ``"flat"`` (relative).
    """

    text: str
    kind: str
    run: str
    metric: str
    other: Optional[str] = None
    other_metric: Optional[str] = None
    epoch: int = -1
    other_epoch: int = -1
    tol: float = 0.0

    def __post_init__(self):
        if self.kind not in ("falls", "rises", "monotone", "not_falls", "flat", "below"):
            raise ValueError(f"unknown claim kind {self.kind!r}")
        if self.kind == "below" and self.other is None:
            raise ValueError("a 'below' claim needs another run (other)")


@dataclass(frozen=True)
class SeedRun:
    """A run the seeds reported, with our configuration for it and the seed's numbers.

    Attributes:
        key: short name ("A", "E zero init", "14", "7", ...).
        title: what was run.
        source: where the seed reports it.
        config: our :class:`Config` at the seeds' sizes.
        seed: the seed's numbers, ``{our metric: {epoch: value}}``.
        labels: ``{our metric: the seed's name for it}``.
        claims: the seed's claims about it (each decided by :func:`check`).
        ablation: on the ablation task (section 13) rather than the main task.
    """

    key: str
    title: str
    source: str
    config: Config
    seed: Mapping[str, Mapping[int, float]]
    labels: Mapping[str, str]
    claims: Sequence[Claim] = ()
    ablation: bool = False


# --------------------------------------------------------------------------- section 13
def _patch(name: str, **kw) -> Config:
    return Config(name=name, task=ABLATION_TASK, n_batches=15, **kw)


_PATCH_LABELS = {"pred_mse": "MSE", "fidelity": "Spec", "objective": "Loss"}

#: Seed 001, section 13: Patches A-E of seed 002 (numbers quoted from the seed).
PATCHES: dict[str, SeedRun] = {
    r.key: r
    for r in (
        SeedRun(
            "A", "Euclidean latent, identity dynamics, MSE", "seed 001 §13 / seed 002 §1",
            _patch("A", encoder="euclidean", dynamics="identity", loss="mse"),
            {"pred_mse": {1: 0.5400, 2: 0.2470, 3: 0.0816, 4: 0.0190, 5: 0.0071}},
            _PATCH_LABELS,
            (Claim("MSE falls in every epoch", "monotone", "A", "pred_mse"),),
            ablation=True,
        ),
        SeedRun(
            "B", "Euclidean latent, identity dynamics, spectral loss", "seed 001 §13 / seed 002 §2.1",
            _patch("B", encoder="euclidean", dynamics="identity", loss="spectral"),
            {"fidelity": {1: 1.7536, 2: 1.4256, 3: 1.2084, 4: 1.0417, 5: 0.9560}},
            _PATCH_LABELS,
            (Claim("spectral loss falls in every epoch", "monotone", "B", "fidelity"),),
            ablation=True,
        ),
        SeedRun(
            "C", "spherical latent, identity dynamics, MSE + spectral", "seed 001 §13 / seed 002 §3",
            _patch("C", encoder="sphere", dynamics="identity", loss="mse+spectral"),
            {"objective": {1: 2.73, 5: 1.86}, "pred_mse": {1: 0.59, 5: 0.34}, "fidelity": {1: 2.14, 5: 1.52}},
            _PATCH_LABELS,
            (
                Claim("the loss falls (the model learns)", "falls", "C", "objective"),
                Claim("the sphere costs MSE: above Patch A's", "below", "A", "pred_mse", other="C", other_metric="pred_mse"),
                Claim("the sphere costs spectral fit: above Patch B's", "below", "B", "fidelity", other="C", other_metric="fidelity"),
            ),
            ablation=True,
        ),
        SeedRun(
            "D", "spherical latent, residual RNN cell, MSE + spectral", "seed 001 §13 / seed 002 §4",
            _patch("D", encoder="sphere", dynamics="residual", loss="mse+spectral"),
            {"objective": {5: 1.93}, "pred_mse": {5: 0.36}, "fidelity": {5: 1.57}},
            _PATCH_LABELS,
            (Claim("the residual cell is worse than identity (Patch C)", "below", "C", "objective", other="D", other_metric="objective"),),
            ablation=True,
        ),
        SeedRun(
            "T", "spherical latent, tangent step h = 0.1 + retraction, MSE + spectral", "seed 002 §7.3 (not run in seed 001)",
            _patch("T", encoder="sphere", dynamics="tangent", loss="mse+spectral"),
            {},
            _PATCH_LABELS,
            (Claim("the minimal manifold step learns: the loss falls", "falls", "T", "objective"),),
            ablation=True,
        ),
        SeedRun(
            "E random init", "spherical latent, manifold dynamics (random init), MSE + spectral", "seed 001 §13 / seed 002 §7",
            _patch("E random init", encoder="sphere", dynamics="manifold", init="random", loss="mse+spectral"),
            {"objective": {5: 2.67}, "pred_mse": {5: 0.63}, "fidelity": {5: 2.03}},
            _PATCH_LABELS,
            (Claim("random dynamics are worse than identity (Patch C)", "below", "C", "objective", other="E random init", other_metric="objective"),),
            ablation=True,
        ),
        SeedRun(
            "E zero init", "spherical latent, manifold dynamics (zero init), MSE + spectral", "seed 001 §13 / seed 002 §7",
            _patch("E zero init", encoder="sphere", dynamics="manifold", init="zero", loss="mse+spectral"),
            {"objective": {5: 1.79}, "pred_mse": {5: 0.42}, "fidelity": {5: 1.37}},
            _PATCH_LABELS,
            (
                Claim("zero init beats random init (loss)", "below", "E zero init", "objective", other="E random init", other_metric="objective"),
                Claim("zero init beats random init (spectral)", "below", "E zero init", "fidelity", other="E random init", other_metric="fidelity"),
                Claim("beats identity (Patch C) on the loss", "below", "E zero init", "objective", other="C", other_metric="objective"),
                Claim("beats the residual cell (Patch D) on the loss", "below", "E zero init", "objective", other="D", other_metric="objective"),
                Claim("better spectral loss than identity (Patch C)", "below", "E zero init", "fidelity", other="C", other_metric="fidelity"),
            ),
            ablation=True,
        ),
    )
}

# --------------------------------------------------------------------------- sections 7-14
_MAIN_LABELS = {"objective": "Spectral Loss", "oracle": "Oracle Distance", "mse": "MSE (Tracking)"}
_CENTRED_LABELS = {"objective": "Spectral Loss", "oracle_centred": "Oracle Distance (centred)", "mse": "MSE (Tracking)"}


def _main(name: str, **kw) -> Config:
    kw.setdefault("init", "random")
    return Config(name=name, task=MAIN_TASK, n_batches=10, **kw)


def _no_fall(run: str, metric: str = "oracle") -> Claim:
    return Claim("the oracle distance does not fall", "not_falls", run, metric, tol=TOLERANCE_ORACLE)


#: Seed 001, section 14: section 12's run with zero-initialized dynamics.
SECTION_14 = SeedRun(
    "14", "full model, zero-initialized dynamics, spectral loss + entropy", "seed 001 §14",
    _main("14", init="zero"),
    {"objective": {1: 1.996, 5: 1.033}, "oracle": {1: 0.241, 5: 0.253}, "mse": {1: 1.27, 5: 2.07}},
    _MAIN_LABELS,
    (
        Claim("the spectral loss falls", "falls", "14", "objective"),
        Claim("zero init ends below random init (section 12)", "below", "14", "objective", other="12", other_metric="objective"),
        _no_fall("14"),
        Claim("MSE rises", "rises", "14", "mse"),
    ),
)

#: Seed 001, experiments 7-12 (and the control run for experiment 8's decorrelation).
EXPERIMENTS: dict[str, SeedRun] = {
    r.key: r
    for r in (
        SeedRun(
            "7", "dynamic Cayley rotation (mean context), magnitude entropy", "seed 001 §7",
            _main("7", epochs=3, rotation="mean", entropy="magnitude", phase_weight=0.0),
            {"objective": {1: 1.35, 2: 1.32, 3: 1.29}, "oracle_centred": {1: 0.226, 2: 0.243, 3: 0.244}, "mse": {1: 1.33, 2: 1.37, 3: 1.39}},
            _CENTRED_LABELS,
            (
                Claim("the spectral loss falls", "falls", "7", "objective"),
                _no_fall("7", "oracle_centred"),
                Claim("MSE rises", "rises", "7", "mse"),
            ),
        ),
        SeedRun(
            "8", "covariance context + decorrelation loss", "seed 001 §8",
            _main("8", rotation="covariance", entropy="magnitude", phase_weight=0.0, decorrelation_weight=1.0),
            {"objective": {5: 1.16}, "oracle_centred": {1: 0.215, 5: 0.237}},
            _CENTRED_LABELS,
            (
                Claim("the oracle distance rises", "rises", "8", "oracle_centred"),
                Claim("the spectral loss stagnates", "flat", "8", "objective", tol=TOLERANCE_FLAT),
                Claim("decorrelation hurts: the oracle distance ends above the control without it", "below", "8 control", "oracle_centred", other="8", other_metric="oracle_centred"),
            ),
        ),
        SeedRun(
            "8 control", "experiment 8 without the decorrelation loss (ours, a control)", "(not in the seed)",
            _main("8 control", rotation="covariance", entropy="magnitude", phase_weight=0.0),
            {},
            _CENTRED_LABELS,
            (),
        ),
        SeedRun(
            "9", "phase-aware fidelity loss (phase weight 0.5), velocity context", "seed 001 §9",
            _main("9", epochs=3, rotation="velocity", entropy="magnitude", phase_weight=0.5),
            {"objective": {3: 1.35}, "oracle_centred": {3: 0.205}},
            _CENTRED_LABELS,
            (
                Claim("lowest oracle distance yet: below experiment 7's", "below", "9", "oracle_centred", other="7", other_metric="oracle_centred"),
                Claim("lowest oracle distance yet: below experiment 8's (both after 3 epochs)", "below", "9", "oracle_centred", other="8", other_metric="oracle_centred", other_epoch=3),
                Claim("a harder loss: the magnitude part ends above experiment 7's", "below", "7", "fidelity_magnitude", other="9", other_metric="fidelity_magnitude"),
            ),
        ),
        SeedRun(
            "10", "endpoints context, phase weight 1.0, uncentred oracle distance", "seed 001 §10",
            _main("10", rotation="endpoints", entropy="magnitude", phase_weight=1.0),
            {"objective": {1: 2.14, 5: 1.19}, "oracle": {5: 0.248}, "mse": {1: 1.35, 5: 2.00}},
            _MAIN_LABELS,
            (
                Claim("the spectral loss falls", "falls", "10", "objective"),
                Claim("the uncentred distance is the stricter: above the centred one", "below", "10", "oracle_centred", other="10", other_metric="oracle"),
                _no_fall("10"),
                Claim("MSE rises", "rises", "10", "mse"),
            ),
        ),
        SeedRun(
            "11", "direct oracle supervision (MSE, weight 1) with the dynamic rotation", "seed 001 §11",
            _main("11", rotation="endpoints", entropy="magnitude", phase_weight=1.0, oracle_weight=1.0, ortho_weight=0.1),
            {
                "objective": {1: 2.30, 2: 2.12, 3: 1.86, 4: 1.59, 5: 1.39},
                "oracle": {1: 0.251, 2: 0.251, 3: 0.249, 4: 0.252, 5: 0.250},
                "mse": {1: 1.36, 2: 1.42, 3: 1.51, 4: 1.69, 5: 1.83},
            },
            _MAIN_LABELS,
            (
                _no_fall("11"),
                Claim("the spectral loss falls", "falls", "11", "objective"),
                Claim("MSE rises", "rises", "11", "mse"),
            ),
        ),
        SeedRun(
            "12", "spectral loss + entropy only (random init)", "seed 001 §12",
            _main("12"),
            {
                "objective": {1: 2.14, 2: 2.00, 3: 1.89, 4: 1.76, 5: 1.61},
                "oracle": {1: 0.242, 2: 0.250, 3: 0.250, 4: 0.251, 5: 0.250},
                "mse": {1: 1.31, 2: 1.35, 3: 1.38, 4: 1.43, 5: 1.51},
            },
            _MAIN_LABELS,
            (
                Claim("the spectral loss falls", "falls", "12", "objective"),
                _no_fall("12"),
                Claim("MSE rises", "rises", "12", "mse"),
            ),
        ),
    )
}

#: Every run, ablation task first (one compile per task).
ALL_RUNS: dict[str, SeedRun] = {**PATCHES, SECTION_14.key: SECTION_14, **EXPERIMENTS}
