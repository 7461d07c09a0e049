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

:func:`fit_all` returns, per method, one ``fill(x) -> filled`` per model seed, the
parameter count and the fit seconds per seed.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.imputation import learned, manifoldformer_method, pypots_methods

__all__ = ["LEARNED", "MF", "fit_all"]

LEARNED = ("gru", "manifoldformer", "bigru", "saits", "brits", "manifoldformer_bidir")
MF = ("manifoldformer", "manifoldformer_bidir")


def fit_all(train: np.ndarray, methods, model_seeds, options: dict | None = None) -> dict:
    """Train every learned method of ``methods`` on ``train`` ((T,) or (T, C), scaled or
    not), once per model seed.

    Args:
        options: method -> keyword options of its ``fit`` (epochs, batch_size, window, ...).

    Returns:
        ``{method: {"fills": [fill per seed], "n_params": int, "fit_seconds": [per seed]}}``;
        ``fill(x)`` takes and returns x's shape and units, observed entries unchanged.
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
            if method in ("gru", "bigru"):
                fits.append(learned.fit(method, train, seed=s, **opts))
            else:
                fits.append(pypots_methods.fit(method, train, seed=s, **opts))
        out[method] = {"fills": [f.fill for f in fits], "n_params": fits[0].n_params, "fit_seconds": [f.fit_seconds for f in fits]}
    wanted = [m for m in MF if m in methods]
    if wanted:
        opts = dict(options.get("manifoldformer", {}))
        start = time.perf_counter()
        imp = manifoldformer_method.fit(train, seeds, bidirectional="manifoldformer_bidir" in wanted, **opts)
        per_seed = (time.perf_counter() - start) / len(seeds)
        n = manifoldformer_method.parameter_count(1 if np.ndim(train) == 1 else np.shape(train)[1], imp.window)
        cache: dict = {}
        bi_wanted = "manifoldformer_bidir" in wanted

        def member(i: int, bidirectional: bool) -> Callable:
            def fill(x):
                if cache.get("x") is not x:  # every seed and both methods' fills of one series: one batched call
                    cache.update(x=x, fills=imp.fill_both(x, bidirectional=bi_wanted))
                return cache["fills"][1 if bidirectional else 0][i]

            return fill

        for m in wanted:
            bi = m == "manifoldformer_bidir"
            # the pair's training time is shared: each method is charged the seconds of the models it uses
            secs = per_seed if bi or "manifoldformer_bidir" not in wanted else per_seed / 2
            out[m] = {"fills": [member(i, bi) for i in range(len(seeds))], "n_params": n * (2 if bi else 1), "fit_seconds": [secs] * len(seeds)}
    return out
