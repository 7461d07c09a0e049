"""Chapter "What the phases encode": phase vs position, phase by class, interventions, real twins.

Seed 003_65b12435998d9bd4.txt, "Open Research Questions", "Phase Encoding Semantics"
(priority high): "What do phase values encode after training? Do phases cluster around
certain angles for semantic classes? Is there a relationship between phase and token
position?"; issue 8, chapter 6, adds "interventions that randomize phase keeping magnitude
(and the reverse)" and "is complex needed at all: real-polar and real-Cartesian twins at
matched parameters".

The tasks are synthetic, so what carries the label is known by construction
(:data:`TASKS`, :func:`make_task`):

* ``"seed"`` -- the seed's task (``make_polarization``, sigma = 0.5): unit magnitudes,
  the label is in the *phases* (4 tokens with phases near 0);
* ``"common_phase"`` -- the same with one random phase per sample added to every token:
  the label is in the phases' *coherence*, not in any absolute angle;
* ``"magnitude"`` -- the same labels and signal positions, but every phase uniform and
  independent of the label; log-magnitudes ``~ N(0, log_sd)``, plus ``log_gain`` at the
  signal tokens: the label is in the *magnitudes* only (``make_magnitude_polarization``).

The measurements on a trained flat CV-KAN (``CVKAN(n_blocks=3)``, chapter 13's ``flat``),
on its token states ``[Z_0 (input), Z_1, ..., Z_K]`` -- the interventions ``shuffle`` and
``forward_from``, ``circular_linear``, ``resultant_length``, ``probe`` and their closed-form
nulls -- are in :mod:`spectral_manifolds.cvkan.phase_probes` and importable from here.

:func:`config_for` holds every size (quick and full); :func:`run` trains, per task and seed,
the CV-KAN, its real twins (:mod:`spectral_manifolds.cvkan.twins`), Z0 in chapter 13's two
forms, baselines R and C (``cvkan.matched``) and both logistic regressions on ``mean(Z)``, all on the
same draw, and measures. The digits run is in :mod:`spectral_manifolds.experiments.cvkan_phases_digits`.
Tables and verdicts are in :mod:`spectral_manifolds.experiments.cvkan_phases_tables`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import runtime, validate
from spectral_manifolds.cvkan.phase_probes import (
    KINDS, accuracy, circular_linear, exact_checks, forward_from, null_correlation, null_resultant, pooled_states, probe,
    probe_features, resultant_length, shuffle, signal_first, states,
)
from spectral_manifolds.data.polarization import PolarizationData, make_magnitude_polarization, make_polarization
from spectral_manifolds.experiments.cvkan_phases_digits import run_digits

__all__ = ["TASKS", "MODELS", "exact_checks", "LABELS", "PhasesConfig", "TaskResult", "PhasesResult", "config_for", "build_model",
           "run_task", "run_digits", "run", "make_task", "signal_first", "states", "forward_from", "shuffle", "circular_linear",
           "resultant_length", "probe", "null_correlation", "null_resultant"]

TASKS = ("seed", "common_phase", "magnitude")
MODELS = ("cvkan", "polar", "cartesian", "z0", "z0_raw", "R", "C")
LABELS = {"cvkan": "CV-KAN (flat, 3 blocks)", "polar": "real-polar twin", "cartesian": "real-Cartesian twin",
          "z0": "Z0 (no block, matched)", "z0_raw": "Z0 (no head norm)",
          "R": "R (real Transformer)", "C": "C (complex Transformer)"}
TASK_LABELS = {"seed": "seed's task (label in the phases)", "common_phase": "random common phase (label in phase coherence)",
               "magnitude": "magnitude task (label in the magnitudes)"}


# --------------------------------------------------------------------------- tasks
def make_task(task: str, n_train: int, n_test: int, *, d: int = 32, n_tokens: int = 16, n_signal: int = 4, sigma: float = 0.5,
              log_gain: float = 1.0, log_sd: float = 0.5, seed: int = 0) -> PolarizationData:
    """One draw of ``task`` (module docstring): ``make_polarization`` for ``"seed"`` and ``"common_phase"``,
    ``make_magnitude_polarization`` (the labels and signal positions of ``make_polarization(seed=seed)``,
    every token redrawn from ``default_rng([seed, split, 2])``) for ``"magnitude"``, its ``config``
    completed with ``sigma``, ``common_phase`` and ``task``. Every argument is checked for every task
    (a bad config fails before any training). Tokens: (n, n_tokens, d) complex64."""
    validate.choice("task", task, TASKS)
    if not (np.isfinite(log_gain) and np.isfinite(log_sd) and log_sd >= 0):
        raise ValueError(f"log_gain must be finite and log_sd finite and >= 0, got {log_gain!r}, {log_sd!r}")
    if task != "magnitude":
        return make_polarization(n_train, n_test, n_tokens=n_tokens, d=d, n_signal=n_signal, sigma=sigma,
                                 common_phase=task == "common_phase", seed=seed)
    if not np.isfinite(sigma) or sigma < 0:  # unused by this task, checked as for the others
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    data = make_magnitude_polarization(n_train, n_test, n_tokens=n_tokens, d=d, n_signal=n_signal, log_gain=log_gain,
                                       log_sd=log_sd, seed=seed)
    config = {**data.config, "sigma": float(sigma), "common_phase": False, "task": task}
    return dataclasses.replace(data, config=config)


# --------------------------------------------------------------------------- config and runs
@dataclass(frozen=True)
class PhasesConfig:
    """Every size of the chapter (one task draw per seed, every model trained on it)."""

    tasks: tuple = TASKS
    models: tuple = MODELS
    n_train: int = 5000
    n_test: int = 2000
    n_seeds: int = 5
    epochs: int = 4
    batch_size: int = 128
    lr: float = 1e-3
    d: int = 32
    hidden: int = 128
    n_blocks: int = 3
    n_tokens: int = 16
    n_signal: int = 4
    sigma: float = 0.5
    log_gain: float = 1.0
    log_sd: float = 0.5
    n_probe: int = 2000  # training samples whose pooled states fit the probes
    logistic_iter: int = 100  # L-BFGS iterations of the logistic on mean(Z) (its accuracy is settled long before)
    digits_epochs: int = 20  # sklearn digits as 2x2 patch tokens (0: skip that section)

    def __post_init__(self):
        for name in ("n_train", "n_test", "epochs", "batch_size", "d", "hidden", "n_blocks", "n_tokens", "n_signal", "n_probe", "logistic_iter"):
            validate.positive_int(name, getattr(self, name))
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        if not (isinstance(self.digits_epochs, int) and self.digits_epochs >= 0):
            raise ValueError(f"digits_epochs must be an int >= 0, got {self.digits_epochs!r}")
        if not self.tasks or not self.models or "cvkan" not in self.models:
            raise ValueError("tasks must be non-empty and models must include 'cvkan'")
        for t in self.tasks:
            validate.choice("task", t, TASKS)
        for m in self.models:
            validate.choice("model", m, MODELS)


def config_for(budget: str | None = None) -> PhasesConfig:
    """Quick: 480 training and 320 test sequences, 3 seeds, 3 epochs (2 CPU cores). Full: the seed's 2,500 + 2,500
    training sequences, 2,000 test, 5 seeds, 4 epochs at batch 128: 3 tasks x 5 seeds x 5 models =
    75 runs of 160 steps (about 12,000 steps in all), then sklearn digits (1,347 training images)
    for 20 epochs x 5 seeds (about 2,200 steps)."""
    return runtime.sized(quick=PhasesConfig(n_train=480, n_test=320, n_seeds=3, epochs=3, batch_size=64, n_probe=480,
                                          logistic_iter=50, digits_epochs=2),
                         full=PhasesConfig(), budget_name=budget)


def build_model(name: str, cfg: PhasesConfig, *, target: int | None = None):
    """``cvkan``: ``CVKAN(d, 2, n_blocks)``; ``polar`` / ``cartesian``: :func:`~spectral_manifolds.cvkan.twins.twin_for_params`,
    ``z0`` / ``z0_raw``: chapter 13's Z0 (``cvkan_hierarchy.build_model``) and ``R`` / ``C``: the Transformers of
    :func:`~spectral_manifolds.cvkan.matched.transformer_for_params` (4 heads, 1 layer), matched to ``target``
    (default: the CV-KAN's count) within 5 %."""
    from spectral_manifolds.cvkan.baselines import width_for_params
    from spectral_manifolds.cvkan.models import CVKAN, n_parameters
    from spectral_manifolds.cvkan.twins import twin_for_params

    validate.choice("model", name, MODELS)
    if name == "cvkan":
        return CVKAN(cfg.d, 2, n_blocks=cfg.n_blocks, hidden=cfg.hidden)
    target = n_parameters(CVKAN(cfg.d, 2, n_blocks=cfg.n_blocks, hidden=cfg.hidden)) if target is None else target
    if name in ("polar", "cartesian"):
        return twin_for_params(cfg.d, 2, name, target, n_blocks=cfg.n_blocks)
    if name in ("R", "C"):
        from spectral_manifolds.cvkan.matched import transformer_for_params

        return transformer_for_params(name, cfg.d, 2, target)
    if cfg.n_blocks == 3:  # chapter 13's Z0, matched to its flat stack (the same model as ours)
        from spectral_manifolds.experiments import cvkan_hierarchy as ch

        return ch.build_model(name, ch.RunConfig(d=cfg.d, hidden=cfg.hidden))
    norm = name == "z0"
    h = width_for_params(lambda w: CVKAN(cfg.d, 2, n_blocks=0, head_hidden=w, head_norm=norm), target, 1, 100_000, tol=0.05)
    return CVKAN(cfg.d, 2, n_blocks=0, head_hidden=h, head_norm=norm)


@dataclass
class TaskResult:
    """One task over the seeds; lists are per seed (inner lists per state ``k = 0..K``).

    ``acc[model]``: clean test accuracy; ``shuffled[model][kind]``: accuracy with ``kind`` shuffled at
    the input (every model) and, for ``cvkan``, ``shuffled_states[kind][s][k]`` after block ``k``;
    ``probes[kind][s][k]``, ``resultant[class][s][k]``; ``position[which][s][k]`` with ``which`` in
    ``trained/untrained x random/fixed`` positions; the nulls are closed forms (module docstring)."""

    task: str
    seeds: list
    n_params: dict
    acc: dict
    logistic: dict
    logistic_params: dict
    shuffled: dict
    shuffled_states: dict
    probes: dict
    resultant: dict
    position: dict
    nulls: dict
    seconds: float = 0.0


@dataclass
class PhasesResult:
    tasks: list
    config: dict
    seconds: float
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def task(self, name: str) -> TaskResult:
        for t in self.tasks:
            if t.task == name:
                return t
        raise ValueError(f"no task {name!r} in this result; it has {[t.task for t in self.tasks]}")


def _measure_cvkan(net, untrained, data, cfg: PhasesConfig, seed: int, out: dict) -> None:
    """Interventions after every block, probes and resultant lengths per state, phase vs position."""
    z_te = torch.from_numpy(np.asarray(data.z_test))
    st = states(net, z_te)
    for kind in KINDS:
        out["shuffled_states"][kind].append([accuracy(forward_from(net, shuffle(s, kind, seed), k), data.y_test) for k, s in enumerate(st)])
    st_tr = states(net, np.asarray(data.z_train)[: cfg.n_probe])
    p_tr, p_te = pooled_states(net, st_tr), pooled_states(net, st)
    y_tr = np.asarray(data.y_train)[: cfg.n_probe]
    for kind in KINDS:
        out["probes"][kind].append([probe(probe_features(a, kind), y_tr, probe_features(b, kind), data.y_test) for a, b in zip(p_tr, p_te)])
    per_state = [resultant_length(p, data.y_test) for p in p_te]
    for c in (0, 1):
        out["resultant"][str(c)].append([r[c] for r in per_state])
    pos = np.asarray(data.y_test) == 1
    z_fixed = signal_first(np.asarray(data.z_test)[pos], np.asarray(data.signal_test)[pos])
    index = np.tile(np.arange(cfg.n_tokens), pos.sum())
    for tag, model in (("trained", net), ("untrained", untrained)):
        for where, z in (("random", np.asarray(data.z_test)[pos]), ("fixed", z_fixed)):
            sts = [s[torch.from_numpy(pos)] for s in st] if (tag, where) == ("trained", "random") else states(model, z)
            rs = [float(circular_linear(index, torch.angle(s).reshape(-1, cfg.d).numpy()).mean()) for s in sts]
            out["position"][f"{tag}, {where}"].append(rs)


def run_task(task: str, cfg: PhasesConfig, *, progress: bool = True) -> TaskResult:
    """Every model of ``cfg.models`` on ``task`` for seeds ``0..n_seeds-1`` (module docstring)."""
    from spectral_manifolds.cvkan.models import n_parameters
    from spectral_manifolds.cvkan.train import train_classifier
    from spectral_manifolds.data.polarization import logistic_on_mean

    validate.choice("task", task, TASKS)
    out = dict(n_params={}, acc={m: [] for m in cfg.models}, logistic={"reim": [], "abs": []}, logistic_params={},
               shuffled={m: {k: [] for k in KINDS} for m in cfg.models}, shuffled_states={k: [] for k in KINDS},
               probes={k: [] for k in KINDS}, resultant={"0": [], "1": []},
               position={f"{a}, {b}": [] for a in ("trained", "untrained") for b in ("random", "fixed")})
    jobs = [(s, m) for s in range(cfg.n_seeds) for m in cfg.models]
    bar = runtime.progress(jobs, desc=task, leave=False, disable=not progress)
    with runtime.Timer() as timer:
        for s, m in bar:
            if m == cfg.models[0]:
                data = make_task(task, cfg.n_train, cfg.n_test, d=cfg.d, n_tokens=cfg.n_tokens, n_signal=cfg.n_signal,
                                 sigma=cfg.sigma, log_gain=cfg.log_gain, log_sd=cfg.log_sd, seed=s)
                for f in ("reim", "abs"):
                    lf = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features=f, max_iter=cfg.logistic_iter)
                    out["logistic"][f].append(lf.accuracy)
                    out["logistic_params"][f] = lf.n_params
            bar.set_postfix_str(f"seed {s} {m}", refresh=False)
            torch.manual_seed(1000 + s)
            net = build_model(m, cfg)
            untrained = build_model(m, cfg) if m == "cvkan" else None
            out["n_params"][m] = n_parameters(net)
            fit = train_classifier(data.z_train, data.y_train, X_test=data.z_test, y_test=data.y_test, model=net, seed=s,
                                   epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False)
            net = fit.model.eval()  # measured where it trained (inputs move to its device, states come back to the CPU)
            device = next(net.parameters()).device
            out["acc"][m].append(float(fit.test["accuracy"]))
            z_te = torch.from_numpy(np.asarray(data.z_test))
            for kind in KINDS:
                with torch.no_grad():
                    logits = torch.cat([net(b.to(device)).cpu() for b in shuffle(z_te, kind, s).split(1024)])
                out["shuffled"][m][kind].append(accuracy(logits, data.y_test))
            if m == "cvkan":
                _measure_cvkan(net, untrained.to(device).eval(), data, cfg, s, out)
    bar.close()
    m_pos = int(cfg.n_test // 2 + cfg.n_test % 2) * cfg.n_tokens
    nulls = {"position r": null_correlation(m_pos), "resultant (per class)": null_resultant(cfg.n_test // 2), "probe chance": 0.5}
    return TaskResult(task, list(range(cfg.n_seeds)), seconds=timer.seconds, nulls=nulls, **out)


def run(cfg: PhasesConfig, *, progress: bool = True) -> PhasesResult:
    """Every task of ``cfg`` (one progress bar each), then the digits (``extra["digits"]``)."""
    with runtime.Timer() as t:
        tasks = [run_task(task, cfg, progress=progress) for task in cfg.tasks]
        digits = run_digits(cfg, progress=progress)
    return PhasesResult(tasks, dataclasses.asdict(cfg), t.seconds, {"digits": digits})
