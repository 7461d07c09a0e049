"""Chapter 11's runs: which norm after each polarizing block (issue 8, Part III, "2. Normalization").

Seed 003 ("2026-01-20 Layer Normalization Suppresses Polarization"): "By normalizing
magnitudes, we prevent the 'polarization' effect where important tokens grow larger ...
Best performance achieved with ``norm_type='none'``." In the seed's code ``'none'`` still
centred the magnitudes after every block (issue 8, "The stack"): that is our ``"centre"``.
So the seed's comparison is ``"centre"`` against ``"layernorm"``; ``"none"`` (truly
nothing) and ``"rms"`` complete the four norms of :func:`~spectral_manifolds.cvkan.layers.make_norm`.

* :func:`worked_example` -- what each norm (at its initial parameters) does to a token
  that polarized: the same phases as another token, three times its magnitude.
* :func:`run` -- on each task of :class:`NormsConfig` (the synthetic task of
  :mod:`spectral_manifolds.data.polarization`: the seed's sigma = 0.5, sigma = 1.5, and a
  random common phase per sample), for every seed: the flat 3-block CVKAN with each norm,
  two **Z0** (no block, head widened to the same parameter count, +-5 %; :data:`Z0_MODELS`:
  the seed-style head, and the same head without its LayerNorm) and the logistic
  regressions on ``mean(Z)`` (``(Re, Im)``: 65 parameters; ``|.|``: 33). Per model: test
  accuracy after the seed's 3 epochs and after ``epochs``, and polarization itself: the
  AUROC of the token magnitude ``mean_c |z_c|`` for signal against noise tokens of the
  positive test samples (:func:`~spectral_manifolds.cvkan.probes.layer_profile`), after
  every block and its norm, and after the last block before its norm.
* :func:`results_rows`, :func:`verdict_rows`, :func:`floor_rows`, :func:`accuracy_curves` --
  the chapter's tables and curves, from a :class:`NormsResult`.

Z0's head (``LayerNorm(d)`` on ``|mean(Z)|``, then the MLP) removes each sample's mean over
channels, the level that the logistic on ``|mean(Z)|`` reads; at the quick budget it stays
at chance. The chapter shows this; it is a property of ``models.CVKAN``'s head, not of this
module. "Z0 (no head norm)" (``head_norm=False``) keeps that level: the floor of "no block
at all".

Seeds pair everything: seed ``s`` draws the data (``make_polarization(seed=s)``) and seeds
the training of every model on it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime, validate
from spectral_manifolds.cvkan.baselines import width_for_params
from spectral_manifolds.cvkan.layers import NORMS, make_norm
from spectral_manifolds.cvkan.models import CVKAN, n_parameters
from spectral_manifolds.cvkan.probes import auroc, layer_profile, token_magnitudes
from spectral_manifolds.cvkan.train import train_classifier
from spectral_manifolds.data.polarization import logistic_on_mean, make_polarization

__all__ = [
    "Task", "TASKS", "NormsConfig", "NormsResult", "worked_example", "build_model", "z0_model", "z0_hidden", "Z0_MODELS",
    "polarization", "run", "results_rows", "verdict_rows", "floor_rows", "accuracy_curves", "mean_auroc_by_layer", "LOGISTICS", "ACCURACY_MARGIN", "AUROC_MARGIN",
]

ACCURACY_MARGIN = 0.005  # half a percentage point: smaller accuracy differences do not count
AUROC_MARGIN = 0.02  # smaller AUROC (or separation) differences do not count
LOGISTICS = {"logistic on (Re, Im) of mean(Z)": "reim", "logistic on |mean(Z)|": "abs"}
SEED_NONE = "centre"  # the seed's norm_type='none' still centred the magnitudes
Z0_MODELS = {"Z0": True, "Z0 (no head norm)": False}  # name -> head_norm (the seed-style head, or none)


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

    def __post_init__(self):
        for name in ("n_train", "n_test", "epochs", "batch_size", "d", "n_tokens", "n_signal", "n_blocks", "hidden", "seed_epochs"):
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
        """quick: CI on two CPU cores; full: the seed's 2,500 + 2,500 sequences, 5 seeds, 5 epochs."""
        quick = cls()
        full = cls(n_train=5000, n_test=2000, epochs=5, batch_size=128, n_seeds=5)
        return runtime.sized(quick=quick, full=full, budget_name=budget)


