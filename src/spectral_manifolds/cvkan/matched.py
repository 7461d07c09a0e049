"""Baselines R and C on complex tokens, matched to a parameter count (issue 8, "Baselines at +-5 %").

One helper for the chapters that hold a CV-KAN on complex tokens ``z: (B, N, d)`` against the
Transformers of :mod:`spectral_manifolds.cvkan.baselines`:

* ``"R"`` -- :class:`~spectral_manifolds.cvkan.baselines.RealTransformer` with
  ``complex_input=True`` (it reads ``[Re z, Im z]``);
* ``"C"`` -- :class:`~spectral_manifolds.cvkan.baselines.ComplexTransformer` (torchcvnn layers).

Both map ``(B, N, d)`` complex to ``(B, out_dim)`` real logits. The width ``d_model = heads * w``
is the ``w`` that :func:`~spectral_manifolds.cvkan.baselines.width_for_params` finds for ``target``
real parameters, within ``tol`` (default 5 %), the pattern of ``experiments/cvkan_block.builders``.
"""

from __future__ import annotations

from functools import lru_cache

from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.baselines import transformer_baseline, width_for_params

__all__ = ["TRANSFORMERS", "transformer", "transformer_width", "transformer_for_params"]

TRANSFORMERS = ("R", "C")


def transformer(kind: str, d: int, out_dim: int, width: int, *, heads: int = 4, layers: int = 1) -> nn.Module:
    """``R`` or ``C`` on ``d`` complex channels with ``d_model = heads * width``
    (:func:`~spectral_manifolds.cvkan.baselines.transformer_baseline`)."""
    validate.choice("kind", kind, TRANSFORMERS)
    return transformer_baseline(kind, d, width, heads, layers, out_dim)


@lru_cache(maxsize=64)
def transformer_width(kind: str, d: int, target: int, *, heads: int = 4, layers: int = 1, tol: float = 0.05) -> int:
    """The ``width`` whose :func:`transformer` (2 outputs) has ``target`` real parameters within ``tol``
    (``ValueError`` otherwise). Cached: the search builds a dozen models."""
    return width_for_params(lambda w: transformer(kind, d, 2, w, heads=heads, layers=layers), target, 1, 512, tol=tol)


def transformer_for_params(kind: str, d: int, out_dim: int, target: int, *, heads: int = 4, layers: int = 1, tol: float = 0.05) -> nn.Module:
    """``R`` or ``C`` for complex tokens ``(B, N, d)`` -> ``(B, out_dim)``, matched to ``target`` parameters."""
    return transformer(kind, d, out_dim, transformer_width(kind, d, target, heads=heads, layers=layers, tol=tol), heads=heads, layers=layers)
