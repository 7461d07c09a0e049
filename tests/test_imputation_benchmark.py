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
    # one series' rows are that series' part of the whole (the tables decide one series at a time)
    assert ib.verdict_rows(tiny, n_boot=500, series="co2") == [v for v in verdicts if v["series"] == "co2"]
    assert ib.summary_rows(tiny, "co2") == [r for r in summary if r["series"] == "co2"]


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
    dict(model_seeds=()), dict(model_seeds=(1, 1)), dict(workers=0), dict(train_steps=0),
])
def test_bad_config_raises(bad):
    with pytest.raises(ValueError):
        ib.BenchmarkConfig(**bad)


def test_config_for_budgets():
    quick, full = ib.config_for("quick"), ib.config_for("full")
    assert set(quick.regimes) < set(full.regimes) == set(ib.REGIMES) and len(full.seeds) >= 5
    with pytest.raises(ValueError):
        ib.config_for("huge")


# ---------------------------------------------------------------- the model-seed axis and the chapter's orderings
ORDER = ib.BenchmarkConfig(
    series=("co2",), regimes=("mcar30", "gap16"), seeds=(0, 1, 2), model_seeds=(0, 1),
    methods=("linear", "locf", "state_space", "sinusoid", "manifoldformer", "manifoldformer_bidir"),
    train_steps=512, learned_options={"manifoldformer": {"epochs": 15}},
)


@pytest.fixture(scope="module")
def ordered():
    return ib.run(ORDER, progress=False)


def test_learned_rows_per_model_seed_classical_once(ordered):
    for r in ordered.rows:
        assert (r["model_seed"] is None) == (r["method"] not in ib.LEARNED)
    by = {}
    for r in ordered.rows:
        by.setdefault((r["regime"], r["seed"], r["method"]), []).append(r)
    for (regime, seed, method), rs in by.items():
        assert len(rs) == (len(ORDER.model_seeds) if method in ib.LEARNED else 1)
        if method in ib.LEARNED:  # another model seed, another fill of the same mask
            assert len({r["mae"] for r in rs}) == len(rs)
    assert ordered.parameters["co2/manifoldformer_bidir"] == 2 * ordered.parameters["co2/manifoldformer"] > 0


def test_chapter_orderings_at_quick(ordered):
    verdict = {(v["regime"], v["method"]): v["vs linear"] for v in ib.verdict_rows(ordered, n_boot=2000)}
    mae = {(s["regime"], s["method"]): s["MAE mean"] for s in ib.summary_rows(ordered)}
    # a season-aware method beats linear interpolation on 16-week gaps of CO2
    assert verdict[("gap16", "state_space")] == verdict[("gap16", "sinusoid")] == metrics.WINS
    # carrying the last value forward loses on both regimes
    assert verdict[("mcar30", "locf")] == verdict[("gap16", "locf")] == metrics.LOSES
    # the ManifoldFormer loses to linear on scattered weeks; its forward + backward pair beats its rollout
    assert verdict[("mcar30", "manifoldformer")] == metrics.LOSES
    for regime in ORDER.regimes:
        assert mae[(regime, "manifoldformer_bidir")] < mae[(regime, "manifoldformer")]


def test_series_table_and_synthetic_series():
    from spectral_manifolds.experiments import imputation_benchmark_data as bdata
    from spectral_manifolds.experiments import imputation_benchmark_tables as tables

    res = ib.run(ib.BenchmarkConfig(series=("normal_modes",), regimes=("block16", "gap4"), seeds=(0, 1), methods=("linear", "locf"),
                                    synthetic_steps=(128, 256)), progress=False)
    t = tables.series_table(res, "normal_modes")
    assert set(t.index) == {(r, m) for r in ("block16", "gap4") for m in ("linear", "locf")}
    assert t.loc[("gap4", "linear"), "vs linear"] == "reference"
    s = bdata.load("normal_modes", synthetic_steps=(128, 256))
    assert s.test.shape == s.truth.shape == (256, 8) and not np.allclose(s.test, s.truth)  # scored against the clean signal
    o = bdata.load("oscillator", synthetic_steps=(128, 64))
    assert o.train.shape == (128, 16) and o.n_channels == 16


def test_parallel_classical_methods_give_the_sequential_rows():
    # the structural model's fits go to the pool first and its filter / smoother jobs after them
    import dataclasses

    cfg = dataclasses.replace(TINY, series=("co2",), regimes=("gap4",), workers=2, methods=TINY.methods + ("kalman", "state_space"))
    a, b = ib.run(cfg, progress=False), ib.run(dataclasses.replace(cfg, workers=1), progress=False)
    key = lambda r: (r["regime"], r["seed"], r["method"], r["mae"], r["rmse"], r["skill"])  # noqa: E731
    assert sorted(map(key, a.rows)) == sorted(map(key, b.rows)) and len(a.rows) == 2 * 5


