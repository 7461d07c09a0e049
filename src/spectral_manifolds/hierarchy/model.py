"""The integrated hierarchical model of seed 004 (§4.1, §9, §11.1 ``HierarchicalSpectralManifolds``).

``HierarchicalSpectralModel`` maps a context of T frames ``(B, T, N, N)`` (or ``(T, N, N)``)
to the next frame ``(B, N, N)``, following §4.1's diagram, built from the package's modules:

1. bands: :func:`~spectral_manifolds.hierarchy.bands.decompose` with partition-of-unity masks
   (2/3/4 bands at §4.2's cut-offs, ``masks`` a kind of :data:`bands.KINDS`), or a router that
   makes the bands (``router``, :data:`ROUTERS`):

   - ``"none"``: the fixed masks (§9.2 phase 1, "routing fixed by frequency");
   - ``"seed"``: the seed's per-pixel gates (:class:`~routing.SeedRouter`) multiplied into the
     fixed bands (:func:`~routing.spatial_gate`): a gain field, it cannot move a band edge;
   - ``"edges"``: learnable band edges (:class:`~routing.LearnableBandEdges`);
   - ``"modes"``: a softmax over manifolds at every Fourier mode (:class:`~routing.ModeRouter`).

   ``"edges"`` and ``"modes"`` need the grid size ``n``.
2. one :class:`~spectral_manifolds.hierarchy.manifold.SpectralManifold` per band with the §4.3 /
   §9.1 capacities (:meth:`SpectralManifold.for_band`: dims ``base_dim * 2**i``, kernels ``7 - 2 i``);
3. optionally (``attention=True``) :class:`~cross_attention.CrossManifoldAttention` in the
   ``topology`` of §7.3 between the bands' last-frame features. The bands' widths differ, so each is
   mapped to ``attention_channels`` by a 1x1 conv, attended, and the attention's update mapped back by
   a 1x1 conv initialized to zero and added to the band's features: at initialization the model is
   exactly the one without attention (§9.1.3, "initialize with identity-like weights");
4. per-band next-frame predictions by each manifold's decoder; ``residual=True`` (default) adds the
   band's last frame, so each manifold predicts its band's change; ``band_limited=True`` (default)
   filters that change by the band's own mask first (:func:`~bands.band_limit`), so that a
   prediction labelled "coarse" holds only coarse frequencies (without it the fine decoder can
   write low frequencies, and the per-band curves of the chapters would mix bands);
5. synthesis: the sum of the band predictions (§11.1 ``synthesize``).

The identity the design guarantees: with every manifold's decoder output zero, band i predicts its
last (routed) frame when ``residual`` and zero otherwise; with the partition-of-unity masks (router
``"none"``, ``"edges"``, ``"modes"``) the bands sum to the input, so the model then predicts
persistence (tested). ``single_band=True`` is the baseline without the split: one manifold of width
``dim`` and kernel ``kernel_size`` on the whole field (no router, no attention).

``forward`` returns ``(prediction, info)``: ``info["bands"]`` the per-band predictions
``(B, M, N, N)``; ``usage`` (M,), ``routing_entropy`` (per-token gate entropy / log M) and ``switch``
of the routing gates (:func:`~spectral_manifolds.hierarchy.monitor.routing_stats`: per pixel and frame
for ``"seed"``, per Fourier mode otherwise); ``edges`` (M-1,) for ``"edges"``; ``attention_weights``
(M, M) when attention is on. All detached, for :mod:`~spectral_manifolds.hierarchy.monitor`;
``forward(context, detach=False)`` keeps ``info["bands"]`` in the graph, for losses on the
bands (§9.3's per-manifold terms). :meth:`zero_decoders` sets every decoder's output to zero,
so a residual model starts at the identity above.
:meth:`band_targets` splits a target frame the same way, for §9.3's per-manifold losses, and
``manifolds``, ``router``, ``attention`` are the modules :func:`per_band.band_param_groups` takes.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from spectral_manifolds import validate
from spectral_manifolds.hierarchy import bands as _bands
from spectral_manifolds.hierarchy.cross_attention import ALL_TOPOLOGIES, CrossManifoldAttention
from spectral_manifolds.hierarchy.manifold import SpectralManifold
from spectral_manifolds.hierarchy.monitor import routing_stats
from spectral_manifolds.hierarchy.routing import LearnableBandEdges, ModeRouter, SeedRouter, spatial_gate

__all__ = ["ROUTERS", "BandAttention", "HierarchicalSpectralModel"]

ROUTERS = ("none", "seed", "edges", "modes")


class BandAttention(nn.Module):
    """:class:`CrossManifoldAttention` between bands of different widths ``dims`` (step 3 of the module docstring).

    ``forward(feats)``: a list of M maps ``(B, d_i, N, N)`` -> the same list, ``f_i + out_i(A(p)_i - p_i)``
    with ``p_i = in_i(f_i)`` (1x1 convs to ``channels``) and ``A`` the (residual) cross-attention; the
    ``out_i`` start at zero, so the module starts as the identity (§9.1.3). Holds all attention
    parameters, for ``per_band.band_param_groups(..., attention=model.attention)``.
    """

    def __init__(self, dims: Sequence[int], channels: int, topology: str = "hierarchical", **kwargs):
        super().__init__()
        self.attn = CrossManifoldAttention(len(dims), channels, topology, **kwargs)
        self.proj_in = nn.ModuleList([nn.Conv2d(d, channels, 1) for d in dims])
        self.proj_out = nn.ModuleList([nn.Conv2d(channels, d, 1) for d in dims])
        for p in self.proj_out.parameters():
            nn.init.zeros_(p)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        p = torch.stack([proj(f) for proj, f in zip(self.proj_in, feats)], 1)  # (B, M, C, N, N)
        upd = self.attn(p) - p
        return [f + proj(upd[:, i]) for i, (proj, f) in enumerate(zip(self.proj_out, feats))]


class HierarchicalSpectralModel(nn.Module):
    """Bands -> router -> one manifold per band -> cross-attention -> synthesis (module docstring).

    Args:
        n_bands: 2, 3 or 4 (§4.2), or a sequence of cut-offs in units of Nyquist (M-1 values, M <= 4).
        n: grid size N (needed by the ``"edges"`` and ``"modes"`` routers; checked against inputs).
        router: one of :data:`ROUTERS`.
        attention: cross-manifold attention on or off; ``topology`` one of ``ALL_TOPOLOGIES``;
            ``attention_mode`` ``"position"`` or ``"pooled"``; ``attention_channels`` C (default
            ``base_dim``; divisible by ``heads``).
        base_dim: width of the coarse band (§4.3: 32); band i has ``base_dim * 2**i``.
        masks: mask kind of the fixed bands (``"cosine"``, ``"logistic"``, ``"hard"``, ``"seed"``).
        residual: each manifold predicts its band's last frame plus a change.
        single_band: one manifold of width ``dim`` (default ``base_dim * 2**(M-1)``) and kernel
            ``kernel_size`` on the whole field.
        layout, padding, heads: passed to every :class:`SpectralManifold`.
        band_limited: filter each manifold's predicted change by its band's mask
            (:meth:`output_masks`) before synthesis, so that band i's prediction stays in band i;
            ``False`` is the seed's §11.1 model, whose decoders can write any frequency.
    """

    def __init__(self, n_bands: int | Sequence[float] = 3, *, n: int | None = None, router: str = "none",
                 attention: bool = True, topology: str = "hierarchical", attention_mode: str = "position",
                 attention_channels: int | None = None, base_dim: int = 32, masks: str = "cosine",
                 residual: bool = True, single_band: bool = False, dim: int | None = None, kernel_size: int = 5,
                 layout: str = "text", padding: str = "circular", heads: int = 4, band_limited: bool = True):
        super().__init__()
        validate.choice("router", router, ROUTERS)
        validate.choice("topology", topology, ALL_TOPOLOGIES)
        validate.choice("masks", masks, _bands.KINDS)
        validate.positive_int("base_dim", base_dim)
        if n is not None:
            validate.positive_int("n", n)
        self.cutoffs = _bands._cutoffs(n_bands)
        self.n_bands = 1 if single_band else len(self.cutoffs) + 1
        self.band_spec = n_bands if isinstance(n_bands, int) else tuple(self.cutoffs)
        self.n, self.masks_kind, self.single_band = n, masks, bool(single_band)
        self.band_limited = bool(band_limited)
        self.router_kind = "none" if single_band else router
        kw = dict(heads=heads, layout=layout, padding=padding, residual=residual)
        if single_band:
            width = base_dim * 2 ** len(self.cutoffs) if dim is None else dim
            self.manifolds = nn.ModuleList([SpectralManifold(width, kernel_size, band=0, **kw)])
        else:
            self.manifolds = nn.ModuleList([SpectralManifold.for_band(i, self.n_bands, base_dim=base_dim, **kw)
                                            for i in range(self.n_bands)])
        self.router = self._make_router(router, base_dim) if not single_band else None
        self.attention = None
        if attention and not single_band:
            c = base_dim if attention_channels is None else attention_channels
            self.attention = BandAttention([m.dim for m in self.manifolds], c, topology, mode=attention_mode, heads=heads)

    def _make_router(self, router: str, base_dim: int):
        if router in ("edges", "modes") and self.n is None:
            raise ValueError(f"router={router!r} needs the grid size n")
        if router in ("edges", "modes") and self.masks_kind not in ("cosine", "logistic"):
            raise ValueError(f"router={router!r} builds its own masks: masks must be 'cosine' or 'logistic', got {self.masks_kind!r}")
        if router == "seed":
            return SeedRouter(self.n_bands, base_dim)
        if router == "edges":
            return LearnableBandEdges(self.n, self.band_spec, self.masks_kind)
        if router == "modes":
            return ModeRouter(self.n, self.band_spec, self.masks_kind)
        return None

    @property
    def n_parameters(self) -> int:
        """Trainable parameters of the whole model."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _context(self, x):
        x = _bands._fields(x, "context", (3, 4), "(B, T, N, N) or (T, N, N)")
        if self.n is not None and x.shape[-1] != self.n:
            raise ValueError(f"context has N = {x.shape[-1]}, this model was built for n = {self.n}")
        w = self.manifolds[0].encoder[0].weight
        x = x.to(dtype=w.dtype, device=w.device)
        return (x[None], True) if x.ndim == 3 else (x, False)

    def _fixed_masks(self, n: int, x: torch.Tensor) -> torch.Tensor:
        half = self.masks_kind != "seed"
        return _bands.masks(n, self.band_spec, self.masks_kind, half=half, dtype=x.dtype, device=x.device)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bands ``(B, M, T, N, N)`` of a batched context, and the routing gates (for the diagnostics)."""
        if self.single_band:
            return x[:, None], torch.ones(1, 1, device=x.device, dtype=x.dtype)
        if self.router_kind in ("edges", "modes"):
            gates = self.router.masks(dtype=x.dtype)
            return _bands.decompose(x, masks=gates), gates
        b = _bands.decompose(x, masks=self._fixed_masks(x.shape[-1], x))
        if self.router_kind == "seed":
            gates = self.router(x)  # (B, M, T, N, N), per pixel and frame
            return spatial_gate(b, gates), gates
        return b, self._fixed_masks(x.shape[-1], x)

    def decompose(self, context) -> torch.Tensor:
        """The routed bands of a context: ``(B, T, N, N) -> (B, M, T, N, N)`` (unbatched: ``(M, T, N, N)``)."""
        x, unb = self._context(context)
        out = self._split(x)[0]
        return out[0] if unb else out

    def band_targets(self, target) -> torch.Tensor:
        """A target frame split into the model's bands (§9.3 per-manifold losses): ``(B, N, N) -> (B, M, N, N)``.

        Uses the current masks (the learned ones for ``"edges"``/``"modes"``); for the seed router the
        fixed masks (its gates depend on the input frame, which a target does not have).
        """
        y = _bands._fields(target, "target", (2, 3), "(B, N, N) or (N, N)")
        yb = y[None] if y.ndim == 2 else y
        if self.single_band:
            out = yb[:, None]
        elif self.router_kind in ("edges", "modes"):
            out = _bands.decompose(yb[:, None], masks=self.router.masks(dtype=yb.dtype))[:, :, 0]
        else:
            out = _bands.decompose(yb[:, None], masks=self._fixed_masks(yb.shape[-1], yb))[:, :, 0]
        return out[0] if y.ndim == 2 else out

    def output_masks(self, like: torch.Tensor | None = None) -> torch.Tensor:
        """The masks that band-limit each manifold's output (``band_limited``): the router's learned
        masks for ``"edges"``/``"modes"``, the fixed masks otherwise (the seed router's gates are
        per pixel, not per frequency). ``(M, N, N//2+1)``, or ``(M, N, N)`` for ``masks="seed"``."""
        if self.router_kind in ("edges", "modes"):
            return self.router.masks(dtype=torch.float32 if like is None else like.dtype)
        if like is None:
            if self.n is None:
                raise ValueError("output_masks() needs the grid size: pass a field or build the model with n")
            like = torch.zeros(1, self.n, self.n)
        return self._fixed_masks(like.shape[-1], like)

    def zero_decoders(self) -> "HierarchicalSpectralModel":
        """Zero every manifold's last decoder conv (in place; returns the model): each manifold's output
        is then zero, so the residual model predicts persistence (§9.1.3 "identity-like" start)."""
        for m in self.manifolds:
            last = [c for c in m.decoder.modules() if isinstance(c, nn.Conv2d)][-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        return self

    def forward(self, context, detach: bool = True) -> tuple[torch.Tensor, dict]:
        """Next frame ``(B, N, N)`` (unbatched ``(N, N)``) and the diagnostics dict (module docstring);
        ``detach=False`` keeps ``info["bands"]`` in the graph."""
        x, unb = self._context(context)
        bands, gates = self._split(x)
        feats = [m.encode(bands[:, i])[:, -1] for i, m in enumerate(self.manifolds)]
        if self.attention is not None:
            feats = self.attention(feats)
        change = torch.stack([m.decoder(z)[:, 0] for m, z in zip(self.manifolds, feats)], 1)  # (B, M, N, N)
        if self.band_limited and not self.single_band:
            change = _bands.band_limit(change, self.output_masks(x))
        per_band = change + bands[:, :, -1] if self.manifolds[0].residual else change
        pred = per_band.sum(1)
        info = self._info(per_band if not detach else per_band.detach(), gates)
        if unb:
            pred, info["bands"] = pred[0], info["bands"][0]
        return pred, info

    def _info(self, per_band: torch.Tensor, gates: torch.Tensor) -> dict:
        info: dict = {"bands": per_band}
        if self.single_band:
            return info
        info.update(routing_stats(gates, dim=-4 if self.router_kind == "seed" else 0))
        if self.router_kind == "edges":
            info["edges"] = self.router.edges().detach()
        if self.attention is not None:
            info["attention_weights"] = self.attention.attn.last_band_weights
        return info

    def extra_repr(self) -> str:
        return (f"bands={self.n_bands}, router={self.router_kind!r}, attention={self.attention is not None}, "
                f"single_band={self.single_band}, parameters={self.n_parameters}")
