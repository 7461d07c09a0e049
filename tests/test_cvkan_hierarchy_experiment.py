"""Chapter 13 (hierarchical polarization): its configs, parameter counts, and claims at the quick budget."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from spectral_manifolds.cvkan.models import CVKAN, n_parameters
from spectral_manifolds.cvkan.seeds_together import train_classifier_seeds
from spectral_manifolds.cvkan.train import train_classifier
from spectral_manifolds.data.polarization import make_polarization
from spectral_manifolds.experiments import cvkan_hierarchy as ch
from spectral_manifolds.experiments import cvkan_hierarchy_tables as cht
from spectral_manifolds.experiments.cvkan_hierarchy import Condition, HierarchyConfig, RunConfig


# --------------------------------------------------------------------------- configs
def test_full_config_is_the_seeds_task_and_the_issues_grid():
    cfg = ch.config_for("full")
    t = cfg.seed_task
    assert (t.condition, t.n_train, t.d, t.n_signal, t.batch_size) == (Condition(0.5, 16, False), 5000, 32, 4, 64)
    assert t.n_seeds >= 5 and t.epochs >= cfg.seed_epoch == 3 and set(t.models) == set(ch.MODELS)
    conds = {v.condition for v in cfg.variants}
    assert {c.sigma for c in conds if c.n_tokens == 16 and not c.common_phase} == {0.5, 1.0, 1.5, 2.0}
    assert {c.n_tokens for c in conds if c.sigma == 0.5 and not c.common_phase} == {16, 64, 256}
    assert any(c.common_phase for c in conds)
    assert all(v.n_seeds >= 5 and set(ch.CVKAN_MODELS) <= set(v.models) for v in cfg.variants)
    # R and C: on the seed's task and on a harder sigma, a longer N and a common phase (issue 8)
    with_rc = [v.condition for v in cfg.variants if set(ch.TRANSFORMERS) <= set(v.models)]
    assert set(with_rc) == set(ch.WITH_TRANSFORMERS)
    assert any(c.sigma > 0.5 for c in with_rc) and any(c.n_tokens > 16 for c in with_rc) and any(c.common_phase for c in with_rc)


def test_quick_config_has_three_seeds_and_a_sigma_n_and_phase_variant():
    cfg = ch.config_for("quick")
    assert cfg.seed_task.n_seeds >= 3 and all(v.n_seeds >= 3 for v in cfg.variants)
    conds = [v.condition for v in cfg.variants]
    assert any(c.sigma > 0.5 for c in conds) and any(c.n_tokens > 16 for c in conds) and any(c.common_phase for c in conds)


@pytest.mark.parametrize("budget", ["quick", "full"])
def test_z0_without_head_norm_trains_wherever_z0_does(budget):
    cfg = ch.config_for(budget)
    for run_cfg in (cfg.seed_task, *cfg.variants):
        assert "z0" in run_cfg.models and "z0_raw" in run_cfg.models


@pytest.mark.parametrize("kwargs", [dict(n_seeds=1), dict(models=("bogus",)), dict(models=()), dict(n_train=0), dict(epochs=0)])
def test_run_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        RunConfig(**kwargs)


def test_config_errors():
    with pytest.raises(ValueError):
        HierarchyConfig(RunConfig(epochs=2), seed_epoch=3)
    with pytest.raises(ValueError):
        ch.config_for("medium")
    with pytest.raises(ValueError):
        ch.build_model("deep", RunConfig())
    with pytest.raises(ValueError):
        ch.ModelRuns(1, 1, [[0.5, 0.6]], 0.0).at_epoch(3)
    with pytest.raises(ValueError):
        cht.sweep_series([], "depth")


# --------------------------------------------------------------------------- parameters
def test_parameter_counts_allocated_and_used():
    cfg = RunConfig()
    counts = {m: (n_parameters(net), ch.used_parameters(net)) for m in ch.MODELS for net in [ch.build_model(m, cfg)]}
    assert counts["flat"] == (173_989, 173_989)  # seed 003: 174k
    assert counts["shared"] == (58_083, 58_083)  # 58k
    for m in ("per_level", "magnitude", "top_down"):  # 580k*, 4 of 10 blocks used at N = 16
        assert counts[m] == (579_660, 4 * 57_953 + 130)
    assert abs(counts["z0"][0] / counts["flat"][0] - 1) <= 0.05


@pytest.mark.parametrize("budget", ["quick", "full"])
def test_r_and_c_match_the_flat_count_for_every_n_of_the_chapter(budget):
    cfg = ch.config_for(budget)
    runs = [c for c in (cfg.seed_task, *cfg.variants) if set(ch.TRANSFORMERS) & set(c.models)]
    assert runs and cfg.seed_task in runs
    for run_cfg in runs:
        target = n_parameters(ch.build_model("flat", run_cfg))
        for m in ch.TRANSFORMERS:
            net = ch.build_model(m, run_cfg)
            assert abs(n_parameters(net) / target - 1) <= 0.05 and ch.used_parameters(net) == n_parameters(net)
            z = torch.randn(2, run_cfg.condition.n_tokens, run_cfg.d, dtype=torch.complex64)
            assert net.eval()(z).shape == (2, 2)  # (B, N, d) complex -> 2 logits


def test_seeds_together_on_each_seeds_own_draw_equals_one_at_a_time():
    draws = [make_polarization(64, 32, n_tokens=8, d=4, seed=s) for s in (0, 1)]
    small = lambda f, k: CVKAN(4, k, n_blocks=1, hidden=8)  # noqa: E731
    kw = dict(model=small, epochs=2, batch_size=32, device="cpu", progress=False)
    together = train_classifier_seeds([d.z_train for d in draws], [d.y_train for d in draws], X_test=[d.z_test for d in draws],
                                      y_test=[d.y_test for d in draws], seeds=[0, 1], per_seed_data=True, **kw)
    for s, (fit, d) in enumerate(zip(together, draws)):
        alone = train_classifier(d.z_train, d.y_train, X_test=d.z_test, y_test=d.y_test, seed=s, **kw)
        np.testing.assert_allclose(fit.history["test_acc"], alone.history["test_acc"], atol=1e-9)
        np.testing.assert_allclose(fit.history["train_loss"], alone.history["train_loss"], rtol=2e-4)
    with pytest.raises(ValueError, match="one array per seed"):
        train_classifier_seeds([draws[0].z_train], [draws[0].y_train], X_test=[draws[0].z_test], y_test=[draws[0].y_test],
                               seeds=[0, 1], per_seed_data=True, **kw)


def test_transformer_verdicts_on_a_constructed_result():
    def runs(accs):  # per-seed final accuracies -> ModelRuns with 1 epoch
        return ch.ModelRuns(10, 10, [[a] for a in accs], 0.0)
    models = {"flat": runs([0.80, 0.81, 0.82]), "per_level": runs([0.90, 0.91, 0.93]), "magnitude": runs([0.85, 0.86, 0.87]),
              "R": runs([0.70, 0.72, 0.71]), "C": runs([0.95, 0.97, 0.96])}
    res = ch.ConditionResult(dataclasses.asdict(Condition(1.5)), [0, 1, 2], models, {"reim": [0.5] * 3, "abs": [0.5] * 3},
                             {"reim": 65, "abs": 33})
    assert cht.best_hierarchy(res) == "per_level"
    rows = cht.transformer_verdicts([res])
    assert [r["verdict"] for r in rows] == ["reproduced", "not reproduced"]  # per-level > R, per-level < C
    assert "per-level" in rows[0]["claim"] and rows[1]["claim"].endswith("beats C")
    no_rc = ch.ConditionResult(res.condition, [0, 1, 2], {"flat": models["flat"]}, res.logistic, res.logistic_params)
    assert cht.transformer_verdicts([no_rc]) == []
    table = cht.variant_rows([res, no_rc])
    assert table[1][ch.LABELS["R"]] == "—" and table[0][ch.LABELS["R"]] != "—"


@pytest.mark.parametrize("n_tokens", [16, 64])
def test_both_z0_match_the_flat_count_and_only_z0_raw_drops_the_layernorm(n_tokens):
    cfg = RunConfig(Condition(0.5, n_tokens))
    target = n_parameters(ch.build_model("flat", cfg))
    z0, raw = ch.build_model("z0", cfg), ch.build_model("z0_raw", cfg)
    for net in (z0, raw):
        assert len(net.blocks) == 0 and net.hierarchy is None
        assert abs(n_parameters(net) / target - 1) <= 0.05 and ch.used_parameters(net) == n_parameters(net)
    assert isinstance(z0.head[0], nn.LayerNorm)
    assert not any(isinstance(layer, nn.LayerNorm) for layer in raw.modules())


def test_magnitude_equals_per_level_at_level_zero_only():
    check = ch.level0_equivalence(n_tokens=8, d=4)
    assert check["level 0"] < 1e-12 and check["input: std of mean_d |z_i|"] < 1e-12
    assert check["all levels"] > 1e-3 and check["after level 0: std of mean_d |z_i|"] > 1e-4


# --------------------------------------------------------------------------- claims at the quick budget
@pytest.fixture(scope="module")
def quick_runs():
    """The quick config's seed task and its σ = 0.5 / common-phase variants, with flat and both Z0 only."""
    cfg = ch.config_for("quick")
    models = ("flat", *ch.Z0_MODELS)
    seed_task = dataclasses.replace(cfg.seed_task, models=models)
    plain, phase = (dataclasses.replace(v, models=models) for v in cfg.variants
                    if v.condition in (Condition(0.5, 16, False), Condition(0.5, 16, True)))
    return ch.run(HierarchyConfig(seed_task, (plain, phase), cfg.seed_epoch), progress=False)


