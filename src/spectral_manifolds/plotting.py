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


def plot_power_law_kernels(kernels: Mapping[str, Sequence[float]], *, dashed: Sequence[str] = (), loglog: bool = True, title: str | None = None, ax=None):
    """Memory kernels against lag, one line per named kernel (chapter 2).

    Args:
        kernels: name -> (n,) weights ``w_k`` for lags ``k = 1..n`` (e.g. one per gamma).
        dashed: names drawn dashed (e.g. a reference kernel).
        loglog: log axes, on which a power law ``k^(-g)`` is a straight line of slope ``-g``.
    """
    fig, ax = _axes(ax)
    for name, w in kernels.items():
        w = np.asarray(w, dtype=float)
        ax.plot(np.arange(1, w.size + 1), w, label=name, ls="--" if name in dashed else "-")
    if loglog:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("lag k (time steps)")
    ax.set_ylabel("weight w_k (per step)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_relative_error(t: Sequence[float], errors: Mapping[str, Sequence[float]], *, xlabel: str = "time step t", ylabel: str = "relative error (%)", title: str | None = None, ax=None):
    """Relative errors against time, in percent, one line per named series (NaNs skipped)."""
    fig, ax = _axes(ax)
    t = np.asarray(t, dtype=float)
    for name, e in errors.items():
        ax.plot(t, 100.0 * np.asarray(e, dtype=float), label=name)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_memory_responses(panels: Mapping[str, tuple], *, title: str | None = None):
    """Inputs and their memories side by side, one panel per input (chapter 2).

    Args:
        panels: panel title -> ``(t, input, {name: response})``: ``t`` the (T,) time steps,
            ``input`` and each response (T,) arrays; the input is drawn dashed in grey.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.5), constrained_layout=True, squeeze=False)
    for ax, (name, (t, inp, responses)) in zip(axes[0], panels.items()):
        t = np.asarray(t, dtype=float)
        ax.plot(t, np.asarray(inp, dtype=float), color="0.5", ls="--", label="input z")
        for label, r in responses.items():
            ax.plot(t, np.asarray(r, dtype=float), label=label)
        ax.set_title(name)
        ax.set_xlabel("time step t")
        ax.set_ylabel("value (units of z)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_timings(lengths: Sequence[float], seconds: Mapping[str, Sequence[float]], *, title: str | None = None, ax=None):
    """Run time against sequence length, log-log, one line per method; the legend gives
    each line's fitted growth exponent (slope of log time against log length)."""
    fig, ax = _axes(ax)
    lengths = np.asarray(lengths, dtype=float)
    for name, s in seconds.items():
        s = np.asarray(s, dtype=float)
        slope = np.polyfit(np.log(lengths), np.log(s), 1)[0] if lengths.size > 1 else float("nan")
        ax.plot(lengths, 1e3 * s, marker="o", label=f"{name} (slope {slope:.2f})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T (time steps)")
    ax.set_ylabel("time per call (ms)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


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
