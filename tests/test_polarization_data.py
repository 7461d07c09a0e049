"""Tests for spectral_manifolds.data.polarization: seed 003's signal/noise task (issue 8)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectral_manifolds.data.polarization import logistic_on_mean, make_magnitude_polarization, make_polarization, mean_features

QUICK = dict(n_train=1000, n_test=1000)


@pytest.fixture(scope="module")
def data():
    return make_polarization(**QUICK, seed=3)


@pytest.fixture(scope="module")
def rotated():
    return make_polarization(**QUICK, seed=3, common_phase=True)


def test_shapes_dtypes_and_balance(data):
    assert data.z_train.shape == (1000, 16, 32) and data.z_test.shape == (1000, 16, 32)
    assert data.z_train.dtype == np.complex64 and data.y_train.dtype == np.int64
    assert data.signal_train.shape == (1000, 16) and data.signal_train.dtype == bool
    assert data.y_train.sum() == 500 and data.y_test.sum() == 500  # exactly balanced
    assert 0 < data.y_train[:100].sum() < 100  # shuffled, not sorted by class


def test_default_size_is_the_seeds_2500_plus_2500():
    d = make_polarization(n_test=2, d=2)
    assert len(d.y_train) == 5000 and d.y_train.sum() == 2500


def test_unit_magnitudes(data):
    for z in (data.z_train, data.z_test):
        np.testing.assert_allclose(np.abs(z), 1.0, atol=1e-6)


def test_exactly_n_signal_tokens_in_positives_none_in_negatives(data):
    for y, m in ((data.y_train, data.signal_train), (data.y_test, data.signal_test)):
        counts = m.sum(axis=1)
        assert np.all(counts[y == 1] == 4) and np.all(counts[y == 0] == 0)
        # positions are random per sample: every position is used, none always
        used = m[y == 1].mean(axis=0)
        assert np.all(used > 0.1) and np.all(used < 0.5)  # expectation 4/16 = 0.25


def test_noise_phases_are_uniform(data):
    """Circular statistics: for M uniform phases, M |mean e^{i phi}|^2 is ~ Exp(1) (Rayleigh),
    so |mean e^{ik phi}| < sqrt(10 / M) fails with probability ~ e^-10 for each k."""
    noise = data.z_train[~data.signal_train].ravel()  # negatives' and positives' noise tokens
    m = noise.size
    for k in (1, 2, 3):
        assert abs(np.mean(noise.astype(np.complex128) ** k)) < np.sqrt(10.0 / m)


def test_signal_phases_follow_the_normal_law(data):
    """E e^{i phi} = exp(-sigma^2 / 2) for phi ~ N(0, sigma): the first circular moment."""
    sig = data.z_train[data.signal_train].ravel().astype(np.complex128)
    r = np.mean(sig)
    assert abs(abs(r) - np.exp(-0.5**2 / 2)) < 5.0 / np.sqrt(sig.size)
    assert abs(np.angle(r)) < 0.01
    assert np.std(np.angle(sig)) == pytest.approx(0.5, rel=0.02)


def test_sigma_zero_gives_phase_zero_signal_tokens():
    d = make_polarization(20, 2, sigma=0.0, d=3)
    np.testing.assert_allclose(d.z_train[d.signal_train], 1.0, atol=1e-7)


def test_deterministic_per_seed_and_different_across_seeds(data):
    again = make_polarization(**QUICK, seed=3)
    for a, b in ((data.z_train, again.z_train), (data.y_train, again.y_train), (data.z_test, again.z_test)):
        np.testing.assert_array_equal(a, b)
    other = make_polarization(**QUICK, seed=4)
    assert not np.array_equal(data.y_train, other.y_train)
    assert np.abs(data.z_train - other.z_train).max() > 1.0
    assert np.abs(data.z_train[:10] - data.z_test[:10]).max() > 1.0  # train and test differ


def test_common_phase_rotates_each_sample_rigidly(data, rotated):
    """Same seed with and without the option: z_rot = e^{i theta_b} z, one theta per sample."""
    ratio = rotated.z_train.astype(np.complex128) / data.z_train
    np.testing.assert_allclose(np.abs(ratio), 1.0, atol=1e-5)
    spread = np.abs(ratio - ratio[:, :1, :1])
    assert spread.max() < 1e-4  # constant over tokens and channels
    assert np.std(np.angle(ratio[:, 0, 0])) > 1.0  # and a different angle per sample
    np.testing.assert_array_equal(data.y_train, rotated.y_train)


def test_common_phase_keeps_abs_mean_and_changes_re_im(data, rotated):
    np.testing.assert_allclose(mean_features(rotated.z_train, "abs"), mean_features(data.z_train, "abs"), atol=1e-6)
    assert np.abs(mean_features(rotated.z_train, "reim") - mean_features(data.z_train, "reim")).max() > 0.1


def test_logistic_parameter_counts_match_the_issue(data):
    fit = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features="reim")
    assert fit.n_params == 65 and fit.weight.shape == (64,)  # issue 8: "65-parameter"
    assert logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features="abs").n_params == 33


def test_logistic_on_re_im_of_mean_is_near_perfect(data):
    """Issue 8: the 65-parameter logistic on mean(Z) scores 100 %; bound at the quick size: >= 0.97."""
    fit = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features="reim")
    assert fit.accuracy >= 0.97 and fit.train_accuracy >= 0.97


def test_common_phase_defeats_re_im_logistic_but_not_abs(data, rotated):
    """The rotation averages Re/Im of the mean to zero per class: the linear (Re, Im) logistic
    drops to chance; |mean Z| is unchanged, so its logistic scores exactly as before."""
    reim = logistic_on_mean(rotated.z_train, rotated.y_train, rotated.z_test, rotated.y_test, features="reim")
    assert reim.accuracy <= 0.6
    a0 = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features="abs")
    a1 = logistic_on_mean(rotated.z_train, rotated.y_train, rotated.z_test, rotated.y_test, features="abs")
    assert a1.accuracy == pytest.approx(a0.accuracy, abs=0.002)
    assert a1.accuracy >= 0.85 and a1.accuracy > reim.accuracy + 0.2


def test_torch_backend():
    d = make_polarization(8, 4, d=2, backend="torch")
    assert isinstance(d.z_train, torch.Tensor) and d.z_train.dtype == torch.complex64
    assert d.y_test.dtype == torch.int64 and d.signal_train.dtype == torch.bool
    assert logistic_on_mean(d.z_train, d.y_train, d.z_test, d.y_test).n_params == 5


@pytest.mark.parametrize(
    "kwargs",
    [dict(n_train=0), dict(n_signal=0), dict(n_signal=17), dict(sigma=-0.1), dict(sigma=float("nan")), dict(seed=-1), dict(backend="jax"), dict(d=2.5)],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        make_polarization(**{"n_train": 4, "n_test": 2, **kwargs})


def test_bad_features_and_labels_raise(data):
    with pytest.raises(ValueError, match="features"):
        mean_features(data.z_train, "phase")
    with pytest.raises(ValueError, match="complex"):
        mean_features(np.abs(data.z_train))
    with pytest.raises(ValueError, match="labels"):
        logistic_on_mean(data.z_train, data.y_train + 1, data.z_test, data.y_test)


# --------------------------------------------------------------------------- the magnitude variant
@pytest.fixture(scope="module")
def magnitude():
    return make_magnitude_polarization(**QUICK, seed=3)


def test_magnitude_variant_keeps_labels_positions_shapes(data, magnitude):
    for a, b in ((data.y_train, magnitude.y_train), (data.y_test, magnitude.y_test),
                 (data.signal_train, magnitude.signal_train), (data.signal_test, magnitude.signal_test)):
        np.testing.assert_array_equal(a, b)
    assert magnitude.z_train.shape == (1000, 16, 32) and magnitude.z_test.shape == (1000, 16, 32)
    assert magnitude.z_train.dtype == np.complex64
    assert magnitude.config["log_gain"] == 1.0 and magnitude.config["log_sd"] == 0.5 and magnitude.config["seed"] == 3
    assert np.abs(np.abs(magnitude.z_train) - 1.0).max() > 0.5  # not unit magnitudes any more


def test_magnitude_variant_log_magnitudes_follow_their_law(magnitude):
    log_r = np.log(np.abs(magnitude.z_train.astype(np.complex128)))
    sig = magnitude.signal_train
    assert log_r[sig].mean() == pytest.approx(1.0, abs=0.02) and log_r[~sig].mean() == pytest.approx(0.0, abs=0.01)
    assert log_r[sig].std() == pytest.approx(0.5, rel=0.03) and log_r[~sig].std() == pytest.approx(0.5, rel=0.02)


def test_magnitude_variant_label_is_recoverable_from_the_magnitudes(magnitude):
    """Mean log|z| per sample: ``log_gain * 4 / 16 = 0.25`` for a positive, 0 for a negative, with a
    standard deviation of ``0.5 / sqrt(16 * 32) ~ 0.022``: a threshold at 0.125 classifies every sample."""
    for z, y in ((magnitude.z_train, magnitude.y_train), (magnitude.z_test, magnitude.y_test)):
        score = np.log(np.abs(z.astype(np.complex128))).mean(axis=(1, 2))
        assert np.mean((score > 0.125) == (y == 1)) >= 0.999


def test_magnitude_variant_phases_are_uniform_in_each_class_and_carry_no_label(magnitude):
    """Rayleigh bound as for the noise phases, per class and on the signal tokens themselves; the
    (Re, Im) logistic on mean(Z), 100 % on the seed's task, is at chance here."""
    z = magnitude.z_train.astype(np.complex128)
    u = z / np.abs(z)
    for sel in (magnitude.y_train == 0, magnitude.y_train == 1):
        for k in (1, 2):
            assert abs(np.mean(u[sel] ** k)) < np.sqrt(10.0 / u[sel].size)
    sig = u[magnitude.signal_train]
    assert abs(np.mean(sig)) < np.sqrt(10.0 / sig.size)
    reim = logistic_on_mean(magnitude.z_train / np.abs(magnitude.z_train), magnitude.y_train,
                            magnitude.z_test / np.abs(magnitude.z_test), magnitude.y_test, features="reim")
    assert reim.accuracy <= 0.6


