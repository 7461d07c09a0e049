"""Routing regularizers on gates ``g: (..., M)``, probabilities over M manifolds (experts).

Every function takes the gates with the expert axis last (``dim=-1``) or on the axis
``dim`` names (the seed's ``[B, M, H, W]`` gates: ``dim=1``; the band layout
``(B, M, T, N, N)`` of :mod:`~spectral_manifolds.hierarchy.routing`: ``dim=-4``). All other
axes are tokens (batch, time, pixels) and are pooled. Sources: seed 004 §5.3, §9.3,
§11.1-11.2; Fedus et al. 2021 (Switch Transformer, eq. 4); Zoph et al. 2022 (ST-MoE,
router z-loss). Issue 9, "Facts about the seed's own code", states the identities tested here.

Identities (M experts, P = mean gate over tokens, ``sum_i P_i = 1``, mean of P = 1/M):

- Switch: ``M sum_i f_i P_i`` is exactly 1 when P is uniform (any f) and M at collapse.
- Soft Switch (f := P): ``M sum_i P_i^2 = 1 + M^2 Var(P)`` with Var the *population*
  variance over the M experts (``torch.var(P, unbiased=False)``); equivalently
  ``1 + M (M - 1) Var_unbiased(P)``. The seed's usage variance is therefore the soft
  Switch loss up to an affine map: they have the same minimizers and proportional gradients.
- Mutual information ``I = H(P) - mean_tokens H(g)`` lies in ``[0, log M]``: 0 when every
  token has the same gate, ``log M`` for confident (one-hot) and balanced routing.

All are finite at one-hot and zero gates, values and gradients (``0 log 0 := 0``, the log
taken of ``g`` clamped at the dtype's smallest normal number).
"""

from __future__ import annotations

from typing import Sequence

import torch

from spectral_manifolds import validate
from spectral_manifolds.hierarchy.bands import _cutoffs, radius

__all__ = ["entropy", "entropy_loss", "usage", "switch_loss", "usage_variance", "mutual_information",
           "z_loss", "mean_frequency", "target_frequencies", "frequency_loss"]


def _gates(g, dim: int, name: str = "gates") -> torch.Tensor:
    """Check ``g`` and return it with the expert axis last, flattened to ``(tokens, M)``."""
    if not isinstance(g, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor (..., M), got {type(g).__name__}")
    if g.ndim < 1 or g.is_complex() or not g.is_floating_point():
        raise ValueError(f"{name} must be a real floating tensor of shape (..., M), got {g.dtype} {tuple(g.shape)}")
    if isinstance(dim, bool) or not isinstance(dim, int) or not -g.ndim <= dim < g.ndim:
        raise ValueError(f"dim={dim!r} is out of range for {name} of shape {tuple(g.shape)}")
    g = g.movedim(dim, -1)
    if g.shape[-1] < 2 or g.numel() == 0:
        raise ValueError(f"{name} needs at least 2 experts and one token, got shape {tuple(g.shape)} (experts last)")
    validate.check_finite(g, name)
    return g.reshape(-1, g.shape[-1])


def _xlogx(p: torch.Tensor) -> torch.Tensor:
    """``p log p`` with ``0 log 0 = 0`` and a finite gradient (``log tiny + 1`` at 0)."""
    return p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))


