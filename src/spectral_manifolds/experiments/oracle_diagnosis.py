"""Issue 10, item 1, "The diagnosis, shown": why the seeds' oracle distance stalls near 0.2.

On the seeds' main task (:func:`spectral_manifolds.data.oscillators.seed_task`), scored
on held-out samples (``test_seed``; the seeds train on seed 0), every function returns
rows for one table of the chapter:

* :func:`calibration_rows` -- one calibration table: the seeds' oracle distance
  (:func:`spectral_manifolds.alignment.oracle_distance`, uncentred) beside the corrected
  metrics of :mod:`spectral_manifolds.geometry_metric` (the whitened distance, the
  held-out linear-probe R^2, the collapse monitor) and the two floors that explain the
  seeds' number (spectrum floor, collapse floor), for the classical references: the
  calibration latents of chapter 6 (:func:`~spectral_manifolds.experiments.alignment_calibration.calibration_latents`:
  oracle, rotated, reflected, one oscillator, random unit, constant), the references of
  chapter 7 (:mod:`spectral_manifolds.experiments.references`: amplitude-weighted oracle,
  normalized input copy, untrained linear encoder, linear causal encoder, SSA) and
  :func:`dmd_latent` (time-delay DMD, which separates the modes and keeps their amplitudes).
* :func:`dc_offset_rows` -- the oracle (and the amplitude-weighted oracle) plus a constant
  offset ``c`` in an unused direction, normalized per step: the uncentred metric's cost
  against its closed form, while the whitened distance stays 0.
* :func:`amplitude_rows` -- the amplitude floor ``sqrt(2 (1 - mean a / rms a) / d)``
  measured for several amplitude sets.
* :func:`input_rank_rows` -- the input is rank 2 (all oscillators share the channel
  phases): the share of its energy in the top singular values.

The probe (:func:`~spectral_manifolds.geometry_metric.probe_r2`) maps a latent to the
oracle in the fixed frame of :func:`~spectral_manifolds.experiments.references.canonical_oracle`
(one slot per frequency of the pool; the row ``oracle, fixed frame`` is that oracle as a
latent), fitted on the training draw (``train_seed``, reference latents computed the same
way) and scored on the held-out one. The seeds' oracle orders its columns by each sample's
drawing order, so no single linear map recovers the fixed frame from it: per-sample
constructions score low on the probe by design. Sizes: :func:`default_config` (``runtime.sized``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import geometry_metric as G
from spectral_manifolds import runtime
from spectral_manifolds.data.oscillators import OscillatorData, SeedTaskConfig, seed_task
from spectral_manifolds.experiments import references as R
from spectral_manifolds.experiments.alignment_calibration import SEED_CALIBRATION, calibration_latents

__all__ = ["DiagnosisConfig", "DiagnosisResult", "default_config", "dmd_latent", "reference_latents",
           "calibration_rows", "dc_offset_rows", "amplitude_rows", "input_rank_rows", "run"]


@dataclass(frozen=True)
class DiagnosisConfig:
    """Sizes and references. ``n_samples`` per draw (a multiple of 64); ``offsets`` are the
    DC offsets ``c`` (0.41 is the +0.085 of issue 10); ``amplitude_sets`` the amplitudes of
    :func:`amplitude_rows`."""

    n_samples: int = 640
    test_seed: int = 1
    train_seed: int = 0
    ssa_windows: tuple[int, ...] = (32, 128)
    linear_windows: tuple[int, ...] = (9, 129)
    dmd_window: int = 32
    n_modes: int = 6
    offsets: tuple[float, ...] = (0.25, 0.41, 1.0, 3.0)
    amplitude_sets: tuple[tuple[float, ...], ...] = ((1.0, 1.0, 1.0), (1.0, 0.5, 0.25), (1.0, 0.25, 0.0625))
    ridge: float = 1e-6
    seed: int = 0

    def __post_init__(self):
        if self.test_seed == self.train_seed:
            raise ValueError("test_seed must differ from train_seed: the table is scored on held-out samples")
        if any(not c > 0 for c in self.offsets):
            raise ValueError(f"offsets must be positive, got {self.offsets}")
        # references' own checks of the windows and n_modes (raises ValueError)
        R.ReferenceConfig(task=self.task(self.test_seed), linear_windows=self.linear_windows,
                          ssa_windows=self.ssa_windows + (self.dmd_window,), n_modes=self.n_modes)

    def task(self, seed: int) -> SeedTaskConfig:
        """The seeds' main task with ``n_samples`` samples drawn from ``seed``."""
        return SeedTaskConfig(n_samples=self.n_samples, seed=seed)


