"""Chapter "The polarizing block" (experiments/cvkan_block.py): its claims at the quick budget.

The exact checks run as in the chapter; the training claims on a trimmed quick
configuration (fewer samples and epochs, the flat model and the two Z0s only) to keep the file fast.
"""

import dataclasses

import numpy as np
import pytest
from torch import nn

from spectral_manifolds.cvkan import n_parameters
from spectral_manifolds.data.polarization import logistic_on_mean, make_polarization
from spectral_manifolds.experiments import cvkan_block as cb

QUICK = cb.config_for("quick")
FLAT = cb.cvkan_name(QUICK.n_blocks, QUICK.hidden)
SMALL = dataclasses.replace(QUICK, n_train=400, n_test=200, epochs=2, report_epoch=2, depths=(1, 3), matched_depths=(), profile_samples=100)


def test_config_budgets_and_errors():
    full = cb.config_for("full")
    assert QUICK.n_seeds >= 3 and full.n_seeds >= 5
    assert (full.n_train, full.n_tokens, full.d, full.sigma, full.hidden, full.n_blocks) == (5000, 16, 32, 0.5, 128, 3)
    assert full.epochs >= full.report_epoch == 3
    for bad in (dict(n_seeds=1), dict(depths=(1, 2)), dict(report_epoch=0), dict(report_epoch=99), dict(n_train=0), dict(depths=(0, 3))):
        with pytest.raises(ValueError):
            dataclasses.replace(QUICK, **bad)
    with pytest.raises(ValueError, match="'quick', 'full'"):
        cb.config_for("huge")


def test_broadcast_aggregations_keep_token_differences_exactly():
    rows = cb.broadcast_check()
    assert {(r["version"], r["aggregation"]) for r in rows} == {(v, a) for v in cb.VERSIONS for a in cb.AGGREGATIONS}
    for r in rows:
        assert r["max |c|"] > 0.1  # the block really adds something
        if r["aggregate tokens"] == 1:
            assert r["max |Δ(Z_i - Z_j)|"] < 1e-12 and r["max |c_i - c_j|"] < 1e-12
        else:  # per-token aggregations (causal, window) change the differences
            assert r["max |Δ(Z_i - Z_j)|"] > 1e-2
        assert r["mean cos, grew"] > 0 > r["mean cos, shrank"]


def test_mean_only_dependence_holds_without_norm_and_fails_with_centring():
    rows = cb.mean_only_check(QUICK, seeds=(0, 1), batch=8)
    for r in rows:
        assert r["max |mean Z - mean Z'|"] < 1e-12
        if r["norm"] == "none":
            assert r["max |logits(Z) - logits(Z')|"] < 1e-10
        else:
            assert r["max |logits(Z) - logits(Z')|"] > 0.05 * r["std of logits over samples"]


def test_z0_is_blind_to_a_common_scale_and_z0_without_head_norm_and_the_flat_stack_are_not():
    rows = {r["model"]: r for r in cb.scale_check(QUICK)}
    assert list(rows) == ["Z0", cb.Z0_FREE, FLAT]
    z0 = rows.pop("Z0")
    assert z0["max |logits(aZ) - logits(Z)|"] < 1e-2 * z0["std of logits over samples"]
    for name, r in rows.items():
        assert r["max |logits(aZ) - logits(Z)|"] > 0.1 * r["std of logits over samples"], name


def test_z0_without_head_norm_is_z0_minus_the_layernorm_at_the_same_count():
    build = cb.builders(QUICK)
    target = n_parameters(build[FLAT](QUICK.d, 2))
    z0, free = build["Z0"](QUICK.d, 2), build[cb.Z0_FREE](QUICK.d, 2)
    assert len(z0.blocks) == len(free.blocks) == 0
    assert [type(m) for m in z0.head][0] is nn.LayerNorm
    assert not any(isinstance(m, nn.LayerNorm) for m in free.modules())
    assert [type(m) for m in free.head] == [type(m) for m in z0.head][1:]  # same head otherwise
    assert abs(n_parameters(free) / target - 1) <= 0.05 and abs(n_parameters(z0) / target - 1) <= 0.05  # both floors at +-5 %
    assert cb.Z0_FREE in cb.task_models(QUICK, build)["seed's task"] and cb.Z0_FREE in cb.task_models(QUICK, build)["common phase"]


