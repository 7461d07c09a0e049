"""Chapter "Hierarchical polarization": seed 003's hierarchical table re-run, then harder tasks.

Seed 003_65b12435998d9bd4.txt, "2026-01-22 Hierarchical Polarization Validated": on
"balanced signal/noise classification" (issue 8, "The synthetic task":
:func:`~spectral_manifolds.data.polarization.make_polarization`, N = 16, d = 32,
sigma = 0.5, 2,500 + 2,500 training sequences) it reports validation accuracy at epoch 3:
flat 99.7 %, shared 93.0 %, per-level 100.0 %, magnitude-weighted 100.0 %, top-down 99.3 %.

:func:`run_condition` trains, for every seed ``s``, the models of :data:`MODELS` on the
same draw ``make_polarization(seed=s)`` (so models pair by seed) and fits both logistic
regressions on ``mean(Z)`` (``(Re, Im)``: 65 parameters; ``|mean Z|``: 33):

* ``flat`` -- ``CVKAN(n_blocks=3)``, mean aggregation and pooling (173,989 parameters);
* ``shared`` / ``per_level`` / ``magnitude`` / ``top_down`` -- ``CVKAN(hierarchy=...)``
  with the seed's ``allocated_levels = 10`` (its 579,660) while only ``log2 N`` levels act;
  :func:`used_parameters` counts what the forward pass touches;
* ``z0`` -- ``CVKAN(n_blocks=0, head_hidden=h)``, ``h`` from ``width_for_params`` so that
  it has the flat model's parameter count within 5 %: no block, the seed-style head, whose
  ``LayerNorm(d)`` removes each sample's mean over channels of ``|pooled Z|``;
* ``z0_raw`` -- the same with ``head_norm=False`` (no ``LayerNorm`` in the head), matched
  to the same target: no block at all, and a head that can read that mean;
* ``R`` / ``C`` -- issue 8's Transformer baselines (:mod:`spectral_manifolds.cvkan.matched`:
  ``RealTransformer(complex_input=True)`` on ``[Re z, Im z]``, ``ComplexTransformer`` from
  torchcvnn layers), ``baseline_layers`` encoder layers of ``baseline_heads`` heads, widened to
  the flat model's parameter count within 5 %.

The seeds of one model and condition train together (``RunConfig.together``,
:func:`~spectral_manifolds.cvkan.seeds_together.train_classifier_seeds` with each seed's own
draw): the same training as one ``train_classifier`` per seed, seed ``s`` building its model
after seeding with ``s``, in one vectorized step for all seeds.

:func:`config_for` holds every size of the chapter (quick and full) in one place;
:func:`run` runs the seed's task and the harder conditions (sigma, N, a random common
phase per sample) and returns a JSON-able :class:`HierarchyResult`. Its tables, verdicts and
plotted series are in :mod:`spectral_manifolds.experiments.cvkan_hierarchy_tables`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.experiments.cvkan_hierarchy_checks import level0_equivalence

__all__ = ["MODELS", "HIERARCHY_MODELS", "Z0_MODELS", "TRANSFORMERS", "CVKAN_MODELS", "WITH_TRANSFORMERS", "LABELS", "SHORT", "SEED_TABLE", "Condition", "RunConfig",
           "HierarchyConfig", "ModelRuns", "ConditionResult", "HierarchyResult", "config_for", "build_model", "used_parameters",
           "run_condition", "run_variants", "run", "level0_equivalence"]

HIERARCHY_MODELS = ("shared", "per_level", "magnitude", "top_down")
Z0_MODELS = ("z0", "z0_raw")  # no block: the seed-style head, and the head without LayerNorm
TRANSFORMERS = ("R", "C")  # issue 8's baselines: real and complex Transformer encoders
CVKAN_MODELS = ("flat", *HIERARCHY_MODELS, *Z0_MODELS)
MODELS = (*CVKAN_MODELS, *TRANSFORMERS)
LABELS = {"flat": "Flat (mean agg.)", "shared": "Hierarchical (shared)", "per_level": "Hierarchical (per-level)",
          "magnitude": "Hierarchical (mag-weighted)", "top_down": "Hierarchical (top-down)", "z0": "Z0 (no block, matched)",
          "z0_raw": "Z0 (no head norm)", "R": "R (real Transformer, matched)", "C": "C (complex Transformer, matched)"}
SHORT = {"flat": "flat", "shared": "shared", "per_level": "per-level", "magnitude": "mag-weighted", "top_down": "top-down", "z0": "Z0",
         "z0_raw": "Z0 raw", "R": "R", "C": "C"}
# seed 003's table: (parameters as printed, val acc % at epoch 3)
SEED_TABLE = {"flat": ("174k", 99.7), "shared": ("58k", 93.0), "per_level": ("580k*", 100.0),
              "magnitude": ("580k*", 100.0), "top_down": ("580k*", 99.3)}


@dataclass(frozen=True)
class Condition:
    """One task: ``make_polarization(sigma=, n_tokens=, common_phase=)``."""

    sigma: float = 0.5
    n_tokens: int = 16
    common_phase: bool = False

    @property
    def label(self) -> str:  # noqa: D102
        return f"σ={self.sigma:g}, N={self.n_tokens}" + (", common phase" if self.common_phase else "")


@dataclass(frozen=True)
class RunConfig:
    """Training of every model of ``models`` on one condition, over ``n_seeds`` seeds."""

    condition: Condition = Condition()
    n_train: int = 5000
    n_test: int = 1000
    n_seeds: int = 5
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    d: int = 32
    hidden: int = 128
    n_signal: int = 4
    allocated_levels: int = 10  # the seed's preallocation
    models: tuple = CVKAN_MODELS
    baseline_layers: int = 2  # encoder layers of R and C
    baseline_heads: int = 4
    together: bool = True  # train the seeds of a model together (seeds_together); False: one at a time

    def __post_init__(self):
        for name in ("n_train", "n_test", "epochs", "batch_size", "d", "hidden", "n_signal", "allocated_levels",
                     "baseline_layers", "baseline_heads"):
            validate.positive_int(name, getattr(self, name))
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        if not self.models:
            raise ValueError("models must name at least one model")
        for m in self.models:
            validate.choice("model", m, MODELS)


@dataclass(frozen=True)
class HierarchyConfig:
    """The chapter: the seed's task (``seed_task``, read at ``seed_epoch``) and the harder ``variants``."""

    seed_task: RunConfig = RunConfig()
    variants: tuple = ()
    seed_epoch: int = 3  # the seed reports validation accuracy at epoch 3

    def __post_init__(self):
        validate.positive_int("seed_epoch", self.seed_epoch)
        if self.seed_task.epochs < self.seed_epoch:
            raise ValueError(f"seed_task.epochs={self.seed_task.epochs} < seed_epoch={self.seed_epoch}")


