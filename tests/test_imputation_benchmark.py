"""The imputation benchmark's harness (issue 10, item 3): scoring, skill, rows, verdicts,
real-gap fill and config validation. Real properties only, tiny sizes."""

import json

import numpy as np
import pytest

from spectral_manifolds.experiments import imputation_benchmark as ib
from spectral_manifolds.imputation import CAUSAL, metrics

TINY = ib.BenchmarkConfig(series=("co2", "sunspots"), regimes=("mcar10", "gap4", "real_gaps"), seeds=(0, 1), methods=("linear", "locf", "pchip"))


@pytest.fixture(scope="module")
def tiny():
    return ib.run(TINY, progress=False)


def test_linear_is_exact_on_a_line_and_scores_every_hidden_entry():
    t = np.arange(300, dtype=float)
    truth = 2.0 + 0.5 * t
    mask = ib.make_mask(truth, "mcar30", seed=3)
    out = ib.score_one(truth, mask, "linear")
    assert out["n_hidden"] == int(mask.sum()) == 90
    assert out["mae"] == pytest.approx(0.0, abs=1e-9) and out["rmse"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("length", [1, 4])
def test_locf_error_counts_every_hidden_entry_and_only_those(length):
    # slope-1 ramp, gaps of `length`: LOCF's error at the k-th hidden step is exactly k;
    # observed entries (error 0) would pull the mean below (length + 1) / 2 if scored
    truth = np.arange(400, dtype=float)
    mask = ib.make_mask(truth, f"gap{length}", seed=1, gap_rate=0.1)
    out = ib.score_one(truth, mask, "locf")
    k = np.arange(1, length + 1)
    assert out["mae"] == pytest.approx(k.mean(), rel=1e-9)
    assert out["rmse"] == pytest.approx(np.sqrt(np.mean(k**2)), rel=1e-9)


def test_one_row_per_combination_that_ran(tiny):
    keys = [(r["series"], r["regime"], r["seed"], r["method"]) for r in tiny.rows]
    assert len(keys) == len(set(keys))
    skipped = {(s["series"], s["regime"], s["seed"], s["method"]) for s in tiny.skipped}
    everything = {(s, g, k, m) for s in TINY.series for g in TINY.regimes for k in TINY.seeds for m in TINY.methods}
    assert set(keys) | skipped == everything and not set(keys) & skipped
    # the real gap mixture is CO2's only, and the reason is recorded
    assert {k for k in skipped if k[1] == "real_gaps"} == {k for k in everything if k[:2] == ("sunspots", "real_gaps")}
    assert all(s["reason"] for s in tiny.skipped)
    for r in tiny.rows:
        assert r["causal"] == (r["method"] in CAUSAL)
        assert r["mae"] > 0 and r["rmse"] >= r["mae"] and r["fit_seconds"] >= 0 and r["n_hidden"] > 0
    json.loads(tiny.to_json())


def test_skill_of_linear_is_exactly_zero_and_others_match_the_definition(tiny):
    lin = {(r["series"], r["regime"], r["seed"]): r["mae"] for r in tiny.rows if r["method"] == "linear"}
    for r in tiny.rows:
        if r["method"] == "linear":
            assert r["skill"] == 0.0
        else:
            assert r["skill"] == pytest.approx(1 - r["mae"] / lin[(r["series"], r["regime"], r["seed"])])


def test_summary_and_verdicts(tiny):
    summary = ib.summary_rows(tiny)
    groups = {(r["series"], r["regime"], r["method"]) for r in tiny.rows}
    assert {(s["series"], s["regime"], s["method"]) for s in summary} == groups
    assert {s["direction"] for s in summary} == {"causal", "bidirectional"}
    verdicts = ib.verdict_rows(tiny, n_boot=500)
    assert len(verdicts) == len([g for g in groups if g[2] != "linear"])
    assert {v["vs linear"] for v in verdicts} <= {metrics.WINS, metrics.LOSES, metrics.TIE}
    assert {v["t verdict"] for v in verdicts} <= {metrics.WINS, metrics.LOSES, metrics.TIE}


def test_real_gap_fill_fills_exactly_the_real_gaps():
    from spectral_manifolds.data.real_series import load_co2

    raw = load_co2()
    out = ib.real_gap_fill("co2", "linear")
    assert int(raw.missing.sum()) == 59
    assert not np.isnan(out.values).any()
    np.testing.assert_array_equal(out.values[~raw.missing], raw.values[~raw.missing])
    assert np.isnan(raw.values).sum() == 59  # the loader's array is not modified
    with pytest.raises(ValueError):
        ib.real_gap_fill("sunspots", "linear")


@pytest.mark.parametrize("bad", [
    dict(series=("nile",)), dict(regimes=("gap3",)), dict(methods=("locf",)), dict(methods=("linear", "magic")),
    dict(seeds=()), dict(seeds=(0, 0)), dict(seeds=(-1,)), dict(gap_rate=0.0), dict(gap_rate=1.5),
    dict(train_fraction=1.0), dict(harmonics={"co2": 0, "sunspots": 1}), dict(series=[]),
])
def test_bad_config_raises(bad):
    with pytest.raises(ValueError):
        ib.BenchmarkConfig(**bad)


def test_config_for_budgets():
    quick, full = ib.config_for("quick"), ib.config_for("full")
    assert set(quick.regimes) < set(full.regimes) == set(ib.REGIMES) and len(full.seeds) >= 5
    with pytest.raises(ValueError):
        ib.config_for("huge")
