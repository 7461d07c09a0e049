"""Seeds trained together against one at a time: the speed behind the evidence standard.

The evidence standard multiplies every run by five seeds (DESIGN.md). The ladder's
trainer (:func:`~spectral_manifolds.experiments.ladder.trainer.run_seeds`) stacks the
seeds' parameters and ``jax.vmap``-s one train step over them. This module measures what
that buys, in one run: seed·steps per second with ``n`` seeds together against one seed
(the rate of running them one at a time), compile seconds apart (issue 7, section 5).
"""

from __future__ import annotations

from typing import Optional

from spectral_manifolds.data.oscillators import OscillatorData
from spectral_manifolds.experiments.ladder.config import Config
from spectral_manifolds.experiments.ladder.trainer import Result, StepCache, make_data, run_seeds

__all__ = ["seeds_together"]


def _row(results: list[Result], one_rate: Optional[float]) -> dict:
    r = results[0]
    rate = len(results) * r.steps / r.train_seconds
    return {
        "seeds trained together": len(results),
        "compile (s)": round(r.compile_seconds, 2),
        "train (s)": round(r.train_seconds, 2),
        "steps per seed": r.steps,
        "seed·steps / s": round(rate, 1),
        "× one seed at a time": round(rate / one_rate, 2) if one_rate else 1.0,
    }


def seeds_together(config: Config, n_seeds: int = 5, *, data: Optional[OscillatorData] = None) -> tuple[list[dict], list[Result], list[Result]]:
    """Train ``config`` for seed 0 alone, then for seeds ``0..n_seeds-1`` together.

    Returns:
        ``(rows, alone, together)``: two table rows (compile and train seconds, seed·steps
        per second, the ratio to one seed at a time), and the two runs' results (seed 0
        of both must agree: vmapping does not change the arithmetic).
    """
    if n_seeds < 2:
        raise ValueError(f"n_seeds must be at least 2 to compare, got {n_seeds}")
    data = make_data(config) if data is None else data
    alone = run_seeds(config, [0], data=data, cache=StepCache())
    together = run_seeds(config, list(range(n_seeds)), data=data, cache=StepCache())
    one = _row(alone, None)
    return [one, _row(together, one["seed·steps / s"])], alone, together
