"""Masks of artificially hidden entries: exact fractions, gap lengths, seeding, real gaps."""

import numpy as np
import pytest

from spectral_manifolds.data.real_series import CO2_GAP_LENGTHS, gap_runs
from spectral_manifolds.imputation import masks


def _series(T=600, C=1, missing=((50, 3), (300, 7)), seed=0):
    x = np.random.default_rng(seed).normal(size=(T, C))
    for s, L in missing:
        x[s : s + L] = np.nan
    return x[:, 0] if C == 1 else x


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5])
def test_mcar_hides_exactly_the_requested_fraction(rate):
    x = _series(C=3)
    m = masks.mcar_mask(x, rate, seed=1)
    obs = ~np.isnan(x)
    assert m.shape == x.shape and m.dtype == bool
    assert m.sum() == round(rate * obs.sum())
    assert not (m & ~obs).any()


@pytest.mark.parametrize("length", [1, 4, 16, 52])
def test_gaps_have_the_requested_length_and_fraction(length):
    x = _series(T=1200)
    m = masks.gap_mask(x, 0.1, length, seed=2)
    obs = ~np.isnan(x)
    assert not (m & ~obs).any()
    assert abs(m.sum() - 0.1 * obs.sum()) <= length / 2 + 1e-9
    # every hidden run, and every run of missing entries it could touch, keeps its length
    starts, lengths = gap_runs(m)
    assert set(lengths.tolist()) == {length}
    assert set(gap_runs(m | ~obs)[1].tolist()) <= {length, 3, 7}
    assert not m[0] and not m[-1]  # interior gaps: something to interpolate from


def test_gap_mask_per_channel_and_too_high_a_rate():
    x = _series(T=400, C=2)
    m = masks.gap_mask(x, 0.2, 8, seed=0)
    for c in range(2):
        assert set(gap_runs(m[:, c])[1].tolist()) == {8}
    with pytest.raises(ValueError, match="too high"):
        masks.gap_mask(np.zeros(40), 0.9, 8, seed=0)


def test_block_mask_spans_channels():
    x = _series(T=500, C=4, missing=((100, 5),))
    m = masks.block_mask(x, 0.1, 10, seed=3)
    obs = ~np.isnan(x)
    assert not (m & ~obs).any()
    assert (m.sum(axis=1)[m.any(axis=1)] == 4).all()  # full-width blocks
    assert m.sum() == 10 * 4 * round(0.1 * obs.sum() / 40)
    m2 = masks.block_mask(x, 0.1, 10, seed=3, width=2)
    assert m2.sum() == 10 * 2 * round(0.1 * obs.sum() / 20)
    for c in range(4):  # blocks on other channels may share time steps; per channel, runs of 10
        assert set(gap_runs(m2[:, c])[1].tolist()) <= {10}
    with pytest.raises(ValueError, match="C > 1"):
        masks.block_mask(x[:, 0], 0.1, 10, seed=0)


def test_real_gap_lengths_come_from_co2_and_fraction_within_one_gap():
    x = _series(T=2000)
    m = masks.real_gap_mask(x, 0.1, seed=4)
    obs = ~np.isnan(x)
    assert not (m & ~obs).any()
    assert set(gap_runs(m)[1].tolist()) <= set(CO2_GAP_LENGTHS)
    assert abs(m.sum() - 0.1 * obs.sum()) <= max(CO2_GAP_LENGTHS)


@pytest.mark.parametrize(
    "make",
    [
        lambda x, s: masks.mcar_mask(x, 0.2, seed=s),
        lambda x, s: masks.gap_mask(x, 0.1, 4, seed=s),
        lambda x, s: masks.real_gap_mask(x, 0.1, seed=s),
    ],
)
def test_same_seed_same_mask_and_global_rng_restored(make):
    x = _series()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a, b, c = make(x, 7), make(x, 7), make(x, 8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(np.random.get_state()[1], before)


def test_bad_rates_rejected():
    with pytest.raises(ValueError, match="rate"):
        masks.mcar_mask(np.zeros(10), 1.0, seed=0)
    with pytest.raises(ValueError, match="shape"):
        masks.mcar_mask(np.zeros((2, 3, 4)), 0.1, seed=0)
