"""Synthetic oscillator data: the seeds' task and the book's normal-mode imputation set.

Two documented, fully seeded generators (numpy, float32). The container they return,
:class:`OscillatorData`, and :func:`batches`, which iterates over either in mini-batches,
live in :mod:`spectral_manifolds.data.oscillator_data`; the gap masks used for imputation
(:func:`gap_mask`, :func:`random_gaps`, :func:`linear_fill`) live in
:mod:`spectral_manifolds.data.gaps`. Every name of both is re-exported here.

1. :func:`seed_task` -- the synthetic task of seeds 000_bd4cbe8700a1031d.txt and
   001_a78d46c299591382.txt exactly as DESIGN.md, "The seeds' experimental setup",
   records it from the public code they came from:

   * ``t = linspace(0, 4 pi, 256)``;
   * per sample, 3 distinct frequencies ``f_k`` drawn from ``{1, 2, 3, 5, 8}`` (in
     radians per unit of ``t``) with amplitudes 1, 0.5, 0.25 (in drawing order);
   * 16 channels, channel ``c`` shifted in phase by ``2 pi c / 16``:
     ``clean[t, c] = sum_k a_k sin(f_k t + 2 pi c / 16)``;
   * ``N(0, 0.1)`` noise on the input only;
   * input ``x = noisy[:-1]``, prediction target ``y_next = clean[1:]``, reconstruction
     target ``y_recon = clean[:-1]`` (``T - 1 = 255`` steps);
   * batch 64, "10 batches per epoch from fixed seeds (the same 640 samples every
     epoch)": generation batch ``b`` draws from ``numpy.random.default_rng([seed, b])``
     (seed 001, section 13 notes the frequencies are "sampled randomly per batch index");
   * oracle = ``[sin f_1 t, sin f_2 t, sin f_3 t, cos f_1 t, cos f_2 t, cos f_3 t]``,
     zero-padded to ``latent_dim = 21`` and normalized per time step (amplitudes and
     channel phases ignored), on the first ``T - 1`` time steps.

2. :func:`normal_modes` -- the book's own imputation data set: ``K`` sinusoidal normal
   modes with chosen frequencies (cycles per sequence), amplitudes and a random phase
   per sample and mode, mixed into ``C`` channels by one fixed random mixing matrix::

       theta_k(t) = 2 pi f_k t / T + phi_k,      t = 0, ..., T - 1
       u(t)       = [a_1 sin theta_1, ..., a_K sin theta_K, a_1 cos theta_1, ..., a_K cos theta_K]
       clean(t)   = u(t) @ M,      M: (2K, C), entries N(0, 1 / K), fixed by the seed
       noisy(t)   = clean(t) + noise * N(0, 1)

   Mixing both the sine and the cosine of each mode (a "complex" mode shape) makes the
   phase of every mode observable from a single time step, as the channel phase shifts
   do in the seeds' task. Its oracle is ``[sin theta_k..., cos theta_k...] / sqrt(K)``,
   zero-padded to ``latent_dim``: exactly the unit-norm state that generated the signal.

Both generators return an :class:`OscillatorData` with the same conventions, so one
training loop runs on either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.data.gaps import gap_mask, linear_fill, random_gaps  # re-exported (moved to gaps.py)
from spectral_manifolds.data.oscillator_data import OscillatorData, batches  # noqa: F401  (re-exported)

__all__ = [
    "SeedTaskConfig",
    "NormalModesConfig",
    "OscillatorData",
    "seed_task",
    "normal_modes",
    "batches",
    "gap_mask",
    "random_gaps",
    "linear_fill",
]


# --------------------------------------------------------------------------- shared checks
def _check_sequence_and_modes(config) -> None:
    """Shared checks of a signal config: ``seq_len >= 2``; freqs and amplitudes as float tuples."""
    validate.positive_int("seq_len", config.seq_len)
    if config.seq_len < 2:
        raise ValueError(f"seq_len must be at least 2 (input and target are shifted by one), got {config.seq_len}")
    object.__setattr__(config, "freqs", tuple(float(f) for f in config.freqs))
    object.__setattr__(config, "amplitudes", tuple(float(a) for a in config.amplitudes))


# --------------------------------------------------------------------------- seed task
@dataclass(frozen=True)
class SeedTaskConfig:
    """The seeds' synthetic task (DESIGN.md, "The seeds' experimental setup").

    ``batch`` is the generation batch of the seeds' code: sample block ``b`` (``batch``
    samples) comes from ``default_rng([seed, b])``, so ``n_samples`` must be a multiple
    of ``batch`` (640 = 10 x 64 by default).
    """

    seq_len: int = 256
    n_channels: int = 16
    freqs: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0, 8.0)
    amplitudes: tuple[float, ...] = (1.0, 0.5, 0.25)
    n_active: int = 3
    noise: float = 0.1
    t_max: float = 4 * math.pi
    latent_dim: int = 21
    n_samples: int = 640
    batch: int = 64
    seed: int = 0

    def __post_init__(self):
        for name in ("n_channels", "n_active", "latent_dim", "n_samples", "batch"):
            validate.positive_int(name, getattr(self, name))
        _check_sequence_and_modes(self)
        if any(not math.isfinite(f) or f <= 0 for f in self.freqs):
            raise ValueError(f"freqs must be positive and finite, got {self.freqs}")
        if len(set(self.freqs)) != len(self.freqs):
            raise ValueError(f"freqs must be distinct, got {self.freqs}")
        if self.n_active > len(self.freqs):
            raise ValueError(f"n_active ({self.n_active}) cannot exceed the number of freqs ({len(self.freqs)})")
        if len(self.amplitudes) != self.n_active:
            raise ValueError(f"need one amplitude per active frequency: {len(self.amplitudes)} != n_active={self.n_active}")
        if any(not math.isfinite(a) or a <= 0 for a in self.amplitudes):
            raise ValueError(f"amplitudes must be positive and finite, got {self.amplitudes}")
        if not math.isfinite(self.noise) or self.noise < 0:
            raise ValueError(f"noise must be a finite standard deviation >= 0, got {self.noise}")
        if not math.isfinite(self.t_max) or self.t_max <= 0:
            raise ValueError(f"t_max must be positive and finite, got {self.t_max}")
        if self.latent_dim < 2 * self.n_active:
            raise ValueError(f"latent_dim ({self.latent_dim}) must hold the 2*n_active={2 * self.n_active} oracle coordinates")
        if self.n_samples % self.batch:
            raise ValueError(f"n_samples ({self.n_samples}) must be a multiple of batch ({self.batch}): samples come in seeded batches")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")


def _oracle(angles: np.ndarray, latent_dim: int) -> np.ndarray:
    """Unit-norm oracle from mode angles.

    Args:
        angles: (N, T, K) phase angles ``theta_k(t)`` of each mode.
        latent_dim: d >= 2K.

    Returns:
        (N, T, d) float32: ``[sin theta_1..K, cos theta_1..K, 0...]`` divided by its norm
        (``sqrt(K)`` at every step).
    """
    n, t, k = angles.shape
    out = np.zeros((n, t, latent_dim), dtype=np.float64)
    out[..., :k] = np.sin(angles)
    out[..., k : 2 * k] = np.cos(angles)
    out /= np.linalg.norm(out, axis=-1, keepdims=True)
    return out.astype(np.float32)


def seed_task(config: SeedTaskConfig = SeedTaskConfig()) -> OscillatorData:
    """Generate the seeds' synthetic task (see the module docstring for the definition).

    Returns:
        :class:`OscillatorData` with ``x, y_next, y_recon: (N, T-1, C)``,
        ``oracle: (N, T-1, latent_dim)``, ``freqs, phases: (N, n_active)``, ``t: (T,)``.
    """
    cfg = config
    if not isinstance(cfg, SeedTaskConfig):
        raise TypeError(f"expected a SeedTaskConfig, got {type(cfg).__name__}")
    t = np.linspace(0.0, cfg.t_max, cfg.seq_len)  # (T,)
    shifts = 2 * np.pi * np.arange(cfg.n_channels) / cfg.n_channels  # (C,)
    amps = np.asarray(cfg.amplitudes)  # (K,)
    freq_pool = np.asarray(cfg.freqs)
    freqs, noisy, clean = [], [], []
    for b in range(cfg.n_samples // cfg.batch):
        rng = np.random.default_rng([cfg.seed, b])
        f = np.stack([rng.choice(freq_pool, cfg.n_active, replace=False) for _ in range(cfg.batch)])  # (B, K)
        # (B, T, C): sum_k a_k sin(f_k t + shift_c)
        arg = f[:, None, None, :] * t[None, :, None, None] + shifts[None, None, :, None]
        c = np.sum(amps * np.sin(arg), axis=-1)
        noisy.append(c + cfg.noise * rng.standard_normal(c.shape))
        clean.append(c)
        freqs.append(f)
    f = np.concatenate(freqs)
    clean = np.concatenate(clean)
    noisy = np.concatenate(noisy)
    angles = f[:, None, :] * t[None, :-1, None]  # (N, T-1, K)
    f32 = np.float32
    return OscillatorData(
        x=noisy[:, :-1].astype(f32),
        y_next=clean[:, 1:].astype(f32),
        y_recon=clean[:, :-1].astype(f32),
        oracle=_oracle(angles, cfg.latent_dim),
        freqs=f.astype(f32),
        phases=np.zeros_like(f, dtype=f32),
        t=t.astype(f32),
    )


# --------------------------------------------------------------------------- normal modes
@dataclass(frozen=True)
class NormalModesConfig:
    """The book's imputation data set: K normal modes mixed into C channels.

    ``freqs`` are in cycles per sequence of ``seq_len`` steps (mode ``k`` advances by
    ``2 pi f_k / seq_len`` radians per step); ``latent_dim`` defaults to ``2K``.
    ``mixing_seed`` fixes the mixing matrix (the "system"); ``seed`` draws the phases
    and the noise (the "trajectories"), so train and test sets share one system.
    """

    seq_len: int = 128
    n_channels: int = 8
    freqs: tuple[float, ...] = (2.0, 3.0, 5.0)
    amplitudes: tuple[float, ...] = (1.0, 0.6, 0.35)
    noise: float = 0.05
    latent_dim: int | None = None
    n_samples: int = 256
    seed: int = 0
    mixing_seed: int = 1234

    def __post_init__(self):
        for name in ("n_channels", "n_samples"):
            validate.positive_int(name, getattr(self, name))
        _check_sequence_and_modes(self)
        k = len(self.freqs)
        if k == 0:
            raise ValueError("need at least one mode (freqs is empty)")
        if any(not math.isfinite(f) or f <= 0 for f in self.freqs):
            raise ValueError(f"freqs must be positive and finite, got {self.freqs}")
        if len(set(self.freqs)) != k:
            raise ValueError(f"freqs must be distinct, got {self.freqs}")
        if any(f >= self.seq_len / 2 for f in self.freqs):
            raise ValueError(f"freqs must stay below Nyquist, seq_len/2 = {self.seq_len / 2} cycles, got {self.freqs}")
        if len(self.amplitudes) != k:
            raise ValueError(f"need one amplitude per mode: {len(self.amplitudes)} amplitudes for {k} freqs")
        if any(not math.isfinite(a) or a <= 0 for a in self.amplitudes):
            raise ValueError(f"amplitudes must be positive and finite, got {self.amplitudes}")
        if not math.isfinite(self.noise) or self.noise < 0:
            raise ValueError(f"noise must be a finite standard deviation >= 0, got {self.noise}")
        if self.latent_dim is None:
            object.__setattr__(self, "latent_dim", 2 * k)
        validate.positive_int("latent_dim", self.latent_dim)
        if self.latent_dim < 2 * k:
            raise ValueError(f"latent_dim ({self.latent_dim}) must hold the 2K={2 * k} oracle coordinates")
        for name in ("seed", "mixing_seed"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")


def mixing_matrix(config: NormalModesConfig) -> np.ndarray:
    """The fixed mixing matrix ``M: (2K, C)`` float32, entries ``N(0, 1/K)`` from ``mixing_seed``."""
    k = len(config.freqs)
    rng = np.random.default_rng([config.mixing_seed, 7])
    return (rng.standard_normal((2 * k, config.n_channels)) / math.sqrt(k)).astype(np.float32)


def normal_modes(config: NormalModesConfig = NormalModesConfig()) -> OscillatorData:
    """Generate the normal-mode data set (see the module docstring for the definition).

    Returns:
        :class:`OscillatorData` with ``x, y_next, y_recon: (N, T-1, C)``,
        ``oracle: (N, T-1, latent_dim)``, ``freqs, phases: (N, K)`` and
        ``t = arange(T)`` (time in steps).
    """
    cfg = config
    if not isinstance(cfg, NormalModesConfig):
        raise TypeError(f"expected a NormalModesConfig, got {type(cfg).__name__}")
    k, n, T = len(cfg.freqs), cfg.n_samples, cfg.seq_len
    rng = np.random.default_rng([cfg.seed, 11])
    phases = rng.uniform(0.0, 2 * np.pi, size=(n, k))
    t = np.arange(T, dtype=np.float64)
    omega = 2 * np.pi * np.asarray(cfg.freqs) / T  # radians per step
    angles = omega[None, None, :] * t[None, :, None] + phases[:, None, :]  # (N, T, K)
    amps = np.asarray(cfg.amplitudes)
    u = np.concatenate([amps * np.sin(angles), amps * np.cos(angles)], axis=-1)  # (N, T, 2K)
    clean = u @ mixing_matrix(cfg).astype(np.float64)  # (N, T, C)
    noisy = clean + cfg.noise * rng.standard_normal(clean.shape)
    f32 = np.float32
    return OscillatorData(
        x=noisy[:, :-1].astype(f32),
        y_next=clean[:, 1:].astype(f32),
        y_recon=clean[:, :-1].astype(f32),
        oracle=_oracle(angles[:, :-1], cfg.latent_dim),
        freqs=np.broadcast_to(np.asarray(cfg.freqs, dtype=f32), (n, k)).copy(),
        phases=phases.astype(f32),
        t=t.astype(f32),
    )