@dataclass
class NormsResult:
    """Every run: ``runs`` holds one dict per (task, model, seed) with keys task, model, seed,
    n_params, accuracy (after ``epochs``), accuracy_seed_epochs, test_acc (per epoch; None
    for the logistics), auroc_by_layer (0 = embedding; None for the Z0s and the logistics),
    auroc (after the last block and its norm), auroc_before_norm (last block, before its
    norm), signal_noise_ratio (mean |z| of signal over noise tokens after the last norm)."""

    config: dict
    runs: list = field(default_factory=list)
    seconds: float = 0.0

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


def worked_example(polarized_gain: float = 3.0) -> list[dict]:
    """Three tokens of ``d = 4`` channels through each norm at its initial parameters.

    Token A: magnitude ``polarized_gain`` in every channel, phases ``phi``; token B: the same
    phases, magnitude 1 (A is B after polarization scaled it); token C: magnitude 1, other
    phases. Rows: norm, the mean |z| over channels of A, B, C, and the ratios |A|/|B|, |A|/|C|
    (rounded to 4 decimals). Centre is applied over these three tokens as one sequence.
    """
    if not polarized_gain > 0:
        raise ValueError(f"polarized_gain must be positive, got {polarized_gain}")
    phi = torch.tensor([0.0, 0.4, -0.3, 0.2], dtype=torch.float64)
    psi = torch.tensor([2.1, -1.3, 0.7, 3.0], dtype=torch.float64)
    z = torch.stack([torch.polar(torch.full_like(phi, polarized_gain), phi), torch.polar(torch.ones_like(phi), phi), torch.polar(torch.ones_like(psi), psi)])
    rows = []
    for kind in NORMS:
        norm = make_norm(kind, 4).to(torch.float64)
        with torch.no_grad():
            m = norm(z).abs().mean(-1).tolist()
        vals = {"|A|": m[0], "|B|": m[1], "|C|": m[2], "|A| / |B|": m[0] / m[1], "|A| / |C|": m[0] / m[2]}
        rows.append({"norm": kind, **{k: round(v, 4) for k, v in vals.items()}})
    return rows


def build_model(cfg: NormsConfig, norm: str) -> CVKAN:
    """The flat stack of the seed (3 blocks, d = 32, hidden 128, mean aggregation and pooling)."""
    return CVKAN(cfg.d, 2, n_blocks=cfg.n_blocks, hidden=cfg.hidden, norm=norm)


def z0_model(cfg: NormsConfig, hidden: int, head_norm: bool = True) -> CVKAN:
    """Z0: embedding, mean pooling and head, no block; head MLP width ``hidden``, its LayerNorm if ``head_norm``."""
    return CVKAN(cfg.d, 2, n_blocks=0, head_hidden=hidden, head_norm=head_norm)


def z0_hidden(cfg: NormsConfig, head_norm: bool = True) -> int:
    """Head width of Z0 whose parameter count is closest to the seed's-'none' (centre) model's (+-5 %)."""
    target = n_parameters(build_model(cfg, SEED_NONE))
    return width_for_params(lambda h: z0_model(cfg, h, head_norm), target, 1, 4 * target, tol=0.05)


@torch.no_grad()
def polarization(model: CVKAN, z: torch.Tensor, signal: np.ndarray) -> dict:
    """AUROC of |z| (signal vs noise tokens) per state, and for the last block before its norm.

    Args:
        model: a trained CVKAN with at least one block.
        z: ``(B, N, d)`` complex positive test samples; signal: ``(B, N)`` bool mask.
    """
    if not len(model.blocks):
        raise ValueError("polarization needs a model with at least one block")
    profile = layer_profile(model, z, signal)
    device = next(model.parameters()).device
    states = model.tokens(z.to(device))
    before = token_magnitudes(model.blocks[-1](states[-2]))
    after = token_magnitudes(states[-1])
    return {
        "auroc_by_layer": [r["auroc"] for r in profile],
        "auroc": profile[-1]["auroc"],
        "auroc_before_norm": auroc(before[signal], before[~signal]),
        "signal_noise_ratio": float(after[signal].mean() / after[~signal].mean()),
    }


