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

By concern: this module holds the models and the runs; :class:`Task`, :data:`TASKS`,
:class:`NormsConfig`, :class:`NormsResult` and the model names live in
:mod:`.cvkan_norms_config`, the tables, verdicts and margins in :mod:`.cvkan_norms_tables`;
every name of both is re-exported here.

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
import time

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.cvkan.baselines import transformer_baseline, transformer_widths, width_for_params
from spectral_manifolds.cvkan.layers import NORMS, make_norm
from spectral_manifolds.cvkan.models import CVKAN, n_parameters
from spectral_manifolds.cvkan.probes import auroc, layer_profile, token_magnitudes
from spectral_manifolds.cvkan.train import train_classifier
from spectral_manifolds.data.polarization import logistic_on_mean, make_polarization
from spectral_manifolds.experiments.cvkan_norms_config import (  # noqa: F401  (re-exported)
    LOGISTICS,
    SEED_NONE,
    TASKS,
    TRANSFORMERS,
    Z0_MODELS,
    NormsConfig,
    NormsResult,
    Task,
)
from spectral_manifolds.experiments.cvkan_norms_gradients import (  # noqa: F401  (re-exported)
    GRAD_MARGIN,
    GradientRecorder,
    block_groups,
    gradient_curves,
    gradient_rows,
    gradient_verdict_rows,
    stability_rows,
)
from spectral_manifolds.experiments.cvkan_norms_tables import (  # noqa: F401  (re-exported)
    ACCURACY_MARGIN,
    AUROC_MARGIN,
    baseline_rows,
    _cell,
    _separation,
    accuracy_curves,
    floor_rows,
    mean_auroc_by_layer,
    results_rows,
    verdict_rows,
)

__all__ = [
    "Task", "TASKS", "NormsConfig", "NormsResult", "worked_example", "build_model", "z0_model", "z0_hidden", "Z0_MODELS",
    "polarization", "run", "stability_run", "transformer_hidden", "results_rows", "baseline_rows", "gradient_rows", "gradient_verdict_rows", "gradient_curves", "stability_rows", "GRAD_MARGIN", "TRANSFORMERS", "verdict_rows", "floor_rows", "accuracy_curves", "mean_auroc_by_layer", "LOGISTICS", "ACCURACY_MARGIN", "AUROC_MARGIN",
]


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


def transformer_hidden(cfg: NormsConfig) -> dict[str, int]:
    """Per-head widths of R and C whose parameter counts are closest to the centre stack's (+-5 %)."""
    target = n_parameters(build_model(cfg, SEED_NONE))
    return transformer_widths(cfg.d, target, cfg.baseline_heads, cfg.baseline_layers, tol=0.05)


def _fit(cfg: NormsConfig, data, make, seed: int, epochs: int, record: bool):
    """``train_classifier`` on ``make()`` (built after seeding); with ``record``, also the
    per-step gradient norms of :func:`block_groups` (``{group: list}``), else None."""
    holder = {}

    def build(f, k):
        model = make()
        if record:
            holder["rec"] = GradientRecorder(block_groups(model))
        return model

    fit = train_classifier(data.z_train, data.y_train, X_test=data.z_test, y_test=data.y_test, model=build, seed=seed, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False)
    if not record:
        return fit, None
    holder["rec"].remove()
    return fit, {k: v.tolist() for k, v in holder["rec"].norms().items()}


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


