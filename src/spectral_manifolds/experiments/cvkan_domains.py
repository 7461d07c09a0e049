"""Chapter 15's runs: the CV-KAN on real data that ships offline, beside baselines, and depth
against width at a fixed parameter count (issue 8, Part III, "Chapters" item 6, first half).

Seed 003_65b12435998d9bd4.txt reports the model on three domains ("2026-01-20 Attention
Pooling Marginally Better for Classification": CIFAR-10 46.8 / 48.2 %, Speech Commands
29.7 / 30.5 %, ETTh1 0.92 MSE; :data:`SEED_POOLING`, one run each) and asks, under "Open
Research Questions / Depth vs Width": "Width seems to give better results than depth for
parameter-matched models." None of its data sets loads offline; this module runs the
same model on the ones that do (:mod:`spectral_manifolds.data.domains`).

**Tokens.** The CV-KAN has no positional encoding: with broadcast blocks and mean pooling
it is a function of the *set* of tokens, and a shuffled image would get the same label.
:class:`Tokenize` therefore (1) cuts ``(B, T, C)`` into ``T / p`` patches of ``p``
consecutive steps (``p C`` features) and (2) appends each token's one-hot index, so the
model's own linear embedding ``Re + i Im`` of ``Linear(F, 2d)`` learns a position
embedding (a per-token complex offset). R and C have positions of their own and get the
patches only.

**Models** (:func:`build`), all with ``d = 32`` complex channels and mean pooling: the
seed's flat CV-KAN (3 blocks, MLP width 128, centre norm, mean aggregation); **Z0** (no
block, widened head, no head LayerNorm), **R** (real Transformer) and **C** (torchcvnn
complex Transformer), each at the CV-KAN's parameter count +-5 %; and two closed-form
classical baselines: logistic regression on the flattened standardized input and, for
the time series, on per-channel summaries (:func:`logistic_baselines`). Every fit runs
the same number of AdamW steps. Seed ``s`` initializes and orders the batches; the splits
are fixed (digits: a seeded stratified split; aeon: its own train / test split).

**Forecasting** (:func:`forecast_runs`): :func:`~spectral_manifolds.cvkan.forecast.train_forecaster`
(chronological windows) with the CV-KAN; seasonal-naive, last-value and ridge errors on
the same test windows from :func:`baseline_errors`.

**Depth against width** (:func:`depth_models`): 1, 2, 3 and 6 blocks, the MLP width set by
``width_for_params`` so each has the 3-block model's parameter count +-5 %.
Tables and verdicts: :mod:`spectral_manifolds.experiments.cvkan_domains_tables`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from spectral_manifolds import report, runtime, validate
from spectral_manifolds.cvkan.baselines import ComplexTransformer, RealTransformer, width_for_params
from spectral_manifolds.cvkan.forecast import chronological_windows, last_value, ridge_forecast, seasonal_naive, train_forecaster
from spectral_manifolds.cvkan.models import CVKAN, n_parameters
from spectral_manifolds.cvkan.train import train_classifier
from spectral_manifolds.data import domains
from spectral_manifolds.experiments.cvkan_aggregation import SEED_POOLING
from spectral_manifolds.experiments.cvkan_norms import NormsResult

__all__ = ["SEED_POOLING", "CLASSIFICATION", "TIME_PATCH", "FORECAST", "CVKAN_NAME", "CVKAN_REL", "Z0", "R", "C", "LOGREG_RAW", "LOGREG_SUMMARY",
           "Tokenize", "RelativeToLast", "DomainsConfig", "DomainsResult", "config_for", "load", "build", "baseline_widths", "depth_models",
           "logistic_baselines", "baseline_errors", "classification_runs", "forecast_runs", "run"]

CLASSIFICATION = ("digits", "japanese_vowels", "basic_motions")
_LOADERS = {"digits": domains.load_digits_tokens, "japanese_vowels": domains.load_japanese_vowels, "basic_motions": domains.load_basic_motions}
#: steps per token: digits arrive as 16 tokens of 2x2 pixels; BasicMotions' 100 steps become 10 tokens of 1 s
TIME_PATCH = {"digits": 1, "japanese_vowels": 1, "basic_motions": 10}
#: series -> (context steps, steps per token): one to two seasons of context, 12 or 13 tokens
FORECAST = {"sunspots": (144, 12), "co2": (104, 8), "airline": (24, 2)}
CVKAN_NAME, Z0, R, C = "CV-KAN", "Z0 (no blocks)", "R (real Transformer)", "C (complex Transformer)"
CVKAN_REL = "CV-KAN, relative to last value"
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
    ``depth_datasets`` (the CV-KAN's own depth ``n_blocks`` must be among them)."""

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

    def __post_init__(self):
        for name in ("d", "hidden", "n_blocks", "steps", "forecast_steps", "batch_size", "horizon", "baseline_heads", "baseline_layers"):
            validate.positive_int(name, getattr(self, name))
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for a paired verdict, got {self.n_seeds}")
        for name in self.datasets + self.depth_datasets:
            validate.choice("dataset", name, CLASSIFICATION)
        for name in self.series:
            validate.choice("series", name, domains.SERIES)
        if not set(self.depth_datasets) <= set(self.datasets):
            raise ValueError(f"depth_datasets {self.depth_datasets} must be among datasets {self.datasets}")
        if self.depths and (self.n_blocks not in self.depths or min(self.depths) < 1):
            raise ValueError(f"depths {self.depths} must be >= 1 and hold n_blocks={self.n_blocks}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


def config_for(budget: str | None = None) -> DomainsConfig:
    """quick: CI on two CPU cores (3 seeds, MLP width 64, 80 / 60 steps of batch 32, no C); full: one GPU
    (5 seeds, the seed's width 128, 250 / 200 steps of batch 64, with C)."""
    quick = DomainsConfig(with_c=False, hidden=64, steps=80, forecast_steps=60)
    full = DomainsConfig(n_seeds=5, steps=250, forecast_steps=200, batch_size=64)
    return runtime.sized(quick=quick, full=full, budget_name=budget)


class DomainsResult(NormsResult):
    """``runs``: one dict per (task, model, seed): task, model, seed, n_params and accuracy
    (classification, a fraction) or mse, mae (forecasting, original units); trained models
    also hold ``curve`` (per-epoch test accuracy or standardized test MSE) and ``hidden``
    (the MLP width, depth runs). ``values(task, model, metric)`` orders by seed."""


def load(name: str):
    """``(X_train, y_train, X_test, y_test)`` of a classification data set (:data:`CLASSIFICATION`)."""
    validate.choice("dataset", name, CLASSIFICATION)
    return _LOADERS[name]()


def _cvkan(cfg, f, k, n_tokens, n_blocks, hidden, head_hidden=0):
    return CVKAN(cfg.d, k, in_features=f + n_tokens, n_blocks=n_blocks, hidden=hidden, head_hidden=head_hidden, head_norm=n_blocks > 0)


def build(cfg: DomainsConfig, name: str, n_steps: int, channels: int, out_dim: int, patch: int, widths: dict, hidden: int | None = None, n_blocks: int | None = None) -> nn.Module:
    """The model ``name`` for input ``(B, n_steps, channels)`` and ``out_dim`` outputs, wrapped in
    :class:`Tokenize`; ``widths`` from :func:`baseline_widths` (``hidden``/``n_blocks`` override
    the CV-KAN's, for the depth sweep)."""
    f, n = patch * channels, n_steps // patch
    if name == CVKAN_NAME:
        inner = _cvkan(cfg, f, out_dim, n, cfg.n_blocks if n_blocks is None else n_blocks, cfg.hidden if hidden is None else hidden)
        return Tokenize(inner, n_steps, patch)
    if name == Z0:
        return Tokenize(_cvkan(cfg, f, out_dim, n, 0, cfg.hidden, widths["Z0"]), n_steps, patch)
    h = cfg.baseline_heads
    if name == R:
        return Tokenize(RealTransformer(f, h * widths["R"], h, cfg.baseline_layers, out_dim), n_steps, patch, positions=False)
    if name == C:
        return Tokenize(ComplexTransformer(f, h * widths["C"], h, cfg.baseline_layers, out_dim), n_steps, patch, positions=False)
    raise ValueError(f"unknown model {name!r}; expected one of {(CVKAN_NAME, Z0, R, C)}")


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


def logistic_baselines(name: str, data) -> dict:
    """Test accuracy of L2 logistic regressions (scikit-learn, C = 1) on standardized features:
    the flattened input, and for the time series also :func:`~spectral_manifolds.data.domains.summary_features`.
    Deterministic (no seed). Returns ``{model name: (accuracy, parameters)}``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_tr, y_tr, x_te, y_te = data
    feats = {LOGREG_RAW: domains.flatten}
    if name != "digits":
        feats[LOGREG_SUMMARY] = domains.summary_features
    out = {}
    for model, fn in feats.items():
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(fn(x_tr), y_tr)
        lr = clf[-1]
        out[model] = (float(clf.score(fn(x_te), y_te)), int(lr.coef_.size + lr.intercept_.size))
    return out


def baseline_errors(values: np.ndarray, horizon: int, context: int, season: int, test_fraction: float = 0.2) -> dict:
    """MSE and MAE (original units) of seasonal naive, last value and ridge on the test windows
    that ``train_forecaster`` uses (same split, same standardization for ridge).
    Returns ``{name: {"mse": ., "mae": .}}``."""
    s = np.asarray(values, dtype=np.float64)[:, None]
    tr, te, cut = chronological_windows(len(s), context, horizon, test_fraction)
    mean, std = s[:cut].mean(0), s[:cut].std(0)
    idx = lambda starts: starts[:, None] + np.arange(context + horizon)
    wtr, wte = s[idx(tr)], s[idx(te)]
    ntr, nte = (wtr - mean) / std, (wte - mean) / std
    x, y = wte[:, :context], wte[:, context:]
    preds = {"seasonal naive": seasonal_naive(x, horizon, season), "last value": last_value(x, horizon),
             "ridge": ridge_forecast(ntr[:, :context], ntr[:, context:], nte[:, :context]) * std + mean}
    return {k: {"mse": float(np.mean((p - y) ** 2)), "mae": float(np.mean(np.abs(p - y)))} for k, p in preds.items()}


def _epochs(steps: int, n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(steps / math.ceil(n_train / batch_size)))


def classification_runs(cfg: DomainsConfig, name: str, seeds, progress: bool = True) -> tuple[list, dict]:
    """Every model of the chapter on data set ``name`` for each seed, plus the depth sweep when
    ``name`` is in ``cfg.depth_datasets``. Returns ``(rows, info)``; info: widths, depth widths, epochs."""
    data = load(name)
    x_tr, y_tr, x_te, y_te = data
    n_steps, channels, k, patch = x_tr.shape[1], x_tr.shape[2], int(y_tr.max()) + 1, TIME_PATCH[name]
    widths = baseline_widths(cfg, n_steps, channels, k, patch)
    depth = depth_models(cfg, n_steps, channels, k, patch) if name in cfg.depth_datasets else {}
    epochs = _epochs(cfg.steps, len(x_tr), cfg.batch_size)
    jobs = [(m, None, None) for m in (CVKAN_NAME, Z0, R) + ((C,) if cfg.with_c else ())]
    jobs += [(f"CV-KAN L={L}", w, L) for L, w in depth.items() if L != cfg.n_blocks]
    rows = []
    bar = runtime.progress([(j, s) for j in jobs for s in seeds], desc=name, disable=not progress, leave=False)
    for (model, hidden, L), seed in bar:
        mname = CVKAN_NAME if L is not None else model
        fit = train_classifier(x_tr, y_tr, X_test=x_te, y_test=y_te, seed=seed, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False,
                               model=lambda f, kk, mname=mname, hidden=hidden, L=L: build(cfg, mname, n_steps, channels, kk, patch, widths, hidden, L))
        rows.append({"task": name, "model": model, "seed": seed, "n_params": fit.n_params, "accuracy": fit.test["accuracy"],
                     "curve": [float(a) for a in fit.history["test_acc"]], "hidden": hidden or (cfg.hidden if model == CVKAN_NAME else None)})
    bar.close()
    for model, (acc, n) in logistic_baselines(name, data).items():
        rows += [{"task": name, "model": model, "seed": s, "n_params": n, "accuracy": acc, "curve": None, "hidden": None} for s in seeds]
    info = {"widths": widths, "depth_widths": {str(L): w for L, w in depth.items()}, "epochs": epochs, "n_train": len(x_tr), "n_test": len(x_te),
            "tokens": n_steps // patch, "features": patch * channels, "classes": k}
    return rows, info


def forecast_runs(cfg: DomainsConfig, name: str, seeds, progress: bool = True) -> tuple[list, dict]:
    """The CV-KAN forecaster on series ``name`` for each seed, and the three baselines (once,
    repeated per seed for pairing). Returns ``(rows, info)``."""
    s = domains.load_series(name)
    context, patch = FORECAST[name]
    tr, te, cut = chronological_windows(len(s.values), context, cfg.horizon)
    epochs = _epochs(cfg.forecast_steps, len(tr), cfg.batch_size)
    rows, reported = [], {}
    make = {CVKAN_NAME: lambda f, out: build(cfg, CVKAN_NAME, context, f, out, patch, {}),
            CVKAN_REL: lambda f, out: RelativeToLast(build(cfg, CVKAN_NAME, context, f, out, patch, {}), cfg.horizon)}
    bar = runtime.progress([(m, q) for m in make for q in seeds], desc=name, disable=not progress, leave=False)
    for model, seed in bar:
        fit = train_forecaster(s.values, cfg.horizon, context=context, season=s.season, seed=seed, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False,
                               model=make[model])
        rows.append({"task": name, "model": model, "seed": seed, "n_params": fit.n_params, "mse": fit.test["mse"], "mae": fit.test["mae"],
                     "curve": [float(v) for v in fit.history["test_loss"]], "hidden": cfg.hidden})
        reported = {"seasonal naive": fit.test["seasonal_naive_mse"], "last value": fit.test["last_value_mse"], "ridge": fit.test["linear_mse"]}
    bar.close()
    for model, err in baseline_errors(s.values, cfg.horizon, context, s.season).items():
        rows += [{"task": name, "model": model, "seed": q, "n_params": 0 if model != "ridge" else (context + 1) * cfg.horizon, "mse": err["mse"], "mae": err["mae"],
                  "curve": None, "hidden": None} for q in seeds]
    info = {"context": context, "patch": patch, "season": s.season, "epochs": epochs, "train_windows": len(tr), "test_windows": len(te), "cut": cut,
            "units": s.units, "step": s.step, "train_std": float(s.values[:cut].std()), "n_filled": s.n_filled, "length": len(s.values), "train_forecaster_mse": reported}
    return rows, info


def run(cfg: DomainsConfig | None = None, *, progress: bool = True) -> DomainsResult:
    """Every data set and series of ``cfg`` (default: the active budget's); JSON-able result."""
    cfg = config_for() if cfg is None else cfg
    t0 = time.perf_counter()
    seeds = report.seeds_for(cfg.n_seeds)
    runs, info = [], {}
    jobs = [(classification_runs, n) for n in cfg.datasets] + [(forecast_runs, n) for n in cfg.series]
    bar = runtime.progress(jobs, desc="data sets (all models x seeds)", disable=not progress)
    for fn, name in bar:
        bar.set_postfix_str(name)
        rows, info[name] = fn(cfg, name, seeds, progress=False)
        runs += rows
    bar.close()
    config = {**dataclasses.asdict(cfg), "device": str(runtime.torch_device()), "info": info}
    return DomainsResult(config, runs, time.perf_counter() - t0)
