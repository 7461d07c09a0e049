"""A seeded synthetic waveform classification task: 1 s at 16 kHz, four classes a spectrogram tells apart.

Seed 003_65b12435998d9bd4.txt, "2026-01-22 Audio Training Performance Optimization", trains
on Speech Commands (waveforms read from disk, STFT on every forward pass); that data set is
not shipped in any package, so Part III's chapter 17 (issue 8, "Chapters", item 7) uses this
generated stand-in. Every sample is ``sample_rate * duration`` real samples (16,000 by
default), unit RMS before noise, one of :data:`CLASSES`:

* ``0 "up-chirp"``: a linear chirp from ``f_lo ~ U(300, 800)`` Hz to ``f_hi ~ U(2500, 4000)`` Hz,
  phase ``2 pi (f_lo t + (f_hi - f_lo) t^2 / (2 T)) + phi0``;
* ``1 "down-chirp"``: the same with ``f_lo`` and ``f_hi`` swapped (it falls). Up- and down-chirps
  draw their frequencies from the same ranges, so their time-averaged spectra have the same
  distribution: only the *order* of the frames tells them apart;
* ``2 "harmonic"``: a stationary harmonic stack, ``f0 ~ U(150, 400)`` Hz, partials
  ``k = 1..8`` below ``0.45 sample_rate`` with amplitudes ``1/k`` and uniform phases;
* ``3 "vibrato"``: an FM tone, carrier ``fc ~ U(800, 3000)`` Hz, deviation ``U(50, 200)`` Hz,
  rate ``U(3, 8)`` Hz: phase ``2 pi fc t + (dev / rate) sin(2 pi rate t + psi) + phi0``.

Then white Gaussian noise at a signal-to-noise ratio ``snr_db ~ U(lo, hi)`` dB per sample
(noise std ``10^(-snr/20)``, the signal having RMS 1). Labels are balanced (``n // 4`` per class,
the remainder to the first classes) and shuffled. Train and test draw from
``numpy.random.default_rng([seed, split])`` (split 0 train, 1 test), so a seed fixes the data
exactly and the two splits are independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectral_manifolds import validate

__all__ = ["CLASSES", "WaveformData", "make_waveforms", "class_waveforms"]

CLASSES = ("up-chirp", "down-chirp", "harmonic", "vibrato")
N_HARMONICS = 8


@dataclass(frozen=True)
class WaveformData:
    """One draw of the task.

    Attributes:
        x_train: (n_train, L) float32 waveforms, ``L = round(sample_rate * duration)``.
        y_train: (n_train,) int64 labels, indices into :data:`CLASSES`.
        x_test: (n_test, L) float32.
        y_test: (n_test,) int64.
        sample_rate: samples per second.
        config: the arguments the data was made with.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sample_rate: int
    config: dict

    @property
    def classes(self) -> tuple:
        return CLASSES


def _unit_rms(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True))


def class_waveforms(label: int, n: int, rng: np.random.Generator, t: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(n, L)`` clean, unit-RMS float64 waveforms of class ``label`` at times ``t: (L,)`` seconds.

    The class definitions are the module docstring's; ``rng`` supplies every random parameter.
    """
    validate.choice("label", label, tuple(range(len(CLASSES))))
    u = lambda lo, hi: rng.uniform(lo, hi, size=(n, 1))
    phi0 = u(0.0, 2 * np.pi)
    duration = len(t) / sample_rate
    if label in (0, 1):
        f_lo, f_hi = u(300.0, 800.0), u(2500.0, 4000.0)
        start, end = (f_lo, f_hi) if label == 0 else (f_hi, f_lo)
        x = np.sin(2 * np.pi * (start * t + (end - start) * t ** 2 / (2 * duration)) + phi0)
    elif label == 2:
        f0 = u(150.0, 400.0)
        x = np.zeros((n, len(t)))
        for k in range(1, N_HARMONICS + 1):
            keep = (k * f0 < 0.45 * sample_rate).astype(float)
            x += keep / k * np.sin(2 * np.pi * k * f0 * t + u(0.0, 2 * np.pi))
    else:
        fc, dev, rate, psi = u(800.0, 3000.0), u(50.0, 200.0), u(3.0, 8.0), u(0.0, 2 * np.pi)
        x = np.sin(2 * np.pi * fc * t + dev / rate * np.sin(2 * np.pi * rate * t + psi) + phi0)
    return _unit_rms(x)


def _split(rng: np.random.Generator, n: int, t: np.ndarray, sample_rate: int, snr_db: tuple) -> tuple[np.ndarray, np.ndarray]:
    k = len(CLASSES)
    y = rng.permutation(np.arange(n) % k)
    x = np.empty((n, len(t)), dtype=np.float32)
    for label in range(k):
        idx = np.flatnonzero(y == label)
        if idx.size:
            x[idx] = class_waveforms(label, idx.size, rng, t, sample_rate)
    snr = rng.uniform(snr_db[0], snr_db[1], size=(n, 1))
    x += (10.0 ** (-snr / 20.0) * rng.standard_normal(x.shape)).astype(np.float32)
    return x, y.astype(np.int64)


def make_waveforms(n_train: int = 4000, n_test: int = 1000, *, seed: int = 0, sample_rate: int = 16000, duration: float = 1.0, snr_db: tuple = (-10.0, 5.0)) -> WaveformData:
    """The waveform task (module docstring): balanced, shuffled train and test splits.

    Args:
        n_train, n_test: samples per split (>= 1 each).
        seed: train draws from ``default_rng([seed, 0])``, test from ``default_rng([seed, 1])``.
        sample_rate: Hz (the highest partial stays below ``0.45 sample_rate``; >= 8000 keeps the
            chirps' 4 kHz below Nyquist).
        duration: seconds per sample.
        snr_db: ``(lo, hi)``, per-sample SNR drawn uniformly in dB.

    Returns:
        :class:`WaveformData` with float32 waveforms ``(n, L)`` and int64 labels ``(n,)``.
    """
    validate.positive_int("n_train", n_train)
    validate.positive_int("n_test", n_test)
    validate.positive_int("sample_rate", sample_rate)
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be >= 8000 Hz (the chirps reach 4 kHz), got {sample_rate}")
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not (np.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if len(snr_db) != 2 or not np.all(np.isfinite(snr_db)) or snr_db[0] > snr_db[1]:
        raise ValueError(f"snr_db must be a finite (lo, hi) with lo <= hi, got {snr_db!r}")
    length = int(round(sample_rate * duration))
    t = np.arange(length) / sample_rate
    out = [_split(np.random.default_rng([int(seed), split]), n, t, sample_rate, tuple(snr_db)) for split, n in ((0, n_train), (1, n_test))]
    config = dict(n_train=n_train, n_test=n_test, seed=int(seed), sample_rate=sample_rate, duration=duration, snr_db=tuple(snr_db))
    return WaveformData(out[0][0], out[0][1], out[1][0], out[1][1], sample_rate, config)
