"""The learned methods of the imputation benchmark, trained once per (series, model seed)
and applied to every mask (issue 10, item 3: the model-seed axis).

A learned method (:data:`LEARNED`) trains on the series' **training part** only, scaled
by the Scaler of its observed training values and modelling the deviation from a local
level (``local_level=True``: a window's observed mean, or for the causal GRU the mean of
the last ``window`` observed steps; the ManifoldFormer always does this), so that a trend
that leaves the training range (CO2) does not leave the networks' range (windows, self-supervised masking: see
:mod:`spectral_manifolds.imputation.learned`), once per model seed; the trained weights
then fill each masked test part (no retraining on the test part, so a mask seed costs
an inference, not a fit). The ManifoldFormer's model seeds train together in one
vmapped program, forward and backward models with them
(:func:`spectral_manifolds.imputation.manifoldformer_method.fit`): 'manifoldformer'
uses the forward model's rollout, 'manifoldformer_bidir' the cross-fade of both.

:func:`fit_all` returns, per method, a ``fill_many(xs)`` that fills a list of series (every
mask of a test part) with every model seed's weights in one batched pass per seed
(:meth:`spectral_manifolds.imputation.learned.Fitted.fill_many`,
:meth:`~spectral_manifolds.imputation.manifoldformer_method.MFImputer.fill_both_many`),
the parameter count and the fit seconds per seed.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.imputation import learned, manifoldformer_method, pypots_methods

__all__ = ["LEARNED", "MF", "fit_all", "groups", "learned_rows", "learned_job", "worker_init", "settings"]

LEARNED = ("gru", "manifoldformer", "bigru", "saits", "brits", "manifoldformer_bidir")
MF = ("manifoldformer", "manifoldformer_bidir")
#: The order in which :func:`groups` hands out jobs: the costliest fits first (measured on
#: the H200: BRITS, then the GRU, the ManifoldFormer pair, SAITS, the biGRU), so that a
#: pool of processes ends at about the same time.
_COST_ORDER = ("brits", "gru", "manifoldformer", "saits", "bigru")


def fit_all(train: np.ndarray, methods, model_seeds, options: dict | None = None) -> dict:
    """Train every learned method of ``methods`` on ``train`` ((T,) or (T, C), scaled or
    not), once per model seed.

    Args:
        options: method -> keyword options of its ``fit`` (epochs, batch_size, window, ...).

    Returns:
        ``{method: {"fill_many": f, "n_params": int, "fit_seconds": [per seed]}}``;
        ``f(xs)`` takes a list of series of one shape (x's units) and returns, per model
        seed, the list of their filled copies (observed entries unchanged).
    """
    options = options or {}
    seeds = tuple(int(s) for s in model_seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"model_seeds must be distinct integers, got {model_seeds!r}")
    out: dict = {}
    for method in methods:
        validate.choice("method", method, LEARNED)
        if method in MF:
            continue
        fits = []
        for s in seeds:
            opts = {"local_level": True, **options.get(method, {})}
            fit = learned.fit if method in ("gru", "bigru") else pypots_methods.fit
            fits.append(fit(method, train, seed=s, **opts))
        out[method] = {"fill_many": lambda xs, fits=fits: [f.fill_many(xs) for f in fits], "n_params": fits[0].n_params,
                       "fit_seconds": [f.fit_seconds for f in fits]}
    wanted = [m for m in MF if m in methods]
    if wanted:
        opts = dict(options.get("manifoldformer", {}))
        bi_wanted = "manifoldformer_bidir" in wanted
        start = time.perf_counter()
        imp = manifoldformer_method.fit(train, seeds, bidirectional=bi_wanted, **opts)
        per_seed = (time.perf_counter() - start) / len(seeds)
        n = manifoldformer_method.parameter_count(1 if np.ndim(train) == 1 else np.shape(train)[1], imp.window)
        cache: dict = {}

        def many(bidirectional: bool) -> Callable:
            def fill_many(xs):
                if cache.get("xs") is not xs:  # both methods' fills of one list of series: one set of rollouts
                    cache.update(xs=xs, fills=imp.fill_both_many(xs, bidirectional=bi_wanted))
                per_x = cache["fills"][1 if bidirectional else 0]  # per series: (seeds, ...)
                return [[f[i] for f in per_x] for i in range(len(seeds))]

            return fill_many

        for m in wanted:
            bi = m == "manifoldformer_bidir"
            # the pair's training time is shared: each method is charged the seconds of the models it uses
            secs = per_seed if bi or not bi_wanted else per_seed / 2
            out[m] = {"fill_many": many(bi), "n_params": n * (2 if bi else 1), "fit_seconds": [secs] * len(seeds)}
    return out


def settings(options: dict | None = None, budget: str | None = None, methods=LEARNED) -> list[dict]:
    """Per learned method of ``methods`` (the two ManifoldFormers as one row): the epochs,
    windows per batch (at most; capped at the windows there are), step size and window
    length its ``fit`` gets from ``options`` (the config's ``learned_options``), else the
    fit's defaults for ``budget``: the sizes a chapter prints instead of quoting them."""
    import inspect

    options = options or {}
    fits = {"gru": (learned.fit, learned._EPOCHS), "bigru": (learned.fit, learned._EPOCHS),
            "saits": (pypots_methods.fit, pypots_methods._EPOCHS), "brits": (pypots_methods.fit, pypots_methods._EPOCHS),
            "manifoldformer": (manifoldformer_method.fit, manifoldformer_method._EPOCHS)}
    rows = []
    for method in dict.fromkeys("manifoldformer" if m in MF else m for m in methods):
        fn, table = fits[method]
        defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not inspect.Parameter.empty}
        opts = {**defaults, **options.get(method, {})}
        rows.append({"method": "manifoldformer (both)" if method == "manifoldformer" else method,
                     "epochs": learned.epochs_for(method, opts.get("epochs"), budget, table),
                     "batch (windows)": opts["batch_size"], "step size": opts["lr"], "window": opts["window"]})
    return rows


def groups(methods) -> list[tuple[str, ...]]:
    """The learned methods of ``methods`` as the jobs that train them: one per method,
    the two ManifoldFormers as one job (one vmapped program trains both), costliest first."""
    chosen = [m for m in methods if m in LEARNED]
    out = [tuple(m for m in MF if m in chosen) if m == "manifoldformer" else (m,) for m in _COST_ORDER]
    return [g for g in out if set(g) & set(chosen)]


def learned_rows(data, scaler, jobs, fitted: dict, model_seeds) -> list[dict]:
    """Rows of every fitted method on every mask of ``jobs`` ([(key, mask)]): per model
    seed, all masks of the series in one batched fill; fit seconds plus the fill's share."""
    from spectral_manifolds.experiments.imputation_benchmark_classical import scores
    from spectral_manifolds.imputation import CAUSAL

    hidden = [scaler.transform(np.where(mask, np.nan, data.test)) for _, mask in jobs]
    rows = []
    for method, f in fitted.items():
        t0 = time.perf_counter()
        fills = f["fill_many"](hidden)  # per model seed: one fill per mask
        per_mask = (time.perf_counter() - t0) / (len(jobs) * len(model_seeds))
        for ms, by_mask, secs in zip(model_seeds, fills, f["fit_seconds"]):
            for (key, mask), fill in zip(jobs, by_mask):
                out = scores(data.truth, scaler.inverse(fill), mask, secs + per_mask)
                rows.append({**key, "method": method, "model_seed": int(ms), "causal": method in CAUSAL, **out})
    return rows


def learned_job(args) -> tuple[list[dict], dict]:
    """One job of :func:`groups` on one series, in this process or a pool's:
    ``args = (data, scaler, train, jobs, methods, model_seeds, options)`` with ``train``
    the scaled training steps. Returns ``(rows, {method: parameter count})``."""
    data, scaler, train, jobs, methods, model_seeds, options = args
    fitted = fit_all(train, methods, model_seeds, options)
    return learned_rows(data, scaler, jobs, fitted, model_seeds), {m: f["n_params"] for m, f in fitted.items()}


def worker_init(torch_threads: int) -> None:
    """Initializer of a pool process that trains learned methods beside others on one GPU:
    JAX allocates GPU memory as it needs it (its default takes 75 % of the GPU at the
    first use, which would starve the other processes) and torch uses ``torch_threads``
    CPU threads."""
    import os

    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    import torch

    torch.set_num_threads(int(torch_threads))
