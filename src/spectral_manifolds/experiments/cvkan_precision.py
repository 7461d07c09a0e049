"""Chapter 14's runs: the CV-KAN in fp32, fp16 autocast (+ GradScaler) and bf16 (issue 8, "5. Precision").

Seed 003, "2026-01-20 AMP Breaks Complex Number Operations": "AMP causes NaN gradients with
complex-valued tensors. ``torch.amp.autocast`` casts intermediates to float16, losing
precision in complex magnitude calculations." The model, :class:`~spectral_manifolds.cvkan.precision.MixedCVKAN`
(a complex ``ComplexLinear`` in front of the seed's flat CVKAN, its parameters complex or
stored as real ``view_as_real`` tensors), and the device/dtype probes (``capabilities``,
``dtype_trace``, ``backward_trace``, ``dynamic_range``) live in :mod:`spectral_manifolds.cvkan.precision`.

:func:`run` trains every (precision, parametrization, seed) with :func:`train_one`, a small
precision-aware loop (``train.train_classifier`` takes no autocast dtype or scaler). Beside the
two storages of the complex layer (:data:`PARAMETRIZATIONS`) it trains baseline **R**, the real
Transformer of :mod:`spectral_manifolds.cvkan.baselines` on ``[Re z, Im z]`` matched to the model's
parameter count within 5 % (:data:`MODELS`, :func:`build_model`): the reference a practitioner would
hold a complex network against under the same precisions. Repeated timings are in
``cvkan_precision_speed``, fact rows and further verdicts in ``cvkan_precision_tables``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from spectral_manifolds import report, runtime, validate
from spectral_manifolds.cvkan.layers import n_real_parameters
from spectral_manifolds.cvkan.precision import MixedCVKAN, capabilities, dynamic_range
from spectral_manifolds.cvkan.precision import autocast_or_fp32 as _autocast, exception_text as _error
from spectral_manifolds.data.polarization import make_polarization
from spectral_manifolds.experiments.benchmarking import synchronize

__all__ = [
    "PRECISIONS", "PARAMETRIZATIONS", "MODELS", "MODEL_LABELS", "FP16_MAX", "ACCURACY_MARGIN", "PrecisionConfig", "PrecisionResult",
    "build_model", "first_batch", "models_of", "range_rows", "train_one", "run", "results_rows", "verdict_rows",
]

# name -> (autocast dtype or None, GradScaler)
PRECISIONS = {"fp32": (None, False), "fp16 + GradScaler": (torch.float16, True), "fp16, no scaler": (torch.float16, False), "bf16": (torch.bfloat16, False)}
PARAMETRIZATIONS = ("complex", "real")
MODELS = PARAMETRIZATIONS + ("R",)  # the two storages of MixedCVKAN, and baseline R at its parameter count
MODEL_LABELS = {"complex": "complex", "real": "real", "R": "R (real Transformer)"}
FP16_MAX = float(torch.finfo(torch.float16).max)  # 65504
ACCURACY_MARGIN = 0.005


@dataclass(frozen=True)
class PrecisionConfig:
    """Sizes of the chapter's runs; :meth:`for_budget` is the one place they depend on the budget."""

    n_train: int = 640
    n_test: int = 400
    epochs: int = 2
    batch_size: int = 64
    n_seeds: int = 3
    d: int = 32
    n_blocks: int = 3
    hidden: int = 128
    lr: float = 1e-3
    precisions: tuple = tuple(PRECISIONS)
    warmup_steps: int = 3  # not timed
    speed_repeats: int = 3  # cvkan_precision_speed: timed repeats of every setting, interleaved
    speed_steps: int = 4  # training steps per timed repeat
    models: tuple = MODELS
    baseline_heads: int = 4  # R: heads and encoder layers (its width is matched)
    baseline_layers: int = 1

    def __post_init__(self):
        for name in ("n_train", "n_test", "epochs", "batch_size", "d", "n_blocks", "hidden", "speed_repeats", "speed_steps"):
            validate.positive_int(name, getattr(self, name))
        if self.n_seeds < 2 or not self.lr > 0 or "fp32" not in self.precisions:
            raise ValueError(f"need n_seeds >= 2 (got {self.n_seeds}), lr > 0 (got {self.lr}) and 'fp32' among precisions (the reference)")
        for p in self.precisions:
            validate.choice("precision", p, tuple(PRECISIONS))
        for m in self.models:
            validate.choice("model", m, MODELS)
        if "real" not in self.models:
            raise ValueError(f"models must include 'real' (the storage every precision trains), got {self.models!r}")

    @classmethod
    def for_budget(cls, budget: str | None = None) -> "PrecisionConfig":
        """quick: CI on two CPU cores (MLP width 64: R in float16 is slow on a CPU); full: the seed's 2,500 + 2,500 sequences, 5 seeds, 6 epochs, batch 256."""
        quick, full = cls(hidden=64), cls(n_train=5000, n_test=2000, epochs=6, batch_size=256, n_seeds=5, warmup_steps=10,
                                 speed_repeats=5, speed_steps=25)
        return runtime.sized(quick=quick, full=full, budget_name=budget)


