"""Power-law memory (chapter 2): the kernels' weights against lag and the memories
they produce of simple inputs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ._common import _axes


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
