"""Scores on hidden entries, skill, and the paired-bootstrap verdict on constructed inputs."""

import numpy as np
import pytest

from spectral_manifolds.imputation import metrics


def test_mae_rmse_only_on_hidden_entries():
    truth = np.array([0.0, 1.0, 2.0, 3.0])
    filled = np.array([100.0, 2.0, 2.0, 6.0])  # the 100 is outside the mask
    mask = np.array([False, True, True, True])
    assert metrics.mae(truth, filled, mask) == pytest.approx(4 / 3)
    assert metrics.rmse(truth, filled, mask) == pytest.approx(np.sqrt(10 / 3))
    with pytest.raises(ValueError, match="hides no entry"):
        metrics.mae(truth, filled, np.zeros(4, bool))
    with pytest.raises(ValueError, match="one shape"):
        metrics.mae(truth, filled[:3], mask[:3])
    with pytest.raises(ValueError, match="not finite"):
        metrics.mae(np.array([np.nan, 1.0]), np.array([0.0, 1.0]), np.array([True, True]))


def test_skill():
    assert metrics.skill(0.5, 1.0) == pytest.approx(0.5)
    assert metrics.skill(1.0, 1.0) == 0.0
    np.testing.assert_allclose(metrics.skill([2.0, 1.0], [1.0, 2.0]), [-1.0, 0.5])
    with pytest.raises(ValueError):
        metrics.skill(1.0, 0.0)


def test_bootstrap_clear_win_clear_loss_tie():
    ref = np.array([1.0, 1.1, 0.9, 1.05, 0.95])
    win = metrics.bootstrap_compare(ref - 0.3 + np.array([0.01, -0.02, 0.0, 0.02, -0.01]), ref)
    assert win.verdict == metrics.WINS and win.low > 0 and win.t_verdict == metrics.WINS
    loss = metrics.bootstrap_compare(ref + 0.3, ref)
    assert loss.verdict == metrics.LOSES and loss.high < 0
    tie = metrics.bootstrap_compare(ref + np.array([0.1, -0.1, 0.05, -0.05, 0.0]), ref)
    assert tie.verdict == metrics.TIE and tie.low < 0 < tie.high
    # higher-is-better orientation, and a margin turns a small win into a tie
    assert metrics.bootstrap_compare(ref + 0.3, ref, lower_is_better=False).verdict == metrics.WINS
    assert metrics.bootstrap_compare(ref - 0.01, ref, margin=0.05).verdict == metrics.TIE


def test_bootstrap_interval_properties():
    d = np.array([0.1, 0.2, 0.3, 0.4])
    low, high = metrics.bootstrap_interval(d, seed=0)
    assert d.min() <= low < d.mean() < high <= d.max()
    assert metrics.bootstrap_interval(d, seed=0) == (low, high)  # its own seeded generator
    with pytest.raises(ValueError):
        metrics.bootstrap_interval([1.0])


def test_benchmark_table():
    maes = {"linear": [1.0, 1.1, 0.9], "better": [0.5, 0.6, 0.4], "worse": [2.0, 2.1, 1.9]}
    df = metrics.benchmark_table(maes, maes, extra={"better": {"fit s": 0.1}})
    assert list(df.index) == ["linear", "better", "worse"]
    assert df.loc["better", "vs linear"] == metrics.WINS and df.loc["worse", "vs linear"] == metrics.LOSES
    assert df.loc["linear", "vs linear"] == "reference" and df.loc["better", "fit s"] == 0.1
    with pytest.raises(ValueError, match="reference"):
        metrics.benchmark_table({"a": [1.0, 2.0]})
