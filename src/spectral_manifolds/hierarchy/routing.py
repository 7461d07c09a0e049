"""Routers of seed 004 (§5.1-5.4, §9.1, §11.1 ``LearnedRouter``): the seed's and two that move band edges.

Layout: fields ``x: (T, N, N)`` or ``(B, T, N, N)``; bands and gates in the layout of
:func:`~spectral_manifolds.hierarchy.bands.decompose`, ``(M, T, N, N)`` or
``(B, M, T, N, N)``, so that ``spatial_gate(decompose(x), gates)`` is the seed's
``bands[i] * gates[:, i:i+1]``. The regularizers of
:mod:`~spectral_manifolds.hierarchy.routing_losses` take these gates with ``dim=-4``.

- :func:`gumbel_softmax`: ``F.gumbel_softmax``'s semantics (soft sample, or one-hot with
  straight-through gradients) without its NaN: torch draws ``G = -log E`` with
  ``E ~ Exp(1)``, and ``E = 0`` gives ``G = inf`` and a NaN softmax; ``tau = 0`` divides by
  zero. Here ``G = -log(-log U)`` with U clamped into ``[tiny, 1 - eps]`` (G in about
  [-4.5, 15.9] in float32), ``tau > 0`` is checked, and the logits are shifted by their max
  before the division by ``tau``, so no ``inf - inf`` can arise for finite logits.
- :class:`SeedRouter`: the seed's ``LearnedRouter`` (conv 3x3 -> ReLU -> conv 1x1 -> M
  logits per pixel, a learnable temperature; soft softmax, or hard Gumbel in training),
  with the safe Gumbel and the temperature clamped at ``min_temperature`` (the seed's
  ``nn.Parameter`` temperature can be driven to 0 or below by the optimizer).
- :func:`spatial_gate`: how the seed applies gates: a per-pixel gain multiplied into
  bands that are already band-filtered. Band i's routed input depends only on the input's
  Fourier coefficients where mask i is non-zero, whatever the gate: the gate cannot move a
  band boundary (a non-constant gate does modulate, i.e. spread, the band's spectrum).
- :class:`LearnableBandEdges`: cut-offs ``c_1 < ... < c_{M-1}`` as parameters (cumulative
  softplus of free parameters, so increasing for any values), masks from
  :func:`~spectral_manifolds.hierarchy.bands.lowpass`, a partition of unity for any edges;
  initialized at §4.2's cut-offs (the §5.3 / §9.1 initialization bias).
- :class:`ModeRouter`: a softmax over the M manifolds at every Fourier mode (``rfft2``
  half plane), a partition of unity by construction; its logits are initialized to
  ``bias * log(m_i)`` of the §4.2 partition masks (the §5.3 bias), so it starts at the
  fixed bands and may learn any boundary, not only a radial one.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from spectral_manifolds import validate
from spectral_manifolds.hierarchy.bands import _cutoffs, _fields, decompose, lowpass, masks, radius

__all__ = ["gumbel_noise", "gumbel_softmax", "SeedRouter", "spatial_gate", "LearnableBandEdges", "ModeRouter"]


def _check_tau(tau) -> None:
    if isinstance(tau, torch.Tensor):
        bad = tau.numel() == 0 or tau.is_complex() or not bool(torch.isfinite(tau).all() and (tau > 0).all())
    else:
        bad = isinstance(tau, bool) or not isinstance(tau, (int, float)) or not (math.isfinite(tau) and tau > 0)
    if bad:
        raise ValueError(f"tau must be a finite number > 0 (a float or a tensor of them), got {tau!r}")


def gumbel_noise(shape, *, dtype=torch.float32, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel samples ``-log(-log U)``, U uniform clamped into ``[tiny, 1 - eps]``: always finite."""
    fi = torch.finfo(dtype)
    u = torch.rand(shape, dtype=dtype, device=device, generator=generator)
    return -torch.log(-torch.log(u.clamp(fi.tiny, 1 - fi.eps)))


