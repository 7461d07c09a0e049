"""What depth can and cannot do in a broadcast stack: every layer is one point per channel.

Seed 003 ("Open Research Questions", Depth vs Width) asks: "Is there a theoretical limit
to polarization depth?" For the flat stack in broadcast mode there is a structural one.

**The statement.** A broadcast block adds the same vector ``v`` (B, 1, d) to every token,
``Z -> Z + v``; the seed's norm after it ("centre magnitudes", :func:`~.tokens.center_magnitudes`)
divides channel ``c`` of every token by the same positive real ``g_c``. Both maps are,
channel by channel, similarities of the complex plane without rotation: ``z -> a (z - p)``
with ``a > 0`` real and ``p`` complex. Compositions of such maps are such maps, so after any
number of blocks ``L``

    Z^L[i, c] = kappa_c (Z^0[i, c] - p_c),   kappa_c > 0,   p_c in C   (per sample),

and ``|Z^L[i, c]| = kappa_c |Z^0[i, c] - p_c|``: in every channel the magnitudes of all
tokens, at any depth, are their distances from **one point** ``p_c`` (times one factor).
Depth changes where that point sits (a deeper function of the sample chooses it), never
the family of magnitude patterns. On the seed's task the tokens start on the unit circle,
``Z^0 = e^{i theta}``, so ``|Z^L|^2 / kappa^2 = 1 + rho^2 - 2 rho cos(theta - phi)`` with
``p = rho e^{i phi}``: one cosine bump per channel, ranked by phase distance to ``phi``.
How strongly they can differ is set by ``rho`` alone: the largest ratio of two tokens'
magnitudes is ``(1 + rho) / |1 - rho|`` (:func:`circle_contrast`), unlimited only as the
point reaches the circle, where the token at its phase vanishes.

The conditions matter, and the tests show each: the aggregation must give one vector per
sample (mean, magnitude-weighted, attention: not causal or window, which broadcast a
different vector to each token), and the norm must be ``centre`` or ``none`` (LayerNorm and
RMS mix the channels or shift them). The hierarchical stack adds per-group vectors, so
it is not covered either.

* :func:`similarity_fit` -- fits ``Z^L = kappa (Z^0 - p)`` per sample and channel by least
  squares and reports how exactly it holds.
* :func:`circle_contrast` -- the largest magnitude ratio a point allows on the unit circle.
* :func:`point_profile` -- both, layer by layer, for a trained :class:`~.models.CVKAN`.
"""

from __future__ import annotations

import torch

from spectral_manifolds.cvkan.tokens import as_tokens

__all__ = ["similarity_fit", "circle_contrast", "point_profile"]

_TINY = 1e-30


def _pair(z0: torch.Tensor, zl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a, _ = as_tokens(z0)
    b, _ = as_tokens(zl)
    if a.shape != b.shape:
        raise ValueError(f"z0 and zl must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[-2] < 2:
        raise ValueError(f"a similarity needs at least 2 tokens, got {a.shape[-2]}")
    return a, b


def similarity_fit(z0: torch.Tensor, zl: torch.Tensor) -> dict:
    """Least-squares ``zl ~ kappa (z0 - p)`` per sample and channel.

    Args:
        z0: ``(B, N, d)`` or ``(N, d)`` complex tokens at layer 0 (the embedding).
        zl: complex tokens of the same shape at a later layer.
    Returns:
        dict of tensors: ``kappa`` (B, d) complex (the theorem says real and positive),
        ``point`` (B, d) complex ``p``, ``residual`` (B,) real: ``||zl - fit|| / ||zl - mean_i zl||``
        over tokens and channels (0 when the map is exactly a similarity), ``angle`` (B, d)
        ``arg kappa`` in radians (0 when the map has no rotation).
    """
    a, b = _pair(z0, zl)
    m0, ml = a.mean(dim=-2, keepdim=True), b.mean(dim=-2, keepdim=True)
    da, db = a - m0, b - ml
    kappa = (da.conj() * db).sum(dim=-2) / (da.abs() ** 2).sum(dim=-2).clamp_min(_TINY)  # (B, d)
    fit = kappa.unsqueeze(-2) * da
    residual = (db - fit).abs().pow(2).sum(dim=(-2, -1)).sqrt() / db.abs().pow(2).sum(dim=(-2, -1)).sqrt().clamp_min(_TINY)
    point = m0.squeeze(-2) - ml.squeeze(-2) / kappa
    return {"kappa": kappa, "point": point, "residual": residual, "angle": torch.angle(kappa)}


def circle_contrast(rho: torch.Tensor) -> torch.Tensor:
    """``(1 + rho) / |1 - rho|``: for tokens on the unit circle and a point at distance ``rho``
    from the origin, the largest ratio of two tokens' magnitudes (phases ``phi`` and
    ``phi + pi``); ``inf`` at ``rho = 1``, where a token at the point's phase vanishes."""
    rho = torch.as_tensor(rho)
    return (1 + rho) / (1 - rho).abs().clamp_min(_TINY)


@torch.no_grad()
def point_profile(model, z: torch.Tensor, *, batch_size: int = 512) -> list[dict]:
    """The one-point picture of a trained stack, per token state (layer 0 = embedding).

    Args:
        model: a flat :class:`~spectral_manifolds.cvkan.models.CVKAN`.
        z: ``(B, N, d)`` complex input tokens.
    Returns:
        one dict per layer >= 1: ``layer``, ``similarity residual`` (median over samples),
        ``max |arg kappa|`` (radians, over samples and channels), and over samples and
        channels: ``median |p|``, ``mean cos arg p`` (-1: the point sits opposite phase 0, where
        the seed task's signal phases centre, so signal tokens are the far ones and grow),
        ``median circle contrast`` (:func:`circle_contrast`, meaningful for unit-circle input
        such as the seed's task) and ``median max/min |z|`` (the measured ratio per channel).
    """
    model.eval()
    device = next(model.parameters()).device
    states = [[] for _ in range(len(model.blocks) + 1)]
    for start in range(0, z.shape[0], batch_size):
        for store, s in zip(states, model.tokens(z[start:start + batch_size].to(device))):
            store.append(s.to("cpu", torch.complex128))
    states = [torch.cat(s) for s in states]
    rows = []
    for layer, zl in enumerate(states[1:], start=1):
        fit = similarity_fit(states[0], zl)
        rho = fit["point"].abs()
        mags = zl.abs()
        rows.append({
            "layer": layer,
            "similarity residual": float(fit["residual"].median()),
            "max |arg kappa|": float(fit["angle"].abs().max()),
            "median |p|": float(rho.median()),
            "mean cos arg p": float(torch.cos(torch.angle(fit["point"])).mean()),
            "median circle contrast": float(circle_contrast(rho).median()),
            "median max/min |z|": float((mags.amax(dim=-2) / mags.amin(dim=-2).clamp_min(_TINY)).median()),
        })
    return rows
