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
from spectral_manifolds.experiments import cvkan_precision_speed as sp
from spectral_manifolds.experiments import cvkan_precision_tables as tb

QUICK = cp.PrecisionConfig.for_budget("quick")
SMALL = dataclasses.replace(QUICK, n_blocks=1, hidden=16, d=8)
CPU = torch.device("cpu")
RUN = dataclasses.replace(QUICK, n_train=320, n_test=200)  # the quick budget's models and precisions, half the steps


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
@pytest.mark.parametrize("change", [dict(n_seeds=1), dict(lr=0.0), dict(precisions=("fp8",)), dict(precisions=("bf16",)), dict(n_train=0),
                                    dict(models=("complex",)), dict(models=("real", "X")), dict(speed_repeats=0)])
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


def test_baseline_r_is_real_and_matched_within_5_percent():
    for cfg in (QUICK, cp.PrecisionConfig.for_budget("full")):
        r, model = cp.build_model(cfg, "R"), cp.build_model(cfg, "real")
        assert abs(cp.n_real_parameters(r) / cp.n_real_parameters(model) - 1) <= 0.05
        assert not any(p.is_complex() for p in r.parameters())
    z, _ = _tokens(QUICK)
    assert cp.build_model(QUICK, "R")(z).shape == (len(z), 2)


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
    return cp.run(RUN, device=CPU, progress=False)


def test_result_shapes_and_json(quick):
    assert len(quick.runs) == RUN.n_seeds * len(RUN.precisions) * len(RUN.models)
    assert len(cp.results_rows(quick)) == len(RUN.precisions) * len(RUN.models)
    assert "× fp32" in cp.results_rows(quick)[0] and "× fp32" not in cp.results_rows(quick, speed=False)[0]
    assert json.loads(quick.to_json())["config"]["device"] == "cpu"
    with pytest.raises(ValueError):
        quick.rows("fp8", "real")


def test_complex_parameters_fail_at_the_scalers_first_step_real_ones_train(quick):
    for r in quick.rows("fp16 + GradScaler", "complex"):
        assert r["status"].startswith("NotImplementedError") and "ComplexFloat" in r["status"] and r["error_step"] == 0
    for prec in RUN.precisions:
        for r in quick.rows(prec, "real") + quick.rows(prec, "R"):
            assert r["status"] == "ok" and r["steps"] == RUN.epochs * math.ceil(RUN.n_train / RUN.batch_size)
            assert r["n_nonfinite_grad"] == r["skipped_steps"] or not cp.PRECISIONS[prec][1]


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
        np.testing.assert_allclose(a, b, atol=1.5 / RUN.n_test)


def test_ranges_far_inside_float16(quick):
    for row in cp.range_rows(quick):
        assert row["max |z|"] < 1e-2 * cp.FP16_MAX and row["max gain"] <= row["gain ceiling |s| e^5"] * 1.001
    verdicts = cp.verdict_rows(quick)
    assert len(verdicts) == len(RUN.models) * (len(RUN.precisions) - 1) - 1  # complex + scaler never ran
    assert all(v["verdict"] in ("reproduced", "not reproduced", "inconclusive") for v in verdicts)


def test_first_batch_reproduces_step_zero_of_the_scaled_runs(quick):
    """Where a scaled run found a non-finite gradient at step 0, the trace of that step shows the inf."""
    scale = torch.amp.GradScaler("cpu").get_scale()
    for r in quick.rows("fp16 + GradScaler", "real"):
        x, y = cp.first_batch(RUN, r["seed"], CPU)
        assert x.shape == (RUN.batch_size, 16, RUN.d) and x.is_complex()
        runtime.seed_everything(r["seed"])
        model = cp.build_model(RUN, "real")
        with runtime.torch_cpu_threads(CPU):
            trace = backward_trace(model, x, y, torch.float16, scale)
        overflow = any(not math.isfinite(v) for t in trace for k, v in t.items() if k.startswith("max") and v is not None)
        if r["first_nonfinite_grad"] == 0:
            assert overflow, r["seed"]
        else:
            assert not overflow, r["seed"]


# --------------------------------------------------------------------- non-finite counts and fact rows
def test_nonfinite_verdicts_follow_the_counts(quick):
    for what, key in (("loss", "n_nonfinite_loss"), ("gradient", "n_nonfinite_grad")):
        rows = tb.nonfinite_verdicts(quick, what)
        assert len(rows) == len(cp.verdict_rows(quick))
        for row in rows:
            model, prec = row["claim"].split(": ")[0], row["claim"].split(": ")[1].split(" gives")[0]
            m = {v: k for k, v in cp.MODEL_LABELS.items()}[model]
            counts = [r[key] for r in quick.rows(prec, m)] + [r[key] for r in quick.rows("fp32", m)]
            if not any(counts):  # every paired difference 0: the rule cannot call it either way
                assert row["verdict"] == "inconclusive"
    with pytest.raises(ValueError):
        tb.nonfinite_verdicts(quick, "nan")


def test_first_overflow_is_the_first_non_finite_row():
    trace = [{"module": "a", "max |grad|": 1.0, "max |weight grad|": 2.0}, {"module": "b", "max |grad|": float("inf")},
             {"module": "c", "max |grad|": float("nan")}]
    assert tb.first_overflow(trace) == "b" and tb.first_overflow(trace[:1]) is None


def test_fact_rows_report_what_the_runs_show(quick):
    facts = {r["statement"]: r for r in tb.fact_rows(quick)}
    scaler = facts["torch.amp.GradScaler.step raises for complex parameters"]
    assert scaler["holds here"] == "yes" and scaler["observed"].startswith(f"{RUN.n_seeds} of {RUN.n_seeds}")
    caps = {c["probe"]: c["result"] for c in quick.capabilities}
    assert (facts["autocast leaves complex matmuls in complex64"]["holds here"] == "yes") == (caps["fp16 autocast: complex64 matmul output dtype"] == "complex64")
    real_ok = all(r["status"] == "ok" and not r["n_nonfinite_loss"] for p in ("fp16 + GradScaler", "bf16") for r in quick.rows(p, "real"))
    assert facts["real parameters train in fp16 + GradScaler and in bf16 with no non-finite loss"]["holds here"] == ("yes" if real_ok else "no")
    assert all(r["holds here"].split()[0] in ("yes", "no", "not") for r in facts.values())


# --------------------------------------------------------------------- repeated timings
def test_speed_runs_time_every_setting_that_trains():
    cfg = dataclasses.replace(QUICK, d=8, hidden=16, models=("complex", "real"), precisions=("fp32", "fp16 + GradScaler", "bf16"),
                              speed_repeats=2, speed_steps=1, warmup_steps=1)
    s = sp.speed_runs(cfg, device=CPU, progress=False)
    assert set(s["errors"]) == {"fp16 + GradScaler|complex"} and "ComplexFloat" in s["errors"]["fp16 + GradScaler|complex"]
    assert len(s["steps_per_s"]) == 5 and all(len(v) == 2 and min(v) > 0 for v in s["steps_per_s"].values())
    rows = sp.speed_rows(s)
    assert len(rows) == 6 and sum(r["error"] != "—" for r in rows) == 1
    assert [r["× fp32, median [min, max]"] for r in rows if r["precision"] == "fp32"] == ["1", "1"]
    assert len(sp.speed_verdicts(s)) == 3