def _run_task_seed(cfg: NormsConfig, task: Task, seed: int, hidden0: dict) -> list[dict]:
    data = make_polarization(cfg.n_train, cfg.n_test, n_tokens=cfg.n_tokens, d=cfg.d, n_signal=cfg.n_signal, sigma=task.sigma, common_phase=task.common_phase, seed=seed)
    pos = data.y_test == 1
    z_pos, sig_pos = torch.from_numpy(data.z_test[pos]), data.signal_test[pos]
    none = {"auroc_by_layer": None, "auroc": None, "auroc_before_norm": None, "signal_noise_ratio": None}
    out = []
    models = [(f"norm={kind}", lambda kind=kind: build_model(cfg, kind)) for kind in cfg.norms]
    models += [(name, lambda name=name: z0_model(cfg, hidden0[name], Z0_MODELS[name])) for name in hidden0]
    for name, make in models:
        # a callable, so that train_classifier builds the model after seeding torch (the
        # process's initial torch seed is random: a module built here would not be reproducible)
        fit = train_classifier(data.z_train, data.y_train, X_test=data.z_test, y_test=data.y_test, model=lambda f, k, make=make: make(), seed=seed, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False)
        acc = [float(a) for a in fit.history["test_acc"]]
        probe = none if name in Z0_MODELS else polarization(fit.model, z_pos, sig_pos)
        out.append({"task": task.name, "model": name, "seed": seed, "n_params": fit.n_params, "accuracy": acc[-1], "accuracy_seed_epochs": acc[cfg.seed_epochs - 1], "test_acc": acc, **probe})
    for name, features in LOGISTICS.items():
        lf = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features=features)
        out.append({"task": task.name, "model": name, "seed": seed, "n_params": lf.n_params, "accuracy": lf.accuracy, "accuracy_seed_epochs": lf.accuracy, "test_acc": None, **none})
    return out


def run(cfg: NormsConfig | None = None, *, progress: bool = True) -> NormsResult:
    """Every task x seed x model of ``cfg`` (default: the active budget's); one progress bar."""
    cfg = NormsConfig.for_budget() if cfg is None else cfg
    t0 = time.perf_counter()
    hidden0 = {name: z0_hidden(cfg, head_norm) for name, head_norm in Z0_MODELS.items()} if cfg.with_z0 else {}
    jobs = [(task, seed) for task in cfg.tasks for seed in report.seeds_for(cfg.n_seeds)]
    bar = runtime.progress(jobs, desc="tasks x seeds", disable=not progress)  # train_classifier keeps a small CPU to one thread
    runs = [row for task, seed in bar for row in _run_task_seed(cfg, task, seed, hidden0)]
    bar.close()
    config = {**dataclasses.asdict(cfg), "z0_head_hidden": hidden0, "device": str(runtime.torch_device())}
    return NormsResult(config, runs, time.perf_counter() - t0)


def _cell(values) -> str:
    return "—" if any(v is None for v in values) else report.mean_std(values)


def results_rows(result: NormsResult) -> list[dict]:
    """One row per (task, model): parameters, accuracies and polarization, mean ± std over seeds."""
    e, e0 = result.config["epochs"], result.config["seed_epochs"]
    rows = []
    for task in dict.fromkeys(r["task"] for r in result.runs):
        for model in result.models():
            n = result.values(task, model, "n_params")
            rows.append({
                "task": task, "model": model, "parameters": int(n[0]),
                f"test accuracy, epoch {e0} (seed's)": _cell(result.values(task, model, "accuracy_seed_epochs")),
                f"test accuracy, epoch {e}": _cell(result.values(task, model, "accuracy")),
                "AUROC |z| after last norm": _cell(result.values(task, model, "auroc")),
                "AUROC |z| before last norm": _cell(result.values(task, model, "auroc_before_norm")),
                "mean |z| signal / noise": _cell(result.values(task, model, "signal_noise_ratio")),
            })
    return rows


def _separation(values: list[float]) -> list[float]:
    """``2 |AUROC - 1/2|``: 0 when magnitudes carry nothing, 1 when they separate perfectly (either way)."""
    return [2 * abs(v - 0.5) for v in values]


