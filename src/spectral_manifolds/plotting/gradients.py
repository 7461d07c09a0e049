"""Gradient and amplitude figures (chapters 5 and 6): gradient norms against a
singular-value gap or a prediction's amplitude, and fitted amplitudes against phase
uncertainty.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ._common import _axes, _label


def plot_gradient_vs_gap(gaps: Sequence[float], series: Mapping[str, Sequence[float]], *, xlabel: str = "gap between the two largest singular values", ylabel: str = "gradient norm", title: str | None = None, ax=None):
    """Gradient norms against a singular-value gap, log-log, one line per named series.

    Points at ``gap = 0`` or with non-finite values cannot sit on log axes: the legend
    counts them for each series (e.g. "(NaN at 1 gap)").
    """
    fig, ax = _axes(ax)
    gaps = np.asarray(gaps, dtype=float)
    styles = [("o", "-"), ("x", "--"), ("s", "-."), ("^", ":")]
    for i, (name, values) in enumerate(series.items()):
        values = np.asarray(values, dtype=float)
        ok = (gaps > 0) & np.isfinite(values) & (values > 0)
        bad = int(np.sum(~np.isfinite(values)))
        label = name + (f" (NaN/inf at {bad} gap{'s' if bad > 1 else ''})" if bad else "")
        marker, line = styles[i % len(styles)]
        ax.plot(gaps[ok], values[ok], marker=marker, linestyle=line, markerfacecolor="none", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_gradient_vs_amplitude(amplitudes: Sequence[float], series: Mapping[str, Sequence[float]], *, xlabel: str = "prediction amplitude (signal units)", ylabel: str = "gradient norm", title: str | None = None, ax=None):
    """Gradient norms against the prediction's amplitude, log-log, one line per loss (chapter 5).

    Points at amplitude 0 cannot sit on log axes; the legend reports each series' value
    there (e.g. "at 0: nan"), so a NaN gradient at an exactly silent prediction shows.
    """
    fig, ax = _axes(ax)
    amps = np.asarray(amplitudes, dtype=float)
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        ok = (amps > 0) & np.isfinite(values) & (values > 0)
        at_zero = values[amps == 0]
        label = name + (f" (at 0: {at_zero[0]:.3g})" if at_zero.size else "")
        ax.plot(amps[ok], values[ok], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_amplitude_fits(sigmas: Sequence[float], fitted: Mapping[str, Sequence[float]], references: Mapping[str, Sequence[float]], *, title: str | None = None, ax=None):
    """Fitted amplitude against phase uncertainty: markers per loss, lines per closed form.

    Args:
        sigmas: (S,) phase-jitter standard deviations in radians.
        fitted: loss name -> (S,) fitted amplitude ``a``.
        references: name -> (S,) closed-form amplitude (drawn as dashed lines).
    """
    fig, ax = _axes(ax)
    sigmas = np.asarray(sigmas, dtype=float)
    markers = "osD^v<>"
    for i, (name, a) in enumerate(fitted.items()):
        ax.plot(sigmas, np.asarray(a, dtype=float), marker=markers[i % len(markers)], ls="none", ms=7, label=f"fitted, {name}")
    for name, a in references.items():
        ax.plot(sigmas, np.asarray(a, dtype=float), ls="--", label=name)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xlabel("phase uncertainty σ (radians)")
    ax.set_ylabel("fitted amplitude a (true amplitude 1)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig
