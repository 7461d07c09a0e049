"""Evaluation of "the oscillator solved" (issue 10, item 2) on held-out samples.

Split from :mod:`spectral_manifolds.experiments.oscillator_solved` (which re-exports the
public names). :func:`evaluate` returns :data:`~spectral_manifolds.experiments.oscillator_solved_config.METRICS`:

* the seeds' oracle distance (:func:`spectral_manifolds.alignment.oracle_distance`; latent
  zero-padded to 21 dims) on all steps, on the steps ``>= eval_start`` (after one slowest
  beat of context), and of the amplitude-free read-out ``phase_latent(z)`` on those steps;
* the corrected metric (:mod:`spectral_manifolds.geometry_metric`): whitened distance (steps
  ``>= eval_start``), held-out probe R^2 in the fixed frame of ``references.canonical_oracle``
  (fitted on 128 training samples), the collapse monitor (centred variance);
* the clean next-step MSE (steps ``>= eval_start``) beside the oracle filter's
  (:mod:`~spectral_manifolds.experiments.oracle_filter`, the same steps), their ratio, the
  spectral (fidelity) loss of the forecast (the seeds' 0.04 target) and the rollout MSE.
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np
from flax import nnx

from spectral_manifolds import geometry_metric as G
from spectral_manifolds import runtime
from spectral_manifolds.alignment import oracle_distance
from spectral_manifolds.data.oscillators import OscillatorData, SeedTaskConfig
from spectral_manifolds.experiments import references as R
from spectral_manifolds.experiments.ladder.losses import fidelity_loss
from spectral_manifolds.experiments.oracle_filter import oracle_filter_forecast
from spectral_manifolds.experiments.oscillator_solved_config import Config, task_data
from spectral_manifolds.experiments.oscillator_solved_train import clean_signal, terms, train_seeds
from spectral_manifolds.orthogonal_dynamics import RolloutModel, n_params, phase_latent

__all__ = ["evaluate", "run_one", "run_seeds_together", "PHASE_KAPPA"]

PHASE_KAPPA = 0.2  # the gate of the amplitude-free read-out (orthogonal_dynamics.phase_latent)
N_PROBE = 128  # training samples that fit the probe


@nnx.jit
def _forward(model, x):
    return model.encode(x), model.predict_next(x)


_TERMS: dict[tuple, object] = {}  # jitted objective terms by Config.key()


def _terms_fn(cfg: Config):
    if cfg.key() not in _TERMS:
        _TERMS[cfg.key()] = nnx.jit(lambda m, x, yn, cl: terms(m, cfg, x, yn, cl))
    return _TERMS[cfg.key()]


def evaluate(model: RolloutModel, cfg: Config, test: OscillatorData, train_data: OscillatorData) -> dict:
    """Held-out metrics (module docstring). ``train_data`` fits the probe."""
    s0 = cfg.eval_start
    z, pred = (np.asarray(a) for a in _forward(model, jnp.asarray(test.x)))
    fit = train_data.subset(slice(0, min(N_PROBE, train_data.n_samples)))
    z_fit, _ = _forward(model, jnp.asarray(fit.x))
    d = test.oracle.shape[-1]
    zp, o = R.pad(z, d), test.oracle
    out = {"oracle_distance": float(oracle_distance(zp, o)),
           "oracle_distance_late": float(oracle_distance(zp[:, s0:], o[:, s0:])),
           "oracle_distance_phase": float(oracle_distance(R.pad(phase_latent(z[:, s0:], PHASE_KAPPA), d), o[:, s0:]))}
    out["whitened_distance"] = float(G.whitened_distance(z[:, s0:], o[:, s0:]))
    pool = SeedTaskConfig().freqs
    out["probe_r2"] = float(G.probe_r2(np.asarray(z_fit), R.canonical_oracle(fit, pool), z, R.canonical_oracle(test, pool)))
    out["centred_variance"] = float(G.centred_variance(z))
    out["next_step_mse"] = float(np.mean((pred[:, s0:] - test.y_next[:, s0:]) ** 2))
    filt = oracle_filter_forecast(test.x, test.t, pool, start=s0)
    out["oracle_filter_mse"] = float(np.mean((filt - test.y_next[:, s0:]) ** 2))
    out["mse_ratio"] = out["next_step_mse"] / out["oracle_filter_mse"]
    out["spectral_loss"] = float(fidelity_loss(jnp.asarray(pred), jnp.asarray(test.y_next)))
    t = _terms_fn(cfg)(model, jnp.asarray(test.x), jnp.asarray(test.y_next), jnp.asarray(clean_signal(test)))
    out["rollout_mse"] = float(t["rollout_mse"])
    return out


def run_seeds_together(cfg: Config, seeds: Sequence[int], data: tuple[OscillatorData, OscillatorData] | None = None,
                       *, progress: bool = False) -> list[dict]:
    """Train the seeds of ``cfg`` together (``train_seeds``) and evaluate each: :func:`evaluate`'s
    metrics plus ``n_params``, ``seconds`` (training all seeds and evaluating, shared),
    ``angles`` (learned plane angles, sorted, or ``None``) and ``final_objective``."""
    train_data, test = task_data(cfg) if data is None else data
    with runtime.Timer() as tm:
        models, hist = train_seeds(cfg, train_data, seeds, progress=progress)
        outs = [evaluate(m, cfg, test, train_data) for m in models]
    for i, (m, out) in enumerate(zip(models, outs)):
        out["n_params"] = n_params(m)
        out["seconds"] = tm.seconds
        out["final_objective"] = float(np.mean(hist["objective"][-10:, i]))
        out["angles"] = sorted(np.asarray(m.dynamics.angles[...]).tolist()) if cfg.dynamics == "planes" else None
    return outs


def run_one(cfg: Config, data: tuple[OscillatorData, OscillatorData] | None = None) -> dict:
    """Train and evaluate seed ``cfg.seed`` alone (:func:`run_seeds_together` with one seed)."""
    return run_seeds_together(cfg, [cfg.seed], data)[0]
