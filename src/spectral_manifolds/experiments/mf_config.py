"""Chapter 4's run configuration: one ManifoldFormer setting and its data
(seed 000_bd4cbe8700a1031d.txt; DESIGN.md, "The seeds' experimental setup").

:class:`Config` holds the data, the model, the loss and the optimizer of one setting.
Settings that differ only in :data:`PER_MEMBER` fields train in one compiled program
(:func:`spectral_manifolds.experiments.mf_train.train`); :data:`FREEZABLE` names the
parameters an ablation can hold at their initial values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.data.oscillators import NormalModesConfig, OscillatorData, SeedTaskConfig, normal_modes, seed_task
from spectral_manifolds.manifoldformer import ManifoldFormerConfig

TEST_SEED_OFFSET = 1000  # test data seed = training data seed + this
DataConfig = Union[NormalModesConfig, SeedTaskConfig]
PER_MEMBER = ("lr", "weight_decay", "kl_weight", "latent_weight", "sample", "sigma_init", "h", "freeze", "seed")
# parameters an ablation can hold at their initial value (path prefixes in the model's nnx.State)
FREEZABLE = {
    "memory": "['field']['w_style']",  # W_style stays 0 (zero init): the memory term is off
    "coupling": "['field']['coupling']['out']",  # W_out stays 0: the Kuramoto coupling is off
    "alpha": "['field']['coupling']['alpha']",  # the phase lag stays at alpha_init
    "kernel": "['field']['memory']['kernel']",  # the memory kernel stays the power law
}


@dataclass(frozen=True)
class Config:
    """One ManifoldFormer setting.

    Attributes:
        data: :class:`NormalModesConfig` (the book's) or :class:`SeedTaskConfig` (the
            seeds' task); ``n_samples`` is the training set.
        n_test: held-out samples (data seed + 1000); a multiple of the seed task's
            generation batch when ``data`` is a :class:`SeedTaskConfig`.
        latent_dim, hidden, decoder_hidden, gamma, form, h, n_substeps, zero_init,
            dynamics, use_memory, learnable_memory, sigma_init: the model
            (:class:`ManifoldFormerConfig`); channels and memory length come from the data.
        epochs, batch, lr, weight_decay: AdamW training (``weight_decay = 0`` is Adam).
        kl_weight: weight of the Monte-Carlo KL to the uniform prior (0: none).
        latent_weight: weight of the latent consistency term (0: the seeds' loss).
        sample: train on the tangent sample (the seeds' VAE) or on ``mu``.
        freeze: names from :data:`FREEZABLE` whose parameters keep their initial values
            (their optimizer updates are masked): "memory" and "coupling" switch those
            terms off (their output weights start at zero), "alpha" fixes the lag,
            "kernel" the power-law memory kernel.
        seed: parameters, batch order and latent noise (:func:`train` overrides it).
    """

    data: DataConfig = NormalModesConfig()
    n_test: int = 64
    latent_dim: int = 21
    hidden: int = 64
    decoder_hidden: int = 128
    gamma: float = 0.5
    form: str = "sakaguchi"
    h: float = 1.0
    n_substeps: int = 1
    zero_init: bool = True
    dynamics: bool = True
    use_memory: bool = True
    learnable_memory: bool = True
    sigma_init: Optional[float] = 0.05
    epochs: int = 30
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    kl_weight: float = 0.0
    latent_weight: float = 0.0
    sample: bool = False
    freeze: tuple = ()
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.data, (NormalModesConfig, SeedTaskConfig)):
            raise ValueError(f"data must be a NormalModesConfig or a SeedTaskConfig, got {type(self.data).__name__}")
        for name in ("n_test", "epochs", "batch"):
            validate.positive_int(name, getattr(self, name))
        if self.batch > self.data.n_samples:
            raise ValueError(f"batch ({self.batch}) exceeds the training samples ({self.data.n_samples})")
        if isinstance(self.data, SeedTaskConfig) and self.n_test % self.data.batch:
            raise ValueError(f"n_test ({self.n_test}) must be a multiple of the seed task's batch ({self.data.batch})")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be positive and finite, got {self.lr!r}")
        for name in ("weight_decay", "kl_weight", "latent_weight"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {getattr(self, name)!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        unknown = [f for f in self.freeze if f not in FREEZABLE]
        if unknown or len(set(self.freeze)) != len(self.freeze):
            raise ValueError(f"freeze must hold distinct names from {sorted(FREEZABLE)}, got {self.freeze!r}")
        if {"memory", "coupling"} & set(self.freeze) and not self.zero_init:
            raise ValueError("freezing 'memory' or 'coupling' switches the term off only with zero_init=True")
        if {"memory", "kernel"} & set(self.freeze) and not self.use_memory:
            raise ValueError("nothing to freeze: use_memory=False")
        if "kernel" in self.freeze and not self.learnable_memory:
            raise ValueError("the memory kernel is already fixed (learnable_memory=False)")
        if self.freeze and not self.dynamics:
            raise ValueError("nothing to freeze: dynamics=False")
        self.model_config()  # validates the model fields

    @property
    def data_name(self) -> str:
        return "seed task" if isinstance(self.data, SeedTaskConfig) else "normal modes"

    def model_config(self) -> ManifoldFormerConfig:
        """The :class:`ManifoldFormerConfig` for this data (channels and memory length from it)."""
        return ManifoldFormerConfig(
            n_channels=self.data.n_channels, latent_dim=self.latent_dim, hidden=self.hidden,
            decoder_hidden=self.decoder_hidden, dynamics=self.dynamics, use_memory=self.use_memory,
            gamma=self.gamma, memory_len=self.data.seq_len - 1, learnable_memory=self.learnable_memory,
            form=self.form, h=self.h, n_substeps=self.n_substeps, zero_init=self.zero_init, sigma_init=self.sigma_init,
        )

    def program(self) -> "Config":
        """This config with every :data:`PER_MEMBER` field at its default: equal for two
        settings iff they can train in one compiled program."""
        return dataclasses.replace(self, **{f.name: f.default for f in dataclasses.fields(Config) if f.name in PER_MEMBER})

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["data"] = {"kind": self.data_name, **dataclasses.asdict(self.data)}
        return d


def make_data(config: Config) -> tuple[OscillatorData, OscillatorData]:
    """Training and held-out test sets (the same system, data seed + 1000 for the test set)."""
    gen = seed_task if isinstance(config.data, SeedTaskConfig) else normal_modes
    test_cfg = dataclasses.replace(config.data, n_samples=config.n_test, seed=config.data.seed + TEST_SEED_OFFSET)
    return gen(config.data), gen(test_cfg)