# the harder conditions on which R and C also run at the full budget: where the architectures
# part (per-level beat flat at sigma = 1.5 and N = 64, the trend turned at N = 256, and the
# common phase is the one task on which blocks beat the best logistic)
WITH_TRANSFORMERS = (Condition(1.5), Condition(0.5, 64), Condition(0.5, 256), Condition(1.0, 16, True))


def config_for(budget: str | None = None) -> HierarchyConfig:
    """All sizes of the chapter. Quick: small subsets on 2 CPU cores; full: the seed's sizes on a GPU.

    Full: the seed's 2,500 + 2,500 sequences, batch 64, 5 seeds, 3 epochs (epoch 3 is the
    seed's column), every model of :data:`MODELS`; variants sigma in {0.5, 1, 1.5, 2} (N = 16),
    N in {64, 256} (sigma = 0.5) and a random common phase (sigma in {0.5, 1}), 2,500
    sequences, batch 128, 3 epochs, the CV-KAN models everywhere and R, C on
    :data:`WITH_TRANSFORMERS`. The seeds of a model train together, so that the chapter
    publishes within one 10-minute GPU call beside the others.
    Quick: 640 sequences, 3 seeds, R and C with one encoder layer; variants sigma in
    {0.5, 1.5}, N = 64 and the common phase, 400 sequences, without the two slowest
    hierarchies (shared, top-down), R and C on sigma = 1.5 only.
    """
    budget = runtime.budget() if budget is None else budget
    validate.choice("budget", budget, runtime.BUDGETS)
    if budget == "full":
        conds = [Condition(s) for s in (0.5, 1.0, 1.5, 2.0)] + [Condition(0.5, n) for n in (64, 256)]
        conds += [Condition(s, 16, True) for s in (0.5, 1.0)]
        variants = tuple(RunConfig(c, n_train=2500, n_test=1000, n_seeds=5, epochs=3, batch_size=128,
                                   models=MODELS if c in WITH_TRANSFORMERS else CVKAN_MODELS) for c in conds)
        return HierarchyConfig(RunConfig(n_train=5000, n_test=2000, n_seeds=5, epochs=3, batch_size=64, models=MODELS), variants)
    conds = [Condition(0.5), Condition(1.5), Condition(0.5, 64), Condition(0.5, 16, True)]
    fast = ("flat", "per_level", "magnitude", *Z0_MODELS)
    variants = tuple(RunConfig(c, n_train=400, n_test=400, n_seeds=3, epochs=3, batch_size=64, baseline_layers=1,
                               models=(*fast, *TRANSFORMERS) if c == Condition(1.5) else fast) for c in conds)
    return HierarchyConfig(RunConfig(n_train=640, n_test=400, n_seeds=3, epochs=3, batch_size=64, baseline_layers=1, models=MODELS), variants)


