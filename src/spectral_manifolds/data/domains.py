"""Real data sets for chapter 15 ("Domains"), all shipped inside PyPI wheels (nothing downloads).

Issue 8, Part III, "Chapters" item 6: images (scikit-learn's digits as patch tokens),
speech-like cepstra (aeon's JapaneseVowels), motion (aeon's BasicMotions), and three
series to forecast (pmdarima's sunspots, statsmodels' CO2, aeon's Airline). Every
classification loader returns ``(X_train, y_train, X_test, y_test)``: ``X`` real float32
arrays of shape ``(N, tokens, features)`` and ``y`` int64 labels ``0..K-1``, which is what
:func:`spectral_manifolds.cvkan.train.train_classifier` takes.

1. :func:`load_digits_tokens` -- 1,797 grey 8x8 images of handwritten digits (UCI, in
   scikit-learn's wheel), pixels 0..16 scaled to [0, 1]. Each image is cut into
   non-overlapping ``patch x patch`` squares read row by row: ``patch = 2`` gives 16 tokens
   of 4 pixels. A fixed stratified split (``seed = 0``): 1,347 training, 450 test images.
2. :func:`load_japanese_vowels` -- 640 utterances of /ae/ by nine male speakers (aeon's
   own split: 270 training, 370 test), 12 LPC cepstrum coefficients per frame, 7 to 29
   frames long. Each utterance is **resampled** to ``length`` frames by linear
   interpolation on a normalized time axis [0, 1] (not padded: a zero-padded tail would
   enter every token average), then each channel is standardized with the training mean
   and std.
3. :func:`load_basic_motions` -- 80 recordings (aeon's split: 40 + 40, 10 per class) of a
   smart watch's 3-axis accelerometer and 3-axis gyroscope, 100 steps at 10 Hz, four
   activities (badminton, running, standing, walking); ``(N, 100, 6)``, channels
   standardized with training statistics.
4. :func:`load_series` -- ``'sunspots'`` (monthly, 2,820 steps, cycle ~132 months),
   ``'co2'`` (weekly, 2,284 steps, season 52; its 59 missing weeks are filled by linear
   interpolation in time, because a forecaster's windows cannot hold NaN), ``'airline'``
   (monthly international airline passengers 1949-1960, in thousands, 144 steps, season 12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectral_manifolds import validate

__all__ = ["load_digits_tokens", "load_japanese_vowels", "load_basic_motions", "resample", "standardize",
           "Series", "SERIES", "load_series", "flatten", "summary_features"]

DIGITS_TEST_FRACTION = 0.25
SERIES = ("sunspots", "co2", "airline")


def load_digits_tokens(patch: int = 2, *, seed: int = 0, test_fraction: float = DIGITS_TEST_FRACTION):
    """scikit-learn's digits as patch tokens.

    Args:
        patch: side of the square patches, a divisor of 8 (1, 2, 4 or 8): ``(8 / patch)^2``
            tokens of ``patch^2`` pixels each, tokens in reading order (row of patches by row),
            pixels inside a patch in reading order too.
        seed: the stratified split's seed (fixed at 0 by default, so every caller gets the
            same split).
        test_fraction: share of the images held out, in (0, 1).

    Returns:
        ``(X_train, y_train, X_test, y_test)``: X float32 ``(N, (8/patch)^2, patch^2)`` in
        [0, 1], y int64 ``(N,)`` in 0..9; with the defaults N = 1,347 and 450.
    """
    if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or patch not in (1, 2, 4, 8):
        raise ValueError(f"patch must be a divisor of 8 (1, 2, 4 or 8), got {patch!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)  # (1797, 8, 8)
    g = 8 // patch
    tokens = images.reshape(-1, g, patch, g, patch).transpose(0, 1, 3, 2, 4).reshape(-1, g * g, patch * patch)
    y = data.target.astype(np.int64)
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=y)
    idx_tr, idx_te = np.sort(idx_tr), np.sort(idx_te)
    return np.ascontiguousarray(tokens[idx_tr]), y[idx_tr], np.ascontiguousarray(tokens[idx_te]), y[idx_te]


def resample(series: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of a ``(C, T)`` series onto ``length`` equally spaced times of [0, 1].

    Returns ``(length, C)`` float64 (time first). ``T = 1`` repeats the only frame.
    """
    validate.positive_int("length", length)
    s = np.asarray(series, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 1:
        raise ValueError(f"series must have shape (C, T) with T >= 1, got {s.shape}")
    if s.shape[1] == 1:
        return np.repeat(s.T, length, axis=0)
    t_old, t_new = np.linspace(0.0, 1.0, s.shape[1]), np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(t_new, t_old, c) for c in s], axis=1)


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (last axis) z-scores with the training mean and std over samples and steps.

    ``train: (N, T, C)``, ``test: (M, T', C)`` -> float32 arrays of the same shapes."""
    mean = train.mean(axis=(0, 1))
    std = train.std(axis=(0, 1))
    std = np.where(std > 0, std, 1.0)
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def _labels(y_train, y_test) -> tuple[np.ndarray, np.ndarray]:
    """String class labels -> int64 0..K-1 in sorted order of the training classes."""
    classes = np.unique(y_train)
    if not set(np.unique(y_test)) <= set(classes):
        raise ValueError("test labels hold a class absent from training")
    return np.searchsorted(classes, y_train).astype(np.int64), np.searchsorted(classes, y_test).astype(np.int64)


def load_japanese_vowels(length: int = 16):
    """aeon's JapaneseVowels, each utterance resampled to ``length`` frames (module docstring).

    Returns:
        ``(X_train, y_train, X_test, y_test)``: X float32 ``(N, length, 12)`` standardized
        per channel with training statistics; y int64 speaker 0..8; N = 270 and 370.
    """
    validate.positive_int("length", length)
    from aeon.datasets import load_japanese_vowels as _load

    x_tr, y_tr = _load(split="train")
    x_te, y_te = _load(split="test")
    a = np.stack([resample(x, length) for x in x_tr])
    b = np.stack([resample(x, length) for x in x_te])
    a, b = standardize(a, b)
    ytr, yte = _labels(y_tr, y_te)
    return a, ytr, b, yte


def load_basic_motions():
    """aeon's BasicMotions: ``(X_train, y_train, X_test, y_test)``, X float32 ``(40, 100, 6)``
    standardized per channel with training statistics, y int64 0..3 (badminton, running,
    standing, walking)."""
    from aeon.datasets import load_basic_motions as _load

    x_tr, y_tr = _load(split="train")
    x_te, y_te = _load(split="test")
    a, b = standardize(np.transpose(x_tr, (0, 2, 1)).astype(np.float64), np.transpose(x_te, (0, 2, 1)).astype(np.float64))
    ytr, yte = _labels(y_tr, y_te)
    return a, ytr, b, yte


def flatten(x: np.ndarray) -> np.ndarray:
    """``(N, T, C) -> (N, T * C)``: the input of the logistic baseline on the raw values."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"expected (N, T, C), got shape {x.shape}")
    return x.reshape(len(x), -1)


def summary_features(x: np.ndarray) -> np.ndarray:
    """Per-channel summaries of ``(N, T, C)``: mean, std, min, max and least-squares slope over
    time -> ``(N, 5 C)`` (the classical time-series baseline's features)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"expected (N, T, C) with T >= 2, got shape {x.shape}")
    t = np.arange(x.shape[1]) - (x.shape[1] - 1) / 2.0
    slope = np.einsum("t,ntc->nc", t, x) / np.sum(t * t)
    return np.concatenate([x.mean(1), x.std(1), x.min(1), x.max(1), slope], axis=1)


@dataclass(frozen=True)
class Series:
    """One series to forecast: ``values`` (T,) float64 with no NaN, ``season`` (steps) for the
    seasonal-naive baseline, ``units``, ``step`` ('month' or 'week'), ``source`` and how many
    values were filled (``n_filled``)."""

    name: str
    values: np.ndarray
    season: int
    units: str
    step: str
    source: str
    n_filled: int = 0


def load_series(name: str) -> Series:
    """``'sunspots'``, ``'co2'`` (59 gaps filled linearly) or ``'airline'`` as a :class:`Series`."""
    validate.choice("name", name, SERIES)
    from spectral_manifolds.data import real_series

    if name == "sunspots":
        s = real_series.load_sunspots()
        return Series(name, s.values.copy(), 132, s.units, "month", s.source)
    if name == "co2":
        s = real_series.load_co2()
        v = s.values.copy()
        miss = np.isnan(v)
        idx = np.arange(len(v))
        v[miss] = np.interp(idx[miss], idx[~miss], v[~miss])
        return Series(name, v, 52, s.units, "week", s.source + " (gaps filled linearly)", int(miss.sum()))
    from aeon.datasets import load_airline

    v = np.asarray(load_airline(), dtype=np.float64).ravel()
    return Series(name, v, 12, "thousands of passengers", "month", "aeon.datasets.load_airline")
