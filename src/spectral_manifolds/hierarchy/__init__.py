"""Part IV (hierarchical spectral manifolds, PyTorch): seed 004, issue 9.

One concept per module: ``bands`` (radial FFT masks forming a partition of unity, the
seed's own masks for comparison, decomposition, synthesis, per-band energy and a report
of a mask set's defects).
"""

from spectral_manifolds.hierarchy.bands import (
    CUTOFFS, KINDS, band_energy, decompose, lowpass, mask_report, masks, radius, seed_bounds,
    seed_masks, smooth_field, synthesize,
)

__all__ = ["CUTOFFS", "KINDS", "band_energy", "decompose", "lowpass", "mask_report", "masks",
           "radius", "seed_bounds", "seed_masks", "smooth_field", "synthesize"]