def build_model(name: str, cfg: RunConfig):
    """The model ``name`` for the condition of ``cfg`` (``z0``, ``z0_raw``, ``R`` and ``C`` matched to ``flat`` within 5 %)."""
    from spectral_manifolds.cvkan.baselines import width_for_params
    from spectral_manifolds.cvkan.matched import transformer_for_params
    from spectral_manifolds.cvkan.models import CVKAN, n_parameters

    validate.choice("model", name, MODELS)
    n = cfg.condition.n_tokens
    if name == "flat":
        return CVKAN(cfg.d, 2, n_blocks=3, hidden=cfg.hidden)
    target = n_parameters(CVKAN(cfg.d, 2, n_blocks=3, hidden=cfg.hidden))
    if name in TRANSFORMERS:
        return transformer_for_params(name, cfg.d, 2, target, heads=cfg.baseline_heads, layers=cfg.baseline_layers)
    if name in Z0_MODELS:
        norm = name == "z0"
        h = width_for_params(lambda w: CVKAN(cfg.d, 2, n_blocks=0, head_hidden=w, head_norm=norm), target, 1, 100_000, tol=0.05)
        return CVKAN(cfg.d, 2, n_blocks=0, head_hidden=h, head_norm=norm)
    levels = max(cfg.allocated_levels, n.bit_length() - 1)
    return CVKAN(cfg.d, 2, hidden=cfg.hidden, hierarchy=name, n_tokens=n, allocated_levels=levels)


def used_parameters(model) -> int:
    """Real parameters the forward pass uses: all, less a hierarchy's preallocated, unused blocks."""
    from spectral_manifolds.cvkan.models import n_parameters

    total = n_parameters(model)
    h = getattr(model, "hierarchy", None)
    return total if h is None else total - h.n_parameters() + h.n_used_parameters()


@dataclass
class ModelRuns:
    """One model over the seeds: ``acc[s][e]`` test accuracy after epoch ``e + 1`` of seed ``s``."""

    n_params: int
    n_used: int
    acc: list
    seconds_per_epoch: float

    def final(self) -> list:
        return [a[-1] for a in self.acc]

    def at_epoch(self, epoch: int) -> list:
        """Per-seed accuracy after ``epoch`` (1-based)."""
        if not 1 <= epoch <= len(self.acc[0]):
            raise ValueError(f"epoch must lie in 1..{len(self.acc[0])}, got {epoch}")
        return [a[epoch - 1] for a in self.acc]


@dataclass
class ConditionResult:
    """Every model and both logistics on one condition, paired by seed."""

    condition: dict
    seeds: list
    models: dict  # name -> ModelRuns
    logistic: dict  # "reim" / "abs" -> per-seed test accuracy
    logistic_params: dict  # "reim" / "abs" -> parameter count
    config: dict = field(default_factory=dict)


