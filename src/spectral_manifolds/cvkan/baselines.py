"""Transformer baselines R (real) and C (complex, torchcvnn) at a matched parameter count.

Issue 8, "Baselines at +-5 % parameter count": **R** a real-valued Transformer encoder,
**C** a complex Transformer built from ``torchcvnn`` layers. Both map a token sequence to
one output vector: ``(B, N, F) -> (B, out_dim)`` (or ``(N, F) -> (out_dim,)``), so one
head serves classification (``out_dim = n_classes`` logits) and forecasting
(``out_dim = horizon * C``).

* :class:`RealTransformer`: ``Linear(F, d_model)`` + fixed sinusoidal positions ->
  ``torch.nn.TransformerEncoder`` (pre-norm, GELU, batch first) -> LayerNorm -> mean over
  tokens -> ``Linear(d_model, out_dim)``. Complex tokens (B, N, d) enter as the real
  features ``[Re z, Im z]`` (``complex_input=True``, ``F = 2 d`` inside).
* :class:`ComplexTransformer`: complex ``Linear(F, d_model)`` + phase positions
  ``exp(i n w_k)`` -> pre-norm encoder layers (torchcvnn ``MultiheadAttention``, whose
  scores are ``softmax(Re(q k^H) / sqrt(d_head))``, Eilers & Jiang 2023; complex
  feed-forward with ``CGELU``/``modReLU``/``CReLU``) -> norm -> mean over tokens ->
  ``|.|`` -> real ``Linear(d_model, out_dim)``. Real input (B, N, F) is cast to complex.

**Norm (found while building this).** ``torchcvnn.nn.LayerNorm`` 0.10 computes its mean
and 2x2 covariance per *channel over every other axis* (``z.view(-1, C).T.mean(-1)``):
over the batch and the tokens, like a batch norm without running statistics, not over a
token's channels. A sample's output then depends on the other samples in its batch, also
in eval mode, and ``MultiheadAttention``'s q/k norms share it. ``norm="token"`` (default)
applies the same equations -- centre, whiten the (Re, Im) covariance with its inverse
square root, a learned per-channel 2x2 map and complex bias -- over each token's own
channels (covariance with 1/d where torchcvnn uses 1/(n-1)): the book's ``layers.ComplexLayerNorm`` (per head for q and k:
:class:`HeadwiseLayerNorm`), with the same parameter count; ``norm="token"`` and
``norm="torchcvnn"`` (the library's layers unchanged, for comparison) build models of
equal size.

Parameters are counted as real numbers (``layers.n_real_parameters``, re-exported here:
a complex entry is two), the count that the seed's real MLPs and R use.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.layers import make_norm, n_real_parameters

__all__ = ["RealTransformer", "ComplexTransformer", "HeadwiseLayerNorm", "n_real_parameters", "width_for_params", "transformer_widths", "transformer_baseline"]

ACTIVATIONS = ("cgelu", "modrelu", "crelu")
NORMS = ("token", "torchcvnn")


def width_for_params(build: Callable[[int], nn.Module], target: int, lo: int, hi: int, *, tol: float | None = None) -> int:
    """The integer width in ``[lo, hi]`` whose ``build(width)`` has the parameter count closest to ``target``.

    A binary search for the smallest width with ``count >= target`` (the count must not
    decrease with width), then the closer of it and its predecessor.

    Args:
        build: width -> model.
        target: parameter count to match (real, :func:`n_real_parameters`).
        lo, hi: the widths searched (``1 <= lo <= hi``).
        tol: when given, raise ``ValueError`` unless ``|count / target - 1| <= tol``.
    """
    validate.positive_int("target", target)
    validate.positive_int("lo", lo)
    validate.positive_int("hi", hi)
    if lo > hi:
        raise ValueError(f"lo={lo} must be <= hi={hi}")
    cache: dict[int, int] = {}

    def count(w: int) -> int:
        if w not in cache:
            cache[w] = n_real_parameters(build(w))
        return cache[w]

    a, b = lo, hi
    if count(hi) < target:
        a = hi
    else:
        while a < b:  # invariant: count(b) >= target
            mid = (a + b) // 2
            if count(mid) >= target:
                b = mid
            else:
                a = mid + 1
    best = min({a, max(lo, a - 1)}, key=lambda w: (abs(count(w) - target), w))
    if tol is not None and abs(count(best) / target - 1.0) > tol:
        raise ValueError(f"no width in [{lo}, {hi}] gives {target} parameters within {tol:.0%}: closest is width {best} with {count(best)}")
    return best


def transformer_baseline(name: str, d: int, width: int, n_heads: int, n_layers: int, out_dim: int) -> nn.Module:
    """Baseline ``"R"`` or ``"C"`` on complex tokens ``(B, N, d)``: ``d_model = n_heads * width``."""
    validate.choice("baseline", name, ("R", "C"))
    if name == "R":
        return RealTransformer(d, n_heads * width, n_heads, n_layers, out_dim, complex_input=True)
    return ComplexTransformer(d, n_heads * width, n_heads, n_layers, out_dim)


def transformer_widths(d: int, target: int, n_heads: int, n_layers: int, *, out_dim: int = 2, tol: float = 0.05, hi: int = 512) -> dict[str, int]:
    """``{"R": w, "C": w}``: the per-head widths at which :func:`transformer_baseline` on
    complex ``(B, N, d)`` tokens has ``target`` real parameters (within ``tol``, else ``ValueError``)."""
    return {name: width_for_params(lambda w: transformer_baseline(name, d, w, n_heads, n_layers, out_dim), target, 1, hi, tol=tol) for name in ("R", "C")}


def _sinusoid(n: int, d: int, device, dtype) -> torch.Tensor:
    """Positions (N, d): pairs sin, cos of n * 10000^(-2k/d) (Vaswani et al. 2017)."""
    pos = torch.arange(n, device=device, dtype=torch.float64)[:, None]
    k = torch.arange(d, device=device)
    freq = torch.pow(10000.0, -(2 * (k // 2)).double() / d)
    ang = pos * freq
    return torch.where(k % 2 == 0, torch.sin(ang), torch.cos(ang)).to(dtype)


def _phase_positions(n: int, d: int, device, dtype) -> torch.Tensor:
    """Complex positions (N, d): exp(i n w_k), w_k = 10000^(-k/d)."""
    pos = torch.arange(n, device=device, dtype=torch.float64)[:, None]
    freq = torch.pow(10000.0, -torch.arange(d, device=device).double() / d)
    return torch.polar(torch.ones_like(pos * freq), pos * freq).to(dtype)


def _tokens(x: torch.Tensor, name: str, in_features: int, complex_ok: bool, real_ok: bool, want: str) -> tuple[torch.Tensor, bool]:
    """Check rank, dtype and last axis; return (x as (B, N, F), was_unbatched)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} expects a torch tensor {want}, got {type(x).__name__}")
    kind_ok = (x.is_complex() and complex_ok) or (x.is_floating_point() and real_ok)
    if x.ndim not in (2, 3) or not kind_ok or x.shape[-1] != in_features:
        raise ValueError(f"{name} expects {want} with last axis {in_features}, got dtype {x.dtype} and shape {tuple(x.shape)}")
    return (x[None], True) if x.ndim == 2 else (x, False)


