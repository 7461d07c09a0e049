"""Figures for the book: one function per kind of figure, axes labelled with units.

Every function takes data (numpy arrays or histories), draws on a new or given
matplotlib ``Axes`` and returns the ``Figure``. Chapters never style plots themselves.

The functions live in modules by concern; every one is importable from here, as
``spectral_manifolds.plotting.plot_...`` (the chapters' imports):

* :mod:`.curves` -- loss, seed-band, x-y and reference-level curves, relative errors,
  timings, seed-vs-ours bars (chapters 0-7, 11-13, 16);
* :mod:`.sphere` -- latents on S^(d-1): heatmaps, principal-direction path, KL against
  scale, rate-distortion, reconstructions (chapters 1, 6);
* :mod:`.memory` -- power-law kernels and memory responses (chapters 2, 4);
* :mod:`.dynamics` -- coupling functions, synchronization curves and errors, phase
  portraits on S^2, orbits and spectra (chapters 3, 5);
* :mod:`.imputation` -- gap errors and a filled gap (chapter 4);
* :mod:`.gradients` -- gradient norms against a gap or an amplitude, amplitude fits
  (chapters 5, 6).

``_common`` holds the shared helpers ``_axes`` (a new or given Axes) and ``_label``.
"""

from __future__ import annotations

from ._common import _axes, _label  # noqa: F401  (shared helpers, as before the split)
from .curves import (
    plot_loss_curves,
    plot_seed_curves,
    plot_xy_curves,
    plot_curves_with_references,
    plot_relative_error,
    plot_timings,
    plot_seed_vs_ours,
)
from .sphere import (
    plot_latent_heatmaps,
    plot_kl_vs_scale,
    plot_reconstructions,
    plot_latent_path,
    plot_rate_distortion,
)
from .memory import plot_power_law_kernels, plot_memory_responses
from .dynamics import (
    plot_coupling_functions,
    plot_sync_curves,
    plot_sync_errors,
    plot_sphere_portraits,
    plot_orbits_and_spectra,
)
from .imputation import plot_gap_errors, plot_imputation_example
from .gradients import plot_gradient_vs_gap, plot_gradient_vs_amplitude, plot_amplitude_fits

__all__ = [
    "plot_amplitude_fits",
    "plot_coupling_functions",
    "plot_curves_with_references",
    "plot_gap_errors",
    "plot_gradient_vs_amplitude",
    "plot_gradient_vs_gap",
    "plot_imputation_example",
    "plot_kl_vs_scale",
    "plot_latent_heatmaps",
    "plot_latent_path",
    "plot_loss_curves",
    "plot_memory_responses",
    "plot_orbits_and_spectra",
    "plot_power_law_kernels",
    "plot_rate_distortion",
    "plot_reconstructions",
    "plot_relative_error",
    "plot_seed_curves",
    "plot_seed_vs_ours",
    "plot_sphere_portraits",
    "plot_sync_curves",
    "plot_sync_errors",
    "plot_timings",
    "plot_xy_curves",
]
