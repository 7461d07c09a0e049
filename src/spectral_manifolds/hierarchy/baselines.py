"""Baselines for next-frame prediction, the yardstick of seed 004's architecture (issue 9, chapter 4).

Every predictor maps a history ``(B, H, N, N)`` (or ``(H, N, N)``) to the next frame ``(B, N, N)``.

Classical (no training), from :mod:`~spectral_manifolds.hierarchy.fields` (re-used, not copied):

- :func:`persistence`: the last frame, exact on a constant field;
- :func:`linear_extrapolation`: ``2 x_{H-1} - x_{H-2}`` per pixel, exact on fields linear in time;
- :func:`ls_multiplier`: a complex multiplier per Fourier mode, fitted by least squares on the
  context itself, ``a_k = sum_t X_k(t+1) conj X_k(t) / sum_t |X_k(t)|^2``, applied to the last frame
  (:func:`fields.spectral_ar1`). A periodic translation by ``v`` pixels per frame multiplies mode k by
  ``exp(-2 pi i k.v / N)`` every frame, so the fit is exact for any translating field (tested);
- :class:`SpectralAR1`: the same multiplier fitted once on training sequences.

Learned, small, with a width that sets the parameter count (:func:`width_for_params` of
:mod:`spectral_manifolds.cvkan.baselines`, a binary search over widths, re-used):

- :class:`ConvLSTM` (Shi et al. 2015): one ConvLSTM cell of ``width`` channels run over the frames,
  a 1x1 readout of the last hidden state; ``4 w (w + 1) k^2 + 4 w + w + 1`` parameters (k = 3).
- :class:`UNet`, SimVP-style (Gao et al. 2022): the H frames stacked as channels, a two-level
  U-Net (``w`` then ``2w`` channels, a stride-2 down-sampling, bilinear up-sampling, one skip), GELU.
- :class:`~spectral_manifolds.hierarchy.fno.FNO2d` (Li et al. 2021): the H frames lifted as
  channels, spectral convolutions on the lowest ``modes`` Fourier modes plus 1x1 convs, GELU.

All pad circularly or are periodic by construction (periodic fields) and, with ``residual=True``
(default, as the hierarchical model), predict the last frame plus a change. :func:`matched` builds
any of them at a target parameter count (within ``tol``, default 5 %); :func:`start_at_persistence`
zeroes a model's last layer so that a residual model starts exactly at persistence.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from spectral_manifolds import validate
from spectral_manifolds.cvkan.baselines import width_for_params
from spectral_manifolds.hierarchy.bands import _fields
from spectral_manifolds.hierarchy.fields import SpectralAR1, linear_extrapolation, persistence, spectral_ar1
from spectral_manifolds.hierarchy.fno import FNO2d

__all__ = ["persistence", "linear_extrapolation", "ls_multiplier", "SpectralAR1", "CLASSICAL",
           "ConvLSTM", "UNet", "FNO2d", "LEARNED", "build", "matched", "width_for_params", "start_at_persistence"]


def ls_multiplier(history, steps: int = 1) -> torch.Tensor:
    """Least-squares complex multiplier per Fourier mode, fitted on ``history`` (H >= 2): (B, H, N, N) -> (B, N, N).

    ``steps`` > 1 applies the multiplier ``steps`` times (the k-frame forecast of one fit).
    """
    return spectral_ar1(history, steps)


#: The classical predictors by name (history -> next frame).
CLASSICAL = {"persistence": persistence, "linear": linear_extrapolation, "ls_multiplier": ls_multiplier}


def _history(x, module: nn.Module, frames: int | None = None) -> tuple[torch.Tensor, bool]:
    x = _fields(x, "history", (3, 4), "(B, H, N, N) or (H, N, N)")
    xb = x[None] if x.ndim == 3 else x
    if frames is not None and xb.shape[1] != frames:
        raise ValueError(f"this model stacks {frames} frames as channels, got a history of {xb.shape[1]}")
    p = next(module.parameters())
    return xb.to(dtype=p.dtype, device=p.device), x.ndim == 3


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, padding_mode="circular")


class ConvLSTM(nn.Module):
    """One ConvLSTM cell over the history: (B, H, N, N) -> (B, N, N) (module docstring).

    Gates ``i, f, o, g = conv_k([x_t, h_{t-1}])`` with sigmoid / tanh, ``c_t = f c_{t-1} + i g``,
    ``h_t = o tanh(c_t)``; prediction ``conv_1x1(h_H)`` (+ the last frame if ``residual``).
    """

    def __init__(self, width: int = 16, kernel_size: int = 3, *, residual: bool = True):
        super().__init__()
        validate.positive_int("width", width)
        validate.positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.width, self.residual = width, bool(residual)
        self.gates = _conv(1 + width, 4 * width, kernel_size)
        self.readout = nn.Conv2d(width, 1, 1)

    def forward(self, history) -> torch.Tensor:
        x, unb = _history(history, self)
        b, t, n, _ = x.shape
        h = x.new_zeros(b, self.width, n, n)
        c = torch.zeros_like(h)
        for s in range(t):
            i, f, o, g = self.gates(torch.cat([x[:, s, None], h], 1)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        out = self.readout(h)[:, 0] + (x[:, -1] if self.residual else 0)
        return out[0] if unb else out


class UNet(nn.Module):
    """A SimVP-style U-Net on the H frames stacked as channels: (B, H, N, N) -> (B, N, N) (module docstring).

    ``width`` channels at full resolution, ``inner`` (default ``2 * width``) at half resolution.
    """

    def __init__(self, frames: int, width: int = 16, *, inner: int | None = None, residual: bool = True):
        super().__init__()
        validate.positive_int("frames", frames)
        validate.positive_int("width", width)
        w, v = width, 2 * width if inner is None else inner
        validate.positive_int("inner", v)
        self.frames, self.width, self.inner, self.residual = frames, width, v, bool(residual)
        self.enc = nn.Sequential(_conv(frames, w), nn.GELU(), _conv(w, w), nn.GELU())
        self.down = nn.Sequential(_conv(w, v, stride=2), nn.GELU(), _conv(v, v), nn.GELU())
        self.up = nn.Sequential(_conv(v, w), nn.GELU())
        self.dec = nn.Sequential(_conv(2 * w, w), nn.GELU(), nn.Conv2d(w, 1, 1))

    def forward(self, history) -> torch.Tensor:
        x, unb = _history(history, self, self.frames)
        e = self.enc(x)
        d = self.down(e)
        u = self.up(F.interpolate(d, size=e.shape[-2:], mode="bilinear", align_corners=False))
        out = self.dec(torch.cat([e, u], 1))[:, 0] + (x[:, -1] if self.residual else 0)
        return out[0] if unb else out


#: The learned baselines by name.
LEARNED = ("convlstm", "unet", "fno")


def _make(kind: str, width: int, frames: int, **kwargs) -> nn.Module:
    if kind == "convlstm":
        return ConvLSTM(width, **kwargs)
    return UNet(frames, width, **kwargs) if kind == "unet" else FNO2d(frames, width, **kwargs)


def build(kind: str, width: int, frames: int, **kwargs) -> nn.Module:
    """A learned baseline of ``kind`` (:data:`LEARNED`) and ``width`` for histories of ``frames`` frames."""
    validate.choice("kind", kind, LEARNED)
    return _make(kind, width, frames, **kwargs)


def matched(kind: str, target: int, frames: int, *, tol: float = 0.05, max_width: int = 512, **kwargs) -> nn.Module:
    """The learned baseline whose parameter count is closest to ``target`` (``ValueError`` beyond ``tol``).

    ConvLSTM: the width. U-Net: the width with ``inner = 2 width`` closest to ``target``, then
    ``inner`` in ``[width / 2, 8 width]`` (one width step changes the count by about ``4 / width``;
    an inner step by about half that), so small targets can be matched too. FNO: the largest width
    whose count with ``hidden = 1`` stays within ``target``, then ``hidden`` (up to ``target / (width + 2)``; a
    hidden step adds ``width + 2`` parameters).
    """
    validate.choice("kind", kind, LEARNED)
    if kind == "convlstm":
        w = width_for_params(lambda w: ConvLSTM(w, **kwargs), target, 1, max_width, tol=tol)
        return ConvLSTM(w, **kwargs)
    if kind == "unet":
        w = width_for_params(lambda w: UNet(frames, w, **kwargs), target, 1, max_width)
        v = width_for_params(lambda v: UNet(frames, w, inner=v, **kwargs), target, max(1, w // 2), 8 * w, tol=tol)
        return UNet(frames, w, inner=v, **kwargs)
    def fno(w, h=1):
        return FNO2d(frames, w, hidden=h, **kwargs)
    w = width_for_params(fno, target, 1, max_width)
    w = w - 1 if w > 1 and sum(p.numel() for p in fno(w).parameters()) > target else w  # leave room for hidden
    h = width_for_params(lambda h: fno(w, h), target, 1, max(64 * w, target // (w + 2) + 1), tol=tol)
    return fno(w, h)


@torch.no_grad()
def start_at_persistence(module: nn.Module) -> nn.Module:
    """Zero the last layer of a residual model (in place; returns it): it then predicts the last frame.

    ConvLSTM: the readout; U-Net: the last decoder conv; FNO: the last projection conv; the
    hierarchical model: every decoder (:meth:`HierarchicalSpectralModel.zero_decoders`). The §9.1.3
    "identity-like" start, given to every learned model alike (chapter "Per-band learning dynamics").
    """
    if hasattr(module, "zero_decoders"):
        return module.zero_decoders()
    if not getattr(module, "residual", False):
        raise ValueError(f"{type(module).__name__} is not a residual model: zeroing its output would predict 0")
    last = {ConvLSTM: lambda m: m.readout, UNet: lambda m: m.dec[-1], FNO2d: lambda m: m.proj[-1]}.get(type(module))
    if last is None:
        raise ValueError(f"start_at_persistence does not know {type(module).__name__}")
    layer = last(module)
    layer.weight.zero_()
    layer.bias.zero_()
    return module
