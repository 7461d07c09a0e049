"""Part III (CV-KAN, PyTorch): complex-valued magnitude polarization (seed 003, issue 8).

One concept per module: ``tokens`` (validation, centre magnitudes), ``layers`` (complex
linear, norms), ``aggregation`` (the five aggregations), ``block`` (the polarizing
block), ``hierarchy`` (hierarchical polarization), ``models`` (embedding, stack, head; Z0),
``baselines`` (real and complex Transformers, parameter matching), ``train`` (the public
training entry points for a reader's own arrays), ``seeds_together`` (every seed of a
configuration in one vectorized step), ``twins`` (real-polar and real-Cartesian twins),
``phase_probes`` (what the phases encode: probes and interventions), ``spectrogram`` (an
STFT front end and the real-pair twin of the complex linear layer), ``precision`` and
``probes`` (device and dtype probes, per-layer measurements).
"""

from spectral_manifolds.cvkan.tokens import as_tokens, center_magnitudes, check_complex, restore
from spectral_manifolds.cvkan.layers import (
    NORMS, CentreMagnitudes, ComplexLayerNorm, ComplexLinear, ComplexRMSNorm, NoNorm,
    double_precision, make_norm, n_real_parameters,
)
from spectral_manifolds.cvkan.aggregation import (
    AGGREGATIONS, AttentionAggregation, CausalAggregation, MagnitudeAggregation, MeanAggregation,
    WindowAggregation, magnitude_weighted_mean, make_aggregation, mean_tokens,
)
from spectral_manifolds.cvkan.block import VERSIONS, ChannelwiseMLP, PolarizingBlock, mlp3
from spectral_manifolds.cvkan.hierarchy import HIERARCHY_VARIANTS, HierarchicalPolarization, level_schedule
from spectral_manifolds.cvkan.models import CVKAN, POOLINGS, TokenEmbedding, n_parameters
from spectral_manifolds.cvkan.baselines import ComplexTransformer, RealTransformer, width_for_params
from spectral_manifolds.cvkan.train import Fit, train_classifier
from spectral_manifolds.cvkan.forecast import train_forecaster
from spectral_manifolds.cvkan.seeds_together import seeds_speed, train_classifier_seeds
from spectral_manifolds.cvkan.twins import RealTwin, twin_for_params
from spectral_manifolds.cvkan.spectrogram import RealPairLinear, SpectrogramFrontEnd, stft_tokens
