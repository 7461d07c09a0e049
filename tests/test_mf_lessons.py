"""Tests for chapter 4's verdicts (spectral_manifolds.experiments.mf_lessons) on
constructed inputs: each verdict follows report.RULE, lesson 4 its stated threshold."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from spectral_manifolds import report
from spectral_manifolds.experiments import mf_lessons as L


class FakeGroup:
    """What the lesson functions read from a Group: names, seeds, mse (M, E)."""

    def __init__(self, curves: dict, seeds=(0, 1, 2)):
        self.names = [n for n in curves for _ in seeds]
        self.seeds = [s for _ in curves for s in seeds]
        self.mse = np.concatenate([np.asarray(c, float) for c in curves.values()])

    def index(self, name):
        return np.array([i for i, n in enumerate(self.names) if n == name])

    def values(self, name, metric):
        assert metric == "final_mse"
        return self.mse[self.index(name), -1]


def decay(end, seeds=3, epochs=10, jitter=0.01):
    return [np.linspace(1.0, end + jitter * s, epochs) for s in range(seeds)]


def test_still_falling_closed_form():
    assert L.still_falling([4, 3, 2, 1, 1, 1, 1, 1, 1, 0.5]) == pytest.approx(0.5)
    assert L.still_falling(np.ones(20)) == 0.0


def test_lesson3_verdicts_and_labels():
    g = FakeGroup({"hi": decay(0.1), "lo": decay(0.5)})
    row = L.lesson3_row(g, "hi", "lo")
    assert row["verdict"] == report.REPRODUCED and "equal steps and wall time" in row["claim"]
    flat = FakeGroup({"hi": [np.r_[np.linspace(1, 0.2, 5), np.full(5, 0.2 + 0.001 * s)] for s in range(3)],
                      "lo": [np.r_[np.linspace(1, 0.21, 5), np.full(5, 0.21 + 0.001 * s)] for s in range(3)]})
    assert "both converged" in L.lesson3_row(flat, "hi", "lo")["claim"]
    # a curve flat at a high loss has not converged
    stuck = FakeGroup({"hi": decay(0.1), "lo": [np.full(10, 0.9 + 0.01 * s) for s in range(3)]})
    assert "equal steps" in L.lesson3_row(stuck, "hi", "lo")["claim"]


def test_lesson2_pairs_by_seed_and_decides():
    one, four = FakeGroup({"1 x h=1": decay(0.3)}), FakeGroup({"4 x h=0.25": decay(0.3)})
    assert L.lesson2_row(one, four)["verdict"] == report.INCONCLUSIVE  # identical: a tie
    worse = FakeGroup({"4 x h=0.25": decay(0.6)})
    assert L.lesson2_row(one, worse)["verdict"] == report.REPRODUCED
    assert L.lesson2_row(worse.__class__({"1 x h=1": decay(0.6)}), FakeGroup({"4 x h=0.25": decay(0.3)}))["verdict"] == report.NOT_REPRODUCED
    with pytest.raises(ValueError, match="seed"):
        L.lesson2_row(one, FakeGroup({"4 x h=0.25": decay(0.3)}, seeds=(5, 6, 7)))


@pytest.mark.parametrize("seconds, verdict", [
    ((3.0, 14.9), "not reproduced (much faster)"),
    ((3.0, 15.0), "not reproduced (much faster)"),
    ((20.0,), "not reproduced (faster, not by half)"),
    ((31.0, 5.0), report.REPRODUCED),
    ((61.0,), "not reproduced (slower)"),
])
def test_lesson4_threshold(seconds, verdict):
    groups = {f"p{i}": SimpleNamespace(compile_seconds=s, names=["a"], member_steps_per_second=1.0, device="cpu") for i, s in enumerate(seconds)}
    assert L.lesson4_row(groups)["verdict"] == verdict
    assert L.MUCH_FASTER * L.SEED_COMPILE_SECONDS[0] == 15.0
    assert list(L.compile_table(groups).index) == list(groups)


def _imp(latent, feedback, names, floors):
    return SimpleNamespace(gap_lengths=[1, 8], names=names, seeds=[0, 1, 2] * (len(names) // 3), floors=floors,
                           values=lambda s, w, g=None: np.asarray({"latent": latent, "feedback": feedback}[w])[[i for i, n in enumerate(names) if n == s], -1 if g in (None, 8) else 0])


def test_lesson1_rows_floor_rows_and_pivot():
    names = ["a"] * 3 + ["b"] * 3
    lat = np.array([[0.1, 0.10], [0.1, 0.11], [0.1, 0.12], [0.1, 0.50], [0.1, 0.52], [0.1, 0.55]])
    fb = np.array([[0.1, 0.30], [0.1, 0.31], [0.1, 0.33], [0.1, 0.20], [0.1, 0.21], [0.1, 0.19]])
    imp = _imp(lat, fb, names, {"linear interpolation": np.array([0.01, 1.0]), "sinusoid fit": np.array([0.01, 0.01])})
    how = {"a": "way a", "b": "way b"}
    rows = L.lesson1_rows({"task": imp}, how)
    assert [r["verdict"] for r in rows] == [report.REPRODUCED, report.NOT_REPRODUCED]
    piv = L.lesson1_pivot(rows, how, ["task", "other"])
    assert list(piv["task"]) == [report.REPRODUCED, report.NOT_REPRODUCED] and list(piv["other"]) == ["—", "—"]
    floors = L.floor_rows(imp, "a", "task")
    assert [r["verdict"] for r in floors] == [report.REPRODUCED, report.NOT_REPRODUCED]
    assert "latent rollout" in floors[0]["claim"]
