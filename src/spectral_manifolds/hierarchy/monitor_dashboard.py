"""The §8.2 dashboard of seed 004 as text and as a matplotlib figure, from a :class:`MonitorHistory`.

§8.2 draws, per band, a box of five lines (excerpt, the seed's numbers)::

    STEP: 1000  |  TOTAL LOSS: 0.0234  |  TIME/STEP: 45ms
    COARSE MANIFOLD
    Loss: 0.0012 ▃▃▃▃▃▂▂▂▂▁▁▁  Stable
    LR:   0.0001
    Grad: 0.0002 (small, as expected)
    EMA:  0.0001 divergence
    Freq: 94% low, 5% mid, 1% high ✓
    ROUTING HEALTH:  Entropy: 0.89 (healthy, not collapsed)  Balance: [0.28, 0.35, 0.37]
    ATTENTION STATS: Coarse→Mid: 0.45 average weight  Mid→Fine: 0.52 average weight

:func:`dashboard` puts the five lines of a box on one row per band (loss, a sparkline of the
last ``width`` losses, a trend word, lr, grad norm, EMA divergence, frequency content of the
output ✓/✗ as the seed's, then the band's loss outside its band as a share of the total loss
✓/✗, what §8.3's ``frequency_misrouted`` reads), then routing health, attention statistics and
any alerts with the §8.3 action.
:func:`plot_dashboard` draws one panel per quantity (:data:`PANELS`), one line per band.
The seed's "Cross-scale connections: 234 active" is not defined in the seed and not drawn.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from spectral_manifolds.hierarchy.monitor import MonitorHistory

__all__ = ["SPARK", "PANELS", "sparkline", "dashboard", "plot_dashboard"]

#: Sparkline glyphs, lowest to highest (§8.2 uses these block characters).
SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values, width: int | None = 12) -> str:
    """Unicode sparkline of the last ``width`` finite values: min -> '▁', max -> '█', linear between."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if width is not None:
        v = v[-width:]
    if v.size == 0:
        return ""
    lo, hi = v.min(), v.max()
    if hi == lo:
        return SPARK[0] * v.size
    idx = np.round((v - lo) / (hi - lo) * (len(SPARK) - 1)).astype(int)
    return "".join(SPARK[i] for i in idx)