@dataclass
class HierarchyResult:
    seed_task: ConditionResult
    variants: list
    seed_epoch: int
    seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def run_condition(cfg: RunConfig, *, progress: bool = True, desc: str | None = None) -> ConditionResult:
    """Train ``cfg.models`` on ``cfg.condition`` for seeds ``0 .. n_seeds - 1`` (one bar over all runs)."""
    return _run_many([cfg], progress=progress, desc=desc)[0]


def _run_many(cfgs: list, *, progress: bool = True, desc: str | None = None) -> list:
    """Per config: each seed's draw and both logistics, then every model over all seeds (one bar step per model)."""
    from spectral_manifolds.data.polarization import logistic_on_mean, make_polarization

    results = []
    total = sum(len(c.models) * (1 if c.together else c.n_seeds) for c in cfgs)
    bar = runtime.progress(total=total, desc=desc or "train", leave=False, disable=not progress)
    for c in cfgs:
        cond = c.condition
        draws = [make_polarization(c.n_train, c.n_test, n_tokens=cond.n_tokens, d=c.d, n_signal=c.n_signal, sigma=cond.sigma,
                                   common_phase=cond.common_phase, seed=s) for s in range(c.n_seeds)]
        logistic, params = {"reim": [], "abs": []}, {}
        for data in draws:
            for f in ("reim", "abs"):
                lf = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features=f)
                logistic[f].append(lf.accuracy)
                params[f] = lf.n_params
        models = {}
        for m in c.models:
            bar.set_postfix_str(f"{cond.label} {m}", refresh=False)
            fits = _fit_seeds(m, c, draws, bar)
            acc = [[float(a) for a in fit.history["test_acc"]] for fit in fits]
            sec = float(np.mean([np.mean(fit.history["seconds"]) for fit in fits])) / (len(fits) if c.together else 1)
            models[m] = ModelRuns(fits[0].n_params, used_parameters(fits[0].model), acc, sec)
            del fits
        cfg_dict = dataclasses.asdict(c)
        results.append(ConditionResult(cfg_dict.pop("condition"), list(range(c.n_seeds)), models, logistic, params, cfg_dict))
    bar.close()
    return results


def _fit_seeds(m: str, c: RunConfig, draws: list, bar) -> list:
    """Model ``m`` on every seed's draw: together (one vectorized step) or one seed at a time."""
    from spectral_manifolds.cvkan.seeds_together import train_classifier_seeds
    from spectral_manifolds.cvkan.train import train_classifier

    build_model(m, c)  # fills matched.transformer_width's cache, so every seed's build draws the same random numbers
    build = lambda f, k: build_model(m, c)  # noqa: E731  (built after the trainer seeds torch with the seed)
    kw = dict(model=build, epochs=c.epochs, batch_size=c.batch_size, lr=c.lr, progress=False)
    if c.together:
        fits = train_classifier_seeds([d.z_train for d in draws], [d.y_train for d in draws], X_test=[d.z_test for d in draws],
                                      y_test=[d.y_test for d in draws], seeds=range(c.n_seeds), per_seed_data=True, **kw)
        bar.update(1)
        return fits
    fits = []
    for s, d in enumerate(draws):
        fits.append(train_classifier(d.z_train, d.y_train, X_test=d.z_test, y_test=d.y_test, seed=s, **kw))
        bar.update(1)
    return fits


def run_variants(cfgs, *, progress: bool = True) -> list:
    """Every :class:`RunConfig` of ``cfgs`` (one bar over all their runs) -> list of :class:`ConditionResult`."""
    cfgs = list(cfgs)
    return _run_many(cfgs, progress=progress, desc="variants") if cfgs else []


def run(cfg: HierarchyConfig, *, progress: bool = True) -> HierarchyResult:
    """The seed's task, then every variant (one progress bar each)."""
    with runtime.Timer() as t:
        seed_task = run_condition(cfg.seed_task, progress=progress, desc="seed's task")
        variants = run_variants(cfg.variants, progress=progress)
    return HierarchyResult(seed_task, variants, cfg.seed_epoch, t.seconds)
