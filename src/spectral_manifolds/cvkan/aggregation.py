"""The five token aggregations of the polarizing block (issue 8, "Aggregations"; seed 003,
"Aggregation Strategy Paradox").

Every aggregation maps complex tokens ``(B, N, d)`` to either

* ``(B, 1, d)`` -- one aggregate per sequence, broadcast back to every token by the block
  ("broadcast" mode: ``mean``, ``magnitude``, ``attention``), or
* ``(B, N, d)`` -- one aggregate per token (``causal``, ``window``).

``(N, d)`` input gives ``(1, d)`` or ``(N, d)``. The attribute ``broadcast`` says which.

Global phase rotation ``Z -> e^{i theta} Z``: ``mean``, ``magnitude``, ``causal`` and
``window`` are linear in ``Z`` with weights that depend on ``Z`` only through ``|Z|``, so
they are rotation-equivariant (``A -> e^{i theta} A``, ``|A|`` unchanged). ``attention``
scores tokens from ``[Re z, Im z]`` (as the seed's pooling does), so a rotation changes
its weights: it is not equivariant and ``|A|`` changes in general.
"""

from __future__ import annotations

import torch
from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.tokens import as_tokens, check_complex, restore

__all__ = [
    "AGGREGATIONS", "make_aggregation", "mean_tokens", "magnitude_weighted_mean",
    "MeanAggregation", "MagnitudeAggregation", "CausalAggregation", "WindowAggregation",
    "AttentionAggregation",
]

AGGREGATIONS = ("mean", "magnitude", "causal", "window", "attention")


def mean_tokens(z: torch.Tensor) -> torch.Tensor:
    """Mean over the token axis (-2), kept: ``(..., n, d) -> (..., 1, d)``."""
    check_complex(z)
    return z.mean(dim=-2, keepdim=True)


def magnitude_weighted_mean(z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``A = sum_i w_i z_i`` with ``w_i = m_i / sum_j m_j``, ``m_i = mean_c |z_ic|`` (axis -2).

    Seed 003's "Magnitude-Weighted Mean (no new parameters)", with the per-token weight of
    issue 8 (``w_i ∝ mean_d |z_i|``). The denominator is clamped below at ``eps``, so an
    all-zero group gives ``A = 0`` with finite gradients (``d|z|/dz = 0`` at 0 in torch).
    Degree-1 homogeneous and rotation-equivariant: ``A(a e^{i theta} Z) = a e^{i theta} A(Z)``
    for ``a > 0`` (while ``sum_j m_j > eps``).

    Shapes: ``(..., n, d) -> (..., 1, d)``.
    """
    check_complex(z)
    m = z.abs().mean(dim=-1, keepdim=True)  # (..., n, 1) real
    total = torch.clamp(m.sum(dim=-2, keepdim=True), min=eps)  # (..., 1, 1)
    return (m * z).sum(dim=-2, keepdim=True) / total


class _Aggregation(nn.Module):
    broadcast = True

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        zb, unbatched = as_tokens(z)
        return restore(self._aggregate(zb), unbatched)


class MeanAggregation(_Aggregation):
    """``A = mean_i Z_i``: ``(B, N, d) -> (B, 1, d)``; no parameters (issue 8: "mean")."""

    def _aggregate(self, z):
        return mean_tokens(z)


class MagnitudeAggregation(_Aggregation):
    """:func:`magnitude_weighted_mean`: ``(B, N, d) -> (B, 1, d)``; no parameters."""

    def _aggregate(self, z):
        return magnitude_weighted_mean(z)


class CausalAggregation(_Aggregation):
    """Cumulative mean ``A_i = (1/(i+1)) sum_{j<=i} Z_j``: ``(B, N, d) -> (B, N, d)``.

    Seed 003, "Causal Aggregation: token i only sees tokens 0...i". ``torch.cumsum``
    computes prefix ``i`` from tokens ``0..i`` only, so changing a future token leaves
    every past aggregate bit-for-bit unchanged (tested).
    """

    broadcast = False

    def _aggregate(self, z):
        count = torch.arange(1, z.shape[-2] + 1, device=z.device, dtype=z.real.dtype)
        return torch.cumsum(z, dim=-2) / count[:, None]


class WindowAggregation(_Aggregation):
    """Centred local mean ``A_i = mean_{|j - i| <= h} Z_j``, ``h = (window - 1) / 2``.

    Seed 003, "Local Window Aggregation ... returns (batch, n_tokens, d)". Near the ends
    the mean is over the tokens that exist (no zero padding), so constant tokens give a
    constant aggregate. ``window >= 2N - 1`` gives the global mean at every token.

    Args:
        window: odd positive number of tokens.

    Shapes: ``(B, N, d) -> (B, N, d)``.
    """

    broadcast = False

    def __init__(self, window: int = 3):
        super().__init__()
        validate.positive_int("window", window)
        if window % 2 == 0:
            raise ValueError(f"window must be odd (a centred window), got {window}")
        self.window = window

    def _aggregate(self, z):
        n, h = z.shape[-2], self.window // 2
        h = min(h, n - 1)  # a wider window sees the same tokens
        zr = torch.view_as_real(z)  # (B, N, d, 2)
        padded = torch.nn.functional.pad(zr, (0, 0, 0, 0, h, h))  # zeros on the token axis
        sums = padded.unfold(-3, 2 * h + 1, 1).sum(-1)  # (B, N, d, 2)
        idx = torch.arange(n, device=z.device)
        count = (torch.clamp(idx + h, max=n - 1) - torch.clamp(idx - h, min=0) + 1).to(zr.dtype)
        return torch.view_as_complex((sums / count[:, None, None]).contiguous())

    def extra_repr(self) -> str:
        return f"window={self.window}"


class AttentionAggregation(_Aggregation):
    """Attention pooling that splits Re and Im (the seed's): ``(B, N, d) -> (B, 1, d)``.

    ``score_i = w . [Re z_i, Im z_i] + b`` (a real ``Linear(2d, 1)``: ``2d + 1``
    parameters), ``p = softmax_i(score)``, ``A = sum_i p_i z_i``. With ``w = 0`` it is the
    mean. Not rotation-equivariant: the score of ``e^{i theta} z_i`` differs from that of
    ``z_i``.
    """

    def __init__(self, d: int):
        super().__init__()
        validate.positive_int("d", d)
        self.d = d
        self.score = nn.Linear(2 * d, 1)

    def _aggregate(self, z):
        if z.shape[-1] != self.d:
            raise ValueError(f"z must have last axis d={self.d}, got shape {tuple(z.shape)}")
        s = self.score(torch.cat([z.real, z.imag], dim=-1))  # (B, N, 1)
        p = torch.softmax(s, dim=-2)
        return (p * z).sum(dim=-2, keepdim=True)


def make_aggregation(kind: str, d: int, window: int = 3) -> nn.Module:
    """The aggregation named ``kind`` in :data:`AGGREGATIONS` for ``d`` channels.

    ``window`` is used by ``"window"`` only. Only ``"attention"`` has parameters
    (``2d + 1``).
    """
    validate.choice("aggregation", kind, AGGREGATIONS)
    validate.positive_int("d", d)
    if kind == "mean":
        return MeanAggregation()
    if kind == "magnitude":
        return MagnitudeAggregation()
    if kind == "causal":
        return CausalAggregation()
    if kind == "window":
        return WindowAggregation(window)
    return AttentionAggregation(d)
