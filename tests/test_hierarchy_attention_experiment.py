"""Chapter 22 part 1 (drafts/22_attention_monitor.md): the topology comparison and the cost table's additions."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from spectral_manifolds.experiments import hierarchy_attention as ha
from spectral_manifolds.experiments import hierarchy_cost as hc
from spectral_manifolds.hierarchy import baselines, persistence

TINY = dataclasses.replace(ha.config_for("quick"), steps=4, n_seeds=2, frames=12)


def test_config_validation():
    with pytest.raises(ValueError):
        dataclasses.replace(TINY, n_seeds=1)
    with pytest.raises(ValueError):
        dataclasses.replace(TINY, topologies=("ring",))
    with pytest.raises(ValueError):
        dataclasses.replace(TINY, frames=4, context=3)  # no training window
    with pytest.raises(ValueError):
        ha.build(TINY, "ring")


def test_windows_are_standardized_and_chronological():
    d = ha.make_windows(TINY)
    assert d["train_x"].shape[1:] == (TINY.context, TINY.n, TINY.n)
    # the target of window s is the input frame of window s + 1 (consecutive frames)
    assert torch.equal(d["train_x"][1, -1], d["train_y"][0])
    # standardized on the training segment: its frames have mean ~0 and std ~1
    seg = torch.cat([d["train_x"][0], d["train_y"]])
    assert abs(float(seg.mean())) < 0.2 and 0.7 < float(seg.std()) < 1.3


def test_models_start_equal_without_and_with_attention():
    """BandAttention's output maps start at zero (§9.1.3): at initialization every topology predicts as no attention."""
    d = ha.make_windows(TINY)
    base = ha.build(TINY, ha.NO_ATTENTION)
    for v in TINY.topologies:
        m = ha.build(TINY, v)
        m.manifolds.load_state_dict(base.manifolds.state_dict())  # same manifolds, plus attention
        with torch.no_grad():
            assert torch.allclose(m(d["test_x"][:2])[0], base(d["test_x"][:2])[0], atol=1e-5)


def test_self_only_control_has_the_parameters_of_every_topology():
    """The equal-parameter control: same count as each topology, more than no attention."""
    counts = {v: ha.build(TINY, v).n_parameters for v in TINY.variants}
    assert ha.SELF_ONLY in TINY.variants
    for t in TINY.topologies:
        assert counts[t] == counts[ha.SELF_ONLY]
    assert counts[ha.NO_ATTENTION] < counts[ha.SELF_ONLY]


def test_ls_multiplier_beats_persistence_on_translating_bands():
    d = ha.make_windows(TINY)
    assert ha.test_mse(baselines.ls_multiplier, d) < 0.1 * ha.test_mse(persistence, d)


def test_run_topologies_tables_and_orderings():
    res = ha.run_topologies(TINY, progress=False)
    assert res.names[: len(TINY.variants)] == list(TINY.variants)
    for k in res.names:
        v = res.values(k)
        assert v.shape == (TINY.n_seeds,) and np.all(np.isfinite(v)) and np.all(v >= 0)
    assert np.allclose(res.values("persistence"), 1.0)
    assert res.params["full"] == res.params["hierarchical"] > res.params[ha.NO_ATTENTION]
    rows = ha.verdict_rows(res)
    # per topology: vs no attention and vs self-only; each later topology vs the first; best vs the two references
    assert len(rows) == 2 * len(TINY.topologies) + (len(TINY.topologies) - 1) + 2
    assert res.params[ha.SELF_ONLY] == res.params["hierarchical"]
    assert all(r["verdict"] in ("reproduced", "not reproduced", "inconclusive") for r in rows)
    assert len(ha.error_table(res)) == len(res.names)


def test_cost_memory_table_and_tail_exponents():
    df = hc.cost_memory_table((4, 6, 8, 10), batch=1, seed_max_n=6, repeats=1, warmup=0, device="cpu")
    assert {"steps_per_s", "peak_mb", "mb_ratio"} <= set(df.columns)
    assert df.peak_mb.isna().all()  # not measured on a CPU
    timed = df.dropna(subset=["ms"])
    assert np.allclose(timed.steps_per_s * timed.ms, 1e3)
    ex = hc.tail_exponents(df, columns=("score_entries", "gflop_fwd"))
    # score counts are exact: N^4 for the seed, N^2 for ours, over any range of N
    assert math.isclose(ex.loc["seed all-tokens", "exponent of score_entries"], 4.0, abs_tol=1e-9)
    assert math.isclose(ex.loc["ours position", "exponent of score_entries"], 2.0, abs_tol=1e-9)
    assert ex.loc["seed all-tokens", "exponent of gflop_fwd"] > ex.loc["ours position", "exponent of gflop_fwd"]