def gumbel_softmax(logits: torch.Tensor, tau=1.0, hard: bool = False, dim: int = -1, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """NaN-free ``F.gumbel_softmax``: same shape, same distribution, same straight-through.

    ``logits: (..., M, ...)`` finite, the categories on ``dim``; ``tau``: float or tensor
    (broadcastable, e.g. the seed's ``(1,)`` parameter), > 0. Returns ``softmax((logits +
    G) / tau)`` or, if ``hard``, its argmax one-hot ``y_hard - y.detach() + y`` (value one-hot,
    gradient of the soft sample), as torch does (Jang et al. 2017; Maddison et al. 2017).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.ndim == 0:
        raise ValueError(f"logits must be a floating tensor with a category axis, got {getattr(logits, 'shape', type(logits).__name__)}")
    if isinstance(dim, bool) or not isinstance(dim, int) or not -logits.ndim <= dim < logits.ndim:
        raise ValueError(f"dim={dim!r} is out of range for logits of shape {tuple(logits.shape)}")
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("logits hold NaN or infinite entries")
    _check_tau(tau)
    z = logits + gumbel_noise(logits.shape, dtype=logits.dtype, device=logits.device, generator=generator)
    z = z - z.amax(dim, keepdim=True).detach()  # max 0: z / tau is never +inf
    y = torch.softmax(z / tau, dim)
    if not hard:
        return y
    y_hard = torch.zeros_like(y).scatter_(dim, y.argmax(dim, keepdim=True), 1.0)
    return y_hard - y.detach() + y


def _frames(x) -> tuple[torch.Tensor, bool]:
    """Fields ``(T, N, N)`` or ``(B, T, N, N)`` -> ``((B, T, N, N), was_unbatched)``."""
    x = _fields(x)
    return (x[None], True) if x.ndim == 3 else (x, False)


class SeedRouter(nn.Module):
    """The seed's ``LearnedRouter`` (§11.1): per-pixel gates over M manifolds from the raw frame.

    ``forward(x, hard=False)``: ``x: (T, N, N)`` or ``(B, T, N, N)`` (the seed's ``[B, 1, H, W]``
    current frame is ``(B, 1, N, N)``), each frame routed on its own; returns gates
    ``(M, T, N, N)`` / ``(B, M, T, N, N)`` summing to 1 over M: ``softmax(logits / temperature)``,
    or, when ``hard`` and training, the hard Gumbel-softmax with straight-through gradients
    (:func:`gumbel_softmax`, not the NaN-prone ``F.gumbel_softmax``). Convolutions as the
    seed's (zero padding). ``min_temperature`` is the only change to its numbers.
    """

    def __init__(self, n_manifolds: int = 3, dim: int = 32, *, min_temperature: float = 1e-2):
        super().__init__()
        validate.positive_int("dim", dim)
        if isinstance(n_manifolds, bool) or not isinstance(n_manifolds, int) or n_manifolds < 2:
            raise ValueError(f"n_manifolds must be an integer >= 2, got {n_manifolds!r}")
        _check_tau(min_temperature)
        self.n_manifolds, self.min_temperature = n_manifolds, float(min_temperature)
        self.router = nn.Sequential(nn.Conv2d(1, dim, 3, padding=1), nn.ReLU(), nn.Conv2d(dim, n_manifolds, 1))
        self.temperature = nn.Parameter(torch.ones(1))

    def tau(self) -> torch.Tensor:
        """The temperature in use, ``temperature`` clamped at ``min_temperature``: (1,)."""
        return self.temperature.clamp_min(self.min_temperature)

    def logits(self, x) -> torch.Tensor:
        """Router logits in the band layout: ``(M, T, N, N)`` or ``(B, M, T, N, N)``."""
        xb, unbatched = _frames(x)
        b, t, n, _ = xb.shape
        z = self.router(xb.reshape(b * t, 1, n, n).to(self.temperature.dtype))
        z = z.reshape(b, t, self.n_manifolds, n, n).transpose(1, 2)
        return z[0] if unbatched else z

    def tempered_logits(self, x) -> torch.Tensor:
        """``logits(x) / tau``: what the soft gates are the softmax of (the router z-loss reads them)."""
        z = self.logits(x)
        return z / self.tau().reshape((1,) * z.ndim)

    def forward(self, x, hard: bool = False, *, generator: torch.Generator | None = None) -> torch.Tensor:
        if hard and self.training:
            z = self.logits(x)
            return gumbel_softmax(z, self.tau().reshape((1,) * z.ndim), hard=True, dim=-4, generator=generator)
        return torch.softmax(self.tempered_logits(x), dim=-4)


def spatial_gate(bands: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """The seed's routing (§5.2, §11.1): ``bands * gates``, a per-pixel gain on band-filtered inputs.

    ``bands: (M, T, N, N)`` or ``(B, M, T, N, N)``; ``gates`` the same rank and M, with T
    equal or 1 (the seed multiplies the current frame's gates into the whole history).
    For any given gate field, band i's output depends only on ``m_i * FFT(x)``: input
    frequencies outside mask i never reach manifold i. The seed's gates are computed from
    the whole frame, so they may depend on any frequency, but only as a gain on band i's
    content; a non-constant gain modulates (spreads) that content's spectrum, it does not
    re-assign input frequencies to another manifold.
    """
    if not isinstance(bands, torch.Tensor) or not isinstance(gates, torch.Tensor):
        raise ValueError("bands and gates must be torch tensors")
    ok = bands.ndim in (4, 5) and gates.ndim == bands.ndim and gates.shape[-4] == bands.shape[-4] \
        and gates.shape[-2:] == bands.shape[-2:] and gates.shape[-3] in (1, bands.shape[-3]) \
        and (bands.ndim == 4 or gates.shape[0] in (1, bands.shape[0]))
    if not ok:
        raise ValueError(f"gates {tuple(gates.shape)} do not fit bands {tuple(bands.shape)}: "
                         "want (M, T|1, N, N) for (M, T, N, N) or (B|1, M, T|1, N, N) for (B, M, T, N, N)")
    return bands * gates


def _inv_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


class LearnableBandEdges(nn.Module):
    """A router that moves band boundaries: learnable cut-offs, partition-of-unity masks.

    ``edges() = min_gap * k + cumsum(softplus(raw))``: ``(M-1,)``, strictly increasing and
    positive for any ``raw``, initialized at ``bands``' cut-offs (2, 3, 4 -> §4.2's; the
    §5.3 / §9.1 bias). ``masks()``: ``m_0 = L(c_1)``, ``m_i = L(c_{i+1}) - L(c_i)``,
    ``m_{M-1} = 1 - L(c_{M-1})`` with ``L = bands.lowpass(kind, width)`` (``"cosine"`` or
    ``"logistic"``; both differentiable in the cut-off), computed in float64:
    ``(M, N, N//2+1)`` (``half``) or ``(M, N, N)``. ``forward(x)``: ``decompose(x, masks)``,
    ``(T, N, N) -> (M, T, N, N)``, ``(B, T, N, N) -> (B, M, T, N, N)``. A cosine edge gets a
    gradient only from modes in its transition ``0.7 c < r < 1.3 c``.
    """

    def __init__(self, n: int, bands: int | Sequence[float] = 3, kind: str = "cosine", *,
                 width: float = 0.3, min_gap: float = 1e-3):
        super().__init__()
        validate.positive_int("n", n)
        validate.choice("kind", kind, ("cosine", "logistic"))
        if not 0 < width < 1:
            raise ValueError(f"width must lie in (0, 1), got {width!r}")
        if not (isinstance(min_gap, (int, float)) and 0 <= min_gap < math.inf):
            raise ValueError(f"min_gap must be a finite number >= 0, got {min_gap!r}")
        self.n, self.kind, self.width, self.min_gap = n, kind, float(width), float(min_gap)
        self.raw = nn.Parameter(torch.zeros(len(_cutoffs(bands))))
        self.set_edges(_cutoffs(bands))

    @property
    def n_bands(self) -> int:
        return self.raw.numel() + 1

    def edges(self) -> torch.Tensor:
        """Cut-offs ``(M-1,)`` in units of Nyquist, strictly increasing."""
        return torch.cumsum(F.softplus(self.raw) + self.min_gap, 0)

    @torch.no_grad()
    def set_edges(self, cutoffs: Sequence[float]) -> None:
        """Put the edges at ``cutoffs`` (M-1 increasing values, gaps > ``min_gap``)."""
        cut = torch.tensor(_cutoffs(cutoffs), dtype=torch.float64)
        gaps = torch.diff(cut, prepend=cut.new_zeros(1)) - self.min_gap
        if cut.numel() != self.raw.numel() or not bool((gaps > 0).all()):
            raise ValueError(f"need {self.raw.numel()} increasing cut-offs with gaps > min_gap={self.min_gap}, got {list(cutoffs)!r}")
        self.raw.copy_(_inv_softplus(gaps).to(self.raw))

    def masks(self, *, half: bool = True, dtype=torch.float32) -> torch.Tensor:
        r = radius(self.n, half=half, dtype=torch.float64, device=self.raw.device)
        low = [lowpass(r, c, self.kind, self.width) for c in self.edges().double()]
        return torch.stack([low[0]] + [b - a for a, b in zip(low, low[1:])] + [1 - low[-1]]).to(dtype)

    def forward(self, x) -> torch.Tensor:
        x = _fields(x)
        if x.shape[-1] != self.n:
            raise ValueError(f"x has N = {x.shape[-1]}, this router was built for n = {self.n}")
        return decompose(x, masks=self.masks(dtype=x.dtype))


class ModeRouter(nn.Module):
    """Gates over Fourier modes: ``softmax_i(logits_i[k])`` per ``rfft2`` mode k, ``(M, N, N//2+1)``.

    Initialized as ``logits_i = bias * log(max(m_i, floor))`` with ``m`` the §4.2 partition
    masks ``bands.masks(n, bands, kind)``: the gates start at ``m^bias / sum_j m_j^bias``,
    i.e. at the fixed bands for ``bias = 1`` (up to ``floor``), sharper for ``bias > 1``,
    uniform for ``bias = 0`` (§5.3 "initialization bias"). The gates sum to 1 at
    every mode for any logits, so ``synthesize(forward(x)) == x``. ``forward(x)``: as
    :class:`LearnableBandEdges`. Gates may be non-radial and non-Hermitian on the half
    plane's self-conjugate columns (``irfft2`` keeps their Hermitian part).
    """

    def __init__(self, n: int, bands: int | Sequence[float] = 3, kind: str = "cosine", *,
                 bias: float = 1.0, floor: float = 1e-3):
        super().__init__()
        validate.positive_int("n", n)
        if not (math.isfinite(bias) and bias >= 0 and 0 < floor < 1):
            raise ValueError(f"bias must be finite and >= 0 and floor in (0, 1), got bias={bias!r}, floor={floor!r}")
        m = masks(n, bands, kind, half=True, dtype=torch.float64)
        self.n = n
        self.logits = nn.Parameter((bias * torch.log(m.clamp_min(floor))).float())

    def masks(self, *, dtype=torch.float32) -> torch.Tensor:
        return torch.softmax(self.logits.double(), 0).to(dtype)

    def forward(self, x) -> torch.Tensor:
        x = _fields(x)
        if x.shape[-1] != self.n:
            raise ValueError(f"x has N = {x.shape[-1]}, this router was built for n = {self.n}")
        return decompose(x, masks=self.masks(dtype=x.dtype))
