"""The CV-KAN models: embedding, a stack of polarizing blocks (flat or hierarchical), heads.

Seed 003 (CV-KAN research log) reports its models by parameter count only; issue 8
("Facts about the public code", "The stack") gives the structure: after every block the
magnitudes are centred (:func:`~spectral_manifolds.cvkan.tokens.center_magnitudes`, so
the seed's ``norm none`` still normalizes that); the head pools the tokens, takes
``|.|`` and applies a small real network. With ``d = 32`` and two classes the seed's
counts are reproduced exactly when that head is ``LayerNorm(d)`` followed by
``Linear(d, 2)`` (130 parameters): flat, 3 blocks: 3 x 57,953 + 130 = 173,989; shared
hierarchy: 57,953 + 130 = 58,083; per-level hierarchy with 10 preallocated levels:
10 x 57,953 + 130 = 579,660. (The seed does not print its head; 130 is what its counts
leave once the block is pinned down, and ``LayerNorm + Linear`` is the simplest real
head of that size.)

* :class:`TokenEmbedding` -- real features ``(B, N, F)`` to complex tokens ``(B, N, d)``;
  complex input of width ``d`` passes through unchanged (the synthetic task's tokens).
* :class:`CVKAN` -- embedding, blocks (or a hierarchy), norm after each, pooled head.
  ``n_blocks = 0`` is the baseline **Z0** (same embedding, pooling and head, no block);
  ``head_hidden`` widens its head so that it can be matched in parameters.
* :func:`n_parameters` -- real parameters (a complex one counts twice).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.aggregation import make_aggregation
from spectral_manifolds.cvkan.block import PolarizingBlock
from spectral_manifolds.cvkan.hierarchy import HIERARCHY_VARIANTS, HierarchicalPolarization
from spectral_manifolds.cvkan.layers import make_norm, n_real_parameters
from spectral_manifolds.cvkan.tokens import restore

__all__ = ["TokenEmbedding", "CVKAN", "POOLINGS", "n_parameters"]

POOLINGS = ("mean", "magnitude", "attention")


n_parameters = n_real_parameters  # trainable real parameters (a complex entry counts as two)


class TokenEmbedding(nn.Module):
    """Tokens for the blocks: ``(B, N, F)`` real -> ``(B, N, d)`` complex, ``Re + i Im`` of one
    real ``Linear(F, 2d)``; complex ``(B, N, d)`` input is passed through (no parameters).

    Args:
        d: complex channels of the tokens.
        in_features: ``F`` for real input; ``None`` when the input is already complex of width ``d``.
    """

    def __init__(self, d: int, in_features: Optional[int] = None):
        super().__init__()
        validate.positive_int("d", d)
        if in_features is not None:
            validate.positive_int("in_features", in_features)
        self.d, self.in_features = d, in_features
        self.proj = None if in_features is None else nn.Linear(in_features, 2 * d)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """``x``: ``(B, N, F)`` / ``(N, F)`` real, or ``(B, N, d)`` / ``(N, d)`` complex.
        Returns ``(Z: (B, N, d) complex, unbatched)``."""
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if self.proj is None:
            if not x.is_complex():
                raise ValueError(f"this model takes complex tokens (B, N, {self.d}); got dtype {x.dtype}: pass in_features=F for real input")
            z, unbatched = validate.sequence(x, "x", last=self.d, last_name="d")
            return z, unbatched
        if x.is_complex():
            raise ValueError(f"this model embeds real features (B, N, {self.in_features}); got a complex tensor")
        x, unbatched = validate.sequence(x, "x", last=self.in_features, last_name="F")
        re, im = self.proj(x).chunk(2, dim=-1)
        return torch.complex(re, im), unbatched


class CVKAN(nn.Module):
    """Embedding -> blocks (each followed by a norm) -> pool -> ``|.|`` -> real head.

    Args:
        d: complex channels.
        out_dim: classes (logits) or regression outputs.
        in_features: real input features ``F`` (None: the input is complex tokens of width ``d``).
        n_blocks: flat stack depth (ignored when ``hierarchy`` is set); 0 gives Z0.
        hidden: the blocks' MLP width (the seed: 128).
        aggregation: the blocks' aggregation (see ``aggregation.make_aggregation``).
        version: ``"tanh"`` or ``"legacy"`` block update; univariate: per-channel MLPs.
        norm: after every block: ``"centre"`` (the seed's stack, also under its ``norm none``),
            ``"none"`` (truly nothing), ``"layernorm"``, ``"rms"``.
        pooling: ``"mean"``, ``"magnitude"`` (weights ∝ mean |z_i|) or ``"attention"`` (learned).
        hierarchy: None (flat) or a variant of :class:`HierarchicalPolarization`;
            ``n_tokens`` (a power of two) is then required; ``allocated_levels`` as there.
        head_hidden: 0 for ``LayerNorm + Linear``; ``h > 0`` adds ``Linear(d, h)`` + GELU.
        head_norm: start the head with ``LayerNorm(d)`` (the seed's counts need it). It
            removes each sample's mean over channels of ``|pooled|``: on the synthetic task
            that mean is what carries the class, so Z0 with it sits at chance; pass
            ``False`` for a Z0 that can read it.
    """

    def __init__(
        self, d: int, out_dim: int, *, in_features: Optional[int] = None, n_blocks: int = 3, hidden: int = 128,
        aggregation: str = "mean", version: str = "tanh", univariate: bool = False, norm: str = "centre",
        pooling: str = "mean", hierarchy: Optional[str] = None, n_tokens: Optional[int] = None,
        allocated_levels: Optional[int] = None, head_hidden: int = 0, head_norm: bool = True,
    ):
        super().__init__()
        validate.positive_int("out_dim", out_dim)
        if not (isinstance(n_blocks, int) and n_blocks >= 0):
            raise ValueError(f"n_blocks must be an int >= 0, got {n_blocks!r}")
        if not (isinstance(head_hidden, int) and head_hidden >= 0):
            raise ValueError(f"head_hidden must be an int >= 0, got {head_hidden!r}")
        validate.choice("pooling", pooling, POOLINGS)
        self.embed = TokenEmbedding(d, in_features)
        if hierarchy is not None:
            validate.choice("hierarchy", hierarchy, HIERARCHY_VARIANTS)
            if n_tokens is None:
                raise ValueError("a hierarchical model needs n_tokens (a power of two)")
            self.hierarchy = HierarchicalPolarization(d, n_tokens, variant=hierarchy, hidden=hidden, allocated_levels=allocated_levels)
            self.blocks = nn.ModuleList()
            self.norms = nn.ModuleList([make_norm(norm, d)])
        else:
            self.hierarchy = None
            self.blocks = nn.ModuleList(
                PolarizingBlock(d, hidden=hidden, aggregation=aggregation, version=version, univariate=univariate) for _ in range(n_blocks)
            )
            self.norms = nn.ModuleList(make_norm(norm, d) for _ in range(n_blocks))
        self.pooling = pooling
        self.pool = None if pooling == "mean" else make_aggregation(pooling, d)
        layers = [nn.LayerNorm(d)] if head_norm else []
        if head_hidden:
            layers += [nn.Linear(d, head_hidden), nn.GELU(), nn.Linear(head_hidden, out_dim)]
        else:
            layers += [nn.Linear(d, out_dim)]
        self.head = nn.Sequential(*layers)

    def tokens(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The token states ``[Z_0, Z_1, ...]``, each ``(B, N, d)``: the embedding, then after
        every block and its norm (one entry after the hierarchy when it is used)."""
        z, _ = self.embed(x)
        states = [z]
        if self.hierarchy is not None:
            states.append(self.norms[0](self.hierarchy(z)))
        for block, norm in zip(self.blocks, self.norms):
            states.append(norm(block(states[-1])))
        return states

    def pooled(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, N, d)`` complex tokens -> ``(B, d)`` complex, by the model's pooling."""
        if self.pool is None:
            return z.mean(dim=-2)
        return self.pool(z)[..., 0, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: see :class:`TokenEmbedding`. Returns ``(B, out_dim)`` (or ``(out_dim,)``
        for unbatched input) real outputs."""
        z = self.tokens(x)[-1]
        out = self.head(self.pooled(z).abs())
        return restore(out, x.dim() == 2)

