"""Probes of what a device and an autocast dtype do with complex tensors (seed 003, issue 8, "5. Precision").

Seed 003, "2026-01-20 AMP Breaks Complex Number Operations": "AMP causes NaN gradients with
complex-valued tensors. ``torch.amp.autocast`` casts intermediates to float16, losing
precision in complex magnitude calculations." :class:`~spectral_manifolds.cvkan.models.CVKAN`
has no complex parameter on complex input (its MLPs and head are real), so :class:`MixedCVKAN`
puts a complex channel-mixing :class:`~spectral_manifolds.cvkan.layers.ComplexLinear`
``(d -> d)`` in front of the seed's flat stack, its parameters complex or stored as real
``view_as_real`` tensors: the same function and, for one seed, the same initial numbers.

* :func:`capabilities` -- small operations on a device (autocast dtypes, GradScaler steps,
  complex32, bfloat16 parts), each with its result or the exception it raised.
* :func:`dtype_trace` -- every module's output dtype in fp32, under bf16 and fp16 autocast.
* :func:`backward_trace` -- the half-precision gradients of one scaled backward pass.
* :func:`dynamic_range` -- the largest and smallest magnitudes inside a :class:`MixedCVKAN`.

Chapter 14's runs (:mod:`spectral_manifolds.experiments.cvkan_precision`) use these.
"""

from __future__ import annotations

import math
import re
import warnings

import torch
from torch import nn

from spectral_manifolds import runtime
from spectral_manifolds.cvkan.block import PolarizingBlock
from spectral_manifolds.cvkan.layers import ComplexLinear
from spectral_manifolds.cvkan.models import CVKAN

__all__ = ["MixedCVKAN", "autocast_or_fp32", "exception_text", "capabilities", "dtype_trace", "backward_trace", "dynamic_range"]


def exception_text(e: BaseException) -> str:
    """``"Type: first line of the message"`` of an exception, as the probes' tables show it."""
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