def _run_task_seed(cfg: NormsConfig, task: Task, seed: int, hidden0: dict, widths: dict | None = None) -> list[dict]:
    data = make_polarization(cfg.n_train, cfg.n_test, n_tokens=cfg.n_tokens, d=cfg.d, n_signal=cfg.n_signal, sigma=task.sigma, common_phase=task.common_phase, seed=seed)
    pos = data.y_test == 1
    z_pos, sig_pos = torch.from_numpy(data.z_test[pos]), data.signal_test[pos]
    none = {"auroc_by_layer": None, "auroc": None, "auroc_before_norm": None, "signal_noise_ratio": None}
    out = []
    models = [(f"norm={kind}", lambda kind=kind: build_model(cfg, kind)) for kind in cfg.norms]
    models += [(name, lambda name=name: z0_model(cfg, hidden0[name], Z0_MODELS[name])) for name in hidden0]
    models += [(name, lambda name=name, w=w: transformer_baseline(name, cfg.d, w, cfg.baseline_heads, cfg.baseline_layers, 2)) for name, w in (widths or {}).items()]
    for name, make in models:
        # a callable, so that train_classifier builds the model after seeding torch (the
        # process's initial torch seed is random: a module built here would not be reproducible)
        stack = name.startswith("norm=")
        fit, grads = _fit(cfg, data, make, seed, cfg.epochs, record=stack)
        acc = [float(a) for a in fit.history["test_acc"]]
        probe = polarization(fit.model, z_pos, sig_pos) if stack else none
        out.append({"task": task.name, "model": name, "seed": seed, "n_params": fit.n_params, "accuracy": acc[-1], "accuracy_seed_epochs": acc[cfg.seed_epochs - 1], "test_acc": acc, **probe, "grad_norms": grads})
    for name, features in LOGISTICS.items():
        lf = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features=features)
        out.append({"task": task.name, "model": name, "seed": seed, "n_params": lf.n_params, "accuracy": lf.accuracy, "accuracy_seed_epochs": lf.accuracy, "test_acc": None, **none, "grad_norms": None})
    return out


def run(cfg: NormsConfig | None = None, *, progress: bool = True) -> NormsResult:
    """Every task x seed x model of ``cfg`` (default: the active budget's); one progress bar."""
    cfg = NormsConfig.for_budget() if cfg is None else cfg
    t0 = time.perf_counter()
    hidden0 = {name: z0_hidden(cfg, head_norm) for name, head_norm in Z0_MODELS.items()} if cfg.with_z0 else {}
    widths = transformer_hidden(cfg) if cfg.with_transformers else {}
    jobs = [(task, seed) for task in cfg.tasks for seed in report.seeds_for(cfg.n_seeds)]
    bar = runtime.progress(jobs, desc="tasks x seeds", disable=not progress)  # train_classifier keeps a small CPU to one thread
    on = lambda task: widths if cfg.baseline_tasks is None or task.name in cfg.baseline_tasks else {}
    runs = [row for task, seed in bar for row in _run_task_seed(cfg, task, seed, hidden0, on(task))]
    bar.close()
    config = {**dataclasses.asdict(cfg), "z0_head_hidden": hidden0, "transformer_head_width": widths, "device": str(runtime.torch_device())}
    return NormsResult(config, runs, time.perf_counter() - t0)


def stability_run(cfg: NormsConfig, result: NormsResult | None = None, *, task: Task | None = None, progress: bool = True) -> list[dict]:
    """The long run: every norm of ``cfg`` on ``task`` (default: the first of ``cfg.tasks``)
    for ``cfg.long_epochs`` epochs, seeds ``0 .. cfg.long_seeds - 1``, recording per-step
    gradient norms. One dict per (norm, seed): model, seed, epochs, grad_norms, train_loss
    and test_acc (per epoch). Stored in ``result.stability`` when ``result`` is given."""
    task = cfg.tasks[0] if task is None else task
    t0 = time.perf_counter()
    jobs = [(seed, kind) for seed in range(cfg.long_seeds) for kind in cfg.norms]
    rows, data = [], {}
    for seed, kind in runtime.progress(jobs, desc="long runs", disable=not progress):
        if seed not in data:
            data = {seed: make_polarization(cfg.n_train, cfg.n_test, n_tokens=cfg.n_tokens, d=cfg.d, n_signal=cfg.n_signal, sigma=task.sigma, common_phase=task.common_phase, seed=seed)}
        fit, grads = _fit(cfg, data[seed], lambda kind=kind: build_model(cfg, kind), seed, cfg.long_epochs, record=True)
        rows.append({"task": task.name, "model": f"norm={kind}", "seed": seed, "epochs": cfg.long_epochs, "grad_norms": grads,
                     "train_loss": [float(v) for v in fit.history["train_loss"]], "test_acc": [float(v) for v in fit.history["test_acc"]]})
    if result is not None:
        result.stability = rows
        result.config["stability_seconds"] = time.perf_counter() - t0
    return rows
