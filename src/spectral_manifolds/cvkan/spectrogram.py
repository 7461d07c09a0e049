"""Spectrogram input for the CV-KAN: complex STFT frames as tokens, and a real-pair twin of the complex linear layer.

Seed 003_65b12435998d9bd4.txt, "2026-01-22 Audio Training Performance Optimization": the
audio model computed an "STFT on every forward pass", with "513 bins" (``n_fft = 1024``) and
a ``speech_commands_fast`` preset of ``n_fft = 512`` (257 bins); precomputing the STFT was
"expected" to give a "2-3x speedup". Issue 8, chapter 7, measures that.

* :func:`stft_tokens` -- waveforms ``(B, L)`` real -> complex STFT frames ``(B, T, F)``:
  ``torch.stft`` (Hann window of ``n_fft``, ``hop``, ``center=True``, ``normalized=True``,
  ``return_complex=True``), transposed so that **frames are tokens** and the ``F = n_fft/2 + 1``
  frequency bins are their channels. :func:`precompute_tokens` runs it once over a data set.
* :class:`RealPairLinear` -- :class:`~spectral_manifolds.cvkan.layers.ComplexLinear` written
  with two float32 tensors per complex one: for ``z = a + ib`` and ``W = c + id``,
  ``Re(W z) = c a - d b`` and ``Im(W z) = d a + c b`` (four real matmuls).
  ``RealPairLinear.from_complex`` copies a complex layer's numbers, so the two compute the
  same map (checked to float32 rounding in the tests and in the chapter).
* :class:`SpectrogramFrontEnd` -- bins -> ``d`` complex channels by a learned complex linear
  map (complex or real-pair arithmetic). It takes either waveforms (the STFT runs inside the
  forward: "on the fly") or precomputed frames ``(B, T, F)`` complex, and returns the
  complex tokens ``(B, T, d)`` that :class:`~spectral_manifolds.cvkan.models.CVKAN` (built
  with ``in_features=None``) or a baseline consumes. :func:`spectrogram_model` chains it with
  such a body.

Why a learned map and not a selection of ``d`` bins: the classes' energy lies anywhere
between 150 Hz and 7 kHz, and a fixed selection of ``d`` of the 257 bins (every 8th, say)
would drop what falls between the chosen bins; a complex linear map can keep (and mix)
every bin for ``2 F d + 2 d`` real parameters.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.layers import ComplexLinear
from spectral_manifolds.cvkan.tokens import check_complex

__all__ = ["ARITHMETIC", "n_bins", "n_frames", "stft_tokens", "precompute_tokens", "RealPairLinear", "SpectrogramFrontEnd", "spectrogram_model"]

ARITHMETIC = ("complex", "real_pair")


def n_bins(n_fft: int) -> int:
    """Frequency bins of a one-sided STFT: ``n_fft // 2 + 1``."""
    validate.positive_int("n_fft", n_fft)
    return n_fft // 2 + 1


def n_frames(length: int, hop: int) -> int:
    """Frames of a ``center=True`` STFT of ``length`` samples: ``1 + length // hop``."""
    validate.positive_int("length", length)
    validate.positive_int("hop", hop)
    return 1 + length // hop


def _check_stft_args(n_fft: int, hop: int) -> None:
    validate.positive_int("n_fft", n_fft)
    validate.positive_int("hop", hop)
    if n_fft < 2 or hop > n_fft:
        raise ValueError(f"need n_fft >= 2 and hop <= n_fft, got n_fft={n_fft}, hop={hop}")


