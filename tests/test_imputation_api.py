"""fit_impute: the method list and its errors."""

import numpy as np
import pytest

from spectral_manifolds.imputation import BIDIRECTIONAL, CAUSAL, METHODS, fit_impute, min_observed


def test_methods_listed_and_partitioned():
    assert set(CAUSAL) | set(BIDIRECTIONAL) == set(METHODS) and not set(CAUSAL) & set(BIDIRECTIONAL)
    assert {"locf", "kalman"} <= set(CAUSAL)
    assert {"linear", "pchip", "spline", "stl_linear", "state_space", "sinusoid"} <= set(BIDIRECTIONAL)


def test_reader_array_round_trip():
    x = np.array([1.0, np.nan, 3.0, np.nan, np.nan, 6.0])
    out = fit_impute(x)
    assert out is not x and np.isnan(x).sum() == 3
    np.testing.assert_allclose(out, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(fit_impute([1, 2, 3], "linear"), [1.0, 2.0, 3.0])  # ints, lists


def test_unknown_method_names_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        fit_impute(np.zeros(5), method="magic")
    assert "magic" in str(err.value) and all(m in str(err.value) for m in METHODS)


@pytest.mark.parametrize(
    "series, match",
    [
        (np.zeros((2, 3, 4)), "shape"),
        (np.float64(1.0), "shape"),
        (np.zeros((0,)), "empty"),
        (np.array(["a", "b"]), "numeric"),
        (np.array([1.0, np.inf, np.nan]), "infinite"),
        (np.full(6, np.nan), "all missing"),
        (np.column_stack([np.arange(6.0), np.full(6, np.nan)]), r"channel\(s\) \[1\]"),
    ],
)
def test_bad_series(series, match):
    with pytest.raises(ValueError, match=match):
        fit_impute(series, "linear")


def test_too_few_observations_and_bad_options():
    x = np.array([np.nan, 1.0, np.nan, 2.0, 3.0, np.nan])
    with pytest.raises(ValueError, match="at least 4 observed"):
        fit_impute(x, "spline")
    assert min_observed("spline") == 4
    with pytest.raises(ValueError, match="at least"):
        fit_impute(np.r_[np.arange(20.0), np.nan], "state_space", period=12, harmonics=2)
    with pytest.raises(ValueError, match="period"):
        fit_impute(np.arange(60.0), "stl_linear")
    with pytest.raises(ValueError, match="two periods"):
        fit_impute(np.r_[np.arange(30.0), np.nan], "stl_linear", period=24)
    with pytest.raises(ValueError, match="unknown option"):
        fit_impute(x, "linear", period=12)
    with pytest.raises(ValueError, match="budget"):
        fit_impute(x, "linear", budget="huge")
    with pytest.raises(ValueError, match="seed"):
        fit_impute(x, "linear", seed=1.5)


def test_nothing_missing_returns_an_equal_copy():
    x = np.arange(10.0)
    out = fit_impute(x, "pchip")
    assert out is not x and np.array_equal(out, x)
