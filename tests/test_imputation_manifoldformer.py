"""The ManifoldFormer imputers and the fit-once learned imputers of the benchmark's
model-seed axis: fill every NaN, keep observed entries, seeded, causal rollout, errors."""

import numpy as np
import pytest

from spectral_manifolds.imputation import CAUSAL, BIDIRECTIONAL, fit_impute, learned, manifoldformer_method as mm, pypots_methods

TINY = {"epochs": 2, "window": 16, "context": 8}


def _series(T=120, C=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    x = np.sin(2 * np.pi * t / 20 + np.arange(C)) + 0.05 * rng.normal(size=(T, C))
    x[0, 0] = np.nan
    x[30:36, :] = np.nan
    x[rng.choice(np.arange(40, T - 5), 10, replace=False), -1] = np.nan
    x[-2:, 0] = np.nan
    return x[:, 0] if C == 1 else x


def test_registered_in_their_regimes():
    assert "manifoldformer" in CAUSAL and "manifoldformer_bidir" in BIDIRECTIONAL


@pytest.mark.parametrize("method", ["manifoldformer", "manifoldformer_bidir"])
@pytest.mark.parametrize("C", [1, 2])
def test_fills_every_nan_keeps_observed_and_input(method, C):
    x = _series(C=C)
    before = x.copy()
    out = fit_impute(x, method, seed=0, **TINY)
    obs = ~np.isnan(x)
    assert out.shape == x.shape and np.isfinite(out).all()
    assert np.array_equal(out[obs], x[obs]) and np.array_equal(x, before, equal_nan=True)


def test_model_seeds_trained_together_match_one_at_a_time_and_differ_between_seeds():
    x = _series()
    both = mm.fit(x, (3, 4), bidirectional=False, epochs=2, window=16, context=8).fill(x)
    alone = mm.fit(x, (3,), bidirectional=False, epochs=2, window=16, context=8).fill(x)
    np.testing.assert_allclose(both[0], alone[0], atol=1e-4)
    assert not np.allclose(both[0], both[1])  # another seed gives another fill


def test_causal_rollout_does_not_see_the_future():
    x = _series(T=200)
    x[150:158] = np.nan
    other = x.copy()
    other[160:] += 3.0
    imp = mm.fit(x[:140], (0,), bidirectional=True, epochs=2, window=16, context=8)
    a, b = imp.fill(x)[0], imp.fill(other)[0]
    np.testing.assert_array_equal(a[:160], b[:160])
    a2, b2 = imp.fill(x, bidirectional=True)[0], imp.fill(other, bidirectional=True)[0]
    assert np.abs(a2[150:158] - b2[150:158]).max() > 1e-3  # the backward model reads ahead


def test_parameter_count_and_errors():
    from flax import nnx

    from spectral_manifolds.manifoldformer import ManifoldFormer, count_params

    assert mm.parameter_count(1, 64) == count_params(ManifoldFormer(mm._config(1, 64), rngs=nnx.Rngs(1)))
    with pytest.raises(ValueError, match="window"):
        fit_impute(_series(), "manifoldformer", window=0)
    with pytest.raises(ValueError, match="at least 8 observed"):
        fit_impute(np.r_[np.arange(7.0), np.nan], "manifoldformer_bidir")
    with pytest.raises(ValueError, match="backward"):
        mm.fit(_series(), (0,), bidirectional=False, epochs=1, window=16).fill(_series(), bidirectional=True)


@pytest.mark.parametrize("method", ["gru", "bigru", "saits"])
def test_fit_once_fills_new_series_same_seed_same_fill(method):
    x = _series(T=160)
    fit = learned.fit if method in ("gru", "bigru") else pypots_methods.fit
    a = fit(method, x[:100], seed=1, epochs=2, window=16, local_level=True)
    b = fit(method, x[:100], seed=1, epochs=2, window=16, local_level=True)
    c = fit(method, x[:100], seed=2, epochs=2, window=16, local_level=True)
    test = x[100:].copy()
    fa = a.fill(test)
    obs = ~np.isnan(test)
    assert np.isfinite(fa).all() and np.array_equal(fa[obs], test[obs])
    np.testing.assert_array_equal(fa, b.fill(test))
    assert not np.array_equal(fa, c.fill(test))
    assert a.n_params > 0 and a.fit_seconds > 0


def test_levels_are_causal_and_window_means():
    z = np.array([[1.0], [np.nan], [3.0], [5.0]])
    np.testing.assert_allclose(learned.causal_level(z, 2)[:, 0], [0.0, 1.0, 1.0, 3.0])
    W = np.array([[[1.0], [np.nan], [3.0]], [[np.nan], [np.nan], [np.nan]]])
    np.testing.assert_allclose(learned.window_level(W)[:, 0, 0], [2.0, 0.0])


def test_fill_both_many_is_fill_both_on_each_series():
    x = _series(T=200)
    imp = mm.fit(x[:120], (0, 1), bidirectional=True, epochs=2, window=16, context=8)
    xs = [x[120:].copy(), x[130:190].copy()]
    xs[0][10:30] = np.nan  # a run longer than any of the other series'
    causal, both = imp.fill_both_many(xs)
    for i, x_i in enumerate(xs):
        c1, b1 = imp.fill_both(x_i)
        assert causal[i].shape == b1.shape == (2,) + x_i.shape
        np.testing.assert_allclose(causal[i], c1, atol=1e-5)
        np.testing.assert_allclose(both[i], b1, atol=1e-5)
    assert imp.fill_both_many(xs, bidirectional=False)[1] == [None, None]
    # rollouts are rounded up to powers of 4 (few compiles); the prefix of a longer rollout is the same fill
    assert [mm._bucket(n) for n in (1, 2, 4, 5, 16, 17, 52, 512)] == [1, 4, 4, 16, 16, 64, 64, 1024]


def test_fill_runs_roll_out_only_fully_missing_steps():
    z = np.zeros((10, 3))
    z[2:5, :] = np.nan  # every channel: one rollout of 3 steps
    z[6, 1] = np.nan  # some channels: one-step predictions
    z[7, :2] = np.nan
    starts, lengths = mm.fill_runs(z)
    assert starts.tolist() == [2, 6, 7] and lengths.tolist() == [3, 1, 1]
    one = np.where(np.isnan(z[:, :1]), np.nan, 0.0)  # C = 1: the runs of missing steps
    assert [r.tolist() for r in mm.fill_runs(one)] == [[2, 7], [3, 1]]


def test_partially_missing_step_is_filled_from_its_past_only():
    x = _series(T=200, C=2)
    x[150, 0] = np.nan  # channel 1 of step 150 observed
    imp = mm.fit(x[:140], (0,), bidirectional=False, epochs=2, window=16, context=8)
    other = x.copy()
    other[150:, 1] += 3.0  # the step's observed channel and everything after it
    a, b = imp.fill(x)[0], imp.fill(other)[0]
    assert np.isfinite(a[150, 0]) and a[150, 0] == b[150, 0]
