"""Real univariate series shipped inside PyPI wheels (nothing is downloaded), and the
chronological split + scaler the imputation benchmark uses on them (issue 10, item 3).

1. :func:`load_co2` -- weekly atmospheric CO2 at Mauna Loa, from ``statsmodels.datasets.co2``
   (statsmodels' wheel; the series of Cleveland's STL paper): 2284 Saturdays from
   1958-03-29 to 2001-12-29, in ppmv (parts per million by volume). **59 weeks are
   missing, in 22 real gaps** of lengths 1-18 weeks (:data:`CO2_GAP_LENGTHS`): 19 gaps
   in 1958-1967 (the longest, 18 weeks, starts 1964-01-25), then single gaps starting
   1976-06-26 (1 week), 1984-03-31 (4 weeks) and 1985-08-03 (1 week). There is no truth
   under them: fill and plot them, never score them. Seasonal period 52.18 weeks.
2. :func:`load_sunspots` -- monthly mean relative sunspot number, from
   ``pmdarima.datasets.load_sunspots`` (pmdarima's wheel; R's ``datasets::sunspots``,
   Swiss Federal Observatory, Zurich, until 1960, then Tokyo Astronomical
   Observatory): 2820 months from 1749-01 to 1983-12, dimensionless (the Wolf number),
   no missing values. Its ~11-year cycle (about 132 months, varying from ~9 to ~14
   years) is quasi-periodic, not a fixed season.

:func:`chronological_split` cuts a series at a time step (no shuffling: the test part is
the future of the training part); :class:`Scaler` is fitted on the *observed training*
values only, so neither the test part nor the hidden entries leak into the scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "RealSeries",
    "CO2_GAP_LENGTHS",
    "load_co2",
    "load_sunspots",
    "gap_runs",
    "chronological_split",
    "Scaler",
]

#: The lengths (weeks) of CO2's 22 real gaps, in time order (59 missing weeks in all).
CO2_GAP_LENGTHS = (1, 5, 1, 8, 1, 1, 1, 1, 3, 1, 1, 1, 1, 18, 2, 1, 3, 1, 2, 1, 4, 1)


@dataclass(frozen=True)
class RealSeries:
    """One real series.

    Attributes:
        values: (T,) float64, NaN where the source has no value.
        time: (T,) ``numpy.datetime64`` time stamps ('D' for CO2, 'M' for sunspots).
        name: short name ('co2', 'sunspots').
        units: the values' units.
        period: the dominant seasonal or cyclic period, in steps.
        source: where the data come from (package and function).
    """

    values: np.ndarray
    time: np.ndarray
    name: str
    units: str
    period: float
    source: str

    @property
    def missing(self) -> np.ndarray:
        """(T,) bool, True where the source has no value."""
        return np.isnan(self.values)


def gap_runs(missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of True in a (T,) boolean array."""
    m = np.asarray(missing, dtype=bool).ravel().astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], m, [0]])))
    starts, ends = edges[::2], edges[1::2]
    return starts, ends - starts


def load_co2() -> RealSeries:
    """Weekly Mauna Loa CO2, ppmv, 2284 weeks (1958-03-29 to 2001-12-29), 59 real NaN.

    Source: ``statsmodels.datasets.co2.load_pandas()`` (in statsmodels' wheel).
    """
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data
    values = frame["co2"].to_numpy(dtype=np.float64).copy()
    time = frame.index.to_numpy().astype("datetime64[D]")
    return RealSeries(values, time, "co2", "ppmv", 365.25 / 7.0, "statsmodels.datasets.co2")


def load_sunspots() -> RealSeries:
    """Monthly mean sunspot number, 2820 months (1749-01 to 1983-12), no NaN.

    Source: ``pmdarima.datasets.load_sunspots()`` (in pmdarima's wheel).
    """
    from pmdarima.datasets import load_sunspots as _load

    values = np.asarray(_load(as_series=False), dtype=np.float64).copy()
    time = np.arange("1749-01", "1984-01", dtype="datetime64[M]")
    if time.size != values.size:  # pragma: no cover - guards a change of the wheel's data
        raise RuntimeError(f"sunspots: {values.size} values for {time.size} months")
    return RealSeries(values, time, "sunspots", "sunspot number (dimensionless)", 132.0, "pmdarima.datasets.load_sunspots")


def chronological_split(values: np.ndarray, train_fraction: float = 0.7) -> tuple[np.ndarray, np.ndarray, int]:
    """Split along time (axis 0) without shuffling.

    Args:
        values: (T,) or (T, C).
        train_fraction: the share of time steps in the training part, in (0, 1).

    Returns:
        ``(train, test, split)``: ``values[:split]``, ``values[split:]`` (copies) and the
        split index ``split = round(train_fraction * T)``, at least 1 and at most T - 1.
    """
    values = np.asarray(values)
    if not 0.0 < float(train_fraction) < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    n = values.shape[0]
    if n < 2:
        raise ValueError(f"a chronological split needs at least 2 time steps, got {n}")
    split = min(max(int(round(train_fraction * n)), 1), n - 1)
    return values[:split].copy(), values[split:].copy(), split


@dataclass(frozen=True)
class Scaler:
    """Per-channel standardisation ``(x - mean) / std`` fitted on observed values only.

    Attributes:
        mean, std: (C,) or scalar statistics of the observed (non-NaN) training values.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train: np.ndarray) -> "Scaler":
        """Fit on the observed entries of ``train`` ((T,) or (T, C)); NaN are ignored.

        Pass the *training* part of :func:`chronological_split`, with the benchmark's
        hidden entries set to NaN, so that nothing the imputer must not see is used.
        """
        x = np.asarray(train, dtype=np.float64)
        observed = np.sum(~np.isnan(x), axis=0)
        if np.any(observed < 2):
            raise ValueError("Scaler.fit needs at least 2 observed training values per channel")
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
        std = np.where(std > 0, std, 1.0)
        return cls(np.asarray(mean), np.asarray(std))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(x - mean) / std; NaN stay NaN."""
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """z * std + mean."""
        return np.asarray(z, dtype=np.float64) * self.std + self.mean