def test_structural_model_is_fitted_once_on_the_training_part():
    from spectral_manifolds.data.real_series import Scaler
    from spectral_manifolds.experiments import imputation_benchmark_data as bdata
    from spectral_manifolds.imputation import statespace

    cfg = ib.BenchmarkConfig(series=("co2",), regimes=("gap4",), seeds=(0, 1), methods=("linear", "kalman", "state_space"))
    res = ib.run(cfg, progress=False)
    data = bdata.load("co2")
    scaler = Scaler.fit(data.train)
    fit = statespace.fit_structural(scaler.transform(data.train), **ib.method_options("state_space", "co2", cfg.harmonics["co2"]))
    assert res.parameters["co2/kalman"] == res.parameters["co2/state_space"] == fit.n_params
    for seed in cfg.seeds:
        mask = ib.make_mask(data.test, "gap4", seed, cfg.gap_rate)
        filtered, smoothed = fit.fills(scaler.transform(np.where(mask, np.nan, data.test)))
        rows = {r["method"]: r for r in res.rows if r["seed"] == seed}
        for method, fill in (("kalman", filtered), ("state_space", smoothed)):
            assert rows[method]["mae"] == pytest.approx(metrics.mae(data.truth, scaler.inverse(fill), mask), rel=1e-9)
        # one estimation and one pass serve both: each is charged all of it
        assert rows["kalman"]["fit_seconds"] == rows["state_space"]["fit_seconds"] > 0


def test_learned_settings_follow_options_and_defaults():
    from spectral_manifolds.experiments import imputation_benchmark_learned as ibl

    rows = {r["method"]: r for r in ibl.settings({"brits": {"epochs": 7, "lr": 0.02, "batch_size": 99}}, budget="quick")}
    assert set(rows) == {"gru", "bigru", "saits", "brits", "manifoldformer (both)"}
    assert (rows["brits"]["epochs"], rows["brits"]["step size"], rows["brits"]["batch (windows)"]) == (7, 0.02, 99)
    assert rows["gru"]["epochs"] == 30 and rows["saits"]["epochs"] == 50 and rows["manifoldformer (both)"]["epochs"] == 15
    full = ib.config_for("full")
    assert {r["method"]: r["epochs"] for r in ibl.settings(full.learned_options, budget="full")}["brits"] == full.learned_options["brits"]["epochs"]


def test_learned_jobs_in_processes_give_the_in_process_rows():
    import dataclasses

    from spectral_manifolds.experiments import imputation_benchmark_learned as ibl

    assert ibl.groups(["saits", "manifoldformer_bidir", "gru", "linear"]) == [("gru",), ("manifoldformer_bidir",), ("saits",)]
    assert ibl.groups(ib.LEARNED)[0] == ("brits",) and ("manifoldformer", "manifoldformer_bidir") in ibl.groups(ib.LEARNED)
    cfg = ib.BenchmarkConfig(series=("co2", "sunspots"), regimes=("gap4",), seeds=(0,), model_seeds=(0,), methods=("linear", "gru", "bigru"),
                             train_steps=128, learned_options={"gru": {"epochs": 2}, "bigru": {"epochs": 2}}, learned_workers=2)
    a, b = ib.run(cfg, progress=False), ib.run(dataclasses.replace(cfg, learned_workers=1), progress=False)
    key = lambda r: (r["series"], r["regime"], r["seed"], r["method"], r["model_seed"], round(r["mae"], 9))  # noqa: E731
    assert [key(r) for r in a.rows] == [key(r) for r in b.rows] and len(a.rows) == 2 * 3
    assert a.parameters == b.parameters


def test_verdict_grid_family_tables_and_skipped_table(ordered, tiny):
    from spectral_manifolds.experiments import imputation_benchmark_tables as tables

    grid = tables.verdict_grid(ordered, "co2")
    assert list(grid.columns) == ["mcar30", "gap16"]  # by typical gap length
    full = tables.series_table(ordered, "co2")
    for (direction, method), row in grid.iterrows():
        for regime, cell in row.items():
            assert cell.endswith(full.loc[(regime, method), "vs linear"])  # the table's verdict, beside the mean skill
    assert grid.index.get_level_values("direction")[0] == "causal"
    fams = tables.family_tables(ordered, "co2")
    assert sum(len(t) for t in fams.values()) == len(full) and all(len(t) <= 60 for t in fams.values())
    with pytest.raises(ValueError, match="no rows"):
        tables.verdict_grid(ordered, "sunspots")
    skipped = tables.skipped_table(tiny)
    assert skipped["count"].sum() == len(tiny.skipped) and skipped.index.is_unique
    assert any("CO2" in reason for reason in skipped.index)  # a name's digits are not a count
