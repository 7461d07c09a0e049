"""Per-band learning dynamics (seed 004 §6.1-6.3, §11.2 clipping, §10.1 interference): the experiment's
invariants and the chapter's clipping claim at a reduced quick budget."""

import dataclasses

import numpy as np
import pytest
import torch

from spectral_manifolds.experiments import hierarchy_interference as hi
from spectral_manifolds.experiments import hierarchy_learning as hl
from spectral_manifolds.hierarchy import per_band
from spectral_manifolds.hierarchy.fields import persistence

CFG = dataclasses.replace(hl.config_for("quick"), steps=8, log_every=4, change_step=4, n_seeds=2)


@pytest.fixture(scope="module")
def task():
    return hl.make_task(CFG, 0)


def test_band_truth_and_parseval(task):
    # hard masks: the truth's bands sum to the frame, and per-band MSEs sum to the total MSE
    assert torch.allclose(task.test_yb.sum(1), task.test_y, atol=1e-5)
    pred = task.test_y + 0.01 * torch.randn_like(task.test_y)
    total = (pred - task.test_y).pow(2).mean().item()
    assert np.isclose(hl.band_mse(pred, task.test_yb, CFG).sum(), total, rtol=1e-4)


def test_baselines_persistence_one_multiplier_exact(task):
    b = hl.baseline_errors(task, CFG)
    assert np.allclose(b["persistence"], 1.0)
    assert np.all(b["ls_multiplier"] < 1e-4)  # exact for translations, up to float32


def test_models_start_at_persistence_and_match_parameters(task):
    m = hl.build_model(CFG)
    with torch.no_grad():
        p = m(task.test_x)[0]
    assert torch.allclose(p, persistence(task.test_x), atol=1e-6)
    kw = hi.matched_single_band(m.n_parameters)
    s = hl.build_model(CFG, single_band=True, **kw)
    assert abs(s.n_parameters - m.n_parameters) <= 0.05 * m.n_parameters
    with torch.no_grad():
        assert torch.allclose(s(task.test_x)[0], persistence(task.test_x), atol=1e-6)


def test_lr_orders():
    assert hl.LR_ORDERS[hl.REFERENCE] == tuple(per_band.LR_TABLE[b][0] / per_band.LR_TABLE["fine"][0] for b in hl.BANDS)
    assert hl.LR_ORDERS["reverse"] == hl.LR_ORDERS[hl.REFERENCE][::-1]
    mods = list(hl.build_model(CFG).manifolds)
    for order, scales in hl.LR_ORDERS.items():
        g = per_band.band_param_groups(mods, CFG.lr * scales[2], hl.lr_table(order, 1.0), weight_decay=per_band.WEIGHT_DECAY)
        assert np.allclose([x["lr"] for x in g], [CFG.lr * s for s in scales])


def test_changed_velocity_only_moves_the_fine_band():
    a = hl.make_task(CFG, 1)
    b = hl.make_task(CFG, 1, hi.changed_velocity(CFG, 1))
    assert torch.equal(a.train_yb[:, :2], b.train_yb[:, :2])
    assert not torch.allclose(a.train_yb[:, 2], b.train_yb[:, 2])


def test_bad_input():
    with pytest.raises(ValueError):
        hl.LearningConfig(n_seeds=1)
    with pytest.raises(ValueError):
        hl.LearningConfig(change_step=0)
    with pytest.raises(ValueError):
        hi.matched_single_band(10)
    with pytest.raises(ValueError):
        hl.train(hl.build_model(CFG), hl.make_task(CFG, 0), CFG, seed=0, clip="loose")


@pytest.fixture(scope="module")
def learning():
    return hl.run_learning(CFG, progress=False)


def test_run_learning_shapes_and_clipping_claim(learning):
    assert set(learning.final) == set(learning.runs)
    for run in learning.runs:
        assert learning.values(run).shape == (CFG.n_seeds, 3)
        assert np.all(np.isfinite(learning.values(run)))
    # every curve starts at persistence (ratio 1), the models' documented identity
    assert np.allclose(np.array(learning.curves[hl.REFERENCE])[:, 0], 1.0, atol=1e-4)
    meant, seed = "+ clip, meant", "+ clip, seed's 1/lr_scale"
    nm, ns = learning.clip[meant][0]["max_norms"], learning.clip[seed][0]["max_norms"]
    assert nm[0] < nm[1] < nm[2] and ns[0] > ns[1] > ns[2] and np.isclose(nm[2], ns[2])
    for run in (meant, seed):  # after <= before, and never above max_norm
        for s in learning.clip[run]:
            assert all(a <= b + 1e-12 and a <= c * (1 + 1e-6) for a, b, c in zip(s["grad_post"], s["grad_pre"], s["max_norms"]))
    # the meant formula clips the coarse band at least as often as the seed's
    cm = np.mean([s["clipped"][0] for s in learning.clip[meant]])
    cs = np.mean([s["clipped"][0] for s in learning.clip[seed]])
    assert cm >= cs
    assert len(hl.error_rows(learning)) == len(learning.runs) + len(hl.BASELINES)
    assert len(hl.lr_rows(learning)) == 9 and len(hl.switch_rows(learning)) == 12


def test_run_interference():
    r = hi.run_interference(CFG, progress=False)
    for m in hi.MODELS:
        c = np.array(r.curves[m])
        assert c.shape == (CFG.n_seeds, len(r.steps), 3) and np.all(np.isfinite(c))
        assert np.allclose(r.forgetting[m], c[:, -1, 0] - np.array(r.coarse_at_change[m]))
    assert len(hi.verdict_rows(r)) == 3
