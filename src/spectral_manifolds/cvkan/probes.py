"""Probes of polarization inside a trained CVKAN: does |z| separate signal from noise tokens?

Seed 003 ("Open Research Questions", Depth vs Width) asks whether each layer amplifies
the magnitude separation or saturates, and suggests profiling the magnitude variance per
layer. These probes read the token states of :meth:`CVKAN.tokens` layer by layer:

* :func:`auroc` -- the area under the ROC curve of a score for two groups, from the
  Mann-Whitney rank statistic (ties count one half): 0.5 is chance, 1 perfect separation.
* :func:`layer_profile` -- per token state: the AUROC of the token magnitude (mean over
  channels) for signal against noise tokens, the variance of log-magnitudes over tokens,
  and the mean magnitude of each group.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata

__all__ = ["auroc", "token_magnitudes", "layer_profile"]


def auroc(positive, negative) -> float:
    """Probability that a random positive scores above a random negative (ties: 1/2).

    Args:
        positive, negative: 1-d arrays of scores (at least one each, finite).
    Returns:
        AUROC in [0, 1], equal to ``U / (n_pos * n_neg)`` of the Mann-Whitney test.
    """
    p, n = np.asarray(positive, float).ravel(), np.asarray(negative, float).ravel()
    if p.size == 0 or n.size == 0:
        raise ValueError(f"auroc needs at least one score in each group, got {p.size} and {n.size}")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(n))):
        raise ValueError("auroc scores must be finite")
    ranks = rankdata(np.concatenate([p, n]))
    u = ranks[: p.size].sum() - p.size * (p.size + 1) / 2
    return float(u / (p.size * n.size))


def token_magnitudes(z: torch.Tensor) -> np.ndarray:
    """``(B, N, d)`` complex tokens -> ``(B, N)`` mean magnitude over channels (numpy)."""
    return z.detach().abs().mean(dim=-1).cpu().numpy()


@torch.no_grad()
def layer_profile(model, z: torch.Tensor, signal: np.ndarray, *, batch_size: int = 512) -> list[dict]:
    """How well each token state's magnitudes separate signal from noise tokens.

    Args:
        model: a :class:`~spectral_manifolds.cvkan.models.CVKAN` (its ``tokens`` method).
        z: ``(B, N, d)`` complex input tokens (e.g. the positive test samples).
        signal: ``(B, N)`` bool, True at signal tokens (``PolarizationData.signal_test``);
            rows must contain both kinds of token somewhere.
    Returns:
        one dict per state (0 = the embedding, then after every block and its norm):
        ``layer``, ``auroc`` of |z| signal vs noise, ``log-magnitude variance`` (over all
        tokens), ``mean |z| signal``, ``mean |z| noise``.
    """
    signal = np.asarray(signal, bool)
    if signal.shape != tuple(z.shape[:2]):
        raise ValueError(f"signal must have shape {tuple(z.shape[:2])} (B, N), got {signal.shape}")
    model.eval()
    device = next(model.parameters()).device
    mags: list[list[np.ndarray]] = []
    for lo in range(0, z.shape[0], batch_size):
        states = model.tokens(z[lo: lo + batch_size].to(device))
        for i, s in enumerate(states):
            if len(mags) <= i:
                mags.append([])
            mags[i].append(token_magnitudes(s))
    rows = []
    for i, parts in enumerate(mags):
        m = np.concatenate(parts)
        rows.append({
            "layer": i,
            "auroc": auroc(m[signal], m[~signal]),
            "log-magnitude variance": float(np.var(np.log(m + 1e-12))),
            "mean |z| signal": float(m[signal].mean()),
            "mean |z| noise": float(m[~signal].mean()),
        })
    return rows
