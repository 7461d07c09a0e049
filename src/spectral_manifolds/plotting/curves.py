"""Generic training and comparison figures: named curves over epochs, steps, an x
axis or sequence length, seed bands, reference levels, and seed-vs-ours bars.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._common import _axes, _label


def plot_loss_curves(histories: Mapping[str, Sequence[float]], *, xlabel: str = "step", ylabel: str = "loss", logy: bool = True, title: str | None = None, ax=None):
    """Training curves, one line per named history (e.g. {"torch": [...], "jax": [...]})."""
    fig, ax = _axes(ax)
    for name, values in histories.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    if logy:
        ax.set_yscale("log")
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_seed_curves(curves: Mapping[str, np.ndarray], *, xlabel: str = "epoch", ylabel: str = "loss", logy: bool = True, reference: Mapping[str, float] | None = None, title: str | None = None, ax=None):
    """Training curves over seeds: the mean line and a band from the lowest to the highest
    seed, one colour per named ``(S, E)`` array; optional horizontal reference lines."""
    fig, ax = _axes(ax)
    for i, (name, values) in enumerate(curves.items()):
        v = np.atleast_2d(np.asarray(values, dtype=float))
        x = np.arange(1, v.shape[1] + 1)
        ax.plot(x, v.mean(axis=0), color=f"C{i}", label=f"{name} (mean of {v.shape[0]} seeds)")
        ax.fill_between(x, v.min(axis=0), v.max(axis=0), color=f"C{i}", alpha=0.2, lw=0)
    for j, (name, y) in enumerate((reference or {}).items()):
        ax.axhline(y, color="0.3", ls=("--", ":", "-.")[j % 3], lw=1, label=name)
    if logy:
        ax.set_yscale("log")
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_xy_curves(x: Sequence[float], series: Mapping[str, Sequence[float]], *, xlabel: str, ylabel: str, logx: bool = False, logy: bool = False, title: str | None = None, ax=None):
    """Several named curves over one shared x axis (labels with units come from the caller)."""
    fig, ax = _axes(ax)
    x = np.asarray(x, dtype=float)
    for name, y in series.items():
        ax.plot(x, np.asarray(y, dtype=float), marker="o", ms=4, label=name)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_curves_with_references(curves: Mapping[str, Sequence[float]], references: Mapping[str, float], *, xlabel: str = "epoch (0 = before training)", ylabel: str = "value", title: str | None = None, ax=None):
    """Per-epoch curves (x = 0, 1, ...) with dashed horizontal reference levels (chapter 7).

    Args:
        curves: name -> (n,) values at epochs 0 .. n-1.
        references: name -> a constant level drawn dashed in grey (e.g. "random unit latent").
    """
    fig, ax = _axes(ax, figsize=(6.5, 3.8))
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(values.size), values, marker="o", ms=3, label=name)
    for i, (name, level) in enumerate(references.items()):
        ax.axhline(float(level), color=str(0.2 + 0.2 * (i % 3)), ls="--", lw=1.0, label=f"{name} ({float(level):.3g})")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", ncol=2)
    return fig


def plot_relative_error(t: Sequence[float], errors: Mapping[str, Sequence[float]], *, xlabel: str = "time step t", ylabel: str = "relative error (%)", title: str | None = None, ax=None):
    """Relative errors against time, in percent, one line per named series (NaNs skipped)."""
    fig, ax = _axes(ax)
    t = np.asarray(t, dtype=float)
    for name, e in errors.items():
        ax.plot(t, 100.0 * np.asarray(e, dtype=float), label=name)
    ax.axhline(0.0, color="k", lw=0.8)
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_timings(lengths: Sequence[float], seconds: Mapping[str, Sequence[float]], *, title: str | None = None, ax=None, fit_from: float | None = None):
    """Run time against sequence length, log-log, one line per method; the legend gives
    each line's fitted growth exponent (slope of log time against log length), fitted
    over lengths >= ``fit_from`` (all lengths when None)."""
    fig, ax = _axes(ax)
    lengths = np.asarray(lengths, dtype=float)
    fit = lengths >= (fit_from if fit_from is not None else -np.inf)
    for name, s in seconds.items():
        s = np.asarray(s, dtype=float)
        slope = np.polyfit(np.log(lengths[fit]), np.log(s[fit]), 1)[0] if fit.sum() > 1 else float("nan")
        ax.plot(lengths, 1e3 * s, marker="o", label=f"{name} (slope {slope:.2f})")
    if fit_from is not None:
        ax.axvspan(fit_from, lengths.max(), color="0.9", zorder=0, label=f"fit range (T ≥ {fit_from:g})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T (time steps)")
    ax.set_ylabel("time per call (ms)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_seed_vs_ours(labels: Sequence[str], panels: Mapping[str, tuple], *, title: str | None = None):
    """Grouped bars, the seed's reported numbers beside ours, one panel per quantity (chapter 7).

    Args:
        labels: (n,) run names along the x axis (e.g. patches "A" .. "E zero init").
        panels: panel y-label (with units) -> ``(seed_values, our_values)``, each (n,);
            NaN (or None) where a value is missing. A missing seed value is marked "n/a".
    """
    labels = list(labels)
    x = np.arange(len(labels))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 1.0, 4.0), constrained_layout=True, squeeze=False)
    for ax, (ylabel, (seed, ours)) in zip(axes[0], panels.items()):
        seed = np.asarray([np.nan if v is None else v for v in seed], dtype=float)
        ours = np.asarray([np.nan if v is None else v for v in ours], dtype=float)
        ax.bar(x - 0.2, np.nan_to_num(seed), 0.4, label="seed (reported)", color="0.75", hatch="//", edgecolor="0.35")
        ax.bar(x + 0.2, np.nan_to_num(ours), 0.4, label="ours (measured)", color="C0")
        for xi, v in zip(x, seed):
            if not np.isfinite(v):
                ax.text(xi - 0.2, 0.0, "n/a", ha="center", va="bottom", fontsize="x-small", rotation=90)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30, ha="right")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
