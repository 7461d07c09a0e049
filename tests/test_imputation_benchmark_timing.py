"""The benchmark's part timer: every part of the full run is timed once, and the counts are the run's own."""

import dataclasses

import pytest

from spectral_manifolds.experiments import imputation_benchmark as ib
from spectral_manifolds.experiments import imputation_benchmark_timing as ibt


@pytest.fixture(scope="module")
def rows():
    cfg = dataclasses.replace(ib.config_for("quick"), regimes=("gap16", "real_gaps"), seeds=(0, 1))
    return cfg, ibt.part_times("co2", cfg)


def test_every_part_is_timed_once_with_the_runs_counts(rows):
    cfg, out = rows
    n_masks = len(cfg.regimes) * len(cfg.seeds)  # both regimes apply to CO2
    learned = [m for m in cfg.methods if m in ib.LEARNED and m not in ("manifoldformer", "manifoldformer_bidir")]
    fits = {r["method"]: r for r in out if r["part"] == "fit (one model seed)"}
    assert sorted(fits) == sorted(learned)
    assert all(r["count"] == len(cfg.model_seeds) for r in fits.values())
    mf = [r for r in out if r["part"] == "fit (all model seeds at once)"]
    assert len(mf) == 1 and mf[0]["count"] == 1
    per_mask = [r for r in out if r["part"] in ("structural pass (one mask)", "model-free methods (one mask)")]
    assert len(per_mask) == 2 and all(r["count"] == n_masks for r in per_mask)
    assert [r["count"] for r in out if r["part"].startswith("structural estimation")] == [1]  # CO2 has one channel
    assert all(r["seconds"] > 0 and r["total seconds"] == pytest.approx(r["seconds"] * r["count"]) for r in out)


def test_estimate_spreads_only_the_classical_parts_over_workers(rows):
    _, out = rows
    serial = ibt.estimate(out, workers=1)["co2"]
    classical = sum(r["total seconds"] for r in out if r["part"].startswith(("structural", "model-free")))
    assert serial == pytest.approx(sum(r["total seconds"] for r in out))
    assert ibt.estimate(out, workers=4)["co2"] == pytest.approx(serial - classical + classical / 4)
    with pytest.raises(ValueError):
        ibt.estimate(out, workers=0)


def test_unknown_series_is_refused():
    with pytest.raises(ValueError):
        ibt.part_times("nile", ib.config_for("quick"))
