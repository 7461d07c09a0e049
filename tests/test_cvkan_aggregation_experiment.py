"""experiments.cvkan_aggregation(_tables): the claims of chapter 12 (aggregation and pooling) at the quick budget.

Closed forms and invariants first (no training); then one reduced quick run (the first
task and the 10 % / 50 % ends of the sweep, no Transformer) for the orderings the chapter
states.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.models import CVKAN, n_parameters
from spectral_manifolds.data.polarization import make_polarization
from spectral_manifolds.experiments import cvkan_aggregation as ca
from spectral_manifolds.experiments import cvkan_aggregation_tables as tb

QUICK = ca.AggregationConfig.for_budget("quick")


# --------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("f, sigma", [(0.1, 0.5), (0.25, 1.2), (1.0, 0.0)])
def test_mean_field_and_matched_sigma_are_inverse(f, sigma):
    level = ca.mean_field(f, sigma)
    assert level == pytest.approx(f * math.exp(-sigma**2 / 2))
    assert ca.matched_sigma(f, level) == pytest.approx(sigma, abs=1e-9)


def test_matched_sigma_rejects_an_unreachable_level():
    with pytest.raises(ValueError):
        ca.matched_sigma(0.1, 0.2)  # a mean field above f needs sigma < 0
    with pytest.raises(ValueError):
        ca.mean_field(0.0, 0.5)


def test_sweep_holds_the_mean_field_and_its_first_task_is_the_main_one():
    tasks = QUICK.fraction_tasks()
    assert [t.n_signal for t in tasks] == [2, 5, 10] and tasks[0] == QUICK.tasks[0]
    levels = [ca.mean_field(t.fraction, t.sigma) for t in tasks]
    np.testing.assert_allclose(levels, levels[0], rtol=1e-12)
    assert all(a.sigma < b.sigma for a, b in zip(tasks, tasks[1:]))  # more tokens, weaker each


@pytest.mark.parametrize("task", QUICK.fraction_tasks())
def test_data_has_the_mean_field_the_sweep_claims(task):
    data = make_polarization(4000, 10, n_tokens=task.n_tokens, d=8, n_signal=task.n_signal, sigma=task.sigma, seed=3)
    m = data.z_train[data.y_train == 1].mean(axis=1)  # (n_pos, d)
    assert m.real.mean() == pytest.approx(ca.mean_field(task.fraction, task.sigma), abs=0.006)
    assert abs(m.imag.mean()) < 0.006 and abs(data.z_train[data.y_train == 0].mean(axis=1).real.mean()) < 0.006


# --------------------------------------------------------------------- models: parameters and invariants
def test_parameters_are_matched():
    widths = ca.baseline_widths(QUICK)
    target = n_parameters(ca.build(QUICK, ca.Spec().name, widths))
    assert target == 173_989  # the seed's flat stack
    names = [s.name for s in (*ca.POOLING_SPECS, *ca.AGGREGATION_SPECS, *ca.PER_TOKEN_SPECS) if s.n_blocks == 3] + list(ca.BASELINES)
    for name in names:
        assert abs(n_parameters(ca.build(QUICK, name, widths)) / target - 1) <= 0.05, name
    one = [n_parameters(ca.build(QUICK, s.name, widths)) for s in ca.AGGREGATION_SPECS if s.n_blocks == 1]
    assert max(one) / min(one) - 1 <= 0.05
    with pytest.raises(ValueError):
        ca.build(QUICK, "agg=median, pool=mean, L=3", widths)


def _pair(aggregations, n_blocks, d=8):
    torch.manual_seed(0)
    a = CVKAN(d, 2, n_blocks=n_blocks, hidden=16, aggregation=aggregations[0]).double()
    b = CVKAN(d, 2, n_blocks=n_blocks, hidden=16, aggregation=aggregations[1]).double()
    b.load_state_dict(a.state_dict())
    gen = torch.Generator().manual_seed(1)
    z = torch.polar(torch.ones(5, 12, d, dtype=torch.float64), 6.3 * torch.rand(5, 12, d, generator=gen, dtype=torch.float64))
    return a, b, z


@torch.no_grad()
def test_magnitude_aggregation_is_the_mean_in_the_first_block_on_unit_tokens_and_not_after():
    a, b, z = _pair(("mean", "magnitude"), 1)
    torch.testing.assert_close(a(z), b(z), rtol=1e-10, atol=1e-10)
    a, b, z = _pair(("mean", "magnitude"), 3)
    assert (a(z) - b(z)).abs().max() > 1e-6  # the first block makes the magnitudes unequal


def test_causal_stack_looks_ahead_only_through_the_centre_step():
    assert ca.lookahead("centre") > 1e-3
    for norm in ("none", "layernorm", "rms"):
        assert ca.lookahead(norm) < 1e-12, norm


@pytest.mark.parametrize("change", [dict(n_seeds=1), dict(fractions=(0.01,)), dict(fractions=(1.5,)), dict(tasks=()), dict(n_train=0), dict(lr=0.0)])
def test_config_rejects_bad_values(change):
    with pytest.raises(ValueError):
        dataclasses.replace(QUICK, **change)


def test_budgets_and_plan():
    full = ca.AggregationConfig.for_budget("full")
    assert QUICK.n_seeds >= 3 and full.n_seeds >= 5 and full.n_train > QUICK.n_train
    with pytest.raises(ValueError):
        ca.AggregationConfig.for_budget("medium")
    plan = ca.plan(QUICK)
    assert len(plan) == len(QUICK.tasks) + len(QUICK.fractions) - 1  # the 10 % task is shared
    first = plan[QUICK.tasks[0]]
    assert all(s.name in first for s in (*ca.POOLING_SPECS, *ca.AGGREGATION_SPECS, *ca.PER_TOKEN_SPECS)) and set(ca.BASELINES) <= set(first)


# --------------------------------------------------------------------- trained claims (quick sizes, reduced)
@pytest.fixture(scope="module")
def result():
    cfg = dataclasses.replace(QUICK, tasks=(QUICK.tasks[0],), fractions=(0.1, 0.5), with_baselines=False)
    return ca.run(cfg, progress=False)


def test_result_shapes_and_json(result):
    assert json.loads(result.to_json())["config"]["n_seeds"] == QUICK.n_seeds
    run = next(r for r in result.runs if r["model"] == ca.Spec().name)
    assert len(run["test_acc"]) == QUICK.epochs
    assert len(tb.fraction_rows(result)) == 2 and len(tb.fraction_verdicts(result)) == 5
    assert len(tb.pooling_verdicts(result)) == 2 and len(tb.aggregation_verdicts(result)) == 8


def test_one_block_magnitude_aggregation_trains_like_the_mean(result):
    task = result.config["task_names"][0]
    mean, mag = (tb.accuracy_points(result, task, ca.Spec(aggregation=k, n_blocks=1).name) for k in ("mean", "magnitude"))
    np.testing.assert_allclose(mag, mean, atol=0.51)  # at most two test samples (of 400) apart, every seed


def test_attention_aggregation_beats_mean_at_three_blocks_on_the_10_percent_task(result):
    rows = {r["claim"].split(": ", 1)[1]: r["verdict"] for r in tb.aggregation_verdicts(result)}
    assert rows["L=3: attention aggregation beats mean"] == "reproduced"
    # against magnitude aggregation, 3 seeds at the quick budget leave the interval wide (the full run
    # decides it): here only the mean accuracy is asserted to be higher
    assert rows["L=3: attention aggregation beats magnitude"] != "not reproduced"
    task = result.config["task_names"][0]
    att, mag = (np.mean(tb.accuracy_points(result, task, ca.Spec(aggregation=k, n_blocks=3).name))
                for k in ("attention", "magnitude"))
    assert att > mag
    assert rows["the attention − mean gap shrinks from L=1 to L=3"] != "reproduced"


def test_attention_pooling_gain_is_inside_the_seed_to_seed_spread(result):
    task = result.config["task_names"][0]
    diff = np.subtract(tb.accuracy_points(result, task, ca.Spec(pooling="attention").name), tb.accuracy_points(result, task, ca.Spec().name))
    assert np.std(diff, ddof=1) > 0.8  # larger than the seed's Speech Commands gain
    assert tb.pooling_verdicts(result)[0]["verdict"] != "not reproduced"


def test_attention_gain_shrinks_from_10_to_50_percent_at_a_fixed_mean_field(result):
    lo, hi = result.config["fraction_task_names"]
    gap = [np.mean(tb.accuracy_points(result, t, ca.Spec(aggregation="attention").name)) - np.mean(tb.accuracy_points(result, t, ca.Spec().name)) for t in (lo, hi)]
    assert gap[0] > 3.0 and gap[1] < gap[0] - 2.0
    for t in (lo, hi):  # the mean stack stays within a few points of the logistic on (Re, Im) of mean(Z)
        mean = np.mean(tb.accuracy_points(result, t, ca.Spec().name))
        assert abs(mean - np.mean(tb.accuracy_points(result, t, "logistic on (Re, Im) of mean(Z)"))) < 6.0
