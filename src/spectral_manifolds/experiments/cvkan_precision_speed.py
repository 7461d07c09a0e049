"""Chapter 14's speeds, repeated: steps/s of every (precision, model), median and spread over repeats.

Seed 003, "AMP Breaks Complex Number Operations": "Cannot use AMP for training speedup." One timed
run per setting (``train_one``'s ``steps_per_s``) carries whatever else shared the device at that
moment. :func:`speed_runs` builds every setting of a :class:`~.cvkan_precision.PrecisionConfig`
once (seed 0), warms each up, then times ``speed_steps`` training steps of every setting in turn,
``speed_repeats`` times, the order rotated each repeat; a setting's ratio to fp32 is taken within
each repeat (the same model, timed minutes apart at most), so a slow moment of the device
lowers both. A setting whose first step raises (complex parameters with the GradScaler) is
recorded with its exception and not timed.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from spectral_manifolds import report, runtime
from spectral_manifolds.cvkan.precision import autocast_or_fp32, exception_text
from spectral_manifolds.experiments.benchmarking import synchronize
from spectral_manifolds.experiments.cvkan_precision import MODEL_LABELS, PRECISIONS, PrecisionConfig, build_model, first_batch

__all__ = ["speed_runs", "speed_rows", "speed_verdicts"]


def _stepper(cfg: PrecisionConfig, precision: str, model_name: str, device):
    """A function doing one training step of a fresh seed-0 model on step 0's batch (B, N, d)."""
    dtype, use_scaler = PRECISIONS[precision]
    runtime.seed_everything(0)
    model = build_model(cfg, model_name).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-2)
    scaler = torch.amp.GradScaler(device.type) if use_scaler else None
    x, y = first_batch(cfg, 0, device)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        with autocast_or_fp32(device, dtype):
            loss = loss_fn(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    return step


def speed_runs(cfg: PrecisionConfig | None = None, *, device=None, progress: bool = True) -> dict:
    """``{"steps_per_s": {(precision, model) as "p|m": [per repeat]}, "errors": {"p|m": text}, ...}`` (JSON-able)."""
    cfg = PrecisionConfig.for_budget() if cfg is None else cfg
    dev = runtime.torch_device() if device is None else torch.device(device)
    steppers, errors = {}, {}
    with runtime.torch_cpu_threads(dev):
        for prec in cfg.precisions:
            for m in cfg.models:
                key = f"{prec}|{m}"
                try:
                    step = _stepper(cfg, prec, m, dev)
                    for _ in range(max(1, cfg.warmup_steps)):
                        step()
                    steppers[key] = step
                except Exception as e:  # noqa: BLE001 -- the error is the result
                    errors[key] = exception_text(e)
        keys, sps = list(steppers), {k: [] for k in steppers}
        for r in runtime.progress(range(cfg.speed_repeats), desc="timed repeats", disable=not progress):
            for key in keys[r % len(keys):] + keys[: r % len(keys)]:
                synchronize(dev)
                t0 = time.perf_counter()
                for _ in range(cfg.speed_steps):
                    steppers[key]()
                synchronize(dev)
                sps[key].append(cfg.speed_steps / (time.perf_counter() - t0))
    return {"steps_per_s": sps, "errors": errors, "repeats": cfg.speed_repeats, "steps": cfg.speed_steps, "device": str(dev)}


def _ratios(speed: dict, prec: str, model: str) -> np.ndarray | None:
    a, ref = speed["steps_per_s"].get(f"{prec}|{model}"), speed["steps_per_s"].get(f"fp32|{model}")
    return None if not a or not ref else np.asarray(a) / np.asarray(ref)


def speed_rows(speed: dict) -> list[dict]:
    """Per (precision, model): median steps/s [min, max] over repeats, and the median ratio to fp32 [min, max]
    (ratios taken within each repeat); the exception for a setting that could not train."""
    rows = []
    keys = list(dict.fromkeys(list(speed["steps_per_s"]) + list(speed["errors"])))
    for key in keys:
        prec, m = key.split("|")
        row = {"precision": prec, "model": MODEL_LABELS.get(m, m)}
        v = speed["steps_per_s"].get(key)
        if not v:
            rows.append({**row, "steps/s, median [min, max]": "—", "× fp32, median [min, max]": "—", "error": speed["errors"][key]})
            continue
        rat = _ratios(speed, prec, m)
        row["steps/s, median [min, max]"] = f"{np.median(v):.1f} [{min(v):.1f}, {max(v):.1f}]"
        row["× fp32, median [min, max]"] = "1" if prec == "fp32" else f"{np.median(rat):.2f} [{rat.min():.2f}, {rat.max():.2f}]"
        row["error"] = "—"
        rows.append(row)
    return rows


def speed_verdicts(speed: dict) -> list[dict]:
    """"<precision> runs more steps/s than fp32", per model, paired by repeat (``report.compare``, margin 0)."""
    out = []
    for key, v in speed["steps_per_s"].items():
        prec, m = key.split("|")
        ref = speed["steps_per_s"].get(f"fp32|{m}")
        if prec == "fp32" or not ref or len(v) < 2:
            continue
        comp = report.compare(v, ref, lower_is_better=False)
        row = report.verdict_row(f"{MODEL_LABELS.get(m, m)}: {prec} runs more steps/s than fp32", comp, a_name=prec, b_name="fp32",
                                 metric="steps/s (paired by repeat)", seed_figure="'cannot use AMP for training speedup'")
        row["seeds"] = f"{comp.diff.n} repeats"
        out.append(row)
    return out
