"""Loaders of real series shipped in wheels, the chronological split and the scaler."""

import numpy as np
import pytest

from spectral_manifolds.data import real_series as rs


def test_co2_as_documented():
    s = rs.load_co2()
    assert s.values.shape == (2284,) and s.time.shape == (2284,)
    assert int(s.missing.sum()) == 59
    starts, lengths = rs.gap_runs(s.missing)
    assert tuple(lengths.tolist()) == rs.CO2_GAP_LENGTHS and len(lengths) == 22
    assert str(s.time[0]) == "1958-03-29" and str(s.time[-1]) == "2001-12-29"
    assert (np.diff(s.time).astype(int) == 7).all()  # weekly, no skipped weeks
    assert str(s.time[starts[13]]) == "1964-01-25" and lengths[13] == 18
    assert 300 < np.nanmin(s.values) and np.nanmax(s.values) < 400  # ppmv


def test_sunspots_as_documented():
    s = rs.load_sunspots()
    assert s.values.shape == (2820,) and not s.missing.any()
    assert str(s.time[0]) == "1749-01" and str(s.time[-1]) == "1983-12"
    assert s.values.min() >= 0


def test_loaders_return_fresh_arrays():
    a = rs.load_co2()
    a.values[:] = 0
    assert np.isnan(rs.load_co2().values).sum() == 59


def test_chronological_split_and_scaler_use_observed_training_values_only():
    x = np.r_[np.arange(10.0), np.nan, 1000.0 * np.ones(9)]
    train, test, split = rs.chronological_split(x, 0.5)
    assert split == 10 and np.array_equal(train, x[:10]) and test.shape == (10,)
    sc = rs.Scaler.fit(train)
    assert sc.mean == pytest.approx(4.5) and sc.std == pytest.approx(np.std(np.arange(10.0)))
    z = sc.transform(x)
    assert np.isnan(z[10]) and np.allclose(sc.inverse(z)[:10], x[:10])
    x2 = np.column_stack([x, 2 * x])
    sc2 = rs.Scaler.fit(rs.chronological_split(x2, 0.5)[0])
    np.testing.assert_allclose(sc2.mean, [4.5, 9.0])
    with pytest.raises(ValueError):
        rs.chronological_split(x, 1.0)
    with pytest.raises(ValueError):
        rs.Scaler.fit(np.array([np.nan, 1.0]))
