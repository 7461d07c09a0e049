"""Learned imputers (GRU, bidirectional GRU, SAITS and BRITS via PyPOTS): fill every NaN,
keep observed entries and the input, seeded, the GRU is causal, they beat LOCF on a clean
sinusoid, parameter counts match the closed form, bad input errors. Tiny sizes."""

import numpy as np
import pytest

from spectral_manifolds.imputation import BIDIRECTIONAL, CAUSAL, METHODS, fit_impute, learned, min_observed, pypots_methods

LEARNED = ("gru", "bigru", "saits", "brits")
TINY = {"epochs": 2, "window": 16}


def _series(T=120, C=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    x = np.sin(2 * np.pi * t / 20 + np.arange(C)) + 0.05 * rng.normal(size=(T, C))
    x[0, 0] = np.nan  # a leading gap
    x[30:36, :] = np.nan
    x[rng.choice(np.arange(40, T - 5), 10, replace=False), -1] = np.nan
    x[-2:, 0] = np.nan  # a trailing gap
    return x[:, 0] if C == 1 else x


def test_registered_with_their_regimes():
    assert set(LEARNED) <= set(METHODS)
    assert "gru" in CAUSAL and {"bigru", "saits", "brits"} <= set(BIDIRECTIONAL)
    assert all(min_observed(m) == learned.MIN_OBSERVED for m in LEARNED)


@pytest.mark.parametrize("method", LEARNED)
@pytest.mark.parametrize("C", [1, 2])
def test_fills_every_nan_keeps_observed_and_input(method, C):
    x = _series(C=C)
    before = x.copy()
    out = fit_impute(x, method, seed=0, **TINY)
    obs = ~np.isnan(x)
    assert out.shape == x.shape and np.isfinite(out).all()
    assert np.array_equal(out[obs], x[obs])
    assert np.array_equal(x, before, equal_nan=True)


@pytest.mark.parametrize("method", LEARNED)
def test_deterministic_by_seed(method):
    x = _series()
    a, b = fit_impute(x, method, seed=3, **TINY), fit_impute(x, method, seed=3, **TINY)
    c = fit_impute(x, method, seed=4, **TINY)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_causal_gru_does_not_see_the_future():
    x = _series(T=200)
    x[152:160] = np.nan  # a gap just before the future changes
    other = x.copy()
    other[160:] += 3.0 * np.random.default_rng(1).normal(size=40)
    opts = dict(TINY, train_end=150)
    a, b = fit_impute(x, "gru", **opts), fit_impute(other, "gru", **opts)
    np.testing.assert_array_equal(a[:160], b[:160])
    assert not np.allclose(a[-2:], b[-2:])  # fills after the change do follow it
    # the bidirectional GRU of the same sizes reads ahead: its fill of the gap moves
    s_a, s_b = fit_impute(x, "bigru", **opts), fit_impute(other, "bigru", **opts)
    assert np.abs(s_a[152:160] - s_b[152:160]).max() > 1e-3


# one seed, sizes a few times TINY; over seeds 0-3 (measured) the MAE ratio to LOCF was
# gru 0.16-0.21, bigru 0.24-0.29, SAITS 0.27-0.72, BRITS 0.24-0.47
BEAT = {
    "gru": dict(window=32, epochs=60),
    "bigru": dict(window=32, epochs=100),
    "saits": dict(window=32, epochs=100),
    "brits": dict(window=24, epochs=40, lr=1e-2),
}


@pytest.mark.parametrize("method", LEARNED)
def test_learned_fills_beat_locf_on_a_clean_sinusoid(method):
    t = np.arange(240)
    x = np.sin(2 * np.pi * t / 20)
    y = x.copy()
    for s in np.random.default_rng(0).choice(np.arange(5, 235, 8), 12, replace=False):
        y[s : s + 3] = np.nan  # 12 gaps of 3 steps
    miss = np.isnan(y)
    err = np.abs(fit_impute(y, method, seed=0, **BEAT[method]) - x)[miss].mean()
    err_locf = np.abs(fit_impute(y, "locf") - x)[miss].mean()
    assert err < 0.6 * err_locf


def test_parameter_counts_match_the_closed_form():
    # GRU(in, H): 3H(in + H) weights + 6H biases; the head: H_in * C + C
    for C, H in [(1, 32), (3, 8)]:
        gru_cell = 3 * H * (2 * C + H) + 6 * H
        assert learned.parameter_count("gru", C, H) == gru_cell + H * C + C
        assert learned.parameter_count("bigru", C, H) == 2 * gru_cell + 2 * H * C + C
    assert pypots_methods.parameter_count("brits") > 0 and pypots_methods.parameter_count("saits") > 0


def test_windows_cover_the_series_and_blend_is_a_partition_of_unity():
    z = np.random.default_rng(0).normal(size=(50, 2))
    W, starts = learned.windows(z, 16)
    assert W.shape == (len(starts), 16, 2) and starts[0] == 0 and starts[-1] == 50 - 16
    np.testing.assert_allclose(learned.blend(W, starts, 50), z, atol=1e-12)
    assert learned.windows(z, 500)[0].shape == (1, 50, 2)  # capped at T


def test_scaler_fitted_on_observed_values_only():
    x = _series()
    z, scaler, end = learned.prepare(x, train_end=60)
    assert end == 60
    np.testing.assert_allclose(scaler.mean, np.nanmean(x[:60]), rtol=1e-12)
    np.testing.assert_allclose(scaler.std, np.nanstd(x[:60]), rtol=1e-12)
    assert np.array_equal(np.isnan(z[:, 0]), np.isnan(x))


@pytest.mark.parametrize(
    "method, series, options, match",
    [
        ("gru", np.r_[np.arange(7.0), np.nan], {}, "at least 8 observed"),
        ("saits", np.r_[np.arange(7.0), np.nan], {}, "at least 8 observed"),
        ("bigru", np.full(20, np.nan), {}, "all missing"),
        ("brits", np.array([1.0, np.inf] + [np.nan] * 10), {}, "infinite"),
        ("gru", np.zeros((3, 4, 5)), {}, "shape"),
        ("gru", _series(), {"epochs": 0}, "epochs"),
        ("bigru", _series(), {"window": 1}, "length"),
        ("gru", _series(), {"hidden": 0}, "hidden"),
        ("gru", _series(), {"mask_rate": 1.0}, "mask_rate"),
        ("bigru", _series(), {"train_end": 500}, "train_end"),
        ("saits", _series(), {"n_heads": 3}, "n_heads"),
        ("brits", _series(), {"rnn_hidden_size": 0}, "rnn_hidden_size"),
        ("saits", _series(), {"period": 12}, "unknown option"),
        ("gru", _series(), {"seed": 1}, None),
    ],
)
def test_bad_input_errors_through_fit_impute(method, series, options, match):
    if match is None:  # seed is fit_impute's own keyword, not an option: it works
        assert np.isfinite(fit_impute(series, method, **TINY, **options)).all()
        return
    with pytest.raises(ValueError, match=match):
        fit_impute(series, method, **dict(TINY, **options))
    with pytest.raises(ValueError, match="seed"):
        fit_impute(_series(), method, seed=-1, **TINY)
    with pytest.raises(ValueError, match="budget"):
        fit_impute(_series(), method, budget="huge")


@pytest.mark.parametrize("method", LEARNED)
def test_fill_many_is_fill_on_each_series(method):
    x = _series(T=160, C=2)
    fit = learned.fit if method in ("gru", "bigru") else pypots_methods.fit
    f = fit(method, x[:100], seed=0, epochs=2, window=16, local_level=True)
    rng = np.random.default_rng(5)
    xs = [np.where(rng.random(x[100:].shape) < p, np.nan, x[100:]) for p in (0.1, 0.3, 0.5)]
    many = f.fill_many(xs)
    for one, x_i in zip(many, xs):
        np.testing.assert_allclose(one, f.fill(x_i), rtol=0, atol=1e-5)
        assert np.array_equal(one[~np.isnan(x_i)], x_i[~np.isnan(x_i)])
    with pytest.raises(ValueError, match="one shape"):
        f.fill_many([xs[0], xs[0][:-1]])


def test_windows_many_concatenates_each_series_windows():
    Z = np.random.default_rng(0).normal(size=(3, 50, 2))
    W, starts = learned.windows_many(Z, 16)
    W0, s0 = learned.windows(Z[0], 16)
    assert W.shape == (3 * len(s0),) + W0.shape[1:] and np.array_equal(starts, s0)
    for b in range(3):
        np.testing.assert_array_equal(W[b * len(s0) : (b + 1) * len(s0)], learned.windows(Z[b], 16)[0])
