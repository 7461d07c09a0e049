"""Latents on the sphere S^(d-1) (chapters 1 and 6): trajectories as images and in
their top principal directions, the KL to the uniform prior, rate-distortion, and
reconstructions from the latent.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._common import _axes, _label


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


def plot_kl_vs_scale(sigmas: Sequence[float], kls: Mapping[str, Sequence[float]], limits: Mapping[str, float] | None = None, *, marks: Mapping[str, float] | None = None, xlabel: str = r"tangent noise scale $\sigma$ (radians)", ylabel: str = "KL to uniform (nats)", title: str | None = None, ax=None):
    """KL of the wrapped normal to the uniform sphere against an isotropic scale (chapter 1).

    ``kls[label]`` holds one KL per ``sigmas`` entry (log-log; non-positive Monte-Carlo
    values cannot be drawn and are left out); ``limits[label]`` draws that curve's
    large-sigma limit as a dashed line in the same colour; ``marks[name] = sigma`` draws a
    labelled vertical dotted line.
    """
    fig, ax = _axes(ax)
    s = np.asarray(sigmas, dtype=float)
    for name, values in kls.items():
        values = np.asarray(values, dtype=float)
        ok = values > 0
        (line,) = ax.plot(s[ok], values[ok], marker="o", ms=3, label=name)
        if limits and name in limits:
            ax.axhline(limits[name], color=line.get_color(), ls="--", lw=1)
    for name, x in (marks or {}).items():
        ax.axvline(x, color="k", ls=":", lw=1)
        ax.text(x, 0.02, " " + name, transform=ax.get_xaxis_transform(), fontsize="small", rotation=90, va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_reconstructions(t: Sequence[float], noisy: np.ndarray, clean: np.ndarray, recons: Mapping[str, np.ndarray], *, channels: Sequence[int] = (0, 4, 8), xlabel: str = "time t (units of the seeds' grid, 0..4$\\pi$)", title: str | None = None):
    """One sequence: noisy input (dots), clean target (black) and reconstructions, a panel per channel (chapter 1).

    Args:
        t: (T,) time axis; noisy, clean: (T, C); recons[label]: (T, C).
    """
    t = np.asarray(t, dtype=float)
    fig, axes = plt.subplots(len(channels), 1, figsize=(7.0, 1.9 * len(channels)), sharex=True, constrained_layout=True)
    axes = np.atleast_1d(axes)
    for ax, c in zip(axes, channels):
        ax.plot(t, np.asarray(noisy)[:, c], ".", ms=2.5, color="0.6", label="noisy input")
        ax.plot(t, np.asarray(clean)[:, c], color="k", lw=1.5, label="clean target")
        for name, r in recons.items():
            ax.plot(t, np.asarray(r)[:, c], lw=1.1, label=name)
        ax.set_ylabel(f"channel {c}\n(signal units)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small", ncol=2 + len(recons), loc="upper right")
    axes[-1].set_xlabel(xlabel)
    if title:
        fig.suptitle(title)
    return fig


def plot_latent_path(t: Sequence[float], path: np.ndarray, *, title: str | None = None):
    """A latent trajectory on S^(d-1) seen through its top 3 principal directions (chapter 1).

    Left: the path projected on the 3 principal directions (uncentred, so a unit sphere
    wireframe is the right reference; points inside it carry norm in the other d - 3
    directions), coloured by time. Right: the 3 coordinates against time. The share of
    ``sum |z|^2`` the 3 directions capture is printed in the title.

    Args:
        t: (T,) time axis; path: (T, d) unit vectors.
    """
    z = np.asarray(path, dtype=float)
    t = np.asarray(t, dtype=float)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    p = z @ vt[:3].T  # (T, 3)
    captured = float(np.sum(s[:3] ** 2) / np.sum(s**2))
    fig = plt.figure(figsize=(9.5, 3.9), constrained_layout=True)
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    u, v = np.mgrid[0 : 2 * np.pi : 30j, 0 : np.pi : 16j]
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.88", lw=0.4)
    ax.plot(p[:, 0], p[:, 1], p[:, 2], color="0.5", lw=0.6)
    sc = ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=t, cmap="viridis", s=6)
    for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
        setter(-1, 1)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_zlabel("PC 3")
    fig.colorbar(sc, ax=ax, shrink=0.6, pad=0.12, label="time t")
    ax2 = fig.add_subplot(1, 2, 2)
    for k in range(3):
        ax2.plot(t, p[:, k], label=f"PC {k + 1}")
    ax2.set_xlabel("time t")
    ax2.set_ylabel("coordinate (dimensionless)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize="small")
    fig.suptitle((title + "\n" if title else "") + f"top 3 directions hold {100 * captured:.0f}% of $\\sum|z|^2$", fontsize="medium")
    return fig


def plot_rate_distortion(kl: Sequence[float], mse: Sequence[float], labels: Sequence[str], references: Mapping[str, float] | None = None, *, xlabel: str = "KL to the uniform prior (nats per time step)", ylabel: str = "test reconstruction MSE (signal units$^2$)", title: str | None = None, ax=None):
    """The KL/reconstruction trade-off: one labelled point per run, log-log (chapter 1).

    ``references[name] = y`` draws a horizontal dotted line (e.g. the MSE of the noisy input).
    """
    fig, ax = _axes(ax)
    kl = np.asarray(kl, dtype=float)
    mse = np.asarray(mse, dtype=float)
    ax.plot(kl, mse, color="0.6", lw=1, zorder=1)
    ax.scatter(kl, mse, zorder=2)
    for x, y, label in zip(kl, mse, labels):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize="small")
    for name, y in (references or {}).items():
        ax.axhline(y, ls=":", color="k", lw=1)
        ax.text(0.01, y, name, transform=ax.get_yaxis_transform(), fontsize="small", va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    _label(ax, xlabel, ylabel, title)
    ax.grid(alpha=0.3, which="both")
    return fig
