"""Chapter 15's forecasting runs (split from :mod:`spectral_manifolds.experiments.cvkan_domains`,
which re-exports every name here).

:func:`forecast_runs` trains, through :func:`~spectral_manifolds.cvkan.forecast.train_forecaster`
(chronological windows, per-channel standardization with training statistics, AdamW), on
every series of the configuration and every seed:

* the CV-KAN (:data:`CVKAN_NAME`) and the same model predicting the change from the
  context's last value (:data:`CVKAN_REL`, :class:`RelativeToLast`);
* with ``cfg.pooling_series``, the relative CV-KAN with attention pooling
  (:data:`CVKAN_REL_ATTN`). The forecaster *does* pool: its head is
  ``Linear(LayerNorm(|pool(Z)|))`` with ``out_dim = H C``, so the switch of the seed's
  "Timeseries (ETTh1) 0 %" row is the same ``pooling`` argument as for classification
  (seed 003, "2026-01-20 Attention Pooling Marginally Better for Classification", which
  says instead that its forecaster "outputs sequences rather than pooled representations");
* with ``cfg.forecast_transformers``, the baselines R (:class:`~spectral_manifolds.cvkan.baselines.RealTransformer`,
  real input) and, with ``cfg.with_c``, C (:class:`~spectral_manifolds.cvkan.baselines.ComplexTransformer`),
  each with ``out_dim = H C`` and the plain CV-KAN forecaster's parameter count +-5 %
  (:func:`forecast_widths`), the same context, patches, standardization, steps and seeds;

and, once, seasonal naive, last value and ridge on the same test windows (:func:`baseline_errors`).
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import runtime
from spectral_manifolds.cvkan.forecast import chronological_windows, last_value, ridge_forecast, seasonal_naive, train_forecaster
from spectral_manifolds.data import domains
from spectral_manifolds.experiments.cvkan_domains_models import (
    C, CVKAN_ATTN, CVKAN_NAME, CVKAN_REL, CVKAN_REL_ATTN, FORECAST, R, DomainsConfig, RelativeToLast, baseline_widths, build,
)

__all__ = ["FORECAST_BASELINES", "forecast_widths", "forecast_models", "baseline_errors", "forecast_runs", "epochs_for_steps"]

FORECAST_BASELINES = ("seasonal naive", "last value", "ridge")


def epochs_for_steps(steps: int, n_train: int, batch_size: int) -> int:
    """Epochs giving at least ``steps`` AdamW steps: ``ceil(steps / ceil(n_train / batch_size))``."""
    return max(1, -(-steps // -(-n_train // batch_size)))


def forecast_widths(cfg: DomainsConfig, name: str, channels: int = 1) -> dict:
    """:func:`baseline_widths` for the forecaster of series ``name``: input ``(B, context, channels)``,
    ``out_dim = horizon * channels``; ``"target"`` is the plain CV-KAN forecaster's parameter count."""
    context, patch = FORECAST[name]
    return baseline_widths(cfg, context, channels, cfg.horizon * channels, patch)


def forecast_models(cfg: DomainsConfig, name: str, widths: dict | None = None) -> dict:
    """``{model name: callable(in_features=C, out_dim=H C) -> nn.Module}`` for series ``name``:
    the models of the module docstring that ``cfg`` switches on (``widths`` from
    :func:`forecast_widths`, needed when ``cfg.forecast_transformers``)."""
    context, patch = FORECAST[name]
    make = {CVKAN_NAME: lambda f, out: build(cfg, CVKAN_NAME, context, f, out, patch, {}),
            CVKAN_REL: lambda f, out: RelativeToLast(build(cfg, CVKAN_NAME, context, f, out, patch, {}), cfg.horizon)}
    if cfg.pooling_series:
        make[CVKAN_REL_ATTN] = lambda f, out: RelativeToLast(build(cfg, CVKAN_ATTN, context, f, out, patch, {}), cfg.horizon)
    if cfg.forecast_transformers:
        if widths is None:
            raise ValueError("forecast_models needs widths (forecast_widths) when cfg.forecast_transformers")
        for model in (R,) + ((C,) if cfg.with_c else ()):
            make[model] = lambda f, out, model=model: build(cfg, model, context, f, out, patch, widths)
    return make


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


def forecast_runs(cfg: DomainsConfig, name: str, seeds, progress: bool = True) -> tuple[list, dict]:
    """Every forecaster of :func:`forecast_models` on series ``name`` for each seed, and the three
    baselines (once, repeated per seed for pairing). Returns ``(rows, info)``."""
    s = domains.load_series(name)
    context, patch = FORECAST[name]
    tr, te, cut = chronological_windows(len(s.values), context, cfg.horizon)
    epochs = epochs_for_steps(cfg.forecast_steps, len(tr), cfg.batch_size)
    widths = forecast_widths(cfg, name) if cfg.forecast_transformers else {}
    make = forecast_models(cfg, name, widths)
    rows, reported = [], {}
    bar = runtime.progress([(m, q) for m in make for q in seeds], desc=name, disable=not progress, leave=False)
    for model, seed in bar:
        fit = train_forecaster(s.values, cfg.horizon, context=context, season=s.season, seed=seed, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False,
                               model=make[model])
        rows.append({"task": name, "model": model, "seed": seed, "n_params": fit.n_params, "mse": fit.test["mse"], "mae": fit.test["mae"],
                     "curve": [float(v) for v in fit.history["test_loss"]], "hidden": cfg.hidden if model.startswith(CVKAN_NAME) else None})
        reported = {"seasonal naive": fit.test["seasonal_naive_mse"], "last value": fit.test["last_value_mse"], "ridge": fit.test["linear_mse"]}
    bar.close()
    for model, err in baseline_errors(s.values, cfg.horizon, context, s.season).items():
        rows += [{"task": name, "model": model, "seed": q, "n_params": 0 if model != "ridge" else (context + 1) * cfg.horizon, "mse": err["mse"], "mae": err["mae"],
                  "curve": None, "hidden": None} for q in seeds]
    info = {"context": context, "patch": patch, "season": s.season, "epochs": epochs, "train_windows": len(tr), "test_windows": len(te), "cut": cut,
            "units": s.units, "step": s.step, "train_std": float(s.values[:cut].std()), "n_filled": s.n_filled, "length": len(s.values), "train_forecaster_mse": reported,
            "widths": widths}
    return rows, info
