"""Chapter 15's models and configuration: tokens, the CV-KAN and its baselines R, C, Z0 at a
matched parameter count, and every size of the chapter (split from
:mod:`spectral_manifolds.experiments.cvkan_domains`, which re-exports every name here;
the module docstring there describes the experiment).

Pooling (seed 003, "2026-01-20 Attention Pooling Marginally Better for Classification"):
:func:`build` takes ``pooling`` (``"mean"``, the chapter's default, or ``"attention"``,
:class:`~spectral_manifolds.cvkan.aggregation.AttentionAggregation`, ``2 d + 1`` more
parameters) for the CV-KAN; :data:`CVKAN_ATTN` and :data:`CVKAN_REL_ATTN` name those runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spectral_manifolds import runtime, validate
from spectral_manifolds.cvkan.baselines import ComplexTransformer, RealTransformer, width_for_params
from spectral_manifolds.cvkan.models import CVKAN, POOLINGS, n_parameters
from spectral_manifolds.data import domains
from spectral_manifolds.experiments.cvkan_norms import NormsResult

__all__ = ["CLASSIFICATION", "TIME_PATCH", "FORECAST", "CVKAN_NAME", "CVKAN_REL", "CVKAN_ATTN", "CVKAN_REL_ATTN", "Z0", "R", "C",
           "LOGREG_RAW", "LOGREG_SUMMARY", "Tokenize", "RelativeToLast", "DomainsConfig", "DomainsResult", "PARTS", "config_for", "build",
           "baseline_widths", "depth_models"]

CLASSIFICATION = ("digits", "japanese_vowels", "basic_motions")
#: steps per token: digits arrive as 16 tokens of 2x2 pixels; BasicMotions' 100 steps become 10 tokens of 1 s
TIME_PATCH = {"digits": 1, "japanese_vowels": 1, "basic_motions": 10}
#: series -> (context steps, steps per token): one to two seasons of context, 12 or 13 tokens
FORECAST = {"sunspots": (144, 12), "co2": (104, 8), "airline": (24, 2)}
CVKAN_NAME, Z0, R, C = "CV-KAN", "Z0 (no blocks)", "R (real Transformer)", "C (complex Transformer)"
CVKAN_REL = "CV-KAN, relative to last value"
CVKAN_ATTN = "CV-KAN, attention pooling"
CVKAN_REL_ATTN = "CV-KAN, relative to last value, attention pooling"
LOGREG_RAW, LOGREG_SUMMARY = "logistic, flattened input", "logistic, per-channel summaries"


class RelativeToLast(nn.Module):
    """Forecast the change from the context's last value: ``inner(x - x[:, -1:]) + x[:, -1]``,
    ``(B, L, C) -> (B, H * C)`` (the level-free input of RevIN-style forecasters, Kim et al. 2022).
    The CV-KAN's head reads ``LayerNorm(|pooled|)``, which discards a window's overall level."""

    def __init__(self, inner: nn.Module, horizon: int):
        super().__init__()
        validate.positive_int("horizon", horizon)
        self.inner, self.horizon = inner, horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:, :]
        return self.inner(x - last) + last.expand(-1, self.horizon, -1).reshape(len(x), -1)


class Tokenize(nn.Module):
    """``(B, T, C)`` real -> ``inner((B, T / p, p C [+ T / p]))``: patches of ``p`` steps, with the
    token's one-hot index appended when ``positions`` (module docstring)."""

    def __init__(self, inner: nn.Module, n_steps: int, patch: int = 1, positions: bool = True):
        super().__init__()
        validate.positive_int("n_steps", n_steps)
        validate.positive_int("patch", patch)
        if n_steps % patch:
            raise ValueError(f"patch={patch} must divide n_steps={n_steps}")
        self.inner, self.n_steps, self.patch, self.positions = inner, n_steps, patch, bool(positions)
        self.register_buffer("eye", torch.eye(n_steps // patch), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.n_steps or x.is_complex():
            raise ValueError(f"Tokenize expects real (B, {self.n_steps}, C), got dtype {x.dtype} and shape {tuple(x.shape)}")
        b, t, c = x.shape
        x = x.reshape(b, t // self.patch, self.patch * c)
        if self.positions:
            x = torch.cat([x, self.eye.to(x.dtype).expand(b, -1, -1)], dim=-1)
        return self.inner(x)


@dataclass(frozen=True)
class DomainsConfig:
    """Every size of the chapter; :func:`config_for` is the one place they depend on the budget.

    ``steps``: AdamW steps per classification fit (epochs = ceil(steps / batches per epoch));
    ``forecast_steps`` likewise for the forecasters; ``depths`` the depth-width sweep on
    ``depth_datasets`` (the CV-KAN's own depth ``n_blocks`` must be among them);
    ``pooling_datasets`` the data sets (among ``datasets``) that also train the CV-KAN with
    attention pooling, ``pooling_series`` the same for the relative forecaster on every series;
    ``forecast_transformers`` adds the R (and, with ``with_c``, C) forecasters."""

    datasets: tuple = CLASSIFICATION
    series: tuple = domains.SERIES
    n_seeds: int = 3
    d: int = 32
    hidden: int = 128
    n_blocks: int = 3
    steps: int = 250
    forecast_steps: int = 200
    batch_size: int = 32
    lr: float = 2e-3
    horizon: int = 12
    baseline_heads: int = 4
    baseline_layers: int = 1
    with_c: bool = True
    depths: tuple = (1, 2, 3, 6)
    depth_datasets: tuple = ("digits",)
    pooling_datasets: tuple = CLASSIFICATION
    pooling_series: bool = True
    forecast_transformers: bool = True

    def __post_init__(self):
        for name in ("d", "hidden", "n_blocks", "steps", "forecast_steps", "batch_size", "horizon", "baseline_heads", "baseline_layers"):
            validate.positive_int(name, getattr(self, name))
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for a paired verdict, got {self.n_seeds}")
        for name in self.datasets + self.depth_datasets + self.pooling_datasets:
            validate.choice("dataset", name, CLASSIFICATION)
        for name in self.series:
            validate.choice("series", name, domains.SERIES)
        for key in ("depth_datasets", "pooling_datasets"):
            if not set(getattr(self, key)) <= set(self.datasets):
                raise ValueError(f"{key} {getattr(self, key)} must be among datasets {self.datasets}")
        if self.depths and (self.n_blocks not in self.depths or min(self.depths) < 1):
            raise ValueError(f"depths {self.depths} must be >= 1 and hold n_blocks={self.n_blocks}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


PARTS = ("all", "classification", "forecasting")


def config_for(budget: str | None = None, part: str = "all") -> DomainsConfig:
    """quick: CI on two CPU cores (3 seeds, MLP width 64, 80 / 60 steps of batch 32, no C); full: one GPU
    (5 seeds, the seed's width 128, 250 / 200 steps of batch 64, with C).

    ``part``: ``"all"`` is chapter 15 as first published (every data set and series, no attention
    pooling, no R / C forecasters); ``"classification"`` the data sets only, with attention pooling
    (quick: on digits only), for chapter 15; ``"forecasting"`` the series only, with attention
    pooling and the R / C forecasters, for chapter 18 (the two halves fit one GPU call each)."""
    validate.choice("part", part, PARTS)
    extra = {"all": dict(pooling_datasets=(), pooling_series=False, forecast_transformers=False),
             "classification": dict(series=(), pooling_series=False, forecast_transformers=False),
             "forecasting": dict(datasets=(), depths=(), depth_datasets=(), pooling_datasets=())}[part]
    quick = DomainsConfig(with_c=False, hidden=64, steps=80, forecast_steps=60, **{"pooling_datasets": ("digits",), **extra})
    full = DomainsConfig(n_seeds=5, steps=250, forecast_steps=200, batch_size=64, **extra)
    return runtime.sized(quick=quick, full=full, budget_name=budget)


class DomainsResult(NormsResult):
    """``runs``: one dict per (task, model, seed): task, model, seed, n_params and accuracy
    (classification, a fraction) or mse, mae (forecasting, original units); trained models
    also hold ``curve`` (per-epoch test accuracy or standardized test MSE) and ``hidden``
    (the MLP width, depth runs). ``values(task, model, metric)`` orders by seed."""


def _cvkan(cfg, f, k, n_tokens, n_blocks, hidden, head_hidden=0, pooling="mean"):
    return CVKAN(cfg.d, k, in_features=f + n_tokens, n_blocks=n_blocks, hidden=hidden, head_hidden=head_hidden, head_norm=n_blocks > 0, pooling=pooling)


def build(cfg: DomainsConfig, name: str, n_steps: int, channels: int, out_dim: int, patch: int, widths: dict, hidden: int | None = None, n_blocks: int | None = None,
          pooling: str | None = None) -> nn.Module:
    """The model ``name`` for input ``(B, n_steps, channels)`` and ``out_dim`` outputs, wrapped in
    :class:`Tokenize`; ``widths`` from :func:`baseline_widths` (``hidden``/``n_blocks`` override
    the CV-KAN's, for the depth sweep). ``pooling`` (one of ``models.POOLINGS``) overrides the
    CV-KAN's: ``"mean"`` for :data:`CVKAN_NAME`, ``"attention"`` for :data:`CVKAN_ATTN`."""
    f, n = patch * channels, n_steps // patch
    if pooling is not None:
        validate.choice("pooling", pooling, POOLINGS)
    if name in (CVKAN_NAME, CVKAN_ATTN):
        pool = pooling or ("attention" if name == CVKAN_ATTN else "mean")
        inner = _cvkan(cfg, f, out_dim, n, cfg.n_blocks if n_blocks is None else n_blocks, cfg.hidden if hidden is None else hidden, pooling=pool)
        return Tokenize(inner, n_steps, patch)
    if name == Z0:
        return Tokenize(_cvkan(cfg, f, out_dim, n, 0, cfg.hidden, widths["Z0"]), n_steps, patch)
    h = cfg.baseline_heads
    if name == R:
        return Tokenize(RealTransformer(f, h * widths["R"], h, cfg.baseline_layers, out_dim), n_steps, patch, positions=False)
    if name == C:
        return Tokenize(ComplexTransformer(f, h * widths["C"], h, cfg.baseline_layers, out_dim), n_steps, patch, positions=False)
    raise ValueError(f"unknown model {name!r}; expected one of {(CVKAN_NAME, CVKAN_ATTN, Z0, R, C)}")


def baseline_widths(cfg: DomainsConfig, n_steps: int, channels: int, out_dim: int, patch: int) -> dict:
    """``{"target": CV-KAN parameters, "Z0": head width, "R", "C": per-head widths}``, each within
    +-5 % (C only when ``cfg.with_c``)."""
    target = n_parameters(build(cfg, CVKAN_NAME, n_steps, channels, out_dim, patch, {}))
    out = {"target": target}
    for key, name, hi in (("Z0", Z0, 4 * target), ("R", R, 256)) + ((("C", C, 256),) if cfg.with_c else ()):
        out[key] = width_for_params(lambda w: build(cfg, name, n_steps, channels, out_dim, patch, {key: w}), target, 1, hi, tol=0.05)
    return out


def depth_models(cfg: DomainsConfig, n_steps: int, channels: int, out_dim: int, patch: int) -> dict:
    """``{n_blocks: MLP width}`` giving every depth of ``cfg.depths`` the ``cfg.n_blocks``-block
    CV-KAN's parameter count +-5 % (the CV-KAN's own depth keeps ``cfg.hidden``)."""
    target = n_parameters(build(cfg, CVKAN_NAME, n_steps, channels, out_dim, patch, {}))
    return {L: cfg.hidden if L == cfg.n_blocks else width_for_params(
        lambda w, L=L: build(cfg, CVKAN_NAME, n_steps, channels, out_dim, patch, {}, hidden=w, n_blocks=L), target, 2, 4096, tol=0.05)
        for L in cfg.depths}