def entropy(g: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Mean per-token entropy ``mean_tokens H(g)``, ``H(g) = -sum_i g_i log g_i`` (nats): a scalar.

    The seed's ``_compute_routing_entropy`` (§11.1) up to its ``log(g + 1e-8)``.
    """
    return -_xlogx(_gates(g, dim)).sum(-1).mean()


def entropy_loss(g: torch.Tensor, lam: float = 0.1, dim: int = -1) -> torch.Tensor:
    """The seed's routing term ``-lam * H(g)`` (§5.3 item 2, §11.2 ``loss_entropy``, lam = 0.1).

    Pitfall (issue 9; DESIGN.md "Known traps"): H is maximal at the uniform gate *for every
    token*, so minimizing ``-lam H`` pushes each token toward mixing all manifolds, against
    specialization; it does not target the batch-marginal collapse it is meant to prevent.
    :func:`mutual_information` or :func:`switch_loss` do.
    """
    return -lam * entropy(g, dim)


def usage(g: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Mean gate per expert ``P: (M,)`` over all tokens (the seed's ``routing_balance``)."""
    return _gates(g, dim).mean(0)


def switch_loss(g: torch.Tensor, dim: int = -1, *, soft: bool = False) -> torch.Tensor:
    """Switch balance loss ``M sum_i f_i P_i`` (Fedus et al. 2021, eq. 4, without alpha): a scalar.

    ``f_i``: fraction of tokens whose argmax gate is i (not differentiable; gradients flow
    through ``P_i``, the mean gate); ``soft=True`` uses ``f = P``, giving
    ``M sum P_i^2 = 1 + M^2 Var_pop(P)``. Exactly 1 at uniform P, M at collapse.
    """
    gf = _gates(g, dim)
    p = gf.mean(0)
    m = gf.shape[-1]
    if soft:
        f = p
    else:
        f = torch.zeros_like(p).scatter_add_(0, gf.detach().argmax(-1), torch.ones_like(gf[:, 0])) / gf.shape[0]
    return m * (f * p).sum()


def usage_variance(g: torch.Tensor, dim: int = -1, *, unbiased: bool = False) -> torch.Tensor:
    """The seed's usage regularizer ``Var(usage per manifold)`` (§5.3 item 3, without lambda).

    Usage = :func:`usage`. The seed does not say which variance; the default is the
    population variance over the M experts, so ``switch_loss(soft=True) = 1 + M^2 * this``.
    """
    return torch.var(usage(g, dim), unbiased=unbiased)


def mutual_information(g: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``I(token; expert) = H(mean_tokens g) - mean_tokens H(g)``, in ``[0, log M]``: a scalar.

    Maximize it (minimize ``-I``): the first term rewards balanced usage, the second
    confident per-token routing, the opposite of per-token entropy maximization.
    """
    gf = _gates(g, dim)
    return -_xlogx(gf.mean(0)).sum() + _xlogx(gf).sum(-1).mean()


def z_loss(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Router z-loss ``mean_tokens (logsumexp_i x_i)^2`` (Zoph et al. 2022, ST-MoE eq. 5): a scalar.

    ``logits: (..., M)`` before the softmax; it keeps them small (softmax is invariant to a
    shift, the z-loss is not), which keeps the router's float32 softmax well conditioned.
    """
    return torch.logsumexp(_gates(logits, dim, "logits"), -1).pow(2).mean()


def _power(x: torch.Tensor) -> torch.Tensor:
    """``|FFT2(x)|^2`` as ``re^2 + im^2`` (smooth at 0, unlike ``abs``)."""
    f = torch.fft.fft2(x)
    return f.real ** 2 + f.imag ** 2


def mean_frequency(x: torch.Tensor) -> torch.Tensor:
    """Power-weighted mean radial frequency (units of Nyquist) of each field ``x: (..., N, N) -> (...)``.

    ``sum_k r_k |X_k|^2 / sum_k |X_k|^2`` over the full FFT plane, ``r`` from
    :func:`~spectral_manifolds.hierarchy.bands.radius`; 0 for an all-zero field (finite gradient).
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x.shape[-1] != x.shape[-2] or x.is_complex():
        raise ValueError(f"x must be a real tensor (..., N, N), got {getattr(x, 'shape', type(x).__name__)}")
    validate.check_finite(x, "x")
    power = _power(x)
    r = radius(x.shape[-1], dtype=power.dtype, device=x.device)
    total = power.sum((-2, -1))
    return (power * r).sum((-2, -1)) / total.clamp_min(torch.finfo(power.dtype).tiny)


def target_frequencies(bands: int | Sequence[float] = 3) -> torch.Tensor:
    """Target mean frequency per band ``(M,)``: the midpoints of ``[0, *cutoffs, 1]`` (§4.2 cut-offs)."""
    e = [0.0] + _cutoffs(bands) + [1.0]
    if e[-2] >= 1.0:
        raise ValueError(f"cut-offs must lie below 1 (Nyquist) for midpoint targets, got {bands!r}")
    return torch.tensor([(a + b) / 2 for a, b in zip(e[:-1], e[1:])])


def frequency_loss(band_fields: torch.Tensor, targets: torch.Tensor | None = None, *,
                   bands: int | Sequence[float] | None = None) -> torch.Tensor:
    """The seed's auxiliary frequency loss ``sum_i |mean_freq(manifold_i) - target_freq_i|`` (§5.3 item 4).

    ``band_fields``: the per-manifold fields, ``(M, T, N, N)`` or ``(B, M, T, N, N)`` (e.g.
    the manifolds' outputs, as the seed's ``_compute_freq_content``, or their routed
    inputs). ``mean_freq`` pools the power over T (and per sample); the loss is summed
    over bands and averaged over B. ``targets: (M,)`` in units of Nyquist; default
    :func:`target_frequencies` of ``bands`` (default: §4.2's cut-offs for M bands).
    The seed gives no definition of ``mean_freq`` or the targets; these are ours.
    """
    if not isinstance(band_fields, torch.Tensor) or band_fields.ndim not in (4, 5):
        raise ValueError(f"band_fields must be (M, T, N, N) or (B, M, T, N, N), got {getattr(band_fields, 'shape', None)}")
    b = band_fields if band_fields.ndim == 5 else band_fields[None]
    m = b.shape[1]
    if targets is None:
        targets = target_frequencies(m if bands is None else bands)
    targets = torch.as_tensor(targets, dtype=b.dtype, device=b.device)
    if targets.shape != (m,):
        raise ValueError(f"targets must have shape ({m},), got {tuple(targets.shape)}")
    if b.shape[-1] != b.shape[-2] or b.is_complex():
        raise ValueError(f"band_fields must be real with square frames, got shape {tuple(band_fields.shape)}")
    validate.check_finite(b, "band_fields")
    power = _power(b)  # (B, M, T, N, N), pooled over T below
    r = radius(b.shape[-1], dtype=power.dtype, device=b.device)
    num, den = (power * r).sum((-3, -2, -1)), power.sum((-3, -2, -1))
    mf = num / den.clamp_min(torch.finfo(power.dtype).tiny)  # (B, M)
    return (mf - targets).abs().sum(-1).mean()