def build_model(cfg: PrecisionConfig, parametrization: str) -> nn.Module:
    """The chapter's model (``"complex"``/``"real"`` storage) or baseline ``"R"``, matched to it within 5 %;
    build it after seeding torch (both parametrizations then start equal). ``(B, N, d)`` complex -> ``(B, 2)``."""
    validate.choice("parametrization", parametrization, MODELS)
    if parametrization == "R":
        from spectral_manifolds.cvkan.matched import transformer_for_params

        target = n_real_parameters(MixedCVKAN(cfg.d, cfg.n_blocks, cfg.hidden, "real"))
        return transformer_for_params("R", cfg.d, 2, target, heads=cfg.baseline_heads, layers=cfg.baseline_layers)
    return MixedCVKAN(cfg.d, cfg.n_blocks, cfg.hidden, parametrization)


def first_batch(cfg: PrecisionConfig, seed: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The mini-batch of step 0 of :func:`run`'s runs for ``seed``: ``(z: (B, N, d) complex, y: (B,))``."""
    data = make_polarization(cfg.n_train, cfg.n_test, d=cfg.d, seed=seed)
    idx = torch.randperm(cfg.n_train, generator=torch.Generator().manual_seed(int(seed)))[: cfg.batch_size]
    return torch.from_numpy(data.z_train)[idx].to(device), torch.from_numpy(data.y_train)[idx].to(device)


def _grad_flags(model: nn.Module) -> torch.Tensor:
    """(n_params,) bool on the device, True where a gradient holds inf or NaN (no host sync)."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return ~torch.isfinite(torch.stack(torch._foreach_norm(grads)))


def train_one(cfg: PrecisionConfig, precision: str, parametrization: str, seed: int, data, device) -> dict:
    """Train one model; its result row (``status``: 'ok' or the exception that stopped it, at ``error_step``).

    Non-finite checks are kept on the device (one flag per step and parameter) and read after
    training, so that they do not stall the timed steps; with the scaler, a step whose unscaled
    gradients are non-finite is one it skips.
    """
    dtype, use_scaler = PRECISIONS[precision]
    runtime.seed_everything(seed)
    model = build_model(cfg, parametrization).to(device)
    names = [n for n, _ in model.named_parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt, xe, ye = (torch.from_numpy(a).to(device) for a in (data.z_train, data.y_train, data.z_test, data.y_test))
    gen = torch.Generator().manual_seed(int(seed))
    row = {"precision": precision, "parametrization": parametrization, "seed": seed, "n_params": n_real_parameters(model), "status": "ok", "error_step": None,
           "first_nonfinite_loss": None, "first_nonfinite_grad": None, "n_nonfinite_loss": 0, "n_nonfinite_grad": 0, "nonfinite_param": None, "skipped_steps": 0, "steps": 0, "accuracy": None, "steps_per_s": None, "range": None}
    loss_flags, grad_flags, t_start = [], [], None
    try:
        scaler = torch.amp.GradScaler(device.type) if use_scaler else None
        with runtime.torch_cpu_threads(device):
            for _ in range(cfg.epochs):
                model.train()
                for idx in torch.randperm(len(xt), generator=gen).split(cfg.batch_size):
                    if len(loss_flags) == cfg.warmup_steps:
                        synchronize(device)
                        t_start = time.perf_counter()
                    x, y = xt[idx.to(device)], yt[idx.to(device)]
                    with _autocast(device, dtype):
                        loss = loss_fn(model(x).float(), y)
                    opt.zero_grad(set_to_none=True)
                    if scaler is None:
                        loss.backward()
                    else:
                        scaler.scale(loss).backward()
                        scaler.unscale_(opt)  # in place: inf here = overflow in the scaled fp16 backward
                    loss_flags.append(~torch.isfinite(loss.detach()))
                    grad_flags.append(_grad_flags(model))
                    opt.step() if scaler is None else (scaler.step(opt), scaler.update())
            synchronize(device)
            if t_start is not None and len(loss_flags) > cfg.warmup_steps:
                row["steps_per_s"] = (len(loss_flags) - cfg.warmup_steps) / (time.perf_counter() - t_start)
            model.eval()
            with torch.no_grad(), _autocast(device, dtype):
                logits = torch.cat([model(xe[i : i + 512]).float() for i in range(0, len(xe), 512)])
            row["accuracy"] = float((logits.argmax(-1) == ye).float().mean())
            row["range"] = dynamic_range(model, xe[ye == 1][:256]) if isinstance(model, MixedCVKAN) else None
    except Exception as e:  # noqa: BLE001 -- the error is the chapter's output
        row["status"], row["error_step"] = _error(e), len(loss_flags)
    row["steps"] = len(loss_flags)
    if loss_flags:
        bad_loss = torch.stack(loss_flags).cpu().numpy()
        bad_grad = torch.stack(grad_flags).cpu().numpy()  # (steps, n_params)
        row["n_nonfinite_loss"], row["n_nonfinite_grad"] = int(bad_loss.sum()), int(bad_grad.any(axis=1).sum())
        if bad_loss.any():
            row["first_nonfinite_loss"] = int(np.argmax(bad_loss))
        if bad_grad.any():
            first = int(np.argmax(bad_grad.any(axis=1)))
            row["first_nonfinite_grad"], row["nonfinite_param"] = first, names[int(np.argmax(bad_grad[first]))]
        row["skipped_steps"] = int(bad_grad.any(axis=1).sum()) if use_scaler else 0
    return row


@dataclass
class PrecisionResult:
    """Every run (``runs``: rows of :func:`train_one`), the device and its :func:`capabilities`."""

    config: dict
    runs: list = field(default_factory=list)
    capabilities: list = field(default_factory=list)
    seconds: float = 0.0

    def rows(self, precision: str, parametrization: str) -> list[dict]:
        rows = sorted((r for r in self.runs if r["precision"] == precision and r["parametrization"] == parametrization), key=lambda r: r["seed"])
        if not rows:
            raise ValueError(f"no runs for {precision!r} with {parametrization!r} parameters")
        return rows

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


def run(cfg: PrecisionConfig | None = None, *, device=None, progress: bool = True) -> PrecisionResult:
    """Every precision x parametrization x seed of ``cfg`` (default: the active budget's) on ``device``."""
    cfg = PrecisionConfig.for_budget() if cfg is None else cfg
    dev = runtime.torch_device() if device is None else torch.device(device)
    t0 = time.perf_counter()
    jobs = [(s, p, q) for s in report.seeds_for(cfg.n_seeds) for p in cfg.precisions for q in cfg.models]
    runs, data = [], {}
    for seed, prec, par in runtime.progress(jobs, desc="seed x precision x parameters", disable=not progress):
        if seed not in data:
            data = {seed: make_polarization(cfg.n_train, cfg.n_test, d=cfg.d, seed=seed)}
        runs.append(train_one(cfg, prec, par, seed, data[seed], dev))
    config = {**dataclasses.asdict(cfg), "device": str(dev), "device_name": runtime.device_name() if dev.type != "cpu" else "cpu", "torch": torch.__version__}
    return PrecisionResult(config, runs, capabilities(dev), time.perf_counter() - t0)


def _count(rows, key) -> str:
    hits = [r[key] for r in rows if r[key] is not None]
    return f"{len(hits)} of {len(rows)}" + (" (step " + ", ".join(str(r[key]) if r[key] is not None else "—" for r in rows) + ")" if hits else "")


def models_of(result: PrecisionResult) -> tuple:
    """The models a result holds (results from before baseline R: the two storages)."""
    return tuple(result.config.get("models", PARAMETRIZATIONS))


def results_rows(result: PrecisionResult, *, speed: bool = True) -> list[dict]:
    """One row per (precision, parametrization): status, non-finite events, accuracy, and (``speed``) the
    steps/s of seed 0's run with its ratio to fp32 (one run: ``cvkan_precision_speed`` repeats the timing)."""
    out = []
    for prec in result.config["precisions"]:
        for par in models_of(result):
            rows = result.rows(prec, par)
            ok = [r for r in rows if r["status"] == "ok"]
            errors = sorted({f"{r['status']} (step {r['error_step']})" for r in rows if r["status"] != "ok"})
            ref = result.rows("fp32", par)[0]["steps_per_s"]
            sps = rows[0]["steps_per_s"]
            params = list(dict.fromkeys(r["nonfinite_param"] for r in rows if r["nonfinite_param"]))
            row = {
                "precision": prec, "parameters": MODEL_LABELS[par], "runs": f"{len(ok)} of {len(rows)}", "error": "; ".join(errors) or "—",
                "non-finite loss": _count(rows, "first_nonfinite_loss"), "non-finite grad": _count(rows, "first_nonfinite_grad"),
                "in parameter": ", ".join(params) or "—", "scaler-skipped steps (per seed)": ", ".join(str(r["skipped_steps"]) for r in ok) if PRECISIONS[prec][1] and ok else "—",
                "test accuracy": report.mean_std([r["accuracy"] for r in ok]) if len(ok) == len(rows) else "—",
            }
            if speed:
                row.update({"steps/s (seed 0)": round(sps, 1) if sps else "—", "× fp32": round(sps / ref, 2) if sps and ref else "—"})
            out.append(row)
    return out


def range_rows(result: PrecisionResult) -> list[dict]:
    """The largest of each :func:`dynamic_range` quantity over seeds, per setting that ran, with fp16's max."""
    out = []
    for prec in result.config["precisions"]:
        for par in PARAMETRIZATIONS:
            ranges = [r["range"] for r in result.rows(prec, par) if r["range"] is not None]
            if ranges:
                row = {k: (min if k.startswith("min") else max)(g[k] for g in ranges) for k in ranges[0]}
                out.append({"precision": prec, "parameters": par, **{k: float(f"{v:.3g}") for k, v in row.items()}, "fp16 max": FP16_MAX})
    return out


def verdict_rows(result: PrecisionResult) -> list[dict]:
    """"fp32 beats <precision>" in test accuracy, per parametrization (and R), for every setting that ran in every seed."""
    out = []
    for par in models_of(result):
        ref = result.rows("fp32", par)
        for prec in result.config["precisions"]:
            rows = result.rows(prec, par)
            if prec == "fp32" or any(r["status"] != "ok" for r in rows + ref):
                continue
            comp = report.compare([r["accuracy"] for r in ref], [r["accuracy"] for r in rows], lower_is_better=False, margin=ACCURACY_MARGIN)
            who = "R" if par == "R" else f"{par} parameters"
            out.append(report.verdict_row(f"{who}: fp32 beats {prec}", comp, a_name="fp32", b_name=prec, metric="test accuracy"))
    return out