def test_baselines_are_matched_within_5_percent():
    build = cb.builders(QUICK)
    target = n_parameters(build[FLAT](QUICK.d, 2))
    assert target == 173_989  # the seed's flat model
    for name, b in build.items():
        if name in ("Z0", cb.Z0_FREE, "R", "C") or "norm" in name or not name.endswith(f"h={QUICK.hidden}"):
            assert abs(n_parameters(b(QUICK.d, 2)) / target - 1) <= 0.05, name


def test_logistic_on_mean_solves_the_task_and_fails_with_a_common_phase():
    for common, reim_ok in ((False, True), (True, False)):
        data = make_polarization(QUICK.n_train, QUICK.n_test, seed=0, common_phase=common)
        reim = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features="reim")
        absf = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features="abs")
        assert reim.n_params == 65
        assert (reim.accuracy >= 0.97) if reim_ok else (reim.accuracy <= 0.6)
        assert absf.accuracy >= 0.85


@pytest.fixture(scope="module")
def small():
    return cb.run(SMALL, only=(FLAT, cb.cvkan_name(1, QUICK.hidden), "Z0", cb.Z0_FREE), progress=False)


def test_run_shapes_and_json(small):
    import json

    json.dumps(small.to_dict())
    assert small.seeds == [0, 1, 2]
    for task in cb.TASKS:
        assert all(len(v) == SMALL.n_seeds for v in small.accuracy[task].values())
        assert all(len(h) == SMALL.epochs for hs in small.history[task].values() for h in hs)
    assert small.profile(FLAT).shape == (SMALL.n_seeds, SMALL.n_blocks + 1)
    assert small.profile(cb.cvkan_name(1, QUICK.hidden)).shape == (SMALL.n_seeds, 2)


def test_trained_claims(small):
    for task in cb.TASKS:
        assert min(small.accuracy[task][FLAT]) >= 0.9
        assert max(small.accuracy[task]["Z0"]) <= 0.6
        # without the head's LayerNorm the block-free model reads the level of |mean(Z)|
        assert np.mean(small.accuracy[task][cb.Z0_FREE]) > np.mean(small.accuracy[task]["Z0"]) + 0.1
    sep = small.profile(FLAT, "separation")
    assert np.allclose(sep[:, 0], 0.0)  # unit-magnitude input: no separation
    assert sep[:, 1:].max(axis=1).min() > 0.2  # some block separates signal from noise magnitudes
    rows = cb.amplification_rows(small)
    assert len(rows) == SMALL.n_blocks and rows[0]["verdict"] in ("reproduced", "inconclusive")
    assert {r["claim"] for r in cb.comparison_rows(small, "seed's task", FLAT)} >= {"seed's task: flat stack beats Z0"}
    assert cb.width_depth_rows(small) == []  # no matched depths in this configuration


def test_trained_stacks_keep_the_one_point_form(small):
    """Trained weights, float32 tokens: the last layer is still one point's distances per channel."""
    assert small.point(FLAT, "similarity residual").shape == (SMALL.n_seeds, SMALL.n_blocks)
    assert small.point(FLAT, "similarity residual").max() < 1e-4
    assert (small.point(FLAT, "median max/min |z|") <= small.point(FLAT, "median circle contrast") * (1 + 1e-5)).all()
    rows = cb.point_rows(small)
    assert rows[0]["verdict"] == "reproduced"
    assert list(cb.point_table(small).index) == [cb.cvkan_name(1, QUICK.hidden), FLAT]