def default_config() -> DiagnosisConfig:
    """Quick: 64 held-out samples, linear window 9 only; full: 640 samples, windows 9 and 129."""
    return runtime.sized(quick=DiagnosisConfig(n_samples=64, linear_windows=(9,)), full=DiagnosisConfig())


@dataclass
class DiagnosisResult:
    """The four tables' rows (lists of dicts) and the configuration."""

    config: dict
    calibration: list[dict] = field(default_factory=list)
    dc_offset: list[dict] = field(default_factory=list)
    amplitudes: list[dict] = field(default_factory=list)
    input_rank: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- references
def dmd_latent(x: np.ndarray, window: int, rank: int, d: int) -> np.ndarray:
    """Time-delay (exact) DMD of each noisy sample, no learning (Schmid 2010; Tu et al. 2014).

    States ``h_j = x[j : j + L]`` flattened (the Hankel rows of ``references.ssa_latent``);
    ``X = [h_0 .. h_{k-2}]``, ``Y = [h_1 .. h_{k-1}]``, rank-``r`` SVD ``X = U S V^T``,
    ``A~ = U^T Y V S^-1 = W Lam W^-1``, modes ``Phi = Y V S^-1 W`` (unit columns), amplitudes
    ``b = Phi^+ h_0``. The latent is the modes' time dynamics ``b_j lam_j^t`` as
    ``[Re, Im]`` of one eigenvalue per conjugate pair: separated sinusoids **with their
    amplitudes**, zero-padded and normalized per step.

    Args:
        x: (N, T, C) noisy input; window: L; rank: r; d: latent dimension (>= 2 r).
    Returns:
        (N, T - L + 1, d) float32 with unit rows, aligned with the oracle's steps L-1 .. T-1.
    """
    n, t, c = x.shape
    k = t - window + 1
    out = np.zeros((n, k, d), np.float32)
    steps = np.arange(k)[:, None]
    for i in range(n):
        h = np.lib.stride_tricks.sliding_window_view(x[i].astype(np.float64), window, axis=0).reshape(k, c * window)
        u, s, vt = np.linalg.svd(h[:-1].T, full_matrices=False)
        u, s, v = u[:, :rank], s[:rank], vt[:rank].T
        y_vs = h[1:].T @ v / s
        lam, w = np.linalg.eig(u.T @ y_vs)
        phi = y_vs @ w
        phi /= np.linalg.norm(phi, axis=0)
        b = np.linalg.lstsq(phi, h[0].astype(np.complex128), rcond=None)[0]
        dyn = b * lam[None, :] ** steps  # (k, r)
        upper = lam.imag >= 0
        cols = np.concatenate([dyn[:, upper].real, dyn[:, upper & (lam.imag > 0)].imag], axis=1)[:, :d]
        out[i, :, : cols.shape[1]] = cols
    return R.unit_rows(out)


def _untrained_encoder(x: np.ndarray, d: int, seed: int) -> np.ndarray:
    """The untrained linear encoder of ``references.reference_rows`` (same weights for one seed)."""
    c = x.shape[-1]
    w = np.random.default_rng([seed, 7]).standard_normal((c + 1, d)).astype(np.float32) / np.sqrt(c + 1)
    return R.unit_rows(np.concatenate([x, np.ones(x.shape[:-1] + (1,), np.float32)], axis=-1) @ w)


