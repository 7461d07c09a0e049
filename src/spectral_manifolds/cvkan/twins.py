"""Real twins of the CV-KAN stack: is complex arithmetic needed at all? (issue 8, chapter 6)

Issue 8, "Chapters", item 6: "is complex needed at all: real-polar and real-Cartesian
twins at matched parameters". Seed 003's "Phase Encoding Semantics" asks what the phases
encode; if a real network of the same shape and size does as well, the complex numbers
are a parametrization, not a mechanism.

:class:`RealTwin` keeps the structure of :class:`~spectral_manifolds.cvkan.models.CVKAN`
with mean aggregation and mean pooling -- one aggregate per sequence, one update computed
from it by a three-layer GELU MLP and added to *every* token (broadcast mode), a
normalization after every block, mean pooling and a ``LayerNorm + Linear`` head -- and
replaces the complex numbers by real features of the same tokens:

* ``coords="polar"``: per channel ``(log(|z| + eps), cos arg z, sin arg z)``: ``F = 3 d``;
* ``coords="cartesian"``: per channel ``(Re z, Im z)``: ``F = 2 d``.

For complex tokens ``z: (B, N, d)``::

    h_i = W f(z_i) + b                       (B, N, w) real, f the features above
    a   = mean_i h_i                         (B, 1, w)  the block's aggregate
    h_i = LayerNorm(h_i + mlp3(a))           every token gets the same update
    out = Linear(LayerNorm(mean_i h_i))      (B, out_dim)

The CV-KAN block adds ``gain(|A|) dir(A/|A|)`` (complex multiplication by a unit phasor)
and rescales magnitudes per channel; the twin adds a real vector and normalizes each
token with ``torch.nn.LayerNorm``, which gives the tokens the per-token nonlinearity the
centre-magnitudes step gives the CV-KAN (without it a broadcast stack with mean pooling
would be a function of ``mean_i h_i`` only). The twins take the same complex tokens as the
CV-KAN (the features are computed inside), so the same test-time interventions apply to
all of them. :func:`twin_for_params` picks the MLP width that matches a parameter count.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.baselines import width_for_params
from spectral_manifolds.cvkan.block import mlp3
from spectral_manifolds.cvkan.layers import n_real_parameters
from spectral_manifolds.cvkan.tokens import as_tokens, restore

__all__ = ["COORDS", "RealTwin", "twin_features", "twin_for_params"]

COORDS = ("polar", "cartesian")
EPS = 1e-6


def twin_features(z: torch.Tensor, coords: str, eps: float = EPS) -> torch.Tensor:
    """Real features of complex tokens: ``(..., d)`` complex -> ``(..., 3d)`` polar or ``(..., 2d)`` Cartesian.

    Polar: ``[log(|z| + eps), cos arg z, sin arg z]`` (``arg 0 = 0``, so a zero token
    gives ``log eps, 1, 0``: finite); Cartesian: ``[Re z, Im z]``.
    """
    validate.choice("coords", coords, COORDS)
    if coords == "cartesian":
        return torch.cat([z.real, z.imag], dim=-1)
    phase = torch.angle(z)
    return torch.cat([torch.log(z.abs() + eps), torch.cos(phase), torch.sin(phase)], dim=-1)


class RealTwin(nn.Module):
    """A real broadcast stack on polar or Cartesian features of complex tokens (module docstring).

    Args:
        d: complex channels of the input tokens.
        out_dim: logits (classes).
        coords: ``"polar"`` or ``"cartesian"``.
        width: token width ``w`` inside the stack (default ``2 d``, the real degrees of
            freedom of a complex ``d``-vector).
        hidden: the blocks' MLP hidden width (what :func:`twin_for_params` tunes).
        n_blocks: blocks (the CV-KAN's flat stack: 3).

    Shapes: ``z: (B, N, d)`` or ``(N, d)`` complex -> ``(B, out_dim)`` or ``(out_dim,)`` real.
    """

    def __init__(self, d: int, out_dim: int, *, coords: str = "polar", width: int | None = None, hidden: int = 128, n_blocks: int = 3):
        super().__init__()
        validate.positive_int("d", d)
        validate.positive_int("out_dim", out_dim)
        validate.positive_int("hidden", hidden)
        validate.choice("coords", coords, COORDS)
        if not (isinstance(n_blocks, int) and n_blocks >= 0):
            raise ValueError(f"n_blocks must be an int >= 0, got {n_blocks!r}")
        width = 2 * d if width is None else width
        validate.positive_int("width", width)
        self.d, self.coords, self.width, self.hidden = d, coords, width, hidden
        n_features = (3 if coords == "polar" else 2) * d
        self.embed = nn.Linear(n_features, width)
        self.blocks = nn.ModuleList(mlp3(width, hidden, width) for _ in range(n_blocks))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(n_blocks))
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, out_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        zb, unbatched = as_tokens(z, "z", d=self.d)
        h = self.embed(twin_features(zb, self.coords).to(self.embed.weight.dtype))
        for mlp, norm in zip(self.blocks, self.norms):
            h = norm(h + mlp(h.mean(dim=-2, keepdim=True)))
        return restore(self.head(h.mean(dim=-2)), unbatched)

    def extra_repr(self) -> str:
        return f"d={self.d}, coords={self.coords!r}, width={self.width}, hidden={self.hidden}, n_blocks={len(self.blocks)}"


@lru_cache(maxsize=64)
def _hidden_for(d: int, out_dim: int, coords: str, target: int, n_blocks: int, width: int | None, tol: float, hi: int) -> int:
    def build(h: int) -> RealTwin:
        return RealTwin(d, out_dim, coords=coords, width=width, hidden=h, n_blocks=n_blocks)

    return width_for_params(build, target, 1, hi, tol=tol)


def twin_for_params(d: int, out_dim: int, coords: str, target: int, *, n_blocks: int = 3, width: int | None = None, tol: float = 0.05, hi: int = 1024) -> RealTwin:
    """The :class:`RealTwin` whose MLP width (searched in ``1..hi``, ``baselines.width_for_params``)
    gives ``target`` real parameters within ``tol``; ValueError when none does. The width
    found is cached per arguments (the search builds models; the returned twin is fresh)."""
    validate.choice("coords", coords, COORDS)
    h = _hidden_for(d, out_dim, coords, int(target), n_blocks, width, float(tol), int(hi))
    twin = RealTwin(d, out_dim, coords=coords, width=width, hidden=h, n_blocks=n_blocks)
    if abs(n_real_parameters(twin) / target - 1) > tol:
        raise ValueError(f"no hidden width gives {target} parameters within {tol:.0%}")
    return twin