def _mean(v):
    return sum(v) / len(v)


def test_seed_task_logistic_ceiling_and_z0_at_chance(quick_runs):
    res = quick_runs.seed_task
    assert _mean(res.logistic["reim"]) >= 0.99  # "scores at or next to 100 %"
    assert res.logistic_params == {"reim": 65, "abs": 33}
    flat, z0 = _mean(res.models["flat"].final()), _mean(res.models["z0"].final())
    assert z0 <= 0.6 and flat >= 0.98  # Z0 at chance; blocks within about a point of 100 %
    assert flat > _mean(res.logistic["abs"])  # above the logistic on |mean Z|


def test_z0_without_head_norm_reads_the_level_but_stays_below_flat(quick_runs):
    res = quick_runs.seed_task
    z0, raw, flat = (_mean(res.models[m].final()) for m in ("z0", "z0_raw", "flat"))
    assert raw >= 0.7 > 0.6 >= z0  # dropping the head's LayerNorm lifts Z0 off chance
    assert raw < flat  # the blocks still add to no block at all
    # at the quick budget Z0 without head norm stayed below the logistic on the same features, |mean Z|
    assert raw < _mean(res.logistic["abs"])
    verdicts = {v["claim"]: v["verdict"] for v in cht.floor_verdicts(res)}
    assert list(verdicts) == [c for c, _, _ in cht.FLOOR_CLAIMS]
    assert verdicts[cht.FLOOR_CLAIMS[0][0]] == "reproduced"
    assert set(verdicts.values()) <= {"reproduced", "not reproduced", "inconclusive"}