def reference_latents(data: OscillatorData, fit: OscillatorData, cfg: DiagnosisConfig, seed: int) -> dict[str, tuple[np.ndarray, int, str]]:
    """Every reference latent of the calibration table for the samples of ``data``.

    Args:
        data: the samples to encode; fit: the draw the linear causal encoder is fitted on.
    Returns:
        ``{name: (z (N, T - start, d) unit rows, start, what it keeps)}``; ``z`` is scored
        against the oracle's steps ``start ..``.
    """
    d = data.oracle.shape[-1]
    cal = calibration_latents(data, seed)
    keeps = {"oracle": "the oracle itself", "rotated oracle": "a random rotation per sample",
             "reflected oracle": "a random reflection per sample", "one oscillator exact": "only the amplitude-1 oscillator",
             "random unit latent": "nothing (i.i.d. noise)", "constant latent": "nothing (one vector per sample)"}
    out = {name: (z, 0, keeps[name]) for name, z in cal.items()}
    out["oracle, fixed frame"] = (R.pad(R.canonical_oracle(data, SeedTaskConfig().freqs), d), 0,
                                  "the oracle with one slot per frequency of the pool, the same for every sample")
    out["amplitude-weighted oracle"] = (R.amplitude_oracle(data, SeedTaskConfig().amplitudes), 0, "each oscillator separated, amplitudes kept")
    out["normalized input"] = (R.unit_rows(R.pad(data.x, d)), 0, "all three oscillators, mixed (rank 2); noise")
    out["untrained linear encoder"] = (_untrained_encoder(data.x, d, cfg.seed), 0, "the input, randomly mixed, plus a constant")
    for win in cfg.linear_windows:
        out[f"linear causal encoder, window {win}"] = (R.linear_causal_latent(fit, data, win, SeedTaskConfig().freqs, cfg.ridge), 0,
                                                       f"a least-squares fit to the oracle from {win} past steps")
    for win in cfg.ssa_windows:
        out[f"SSA, window {win}"] = (R.ssa_latent(data.x, win, cfg.n_modes, d), win - 1, f"top {cfg.n_modes} whitened modes of a {win}-step Hankel SVD")
    win = cfg.dmd_window
    out[f"DMD, window {win}"] = (dmd_latent(data.x, win, cfg.n_modes, d), win - 1, f"{cfg.n_modes} DMD modes' dynamics, amplitudes kept")
    return out


# --------------------------------------------------------------------------- tables
def calibration_rows(cfg: DiagnosisConfig) -> list[dict]:
    """The calibration table (module docstring): one row per reference latent, both metrics."""
    from spectral_manifolds.alignment import oracle_distance

    test, train = seed_task(cfg.task(cfg.test_seed)), seed_task(cfg.task(cfg.train_seed))
    pool = SeedTaskConfig().freqs
    y_test, y_train = R.canonical_oracle(test, pool), R.canonical_oracle(train, pool)
    lat_test = reference_latents(test, train, cfg, cfg.seed)
    lat_train = reference_latents(train, train, cfg, cfg.seed + 1)
    d = test.oracle.shape[-1]
    rows = []
    for name, (z, start, keeps) in lat_test.items():
        o = test.oracle[:, start:]
        v = G.centred_variance(z)
        figure = SEED_CALIBRATION.get(name, R.MEASURED_OUTSIDE.get(name, "—"))
        source = "seeds" if name in SEED_CALIBRATION else ("outside" if name in R.MEASURED_OUTSIDE else "—")
        v_o = G.centred_variance(o)
        rows.append({
            "reference latent": name,
            "what it keeps": keeps,
            "seeds' distance": round(float(oracle_distance(z, o)), 4),
            "figure elsewhere": figure,
            "source": source,
            "spectrum floor": round(G.spectrum_floor(z, o), 4),
            "collapse floor": round(G.collapse_floor(v, d, v_o), 4),
            "whitened distance": round(G.whitened_distance(z, o), 4),
            "probe R² (held-out)": round(G.probe_r2(lat_train[name][0], y_train[:, start:], z, y_test[:, start:], ridge=cfg.ridge), 4),
            "centred variance": round(v, 4),
        })
    return rows


