"""Tests for experiments.oracle_diagnosis: issue 10's diagnosis tables at the quick budget.

Oracles: the orderings the chapter reads off the table, the floors that bound the seeds'
metric for every row, closed forms (DC offset, amplitudes, one oscillator), the seeds'
own calibration figures, and SSA / DMD on sums of sinusoids.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from spectral_manifolds import geometry_metric as G
from spectral_manifolds.alignment import oracle_distance
from spectral_manifolds.data.oscillators import SeedTaskConfig, seed_task
from spectral_manifolds.experiments import oracle_diagnosis as OD
from spectral_manifolds.experiments import references as R
from spectral_manifolds.experiments.alignment_calibration import SEED_CALIBRATION

D = SeedTaskConfig().latent_dim


@pytest.fixture(scope="module")
def result():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SM_BUDGET", "quick")
        cfg = OD.default_config()
    assert cfg.n_samples == 64
    return OD.run(cfg)


@pytest.fixture(scope="module")
def table(result):
    return {r["reference latent"]: r for r in result.calibration}


def test_the_seeds_metric_orders_the_references(table):
    d = {k: r["seeds' distance"] for k, r in table.items()}
    assert d["oracle"] < d["amplitude-weighted oracle"] < d["normalized input"]
    assert d["SSA, window 128"] < d["SSA, window 32"] < d["amplitude-weighted oracle"]
    assert d["rotated oracle"] < 1e-3 and d["reflected oracle"] < 1e-3 and d["oracle, fixed frame"] < 1e-3
    assert max(d, key=d.get) == "constant latent"
    # DMD separates the modes but keeps their amplitudes: near the amplitude floor, far above SSA
    assert abs(d["DMD, window 32"] - G.amplitude_floor(SeedTaskConfig().amplitudes, D)) < 0.02
    for name, figure in SEED_CALIBRATION.items():
        assert table[name]["source"] == "seeds"
        assert abs(d[name] - figure) < 0.01, name


def test_the_corrected_metric_orders_the_references(table):
    w = {k: r["whitened distance"] for k, r in table.items()}
    for name in ("oracle", "rotated oracle", "reflected oracle", "oracle, fixed frame", "amplitude-weighted oracle"):
        assert w[name] < 1e-3, name  # whitening removes rotations and amplitudes
    assert w["constant latent"] == 1.0
    assert w["one oscillator exact"] == pytest.approx(math.sqrt(2 / 3), abs=1e-3)
    assert max(w["SSA, window 32"], w["SSA, window 128"], w["DMD, window 32"]) < w["linear causal encoder, window 9"]
    assert w["linear causal encoder, window 9"] < w["normalized input"] < w["random unit latent"] < w["constant latent"]
    # where the two metrics disagree: DMD keeps amplitudes (seeds' ~0.1) yet its geometry is right
    assert w["DMD, window 32"] < table["DMD, window 32"]["seeds' distance"]


def test_floors_bound_every_row(table):
    for name, r in table.items():
        assert r["spectrum floor"] <= r["seeds' distance"] + 2e-4, name
        assert r["collapse floor"] <= r["seeds' distance"] + 2e-4, name
    assert table["constant latent"]["collapse floor"] == pytest.approx(table["constant latent"]["seeds' distance"], abs=2e-3)
    assert table["amplitude-weighted oracle"]["spectrum floor"] == pytest.approx(table["amplitude-weighted oracle"]["seeds' distance"], abs=2e-4)


def test_collapse_monitor_and_probe(table):
    v = {k: r["centred variance"] for k, r in table.items()}
    assert v["constant latent"] == 0.0
    assert all(x > 0.5 for k, x in v.items() if k != "constant latent")
    assert v["untrained linear encoder"] < v["normalized input"]  # its bias is a DC offset
    p = {k: r["probe R² (held-out)"] for k, r in table.items()}
    assert p["oracle, fixed frame"] == pytest.approx(1.0, abs=1e-3)
    assert p["linear causal encoder, window 9"] > p["normalized input"] > p["random unit latent"]
    assert abs(p["random unit latent"]) < 0.05 and abs(p["constant latent"]) < 0.05
    # a frame that changes per sample defeats one linear map, whatever its geometry
    assert p["rotated oracle"] < p["oracle"] < p["oracle, fixed frame"]


def test_dc_offset_rows(result):
    rows = result.dc_offset
    for base in ("oracle", "amplitude-weighted oracle"):
        mine = [r for r in rows if r["base latent"] == base]
        assert [r["offset c"] for r in mine] == sorted(r["offset c"] for r in mine)
        costs = [r["cost of the offset"] for r in mine]
        assert costs == sorted(costs) and costs[-1] > 0.1  # more offset, more cost
        for r in mine:
            assert r["seeds' distance"] == pytest.approx(r["closed form"], abs=1e-3)
            assert r["whitened distance"] < 1e-3  # the corrected metric ignores it
            assert r["time-mean energy"] == pytest.approx(r["offset c"] ** 2 / (1 + r["offset c"] ** 2), abs=1e-3)
    c = G.offset_for_cost(0.085, D)
    near = min((r for r in rows if r["base latent"] == "oracle"), key=lambda r: abs(r["offset c"] - c))
    assert abs(near["offset c"] - c) < 0.01 and near["cost of the offset"] == pytest.approx(0.085, abs=2e-3)


def test_amplitude_and_rank_rows(result):
    for r in result.amplitudes:
        assert r["seeds' distance"] == pytest.approx(r["closed form"], abs=1e-3)
        assert r["whitened distance"] < 1e-3
    assert result.amplitudes[0]["closed form"] == 0.0  # equal amplitudes
    clean, noisy = result.input_rank
    assert clean["top 2"] > 0.9999 and clean["top 1"] < 0.9  # exactly rank 2
    assert noisy["top 2"] < clean["top 2"]
    assert result.to_dict()["config"]["n_samples"] == 64


def test_ssa_and_dmd_reproduce_a_sum_of_sinusoids():
    """SSA's top modes span the oscillators (whitened distance near 0 with 2K = 6 modes; with 4
    modes only the two strongest pairs, the closed form sqrt(1 - 4/6)), and a per-sample linear
    map of them reproduces the clean signal from the noisy input; DMD's latent is the oracle up
    to a linear map, amplitudes kept."""
    task = SeedTaskConfig(n_samples=64, seed=5)
    noisy, clean = seed_task(task), seed_task(dataclasses.replace(task, noise=0.0))
    o = clean.oracle[:, 31:]
    assert G.whitened_distance(R.ssa_latent(clean.x, 32, 6, D), o) < 0.03
    assert G.whitened_distance(R.ssa_latent(clean.x, 32, 4, D), o) == pytest.approx(math.sqrt(1 - 4 / 6), abs=0.01)
    z = R.ssa_latent(noisy.x, 32, 6, D)
    y = noisy.y_recon[:, 31:].astype(np.float64)
    mse = []
    for i in range(task.n_samples):
        a = np.c_[z[i], np.ones(z.shape[1])]
        mse.append(np.mean((y[i] - a @ np.linalg.lstsq(a, y[i], rcond=None)[0]) ** 2))
    assert np.max(mse) < task.noise**2 and np.median(mse) < 0.1 * task.noise**2  # below the input's own error
    dmd = OD.dmd_latent(clean.x, 32, 6, D)
    assert G.whitened_distance(dmd, o) < 1e-4
    assert float(oracle_distance(dmd, o)) == pytest.approx(G.amplitude_floor(task.amplitudes, D), abs=5e-3)
    w = G.whitened_distance
    assert w(R.ssa_latent(noisy.x, 128, 6, D), noisy.oracle[:, 127:]) < w(z, noisy.oracle[:, 31:])


def test_config_errors():
    with pytest.raises(ValueError):
        OD.DiagnosisConfig(n_samples=64, test_seed=0, train_seed=0)
    with pytest.raises(ValueError):
        OD.DiagnosisConfig(n_samples=64, ssa_windows=(300,))
    with pytest.raises(ValueError):
        OD.DiagnosisConfig(n_samples=64, offsets=(-1.0,))
    with pytest.raises(ValueError):
        OD.DiagnosisConfig(n_samples=65)


def test_reuses_the_references_latents():
    """The table's references are chapter 7's: the same seeds' distances as references.reference_rows
    on the same samples (the linear causal encoder is fitted on another draw there, so it is left out)."""
    cfg = OD.DiagnosisConfig(n_samples=64, linear_windows=(9,), ssa_windows=(32,))
    ref = R.ReferenceConfig(task=cfg.task(cfg.test_seed), linear_windows=(9,), ssa_windows=(32,))
    theirs = {r["reference latent"]: r["ours"] for r in R.reference_rows(ref)}
    test, train = seed_task(cfg.task(cfg.test_seed)), seed_task(cfg.task(cfg.train_seed))
    ours = OD.reference_latents(test, train, cfg, cfg.seed)
    for name in ("normalized input", "untrained linear encoder", "amplitude-weighted oracle", "SSA, window 32"):
        z, start, _ = ours[name]
        assert float(oracle_distance(z, test.oracle[:, start:])) == pytest.approx(theirs[name], abs=1e-4), name
