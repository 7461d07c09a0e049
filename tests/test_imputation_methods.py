"""Classical imputers: fill every NaN, keep observed entries, closed-form reproductions,
model-based fills beat linear on sums of sinusoids, LOCF / Kalman are causal."""

import numpy as np
import pytest

from spectral_manifolds.imputation import METHODS, fit_impute

T = 240
OPTIONS = {
    "stl_linear": {"period": 24},
    "state_space": {"period": 24, "harmonics": 1, "maxiter": 50},
    "kalman": {"period": 24, "harmonics": 1, "maxiter": 50},
    "sinusoid": {"n_frequencies": 1},
    "manifoldformer": {"epochs": 2, "window": 16, "context": 8},
    "manifoldformer_bidir": {"epochs": 2, "window": 16, "context": 8},
}


def _seasonal(C=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    x = 0.01 * t + np.sin(2 * np.pi * t / 24 + np.arange(C)) + 0.1 * rng.normal(size=(T, C))
    x[0, :] = np.nan  # a leading gap (no past for a causal method)
    x[50:58, :] = np.nan
    x[120, :] = np.nan
    x[-3:, :] = np.nan  # a trailing gap
    return x[:, 0] if C == 1 else x


def _gap(x, start, length):
    y = x.copy()
    y[start : start + length] = np.nan
    return y


@pytest.mark.parametrize("method", METHODS)
def test_fills_every_nan_keeps_observed_and_input(method):
    x = _seasonal()
    before = x.copy()
    out = fit_impute(x, method, **OPTIONS.get(method, {}))
    obs = ~np.isnan(x)
    assert out.shape == x.shape and np.isfinite(out).all()
    assert np.array_equal(out[obs], x[obs])
    assert np.array_equal(x, before, equal_nan=True)


@pytest.mark.parametrize("method", ["locf", "linear", "pchip", "spline", "stl_linear", "sinusoid"])
def test_two_channels_and_float32(method):
    x = _seasonal(C=2).astype(np.float32)
    out = fit_impute(x, method, **OPTIONS.get(method, {}))
    obs = ~np.isnan(x)
    assert out.dtype == np.float32 and out.shape == x.shape and np.isfinite(out).all()
    assert np.array_equal(out[obs], x[obs])


@pytest.mark.parametrize("method", ["linear", "pchip", "spline"])
def test_interpolators_reproduce_a_linear_function(method):
    t = np.arange(100.0)
    x = 3.0 - 0.25 * t
    y = _gap(_gap(x, 10, 1), 40, 17)
    np.testing.assert_allclose(fit_impute(y, method), x, atol=1e-9)


def test_spline_reproduces_a_cubic():
    t = np.arange(80.0) / 80
    x = 1 - 2 * t + 3 * t**2 - 4 * t**3
    np.testing.assert_allclose(fit_impute(_gap(x, 30, 9), "spline"), x, atol=1e-9)


@pytest.mark.parametrize("method, tol", [("linear", 5e-2), ("pchip", 2e-2), ("spline", 1e-4)])
def test_smooth_function_inside_a_short_gap(method, tol):
    # interpolation error bounds: linear h^2 f''/8, PCHIP O(h^2) at worst, spline O(h^4)
    t = np.arange(200.0)
    x = np.sin(2 * np.pi * t / 100)
    out = fit_impute(_gap(x, 60, 5), method)
    assert np.max(np.abs(out - x)) < tol


def _sum_of_sinusoids(n=300):
    t = np.arange(float(n))
    return np.sin(2 * np.pi * t / 40) + 0.5 * np.cos(2 * np.pi * t / 13 + 0.3)


@pytest.mark.parametrize(
    "method, options",
    [
        ("sinusoid", {"n_frequencies": 2}),
        ("sinusoid", {"frequencies": [1 / 40, 1 / 13]}),
        ("state_space", {"period": [40, 13], "harmonics": [1, 1], "maxiter": 100}),
    ],
)
def test_model_fills_beat_linear_on_a_sum_of_sinusoids(method, options):
    x = _sum_of_sinusoids()
    y = _gap(x, 150, 30)
    err = np.abs(fit_impute(y, method, **options) - x)[150:180].mean()
    err_lin = np.abs(fit_impute(y, "linear") - x)[150:180].mean()
    assert err < 0.05 * err_lin


def test_stl_linear_beats_linear_on_season_plus_trend():
    t = np.arange(240.0)
    x = 0.02 * t + np.sin(2 * np.pi * t / 24)
    y = _gap(x, 100, 10)
    err = np.abs(fit_impute(y, "stl_linear", period=24) - x)[100:110].mean()
    assert err < 0.2 * np.abs(fit_impute(y, "linear") - x)[100:110].mean()


def test_locf_is_causal():
    x = _seasonal()
    other = x.copy()
    other[150:] = np.random.default_rng(1).normal(size=T - 150)  # a different future
    a, b = fit_impute(x, "locf"), fit_impute(other, "locf")
    np.testing.assert_array_equal(a[:150], b[:150])
    assert fit_impute(np.array([np.nan, 2.0, np.nan, np.nan, 5.0]), "locf").tolist() == [2, 2, 2, 2, 5]


def test_kalman_is_causal_with_a_training_cut():
    x = _gap(_seasonal(), 152, 8)  # a gap just before the future changes
    other = x.copy()
    other[160:] += 3.0
    opts = dict(OPTIONS["kalman"], train_end=150)
    a, b = fit_impute(x, "kalman", **opts), fit_impute(other, "kalman", **opts)
    np.testing.assert_allclose(a[:160], b[:160], rtol=0, atol=1e-9)
    assert not np.allclose(a[-3:], b[-3:])
    # the smoother of the same model looks ahead: its fill of the gap moves
    s_a = fit_impute(x, "state_space", **opts)
    s_b = fit_impute(other, "state_space", **opts)
    assert np.abs(s_a[152:160] - s_b[152:160]).max() > 0.1
