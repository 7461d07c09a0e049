"""The structural model fitted once and applied to other series (statespace.fit_structural,
StructuralFit): the same fills as kalman / state_space when fitted on the series itself,
every NaN filled, observed entries kept, the filtered fill causal, channels stack."""

import numpy as np
import pytest

from spectral_manifolds.imputation import statespace

OPTS = {"period": 24.0, "harmonics": 1, "maxiter": 50}


def _series(T=240, C=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    x = np.sin(2 * np.pi * t / 24 + np.arange(C)) + 0.01 * t + 0.1 * rng.normal(size=(T, C))
    x[rng.choice(T, T // 10, replace=False)] = np.nan
    x[100:110] = np.nan
    return x[:, 0] if C == 1 else x


def test_fitted_on_itself_gives_the_kalman_and_state_space_fills():
    x = _series()
    filtered, smoothed = statespace.fit_structural(x, **OPTS).fills(x)
    np.testing.assert_allclose(filtered, statespace.kalman(x, **OPTS), rtol=0, atol=1e-10)
    np.testing.assert_allclose(smoothed, statespace.state_space(x, **OPTS), rtol=0, atol=1e-10)


def test_fills_another_series_every_nan_observed_kept_input_untouched():
    fit = statespace.fit_structural(_series(seed=0), **OPTS)
    y = _series(T=180, seed=1)
    before = y.copy()
    for out in fit.fills(y):
        obs = ~np.isnan(y)
        assert out.shape == y.shape and np.isfinite(out).all()
        assert np.array_equal(out[obs], y[obs])
    assert np.array_equal(y, before, equal_nan=True)
    assert fit.n_channels == 1 and fit.n_params == 6 and fit.fit_seconds > 0  # 4 variances, AR(1) phi and variance


def test_filtered_fill_is_causal_smoothed_reads_ahead():
    fit = statespace.fit_structural(_series(seed=0), **OPTS)
    y = _series(T=180, seed=1)
    y[120:128] = np.nan
    other = y.copy()
    other[130:] += 3.0
    (fa, sa), (fb, sb) = fit.fills(y), fit.fills(other)
    np.testing.assert_array_equal(fa[:130], fb[:130])
    assert np.abs(sa[120:128] - sb[120:128]).max() > 1e-3


def test_channels_fitted_apart_stack_into_the_joint_fit():
    x = _series(C=2)
    joint = statespace.fit_structural(x, **OPTS)
    apart = statespace.StructuralFit.stack([statespace.fit_structural(x[:, c], **OPTS) for c in range(2)])
    assert apart.n_channels == 2
    for a, b in zip(joint.fills(x), apart.fills(x)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_errors():
    fit = statespace.fit_structural(_series(), **OPTS)
    with pytest.raises(ValueError, match="shape"):
        fit.fills(_series(C=2))
    with pytest.raises(ValueError, match="at least"):
        statespace.fit_structural(np.r_[np.arange(10.0), np.nan], **OPTS)
    with pytest.raises(ValueError, match="same model"):
        statespace.StructuralFit.stack([fit, statespace.fit_structural(_series(), period=12.0, harmonics=1, maxiter=20)])
    with pytest.raises(ValueError):
        statespace.StructuralFit.stack([])
