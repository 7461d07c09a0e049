"""A small 2-D Fourier Neural Operator, a next-frame baseline for seed 004's verdict (issue 9, chapter 4).

Li et al. 2021, "Fourier Neural Operator for Parametric Partial Differential Equations" (ICLR),
in the form of their 2-D time-stepping example (the history frames stacked as input channels):

- **lift**: a 1x1 conv from the ``H`` context frames (channels) to ``width`` channels;
- ``layers`` **Fourier layers** ``v <- sigma(K v + W v)``: ``K`` a :class:`SpectralConv2d` (an
  ``rfft2``, a complex ``width x width`` matrix per retained Fourier mode, ``irfft2``), ``W`` a
  1x1 conv; ``sigma`` = GELU, not applied after the last layer (as Li et al.);
- **project**: 1x1 conv to ``hidden`` channels, GELU, 1x1 conv to one channel.

With ``residual=True`` (default, as the other learned baselines in :mod:`baselines` and the
hierarchical model) the output is the last frame plus the predicted change. Li et al. also feed the
grid coordinates as two extra channels; they are left out here: the fields of Part IV are periodic
and translation-equivariant, so position carries no information (and the model stays equivariant).

**The retained modes** of an ``N x N`` grid: ``rfft2`` coefficients ``X[ky, kx]`` with
``kx in [0, modes)`` (the half plane) and ``ky in [0, modes)`` or ``ky in [N - modes, N)`` (negative
frequencies): two corner blocks, ``2 modes^2`` complex weights per (in, out) pair. Needs
``N >= 2 modes``. Weights are stored as real tensors ``(..., 2)`` (real, imaginary) and viewed as
complex in ``forward``, so ``sum(p.numel())`` counts real numbers, the count that the other
baselines and :func:`~spectral_manifolds.cvkan.baselines.width_for_params` use, and no complex
parameter reaches an optimizer or a ``GradScaler``.

**Resolution invariance** (tested): ``rfft2``/``irfft2`` with their default normalization scale
by ``N^2`` and ``1 / N^2``, so for an input band-limited to the retained modes, the layer's output
on a ``2N`` grid, sampled every other pixel, equals its output on the ``N`` grid.

Parameters: lift ``H w + w``; per layer ``4 modes^2 w^2`` (spectral, real count) + ``w^2 + w``;
projection ``w h + h + h + 1``. :func:`fno_parameters` gives the closed form (tested).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from spectral_manifolds import validate
from spectral_manifolds.hierarchy.bands import _fields

__all__ = ["SpectralConv2d", "FNO2d", "fno_parameters"]


class SpectralConv2d(nn.Module):
    """Fourier integral operator on the lowest ``modes`` modes: ``(B, C_in, N, N) -> (B, C_out, N, N)``.

    ``out = irfft2(R . rfft2(x))`` with ``R[c_in, c_out, ky, kx]`` complex on the two corner blocks of
    the module docstring and zero elsewhere (higher modes are dropped). ``weight: (2, C_in, C_out,
    modes, modes, 2)``: corner (low ky, high ky), channels, modes, (real, imaginary); initialized as Li
    et al., uniform in ``[0, 1 / (C_in C_out))``.
    """

    def __init__(self, in_channels: int, out_channels: int, modes: int):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("modes", modes)):
            validate.positive_int(name, v)
        self.in_channels, self.out_channels, self.modes = in_channels, out_channels, modes
        scale = 1.0 / (in_channels * out_channels)
        self.weight = nn.Parameter(scale * torch.rand(2, in_channels, out_channels, modes, modes, 2))

    def multipliers(self) -> torch.Tensor:
        """The complex weights ``(2, C_in, C_out, modes, modes)``: corner 0 is ``ky = 0..modes-1``,
        corner 1 is ``ky = N-modes..N-1``; ``kx = 0..modes-1`` in both."""
        return torch.view_as_complex(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (B, {self.in_channels}, N, N), got {tuple(x.shape)}")
        n, m = x.shape[-1], self.modes
        if x.shape[-2] != n or n < 2 * m:
            raise ValueError(f"x must be square with N >= 2 modes = {2 * m}, got {tuple(x.shape[-2:])}")
        xf = torch.fft.rfft2(x)  # (B, C, N, N//2+1)
        w = self.multipliers().to(xf.dtype)
        out = xf.new_zeros(x.shape[0], self.out_channels, n, n // 2 + 1)
        out[:, :, :m, :m] = torch.einsum("bixy,ioxy->boxy", xf[:, :, :m, :m], w[0])
        out[:, :, n - m:, :m] = torch.einsum("bixy,ioxy->boxy", xf[:, :, n - m:, :m], w[1])
        return torch.fft.irfft2(out, s=(n, n))


def fno_parameters(frames: int, width: int, modes: int, layers: int, hidden: int) -> int:
    """Closed-form parameter count (real numbers) of :class:`FNO2d` (module docstring)."""
    w = width
    return frames * w + w + layers * (4 * modes ** 2 * w ** 2 + w ** 2 + w) + w * hidden + 2 * hidden + 1


class FNO2d(nn.Module):
    """A 2-D FNO on the H context frames stacked as channels: (B, H, N, N) -> (B, N, N) (module docstring).

    Args:
        frames: H, the context length (the lift's input channels).
        width: channels of the Fourier layers.
        modes: retained modes per axis (needs N >= 2 modes at run time).
        layers: number of Fourier layers (>= 1).
        hidden: channels of the projection (default ``2 * width``).
        residual: predict the last frame plus a change.
    """

    def __init__(self, frames: int, width: int = 16, *, modes: int = 4, layers: int = 2, hidden: int | None = None,
                 residual: bool = True):
        super().__init__()
        hidden = 2 * width if hidden is None else hidden
        for name, v in (("frames", frames), ("width", width), ("modes", modes), ("layers", layers), ("hidden", hidden)):
            validate.positive_int(name, v)
        self.frames, self.width, self.modes, self.n_layers, self.hidden = frames, width, modes, layers, hidden
        self.residual = bool(residual)
        self.lift = nn.Conv2d(frames, width, 1)
        self.spectral = nn.ModuleList([SpectralConv2d(width, width, modes) for _ in range(layers)])
        self.pointwise = nn.ModuleList([nn.Conv2d(width, width, 1) for _ in range(layers)])
        self.proj = nn.Sequential(nn.Conv2d(width, hidden, 1), nn.GELU(), nn.Conv2d(hidden, 1, 1))

    def forward(self, history) -> torch.Tensor:
        x = _fields(history, "history", (3, 4), "(B, H, N, N) or (H, N, N)")
        unb = x.ndim == 3
        xb = x[None] if unb else x
        if xb.shape[1] != self.frames:
            raise ValueError(f"this model stacks {self.frames} frames as channels, got a history of {xb.shape[1]}")
        p = self.lift.weight
        xb = xb.to(dtype=p.dtype, device=p.device)
        v = self.lift(xb)
        for i, (k, w) in enumerate(zip(self.spectral, self.pointwise)):
            v = k(v) + w(v)
            if i < self.n_layers - 1:
                v = F.gelu(v)
        out = self.proj(v)[:, 0] + (xb[:, -1] if self.residual else 0)
        return out[0] if unb else out
