"""The ManifoldFormer's sizes and switches (seed 000_bd4cbe8700a1031d.txt, "System
Architecture"; the defaults are the seeds' model of DESIGN.md): :class:`ManifoldFormerConfig`,
validated on construction. The model itself is :mod:`spectral_manifolds.manifoldformer`,
which re-exports this class.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

from spectral_manifolds import validate

__all__ = ["ManifoldFormerConfig"]


@dataclass(frozen=True)
class ManifoldFormerConfig:
    """Sizes and switches of the ManifoldFormer (defaults: the seeds' model, DESIGN.md).

    Attributes:
        n_channels: C, signal channels (16 in the seeds).
        latent_dim: d; the latent lives on S^(d-1) (21 in the seeds).
        hidden: conv channels of the encoder (64); kernel: conv length (5).
        decoder_hidden: decoder MLP width (128).
        dynamics: False replaces the latent step by the identity (a plain sequence VAE).
        use_memory: include the power-law memory term ``W_style M``.
        gamma: memory exponent in (0, 1); memory_len: memory kernel length (lags).
        learnable_memory: the memory kernel is trained (seed 000's fix table).
        form: Kuramoto coupling, "sakaguchi" (the book's) or "seed" (seed 000's form).
        h: time step per data step (1.0, seed 000 lesson 2).
        n_substeps: RK4 substeps per data step (1; the seed's earlier choice was 4).
        zero_init: zero-initialize the dynamics' output weights (seed 001, section 13).
        alpha_init: initial Sakaguchi phase lag (radians).
        sigma_init: every encoder ``sigma`` starts at this value (the book's 0.05, see
            :class:`spectral_manifolds.rvae.RVAE`); None keeps the seed's initialization
            (the sigma head initialized like any dense layer: ``sigma`` near
            ``softplus(0) = 0.69`` per coordinate).
    """

    n_channels: int = 16
    latent_dim: int = 21
    hidden: int = 64
    kernel: int = 5
    decoder_hidden: int = 128
    dynamics: bool = True
    use_memory: bool = True
    gamma: float = 0.5
    memory_len: int = 256
    learnable_memory: bool = True
    form: str = "sakaguchi"
    h: float = 1.0
    n_substeps: int = 1
    zero_init: bool = True
    alpha_init: float = 0.0
    sigma_init: Optional[float] = 0.05

    def __post_init__(self):
        for name in ("n_channels", "hidden", "kernel", "decoder_hidden", "memory_len", "n_substeps"):
            validate.positive_int(name, getattr(self, name))
        if isinstance(self.latent_dim, bool) or not isinstance(self.latent_dim, int) or self.latent_dim < 2:
            raise ValueError(f"latent_dim must be an integer >= 2, got {self.latent_dim!r}")
        if not 0.0 < float(self.gamma) < 1.0:
            raise ValueError(f"gamma must lie strictly between 0 and 1, got {self.gamma!r}")
        if not (math.isfinite(float(self.h)) and float(self.h) > 0):
            raise ValueError(f"h must be a positive step size, got {self.h!r}")
        if self.form not in ("sakaguchi", "seed"):
            raise ValueError(f"form must be 'sakaguchi' or 'seed', got {self.form!r}")
        if self.sigma_init is not None and not (math.isfinite(float(self.sigma_init)) and float(self.sigma_init) > 1e-4):
            raise ValueError(f"sigma_init must be None or a finite value above the sigma floor 1e-4, got {self.sigma_init!r}")

    def to_dict(self) -> dict:
        return asdict(self)
