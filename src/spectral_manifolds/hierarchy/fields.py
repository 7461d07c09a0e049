"""Synthetic field sequences with known bands and exact dynamics, the next-frame task, baselines.

Seed 004 trains its manifolds on field sequences ``(T, N, N)`` (§11.1 ``forward(x,
history)``, §11.2 ``(context, target)`` batches) but names no data set. These generators
put the energy of each band where :func:`~spectral_manifolds.hierarchy.bands.decompose`
will find it and give the next frame a closed-form predictor, so that per-band models
have something to learn and the strongest simple baseline is known (DESIGN.md, "Compare
like with like"). Grid: pixels ``p = (y, x)`` in ``0..N-1``, frames ``t = 0..T-1``,
periodic boundaries; integer wave vectors ``k = (ky, kx)`` with ``|ky|, |kx| < N/2``.

- :func:`plane_waves`: per sample and band, ``per_band`` travelling plane waves
  ``a_b cos(2 pi k.p / N - omega t + phi)`` with k drawn among the integer modes where
  band b's mask is at least ``min_weight`` (so the wave lies in band b), ``omega ~
  U(-omega_b, omega_b)`` rad/frame, ``phi ~ U(0, 2 pi)``; the modes of one sample are
  distinct (and no two are ``k, -k``), so each Fourier mode is one complex exponential in
  time and a per-sample, per-mode AR(1) fitted on two or more frames is exact.
- :func:`advection_diffusion`: ``du/dt = -v(k) . grad u + nu lap u`` on the torus, each
  band advected at its own velocity ``v(k) = sum_b m_b(k) v_b`` (a "three-speed field";
  one velocity for all if a single pair is given). Exact spectral solution per frame:
  ``u_k(t+1) = A(k) u_k(t) + forcing * xi_k(t)``, ``A(k) = exp(-2 pi i k.v(k)/N - nu (2 pi
  |k| / N)^2)``; the initial band b has RMS ``a_b``; DC and the Nyquist row and column are
  zero, so the real field stays exactly real. With ``forcing = 0`` a global per-mode
  AR(1) fitted on training frames recovers ``A`` and predicts exactly; with forcing it is
  the optimal linear one-step predictor.

Both add optional band-limited observation noise of RMS ``noise`` to ``x`` (``clean``
keeps the noiseless field). Everything is seeded by ``torch.Generator(seed)``; float64
inside, ``dtype`` (float32 by default) out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch

from spectral_manifolds import validate
from spectral_manifolds.hierarchy import bands as _bands

__all__ = ["Fields", "NextFrameTask", "plane_waves", "advection_diffusion", "windows",
           "next_frame_task", "persistence", "linear_extrapolation", "SpectralAR1", "spectral_ar1"]


@dataclass
class Fields:
    """A generated field sequence: ``x`` and ``clean`` (B, T, N, N); ``info`` its parameters."""

    x: torch.Tensor
    clean: torch.Tensor
    info: dict = field(default_factory=dict)


def _per_band(name, value, m):
    vals = [float(value)] * m if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(vals) != m or not all(math.isfinite(v) and v >= 0 for v in vals):
        raise ValueError(f"{name} must be a non-negative number or {m} of them (one per band), got {value!r}")
    return vals


def _setup(batch, frames, n, bands, masks, seed):
    for k, v in (("batch", batch), ("frames", frames), ("n", n)):
        validate.positive_int(k, v)
    if n < 4:
        raise ValueError(f"n must be >= 4, got {n}")
    validate.choice("masks", masks, _bands.KINDS[:3])
    m = _bands.masks(n, bands, masks, dtype=torch.float64)  # (M, N, N), FFT order
    return m, torch.Generator().manual_seed(int(seed))


def _signed(n):
    return torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64).round()  # 0, 1, ..., -1


def _noise(shape, m, noise, noise_bands, g):
    """White noise filtered by the sum of the chosen bands' masks, scaled to RMS ``noise``."""
    if noise == 0:
        return torch.zeros(shape, dtype=torch.float64)
    sel = range(m.shape[0]) if noise_bands is None else noise_bands
    if not all(isinstance(b, int) and 0 <= b < m.shape[0] for b in sel):
        raise ValueError(f"noise_bands must be band indices in [0, {m.shape[0]}), got {noise_bands!r}")
    h = m[list(sel)].sum(0)[:, : shape[-1] // 2 + 1]
    w = torch.fft.irfft2(torch.fft.rfft2(torch.randn(shape, generator=g, dtype=torch.float64)) * h, s=shape[-2:])
    return w * (noise / w.pow(2).mean().sqrt().clamp_min(1e-300))


def plane_waves(batch: int, frames: int, n: int, *, bands: int | Sequence[float] = 3, per_band: int = 2,
                amplitudes: float | Sequence[float] = (1.0, 0.5, 0.25), omega: float | Sequence[float] = 0.5,
                masks: str = "cosine", min_weight: float = 0.999, noise: float = 0.0,
                noise_bands: Sequence[int] | None = None, seed: int = 0, dtype=torch.float32) -> Fields:
    """Travelling plane waves, ``per_band`` per band per sample (module docstring): x (B, T, N, N).

    ``amplitudes``/``omega``: one per band (or one for all), the wave amplitude ``a_b`` and
    the largest temporal frequency in rad/frame. Band b's energy is exactly
    ``per_band * a_b^2 * T N^2 / 2`` times the squared mask weights (>= ``min_weight^2``).
    A band of amplitude 0 gets no waves. ``info``: ``k`` (B, J, 2) signed integer wave
    vectors, ``band`` (J,), ``omega``, ``phase``,
    ``amplitude`` (B, J).
    """
    m, g = _setup(batch, frames, n, bands, masks, seed)
    nb = m.shape[0]
    amps, oms = _per_band("amplitudes", amplitudes, nb), _per_band("omega", omega, nb)
    validate.positive_int("per_band", per_band)
    ky, kx = torch.meshgrid(_signed(n), _signed(n), indexing="ij")
    half = ((ky > 0) | ((ky == 0) & (kx > 0))) & (ky.abs() < n / 2) & (kx.abs() < n / 2)  # one of k, -k
    ks, band_of = [], []
    for b in (b for b in range(nb) if amps[b] > 0):  # a band of amplitude 0 gets no waves
        cand = torch.nonzero(half & (m[b] >= min_weight))
        if len(cand) < per_band:
            raise ValueError(f"band {b} has {len(cand)} integer mode(s) with mask weight >= {min_weight} at n={n}, "
                             f"fewer than per_band={per_band}: use a larger n, fewer waves or a lower min_weight")
        pick = torch.stack([torch.randperm(len(cand), generator=g)[:per_band] for _ in range(batch)])  # (B, per_band)
        idx = cand[pick]  # (B, per_band, 2) FFT indices
        ks.append(torch.stack([ky[idx[..., 0], idx[..., 1]], kx[idx[..., 0], idx[..., 1]]], -1))
        band_of += [b] * per_band
    if not ks:
        raise ValueError("all amplitudes are 0: no waves to draw")
    k = torch.cat(ks, 1)  # (B, J, 2)
    band = torch.tensor(band_of)
    amp = torch.tensor(amps, dtype=torch.float64)[band].expand(batch, -1)
    om = (2 * torch.rand(k.shape[:2], generator=g, dtype=torch.float64) - 1) * torch.tensor(oms, dtype=torch.float64)[band]
    phase = 2 * math.pi * torch.rand(k.shape[:2], generator=g, dtype=torch.float64)
    p = torch.arange(n, dtype=torch.float64)  # pixel coordinate, along y and along x
    t = torch.arange(frames, dtype=torch.float64)
    arg = (2 * math.pi / n * (k[..., 0, None, None] * p[:, None] + k[..., 1, None, None] * p[None, :]))[:, None]  # (B,1,J,N,N)
    arg = arg - (om[:, None, :] * t[None, :, None])[..., None, None] + phase[:, None, :, None, None]
    clean = (amp[:, None, :, None, None] * torch.cos(arg)).sum(2)  # (B, T, N, N)
    x = clean + _noise(clean.shape, m, noise, noise_bands, g)
    info = {"kind": "plane_waves", "k": k, "band": band, "omega": om, "phase": phase, "amplitude": amp,
            "bands": bands, "masks": masks, "noise": noise, "seed": seed}
    return Fields(x.to(dtype), clean.to(dtype), info)


def advection_diffusion(batch: int, frames: int, n: int, *, bands: int | Sequence[float] = 3,
                        velocity: Sequence = ((0.25, 0.5), (-0.5, 0.25), (0.75, -0.75)), diffusion: float = 0.0,
                        forcing: float = 0.0, amplitudes: float | Sequence[float] = (1.0, 0.5, 0.25),
                        masks: str = "cosine", noise: float = 0.0, noise_bands: Sequence[int] | None = None,
                        seed: int = 0, dtype=torch.float32) -> Fields:
    """The linear field of the module docstring: x (B, T, N, N), exact one-step multiplier in ``info``.

    ``velocity``: one ``(vy, vx)`` in pixels/frame for all bands, or one per band;
    ``diffusion``: ``nu`` in pixels^2/frame; ``forcing``: RMS of the per-frame innovation
    (white noise shaped like the initial field). ``info["multiplier"]``: ``A`` on the
    ``rfft2`` half plane, (N, N//2+1) complex128.
    """
    m, g = _setup(batch, frames, n, bands, masks, seed)
    nb = m.shape[0]
    amps = _per_band("amplitudes", amplitudes, nb)
    v = torch.as_tensor(velocity, dtype=torch.float64)
    v = v.expand(nb, 2) if v.shape == (2,) else v
    if v.shape != (nb, 2) or not torch.isfinite(v).all():
        raise ValueError(f"velocity must be one (vy, vx) pair or {nb} of them, got {velocity!r}")
    if not (math.isfinite(diffusion) and diffusion >= 0 and math.isfinite(forcing) and forcing >= 0):
        raise ValueError(f"diffusion and forcing must be non-negative, got {diffusion!r}, {forcing!r}")
    h = n // 2 + 1
    mh = m[..., :h]
    ky, kx = torch.meshgrid(_signed(n), torch.arange(h, dtype=torch.float64), indexing="ij")
    vk = torch.einsum("bij,bc->ijc", mh, v)  # (N, h, 2): v(k) = sum_b m_b(k) v_b
    a = torch.exp(-2j * math.pi * (ky * vk[..., 0] + kx * vk[..., 1]) / n - diffusion * (2 * math.pi / n) ** 2 * (ky ** 2 + kx ** 2))
    keep = torch.ones(n, h, dtype=torch.float64)
    keep[0, 0] = 0.0
    if n % 2 == 0:
        keep[n // 2, :] = 0.0
        keep[:, -1] = 0.0
    a = a * keep
    shape = (batch, n, n)
    w = torch.fft.rfft2(torch.randn(shape, generator=g, dtype=torch.float64)) * keep
    parts = torch.fft.irfft2(w[:, None] * mh[None], s=(n, n))  # (B, M, N, N): band b of the initial field
    rms = parts.pow(2).mean(dim=(0, 2, 3)).sqrt().clamp_min(1e-300)
    u = torch.fft.rfft2((parts * (torch.tensor(amps, dtype=torch.float64) / rms)[None, :, None, None]).sum(1))
    env = (mh * (torch.tensor(amps, dtype=torch.float64) / rms)[:, None, None]).sum(0) * keep
    states = []
    for _ in range(frames):
        states.append(u)
        u = a * u
        if forcing:
            xi = torch.fft.rfft2(torch.randn(shape, generator=g, dtype=torch.float64)) * env
            u = u + xi * (forcing / torch.fft.irfft2(xi, s=(n, n)).pow(2).mean().sqrt().clamp_min(1e-300))
    clean = torch.fft.irfft2(torch.stack(states, 1), s=(n, n))
    x = clean + _noise(clean.shape, m, noise, noise_bands, g)
    info = {"kind": "advection_diffusion", "multiplier": a, "velocity": v, "diffusion": diffusion,
            "forcing": forcing, "bands": bands, "masks": masks, "noise": noise, "seed": seed}
    return Fields(x.to(dtype), clean.to(dtype), info)


def _frames(x, name="x", min_steps=1):
    x = _bands._fields(x, name)
    xb = x[None] if x.ndim == 3 else x
    if xb.shape[1] < min_steps:
        raise ValueError(f"{name} needs at least {min_steps} frames, got shape {tuple(x.shape)}")
    return xb, x.ndim == 3


def windows(x, history: int, *, target=None, stride: int = 1):
    """Sliding next-frame windows: inputs (B*S, H, N, N) of ``x``, targets (B*S, N, N) of ``target``.

    ``x: (B, T, N, N)`` or ``(T, N, N)``; window s holds frames ``s*stride .. s*stride+H-1``
    and its target is frame ``s*stride+H`` of ``target`` (default ``x``; pass ``clean`` to
    score against the noiseless field), ``S = (T - H - 1) // stride + 1``.
    """
    validate.positive_int("history", history)
    validate.positive_int("stride", stride)
    xb, _ = _frames(x, min_steps=history + 1)
    yb, _ = _frames(xb if target is None else target, "target")
    if yb.shape != xb.shape:
        raise ValueError(f"target must have the shape of x {tuple(xb.shape)}, got {tuple(yb.shape)}")
    starts = range(0, xb.shape[1] - history, stride)
    inp = torch.stack([xb[:, s: s + history] for s in starts], 1).flatten(0, 1)
    tgt = torch.stack([yb[:, s + history] for s in starts], 1).flatten(0, 1)
    return inp, tgt


@dataclass
class NextFrameTask:
    """History of H frames -> next frame, split by sequence (no window straddles the split).

    ``train_x``/``test_x``: (S, H, N, N); ``train_y``/``test_y``: (S, N, N); ``train_frames``:
    (B_train, T, N, N) observed training sequences, for fitting :class:`SpectralAR1`.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    train_frames: torch.Tensor
    history: int


def next_frame_task(fields: Fields, history: int = 8, *, test_fraction: float = 0.25, target: str = "clean",
                    stride: int = 1) -> NextFrameTask:
    """Split ``fields`` (B >= 2 sequences) into train and test windows; the last sequences are test.

    Inputs are the observed ``x``; targets are ``clean`` (default) or ``x`` (``target="x"``).
    """
    validate.choice("target", target, ("clean", "x"))
    if not (0 < test_fraction < 1):
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    b = fields.x.shape[0]
    n_test = max(1, math.ceil(test_fraction * b))
    if b - n_test < 1:
        raise ValueError(f"next_frame_task needs at least 2 sequences, got {b}")
    y = fields.clean if target == "clean" else fields.x
    tr = windows(fields.x[: b - n_test], history, target=y[: b - n_test], stride=stride)
    te = windows(fields.x[b - n_test:], history, target=y[b - n_test:], stride=stride)
    return NextFrameTask(tr[0], tr[1], te[0], te[1], fields.x[: b - n_test], history)


def persistence(history) -> torch.Tensor:
    """The last frame: (B, H, N, N) -> (B, N, N), or (H, N, N) -> (N, N)."""
    hb, unb = _frames(history, "history")
    return hb[:, -1][0] if unb else hb[:, -1]


def linear_extrapolation(history) -> torch.Tensor:
    """``2 x_{H-1} - x_{H-2}`` per pixel: (B, H, N, N) -> (B, N, N); needs H >= 2."""
    hb, unb = _frames(history, "history", 2)
    out = 2 * hb[:, -1] - hb[:, -2]
    return out[0] if unb else out


def _ls_multiplier(f, dims, rel_tol):
    """Least-squares ``a = sum Y conj(X) / sum |X|^2`` over consecutive frames; 0 where no energy."""
    xk, yk = f[:, :-1], f[:, 1:]
    num = (yk * xk.conj()).sum(dims)
    den = xk.abs().pow(2).sum(dims)
    ok = den > rel_tol * den.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-300)
    return torch.where(ok, num / den.clamp_min(1e-300), torch.zeros_like(num))


class SpectralAR1:
    """Per-Fourier-mode complex AR(1) ``X_k(t+1) = a_k X_k(t)``, ``a`` fitted by least squares.

    ``fit(frames)``: frames (B, T, N, N) or (T, N, N), T >= 2, every consecutive pair of
    every sequence; ``multiplier``: (N, N//2+1) complex128 on the ``rfft2`` half plane.
    Exact for any linear, translation-invariant dynamics (e.g. :func:`advection_diffusion`
    without forcing and noise). ``predict(history, steps)``: (B, H, N, N) -> (B, N, N), the
    last frame advanced ``steps`` frames.
    """

    def __init__(self, rel_tol: float = 1e-12):
        self.rel_tol = rel_tol
        self.multiplier = None

    def fit(self, frames) -> "SpectralAR1":
        fb, _ = _frames(frames, "frames", 2)
        self.multiplier = _ls_multiplier(torch.fft.rfft2(fb.double()), (0, 1), self.rel_tol)
        return self

    def predict(self, history, steps: int = 1) -> torch.Tensor:
        if self.multiplier is None:
            raise ValueError("SpectralAR1.predict before fit")
        validate.positive_int("steps", steps)
        hb, unb = _frames(history, "history")
        n = hb.shape[-1]
        if tuple(self.multiplier.shape) != (n, n // 2 + 1):
            raise ValueError(f"fitted on {self.multiplier.shape[0]}^2 frames, got {n}^2")
        out = torch.fft.irfft2(torch.fft.rfft2(hb[:, -1].double()) * self.multiplier ** steps, s=(n, n)).to(hb.dtype)
        return out[0] if unb else out


def spectral_ar1(history, steps: int = 1, rel_tol: float = 1e-12) -> torch.Tensor:
    """Per-sample :class:`SpectralAR1` fitted on the history itself: (B, H, N, N) -> (B, N, N), H >= 2.

    Exact for :func:`plane_waves` without noise (one exponential per mode per sample).
    """
    validate.positive_int("steps", steps)
    hb, unb = _frames(history, "history", 2)
    n = hb.shape[-1]
    f = torch.fft.rfft2(hb.double())
    a = _ls_multiplier(f, (1,), rel_tol)  # (B, N, N//2+1)
    out = torch.fft.irfft2(f[:, -1] * a ** steps, s=(n, n)).to(hb.dtype)
    return out[0] if unb else out
