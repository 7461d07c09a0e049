"""experiments.cvkan_norms: the claims of chapter 11 (normalization) at the quick budget.

Sizes per run are the chapter's quick ones (``NormsConfig.for_budget("quick")``); the
tests run fewer tasks and models than the chapter so that the file stays short.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.models import CVKAN, n_parameters
from spectral_manifolds.experiments import cvkan_norms as cn

QUICK = cn.NormsConfig.for_budget("quick")
SEED_TASK, _, COMMON = cn.TASKS


# --------------------------------------------------------------------- worked example (closed forms)
def test_worked_example_centre_keeps_the_ratio_per_token_norms_erase_it():
    rows = {r["norm"]: r for r in cn.worked_example(3.0)}
    for kind in ("none", "centre"):
        assert rows[kind]["|A| / |B|"] == pytest.approx(3.0, abs=1e-4)
        assert rows[kind]["|A| / |C|"] == pytest.approx(3.0, abs=1e-4)
    # centre divides by the geometric mean (3 * 1 * 1)^(1/3) in every channel
    assert rows["centre"]["|A|"] == pytest.approx(3.0 / 3.0 ** (1 / 3), abs=1e-4)
    assert rows["rms"]["|A|"] == rows["rms"]["|B|"] == rows["rms"]["|C|"] == pytest.approx(1.0, abs=1e-4)
    assert rows["layernorm"]["|A| / |B|"] == pytest.approx(1.0, abs=0.01)  # equal up to eps


def test_worked_example_per_token_norms_do_not_see_the_gain():
    a, b = cn.worked_example(3.0), cn.worked_example(7.0)
    for ra, rb in zip(a, b):
        if ra["norm"] in ("rms", "layernorm"):
            assert ra["|A|"] == pytest.approx(rb["|A|"], abs=0.01)
        else:
            assert rb["|A| / |B|"] == pytest.approx(7.0, abs=1e-3)


def test_worked_example_rejects_a_non_positive_gain():
    with pytest.raises(ValueError):
        cn.worked_example(0.0)


# --------------------------------------------------------------------- configuration
@pytest.mark.parametrize("change", [dict(n_seeds=1), dict(epochs=2, seed_epochs=3), dict(norms=("batch",)), dict(tasks=()), dict(n_train=0), dict(lr=0.0)])
def test_config_rejects_bad_values(change):
    with pytest.raises(ValueError):
        dataclasses.replace(QUICK, **change)


def test_budgets():
    full = cn.NormsConfig.for_budget("full")
    assert QUICK.n_seeds >= 3 and full.n_seeds >= 5
    assert full.n_train == 5000 and full.epochs >= full.seed_epochs == 3
    with pytest.raises(ValueError):
        cn.NormsConfig.for_budget("medium")


def test_z0_without_head_norm_is_matched_and_has_no_layernorm():
    target = n_parameters(cn.build_model(QUICK, "centre"))
    for name, head_norm in cn.Z0_MODELS.items():
        model = cn.z0_model(QUICK, cn.z0_hidden(QUICK, head_norm), head_norm)
        assert len(model.blocks) == 0 and abs(n_parameters(model) / target - 1) <= 0.05, name
        assert any(isinstance(m, torch.nn.LayerNorm) for m in model.head.modules()) == head_norm, name


def test_polarization_needs_a_block():
    with pytest.raises(ValueError):
        cn.polarization(CVKAN(8, 2, n_blocks=0), None, np.zeros((1, 4), bool))


# --------------------------------------------------------------------- trained claims (quick sizes)
@pytest.fixture(scope="module")
def seed_task():
    return cn.run(dataclasses.replace(QUICK, tasks=(SEED_TASK,), with_transformers=False), progress=False)


def test_result_shapes_and_json(seed_task):
    n_models = len(QUICK.norms) + len(cn.Z0_MODELS) + len(cn.LOGISTICS)
    assert len(seed_task.runs) == QUICK.n_seeds * n_models
    assert len(cn.results_rows(seed_task)) == n_models
    run = next(r for r in seed_task.runs if r["model"] == "norm=centre")
    assert len(run["auroc_by_layer"]) == QUICK.n_blocks + 1 and len(run["test_acc"]) == QUICK.epochs
    assert run["auroc_by_layer"][0] == pytest.approx(0.5, abs=0.1)  # unit-magnitude input: nothing to separate
    assert json.loads(seed_task.to_json())["config"]["n_seeds"] == QUICK.n_seeds
    assert set(seed_task.config["z0_head_hidden"]) == set(cn.Z0_MODELS) <= {r["model"] for r in cn.results_rows(seed_task)}
    with pytest.raises(ValueError):
        seed_task.values(SEED_TASK.name, "norm=batch", "accuracy")


def test_parameters_are_matched(seed_task):
    centre = seed_task.values(SEED_TASK.name, "norm=centre", "n_params")[0]
    for model in ("norm=none", "norm=layernorm", "norm=rms", *cn.Z0_MODELS):
        assert abs(seed_task.values(SEED_TASK.name, model, "n_params")[0] / centre - 1) <= 0.05


def test_seed_task_accuracy_every_norm_about_perfect_z0_at_chance(seed_task):
    for model in ("norm=none", "norm=centre", "norm=layernorm", "norm=rms", "logistic on (Re, Im) of mean(Z)"):
        assert min(seed_task.values(SEED_TASK.name, model, "accuracy")) >= 0.97, model
    assert np.mean(seed_task.values(SEED_TASK.name, "Z0", "accuracy")) <= 0.6


def test_z0_without_head_norm_reads_the_level_the_abs_logistic_reads(seed_task):
    floor = seed_task.values(SEED_TASK.name, "Z0 (no head norm)", "accuracy")
    logistic = seed_task.values(SEED_TASK.name, "logistic on |mean(Z)|", "accuracy")
    assert np.mean(floor) >= np.mean(logistic) - 0.05
    assert min(np.subtract(floor, seed_task.values(SEED_TASK.name, "Z0", "accuracy"))) > 0.2  # every seed
    rows = {r["claim"].split(": ", 1)[1]: r["verdict"] for r in cn.floor_rows(seed_task)}
    assert len(rows) == 1 + len(QUICK.norms) and rows["norm=centre beats Z0 (no head norm)"] == "reproduced"


def test_seed_task_centre_polarizes_per_token_norms_invert(seed_task):
    auc = {m: np.mean(seed_task.values(SEED_TASK.name, m, "auroc")) for m in ("norm=none", "norm=centre", "norm=layernorm", "norm=rms")}
    assert auc["norm=centre"] > 0.6 and auc["norm=none"] > 0.6  # signal tokens larger
    assert auc["norm=layernorm"] < 0.5 and auc["norm=rms"] < 0.5  # signal tokens smaller
    acc_rows, pol_rows = cn.verdict_rows(seed_task)
    assert len(acc_rows) == 3 and len(pol_rows) == 4
    verdicts = {r["claim"].split(": ", 1)[1]: r["verdict"] for r in pol_rows}
    assert verdicts["LayerNorm polarizes less than centre"] == "reproduced"
    assert verdicts["RMS norm polarizes less than centre"] == "reproduced"


def test_common_phase_defeats_the_linear_logistic_not_the_models(seed_task):
    res = cn.run(dataclasses.replace(QUICK, tasks=(COMMON,), norms=("centre", "layernorm"), with_transformers=False), progress=False)
    assert np.mean(res.values(COMMON.name, "logistic on (Re, Im) of mean(Z)", "accuracy")) <= 0.6
    assert min(res.values(COMMON.name, "norm=centre", "accuracy")) >= 0.97
    # |mean(Z)| does not see the common phase: the same seeds give the same |.| logistic
    same = res.values(COMMON.name, "logistic on |mean(Z)|", "accuracy")
    np.testing.assert_allclose(same, seed_task.values(SEED_TASK.name, "logistic on |mean(Z)|", "accuracy"), atol=0.005)
    assert min(same) >= 0.85
    for z0 in cn.Z0_MODELS:  # the Z0s read only |mean(Z)| too
        np.testing.assert_allclose(res.values(COMMON.name, z0, "accuracy"), seed_task.values(SEED_TASK.name, z0, "accuracy"), atol=0.005)
    assert np.mean(res.values(COMMON.name, "norm=layernorm", "auroc")) < 0.5 < np.mean(res.values(COMMON.name, "norm=centre", "auroc"))


# --------------------------------------------------------------------- R and C, gradient flow (section 5)
@pytest.mark.parametrize("budget", ["quick", "full"])
def test_transformer_baselines_are_matched_to_the_centre_stack(budget):
    from spectral_manifolds.cvkan.baselines import transformer_baseline

    cfg = cn.NormsConfig.for_budget(budget)
    target = n_parameters(cn.build_model(cfg, "centre"))
    for name, w in cn.transformer_hidden(cfg).items():
        model = transformer_baseline(name, cfg.d, w, cfg.baseline_heads, cfg.baseline_layers, 2)
        assert abs(n_parameters(model) / target - 1) <= 0.05, name


def test_run_trains_r_and_c_at_the_matched_count_and_compares_them():
    cfg = dataclasses.replace(QUICK, tasks=(SEED_TASK,), norms=("centre", "none"), with_z0=False, n_train=64, n_test=32, n_seeds=2)
    res = cn.run(cfg, progress=False)
    centre = res.values(SEED_TASK.name, "norm=centre", "n_params")[0]
    for name in cn.TRANSFORMERS:
        assert abs(res.values(SEED_TASK.name, name, "n_params")[0] / centre - 1) <= 0.05
        assert res.values(SEED_TASK.name, name, "grad_norms") == [None, None]
    rows = cn.baseline_rows(res)
    assert [r["claim"].rsplit(" ", 1)[1] for r in rows] == ["R", "C"]
    skipped = cn.run(dataclasses.replace(cfg, baseline_tasks=()), progress=False)
    assert not cn.baseline_rows(skipped) and "R" not in skipped.models()


def test_gradient_recorder_equals_direct_autograd():
    from spectral_manifolds.cvkan.train import train_classifier

    g = np.random.default_rng(0)
    x = (g.normal(size=(24, 6, 4)) + 1j * g.normal(size=(24, 6, 4))).astype(np.complex64)
    y = np.arange(24) % 2
    torch.manual_seed(0)
    model = CVKAN(4, 2, n_blocks=2, hidden=8, norm="none")
    ref = CVKAN(4, 2, n_blocks=2, hidden=8, norm="none")
    ref.load_state_dict(model.state_dict())
    rec = cn.GradientRecorder(cn.block_groups(model))
    train_classifier(x, y, X_test=x, y_test=y, model=model, seed=0, epochs=1, batch_size=24, progress=False)  # one full-batch step
    rec.remove()
    got = rec.norms()
    loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y).long())
    for name, params in cn.block_groups(ref).items():
        grads = torch.autograd.grad(loss, params, retain_graph=True)
        want = float(torch.sqrt(sum(gr.abs().square().sum() for gr in grads)))
        assert got[name].shape == (1,) and got[name][0] == pytest.approx(want, rel=1e-4), name


def test_depth_ratio_and_stability_summary_closed_forms():
    from spectral_manifolds.experiments.cvkan_norms_gradients import depth_ratio, stability_summary

    assert depth_ratio({"block 1": [10.0, 10.0], "block 2": [5.0, 5.0], "block 3": [1.0, 1.0], "all": [1.0, 1.0]}) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        depth_ratio({"block 1": [1.0], "all": [1.0]})
    total = np.ones(30)
    total[25] = 8.0
    total[27] = np.nan
    s = stability_summary(total, [1.0, 0.5, 0.75])
    assert s["non-finite steps"] == 1 and s["largest gradient jump"] == pytest.approx(8.0) and s["max loss rise"] == pytest.approx(1.5)


def test_gradients_recorded_at_every_step_and_grow_towards_the_input(seed_task):
    steps = QUICK.epochs * int(np.ceil(QUICK.n_train / QUICK.batch_size))
    for kind in QUICK.norms:
        for grads in seed_task.values(SEED_TASK.name, f"norm={kind}", "grad_norms"):
            assert set(grads) == {f"block {i + 1}" for i in range(QUICK.n_blocks)} | {"all"}
            assert all(len(v) == steps and np.all(np.isfinite(v)) for v in grads.values())
            assert all(np.all(np.asarray(grads["all"]) >= np.asarray(grads[b])) for b in grads)
    rows = {r["task"]: r for r in cn.gradient_rows(seed_task.runs) if r["model"] == "norm=none"}
    assert rows[SEED_TASK.name]["non-finite steps"] == 0
    # the chapter's ordering at quick: on the seed's task block 1 gets the larger gradient, every norm, on average over seeds
    from spectral_manifolds.experiments.cvkan_norms_gradients import depth_ratio

    for kind in QUICK.norms:
        assert np.mean([depth_ratio(g) for g in seed_task.values(SEED_TASK.name, f"norm={kind}", "grad_norms")]) > 0, kind
    assert len(cn.gradient_verdict_rows(seed_task.runs)) == len(QUICK.norms) + 1