def _trend(v: np.ndarray, tol: float = 0.05) -> str:
    """§8.2's status word from the sparkline's first and last thirds: stable, learning (falling) or rising."""
    v = v[np.isfinite(v)]
    if v.size < 3:
        return "-"
    k = max(1, v.size // 3)
    a, b = v[:k].mean(), v[-k:].mean()
    rel = (b - a) / max(abs(a), 1e-30)
    return "stable" if abs(rel) < tol else "learning" if rel < 0 else "rising"


def _last(a: np.ndarray) -> np.ndarray | float:
    ok = ~np.all(np.isnan(a.reshape(len(a), -1)), axis=1) if len(a) else np.zeros(0, bool)
    return a[ok][-1] if ok.any() else np.full(a.shape[1:], np.nan) if a.ndim > 1 else math.nan


def _fmt(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.3g}"


def dashboard(history: MonitorHistory, alerts: Sequence = (), *, width: int = 12, freq_ok: float = 0.5,
              misrouted_ok: float = 0.25) -> str:
    """§8.2 as text: a header, one row per band (loss, sparkline, trend, lr, grad, EMA, freq), routing, attention.

    The freq column gives band i's output energy share in each band (``freq_content`` row i)
    and ✓ when its own-band share is at least ``freq_ok`` (✗ otherwise); "out-of-band loss" band i's
    loss outside band i over the total loss (``error_content`` row i off the diagonal, when recorded)
    and ✓ when at most ``misrouted_ok`` (``FrequencyMisrouted``'s default threshold). ``alerts``
    (:func:`~spectral_manifolds.hierarchy.alerts.check_all`) are listed at the end with their actions.
    """
    a = history.arrays()
    if not len(history):
        return "MANIFOLD MONITOR: no records"
    ms = _last(a["step_time"]) * 1e3
    lines = [f"MANIFOLD MONITOR  STEP: {history.steps[-1]}  |  TOTAL LOSS: {_fmt(_last(a['total_loss']))}  |  TIME/STEP: {_fmt(ms)} ms",
             f"{'band':<8} {'loss':>9}  {'last ' + str(width):<{width}} {'trend':<8} {'lr':>9} {'grad':>9} {'EMA div':>9}  freq content"]
    freq, err = _last(a["freq_content"]), _last(a["error_content"])
    off = err.sum(-1) - np.diagonal(err)
    for i, name in enumerate(history.bands):
        loss = a["loss"][:, i]
        shares = ", ".join(f"{100 * s:.0f}% {b}" if np.isfinite(s) else f"- {b}" for s, b in zip(freq[i], history.bands))
        shares += "" if not np.isfinite(freq[i, i]) else " ✓" if freq[i, i] >= freq_ok else " ✗"
        if np.isfinite(off[i]):
            shares += f"  | out-of-band loss {100 * off[i]:.0f}% {'✓' if off[i] <= misrouted_ok else '✗'}"
        cols = [_fmt(_last(a[q][:, i])) for q in ("lr", "grad_norm", "ema_divergence")]
        lines.append(f"{name:<8} {_fmt(_last(loss)):>9}  {sparkline(loss, width):<{width}} {_trend(loss[-width:]):<8} "
                     + " ".join(f"{c:>9}" for c in cols) + f"  {shares}")
    use = _last(a["usage"])
    lines += ["ROUTING HEALTH:",
              f"  Entropy: {_fmt(_last(a['routing_entropy']))} (per-token, / log M)  |  Switch balance: {_fmt(_last(a['switch']))} (1 = uniform)",
              "  Balance: [" + ", ".join(_fmt(u) for u in use) + "]",
              "ATTENTION STATS:"]
    w, h = _last(a["attention_weights"]), _last(a["attention_entropy"])
    pairs = [f"{history.bands[i]}→{history.bands[i + 1]}: {_fmt(w[i, i + 1])}" for i in range(history.m - 1)]
    lines.append("  " + "  |  ".join(pairs) + "  (average weight)")
    lines.append("  Entropy / log(#seen): [" + ", ".join(_fmt(x) for x in h) + "]")
    if alerts:
        lines.append("ALERTS:")
        lines += [f"  {x.rule}" + (f" ({x.band})" if x.band else "") + f" steps {x.start}-{x.end}: {x.action}" for x in alerts]
    return "\n".join(lines)


#: Panels of :func:`plot_dashboard`: (title, quantity, y label, log scale).
PANELS = (("per-band loss", "loss", "loss (MSE)", True), ("learning rate", "lr", "lr", True),
          ("gradient norm", "grad_norm", "L2 norm", True), ("EMA divergence", "ema_divergence", "relative L2", True),
          ("out-of-band loss", "error_content", "share of total loss", False),
          ("routing usage", "usage", "mean gate", False), ("routing entropy", "routing_entropy", "H / log M", False),
          ("Switch balance", "switch", "M Σ f P", False), ("attention entropy", "attention_entropy", "H / log(#seen)", False))


def plot_dashboard(history: MonitorHistory, alerts: Sequence = (), rules: Sequence = (), *, figsize=(13.0, 9.0)):
    """§8.2 as a figure: one panel per quantity of :data:`PANELS`, one line per band.

    ``alerts`` are drawn as red spans on their quantity's panel; the thresholds of ``rules``
    that are in their quantity's units (``absolute``) as dashed grey lines.
    """
    import matplotlib.pyplot as plt

    a = history.arrays()
    steps = a["step"]
    fig, axes = plt.subplots(3, 3, figsize=figsize, constrained_layout=True, sharex=True)
    for ax, (title, name, ylabel, logy) in zip(axes.flat, PANELS):
        v = a[name]
        if name == "freq_content":
            v = np.diagonal(v, axis1=1, axis2=2)
        if name == "error_content":  # band i's loss outside band i, over the total loss
            v = v.sum(-1) - np.diagonal(v, axis1=1, axis2=2)
        lines = [(v, None)] if v.ndim == 1 else [(v[:, i], b) for i, b in enumerate(history.bands)]
        for y, label in lines:
            ok = np.isfinite(y) & ((y > 0) if logy else True)
            ax.plot(steps[ok], y[ok], label=label)
        for al in alerts:
            if getattr(al, "quantity", None) == name:
                ax.axvspan(al.start, max(al.end, al.start + 1), color="red", alpha=0.2)
        for r in rules:
            if getattr(r, "quantity", None) == name and getattr(r, "absolute", False):
                ax.axhline(r.threshold, color="grey", ls="--", lw=1)
        if logy and any(np.any(np.isfinite(y) & (y > 0)) for y, _ in lines):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if v.ndim > 1 and ax.get_lines():
            ax.legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    return fig
