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
  to the same target: no block at all, and a head that can read that mean.

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

__all__ = ["MODELS", "HIERARCHY_MODELS", "Z0_MODELS", "LABELS", "SHORT", "SEED_TABLE", "Condition", "RunConfig",
           "HierarchyConfig", "ModelRuns", "ConditionResult", "HierarchyResult", "config_for", "build_model", "used_parameters",
           "run_condition", "run_variants", "run", "level0_equivalence"]

HIERARCHY_MODELS = ("shared", "per_level", "magnitude", "top_down")
Z0_MODELS = ("z0", "z0_raw")  # no block: the seed-style head, and the head without LayerNorm
MODELS = ("flat", *HIERARCHY_MODELS, *Z0_MODELS)
LABELS = {"flat": "Flat (mean agg.)", "shared": "Hierarchical (shared)", "per_level": "Hierarchical (per-level)",
          "magnitude": "Hierarchical (mag-weighted)", "top_down": "Hierarchical (top-down)", "z0": "Z0 (no block, matched)",
          "z0_raw": "Z0 (no head norm)"}
SHORT = {"flat": "flat", "shared": "shared", "per_level": "per-level", "magnitude": "mag-weighted", "top_down": "top-down", "z0": "Z0",
         "z0_raw": "Z0 raw"}
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
    models: tuple = MODELS

    def __post_init__(self):
        for name in ("n_train", "n_test", "epochs", "batch_size", "d", "hidden", "n_signal", "allocated_levels"):
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


def config_for(budget: str | None = None) -> HierarchyConfig:
    """All sizes of the chapter. Quick: small subsets on 2 CPU cores; full: the seed's sizes on a GPU.

    Full: the seed's 2,500 + 2,500 sequences, batch 64, 5 seeds, 3 epochs (epoch 3 is the
    seed's column); variants sigma in {0.5, 1, 1.5, 2} (N = 16), N in {64, 256} (sigma = 0.5)
    and a random common phase (sigma in {0.5, 1}), 2,500 sequences, batch 128, 3 epochs;
    about 25,000 optimizer steps in all (315 runs), so that the chapter publishes within
    one 10-minute GPU call beside the others.
    Quick: 640 sequences, 3 seeds; variants sigma in {0.5, 1.5}, N = 64 and the common phase,
    400 sequences, without the two slowest hierarchies (shared, top-down).
    """
    budget = runtime.budget() if budget is None else budget
    validate.choice("budget", budget, runtime.BUDGETS)
    if budget == "full":
        conds = [Condition(s) for s in (0.5, 1.0, 1.5, 2.0)] + [Condition(0.5, n) for n in (64, 256)]
        conds += [Condition(s, 16, True) for s in (0.5, 1.0)]
        variants = tuple(RunConfig(c, n_train=2500, n_test=1000, n_seeds=5, epochs=3, batch_size=128) for c in conds)
        return HierarchyConfig(RunConfig(n_train=5000, n_test=2000, n_seeds=5, epochs=3, batch_size=64), variants)
    conds = [Condition(0.5), Condition(1.5), Condition(0.5, 64), Condition(0.5, 16, True)]
    fast = ("flat", "per_level", "magnitude", *Z0_MODELS)
    variants = tuple(RunConfig(c, n_train=400, n_test=400, n_seeds=3, epochs=3, batch_size=64, models=fast) for c in conds)
    return HierarchyConfig(RunConfig(n_train=640, n_test=400, n_seeds=3, epochs=3, batch_size=64), variants)