def test_magnitude_variant_phases_do_not_depend_on_the_gain(magnitude):
    """The phases are the same draws whatever ``log_gain``: at ``log_gain = 0`` the data holds no label
    at all, and only the magnitudes of the signal tokens change with the gain."""
    flat = make_magnitude_polarization(**QUICK, seed=3, log_gain=0.0)
    np.testing.assert_allclose(np.exp(1j * np.angle(flat.z_train)), np.exp(1j * np.angle(magnitude.z_train)), atol=1e-5)
    ratio = np.abs(magnitude.z_train.astype(np.complex128)) / np.abs(flat.z_train)
    np.testing.assert_allclose(ratio[magnitude.signal_train], np.e, rtol=1e-5)
    np.testing.assert_allclose(ratio[~magnitude.signal_train], 1.0, rtol=1e-5)


def test_magnitude_variant_deterministic_per_seed_and_torch_backend(magnitude):
    again = make_magnitude_polarization(**QUICK, seed=3)
    np.testing.assert_array_equal(again.z_train, magnitude.z_train)
    np.testing.assert_array_equal(again.z_test, magnitude.z_test)
    assert np.abs(make_magnitude_polarization(**QUICK, seed=4).z_train - magnitude.z_train).max() > 1.0
    t = make_magnitude_polarization(8, 4, d=2, backend="torch")
    assert isinstance(t.z_train, torch.Tensor) and t.z_train.dtype == torch.complex64 and t.signal_test.dtype == torch.bool


@pytest.mark.parametrize(
    "kwargs",
    [dict(log_sd=-0.1), dict(log_sd=float("nan")), dict(log_gain=float("inf")), dict(n_signal=17), dict(seed=-1), dict(backend="jax")],
)
def test_magnitude_variant_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        make_magnitude_polarization(**{"n_train": 4, "n_test": 2, **kwargs})
