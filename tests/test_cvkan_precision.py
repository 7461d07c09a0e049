"""cvkan.precision: the device/dtype probes and MixedCVKAN (chapter 14), on the CPU."""

from __future__ import annotations

import math

import pytest
import torch

from spectral_manifolds.cvkan import precision as pr
from spectral_manifolds.data.polarization import make_polarization

D, N_BLOCKS, HIDDEN = 8, 1, 16
CPU = torch.device("cpu")
FP16_MAX = float(torch.finfo(torch.float16).max)


def _pair(seed=0):
    """The same seed builds both parametrizations."""
    torch.manual_seed(seed)
    a = pr.MixedCVKAN(D, N_BLOCKS, HIDDEN, "complex")
    torch.manual_seed(seed)
    b = pr.MixedCVKAN(D, N_BLOCKS, HIDDEN, "real")
    return a, b


def _tokens(n=6, seed=0):
    data = make_polarization(n, 2, d=D, seed=seed)
    return torch.from_numpy(data.z_train), torch.from_numpy(data.y_train)


def test_helpers():
    assert pr.exception_text(ValueError("first\nsecond")) == "ValueError: first"
    assert pr.exception_text(RuntimeError()) == "RuntimeError: "
    with pr.autocast_or_fp32(CPU, None):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with pr.autocast_or_fp32(CPU, torch.bfloat16):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_mixed_cvkan_shapes():
    a, _ = _pair()
    z, _ = _tokens()
    assert a(z).shape == (len(z), 2) and not a(z).is_complex()


# --------------------------------------------------------------------- GradScaler and autocast on the CPU
def _scaler_step(model):
    z, y = _tokens()
    opt = torch.optim.AdamW(model.parameters())
    scaler = torch.amp.GradScaler("cpu")
    with torch.autocast("cpu", dtype=torch.float16):
        loss = torch.nn.functional.cross_entropy(model(z).float(), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()


def test_gradscaler_refuses_complex_parameters_and_takes_real_ones():
    a, b = _pair()
    with pytest.raises(NotImplementedError, match="ComplexFloat"):
        _scaler_step(a)
    _scaler_step(b)
    assert all(torch.isfinite(p).all() for p in b.parameters())
    rows = {r["probe"]: r["result"] for r in pr.capabilities(CPU)}
    assert rows["GradScaler step, complex64 parameter"].startswith("NotImplementedError")
    assert rows["GradScaler step, real float32 parameter"] == "ok"


def test_capabilities_autocast_keeps_complex_matmuls_complex64():
    rows = {r["probe"]: r["result"] for r in pr.capabilities(CPU)}
    assert rows["bf16 autocast: Linear output dtype"] == "bfloat16"
    assert rows["fp16 autocast: complex64 matmul output dtype"] == rows["bf16 autocast: complex64 matmul output dtype"] == "complex64"
    assert rows["torch.complex(bf16, bf16)"].startswith("RuntimeError")  # why the block casts its MLP outputs back


def test_dtype_trace_under_bf16_autocast():
    a, _ = _pair()
    z, _ = _tokens()
    rows = {r["module"]: r for r in pr.dtype_trace(a, z)}
    assert not any(".blocks.1" in name for name in rows)
    for name in ("mix", "cvkan.blocks.0", "cvkan.norms.0", "(first block) direction v/|v|"):
        assert rows[name]["bf16 autocast"] == rows[name]["fp16 autocast"] == "complex64", name
    assert rows["cvkan.blocks.0.psi_m.0"]["bf16 autocast"] == "bfloat16" and rows["cvkan.blocks.0.psi_p.4"]["fp16 autocast"] == "float16"
    assert rows["(first block) gain s·exp(5 tanh m)"]["bf16 autocast"] == "float32"  # cast back before exp
    assert rows["cvkan.head.0"]["bf16 autocast"] == "float32"  # LayerNorm runs in float32 under autocast
    assert all(r["fp32"] in ("float32", "complex64") for r in rows.values())


def test_backward_trace_is_linear_in_the_loss_scale_and_reports_half_gradients():
    _, b = _pair()
    z, y = _tokens()
    one, big = pr.backward_trace(b, z, y, torch.float16, 1.0), pr.backward_trace(b, z, y, torch.float16, 1024.0)
    assert [r["module"] for r in one] == [r["module"] for r in big] and one[0]["module"] == "cvkan.head.1"
    assert all(r["grad dtype"] == "float16" for r in one)
    for r1, r2 in zip(one, big):
        if r1["max |grad|"] > 1e-3:  # far above float16's subnormals
            assert r2["max |grad|"] == pytest.approx(1024.0 * r1["max |grad|"], rel=0.01)
    huge = pr.backward_trace(b, z, y, torch.float16, 1e12)
    assert any(math.isinf(r["max |grad|"]) for r in huge)  # past 65504: the overflow the scaler looks for
    assert all(p.grad is None for p in b.parameters())


def test_dynamic_range_gains_stay_below_their_ceiling():
    a, _ = _pair()
    z, _ = _tokens()
    r = pr.dynamic_range(a, z)
    assert 0 < r["max gain"] <= r["gain ceiling |s| e^5"] * (1 + 1e-6)
    assert r["min |A|"] <= r["max |A|"] and r["max |z|"] < FP16_MAX