def build_model(name: str, cfg: RunConfig):
    """The CV-KAN model ``name`` for the condition of ``cfg`` (``z0`` and ``z0_raw`` matched to ``flat`` within 5 %)."""
    from spectral_manifolds.cvkan.baselines import width_for_params
    from spectral_manifolds.cvkan.models import CVKAN, n_parameters

    validate.choice("model", name, MODELS)
    n = cfg.condition.n_tokens
    if name == "flat":
        return CVKAN(cfg.d, 2, n_blocks=3, hidden=cfg.hidden)
    if name in Z0_MODELS:
        norm = name == "z0"
        target = n_parameters(CVKAN(cfg.d, 2, n_blocks=3, hidden=cfg.hidden))
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
    from spectral_manifolds.cvkan.train import train_classifier
    from spectral_manifolds.data.polarization import logistic_on_mean, make_polarization

    jobs = [(i, s, m) for i, c in enumerate(cfgs) for s in range(c.n_seeds) for m in c.models]
    bar = runtime.progress(jobs, desc=desc or "train", leave=False, disable=not progress)
    out = [dict(models={}, logistic={"reim": [], "abs": []}, params={}) for _ in cfgs]
    data_key, data = None, None
    for i, s, m in bar:
        c = cfgs[i]
        if data_key != (i, s):
            cond = c.condition
            data = make_polarization(c.n_train, c.n_test, n_tokens=cond.n_tokens, d=c.d, n_signal=c.n_signal,
                                     sigma=cond.sigma, common_phase=cond.common_phase, seed=s)
            data_key = (i, s)
            for f in ("reim", "abs"):
                lf = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features=f)
                out[i]["logistic"][f].append(lf.accuracy)
                out[i]["params"][f] = lf.n_params
        bar.set_postfix_str(f"{c.condition.label} seed {s} {m}", refresh=False)
        net = build_model(m, c)
        used = used_parameters(net)
        fit = train_classifier(data.z_train, data.y_train, X_test=data.z_test, y_test=data.y_test, model=net, seed=s,
                               epochs=c.epochs, batch_size=c.batch_size, lr=c.lr, progress=False)
        runs = out[i]["models"].setdefault(m, dict(n_params=fit.n_params, n_used=used, acc=[], sec=[]))
        runs["acc"].append([float(a) for a in fit.history["test_acc"]])
        runs["sec"].append(float(np.mean(fit.history["seconds"])))
    bar.close()
    results = []
    for c, o in zip(cfgs, out):
        models = {m: ModelRuns(r["n_params"], r["n_used"], r["acc"], float(np.mean(r["sec"]))) for m, r in o["models"].items()}
        cfg_dict = dataclasses.asdict(c)
        results.append(ConditionResult(cfg_dict.pop("condition"), list(range(c.n_seeds)), models, o["logistic"], o["params"], cfg_dict))
    return results


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


def level0_equivalence(n_tokens: int = 16, d: int = 32, seed: int = 0) -> dict:
    """On unit-magnitude tokens, ``magnitude`` and ``per_level`` (same weights) agree at level 0
    (all weights ``mean_d |z_i| = 1``) and part after it. Returns the largest ``|difference|``
    of the tokens after level 0 and after all levels, and the spread of ``mean_d |z_i|`` after level 0."""
    import torch

    from spectral_manifolds.cvkan.hierarchy import HierarchicalPolarization
    from spectral_manifolds.data.polarization import make_polarization

    runtime.seed_everything(seed)
    per_level = HierarchicalPolarization(d, n_tokens, "per_level").double()
    mag = HierarchicalPolarization(d, n_tokens, "magnitude").double()
    mag.load_state_dict(per_level.state_dict())
    z = make_polarization(64, 2, n_tokens=n_tokens, d=d, seed=seed, backend="torch").z_train.to(torch.complex128)
    z = z / z.abs()  # exactly unit magnitude in float64 (complex64 storage rounds |z| to 1 +- 1e-7)
    with torch.no_grad():
        a0, b0 = per_level.level(z, 0), mag.level(z, 0)
        w = b0.abs().mean(-1)
        return {"level 0": float((a0 - b0).abs().max()), "all levels": float((per_level(z) - mag(z)).abs().max()),
                "input: std of mean_d |z_i|": float(z.abs().mean(-1).std()),
                "after level 0: std of mean_d |z_i|": float(w.std())}