def _with_offset(z: np.ndarray, c: float, slot: int) -> np.ndarray:
    """``z`` plus ``c`` in the unused coordinate ``slot``, normalized per step."""
    out = np.array(z, np.float32, copy=True)
    out[..., slot] += np.float32(c)
    return R.unit_rows(out)


def dc_offset_rows(cfg: DiagnosisConfig) -> list[dict]:
    """The DC-offset fact: the uncentred metric charges for an offset that carries nothing.

    For base latents with unit rows (the oracle; the amplitude-weighted oracle) and each
    offset ``c`` of ``cfg.offsets`` (and 0), the offset in coordinate ``2K`` (unused by the
    oracle), normalized per step; the closed form is
    ``sqrt(2 (1 - sqrt(v) (1 - d F^2 / 2)) / d)`` with ``v = 1 / (1 + c^2)`` and ``F`` the
    base's amplitude floor (0 for the oracle), so ``c`` costs ``closed form - F``.
    """
    from spectral_manifolds.alignment import oracle_distance

    test = seed_task(cfg.task(cfg.test_seed))
    o = test.oracle
    d, slot = o.shape[-1], 2 * test.freqs.shape[1]
    amps = SeedTaskConfig().amplitudes
    bases = {"oracle": (o, 0.0), "amplitude-weighted oracle": (R.amplitude_oracle(test, amps), G.amplitude_floor(amps, d))}
    rows = []
    for base, (z0, floor) in bases.items():
        for c in (0.0,) + tuple(cfg.offsets):
            z = _with_offset(z0, c, slot)
            v = 1.0 / (1.0 + c * c)
            closed = float(np.sqrt(2.0 * (1.0 - np.sqrt(v) * (1.0 - d * floor**2 / 2.0)) / d))
            measured = float(oracle_distance(z, o))
            rows.append({
                "base latent": base, "offset c": c,
                "time-mean energy": round(1.0 - G.centred_variance(z), 4),
                "seeds' distance": round(measured, 4), "closed form": round(closed, 4),
                "cost of the offset": round(measured - floor, 4),
                "whitened distance": round(G.whitened_distance(z, o), 4),
            })
    return rows


def amplitude_rows(cfg: DiagnosisConfig) -> list[dict]:
    """The amplitude floor: the oracle with pair ``k`` scaled by ``a_k``, measured and in closed form."""
    from spectral_manifolds.alignment import oracle_distance

    test = seed_task(cfg.task(cfg.test_seed))
    d = test.oracle.shape[-1]
    rows = []
    for a in cfg.amplitude_sets:
        z = R.amplitude_oracle(test, a)
        rows.append({"amplitudes": str(tuple(a)), "seeds' distance": round(float(oracle_distance(z, test.oracle)), 4),
                     "closed form": round(G.amplitude_floor(a, d), 4), "whitened distance": round(G.whitened_distance(z, test.oracle), 4)})
    return rows


def input_rank_rows(cfg: DiagnosisConfig, top: int = 4) -> list[dict]:
    """The share of the input's energy in its top singular values (per sample, mean over samples):
    the clean input is rank 2, ``x_{t,c} = cos(phi_c) S(t) + sin(phi_c) C(t)``."""
    test = seed_task(cfg.task(cfg.test_seed))
    rows = []
    for name, x in (("clean input", test.y_recon), ("noisy input", test.x)):
        s2 = np.linalg.svd(x.astype(np.float64), compute_uv=False) ** 2
        share = np.cumsum(s2, axis=-1) / s2.sum(axis=-1, keepdims=True)
        rows.append({"input": name, **{f"top {i + 1}": round(float(share[:, i].mean()), 5) for i in range(top)}})
    return rows


def run(cfg: DiagnosisConfig | None = None) -> DiagnosisResult:
    """All four tables at ``cfg`` (default: :func:`default_config`)."""
    cfg = default_config() if cfg is None else cfg
    return DiagnosisResult(config=dataclasses.asdict(cfg), calibration=calibration_rows(cfg), dc_offset=dc_offset_rows(cfg),
                           amplitudes=amplitude_rows(cfg), input_rank=input_rank_rows(cfg))
