"""Chapter 17's speed benchmarks (experiments/cvkan_speed.py): the timing machinery, the
equality check behind the arithmetic comparison, and one tiny run end to end.

These are tests of the benchmark code, never timed tests: no assertion depends on how fast
this machine is, only on the bookkeeping and on orderings that hold by a wide margin.
"""

import dataclasses
import time

import numpy as np
import pytest
import torch

from spectral_manifolds.experiments import cvkan_speed as sp

QUICK = sp.config_for("quick")
TINY = dataclasses.replace(QUICK, batch_size=8, n_batches=2, d=4, hidden=8, n_blocks=1, warmup_steps=1, steps=2, repeats=3, compile_backend="eager")


def test_measure_counts_rounds_and_samples_and_rotates_the_order():
    calls = []

    def slow(i):
        calls.append("slow")
        time.sleep(0.01)

    def fast(i):
        calls.append("fast")

    rates = sp.measure({"slow": slow, "fast": fast}, batch_size=4, warmup_steps=2, steps=3, repeats=4, device="cpu")
    assert {k: len(v) for k, v in rates.items()} == {"slow": 4, "fast": 4}
    assert len(calls) == 2 * 2 + 4 * 2 * 3
    assert all(r <= 4 / 0.01 for r in rates["slow"])  # 3 steps of >= 10 ms for 3 * 4 samples
    assert min(rates["fast"]) > max(rates["slow"])
    timed = calls[4:]
    assert timed[0] == "slow" and timed[3] == "fast" and timed[6] == "fast"  # round 2 starts with the other setting


def test_spread_and_ratios():
    assert sp.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert sp.ratios([4.0, 9.0], [2.0, 3.0]) == [2.0, 3.0]


def test_complex_and_real_pair_layers_agree_to_float32_rounding():
    check = sp.arithmetic_check(QUICK, "cpu")
    assert check["max |Δ output| / max |y|"] < 1e-5
    assert check["max |Δ weight grad| / max |grad|"] < 1e-5
    assert check["max |y|"] > 0.1


def test_on_the_fly_and_precomputed_models_compute_the_same_loss():
    b = sp.batches(TINY, "cpu")
    model = sp.build_model(TINY)
    torch.testing.assert_close(model(b["waves"][0]), model(b["frames"][0]))
    assert b["frames"].shape[:2] == b["waves"].shape[:2] == b["labels"].shape == (2, 8)


def test_tiny_run_end_to_end():
    res = sp.run(TINY, device="cpu")
    assert set(res.rates) == {"input", "arithmetic", "compile"}
    assert res.compile["error"] is None and res.compile["first_step_seconds"] > 0
    for settings in res.rates.values():
        for v in settings.values():
            assert len(v) == TINY.repeats and all(np.isfinite(v)) and min(v) > 0
    # the STFT alone costs less than a whole training step around it (orders of magnitude, not a timing)
    assert np.median(res.rates["input"]["STFT alone"]) > np.median(res.rates["input"]["on-the-fly STFT"])
    names = [r["ratio (samples/s)"] for r in sp.ratio_rows(res)]
    assert names == [r[0] for r in sp.RATIOS]
    assert len(sp.rate_rows(res)) == 3 + 4 + 2
    assert [r["verdict"] in ("reproduced", "not reproduced", "inconclusive") for r in sp.speedup_verdict_rows(res)] == [True, True]
    assert "cpu" in res.device and res.to_dict()["config"]["batch_size"] == 8


def test_a_failing_compile_is_recorded_not_raised(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here\nsecond line")

    monkeypatch.setattr(torch, "compile", broken)
    out = sp.compile_benchmark(TINY, "cpu")
    assert out["error"] == "RuntimeError: no compiler here" and out["rates"] == {}


def test_config_budgets_and_errors():
    full = sp.config_for("full")
    assert full.compile_backend == "inductor" and QUICK.compile_backend == "aot_eager"
    assert QUICK.repeats >= 3 and full.repeats >= 5 and full.warmup_steps >= 1
    for bad in (dict(repeats=1), dict(warmup_steps=0), dict(compile_backend="tvm"), dict(batch_size=0)):
        with pytest.raises(ValueError):
            dataclasses.replace(QUICK, **bad)
