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
(chronological windows) with the CV-KAN, R and C; seasonal-naive, last-value and ridge errors on
the same test windows from :func:`baseline_errors`.

**Depth against width** (:func:`depth_models`): 1, 2, 3 and 6 blocks, the MLP width set by
``width_for_params`` so each has the 3-block model's parameter count +-5 %.
**Pooling** (seed 003's pooling table on real data): the CV-KAN with attention pooling
(:data:`CVKAN_ATTN`) on ``cfg.pooling_datasets``, paired by seed with the mean-pooled CV-KAN.

Tables and verdicts: :mod:`spectral_manifolds.experiments.cvkan_domains_tables` and
:mod:`spectral_manifolds.experiments.cvkan_domains_pooling`. Code layout: models and
configuration in :mod:`~spectral_manifolds.experiments.cvkan_domains_models`, forecasting in
:mod:`~spectral_manifolds.experiments.cvkan_domains_forecast`; this module runs the
classification and re-exports both.
"""

from __future__ import annotations

import dataclasses
import time

from spectral_manifolds import report, runtime, validate
from spectral_manifolds.cvkan.train import train_classifier
from spectral_manifolds.data import domains
from spectral_manifolds.experiments.cvkan_aggregation import SEED_POOLING
from spectral_manifolds.experiments.cvkan_domains_forecast import (
    FORECAST_BASELINES, baseline_errors, epochs_for_steps, forecast_models, forecast_runs, forecast_widths,
)
from spectral_manifolds.experiments.cvkan_domains_models import (
    C, CLASSIFICATION, CVKAN_ATTN, CVKAN_NAME, CVKAN_REL, CVKAN_REL_ATTN, FORECAST, LOGREG_RAW, LOGREG_SUMMARY, R, TIME_PATCH, Z0,
    PARTS, DomainsConfig, DomainsResult, RelativeToLast, Tokenize, baseline_widths, build, config_for, depth_models,
)

__all__ = ["SEED_POOLING", "CLASSIFICATION", "TIME_PATCH", "FORECAST", "CVKAN_NAME", "CVKAN_REL", "CVKAN_ATTN", "CVKAN_REL_ATTN", "Z0", "R", "C",
           "LOGREG_RAW", "LOGREG_SUMMARY", "FORECAST_BASELINES", "Tokenize", "RelativeToLast", "DomainsConfig", "DomainsResult", "PARTS", "config_for", "load",
           "build", "baseline_widths", "depth_models", "forecast_widths", "forecast_models", "epochs_for_steps", "logistic_baselines", "baseline_errors",
           "classification_runs", "forecast_runs", "run"]

_LOADERS = {"digits": domains.load_digits_tokens, "japanese_vowels": domains.load_japanese_vowels, "basic_motions": domains.load_basic_motions}


def load(name: str):
    """``(X_train, y_train, X_test, y_test)`` of a classification data set (:data:`CLASSIFICATION`)."""
    validate.choice("dataset", name, CLASSIFICATION)
    return _LOADERS[name]()


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


def classification_runs(cfg: DomainsConfig, name: str, seeds, progress: bool = True) -> tuple[list, dict]:
    """Every model of the chapter on data set ``name`` for each seed, plus the depth sweep when
    ``name`` is in ``cfg.depth_datasets`` and attention pooling when it is in ``cfg.pooling_datasets``. Returns ``(rows, info)``; info: widths, depth widths, epochs."""
    data = load(name)
    x_tr, y_tr, x_te, y_te = data
    n_steps, channels, k, patch = x_tr.shape[1], x_tr.shape[2], int(y_tr.max()) + 1, TIME_PATCH[name]
    widths = baseline_widths(cfg, n_steps, channels, k, patch)
    depth = depth_models(cfg, n_steps, channels, k, patch) if name in cfg.depth_datasets else {}
    epochs = epochs_for_steps(cfg.steps, len(x_tr), cfg.batch_size)
    jobs = [(m, None, None) for m in (CVKAN_NAME, Z0, R) + ((C,) if cfg.with_c else ()) + ((CVKAN_ATTN,) if name in cfg.pooling_datasets else ())]
    jobs += [(f"CV-KAN L={L}", w, L) for L, w in depth.items() if L != cfg.n_blocks]
    rows = []
    bar = runtime.progress([(j, s) for j in jobs for s in seeds], desc=name, disable=not progress, leave=False)
    for (model, hidden, L), seed in bar:
        mname = CVKAN_NAME if L is not None else model  # CV-KAN L=... is the CV-KAN at another depth
        fit = train_classifier(x_tr, y_tr, X_test=x_te, y_test=y_te, seed=seed, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False,
                               model=lambda f, kk, mname=mname, hidden=hidden, L=L: build(cfg, mname, n_steps, channels, kk, patch, widths, hidden, L))
        rows.append({"task": name, "model": model, "seed": seed, "n_params": fit.n_params, "accuracy": fit.test["accuracy"],
                     "curve": [float(a) for a in fit.history["test_acc"]], "hidden": hidden or (cfg.hidden if model in (CVKAN_NAME, CVKAN_ATTN) else None)})
    bar.close()
    for model, (acc, n) in logistic_baselines(name, data).items():
        rows += [{"task": name, "model": model, "seed": s, "n_params": n, "accuracy": acc, "curve": None, "hidden": None} for s in seeds]
    info = {"widths": widths, "depth_widths": {str(L): w for L, w in depth.items()}, "epochs": epochs, "n_train": len(x_tr), "n_test": len(x_te),
            "tokens": n_steps // patch, "features": patch * channels, "classes": k}
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
