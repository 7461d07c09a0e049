"""Complex layers of Part III: a linear map (complex or real-stored weights) and the four norms.

Issue 8 ("Build"): complex linear; norms none, centre-magnitudes, complex LayerNorm, RMS.
Chapter 5 (precision) needs a linear map whose parameters are real tensors, because
``torch.amp.GradScaler`` refuses complex parameters (DESIGN.md, "Known traps"):
``ComplexLinear(..., parametrization="real")`` stores ``view_as_real`` weights and is
numerically the same map.

**Why not torchcvnn.nn.LayerNorm.** Its source (torchcvnn 0.10,
``nn/modules/normalization.py``) reshapes the input to ``(-1, C)``, transposes it to
``(C, num_samples)`` and takes the mean and the 2x2 covariance over ``num_samples``:
the statistics are per channel across every sample and token of the batch, so a
sequence's output depends on the other sequences in the batch (a batch norm without
running statistics, not ``torch.nn.LayerNorm``'s per-sample statistics); its real 2x2
weight is always float32, so complex128 input fails. Its RMSNorm has the same axis.
:class:`ComplexLayerNorm` applies torchcvnn's equation -- centre, whiten the
``(Re, Im)`` pair with the inverse square root of its 2x2 covariance, apply a real 2x2
weight per channel (init ``I/sqrt 2``) and a complex bias (init 0) -- over the channels
of each token, as ``torch.nn.LayerNorm`` does (biased covariance, like torch).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.tokens import as_tokens, center_magnitudes, check_complex, restore

__all__ = [
    "ComplexLinear", "CentreMagnitudes", "ComplexLayerNorm", "ComplexRMSNorm", "NoNorm",
    "make_norm", "NORMS", "double_precision", "n_real_parameters",
]

NORMS = ("none", "centre", "layernorm", "rms")


def double_precision(module: nn.Module) -> nn.Module:
    """Cast real parameters/buffers to float64 and complex ones to complex128, in place.

    ``Module.double()`` leaves complex parameters in complex64 and
    ``Module.to(torch.complex128)`` turns real parameters complex; gradcheck needs both
    kinds in double precision with their kinds kept.
    """
    def cast(t):
        if t.is_complex():
            return t.to(torch.complex128)
        return t.to(torch.float64) if t.is_floating_point() else t
    return module._apply(cast)


def n_real_parameters(module: nn.Module) -> int:
    """Number of real degrees of freedom: a complex entry counts 2, a real entry 1.

    ``sum(p.numel())`` counts a complex entry once; the seed's counts (issue 8) are of
    real MLPs, where both conventions agree.
    """
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters())


class ComplexLinear(nn.Module):
    """``y = W z + b`` with complex ``W: (d_out, d_in)``, ``b: (d_out,)``, on the last axis.

    Args:
        d_in, d_out: channels in and out.
        bias: learn ``b`` (init 0).
        parametrization: ``"complex"`` stores ``W``, ``b`` as complex parameters;
            ``"real"`` stores them as real tensors ``(d_out, d_in, 2)`` and ``(d_out, 2)``
            (``torch.view_as_real`` layout) read through ``torch.view_as_complex``, so
            optimizers and ``GradScaler`` see only real parameters. Same map, same
            arithmetic.

    Init: ``Re W, Im W ~ U(-a, a)`` with ``a = sqrt(3 / (2 d_in))``, so ``E|W_jk|^2 = 1/d_in``
    and the output keeps the input's mean square magnitude.

    Shapes: ``z: (..., d_in)`` complex -> ``(..., d_out)``.
    """

    def __init__(self, d_in: int, d_out: int, bias: bool = True, parametrization: str = "complex"):
        super().__init__()
        validate.positive_int("d_in", d_in)
        validate.positive_int("d_out", d_out)
        validate.choice("parametrization", parametrization, ("complex", "real"))
        self.d_in, self.d_out, self.parametrization = d_in, d_out, parametrization
        a = math.sqrt(3.0 / (2.0 * d_in))
        w = torch.empty(d_out, d_in, 2).uniform_(-a, a)
        b = torch.zeros(d_out, 2) if bias else None
        if parametrization == "complex":
            w = torch.view_as_complex(w)
            b = None if b is None else torch.view_as_complex(b)
        self.weight = nn.Parameter(w.contiguous())
        self.bias = None if b is None else nn.Parameter(b.contiguous())

    def complex_weight(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(W, b)`` as complex tensors (views of the real storage when ``"real"``)."""
        if self.parametrization == "complex":
            return self.weight, self.bias
        b = None if self.bias is None else torch.view_as_complex(self.bias)
        return torch.view_as_complex(self.weight), b

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_complex(z)
        if z.shape[-1] != self.d_in:
            raise ValueError(f"z must have last axis d_in={self.d_in}, got shape {tuple(z.shape)}")
        w, b = self.complex_weight()
        y = z @ w.transpose(0, 1)
        return y if b is None else y + b

    def extra_repr(self) -> str:
        return f"{self.d_in}, {self.d_out}, bias={self.bias is not None}, parametrization={self.parametrization!r}"


class NoNorm(nn.Module):
    """``norm="none"``: returns the tokens unchanged (after the usual checks)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        as_tokens(z)
        return z


class CentreMagnitudes(nn.Module):
    """``norm="centre"``: :func:`~spectral_manifolds.cvkan.tokens.center_magnitudes` as a module."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return center_magnitudes(z, self.eps)


