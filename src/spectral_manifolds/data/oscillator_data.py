"""The container of the synthetic oscillator data sets and its mini-batch iterator.

Split out of :mod:`spectral_manifolds.data.oscillators` (which re-exports both names):
:class:`OscillatorData` is what both of its generators return, and :func:`batches`
iterates over one in mini-batches, independent of which generator made it.

The conventions are those of the seeds' synthetic task (seeds 000_bd4cbe8700a1031d.txt
and 001_a78d46c299591382.txt, as DESIGN.md, "The seeds' experimental setup", records
it): input ``x = noisy[:-1]``, prediction target ``y_next = clean[1:]``, reconstruction
target ``y_recon = clean[:-1]`` (``T - 1`` steps), and a unit-norm oracle latent
trajectory on the same ``T - 1`` steps; "the same 640 samples every epoch" is
:func:`batches` without ``shuffle``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator

import numpy as np

from spectral_manifolds import validate

__all__ = ["OscillatorData", "batches"]


# --------------------------------------------------------------------------- container
@dataclass(frozen=True)
class OscillatorData:
    """One synthetic data set; every array float32 except where noted.

    Attributes:
        x: (N, T-1, C) noisy input, ``noisy[:, :-1]``.
        y_next: (N, T-1, C) clean next step, ``clean[:, 1:]`` (prediction target).
        y_recon: (N, T-1, C) clean current step, ``clean[:, :-1]`` (reconstruction target).
        oracle: (N, T-1, latent_dim) unit-norm oracle latent trajectory for ``x``'s steps.
        freqs: (N, K) the frequencies of each sample's modes (seed task: radians per unit
            of ``t``; normal modes: cycles per sequence of length ``T``).
        phases: (N, K) each mode's initial phase in radians (zeros for the seed task).
        t: (T,) the time grid of the full clean sequence.
    """

    x: np.ndarray
    y_next: np.ndarray
    y_recon: np.ndarray
    oracle: np.ndarray
    freqs: np.ndarray
    phases: np.ndarray
    t: np.ndarray

    @property
    def n_samples(self) -> int:
        """N, the number of sequences."""
        return int(self.x.shape[0])

    @property
    def seq_len(self) -> int:
        """T - 1, the number of input steps."""
        return int(self.x.shape[1])

    @property
    def n_channels(self) -> int:
        """C, the number of channels."""
        return int(self.x.shape[2])

    def subset(self, index) -> "OscillatorData":
        """The samples ``index`` (an int array, slice or boolean mask); ``t`` is shared."""
        kw = {f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "t"}
        return OscillatorData(t=self.t, **kw)


# --------------------------------------------------------------------------- batches
def batches(
    data: OscillatorData, batch_size: int, *, shuffle: bool = False, seed: int = 0, drop_last: bool = True
) -> Iterator[OscillatorData]:
    """Iterate over ``data`` in mini-batches of ``batch_size`` samples.

    Args:
        data: the data set (N samples).
        batch_size: samples per batch, ``1 <= batch_size <= N``.
        shuffle: permute the samples first with ``default_rng(seed)``; otherwise keep
            their order (the seeds' "same 640 samples every epoch" in the same order).
        drop_last: drop a last, smaller batch (fixed shapes keep one jit compile).

    Yields:
        :class:`OscillatorData` of ``batch_size`` samples (the last may be smaller when
        ``drop_last=False``).
    """
    validate.positive_int("batch_size", batch_size)
    n = data.n_samples
    if batch_size > n:
        raise ValueError(f"batch_size ({batch_size}) exceeds the number of samples ({n})")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield data.subset(order[start : start + batch_size])
