"""experiments.cvkan_precision: the properties and claims of chapter 14 (precision) at the quick budget.

The probes and MixedCVKAN of cvkan.precision are tested in test_cvkan_precision.py.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from spectral_manifolds import runtime
from spectral_manifolds.data.polarization import make_polarization
from spectral_manifolds.cvkan.precision import backward_trace
from spectral_manifolds.experiments import cvkan_precision as cp

QUICK = cp.PrecisionConfig.for_budget("quick")
SMALL = dataclasses.replace(QUICK, n_blocks=1, hidden=16, d=8)
CPU = torch.device("cpu")


def _pair(cfg=SMALL, seed=0):
    """The same seed builds both parametrizations."""
    torch.manual_seed(seed)
    a = cp.build_model(cfg, "complex")
    torch.manual_seed(seed)
    b = cp.build_model(cfg, "real")
    return a, b


def _tokens(cfg=SMALL, n=6, seed=0):
    data = make_polarization(n, 2, d=cfg.d, seed=seed)
    return torch.from_numpy(data.z_train), torch.from_numpy(data.y_train)


# --------------------------------------------------------------------- configuration
@pytest.mark.parametrize("change", [dict(n_seeds=1), dict(lr=0.0), dict(precisions=("fp8",)), dict(precisions=("bf16",)), dict(n_train=0)])
def test_config_rejects_bad_values(change):
    with pytest.raises(ValueError):
        dataclasses.replace(QUICK, **change)


def test_budgets():
    full = cp.PrecisionConfig.for_budget("full")
    assert QUICK.n_seeds >= 3 and full.n_seeds >= 5 and full.n_train == 5000
    with pytest.raises(ValueError):
        cp.PrecisionConfig.for_budget("medium")
    with pytest.raises(ValueError):
        cp.build_model(QUICK, "polar")


# --------------------------------------------------------------------- the two parametrizations
def test_parametrizations_hold_complex_or_only_real_parameters():
    a, b = _pair()
    assert any(p.is_complex() for p in a.parameters())
    assert not any(p.is_complex() for p in b.parameters())
    assert not any(p.is_complex() for p in a.cvkan.parameters())  # the CVKAN itself is real on complex input
    assert cp.n_real_parameters(a) == cp.n_real_parameters(b)


def test_parametrizations_compute_the_same_function_in_fp32():
    a, b = _pair()
    torch.testing.assert_close(b.mix.weight, torch.view_as_real(a.mix.weight))
    z, _ = _tokens()
    with torch.no_grad():
        torch.testing.assert_close(a(z), b(z), rtol=0, atol=0)


def test_one_adamw_step_moves_both_parametrizations_alike():
    a, b = _pair()
    z, y = _tokens()
    for m in (a, b):
        opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
        torch.nn.functional.cross_entropy(m(z), y).backward()
        opt.step()
    torch.testing.assert_close(torch.view_as_real(a.mix.weight.detach()), b.mix.weight.detach(), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(a(z), b(z), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------- the training loop's checks
def test_grad_flags_find_a_non_finite_gradient():
    _, b = _pair()
    for p in b.parameters():
        p.grad = torch.zeros_like(p)
    assert not cp._grad_flags(b).any()
    next(b.parameters()).grad[0] = float("inf")
    flags = cp._grad_flags(b)
    assert flags.dtype == torch.bool and flags[0] and flags.sum() == 1


# --------------------------------------------------------------------- the chapter's runs (quick sizes)
@pytest.fixture(scope="module")
def quick():
    return cp.run(QUICK, device=CPU, progress=False)


def test_result_shapes_and_json(quick):
    assert len(quick.runs) == QUICK.n_seeds * len(QUICK.precisions) * len(cp.PARAMETRIZATIONS)
    assert len(cp.results_rows(quick)) == len(QUICK.precisions) * len(cp.PARAMETRIZATIONS)
    assert json.loads(quick.to_json())["config"]["device"] == "cpu"
    with pytest.raises(ValueError):
        quick.rows("fp8", "real")


def test_complex_parameters_fail_at_the_scalers_first_step_real_ones_train(quick):
    for r in quick.rows("fp16 + GradScaler", "complex"):
        assert r["status"].startswith("NotImplementedError") and "ComplexFloat" in r["status"] and r["error_step"] == 0
    for prec in QUICK.precisions:
        for r in quick.rows(prec, "real"):
            assert r["status"] == "ok" and r["steps"] == QUICK.epochs * math.ceil(QUICK.n_train / QUICK.batch_size)


def test_no_nan_loss_anywhere_and_scaler_skips_are_its_non_finite_steps(quick):
    for r in quick.runs:
        assert r["first_nonfinite_loss"] is None
        if cp.PRECISIONS[r["precision"]][1] and r["status"] == "ok":
            assert (r["skipped_steps"] > 0) == (r["first_nonfinite_grad"] is not None)
        elif r["status"] == "ok":
            assert r["first_nonfinite_grad"] is None and r["skipped_steps"] == 0
    for prec in ("fp32", "fp16, no scaler", "bf16"):  # the parametrization does not change training
        a = [r["accuracy"] for r in quick.rows(prec, "complex")]
        b = [r["accuracy"] for r in quick.rows(prec, "real")]
        np.testing.assert_allclose(a, b, atol=1.5 / QUICK.n_test)


def test_ranges_far_inside_float16(quick):
    for row in cp.range_rows(quick):
        assert row["max |z|"] < 1e-2 * cp.FP16_MAX and row["max gain"] <= row["gain ceiling |s| e^5"] * 1.001
    verdicts = cp.verdict_rows(quick)
    assert len(verdicts) == 2 * (len(QUICK.precisions) - 1) - 1  # complex + scaler never ran
    assert all(v["verdict"] in ("reproduced", "not reproduced", "inconclusive") for v in verdicts)


def test_first_batch_reproduces_step_zero_of_the_scaled_runs(quick):
    """Where a scaled run found a non-finite gradient at step 0, the trace of that step shows the inf."""
    scale = torch.amp.GradScaler("cpu").get_scale()
    for r in quick.rows("fp16 + GradScaler", "real"):
        x, y = cp.first_batch(QUICK, r["seed"], CPU)
        assert x.shape == (QUICK.batch_size, 16, QUICK.d) and x.is_complex()
        runtime.seed_everything(r["seed"])
        model = cp.build_model(QUICK, "real")
        with runtime.torch_cpu_threads(CPU):
            trace = backward_trace(model, x, y, torch.float16, scale)
        overflow = any(not math.isfinite(v) for t in trace for k, v in t.items() if k.startswith("max") and v is not None)
        if r["first_nonfinite_grad"] == 0:
            assert overflow, r["seed"]
        else:
            assert not overflow, r["seed"]
