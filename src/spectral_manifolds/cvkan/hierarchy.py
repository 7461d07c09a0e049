"""Hierarchical polarization (seed 003, "2026-01-22 Hierarchical Polarization Validated";
issue 8, "Hierarchical polarization").

At level ``l`` (0-based) the ``N`` tokens are cut into consecutive groups of ``2^(l+1)``;
each group is aggregated (mean, or magnitude-weighted for ``variant="magnitude"``) and
the level's :class:`~spectral_manifolds.cvkan.block.PolarizingBlock` update of that
aggregate is added to every token of the group (broadcast within the group)::

    Z_g  = Z.view(B, N / g, g, d),  g = 2^(l+1)
    A_g  = Agg(Z_g)                  (B, N / g, 1, d)
    Z    = (Z_g + block_l.update(A_g)).view(B, N, d)

Levels run ``0 .. L-1`` with ``L = max_levels`` (default ``log2 N``; the last level is
one group of all ``N`` tokens, so ``N`` must be a power of two). Variants:

* ``"shared"``: one block for every level;
* ``"per_level"``: one block per level, mean aggregation;
* ``"magnitude"``: one block per level, magnitude-weighted aggregation;
* ``"top_down"``: per-level blocks, bottom-up levels ``0..L-1`` then the same blocks again
  coarse to fine, ``L-1..0``.

``allocated_levels`` (default ``L``) reproduces the seed's preallocation: its per-level
models held 10 blocks although only ``log2 16 = 4`` levels act at ``N = 16``, hence
10 x 57,953 + 130 (head) = 579,660 parameters (shared: 57,953 + 130 = 58,083).
:meth:`n_used_parameters` counts only the blocks the forward pass uses.

The blocks here use their MLPs only; their own aggregation is the parameter-free mean,
so a block counts 57,953 parameters at ``d = 32, hidden = 128``.

Shapes: ``(B, N, d)`` or ``(N, d)`` complex with ``N = n_tokens`` -> same.
"""

from __future__ import annotations

import torch
from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.aggregation import magnitude_weighted_mean, mean_tokens
from spectral_manifolds.cvkan.block import PolarizingBlock
from spectral_manifolds.cvkan.tokens import as_tokens, restore

__all__ = ["HierarchicalPolarization", "HIERARCHY_VARIANTS", "level_schedule"]

HIERARCHY_VARIANTS = ("shared", "per_level", "magnitude", "top_down")


def _log2_exact(n: int) -> int:
    validate.positive_int("n_tokens", n)
    if n < 2 or n & (n - 1):
        raise ValueError(f"n_tokens must be a power of two >= 2 (groups of 2^(l+1) tokens), got {n}")
    return n.bit_length() - 1


def level_schedule(variant: str, levels: int) -> list[int]:
    """The levels in the order the forward pass runs them (``top_down``: ``0..L-1, L-1..0``)."""
    validate.choice("variant", variant, HIERARCHY_VARIANTS)
    up = list(range(levels))
    return up + up[::-1] if variant == "top_down" else up


class HierarchicalPolarization(nn.Module):
    """Multi-scale polarization over groups of ``2, 4, ..., 2^L`` tokens.

    Args:
        d: complex channels.
        n_tokens: ``N``, a power of two >= 2 (the input must have exactly ``N`` tokens).
        variant: one of :data:`HIERARCHY_VARIANTS`.
        hidden: the blocks' MLP width.
        max_levels: levels used, ``1 <= L <= log2 N`` (default ``log2 N``).
        allocated_levels: blocks allocated, ``>= L`` (default ``L``); ignored by
            ``"shared"`` (always one block).
        **block_kwargs: passed to every :class:`PolarizingBlock` (``version``,
            ``univariate``, ``s_init``).
    """

    def __init__(self, d: int, n_tokens: int, variant: str = "shared", hidden: int = 128,
                 max_levels: int | None = None, allocated_levels: int | None = None, **block_kwargs):
        super().__init__()
        validate.positive_int("d", d)
        validate.choice("variant", variant, HIERARCHY_VARIANTS)
        full = _log2_exact(n_tokens)
        levels = full if max_levels is None else max_levels
        validate.positive_int("max_levels", levels)
        if levels > full:
            raise ValueError(f"max_levels={levels} exceeds log2(n_tokens)={full} (level l groups 2^(l+1) tokens)")
        allocated = levels if allocated_levels is None else allocated_levels
        validate.positive_int("allocated_levels", allocated)
        if allocated < levels:
            raise ValueError(f"allocated_levels={allocated} must be >= max_levels={levels}")
        if "aggregation" in block_kwargs:
            raise ValueError("the hierarchy chooses the group aggregation from `variant`; do not pass aggregation")
        self.d, self.n_tokens, self.variant = d, n_tokens, variant
        self.max_levels, self.allocated_levels = levels, allocated
        self.n_blocks = 1 if variant == "shared" else allocated
        self.blocks = nn.ModuleList(PolarizingBlock(d, hidden, "mean", **block_kwargs) for _ in range(self.n_blocks))
        self._aggregate = magnitude_weighted_mean if variant == "magnitude" else mean_tokens

    def block_for(self, level: int) -> PolarizingBlock:
        """The block that acts at ``level`` (block 0 for ``"shared"``)."""
        return self.blocks[0 if self.variant == "shared" else level]

    def schedule(self) -> list[int]:
        """Levels in forward order."""
        return level_schedule(self.variant, self.max_levels)

    def n_parameters(self) -> int:
        """All parameters, allocated ones included (the seed's count)."""
        return sum(p.numel() for p in self.parameters())

    def n_used_parameters(self) -> int:
        """Parameters of the blocks the forward pass uses (``max_levels`` of them, or 1 shared)."""
        used = {id(self.block_for(level)): self.block_for(level) for level in self.schedule()}
        return sum(p.numel() for block in used.values() for p in block.parameters())

    def level(self, z: torch.Tensor, level: int) -> torch.Tensor:
        """One level on batched tokens ``z: (B, N, d)``: groups of ``2^(level+1)``, broadcast."""
        b, n, d = z.shape
        g = 2 ** (level + 1)
        zg = z.reshape(b, n // g, g, d)
        a = self._aggregate(zg)  # (B, N/g, 1, d)
        return (zg + self.block_for(level).update(a)).reshape(b, n, d)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        zb, unbatched = as_tokens(z, d=self.d)
        if zb.shape[-2] != self.n_tokens:
            raise ValueError(f"z must have N={self.n_tokens} tokens, got shape {tuple(z.shape)}")
        for level in self.schedule():
            zb = self.level(zb, level)
        return restore(zb, unbatched)

    def extra_repr(self) -> str:
        return (f"d={self.d}, n_tokens={self.n_tokens}, variant={self.variant!r}, "
                f"max_levels={self.max_levels}, n_blocks={self.n_blocks}")