def stft_tokens(x: torch.Tensor, n_fft: int = 512, hop: int = 256) -> torch.Tensor:
    """Complex STFT frames as tokens.

    Args:
        x: real waveforms ``(B, L)``, ``(B, L, 1)`` (what ``train_classifier`` makes of
            ``(N, L)`` arrays) or ``(L,)``.
        n_fft: window and FFT length (Hann window); ``hop``: samples between frames.

    Returns:
        complex64 ``(B, T, F)`` (or ``(T, F)`` for ``(L,)`` input), ``T = 1 + L // hop``,
        ``F = n_fft // 2 + 1``; ``normalized=True`` scales by ``n_fft^(-1/2)``.
    """
    _check_stft_args(n_fft, hop)
    if not isinstance(x, torch.Tensor) or x.is_complex() or not x.is_floating_point():
        raise ValueError(f"x must be a real floating torch.Tensor of waveforms, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (1, 2) or x.shape[-1] < n_fft // 2 + 1:
        raise ValueError(f"x must have shape (B, L), (B, L, 1) or (L,) with L > n_fft/2, got {tuple(x.shape)}")
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    s = torch.stft(x, n_fft, hop_length=hop, window=window, center=True, normalized=True, return_complex=True)
    return s.transpose(-1, -2)


@torch.no_grad()
def precompute_tokens(waves, n_fft: int = 512, hop: int = 256, *, device=None, batch_size: int = 256) -> torch.Tensor:
    """:func:`stft_tokens` over a whole data set, in batches: ``(N, L)`` array or tensor -> ``(N, T, F)`` complex64.

    ``device``: where the STFT runs and the result lives (None: the input's, CPU for numpy).
    """
    validate.positive_int("batch_size", batch_size)
    x = torch.as_tensor(np.asarray(waves, dtype=np.float32) if not isinstance(waves, torch.Tensor) else waves)
    x = x.to(device) if device is not None else x
    if x.ndim != 2:
        raise ValueError(f"waves must have shape (N, L), got {tuple(x.shape)}")
    return torch.cat([stft_tokens(x[i : i + batch_size], n_fft, hop) for i in range(0, len(x), batch_size)])


class RealPairLinear(nn.Module):
    """``ComplexLinear`` in real-pair arithmetic: ``(a, b) -> (c a - d b + b_re, d a + c b + b_im)``.

    ``weight_re``, ``weight_im``: (d_out, d_in) float32; ``bias_re``, ``bias_im``: (d_out,).
    Shapes: ``forward(re, im)`` with ``re, im: (..., d_in)`` real -> ``(re, im)`` of ``(..., d_out)``.
    """

    def __init__(self, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        validate.positive_int("d_in", d_in)
        validate.positive_int("d_out", d_out)
        self.d_in, self.d_out = d_in, d_out
        a = math.sqrt(3.0 / (2.0 * d_in))  # ComplexLinear's init
        self.weight_re = nn.Parameter(torch.empty(d_out, d_in).uniform_(-a, a))
        self.weight_im = nn.Parameter(torch.empty(d_out, d_in).uniform_(-a, a))
        self.bias_re = nn.Parameter(torch.zeros(d_out)) if bias else None
        self.bias_im = nn.Parameter(torch.zeros(d_out)) if bias else None

    @classmethod
    def from_complex(cls, layer: ComplexLinear) -> "RealPairLinear":
        """A real-pair layer holding a copy of ``layer``'s weights (the same map)."""
        w, b = layer.complex_weight()
        out = cls(layer.d_in, layer.d_out, bias=b is not None)
        with torch.no_grad():
            out.weight_re.copy_(w.real)
            out.weight_im.copy_(w.imag)
            if b is not None:
                out.bias_re.copy_(b.real)
                out.bias_im.copy_(b.imag)
        return out

    def forward(self, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for name, t in (("re", re), ("im", im)):
            if not isinstance(t, torch.Tensor) or t.is_complex() or t.shape[-1] != self.d_in:
                raise ValueError(f"{name} must be a real tensor (..., {self.d_in}), got {getattr(t, 'dtype', type(t).__name__)} {tuple(getattr(t, 'shape', ()))}")
        if re.shape != im.shape:
            raise ValueError(f"re and im must have the same shape, got {tuple(re.shape)} and {tuple(im.shape)}")
        c, d = self.weight_re, self.weight_im
        out_re = re @ c.T - im @ d.T
        out_im = re @ d.T + im @ c.T
        if self.bias_re is not None:
            out_re, out_im = out_re + self.bias_re, out_im + self.bias_im
        return out_re, out_im


class SpectrogramFrontEnd(nn.Module):
    """Waveforms or STFT frames -> complex tokens ``(B, T, d)`` through a learned bins -> d map.

    Args:
        d: complex channels of the tokens.
        n_fft, hop: the STFT (:func:`stft_tokens`); ``F = n_fft // 2 + 1`` bins.
        arithmetic: ``"complex"`` (a :class:`ComplexLinear` on complex64) or ``"real_pair"``
            (:class:`RealPairLinear` on ``Re`` and ``Im``, recombined into a complex tensor).
        keep_phase: ``False`` replaces every frame by its magnitude ``|S|`` (phase 0) before the
            map: a diagnostic of what the STFT phases do to the model.

    ``forward(x)``: real ``(B, L)`` / ``(B, L, 1)`` waveforms (STFT inside, "on the fly") or
    complex ``(B, T, F)`` precomputed frames -> complex ``(B, T, d)``.
    """

    def __init__(self, d: int, n_fft: int = 512, hop: int = 256, arithmetic: str = "complex", keep_phase: bool = True):
        super().__init__()
        validate.positive_int("d", d)
        _check_stft_args(n_fft, hop)
        validate.choice("arithmetic", arithmetic, ARITHMETIC)
        validate.choice("keep_phase", keep_phase, (True, False))
        self.d, self.n_fft, self.hop, self.arithmetic, self.keep_phase = d, n_fft, hop, arithmetic, keep_phase
        self.n_bins = n_bins(n_fft)
        self.proj = ComplexLinear(self.n_bins, d) if arithmetic == "complex" else RealPairLinear(self.n_bins, d)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """The STFT frames ``(B, T, F)`` of waveforms, or precomputed frames checked and passed through."""
        if isinstance(x, torch.Tensor) and x.is_complex():
            check_complex(x, "frames")
            if x.ndim != 3 or x.shape[-1] != self.n_bins:
                raise ValueError(f"precomputed frames must be complex (B, T, {self.n_bins}), got {tuple(x.shape)}")
            return x
        return stft_tokens(x, self.n_fft, self.hop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.frames(x)
        if s.ndim == 2:
            s = s[None]
        if not self.keep_phase:
            s = s.abs().to(s.dtype)
        if self.arithmetic == "complex":
            return self.proj(s)
        re, im = self.proj(s.real, s.imag)
        return torch.complex(re, im)


def spectrogram_model(body: nn.Module, d: int, n_fft: int = 512, hop: int = 256, arithmetic: str = "complex", keep_phase: bool = True) -> nn.Sequential:
    """``SpectrogramFrontEnd(d, n_fft, hop, arithmetic, keep_phase)`` followed by ``body`` (complex ``(B, T, d)`` -> outputs)."""
    if not isinstance(body, nn.Module):
        raise ValueError(f"body must be an nn.Module, got {type(body).__name__}")
    return nn.Sequential(SpectrogramFrontEnd(d, n_fft, hop, arithmetic, keep_phase), body)