def verdict_rows(result: NormsResult) -> tuple[list[dict], list[dict]]:
    """(accuracy verdicts, polarization verdicts), one set per task.

    Accuracy, seed 003's "best performance with norm 'none'": the seed's 'none' (= centre)
    beats LayerNorm; truly none beats LayerNorm; and (not a seed claim) centre beats RMS.
    Polarization, "LayerNorm suppresses polarization": the AUROC of |z| after the last norm
    is higher with centre (and with none) than with LayerNorm; "destroys the
    magnitude-based signal": the separation ``2 |AUROC - 1/2|`` (either direction) is
    higher with centre than with LayerNorm; and (not a seed claim) RMS polarizes less
    than centre. Accuracy after ``epochs``; paired by seed; margins :data:`ACCURACY_MARGIN`
    and :data:`AUROC_MARGIN` (a difference of one test sample in every seed has zero
    spread and would otherwise decide a verdict).
    """
    acc, pol = [], []
    c, ln, rms = f"norm={SEED_NONE}", "norm=layernorm", "norm=rms"
    seed_acc, seed_pol, absent = "'none' best (SST-2; no number given)", "suppresses (no number given)", "— (not in the seed)"

    def row(task, claim, a, b, metric, label, figure, fn=lambda v: v):
        margin = ACCURACY_MARGIN if metric == "accuracy" else AUROC_MARGIN
        cmp = report.compare(fn(result.values(task, a, metric)), fn(result.values(task, b, metric)), lower_is_better=False, margin=margin)
        return report.verdict_row(f"{task}: {claim}", cmp, seed_figure=figure, a_name=a, b_name=b, metric=label)

    for task in dict.fromkeys(r["task"] for r in result.runs):
        acc += [row(task, "seed's 'none' (= centre) beats LayerNorm", c, ln, "accuracy", "test accuracy", seed_acc),
                row(task, "truly none beats LayerNorm", "norm=none", ln, "accuracy", "test accuracy", seed_acc),
                row(task, "centre beats RMS norm", c, rms, "accuracy", "test accuracy", absent)]
        pol += [row(task, "LayerNorm polarizes less than centre", c, ln, "auroc", "AUROC of |z| after last norm", seed_pol),
                row(task, "LayerNorm polarizes less than truly none", "norm=none", ln, "auroc", "AUROC of |z| after last norm", seed_pol),
                row(task, "LayerNorm erases the magnitude difference", c, ln, "auroc", "2 |AUROC − ½| after last norm", "destroys (no number given)", _separation),
                row(task, "RMS norm polarizes less than centre", c, rms, "auroc", "AUROC of |z| after last norm", absent)]
    return acc, pol


def floor_rows(result: NormsResult) -> list[dict]:
    """Against the floor "no block at all" (``Z0 (no head norm)``), per task: does the logistic
    on ``|mean(Z)|`` (the same features) beat it, and does each stack? Not seed claims; accuracy
    after ``epochs``, paired by seed, margin :data:`ACCURACY_MARGIN`."""
    floor, rows = "Z0 (no head norm)", []
    for task in dict.fromkeys(r["task"] for r in result.runs):
        for a in ["logistic on |mean(Z)|"] + [m for m in result.models() if m.startswith("norm=")]:
            cmp = report.compare(result.values(task, a, "accuracy"), result.values(task, floor, "accuracy"), lower_is_better=False, margin=ACCURACY_MARGIN)
            rows.append(report.verdict_row(f"{task}: {a} beats {floor}", cmp, seed_figure="— (not in the seed)", a_name=a, b_name=floor, metric="test accuracy"))
    return rows


def accuracy_curves(result: NormsResult, task: str) -> dict[str, np.ndarray]:
    """``{model: (seeds, epochs) test accuracy}`` for the trained models of ``task``."""
    out = {}
    for model in result.models():
        hist = result.values(task, model, "test_acc")
        if all(h is not None for h in hist):
            out[model] = np.asarray(hist, dtype=float)
    if not out:
        raise ValueError(f"no trained models for task {task!r}")
    return out


def mean_auroc_by_layer(result: NormsResult) -> list[dict]:
    """Rows: task, model, then the mean AUROC of |z| over seeds at each state (0 = embedding)."""
    rows = []
    for task in dict.fromkeys(r["task"] for r in result.runs):
        for model in result.models():
            per_seed = result.values(task, model, "auroc_by_layer")
            if any(p is None for p in per_seed):
                continue
            m = np.mean(np.asarray(per_seed, dtype=float), axis=0)
            rows.append({"task": task, "model": model, **{("embedding" if i == 0 else f"after block {i}"): round(float(v), 3) for i, v in enumerate(m)}})
    return rows
