"""Oscillator dynamics (chapters 3 and 5): coupling functions, order parameter against
coupling and its deviation from theory, phase portraits on S^2, and two-channel
orbits with their spectra.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._common import _axes, _label


def plot_coupling_functions(dtheta: Sequence[float], panels: Mapping[str, Mapping[str, Sequence[float]]], *, ylabels: Sequence[str] | None = None, title: str | None = None):
    """Coupling functions of a phase difference, one panel per mapping (chapter 3).

    ``panels[panel_title][curve_label] = values`` over ``dtheta`` (radians); the x axis
    is labelled in units of pi.
    """
    x = np.asarray(dtheta, dtype=float)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), constrained_layout=True, squeeze=False)
    for i, (ax, (name, curves)) in enumerate(zip(axes[0], panels.items())):
        for label, y in curves.items():
            ax.plot(x / np.pi, np.asarray(y, dtype=float), label=label)
        ax.axhline(0.0, color="k", lw=0.6)
        ax.axvline(0.0, color="k", lw=0.6)
        ax.set_xlabel(r"phase difference $\Delta\theta = \theta_j - \theta_i$ (units of $\pi$ rad)")
        ax.set_ylabel(ylabels[i] if ylabels else "coupling (dimensionless)")
        ax.set_title(name, fontsize="medium")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_sync_curves(couplings: Sequence[float], simulated: Mapping[str, Sequence[float]], theory: Mapping[str, tuple], *, xlabel: str = "coupling K (1/time unit)", ylabel: str = "order parameter r (dimensionless)", title: str | None = None, ax=None):
    """Order parameter against coupling: simulations as markers, theory curves as lines.

    ``simulated[label] = r`` at ``couplings``; ``theory[label] = (K_fine, r_fine)``.
    Labels that share a prefix before " | " share a colour (e.g. one lag).
    """
    fig, ax = _axes(ax, figsize=(6.5, 4.0))
    k = np.asarray(couplings, dtype=float)
    colours: dict[str, str] = {}
    markers = ["o", "x", "s", "+", "^", "d"]

    def colour(label):
        key = label.split(" | ")[0]
        if key not in colours:
            colours[key] = f"C{len(colours)}"
        return colours[key]

    for label, (kf, rf) in theory.items():
        ax.plot(np.asarray(kf, dtype=float), np.asarray(rf, dtype=float), color=colour(label), lw=1.5, label=label)
    for i, (label, r) in enumerate(simulated.items()):
        ax.plot(k, np.asarray(r, dtype=float), ls="none", marker=markers[i % len(markers)], ms=7, mfc="none", color=colour(label), label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_sync_errors(series: Mapping[str, tuple], *, floor: float | None = None, threshold: float | None = None, xlabel: str = r"coupling relative to onset $K / K_c$", ylabel: str = r"$|r - r^*|$ (order parameter, dimensionless)", title: str | None = None, ax=None):
    """Deviation of simulated order parameters from the Ott-Antonsen theory (chapter 3).

    ``series[label] = (K / K_c, |r - r*|)``; labels that share a prefix before " | "
    share a colour (one lag), the part after it picks the marker (one model).
    ``floor``: a horizontal reference (e.g. the finite-size scale N^-1/2);
    ``threshold``: a vertical line at the K / K_c from which the comparison counts.
    """
    fig, ax = _axes(ax, figsize=(6.5, 4.0))
    colours: dict[str, str] = {}
    markers: dict[str, str] = {}
    for label, (x, y) in series.items():
        group, _, kind = label.partition(" | ")
        colour = colours.setdefault(group, f"C{len(colours)}")
        marker = markers.setdefault(kind, "os^v"[len(markers) % 4])
        style = "-" if list(markers).index(kind) == 0 else "--"
        ax.plot(np.asarray(x, float), np.maximum(np.asarray(y, float), 1e-6), marker=marker, ms=4, lw=0.8, color=colour,
                ls=style, label=label)
    if floor is not None:
        ax.axhline(floor, color="k", lw=0.8, ls=":", label=r"finite-size scale $N^{-1/2}$")
    if threshold is not None:
        ax.axvline(threshold, color="grey", lw=0.8, ls="-.", label=f"K = {threshold:g} K_c")
    ax.set_yscale("log")
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_sphere_portraits(portraits: Mapping[str, Mapping[str, np.ndarray]], *, n_show: int = 12, title: str | None = None):
    """Phase portraits on the unit sphere S^2, one 3-D panel per run (chapter 3).

    ``portraits[name]`` holds ``trajectories: (S, N, 3)`` (states over time) and
    ``mean_field: (S, 3)``. Thin lines: ``n_show`` oscillators (dot = start); thick
    black line: the mean field ``m(t)``; star: its final value. Axes are the
    dimensionless coordinates ``z_1, z_2, z_3``.
    """
    n = len(portraits)
    fig = plt.figure(figsize=(3.6 * n, 3.9), constrained_layout=True)
    u, v = np.mgrid[0 : 2 * np.pi : 30j, 0 : np.pi : 16j]
    for i, (name, p) in enumerate(portraits.items()):
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.85", lw=0.4)
        z = np.asarray(p["trajectories"], dtype=float)
        for j in range(min(n_show, z.shape[1])):
            ax.plot(z[:, j, 0], z[:, j, 1], z[:, j, 2], lw=0.8, alpha=0.8)
            ax.scatter(*z[0, j], s=6)
        m = np.asarray(p["mean_field"], dtype=float)
        ax.plot(m[:, 0], m[:, 1], m[:, 2], color="k", lw=2.0)
        ax.scatter(*m[-1], color="k", marker="*", s=60)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_zlim(-1, 1)
        ax.set_box_aspect((1, 1, 1))
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
        ax.set_zlabel("$z_3$")
        ax.set_title(name, fontsize="medium")
    if title:
        fig.suptitle(title)
    return fig


def plot_orbits_and_spectra(signals: Mapping[str, np.ndarray], *, title: str | None = None):
    """Two-channel signals as orbits in the plane and as magnitude spectra (chapter 5).

    Args:
        signals: name -> (T, 2) signal. Left panel: channel 2 against channel 1. Right
            panel: ``|rfft|`` of each channel against frequency bin (channel 1 solid,
            channel 2 dotted), so identical magnitude spectra overlap.
    """
    arrays = {k: np.asarray(v, dtype=float) for k, v in signals.items()}
    if not arrays or any(a.ndim != 2 or a.shape[1] != 2 for a in arrays.values()):
        raise ValueError("signals must map names to (T, 2) arrays")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.8), constrained_layout=True)
    for i, (name, a) in enumerate(arrays.items()):
        color = f"C{i}"
        left.plot(a[:, 0], a[:, 1], color=color, label=name, lw=2.5 - 0.5 * i)
        mags = np.abs(np.fft.rfft(a, axis=0))
        bins = np.arange(mags.shape[0])
        right.plot(bins, mags[:, 0], color=color, lw=2.5 - 0.5 * i, label=f"{name}, channel 1")
        right.plot(bins, mags[:, 1], color=color, ls=":", lw=2.5 - 0.5 * i, label=f"{name}, channel 2")
    left.set_aspect("equal", adjustable="datalim")
    left.set_xlabel("channel 1 (signal units)")
    left.set_ylabel("channel 2 (signal units)")
    left.set_title("orbit in the plane")
    left.grid(alpha=0.3)
    left.legend(fontsize="small")
    right.set_xlabel("frequency bin (cycles per sequence)")
    right.set_ylabel("|DFT| (signal units x samples)")
    right.set_title("magnitude spectra")
    right.grid(alpha=0.3)
    right.legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    return fig
