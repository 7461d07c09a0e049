"""The synthetic waveform task (data/waveforms.py): shapes, seeds, balance, and what each class is."""

import numpy as np
import pytest

from spectral_manifolds.data.waveforms import CLASSES, class_waveforms, make_waveforms

SR = 16000
T = np.arange(SR) / SR


def test_shapes_dtypes_balance_and_seeding():
    a = make_waveforms(10, 6, seed=3)
    assert a.x_train.shape == (10, SR) and a.x_test.shape == (6, SR)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64
    assert sorted(np.bincount(a.y_train, minlength=4).tolist()) == [2, 2, 3, 3]
    assert np.bincount(a.y_test, minlength=4).tolist() == [2, 2, 1, 1]
    b = make_waveforms(10, 6, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = make_waveforms(10, 6, seed=4)
    assert not np.allclose(a.x_train, c.x_train)
    # the test split does not depend on the training split's size
    np.testing.assert_array_equal(make_waveforms(3, 6, seed=3).x_test, a.x_test)
    assert a.classes == CLASSES and len(CLASSES) == 4
    assert make_waveforms(2, 1, duration=0.5, sample_rate=8000).x_train.shape == (2, 4000)


def test_clean_classes_have_unit_rms_and_noise_follows_the_snr():
    rng = np.random.default_rng(0)
    for label in range(4):
        x = class_waveforms(label, 5, rng, T, SR)
        np.testing.assert_allclose(np.sqrt((x ** 2).mean(-1)), 1.0, rtol=1e-12)
    # the noisy data's power is 1 + 10^(-snr/10): with a fixed SNR it is known exactly in expectation
    d = make_waveforms(40, 1, seed=0, snr_db=(0.0, 0.0))
    np.testing.assert_allclose((d.x_train.astype(np.float64) ** 2).mean(), 2.0, rtol=0.01)


def _peak_track(x, n_fft=512, hop=512):
    frames = np.stack([x[i : i + n_fft] * np.hanning(n_fft) for i in range(0, len(x) - n_fft, hop)])
    return np.abs(np.fft.rfft(frames, axis=-1)).argmax(-1) * SR / n_fft  # Hz per frame


def test_chirps_rise_and_fall_over_the_same_band_and_stationary_classes_do_not_move():
    rng = np.random.default_rng(1)
    up, down, harm, vib = (class_waveforms(k, 6, rng, T, SR) for k in range(4))
    for x in up:
        f = _peak_track(x)
        assert 300 - 50 <= f[0] <= 800 + 50 and 2500 - 50 <= f[-1] <= 4000 + 50 and np.all(np.diff(f) > -40)
    for x in down:
        f = _peak_track(x)
        assert 2500 - 50 <= f[0] <= 4000 + 50 and 300 - 50 <= f[-1] <= 800 + 50 and np.all(np.diff(f) < 40)
    for x in harm:  # the fundamental (the strongest partial, amplitude 1) stays put
        f = _peak_track(x)
        assert 150 - 40 <= np.median(f) <= 400 + 40 and np.ptp(f) < 80
    for x in vib:  # an FM tone wanders within fc +- 200 Hz
        f = _peak_track(x)
        assert 800 - 250 <= f.min() and f.max() <= 3000 + 250 and 40 <= np.ptp(f) <= 2 * 200 + 80


def test_time_reversal_turns_an_up_chirp_into_a_down_chirp_of_the_same_band():
    # the same random stream gives both classes the same (f_lo, f_hi): reversed, their peak tracks agree
    up = class_waveforms(0, 3, np.random.default_rng(5), T, SR)
    down = class_waveforms(1, 3, np.random.default_rng(5), T, SR)
    for u, d in zip(up, down):
        np.testing.assert_allclose(_peak_track(u[::-1].copy()), _peak_track(d), atol=2 * SR / 512)


@pytest.mark.parametrize("kwargs", [dict(n_train=0), dict(n_test=-1), dict(seed=-1), dict(sample_rate=4000), dict(duration=0.0),
                                    dict(snr_db=(5.0, 0.0)), dict(snr_db=(0.0, np.nan))])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        make_waveforms(**{"n_train": 2, "n_test": 2, **kwargs})
    with pytest.raises(ValueError):
        class_waveforms(4, 1, np.random.default_rng(0), T, SR)
