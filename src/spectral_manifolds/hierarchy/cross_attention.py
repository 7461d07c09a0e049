"""Cross-manifold attention between the M band feature maps (seed 004 §7, §11.1).

Input: the band manifolds' feature maps ``x: (B, M, C, N, N)`` (or unbatched
``(M, C, N, N)``, or a list of M maps ``(B, C, N, N)``); output: the same shape.

:class:`SeedCrossAttention` is the seed's §11.1 ``CrossManifoldAttention`` line for line
(kept for the cost comparison): every one of the ``L = M N^2`` tokens of all bands
attends to every other through one ``nn.MultiheadAttention``: ``B h L^2 = B h M^2 N^4``
scores, O(B M^2 N^4 E) time. It also departs from its own text: no low-passed matching
(§7.2), no topology (§7.3; all tokens, own band included, the "full" option plus spatial
self-attention), no residual (the decoders see only the attention output), and the
default ``need_weights=True`` builds the head-averaged ``(B, L, L)`` weights it discards.

:class:`CrossManifoldAttention` is the book's version, following §7.2 for band i
attending to band j (per-band affine projections, heads of width ``C / heads``)::

    q_i = W_q^i L(x_i),  k_j = W_k^j L(x_j),  v_j = W_v^j x_j
    y_i = x_i + W_o^i sum_j softmax_j(<q_i, k_j> / sqrt(C / heads)) v_j

with ``x`` pre-LayerNormed over C (``norm=True``) and ``L`` the radial low-pass
:func:`~spectral_manifolds.hierarchy.bands.lowpass` of cut-off ``cutoff`` (units of Nyquist;
default 0.3, §4.2's upper mid cut-off, so matching sees coarse and mid structure only;
``None``: no low-pass). ``L`` commutes with a per-pixel affine map (``L`` is linear and
passes DC with gain 1), so ``L(W x + b) = W L(x) + b``: the features are low-passed once and
projected, which equals low-passing ``Q`` and ``K`` as §7.2 writes it. Values keep the full
content ("WHERE transfer"). ``j`` runs over the bands that the topology lets band i see
(:func:`topology_mask`), and over space as ``mode`` says:

- ``"position"`` (default): the M band tokens at each pixel attend to one another (key
  and query at the same pixel). Scores ``B h N^2 M^2``: O(B M^2 N^2 C) time, plus the
  low-pass FFTs O(B M C N^2 log N) and the projections O(B M N^2 C^2).
- ``"pooled"``: every full-resolution query attends to keys and values average-pooled to
  a ``pool x pool`` grid in each visible band (spatial-reduction attention, as in the
  Pyramid Vision Transformer): global, position-free matching. Scores
  ``B h (M N^2)(M pool^2)``: O(B M^2 N^2 pool^2 C) time. With ``pool = N``, ``"full"``,
  ``cutoff=None`` and ``norm=False`` it is the seed's all-tokens attention (tested).

Both grow as N^2 at fixed M and pool; the seed's grows as N^4. After each forward,
``last_score_entries`` holds the number of attention scores computed (the scores
tensor's size) and ``last_band_weights`` the (M, M) attention mass band i gave band j,
averaged over batch, heads and pixels (the §8.2 "cross-attention weights" panel).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from spectral_manifolds import validate
from spectral_manifolds.hierarchy.bands import lowpass, radius

__all__ = ["TOPOLOGIES", "CONTROL_TOPOLOGY", "ALL_TOPOLOGIES", "ATTENTION_MODES", "topology_mask", "SeedCrossAttention", "CrossManifoldAttention",
           "seed_score_entries", "score_entries"]

TOPOLOGIES = ("hierarchical", "full", "star")
#: Not a §7.3 topology: every band attends only to itself. The module keeps every parameter
#: (same count as the three topologies) but no band reads another: the like-for-like control
#: for "cross-manifold transfer helps".
CONTROL_TOPOLOGY = "self"
ALL_TOPOLOGIES = TOPOLOGIES + (CONTROL_TOPOLOGY,)
ATTENTION_MODES = ("position", "pooled")


def topology_mask(topology: str, bands: int, hub: int | None = None) -> torch.Tensor:
    """Which band attends to which (§7.3): a bool (M, M), ``A[i, j]`` iff band i attends to band j.

    Bands are ordered coarse (0) to fine (M-1). Every band attends to itself (the diagonal):
    a softmax over one key has weight 1, so without it a band with one neighbour would
    receive that neighbour's value through a fixed linear map, with no matching at all.

    - ``"hierarchical"`` (option A, "Coarse -> Mid -> Fine, Fine -> Mid -> Coarse"):
      adjacent bands, ``|i - j| <= 1``; information crosses one scale per layer.
    - ``"full"`` (option B): every band attends to every band.
    - ``"star"`` (option C): the hub (default ``M // 2``, the mid band) attends to all and
      all attend to the hub. For M = 3 this is the same graph as ``"hierarchical"`` (both
      are Coarse <-> Mid <-> Fine); they differ from M = 4 on (chain vs hub).
    - ``"self"`` (:data:`CONTROL_TOPOLOGY`, not the seed's): the diagonal only, so attention
      reduces to each band's own value and output maps (no exchange between bands).
    """
    validate.choice("topology", topology, ALL_TOPOLOGIES)
    validate.positive_int("bands", bands)
    i = torch.arange(bands)
    if topology == CONTROL_TOPOLOGY:
        return torch.eye(bands, dtype=torch.bool)
    if topology == "full":
        return torch.ones(bands, bands, dtype=torch.bool)
    if topology == "hierarchical":
        return (i[:, None] - i[None, :]).abs() <= 1
    hub = bands // 2 if hub is None else hub
    if isinstance(hub, bool) or not isinstance(hub, int) or not 0 <= hub < bands:
        raise ValueError(f"hub must be an integer in [0, {bands}), got {hub!r}")
    return (i[:, None] == i[None, :]) | (i[:, None] == hub) | (i[None, :] == hub)


def seed_score_entries(bands: int, n: int, batch: int = 1, heads: int = 4) -> int:
    """Attention scores of :class:`SeedCrossAttention`: ``batch * heads * (M N^2)^2``."""
    return batch * heads * (bands * n * n) ** 2


def score_entries(bands: int, n: int, batch: int = 1, heads: int = 4, mode: str = "position", pool: int = 4) -> int:
    """Attention scores of :class:`CrossManifoldAttention`: ``B h N^2 M^2`` or ``B h (M N^2)(M pool^2)``."""
    validate.choice("mode", mode, ATTENTION_MODES)
    return batch * heads * n * n * bands * bands * (1 if mode == "position" else pool * pool)


class SeedCrossAttention(nn.Module):
    """The seed's §11.1 ``CrossManifoldAttention``, unchanged: all M N^2 tokens attend to all.

    ``dims``: channels per band; ``forward(manifold_features)``: a list of M maps
    ``(B, dim_i, H, W)`` -> list of M maps of the same shapes. Cost: module docstring.
    """

    def __init__(self, dims: list, n_heads: int = 4):
        super().__init__()
        self.n_manifolds = len(dims)
        max_dim = max(dims)
        self.projections = nn.ModuleList([nn.Conv2d(d, max_dim, 1) for d in dims])
        self.cross_attn = nn.MultiheadAttention(max_dim, n_heads)
        self.unprojections = nn.ModuleList([nn.Conv2d(max_dim, d, 1) for d in dims])

    def forward(self, manifold_features: list):
        B, _, H, W = manifold_features[0].shape
        projected = [self.projections[i](f) for i, f in enumerate(manifold_features)]
        all_features = torch.cat([p.view(B, -1, H * W).permute(2, 0, 1) for p in projected], dim=0)  # [M*H*W, B, dim]
        attended, _ = self.cross_attn(all_features, all_features, all_features)
        chunks = attended.split(H * W, dim=0)
        results = []
        for i, chunk in enumerate(chunks):
            reshaped = chunk.permute(1, 2, 0).view(B, -1, H, W)
            results.append(self.unprojections[i](reshaped))
        return results


def _affine(m: int, c: int) -> tuple[nn.Parameter, nn.Parameter]:
    """Per-band weights (M, C, C) and biases (M, C), initialized as ``nn.Linear(C, C)`` is."""
    bound = 1 / math.sqrt(c)
    return (nn.Parameter(torch.empty(m, c, c).uniform_(-bound, bound)),
            nn.Parameter(torch.empty(m, c).uniform_(-bound, bound)))


class CrossManifoldAttention(nn.Module):
    """Cross-manifold attention in the §7.3 topologies at O(N^2) cost (module docstring).

    Args:
        bands: M, the number of band feature maps.
        channels: C, channels of each map (the same for all bands).
        topology: one of :data:`ALL_TOPOLOGIES` (:func:`topology_mask`); ``hub`` for ``"star"``.
        mode: ``"position"`` (band tokens at each pixel) or ``"pooled"`` (keys/values pooled
            to ``pool x pool`` per band).
        heads: attention heads; must divide C.
        cutoff: low-pass cut-off of the matching features in units of Nyquist, or None.
        norm: pre-LayerNorm over C (one LayerNorm shared by the bands).

    ``forward(x)``: ``(B, M, C, N, N)`` or ``(M, C, N, N)`` tensor, or a list of M maps
    ``(B, C, N, N)`` / ``(C, N, N)``; returns the same shape (a list for a list), residual.
    """

    def __init__(self, bands: int, channels: int, topology: str = "hierarchical", *, mode: str = "position",
                 heads: int = 4, pool: int = 4, cutoff: float | None = 0.3, norm: bool = True,
                 hub: int | None = None):
        super().__init__()
        validate.positive_int("bands", bands)
        validate.positive_int("channels", channels)
        validate.positive_int("heads", heads)
        validate.positive_int("pool", pool)
        validate.choice("mode", mode, ATTENTION_MODES)
        if channels % heads:
            raise ValueError(f"heads={heads} must divide channels={channels}")
        if cutoff is not None and not (isinstance(cutoff, (int, float)) and math.isfinite(cutoff) and cutoff > 0):
            raise ValueError(f"cutoff must be a positive number (units of Nyquist) or None, got {cutoff!r}")
        self.bands, self.channels, self.heads, self.pool = bands, channels, heads, pool
        self.topology, self.mode, self.cutoff = topology, mode, cutoff
        self.register_buffer("mask", topology_mask(topology, bands, hub), persistent=False)
        self.norm = nn.LayerNorm(channels) if norm else nn.Identity()
        self.w_q, self.b_q = _affine(bands, channels)
        self.w_k, self.b_k = _affine(bands, channels)
        self.w_v, self.b_v = _affine(bands, channels)
        self.w_o, self.b_o = _affine(bands, channels)
        self.last_score_entries = 0
        self.last_band_weights: torch.Tensor | None = None

    def _inputs(self, x):
        is_list = isinstance(x, (list, tuple))
        if is_list:
            if len(x) != self.bands or not all(isinstance(t, torch.Tensor) for t in x):
                raise ValueError(f"expected a list of {self.bands} tensors (B, C, N, N) or (C, N, N), got {len(x)} items")
            if len({tuple(t.shape) for t in x}) != 1:
                raise ValueError(f"band maps must share one shape, got {[tuple(t.shape) for t in x]}")
            x = torch.stack(list(x), dim=-4)
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a tensor or a list of tensors, got {type(x).__name__}")
        shape = tuple(x.shape)
        want = f"(B, {self.bands}, {self.channels}, N, N) or ({self.bands}, {self.channels}, N, N)"
        if x.ndim not in (4, 5) or shape[-4] != self.bands or shape[-3] != self.channels or shape[-1] != shape[-2]:
            raise ValueError(f"x must have shape {want} with square N x N maps, got shape {shape}")
        if x.is_complex() or not x.is_floating_point():
            raise ValueError(f"x must be real floating point, got dtype {x.dtype}")
        if self.mode == "pooled" and self.pool > shape[-1]:
            raise ValueError(f"pool={self.pool} exceeds the map size N={shape[-1]}")
        return (x[None] if x.ndim == 4 else x), x.ndim == 4, is_list

    def _lowpass(self, x: torch.Tensor) -> torch.Tensor:
        """Radial low-pass of ``x: (..., N, N)`` over the last two axes (periodic)."""
        if self.cutoff is None:
            return x
        n = x.shape[-1]
        filt = lowpass(radius(n, half=True, dtype=torch.float64, device=x.device), self.cutoff).to(x.dtype)
        return torch.fft.irfft2(torch.fft.rfft2(x) * filt, s=(n, n))

    def _project(self, w, b, x):
        """Per-band affine map of tokens ``x: (B, M, S, C)`` -> (B, M, S, heads, C / heads)."""
        y = torch.einsum("mdc,bmsc->bmsd", w, x) + b[:, None]
        return y.unflatten(-1, (self.heads, self.channels // self.heads))

    def forward(self, x):
        xb, unbatched, is_list = self._inputs(x)
        B, M, C, n, _ = xb.shape
        # pre-norm over C; maps (B, M, C, N, N) and tokens (B, M, S, C), S = N^2
        xn = self.norm(xb.movedim(2, -1)).movedim(-1, 2)
        low = self._lowpass(xn)

        def tokens(t):
            return t.flatten(-2).transpose(-1, -2)

        q = self._project(self.w_q, self.b_q, tokens(low))  # (B, M, S, h, dh)
        scale = 1 / math.sqrt(C // self.heads)
        if self.mode == "position":
            k = self._project(self.w_k, self.b_k, tokens(low))
            v = self._project(self.w_v, self.b_v, tokens(xn))
            s = torch.einsum("bishd,bjshd->bshij", q, k) * scale  # (B, S, h, M, M)
            a = s.masked_fill(~self.mask, float("-inf")).softmax(-1)
            out = torch.einsum("bshij,bjshd->bishd", a, v)
            band_w = a.mean(dim=(0, 1, 2))
        else:
            p = self.pool
            k = self._project(self.w_k, self.b_k, tokens(F.adaptive_avg_pool2d(low.flatten(0, 1), p).unflatten(0, (B, M))))
            v = self._project(self.w_v, self.b_v, tokens(F.adaptive_avg_pool2d(xn.flatten(0, 1), p).unflatten(0, (B, M))))
            s = torch.einsum("bishd,bjthd->bhisjt", q, k) * scale  # (B, h, M, S, M, P^2)
            s = s.masked_fill(~self.mask[:, None, :, None], float("-inf"))
            a = s.flatten(-2).softmax(-1).unflatten(-1, (M, p * p))
            out = torch.einsum("bhisjt,bjthd->bishd", a, v)
            band_w = a.sum(-1).mean(dim=(0, 1, 3))
        self.last_score_entries = s.numel()
        self.last_band_weights = band_w.detach()
        y = torch.einsum("mdc,bmsc->bmsd", self.w_o, out.flatten(-2)) + self.b_o[:, None]  # (B, M, S, C)
        y = xb + y.transpose(-1, -2).unflatten(-1, (n, n))
        if unbatched:
            y = y[0]
        return list(y.unbind(-4)) if is_list else y
