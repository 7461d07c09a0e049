"""Chapter 22 part 2 (drafts/22_attention_monitor.md): the monitor on real runs with injected faults."""

import dataclasses

import numpy as np
import pytest

from spectral_manifolds.experiments import hierarchy_attention as ha
from spectral_manifolds.experiments import hierarchy_monitoring as hm
from spectral_manifolds.hierarchy import alerts as A

CFG = dataclasses.replace(hm.config_for("quick"), steps=24, fault_step=12, n_seeds=2, frames=12)


@pytest.fixture(scope="module")
def data():
    return ha.make_windows(CFG)


def test_config_and_fault_validation(data):
    with pytest.raises(ValueError):
        dataclasses.replace(CFG, fault_step=CFG.steps)
    with pytest.raises(ValueError):
        dataclasses.replace(CFG, n_seeds=1)
    with pytest.raises(ValueError):
        hm.train_monitored(CFG, data, "meteor strike")


def test_history_records_every_probe(data):
    h = hm.train_monitored(CFG, data)
    assert len(h) == CFG.steps // CFG.log_every
    a = h.arrays()
    for q in ("loss", "lr", "grad_norm", "ema_divergence", "usage", "freq_content", "error_content", "attention_entropy",
              "total_loss"):
        assert h.recorded(q).all() and np.isfinite(a[q]).all(), q
    assert np.allclose(a["usage"].sum(-1), 1, atol=1e-4)
    # §6.1 order: coarse lr < mid lr < fine lr
    assert np.all(np.diff(a["lr"][0]) > 0)
    assert np.allclose(a["error_content"].sum((1, 2)), 1, atol=1e-4)
    # healthy run: no divergence, gradient or misrouting alert, nothing non-finite
    fired = {x.rule for x in A.check_all(h)}
    assert not fired & {"fine_grad_exploding", "coarse_ema_diverging", "frequency_misrouted", "non_finite"}


@pytest.mark.parametrize("fault", ["collapsed router", "exploding fine gradients", "misrouted frequencies",
                                   "diverging coarse EMA"])
def test_each_fault_fires_its_rule_after_the_fault(data, fault):
    h = hm.train_monitored(CFG, data, fault)
    starts = [x.start for x in A.check_all(h) if x.rule == hm.FAULTS[fault]]
    assert any(s >= CFG.fault_step for s in starts)


def test_misrouting_moves_the_loss_out_of_band_not_the_output(data):
    """The swap of coarse and fine targets moves the swapped bands' losses out of their bands (error_content),
    above the rule's threshold from the fault on and below it before; the rule fires only after the fault."""
    h = hm.train_monitored(CFG, data, "misrouted frequencies")
    steps, e = h.series("error_content")
    off = e.sum(-1) - np.diagonal(e, axis1=1, axis2=2)  # (S, M): band i's loss outside band i, over the total
    after = steps >= CFG.fault_step
    rule = A.FrequencyMisrouted()
    assert off[~after].max() < rule.threshold < off[after][:, [0, -1]].sum(-1).min()
    alerts = rule.check(h)
    assert alerts and min(x.start for x in alerts) >= CFG.fault_step and {x.band for x in alerts} <= {"coarse", "fine"}


def test_collapse_sends_traffic_to_one_band(data):
    h = hm.train_monitored(CFG, data, "collapsed router")
    steps, u = h.series("usage")
    assert u[steps >= CFG.fault_step].max(-1).min() > 0.99
    assert u[steps < CFG.fault_step].max(-1).max() < 0.99


def test_scoring_counts_and_our_rules():
    faults = (hm.HEALTHY, "misrouted frequencies", "diverging coarse EMA")
    res = hm.run_monitoring(dataclasses.replace(CFG, steps=16, fault_step=8), faults=faults, progress=False)
    s = hm.score(res)
    assert s.correct + s.missed == 2 * CFG.n_seeds  # one expected rule per fault history
    table = hm.per_rule_table(res, hm.OUR_RULES)
    assert list(table.index) == [r.name for r in hm.OUR_RULES]
    every, none = f"{CFG.n_seeds}/{CFG.n_seeds}", f"0/{CFG.n_seeds}"
    assert table.loc["coarse_ema_diverging", "diverging coarse EMA"] == every
    # the misrouting is caught on every seed, and the rule stays silent on the healthy and EMA runs
    assert table.loc["frequency_misrouted"].tolist() == [none, every, none]
    mis = hm.misrouting_table(res)
    assert list(mis.index) == list(faults)
    threshold = A.FrequencyMisrouted().threshold
    assert mis.iloc[:, 0].max() < threshold < mis.loc["misrouted frequencies"].iloc[1]
    assert mis.loc[hm.HEALTHY].iloc[1] < threshold
    # the seed's output content reads the same with and without the swap: band-limited outputs cannot show it
    assert abs(mis.loc["misrouted frequencies"].iloc[2] - mis.loc[hm.HEALTHY].iloc[2]) < 0.1
    d = {row["fault"]: row for row in hm.delays(res)}
    assert list(d) == list(faults[1:])
    assert all(row["fired before the fault (seeds)"] == none and row["fired after the fault (seeds)"] == every for row in d.values())
    # the seed's per-token entropy rule fires on the healthy, confident per-mode routing (issue 9)
    assert all("routing_entropy_low" in {x.rule for x in A.check_all(h)} for h in res.histories[hm.HEALTHY])
