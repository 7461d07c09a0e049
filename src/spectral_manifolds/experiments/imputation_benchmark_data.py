"""The imputation benchmark's series (issue 10, item 3): two real ones and the book's two
synthetic tasks, each as a training part, a test part and the truth to score against.

* ``co2``, ``sunspots`` (:mod:`spectral_manifolds.data.real_series`): split
  chronologically (``train_fraction``); the truth is the observed test part itself
  (CO2's real gaps stay NaN there and are never masked or scored).
* ``normal_modes`` (:func:`spectral_manifolds.data.oscillators.normal_modes`, the book's
  chapter 4 task): one long trajectory of its 3 modes mixed into 8 channels, with the
  frequencies scaled so that every mode turns by the same angle per step as in the
  128-step version (periods 64, 42.7 and 25.6 steps); the training part is the
  trajectory of data seed 0, the test part a **held-out** trajectory (data seed 1000:
  new phases and noise, the same mixing matrix). The truth is the *clean* test signal.
* ``oscillator`` (:func:`spectral_manifolds.data.oscillators.seed_task`, the seeds'
  task): one long sample (3 of the frequencies {1, 2, 3, 5, 8} on the seeds' grid
  dt = 4 pi / 255, 16 phase-shifted channels, noise 0.1); training data seed 0, test
  data seed 1000 (a held-out draw: its frequencies may differ). Truth: the clean signal.

Every loader returns a :class:`BenchmarkSeries`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.data import oscillators, real_series

__all__ = ["BenchmarkSeries", "SERIES", "PERIODS", "load", "TEST_SEED"]

SERIES = ("co2", "sunspots", "normal_modes", "oscillator")
#: Period in steps a periodic method uses: CO2 weekly (365.25 / 7), sunspots monthly
#: (~11 y), the synthetic tasks' common fundamental (128 steps; 2 pi / dt = 127.5).
PERIODS = {"co2": 52.18, "sunspots": 132.0, "normal_modes": 128.0, "oscillator": 127.5}
TEST_SEED = 1000


@dataclass(frozen=True)
class BenchmarkSeries:
    """One benchmark series.

    Attributes:
        name: from :data:`SERIES`; units: of the values.
        train: (T1,) or (T1, C) observed training values (NaN = missing).
        test: (T2,) or (T2, C) observed test values (the masks hide entries of it).
        truth: test's shape: what a fill is scored against (the clean signal for the
            synthetic tasks, ``test`` itself for the real ones).
    """

    name: str
    units: str
    train: np.ndarray
    test: np.ndarray
    truth: np.ndarray

    @property
    def n_channels(self) -> int:
        return 1 if self.test.ndim == 1 else int(self.test.shape[1])


def _long(kind: str, steps: int, seed: int):
    if kind == "normal_modes":
        scale = steps / 128.0
        cfg = oscillators.NormalModesConfig(seq_len=steps + 1, freqs=tuple(f * scale * (steps + 1) / steps for f in (2.0, 3.0, 5.0)), n_samples=1, seed=seed)
        d = oscillators.normal_modes(cfg)
    else:
        cfg = oscillators.SeedTaskConfig(seq_len=steps + 1, t_max=4 * math.pi * steps / 255, n_samples=1, batch=1, seed=seed)
        d = oscillators.seed_task(cfg)
    return d.x[0].astype(np.float64), d.y_recon[0].astype(np.float64)


def load(name: str, *, train_fraction: float = 0.7, synthetic_steps: tuple[int, int] = (1024, 512)) -> BenchmarkSeries:
    """The series ``name`` (see the module docstring).

    Args:
        train_fraction: the real series' chronological split, in (0, 1).
        synthetic_steps: (training, test) trajectory lengths of the synthetic tasks.
    """
    validate.choice("series", name, SERIES)
    if name in ("co2", "sunspots"):
        raw = real_series.load_co2() if name == "co2" else real_series.load_sunspots()
        train, test, _ = real_series.chronological_split(raw.values, train_fraction)
        return BenchmarkSeries(name, raw.units, train, test, test.copy())
    for v in synthetic_steps:
        validate.positive_int("synthetic_steps", v)
    train, _ = _long(name, int(synthetic_steps[0]), 0)
    test, clean = _long(name, int(synthetic_steps[1]), TEST_SEED)
    return BenchmarkSeries(name, "signal units", train, test, clean)
