"""The polarizing block of CV-KAN (issue 8, "The block"; seed 003 never states the layer).

For complex tokens ``Z: (B, N, d)``::

    A   = Agg(Z)                          (B, 1, d) broadcast, or (B, N, d) per token
    l   = log(|A| + 1e-6)                 real, (…, d)
    u   = A / (|A| + 1e-6)                complex, |u| < 1
    m   = psi_m(l)                        magnitude MLP  R^d  -> R^d
    v   = psi_p(Re u, Im u)               phase MLP      R^2d -> R^2d, read as C^d
    dir = v / (|v| + 1e-6)                elementwise
    "tanh":   out = Z + s * exp(5 tanh m) * dir
    "legacy": out = Z + exp(l + s m) * dir        (the older version)

``s`` is a learnable real scalar (init 0.1); both MLPs are three ``Linear`` layers with
GELU between (``d -> hidden -> hidden -> d`` and ``2d -> hidden -> hidden -> 2d``). With
``d = 32``, ``hidden = 128`` the block has 24,864 + 33,088 + 1 = 57,953 parameters,
which reproduces the seed's counts (flat 3 blocks + 130 head = 173,989; shared
hierarchy 1 block + 130 = 58,083; per-level 10 blocks + 130 = 579,660).

Properties (each tested):

* **Broadcast mode** (``A: (B, 1, d)``): every token gets the same added vector, so
  ``Z_i - Z_j`` is preserved exactly and ``mean(out)`` depends on ``Z`` only through
  ``mean(Z)`` for mean aggregation (for the block alone: the seed's centre-magnitudes
  step after it divides by a geometric mean over all tokens, which depends on more than
  ``mean(Z)``); a token's magnitude grows only where its phase lines up with ``dir``.
* **Global phase rotation** ``Z -> e^{i theta} Z``: with an equivariant aggregation
  (mean, magnitude, causal, window) ``|A|`` and hence the gain (``s exp(5 tanh m)`` or
  ``exp(l + s m)``) are invariant, but ``psi_p`` sees ``(Re u, Im u)``, which rotate, and
  is a generic MLP: ``dir`` does not rotate with ``Z``. So the block is **not**
  rotation-equivariant and the output magnitudes ``|out_i|`` change. With attention
  aggregation even ``|A|`` changes.
* **Univariate** (``univariate=True``, the per-channel "KAN-like" variant): ``psi_m`` is
  ``d`` separate MLPs ``R -> R`` (channel ``c`` sees ``l_c`` only) and ``psi_p`` is ``d``
  separate MLPs ``R^2 -> R^2`` on ``(Re u_c, Im u_c)``; same depth, GELU and width
  ``hidden`` per channel; channels never mix (with a channel-wise aggregation, output
  channel ``c`` depends only on input channel ``c``). Parameters:
  ``d (h^2 + 4h + 1) + d (h^2 + 6h + 2) + 1``, e.g. 55,393 at ``d = 32, h = 27``.

Autocast: the real MLPs may run in float16/bfloat16 under ``torch.autocast``; their
outputs are cast back to the real dtype of the tokens before ``torch.complex``, so the
complex arithmetic stays in complex64 (torch has no bfloat16 complex dtype and few
complex-half kernels; without the cast ``torch.complex`` raises on bfloat16 input).

Edges: an all-zero input gives ``|A| = 0``, ``l = log 1e-6``, ``u = 0``: finite output and
finite gradients (torch takes ``d|z|/dz = 0`` at 0).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spectral_manifolds import validate
from spectral_manifolds.cvkan.aggregation import make_aggregation
from spectral_manifolds.cvkan.tokens import as_tokens, check_complex, restore

__all__ = ["PolarizingBlock", "ChannelwiseMLP", "mlp3", "VERSIONS", "EPS"]

VERSIONS = ("tanh", "legacy")
EPS = 1e-6  # the seed's 1e-6 in log(|A| + 1e-6) and A / (|A| + 1e-6); also normalize's


def mlp3(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    """``Linear(d_in, hidden) - GELU - Linear(hidden, hidden) - GELU - Linear(hidden, d_out)``."""
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, d_out)
    )


class ChannelwiseMLP(nn.Module):
    """``d`` independent three-layer GELU MLPs, one per channel: ``(..., d, k_in) -> (..., d, k_out)``.

    Channel ``c`` uses its own weights ``(k_in -> hidden -> hidden -> k_out)``; nothing
    mixes channels. Init as ``nn.Linear``: weights and biases ``U(-1/sqrt(fan_in), +)``.
    Parameters: ``d (k_in h + h + h^2 + h + h k_out + k_out)``.
    """

    def __init__(self, d: int, k_in: int, hidden: int, k_out: int):
        super().__init__()
        sizes = [(k_in, hidden), (hidden, hidden), (hidden, k_out)]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in sizes:
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(d, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(d, fan_out).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.einsum("...ci,cio->...co", x, w) + b
            if k < len(self.weights) - 1:
                x = nn.functional.gelu(x)
        return x


class PolarizingBlock(nn.Module):
    """The polarizing block (see the module docstring for the equations and properties).

    Args:
        d: complex channels.
        hidden: width of each MLP's two hidden layers (per channel when ``univariate``).
        aggregation: a name in :data:`~spectral_manifolds.cvkan.aggregation.AGGREGATIONS`
            or an aggregation module (e.g. ``make_aggregation("window", d, window=5)``).
        version: ``"tanh"`` (current) or ``"legacy"`` (older) update, see above.
        univariate: per-channel MLPs instead of channel-mixing ones.
        s_init: initial value of the learnable scale ``s``.

    Shapes: ``z: (B, N, d)`` or ``(N, d)`` complex -> same shape and dtype. The MLPs'
    real parameters must have the precision of ``z``'s real part (float32 for complex64).
    """

    def __init__(self, d: int, hidden: int = 128, aggregation="mean", version: str = "tanh",
                 univariate: bool = False, s_init: float = 0.1):
        super().__init__()
        validate.positive_int("d", d)
        validate.positive_int("hidden", hidden)
        validate.choice("version", version, VERSIONS)
        self.d, self.hidden, self.version, self.univariate = d, hidden, version, bool(univariate)
        if isinstance(aggregation, str):
            aggregation = make_aggregation(aggregation, d)
        elif not isinstance(aggregation, nn.Module):
            raise ValueError(f"aggregation must be a name or an nn.Module, got {type(aggregation).__name__}")
        self.aggregation = aggregation
        if self.univariate:
            self.psi_m = ChannelwiseMLP(d, 1, hidden, 1)
            self.psi_p = ChannelwiseMLP(d, 2, hidden, 2)
        else:
            self.psi_m = mlp3(d, hidden, d)
            self.psi_p = mlp3(2 * d, hidden, 2 * d)
        self.s = nn.Parameter(torch.tensor(float(s_init)))

    @staticmethod
    def n_parameters_for(d: int, hidden: int = 128, univariate: bool = False, aggregation_params: int = 0) -> int:
        """Closed-form parameter count (the MLPs, ``s`` and the aggregation's ``aggregation_params``)."""
        h = hidden
        if univariate:
            return d * (h * h + 4 * h + 1) + d * (h * h + 6 * h + 2) + 1 + aggregation_params
        psi_m = (d * h + h) + (h * h + h) + (h * d + d)
        psi_p = (2 * d * h + h) + (h * h + h) + (h * 2 * d + 2 * d)
        return psi_m + psi_p + 1 + aggregation_params

    def parts(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(gain, dir)`` for aggregates ``a: (..., d)`` complex: gain real, dir complex, both ``(..., d)``.

        ``gain = s exp(5 tanh psi_m(l))`` ("tanh") or ``exp(l + s psi_m(l))`` ("legacy");
        ``dir = v / (|v| + 1e-6)``, ``v = psi_p(Re u, Im u)``. The update is ``gain * dir``.
        """
        check_complex(a, "aggregate")
        if a.shape[-1] != self.d:
            raise ValueError(f"aggregate must have last axis d={self.d}, got shape {tuple(a.shape)}")
        mag = a.abs()
        ell = torch.log(mag + EPS)
        u = a / (mag + EPS)
        real = ell.dtype  # the MLPs may run in float16/bfloat16 under autocast: cast back
        if self.univariate:
            m = self.psi_m(ell.unsqueeze(-1)).squeeze(-1).to(real)
            out = self.psi_p(torch.stack([u.real, u.imag], dim=-1)).to(real)  # (..., d, 2)
            v = torch.complex(out[..., 0], out[..., 1])
        else:
            m = self.psi_m(ell).to(real)
            out = self.psi_p(torch.cat([u.real, u.imag], dim=-1)).to(real)  # (..., 2d)
            v = torch.complex(out[..., : self.d], out[..., self.d:])
        direction = v / (v.abs() + EPS)
        if self.version == "tanh":
            gain = self.s * torch.exp(5.0 * torch.tanh(m))
        else:
            gain = torch.exp(ell + self.s * m)
        return gain, direction

    def update(self, a: torch.Tensor) -> torch.Tensor:
        """The added vector ``gain * dir`` for aggregates ``a: (..., d)`` -> ``(..., d)`` complex.

        The hierarchy calls this on group aggregates ``(B, groups, 1, d)``.
        """
        gain, direction = self.parts(a)
        return gain * direction

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        zb, unbatched = as_tokens(z, d=self.d)
        a = self.aggregation(zb)
        if a.shape[-2] not in (1, zb.shape[-2]):
            raise ValueError(f"aggregation returned shape {tuple(a.shape)}; expected (B, 1, d) or (B, N, d)")
        return restore(zb + self.update(a), unbatched)

    def extra_repr(self) -> str:
        return f"d={self.d}, hidden={self.hidden}, version={self.version!r}, univariate={self.univariate}"
