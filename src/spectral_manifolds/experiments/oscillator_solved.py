"""Issue 10, item 2, "The oscillator solved with a principled change": train, evaluate, ablate.

The model is :class:`spectral_manifolds.orthogonal_dynamics.RolloutModel`: a dilated causal
encoder (receptive field 256 > the slowest beat, 127.5 steps), a unit latent of even
dimension ``d`` evolved by one orthogonal map ``z_{t+1} = z_t exp(A)`` (learned rotating
2-planes) and a linear decoder, trained on the seeds' main task (seed 001_a78d46c299591382.txt,
sections 12-14; training draw seed 0, held-out draw ``test_seed``) with a multi-step latent
rollout, the seeds' fidelity loss kept as a term and the power entropy of the *centred*
latent. The module is split by concern; every public name is importable from here:

* :mod:`~spectral_manifolds.experiments.oscillator_solved_config` -- :class:`Config`,
  :func:`default_config`, :func:`variants` (one ablation per change), the targets;
* :mod:`~spectral_manifolds.experiments.oscillator_solved_train` -- the objective
  (:func:`terms`), :func:`train`, :func:`train_seeds` (the seeds of one config in one
  ``jax.vmap``-ed step);
* :mod:`~spectral_manifolds.experiments.oscillator_solved_eval` -- :func:`evaluate` on
  held-out samples, :func:`run_one`, :func:`run_seeds_together`;
* here -- :func:`run` (every variant over seeds, verdicts by ``report.compare``) and
  :func:`target_rows` (issue 10's targets, met or missed by how much).

Choices beyond the issue's list, each stated where it is made: the encoder's convolutions
are **linear** (``activation="linear"``; the task is a linear filtering problem -- a bank of
causal band-pass filters extracts each mode's phasor -- and at the quick budget the ReLU stack
of the seeds reached an oracle distance of 0.18 against 0.12, one seed, 300 steps); the plane
angles start at the **peaks of the training input's periodogram** (``angle_init="spectrum"``,
:func:`~spectral_manifolds.orthogonal_dynamics.spectral_angles`, the DMD view; no oracle
knowledge) and learn at a tenth of the lr (``angle_lr_scale``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import report, runtime
from spectral_manifolds.experiments.oscillator_solved_config import (
    ENTROPIES, LONG, LOWER_IS_BETTER, METRICS, MSE_FACTOR, SEED_GATE, SEED_SPECTRAL_TARGET, SEED_STALL, SEED_TARGET,
    SHORT, Config, default_config, task_data, variants,
)
from spectral_manifolds.experiments.oscillator_solved_eval import evaluate, run_one, run_seeds_together
from spectral_manifolds.experiments.oscillator_solved_train import clean_signal, make_model, terms, train, train_seeds

__all__ = ["ENTROPIES", "METRICS", "LOWER_IS_BETTER", "SEED_SPECTRAL_TARGET", "SEED_STALL", "SEED_GATE", "SEED_TARGET",
           "MSE_FACTOR", "LONG", "SHORT", "Config", "default_config", "variants", "task_data", "make_model", "clean_signal",
           "terms", "train", "train_seeds", "evaluate", "run_one", "run_seeds_together", "Outcome", "SHOWN", "run",
           "target_rows"]

_data = task_data  # the name the tests and earlier notes use

#: The metrics of the summary table and of the verdicts.
SHOWN = ("oracle_distance", "oracle_distance_late", "oracle_distance_phase", "whitened_distance", "probe_r2",
         "centred_variance", "next_step_mse", "mse_ratio", "spectral_loss")


@dataclass
class Outcome:
    """Per-variant per-seed metrics, the summary table rows and the verdict rows."""

    config: Config
    receptive_fields: dict
    per_seed: dict = field(default_factory=dict)
    summary: list = field(default_factory=list)
    verdicts: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"config": dataclasses.asdict(self.config), "receptive_fields": self.receptive_fields,
                "per_seed": self.per_seed, "summary": self.summary, "verdicts": self.verdicts}


def run(cfg: Config | None = None, *, n_seeds: int | None = None, progress: bool = True) -> Outcome:
    """Train every variant of :func:`variants` (its seeds together) and decide, per metric of
    :data:`SHOWN`, "the full model beats the ablation" with ``report.compare`` (paired by seed),
    plus "the amplitude-free read-out beats the latent" on the same runs."""
    cfg = default_config() if cfg is None else cfg
    n_seeds = runtime.sized(quick=3, full=5) if n_seeds is None else n_seeds
    data = task_data(cfg)
    seeds = report.seeds_for(n_seeds)
    rfs = {name: make_model(v).receptive_field for name, v in variants(cfg).items()}
    runtime.notice(f"receptive fields: {rfs}; beat period 127.5 steps")
    res = Outcome(cfg, rfs)
    items = list(variants(cfg).items())
    for name, v in (runtime.progress(items, desc="variants") if progress else items):
        runs = run_seeds_together(v, seeds, data)
        res.per_seed[name] = {m: [r[m] for r in runs] for m in runs[0]}
        row = {"variant": name, "parameters": runs[0]["n_params"], "train + eval, all seeds (s)": round(runs[0]["seconds"], 1)}
        row.update({m: report.mean_std(res.per_seed[name][m]) for m in SHOWN})
        res.summary.append(row)
    full = res.per_seed["full model"]
    for name in [k for k, _ in items[1:]]:
        for m in SHOWN:
            c = report.compare(full[m], res.per_seed[name][m], lower_is_better=LOWER_IS_BETTER[m])
            res.verdicts.append(report.verdict_row(f"full model beats '{name}'", c, a_name="full model", b_name=name, metric=m))
    c = report.compare(full["oracle_distance_phase"], full["oracle_distance_late"])
    res.verdicts.append(report.verdict_row("amplitude-free read-out beats the latent", c, a_name="phase_latent(z)",
                                           b_name="z", metric="oracle distance, steps >= eval_start"))
    return res


def target_rows(res: Outcome, amplitude_floor: float) -> list[dict]:
    """Issue 10's targets for the full model: the threshold, ours (mean ± std), whether every
    seed meets it and, where the mean misses, by how much (mean - threshold, and the factor)."""
    full = res.per_seed["full model"]
    specs = [
        ("seeds' oracle distance, required", "oracle_distance", SEED_GATE),
        ("seeds' oracle distance, goal", "oracle_distance", SEED_TARGET),
        ("oracle distance after one beat, required", "oracle_distance_late", SEED_GATE),
        ("amplitude-free read-out, required", "oracle_distance_phase", SEED_GATE),
        ("next-step MSE / oracle filter's", "mse_ratio", MSE_FACTOR),
        ("spectral loss (the seed's target)", "spectral_loss", SEED_SPECTRAL_TARGET),
    ]
    rows = []
    for label, m, thr in specs:
        v = np.asarray(full[m], float)
        rows.append({"target": label, "threshold": thr, "full model": report.mean_std(v),
                     "met by every seed": bool(np.all(v <= thr)),
                     "mean − threshold": round(float(v.mean() - thr), 4), "mean / threshold": round(float(v.mean() / thr), 2),
                     "amplitude floor": amplitude_floor if m.startswith("oracle_distance") and m != "oracle_distance_phase" else "—"})
    return rows
