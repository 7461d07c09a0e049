"""Where the imputation benchmark's time goes (issue 10, item 3; the brief's "speed is part of the product").

:func:`part_times` times, on one series and in one run, each part that
:func:`~spectral_manifolds.experiments.imputation_benchmark.run` repeats, once each at the
configuration's sizes:

* every learned method's fit for one model seed (the ManifoldFormers: all model seeds in
  their one vmapped program, forward and backward models together), then its fill of
  every mask of the series in one batched pass;
* the structural model's estimation on one channel of the training part, and one filter +
  smoother pass on one mask (all channels);
* the model-free classical methods on one mask (:func:`classical_job`).

Each row carries how many times the full run repeats that part on this series
(``count``), so ``seconds * count`` is the part's share of a serial run; the classical
rows run in ``config.workers`` processes. :func:`estimate` sums them per series. The rows
say which part to speed up before the benchmark is sized for one GPU call.
"""

from __future__ import annotations

import time

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.data import real_series
from spectral_manifolds.experiments import imputation_benchmark as ib
from spectral_manifolds.experiments import imputation_benchmark_classical as ibc
from spectral_manifolds.experiments import imputation_benchmark_data as bdata
from spectral_manifolds.experiments import imputation_benchmark_learned as ibl

__all__ = ["part_times", "estimate"]


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def part_times(series: str = "co2", config: ib.BenchmarkConfig | None = None, *, verbose: bool = False) -> list[dict]:
    """One row per timed part on ``series`` (module docstring): ``part``, ``method``,
    ``seconds`` (one repetition), ``count`` (repetitions in the full run of ``config``) and
    ``device`` (the torch device of the learned methods). ``verbose``: print each row as it is measured."""
    cfg = ib.config_for() if config is None else config
    validate.choice("series", series, cfg.series)
    data = bdata.load(series, train_fraction=cfg.train_fraction, synthetic_steps=cfg.synthetic_steps)
    scaler = real_series.Scaler.fit(data.train)
    methods = ("linear",) + tuple(m for m in cfg.methods if m != "linear")
    jobs, _ = ib._masks(series, data, cfg, methods)
    if not jobs:
        raise ValueError(f"no mask of {cfg.regimes} applies to {series!r}")
    key, mask = jobs[0]
    device = str(runtime.torch_device())
    rows: list[dict] = []

    def add(row: dict) -> None:
        row = {"series": series, **row, "total seconds": row["seconds"] * row["count"], "device": device}
        if verbose:
            print(f"{series}: {row['part']}, {row['method']}: {row['seconds']:.2f} s x {row['count']}", flush=True)
        rows.append(row)
    train = data.train if cfg.train_steps is None else data.train[-cfg.train_steps:]
    z_train = scaler.transform(train)
    hidden = [scaler.transform(np.where(m, np.nan, data.test)) for _, m in jobs]
    learned = [m for m in methods if m in ibl.LEARNED and m not in ibl.MF]
    for m in learned:
        fitted, secs = _timed(ibl.fit_all, z_train, [m], cfg.model_seeds[:1], cfg.learned_options)
        add({"part": "fit (one model seed)", "method": m, "seconds": secs, "count": len(cfg.model_seeds)})
        _, secs = _timed(fitted[m]["fill_many"], hidden)
        add({"part": "fill every mask", "method": m, "seconds": secs, "count": len(cfg.model_seeds)})
    mf = [m for m in methods if m in ibl.MF]
    if mf:
        fitted, secs = _timed(ibl.fit_all, z_train, mf, cfg.model_seeds, cfg.learned_options)
        add({"part": "fit (all model seeds at once)", "method": " + ".join(mf), "seconds": secs, "count": 1})
        _, secs = _timed(fitted[mf[0]]["fill_many"], hidden)
        add({"part": "fill every mask", "method": " + ".join(mf), "seconds": secs, "count": 1})
    structural = [m for m in methods if m in ibc.STRUCTURAL]
    if structural:
        z = z_train[:, None] if z_train.ndim == 1 else z_train
        opts = ibc.method_options("state_space", series, cfg.harmonics[series])
        fit, secs = _timed(ibc.structural_fit_job, (z[:, 0], opts))
        add({"part": "structural estimation (one channel)", "method": "kalman + state_space",
                     "seconds": secs, "count": z.shape[1]})
        fits = [fit] + [ibc.structural_fit_job((z[:, c], opts)) for c in range(1, z.shape[1])]
        stacked = ibc.statespace.StructuralFit.stack(fits)
        _, secs = _timed(ibc.structural_job, (key, data, mask, scaler, stacked, structural))
        add({"part": "structural pass (one mask)", "method": "kalman + state_space", "seconds": secs,
                     "count": len(jobs)})
    simple = [m for m in methods if m not in ibl.LEARNED and m not in ibc.STRUCTURAL]
    _, secs = _timed(ibc.classical_job, (key, data, mask, scaler, simple, cfg.harmonics[series]))
    add({"part": "model-free methods (one mask)", "method": ", ".join(simple), "seconds": secs,
                 "count": len(jobs)})
    return rows


def estimate(rows: list[dict], workers: int = 1) -> dict:
    """``{series: seconds}``: the serial learned parts plus the classical parts spread over
    ``workers`` processes (an estimate from :func:`part_times`' rows, not a measurement)."""
    validate.positive_int("workers", workers)
    out: dict = {}
    for r in rows:
        classical = r["part"].startswith(("structural", "model-free"))
        out[r["series"]] = out.get(r["series"], 0.0) + r["total seconds"] / (workers if classical else 1)
    return out


if __name__ == "__main__":  # python -m spectral_manifolds.experiments.imputation_benchmark_timing [series ...]
    import sys

    import pandas as pd

    cfg = ib.config_for()
    all_rows = [r for s in (sys.argv[1:] or cfg.series) for r in part_times(s, cfg, verbose=True)]
    print(pd.DataFrame(all_rows).round(2).to_string(index=False))
    print({s: round(v) for s, v in estimate(all_rows, cfg.workers).items()}, "seconds (estimate)")