def autocast_or_fp32(device: torch.device, dtype):
    """``torch.autocast`` on ``device.type`` with ``dtype``; disabled (fp32) where ``dtype`` is None."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else torch.autocast(device.type, enabled=False)


class MixedCVKAN(nn.Module):
    """``ComplexLinear(d, d, parametrization)`` then the seed's flat CVKAN (mean aggregation, centre norm).

    Shapes: ``z: (B, N, d)`` complex -> ``(B, 2)`` real logits.
    """

    def __init__(self, d: int, n_blocks: int, hidden: int, parametrization: str):
        super().__init__()
        self.mix = ComplexLinear(d, d, parametrization=parametrization)
        self.cvkan = CVKAN(d, 2, n_blocks=n_blocks, hidden=hidden)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.cvkan(self.mix(z))


def _probe(fn) -> str:
    try:
        out = fn()
        return "ok" if out is None else str(out).replace("torch.", "")
    except Exception as e:  # noqa: BLE001 -- the error is the result
        return exception_text(e)


def capabilities(device=None) -> list[dict]:
    """Probe what ``device`` (default: the runtime's) supports; each row: probe, result ('ok', a dtype or the exception).

    The probes run on ``nn.Linear(8, 8)`` and ``z: (4, 8)`` complex64 (fresh random numbers).
    """
    dev = runtime.torch_device() if device is None else torch.device(device)
    lin = nn.Linear(8, 8).to(dev)
    z = torch.randn(4, 8, dtype=torch.complex64, device=dev)

    def autocast_dtype(dtype, fn):
        with torch.autocast(dev.type, dtype=dtype):
            return fn().dtype

    def scaler_step(param):
        opt = torch.optim.AdamW([param])
        scaler = torch.amp.GradScaler(dev.type)
        scaler.scale(param.abs().sum()).backward()
        scaler.step(opt)
        scaler.update()

    def half_complex_matmul():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "ComplexHalf support is experimental"
            h = z.to(torch.complex32)
        return (h @ h.T).dtype

    probes = {
        "fp16 autocast: Linear output dtype": lambda: autocast_dtype(torch.float16, lambda: lin(z.real)),
        "bf16 autocast: Linear output dtype": lambda: autocast_dtype(torch.bfloat16, lambda: lin(z.real)),
        "fp16 autocast: complex64 matmul output dtype": lambda: autocast_dtype(torch.float16, lambda: z @ z.T),
        "bf16 autocast: complex64 matmul output dtype": lambda: autocast_dtype(torch.bfloat16, lambda: z @ z.T),
        "GradScaler step, real float32 parameter": lambda: scaler_step(nn.Parameter(torch.randn(8, device=dev))),
        "GradScaler step, complex64 parameter": lambda: scaler_step(nn.Parameter(torch.randn(8, dtype=torch.complex64, device=dev))),
        "complex32 (model.half()) matmul": half_complex_matmul,
        "torch.complex(bf16, bf16)": lambda: torch.complex(*torch.ones(2, 2, dtype=torch.bfloat16, device=dev)).dtype,
    }
    return [{"probe": name, "result": _probe(fn)} for name, fn in probes.items()]


def _dtype_names(model: nn.Module, z: torch.Tensor, dtype) -> dict:
    """``{module name: output dtype}`` for one forward under autocast ``dtype`` (plus block gain/direction)."""
    seen, hooks = {}, []

    def hook(mod, inputs, out, name):
        out = out[0] if isinstance(out, tuple) else out
        seen.setdefault(name, str(out.dtype).replace("torch.", ""))  # returns None: the output is kept

    for name, mod in model.named_modules():
        if name and not isinstance(mod, (nn.ModuleList, nn.GELU)):
            hooks.append(mod.register_forward_hook(lambda m, i, o, name=name: hook(m, i, o, name)))
    dev = z.device
    try:
        with torch.no_grad(), autocast_or_fp32(dev, dtype):
            model(z)
            block = next(m for m in model.modules() if isinstance(m, PolarizingBlock))
            gain, direction = block.parts(z.mean(-2, keepdim=True))
            seen["(first block) gain s·exp(5 tanh m)"] = str(gain.dtype).replace("torch.", "")
            seen["(first block) direction v/|v|"] = str(direction.dtype).replace("torch.", "")
    finally:
        for h in hooks:
            h.remove()
    return seen


def dtype_trace(model: nn.Module, z: torch.Tensor) -> list[dict]:
    """One row per module of ``model`` (blocks and norms after the first left out: the same): its output
    dtype in fp32, under bf16 and under fp16 autocast.

    ``model`` holds at least one :class:`PolarizingBlock` (whose gain and direction on
    ``mean(z)`` get rows of their own); ``z: (B, N, d)`` complex, on the model's device.
    A cell holds the exception (type: message) when that forward fails on ``z``'s device.
    """
    cols = {}
    for label, dtype in (("fp32", None), ("bf16 autocast", torch.bfloat16), ("fp16 autocast", torch.float16)):
        try:
            cols[label] = _dtype_names(model, z, dtype)
        except Exception as e:  # noqa: BLE001
            cols[label] = {"(forward)": exception_text(e)}
    names = [n for n in dict.fromkeys(n for c in cols.values() for n in c) if not re.search(r"\.(blocks|norms)\.[1-9]", n)]
    return [{"module": n, **{label: c.get(n, "—") for label, c in cols.items()}} for n in names]


@torch.no_grad()
def dynamic_range(model: MixedCVKAN, z: torch.Tensor) -> dict:
    """Largest and smallest magnitudes inside a forward (fp32), to set against float16's range.

    ``z: (B, N, d)`` complex, on the model's device. Returns max |z| over the token states
    (after the mixing layer and every block, before and after its norm), min |A| and max |A|
    of the blocks' aggregates, the largest gain ``s exp(5 tanh m)``, the largest |logit|, and
    the ceiling ``|s| e^5`` of the gains.
    """
    x = model.mix(z)
    mags, a_min, a_max, gains = [float(x.abs().max())], math.inf, 0.0, []
    for block, norm in zip(model.cvkan.blocks, model.cvkan.norms):
        a = block.aggregation(x)
        a_min, a_max = min(a_min, float(a.abs().min())), max(a_max, float(a.abs().max()))
        gains.append(float(block.parts(a)[0].abs().max()))
        y = block(x)
        x = norm(y)
        mags += [float(y.abs().max()), float(x.abs().max())]
    logits = model.cvkan.head(model.cvkan.pooled(x).abs())
    ceiling = max(abs(float(b.s)) for b in model.cvkan.blocks) * math.exp(5.0)
    return {"max |z|": max(mags), "min |A|": a_min, "max |A|": a_max, "max gain": max(gains), "gain ceiling |s| e^5": ceiling, "max |logit|": float(logits.abs().max())}


def backward_trace(model: nn.Module, x: torch.Tensor, y: torch.Tensor, dtype=torch.float16, scale: float = 65536.0) -> list[dict]:
    """Backward of ``scale * cross_entropy`` under autocast ``dtype``: per ``nn.Linear``, in backward order,
    the dtype and largest magnitude of the gradient arriving at its output, and the largest entries of
    its weight and bias gradients (inf = overflow). The model's gradients are cleared afterwards.

    ``x: (B, N, d)`` complex and ``y: (B,)`` int64 class labels, on the model's device; ``model(x)``
    gives ``(B, n_classes)`` logits.
    """
    rows, hooks, mods = [], [], dict(model.named_modules())
    for name, mod in mods.items():
        if isinstance(mod, nn.Linear):
            hooks.append(mod.register_full_backward_hook(lambda m, gi, go, name=name: rows.append(
                {"module": name, "grad dtype": str(go[0].dtype).replace("torch.", ""), "max |grad|": float(go[0].abs().max())}) and None))
    try:
        with autocast_or_fp32(x.device, dtype):
            loss = nn.functional.cross_entropy(model(x).float(), y)
        (loss * scale).backward()
        for r in rows:
            for kind in ("weight", "bias"):
                g = getattr(mods[r["module"]], kind).grad
                r[f"max |{kind} grad|"] = None if g is None else float(g.abs().max())
    finally:
        for h in hooks:
            h.remove()
        model.zero_grad(set_to_none=True)
    return rows
