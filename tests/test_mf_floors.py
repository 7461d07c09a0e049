"""Tests for chapter 4's classical floors (spectral_manifolds.experiments.mf_floors):
closed forms (exact sinusoids, an exact linear recurrence) and a known AR process."""

from __future__ import annotations

import numpy as np
import pytest

from spectral_manifolds.experiments import mf_floors as F

FREQS = np.array([0.03, 0.05, 0.11])  # cycles per step


def sinusoids(n: int, T: int, C: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(n, T, C): every channel a random combination of the three modes, random phases."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    out = np.zeros((n, T, C))
    for f in FREQS:
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        amp = rng.normal(size=(n, 1, C))
        out += amp * np.sin(2 * np.pi * f * t[None, :, None] + phase)
    return out + noise * rng.normal(size=out.shape)


def test_esprit_recovers_the_frequencies_with_and_without_noise():
    np.testing.assert_allclose(F.estimate_frequencies(sinusoids(8, 96, 3), 3), FREQS, atol=1e-6)
    np.testing.assert_allclose(F.estimate_frequencies(sinusoids(64, 96, 3, noise=0.1), 3), FREQS, atol=2e-3)


def test_esprit_resolves_modes_closer_than_one_sequences_periodogram():
    # 0.03 and 0.035 cycles/step are 0.5 bins apart for T = 100: a periodogram of one
    # sequence cannot separate them; pooled ESPRIT can
    t = np.arange(100)
    rng = np.random.default_rng(1)
    x = np.stack([np.sin(2 * np.pi * 0.03 * t + rng.uniform(0, 6)) + np.sin(2 * np.pi * 0.035 * t + rng.uniform(0, 6)) for _ in range(32)])[..., None]
    np.testing.assert_allclose(F.estimate_frequencies(x, 2), [0.03, 0.035], atol=1e-5)


def test_sinusoid_forecast_is_exact_on_noise_free_sinusoids():
    x = sinusoids(4, 120, 2)
    fc = F.sinusoid_forecast(x[:, :80], FREQS, 40)
    assert fc.shape == (4, 40, 2)
    np.testing.assert_allclose(fc, x[:, 80:], atol=1e-4)
    assert F.sinusoid_forecast(x[0, :80], FREQS, 5).shape == (5, 2)


def test_fit_ar_recovers_a_known_ar2_process():
    rng = np.random.default_rng(0)
    phi1, phi2, c = 1.2, -0.5, 0.3
    x = np.zeros(20_000)
    for t in range(2, x.size):
        x[t] = c + phi1 * x[t - 1] + phi2 * x[t - 2] + rng.normal()
    coef = F.fit_ar(x[:, None], 2)
    np.testing.assert_allclose(coef, [c, phi1, phi2], atol=0.03)


def test_ar_forecast_is_exact_for_the_recurrence_of_the_sinusoids():
    # a sum of K sinusoids obeys an exact linear recurrence of order 2K
    x = sinusoids(16, 100, 3)
    coef = F.fit_ar(x, 6)
    fc = F.ar_forecast(x[:, :70], coef, 30)
    np.testing.assert_allclose(fc, x[:, 70:], atol=1e-3)
    # and the recurrence's characteristic polynomial has the modes' roots
    ang = np.sort(np.abs(np.angle(np.roots(np.r_[1.0, -coef[1:]]))))[::2] / (2 * np.pi)
    np.testing.assert_allclose(ang, FREQS, atol=1e-5)


def test_ar_forecast_iterates_one_step_at_a_time():
    coef = np.array([0.5, 0.9])  # x_t = 0.5 + 0.9 x_{t-1}
    fc = F.ar_forecast(np.ones((1, 3, 1)), coef, 3)
    np.testing.assert_allclose(fc[0, :, 0], [1.4, 1.76, 2.084], rtol=1e-6)
    assert F.ar_forecast(np.ones((1, 3, 1)), coef, 0).shape == (1, 0, 1)


@pytest.mark.parametrize("call", [
    lambda: F.estimate_frequencies(np.zeros((2, 10, 1)), 0),
    lambda: F.estimate_frequencies(np.zeros((2, 10, 1)), 3, window=6),
    lambda: F.fit_ar(np.zeros((2, 10, 1)), 10),
    lambda: F.ar_forecast(np.zeros((1, 2, 1)), np.zeros(4), 3),
    lambda: F.sinusoid_forecast(np.zeros(5), FREQS, 3),
])
def test_bad_inputs_raise(call):
    with pytest.raises(ValueError):
        call()
