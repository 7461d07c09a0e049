"""Figures for the book: one function per kind of figure, axes labelled with units.

Every function takes data (numpy arrays or histories), draws on a new or given
matplotlib ``Axes`` and returns the ``Figure``. Chapters never style plots themselves.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def _axes(ax=None, figsize=(6.0, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax.figure, ax


def plot_loss_curves(histories: Mapping[str, Sequence[float]], *, xlabel: str = "step", ylabel: str = "loss", logy: bool = True, title: str | None = None, ax=None):
    """Training curves, one line per named history (e.g. {"torch": [...], "jax": [...]})."""
    fig, ax = _axes(ax)
    for name, values in histories.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_latent_heatmaps(panels: Mapping[str, np.ndarray], *, title: str | None = None, cmap: str = "RdBu_r"):
    """Latent trajectories side by side as images: time step down, latent coordinate across.

    Args:
        panels: name -> (T, d) trajectory (e.g. the oracle, a rotated copy, the copy aligned back).
        title: optional figure title.

    One shared, symmetric colour scale (coordinate value, dimensionless) for all panels.
    """
    arrays = {k: np.asarray(v, dtype=float) for k, v in panels.items()}
    if not arrays or any(a.ndim != 2 for a in arrays.values()):
        raise ValueError("panels must map names to (T, d) arrays")
    vmax = max(float(np.max(np.abs(a))) for a in arrays.values()) or 1.0
    fig, axes = plt.subplots(1, len(arrays), figsize=(3.0 * len(arrays) + 1.0, 3.6), constrained_layout=True, squeeze=False)
    image = None
    for ax, (name, a) in zip(axes[0], arrays.items()):
        image = ax.imshow(a, aspect="auto", cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(name)
        ax.set_xlabel("latent coordinate (index)")
    axes[0, 0].set_ylabel("time step")
    fig.colorbar(image, ax=axes[0].tolist(), label="coordinate value (unit-norm rows)")
    if title:
        fig.suptitle(title)
    return fig


def plot_gradient_vs_gap(gaps: Sequence[float], series: Mapping[str, Sequence[float]], *, xlabel: str = "gap between the two largest singular values", ylabel: str = "gradient norm", title: str | None = None, ax=None):
    """Gradient norms against a singular-value gap, log-log, one line per named series.

    Points at ``gap = 0`` or with non-finite values cannot sit on log axes: the legend
    counts them for each series (e.g. "(NaN at 1 gap)").
    """
    fig, ax = _axes(ax)
    gaps = np.asarray(gaps, dtype=float)
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        ok = (gaps > 0) & np.isfinite(values) & (values > 0)
        bad = int(np.sum(~np.isfinite(values)))
        label = name + (f" (NaN/inf at {bad} gap{'s' if bad > 1 else ''})" if bad else "")
        ax.plot(gaps[ok], values[ok], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig
