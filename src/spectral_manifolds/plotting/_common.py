"""Shared helpers of the figure functions: a new or given ``Axes``, and axis labels."""

from __future__ import annotations

import matplotlib.pyplot as plt


def _axes(ax=None, figsize=(6.0, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax.figure, ax


def _label(ax, xlabel: str, ylabel: str, title: str | None = None) -> None:
    """Axis labels (with units) and an optional title."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