def test_common_phase_defeats_reim_logistic_not_abs(quick_runs):
    plain, phase = quick_runs.variants
    assert _mean(phase.logistic["reim"]) <= 0.6 < 0.95 <= _mean(plain.logistic["reim"])
    assert all(abs(a - b) <= 0.01 for a, b in zip(phase.logistic["abs"], plain.logistic["abs"]))
    assert _mean(phase.models["z0"].final()) <= 0.6
    # |mean Z| is unchanged by the common phase: Z0 without head norm scores as on the same draws unrotated
    assert abs(_mean(phase.models["z0_raw"].final()) - _mean(plain.models["z0_raw"].final())) <= 0.02
    # at the quick budget the flat model beat the best logistic under the common phase
    assert _mean(phase.models["flat"].final()) > _mean(cht.best_logistic(phase))


def test_tables_and_verdicts_are_well_formed(quick_runs):
    json.dumps(quick_runs.to_dict())
    res = quick_runs.seed_task
    rows = cht.seed_table_rows(res, quick_runs.seed_epoch)
    assert [r["model"] for r in rows][:3] == [ch.LABELS[m] for m in ("flat", "z0", "z0_raw")] and len(rows) == 5
    raw_count = f"{n_parameters(ch.build_model('z0_raw', RunConfig())):,}"
    assert rows[2]["parameters (allocated)"] == rows[2]["parameters (used)"] == raw_count
    assert rows[0]["seed: parameters"] == "174k"
    verdicts = cht.seed_verdicts(res, quick_runs.seed_epoch)
    assert [v["claim"] for v in verdicts] == ["flat is below 99 % after 1 epoch (needs 3)"]  # only claims on run models
    assert all(v["verdict"] in ("reproduced", "not reproduced", "inconclusive") for v in verdicts)
    vrows = cht.variant_rows(quick_runs.variants)
    assert len(vrows) == 2 and all(ch.LABELS["z0_raw"] in r for r in vrows)
    vverdicts = cht.variant_verdicts(quick_runs.variants)
    assert len(vverdicts) == 4  # flat vs best logistic and flat vs Z0 raw, per condition
    assert sum("beats Z0 raw" in v["claim"] for v in vverdicts) == 2
    x, series = cht.sweep_series(quick_runs.variants, "sigma")
    assert x == [0.5] and set(series) >= {ch.LABELS["flat"], ch.LABELS["z0_raw"], "logistic (Re, Im)"}