class RealTransformer(nn.Module):
    """Baseline R: a real Transformer encoder, (B, N, F) -> (B, out_dim).

    Args:
        in_features: F, the last axis of the input (with ``complex_input``: d complex channels).
        d_model: width (divisible by ``n_heads``).
        n_heads: attention heads.
        n_layers: encoder layers.
        out_dim: outputs (classes or horizon * channels).
        dim_feedforward: hidden width of each layer's MLP (default 2 * d_model).
        dropout: dropout inside the encoder layers.
        complex_input: expect complex (B, N, d) and feed ``[Re, Im]`` (2 d features).
    """

    def __init__(self, in_features: int, d_model: int, n_heads: int, n_layers: int, out_dim: int, *, dim_feedforward: int | None = None, dropout: float = 0.1, complex_input: bool = False):
        super().__init__()
        for name, v in (("in_features", in_features), ("d_model", d_model), ("n_heads", n_heads), ("n_layers", n_layers), ("out_dim", out_dim)):
            validate.positive_int(name, v)
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.in_features, self.complex_input = in_features, bool(complex_input)
        self.embed = nn.Linear(2 * in_features if complex_input else in_features, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward or 2 * d_model, dropout, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.head = nn.Linear(d_model, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, N, F) real, or complex (B, N, d) when ``complex_input``; -> (B, out_dim)."""
        want = "complex (B, N, d) or (N, d)" if self.complex_input else "real (B, N, F) or (N, F)"
        x, unbatched = _tokens(x, "RealTransformer", self.in_features, self.complex_input, not self.complex_input, want)
        if self.complex_input:
            x = torch.cat([x.real, x.imag], dim=-1)
        x = x.to(self.embed.weight.dtype)
        h = self.embed(x) + _sinusoid(x.shape[1], self.embed.out_features, x.device, x.dtype)
        out = self.head(self.encoder(h).mean(dim=1))
        return out[0] if unbatched else out


class HeadwiseLayerNorm(nn.Module):
    """The book's complex LayerNorm (``layers.make_norm("layernorm", n)``) on groups of n channels.

    x: (..., k * n) complex -> same shape; each token's k groups (attention heads for
    the q/k norms of ``MultiheadAttention``, which hands them over as (N, B, k * n)) are
    normalized on their own, with parameters shared across groups as in torchcvnn.
    """

    def __init__(self, n: int):
        super().__init__()
        self.n, self.norm = n, make_norm("layernorm", n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_complex() or x.shape[-1] % self.n:
            raise ValueError(f"HeadwiseLayerNorm({self.n}) expects complex (..., k*{self.n}), got dtype {x.dtype} and shape {tuple(x.shape)}")
        return self.norm(x.reshape(-1, x.shape[-1] // self.n, self.n)).reshape(x.shape)


class _ComplexEncoderLayer(nn.Module):
    """Pre-norm complex encoder layer: x + MHA(norm x), then x + FF(norm x)."""

    def __init__(self, d: int, n_heads: int, ff: int, dropout: float, activation: type[nn.Module]):
        super().__init__()
        import torchcvnn.nn as cnn
        from torchcvnn.nn.modules.initialization import complex_xavier_uniform_

        self.self_attn = cnn.MultiheadAttention(d, n_heads, dropout=dropout, norm_layer=HeadwiseLayerNorm, batch_first=True)
        self.norm1, self.norm2 = make_norm("layernorm", d), make_norm("layernorm", d)
        self.linear1 = nn.Linear(d, ff, dtype=torch.complex64)
        self.linear2 = nn.Linear(ff, d, dtype=torch.complex64)
        self.activation, self.dropout = activation(), cnn.Dropout(dropout)
        for lin in (self.linear1, self.linear2):  # as torchcvnn's TransformerEncoderLayer
            complex_xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, h, need_weights=False))
        return x + self.dropout(self.linear2(self.dropout(self.activation(self.linear1(self.norm2(x))))))


class ComplexTransformer(nn.Module):
    """Baseline C: a complex Transformer from torchcvnn layers, (B, N, F) -> (B, out_dim) real.

    Args:
        in_features: F, the last axis of the input (complex d, or real F cast to complex).
        d_model: complex width (divisible by ``n_heads``); real parameters ~ 2x a real model's.
        n_heads, n_layers, out_dim: as :class:`RealTransformer`.
        dim_feedforward: complex hidden width (default 2 * d_model).
        dropout: dropout inside the layers.
        activation: "cgelu" (GELU on Re and Im), "modrelu" or "crelu".
        norm: "token" (``layers.ComplexLayerNorm``) or "torchcvnn" (``torchcvnn.nn.LayerNorm``,
            statistics over the batch: see the module docstring).
    """

    def __init__(self, in_features: int, d_model: int, n_heads: int, n_layers: int, out_dim: int, *, dim_feedforward: int | None = None, dropout: float = 0.1, activation: str = "cgelu", norm: str = "token"):
        super().__init__()
        import torchcvnn.nn as cnn

        for name, v in (("in_features", in_features), ("d_model", d_model), ("n_heads", n_heads), ("n_layers", n_layers), ("out_dim", out_dim)):
            validate.positive_int(name, v)
        validate.choice("activation", activation, ACTIVATIONS)
        validate.choice("norm", norm, NORMS)
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        act = {"cgelu": cnn.CGELU, "modrelu": cnn.modReLU, "crelu": cnn.CReLU}[activation]
        ff = dim_feedforward or 2 * d_model
        self.in_features, self.norm_kind = in_features, norm
        self.embed = nn.Linear(in_features, d_model, dtype=torch.complex64)
        if norm == "token":
            self.layers = nn.ModuleList(_ComplexEncoderLayer(d_model, n_heads, ff, dropout, act) for _ in range(n_layers))
            self.norm = make_norm("layernorm", d_model)
        else:
            self.layers = nn.ModuleList(
                cnn.TransformerEncoderLayer(d_model, n_heads, ff, dropout, activation=act, batch_first=True, norm_first=True) for _ in range(n_layers)
            )
            self.norm = cnn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: complex (B, N, d) or real (B, N, F) (also unbatched) -> real (B, out_dim)."""
        x, unbatched = _tokens(x, "ComplexTransformer", self.in_features, True, True, "complex (B, N, d) or real (B, N, F), or unbatched (N, .)")
        x = x.to(self.embed.weight.dtype)
        h = self.embed(x) + _phase_positions(x.shape[1], self.embed.out_features, x.device, x.dtype)
        for layer in self.layers:
            h = layer(h)
        out = self.head(self.norm(h).mean(dim=1).abs())
        return out[0] if unbatched else out
