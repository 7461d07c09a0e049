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


def _label(ax, xlabel: str, ylabel: str, title: str | None = None) -> None:
    """Axis labels (with units) and an optional title."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


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
    _label(ax, xlabel, ylabel, title)
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
