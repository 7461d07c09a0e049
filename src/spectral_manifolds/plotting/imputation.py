"""Imputation (chapter 4): error against gap length and one sequence with its gap filled.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._common import _axes


def plot_gap_errors(gap_lengths: Sequence[int], errors: Mapping[str, Sequence[float]], *, ylabel: str = "gap MSE (signal units$^2$)", title: str | None = None, ax=None):
    """Imputation error against gap length, log-log, one line per imputer (chapter 4, lesson 1)."""
    fig, ax = _axes(ax)
    gaps = np.asarray(gap_lengths, dtype=float)
    for name, e in errors.items():
        ax.plot(gaps, np.asarray(e, dtype=float), marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("gap length L (time steps)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_imputation_example(t: Sequence[float], truth: np.ndarray, observed: np.ndarray, gap_start: int, imputations: Mapping[str, np.ndarray], *, channels: Sequence[int] = (0, 1), title: str | None = None):
    """One sequence with a gap: the clean signal, the observed (noisy) steps and each imputer's fill.

    Args:
        t: (T,) time steps; truth: (T, C) clean signal; observed: (T, C) with NaN in the gap;
        gap_start: first missing step; imputations: {name: (L, C)} filled values from ``gap_start``;
        channels: which channels to draw, one panel each.
    """
    t = np.asarray(t, dtype=float)
    fig, axes = plt.subplots(len(channels), 1, figsize=(7.0, 2.2 * len(channels)), sharex=True, constrained_layout=True, squeeze=False)
    for ax, c in zip(axes[:, 0], channels):
        ax.plot(t, np.asarray(truth)[:, c], color="0.6", lw=2.5, label="clean signal")
        ax.plot(t, np.asarray(observed)[:, c], ".", color="0.2", ms=2.5, label="observed (noisy)")
        for name, fill in imputations.items():
            fill = np.asarray(fill)
            ax.plot(t[gap_start : gap_start + len(fill)], fill[:, c], lw=1.3, label=name)
        ax.axvspan(gap_start - 0.5, gap_start + len(next(iter(imputations.values()))) - 0.5, color="C7", alpha=0.12)
        ax.set_ylabel(f"channel {c} (signal units)")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time step t")
    axes[0, 0].legend(fontsize="small", ncol=3, loc="upper left")
    if title:
        fig.suptitle(title)
    return fig