def _inv_sqrt_spd2(a, b, c):
    """Entries ``(p, q, r)`` of ``M^{-1/2} = [[p, q], [q, r]]`` for SPD ``M = [[a, b], [b, c]]``.

    ``M^{1/2} = (M + s I) / t`` with ``s = sqrt(det M)``, ``t = sqrt(tr M + 2 s)``, hence
    ``M^{-1/2} = (adj(M) / s + I) / t`` (the closed form torchcvnn's ``inv_sqrt_2x2`` uses).
    """
    s = torch.sqrt(torch.clamp(a * c - b * b, min=torch.finfo(a.dtype).tiny))
    t = torch.sqrt(a + c + 2 * s)
    return (c / s + 1) / t, -b / (s * t), (a / s + 1) / t


class ComplexLayerNorm(nn.Module):
    """Complex LayerNorm over the channels of each token (torchcvnn's equation, right axis).

    For each token ``z in C^d``: ``mu = mean_c z_c``, ``x_c = (Re, Im)(z_c - mu) in R^2``,
    ``S = (1/d) sum_c x_c x_c^T + eps I`` (2x2), ``y_c = W_c S^{-1/2} x_c``, output
    ``y_c[0] + i y_c[1] + beta_c``. ``W_c`` real 2x2 per channel (init ``I/sqrt 2``),
    ``beta`` complex (stored as ``(d, 2)`` real, init 0). The whitened channels have
    ``(1/d) sum_c |S^{-1/2} x_c|^2 = 2`` (minus eps), so at init the mean square magnitude
    over channels is 1: every token's overall magnitude is removed (what the seed's
    "layer norm suppresses polarization" is about).

    At init (``W = I/sqrt 2``, ``beta = 0``) the layer is rotation-equivariant: ``S``
    becomes ``R S R^T`` under ``z -> e^{i theta} z``, so the output rotates and its
    magnitudes are unchanged; a learned non-isotropic ``W`` breaks that.

    Edge: a token whose channels are all equal gives ``x = 0``, ``S = eps I`` and output
    ``beta`` (finite, finite gradients).

    Shapes: ``(B, N, d)`` or ``(N, d)`` complex -> same.
    """

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        validate.positive_int("d", d)
        self.d, self.eps = d, eps
        self.weight = nn.Parameter(torch.eye(2).repeat(d, 1, 1) / math.sqrt(2.0))  # (d, 2, 2)
        self.bias = nn.Parameter(torch.zeros(d, 2))  # (d, 2): Re, Im

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        zb, unbatched = as_tokens(z, d=self.d)
        x = torch.view_as_real(zb - zb.mean(dim=-1, keepdim=True))  # (B, N, d, 2)
        xr, xi = x[..., 0], x[..., 1]
        a = (xr * xr).mean(-1, keepdim=True) + self.eps  # (B, N, 1)
        b = (xr * xi).mean(-1, keepdim=True)
        c = (xi * xi).mean(-1, keepdim=True) + self.eps
        p, q, r = _inv_sqrt_spd2(a, b, c)
        wr, wi = p * xr + q * xi, q * xr + r * xi  # whitened, (B, N, d) each
        w = self.weight
        yr = w[:, 0, 0] * wr + w[:, 0, 1] * wi + self.bias[:, 0]
        yi = w[:, 1, 0] * wr + w[:, 1, 1] * wi + self.bias[:, 1]
        return restore(torch.complex(yr, yi), unbatched)


class ComplexRMSNorm(nn.Module):
    """``out_c = g_c z_c / sqrt(mean_c' |z_c'|^2 + eps)`` per token; real gain ``g`` (init 1).

    No centring; phases kept (the scale is a positive real), so the layer is
    rotation-equivariant and its output is invariant to ``z -> a z`` for ``a > 0`` (up to
    eps). An all-zero token gives 0 with finite gradients.

    Shapes: ``(B, N, d)`` or ``(N, d)`` complex -> same.
    """

    def __init__(self, d: int, eps: float = 1e-6):
        super().__init__()
        validate.positive_int("d", d)
        self.d, self.eps = d, eps
        self.gain = nn.Parameter(torch.ones(d))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        zb, unbatched = as_tokens(z, d=self.d)
        ms = (zb.real ** 2 + zb.imag ** 2).mean(-1, keepdim=True)  # (B, N, 1)
        return restore(zb * (self.gain * torch.rsqrt(ms + self.eps)), unbatched)


def make_norm(kind: str, d: int) -> nn.Module:
    """The norm named ``kind`` in :data:`NORMS` for ``d`` channels.

    ``"none"``: identity; ``"centre"``: centre magnitudes over tokens (no parameters);
    ``"layernorm"``: :class:`ComplexLayerNorm` (``6 d`` parameters); ``"rms"``:
    :class:`ComplexRMSNorm` (``d`` parameters).
    """
    validate.choice("norm", kind, NORMS)
    validate.positive_int("d", d)
    if kind == "none":
        return NoNorm()
    if kind == "centre":
        return CentreMagnitudes()
    return ComplexLayerNorm(d) if kind == "layernorm" else ComplexRMSNorm(d)
