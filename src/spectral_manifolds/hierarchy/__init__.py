"""Part IV (hierarchical spectral manifolds, PyTorch): seed 004, issue 9.

One concept per module:

* ``bands`` -- radial FFT masks forming a partition of unity, the seed's own masks for
  comparison, decomposition, synthesis, per-band energy and a report of a mask set's defects;
* ``routing`` -- the seed's router (with a NaN-free Gumbel-softmax), its per-pixel gate,
  and routers that can move band boundaries (learnable band edges, per-mode routing);
* ``routing_losses`` -- entropy (and its pitfall), Switch balance, usage variance, mutual
  information, router z-loss, the seed's frequency loss.
"""

from spectral_manifolds.hierarchy import routing_losses
from spectral_manifolds.hierarchy.bands import (
    CUTOFFS, KINDS, band_energy, decompose, lowpass, mask_report, masks, radius, seed_bounds,
    seed_masks, smooth_field, synthesize,
)
from spectral_manifolds.hierarchy.routing import (
    LearnableBandEdges, ModeRouter, SeedRouter, gumbel_noise, gumbel_softmax, spatial_gate,
)

__all__ = ["CUTOFFS", "KINDS", "band_energy", "decompose", "lowpass", "mask_report", "masks",
           "radius", "seed_bounds", "seed_masks", "smooth_field", "synthesize",
           "LearnableBandEdges", "ModeRouter", "SeedRouter", "gumbel_noise", "gumbel_softmax",
           "spatial_gate", "routing_losses"]
