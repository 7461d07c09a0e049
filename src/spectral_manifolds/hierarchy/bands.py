"""Frequency bands of a field sequence: radial FFT masks, decomposition, synthesis.

Seed 004 ("Hierarchical Spectral Manifolds") splits a field sequence ``x: (T, N, N)`` into
M radial frequency bands (§4.1 "spectral decomposition", §4.2 cut-offs, §11.1
``_create_freq_masks`` / ``decompose`` / ``synthesize``) and gives each band its own
manifold. Radius is measured in units of Nyquist: ``r = |f| / 0.5`` with ``f`` the signed
frequency of ``torch.fft.fftfreq`` in cycles per sample, so the axes reach r = 1 and the
corners of the 2-D spectrum reach r = sqrt(2).

The book's masks are a partition of unity (issue 9, "Bands"): with a smooth low-pass
``L(r; c)``, ``m_0 = L(c_0)``, ``m_i = L(c_i) - L(c_{i-1})``, ``m_{M-1} = 1 - L(c_{M-2})``.
The masks telescope to exactly 1 at every frequency, each lies in [0, 1] (``L`` grows with
its cut-off), and each is radial, hence Hermitian-symmetric, so real fields give real bands
and ``synthesize(decompose(x)) == x`` to rounding. Low-passes (``kind``), with ``u = r / c``
and relative half-width ``w`` (default 0.3: the step runs over ``0.7 c <= r <= 1.3 c``):

- ``"cosine"`` (default): raised cosine, 1 for ``u <= 1 - w``, 0 for ``u >= 1 + w``,
  ``(1 + cos(pi (u - 1 + w) / (2 w))) / 2`` between; DC lies in band 0 only.
- ``"logistic"``: ``sigmoid(pi (1 - u) / w)``, the same slope at the cut-off; never 0 or 1.
- ``"hard"``: ``u <= 1``; 0/1 masks, orthogonal bands whose energies add exactly.
- ``"seed"``: the seed's own masks, exactly as its §11.1 code builds them (kept to show
  their defects, see :func:`seed_masks` and :func:`mask_report`).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from spectral_manifolds import validate

__all__ = ["CUTOFFS", "KINDS", "seed_bounds", "radius", "lowpass", "masks", "seed_masks",
           "decompose", "band_limit", "synthesize", "band_energy", "smooth_field", "mask_report"]

#: §4.2 cut-offs (units of Nyquist) of options A, B, C: 2, 3 and 4 bands.
CUTOFFS = {2: (0.2,), 3: (0.1, 0.3), 4: (1 / 16, 1 / 4, 1 / 2)}
KINDS = ("cosine", "logistic", "hard", "seed")


def seed_bounds(bands: int | Sequence[float] = 3) -> list[float]:
    """Band edges of the seed's masks: its ``_compute_freq_bounds`` (§11.1) for an int.

    The code gives ``[0, 0.1, 0.3, 0.9, ..., 1.0]``: for 3 bands §4.2's option B, but for 2
    bands ``[0, 0.1, 1]`` (§4.2 says 0.2) and for 4 ``[0, 0.1, 0.3, 0.9, 1]`` (§4.2 says
    1/16, 1/4, 1/2). Explicit cut-offs give ``[0, *cutoffs, 1.0]``.
    """
    if isinstance(bands, (int,)) and not isinstance(bands, bool):
        validate.positive_int("bands", bands)
        return [0.0] + [0.1 * 3.0 ** (i - 1) for i in range(1, bands)] + [1.0]
    return [0.0] + _cutoffs(bands) + [1.0]


def _cutoffs(bands) -> list[float]:
    if isinstance(bands, bool):
        raise ValueError(f"bands must be 2, 3, 4 or a sequence of cut-offs, got {bands!r}")
    if isinstance(bands, int):
        validate.choice("bands", bands, tuple(CUTOFFS))
        return list(CUTOFFS[bands])
    try:
        if isinstance(bands, str):
            raise TypeError
        cut = [float(c) for c in bands]
    except (TypeError, ValueError):
        raise ValueError(f"bands must be 2, 3, 4 or a sequence of cut-offs, got {bands!r}") from None
    if not cut or not all(math.isfinite(c) and c > 0 for c in cut) or any(b <= a for a, b in zip(cut, cut[1:])):
        raise ValueError(f"cut-offs must be a non-empty, strictly increasing sequence of positive numbers, got {bands!r}")
    return cut


def radius(n: int, *, half: bool = False, dtype=torch.float32, device=None) -> torch.Tensor:
    """Radial frequency ``r = |f| / f_Nyquist`` in FFT order: (N, N), or (N, N//2+1) if ``half``."""
    validate.positive_int("n", n)
    f = torch.fft.fftfreq(n, dtype=torch.float64, device=device)
    fx = f[: n // 2 + 1].abs() if half else f  # rfft2's columns, bit-identical to the full plane's
    return (2.0 * torch.sqrt(f[:, None] ** 2 + fx[None, :] ** 2)).to(dtype)


def lowpass(r: torch.Tensor, cutoff: float, kind: str = "cosine", width: float = 0.3) -> torch.Tensor:
    """The smooth low-pass ``L(r; c)`` of the module docstring, values in [0, 1]."""
    validate.choice("kind", kind, KINDS[:3])
    if not (0 < width < 1):
        raise ValueError(f"width must lie in (0, 1), got {width!r}")
    u = r / cutoff
    if kind == "hard":
        return (u <= 1).to(r.dtype)
    if kind == "logistic":
        return torch.sigmoid(math.pi * (1 - u) / width)
    t = ((u - (1 - width)) / (2 * width)).clamp(0, 1)
    return 0.5 * (1 + torch.cos(math.pi * t))


def masks(n: int, bands: int | Sequence[float] = 3, kind: str = "cosine", *, width: float = 0.3,
          half: bool = False, dtype=torch.float32, device=None) -> torch.Tensor:
    """Radial band masks in FFT order: (M, N, N), or (M, N, N//2+1) for ``rfft2`` if ``half``.

    ``bands``: 2, 3 or 4 (§4.2's cut-offs, :data:`CUTOFFS`) or a sequence of M-1 cut-offs in
    units of Nyquist. ``kind`` in :data:`KINDS`; all but ``"seed"`` are a partition of unity.
    """
    validate.choice("kind", kind, KINDS)
    validate.positive_int("n", n)
    if kind == "seed":
        m = seed_masks(n, bands, dtype=dtype, device=device)
        if half:
            if n % 2:
                raise ValueError("the seed's masks are not Hermitian-symmetric for odd n (its fftshift); use half=False")
            m = m[..., : n // 2 + 1]
        return m
    r = radius(n, dtype=torch.float64, device=device)  # full plane, then sliced: bit-identical halves
    low = [lowpass(r, c, kind, width) for c in _cutoffs(bands)]
    parts = [low[0]] + [b - a for a, b in zip(low, low[1:])] + [1 - low[-1]]
    m = torch.stack(parts).clamp(0, 1).to(dtype)
    return m[..., : n // 2 + 1] if half else m


_masks = masks  # for functions whose ``masks`` argument hides this one


def seed_masks(n: int, bands: int | Sequence[float] = 3, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """The seed's masks, (M, N, N), line for line from §11.1 ``_create_freq_masks``.

    ``sigmoid(20 (d - low)) * sigmoid(20 (high - d))`` per band, with ``d`` the radius over
    ``min(N//2, N//2)`` and band edges :func:`seed_bounds`. They do not sum to one: at DC
    the band-0 factor ``sigmoid(20 * 0) = 1/2`` halves the weight, and the last band's
    ``sigmoid(20 (1 - d))`` drops the corners ``d > 1``. The seed shifts its centred grid
    with ``fftshift`` where ``ifftshift`` is meant: the same for even N, off by one bin for
    odd N (band 0 then peaks at frequency (-1, -1), not at DC).
    """
    validate.positive_int("n", n)
    if n < 2:
        raise ValueError(f"the seed's masks need n >= 2 (they divide by n // 2), got {n}")
    bounds = seed_bounds(bands)
    cy = cx = n // 2
    y = torch.arange(n, device=device).float() - cy
    x = torch.arange(n, device=device).float() - cx
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    d = torch.fft.fftshift(torch.sqrt(xx ** 2 + yy ** 2) / min(cx, cy))
    m = [torch.sigmoid(20 * (d - lo)) * torch.sigmoid(20 * (hi - d)) for lo, hi in zip(bounds[:-1], bounds[1:])]
    return torch.stack(m).to(dtype)


def _fields(x, name: str = "x", ranks: tuple = (3, 4), what: str = "(B, T, N, N) or (T, N, N)"):
    """Local check of a field tensor (``validate.sequence`` covers only 2-D/3-D sequences)."""
    if not isinstance(x, torch.Tensor):
        if not hasattr(x, "shape"):
            raise ValueError(f"{name} must be a tensor or array of shape {what}, got {type(x).__name__}")
        x = torch.as_tensor(x)
    shape = tuple(x.shape)
    if x.ndim not in ranks or shape[-1] != shape[-2] or shape[-1] < 4:
        raise ValueError(f"{name} must have shape {what} with square N x N frames, N >= 4, got shape {shape}")
    if x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{name} must be real (float32 or float64), got dtype {x.dtype}")
    if x.dtype != torch.float64:
        x = x.to(torch.float32)
    validate.check_finite(x, name)
    return x


def decompose(x, bands: int | Sequence[float] = 3, masks: str | torch.Tensor = "cosine", *,
              width: float = 0.3) -> torch.Tensor:
    """Split ``x: (T, N, N)`` or ``(B, T, N, N)`` into real bands ``(M, T, N, N)`` / ``(B, M, T, N, N)``.

    ``masks``: a kind of :data:`KINDS` (with ``bands``, ``width`` as in :func:`masks`) or a
    mask tensor (M, N, N) or (M, N, N//2+1). Half-plane masks use ``rfft2``/``irfft2``; full
    ones ``fft2``, multiply, ``ifft2``, real part — the seed's ``decompose`` (§11.1).
    ``"seed"`` takes the full path exactly as the seed does. float32 unless ``x`` is float64.
    """
    x = _fields(x)
    unbatched = x.ndim == 3
    xb = x[None] if unbatched else x
    n = xb.shape[-1]
    if isinstance(masks, str):
        validate.choice("masks", masks, KINDS)
        m = _masks(n, bands, masks, width=width, half=masks != "seed", dtype=xb.dtype, device=xb.device)
    elif isinstance(masks, torch.Tensor):
        m = masks
        if m.ndim != 3 or m.shape[1] != n or m.shape[2] not in (n, n // 2 + 1) or m.is_complex():
            raise ValueError(f"mask tensor must be real with shape (M, {n}, {n}) or (M, {n}, {n // 2 + 1}), got {tuple(m.shape)}")
        validate.check_finite(m, "masks")
        m = m.to(dtype=xb.dtype, device=xb.device)
    else:
        raise ValueError(f"masks must be one of {KINDS} or a mask tensor, got {type(masks).__name__}")
    if m.shape[2] == n:
        out = torch.fft.ifft2(torch.fft.fft2(xb)[:, None] * m[None, :, None]).real
    else:
        out = torch.fft.irfft2(torch.fft.rfft2(xb)[:, None] * m[None, :, None], s=(n, n))
    return out[0] if unbatched else out


def band_limit(fields: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Filter field i by mask i: ``fields (B, M, N, N)``, ``masks (M, N, N)`` or ``(M, N, N//2+1)``
    -> ``(B, M, N, N)``, the diagonal of :func:`decompose` (band i keeps only what mask i passes).

    The model uses it so that each manifold's predicted change lies in its own band (§4.1: band i
    "carries" the frequencies of mask i); with a partition of unity the sum over bands of a field
    that is the same in every band is that field.
    """
    if fields.ndim != 4 or masks.ndim != 3 or fields.shape[1] != masks.shape[0]:
        raise ValueError(f"band_limit takes fields (B, M, N, N) and masks (M, N, N) or (M, N, N//2+1), "
                         f"got {tuple(fields.shape)} and {tuple(masks.shape)}")
    n = fields.shape[-1]
    m = masks.to(dtype=fields.dtype, device=fields.device)
    if m.shape[2] == n:
        return torch.fft.ifft2(torch.fft.fft2(fields) * m[None]).real
    return torch.fft.irfft2(torch.fft.rfft2(fields) * m[None], s=(n, n))


def synthesize(bands: torch.Tensor) -> torch.Tensor:
    """Sum the bands (§11.1 ``synthesize``): ``(M, T, N, N) -> (T, N, N)``, ``(B, M, T, N, N) -> (B, T, N, N)``."""
    b = _fields(bands, "bands", (4, 5), "(B, M, T, N, N) or (M, T, N, N)")
    return b.sum(dim=-4)


def band_energy(bands: torch.Tensor) -> torch.Tensor:
    """Energy per band, the sum of squares over (T, N, N): ``(M, T, N, N) -> (M,)``, batched ``(B, M)``.

    With a partition of unity ``sum_i m_i = 1`` and ``m_i >= 0``, ``sum_i m_i^2 <= 1``: the band
    energies sum to at most the input energy, with equality iff the masks are 0/1 where the
    input has energy; the energy of the sum of bands is the input energy (Parseval).
    """
    b = _fields(bands, "bands", (4, 5), "(B, M, T, N, N) or (M, T, N, N)")
    return (b ** 2).sum(dim=(-3, -2, -1))


def smooth_field(t: int, n: int, sigma: float = 4.0, *, generator: torch.Generator | None = None,
                 dtype=torch.float32) -> torch.Tensor:
    """A smooth random field (T, N, N): white noise convolved (periodically) with a Gaussian of ``sigma`` pixels."""
    validate.positive_int("t", t)
    validate.positive_int("n", n)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    w = torch.randn((t, n, n), generator=generator, dtype=torch.float64)
    f2 = (radius(n, half=True, dtype=torch.float64) / 2) ** 2
    return torch.fft.irfft2(torch.fft.rfft2(w) * torch.exp(-2 * math.pi ** 2 * sigma ** 2 * f2), s=(n, n)).to(dtype)


def mask_report(n: int = 64, bands: int | Sequence[float] = 3, masks: str | torch.Tensor = "seed", *,
                width: float = 0.3, seed: int = 0, frames: int = 8, sigma: float = 4.0,
                dtype=torch.float64) -> dict:
    """How far a mask set is from a partition of unity (issue 9, "Facts about the seed's own code").

    Returns a dict: ``sum_min``/``sum_max`` of ``S = sum_i m_i`` over the full N x N plane,
    ``dc_weight`` = S at DC, ``uncovered`` = fraction of frequency bins with S < 1/2 (no
    band keeps even half the coefficient), ``off_1pct`` = fraction with |S - 1| > 0.01,
    ``corner_area`` = fraction with r > 1, and the relative L2 loss
    ``|synthesize(decompose(x)) - x| / |x|`` for white noise (``white_loss``; its expectation
    ``white_loss_expected = sqrt(mean (1 - S)^2)``) and for :func:`smooth_field` with
    ``sigma`` pixels (``smooth_loss``), both (frames, N, N) from ``torch.Generator(seed)``.
    """
    validate.positive_int("frames", frames)
    if isinstance(masks, str):
        validate.choice("masks", masks, KINDS)
        m = _masks(n, bands, masks, width=width, dtype=dtype)
    else:
        m = masks.to(dtype)
    if m.ndim != 3 or m.shape[-1] != m.shape[-2]:
        raise ValueError(f"mask_report needs full-plane masks (M, N, N), got shape {tuple(m.shape)}")
    n = m.shape[-1]
    s = m.sum(0)
    g = torch.Generator().manual_seed(seed)
    white = torch.randn((frames, n, n), generator=g, dtype=dtype)
    smooth = smooth_field(frames, n, sigma, generator=g, dtype=dtype)

    def loss(x):
        return float((synthesize(decompose(x, masks=m)) - x).norm() / x.norm())

    return {
        "n": n, "bands": int(m.shape[0]), "masks": masks if isinstance(masks, str) else "tensor",
        "sum_min": float(s.min()), "sum_max": float(s.max()), "dc_weight": float(s[0, 0]),
        "uncovered": float((s < 0.5).double().mean()), "off_1pct": float(((s - 1).abs() > 0.01).double().mean()),
        "corner_area": float((radius(n, dtype=torch.float64) > 1).double().mean()),
        "white_loss": loss(white), "white_loss_expected": float(((1 - s) ** 2).mean().sqrt()),
        "smooth_loss": loss(smooth),
    }
