"""One manifold per frequency band (seed 004 §4.3, §9.1, §11.1 ``SpectralManifold``).

``SpectralManifold`` maps a band-filtered history ``(B, H, N, N)`` (or ``(H, N, N)``) to
the next frame of that band ``(B, N, N)``: a conv encoder per frame, causal temporal
attention over the history at each pixel, a conv decoder of the last frame's encoding.
The seed's ``forward(x, history)`` with current frame ``x: [B, 1, H, W]`` and past frames
``history: [B, T, 1, H, W]`` is ``forward(cat(history, x))`` here: the last frame is the
current one (§4.1: input ``[T, N, N]``, output ``[N, N]``).

Capacities (§4.3 table, and the seed's code ``dim = base_dim * 2**i``,
``kernel_size = 7 - 2*i``): band i of M has ``dim = 32 * 2**i`` (coarse 32, mid 64,
fine 128) and kernel ``k = 7 - 2 i`` (§9.1: coarse 7x7, mid 5x5, fine 3x3).

Layouts (``layout``), with ``d = dim``, hidden width ``d/2``, ReLU as in the seed:

- ``"text"`` (default), §9.1 read as written, "receptive fields 7x7 / 5x5 / 3x3": encoder
  ``conv k x k (1 -> d/2), conv 1x1 (d/2 -> d)``, receptive field exactly ``k``; decoder
  ``conv k x k (d -> d/2), conv 1x1 (d/2 -> 1)``; prediction receptive field ``2k - 1``.
- ``"seed"``, the seed's §11.1 code: two ``k x k`` convs in the encoder and two in the
  decoder, so its encoder sees ``2k - 1`` pixels (13/9/5, not §9.1's 7/5/3) and its
  prediction ``4k - 3`` (25/17/9).

Temporal attention (``nn.MultiheadAttention``, 4 heads as in the seed, pre-LayerNorm,
residual): the tokens at one pixel are the H frame encodings plus a sinusoidal encoding
of the frame index, with a causal mask, so encoding t depends on frames <= t only. The
seed's code instead lets the current frame's pixels attend to all ``H N^2`` history
tokens without any position encoding (a set over frames and pixels: it cannot tell the
order of frames, and costs O(H N^4)); without a residual it also replaces the current
frame's features by that average.

Parameter count (:func:`capacity`, tested against ``n_parameters``):
``"text"``: ``(k^2 d^2 + k^2 d + 9 d^2 + 17 d) / 2 + 1``;
``"seed"``: ``k^2 d^2 + k^2 d + 4 d^2 + 8 d + 1``
(attention ``4 d^2 + 4 d``, LayerNorm ``2 d``, convs with biases). For 3 bands: text
30 753 / 70 977 / 149 121 (12 % / 28 % / 59 %), seed 56 097 / 120 897 / 215 169
(14 % / 31 % / 55 %), against §4.3's 15 % / 30 % / 55 %.

Convolutions pad circularly by default: the bands come from FFT masks, so the fields are
periodic (``padding="zeros"`` is the seed's choice).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from spectral_manifolds import validate

__all__ = ["LAYOUTS", "band_config", "capacity", "receptive_field", "SpectralManifold"]

LAYOUTS = ("text", "seed")


def band_config(band: int, n_bands: int = 3, base_dim: int = 32) -> tuple[int, int]:
    """``(dim, kernel_size)`` of band ``band`` of ``n_bands``: the seed's ``(base_dim * 2**i, 7 - 2 i)``.

    §4.3: 32 / 64 / 128 dims; §9.1: kernels 7 / 5 / 3. Four bands give kernel 1 for the
    finest (the seed's formula), five or more a kernel < 1: ValueError.
    """
    validate.positive_int("n_bands", n_bands)
    validate.positive_int("base_dim", base_dim)
    if isinstance(band, bool) or not isinstance(band, int) or not 0 <= band < n_bands:
        raise ValueError(f"band must be an integer in [0, {n_bands}), got {band!r}")
    if n_bands > 4:
        raise ValueError(f"the seed's kernel 7 - 2*i is < 1 beyond 4 bands, got n_bands={n_bands}")
    return base_dim * 2 ** band, 7 - 2 * band


def capacity(dim: int, kernel_size: int, layout: str = "text") -> int:
    """Parameter count of a :class:`SpectralManifold` (module docstring formulas)."""
    validate.choice("layout", layout, LAYOUTS)
    d, k2 = dim, kernel_size ** 2
    if layout == "text":
        return (k2 * d * d + k2 * d + 9 * d * d + 17 * d) // 2 + 1
    return k2 * d * d + k2 * d + 4 * d * d + 8 * d + 1


def receptive_field(kernel_size: int, layout: str = "text", part: str = "encoder") -> int:
    """Receptive field in pixels (per side length) of the per-frame ``"encoder"`` or the whole ``"model"``."""
    validate.choice("layout", layout, LAYOUTS)
    validate.choice("part", part, ("encoder", "model"))
    convs = (1 if layout == "text" else 2) * (1 if part == "encoder" else 2)
    return convs * (kernel_size - 1) + 1


def _time_encoding(h: int, d: int, dtype, device) -> torch.Tensor:
    """Sinusoidal encoding of frame indices 0..H-1 (Vaswani et al. 2017): (H, d)."""
    pos = torch.arange(h, dtype=torch.float64)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float64) / d)
    enc = torch.zeros(h, d, dtype=torch.float64)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq)
    return enc.to(dtype=dtype, device=device)


class SpectralManifold(nn.Module):
    """The manifold of one band: band-filtered history (B, H, N, N) -> next frame of the band (B, N, N).

    Args:
        dim: feature width d (§4.3: 32 / 64 / 128); even and divisible by ``heads``.
        kernel_size: odd k (§9.1: 7 / 5 / 3).
        heads: attention heads (the seed's 4).
        layout: ``"text"`` or ``"seed"`` (module docstring).
        padding: ``"circular"`` (periodic fields) or ``"zeros"`` (the seed).
        residual: predict ``last frame + decoder(...)`` instead of ``decoder(...)``.
        band: the band index, kept for bookkeeping (the seed's ``band_idx``).

    Build a band's manifold with :meth:`for_band`. Inputs may be unbatched (H, N, N);
    wrong rank, non-square frames, too small N or NaN raise ``ValueError``.
    """

    def __init__(self, dim: int = 32, kernel_size: int = 7, *, heads: int = 4, layout: str = "text",
                 padding: str = "circular", residual: bool = False, band: int | None = None):
        super().__init__()
        validate.positive_int("dim", dim)
        validate.positive_int("kernel_size", kernel_size)
        validate.positive_int("heads", heads)
        validate.choice("layout", layout, LAYOUTS)
        validate.choice("padding", padding, ("circular", "zeros"))
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same-size convs), got {kernel_size}")
        if dim % 2 or dim % heads:
            raise ValueError(f"dim must be even and divisible by heads={heads}, got {dim}")
        self.dim, self.kernel_size, self.heads = dim, kernel_size, heads
        self.layout, self.residual, self.band = layout, bool(residual), band
        k, h = kernel_size, dim // 2

        def conv(cin, cout, kk):
            return nn.Conv2d(cin, cout, kk, padding=kk // 2, padding_mode=padding)

        k2 = k if layout == "seed" else 1
        self.encoder = nn.Sequential(conv(1, h, k), nn.ReLU(), conv(h, dim, k2), nn.ReLU())
        self.norm = nn.LayerNorm(dim)
        self.temporal_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.decoder = nn.Sequential(conv(dim, h, k), nn.ReLU(), conv(h, 1, k2))

    @classmethod
    def for_band(cls, band: int, n_bands: int = 3, *, base_dim: int = 32, **kwargs) -> "SpectralManifold":
        """The manifold of band ``band`` with the §4.3 / §9.1 capacities of :func:`band_config`."""
        dim, k = band_config(band, n_bands, base_dim)
        return cls(dim, k, band=band, **kwargs)

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters (equals :func:`capacity`)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def receptive_field(self, part: str = "encoder") -> int:
        """Receptive field of this manifold's ``"encoder"`` or whole ``"model"`` (pixels)."""
        return receptive_field(self.kernel_size, self.layout, part)

    def _check(self, history):
        if not isinstance(history, torch.Tensor):
            if not hasattr(history, "shape"):
                raise ValueError(f"history must be a tensor of shape (B, H, N, N) or (H, N, N), got {type(history).__name__}")
            history = torch.as_tensor(history)
        shape = tuple(history.shape)
        if history.ndim not in (3, 4) or shape[-1] != shape[-2] or shape[-1] < 1 or shape[-3] < 1:
            raise ValueError(f"history must have shape (B, H, N, N) or (H, N, N) with square frames, got shape {shape}")
        if history.is_complex() or history.dtype == torch.bool:
            raise ValueError(f"history must be real, got dtype {history.dtype}")
        if self.encoder[0].padding_mode == "circular" and shape[-1] < self.kernel_size // 2:
            raise ValueError(f"circular padding needs N >= {self.kernel_size // 2}, got N={shape[-1]}")
        validate.check_finite(history, "history")
        w = self.encoder[0].weight
        history = history.to(dtype=w.dtype, device=w.device)
        return (history[None], True) if history.ndim == 3 else (history, False)

    def encode_frames(self, history: torch.Tensor) -> torch.Tensor:
        """Per-frame conv encodings before attention: (B, H, N, N) -> (B, H, d, N, N)."""
        b, h, n, _ = history.shape
        return self.encoder(history.reshape(b * h, 1, n, n)).reshape(b, h, self.dim, n, n)

    def encode(self, history) -> torch.Tensor:
        """Causally attended encodings: (B, H, N, N) or (H, N, N) -> (B, H, d, N, N) or (H, d, N, N).

        Encoding t depends on frames 0..t only (causal mask over the frames at each pixel).
        """
        x, unbatched = self._check(history)
        z = self._attend(self.encode_frames(x))
        return z[0] if unbatched else z

    def _attend(self, z: torch.Tensor) -> torch.Tensor:
        b, h, d, n, _ = z.shape
        tok = z.permute(0, 3, 4, 1, 2).reshape(b * n * n, h, d) + _time_encoding(h, d, z.dtype, z.device)
        q = self.norm(tok)
        mask = torch.ones(h, h, dtype=torch.bool, device=z.device).triu(1)  # True: not allowed (a later frame)
        att, _ = self.temporal_attn(q, q, q, attn_mask=mask, need_weights=False)
        return (tok + att).reshape(b, n, n, h, d).permute(0, 3, 4, 1, 2)

    def forward(self, history) -> torch.Tensor:
        """Next frame of the band: (B, H, N, N) -> (B, N, N), or (H, N, N) -> (N, N)."""
        x, unbatched = self._check(history)
        z = self._attend(self.encode_frames(x))[:, -1]  # (B, d, N, N): the last frame, which sees all
        out = self.decoder(z)[:, 0]
        if self.residual:
            out = out + x[:, -1]
        return out[0] if unbatched else out
