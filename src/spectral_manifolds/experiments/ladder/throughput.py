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


def seeds_together(config: Config, n_seeds: int = 5, *, rounds: int = 2, data: Optional[OscillatorData] = None) -> tuple[list[dict], list[Result], list[Result]]:
    """Train ``config`` for seed 0 alone and for seeds ``0..n_seeds-1`` together, alternating.

    The two runs alternate for ``rounds`` rounds and each row keeps its fastest round, so
    neither side pays alone for what the first runs after a compile pay (a GPU leaving its
    idle clocks, lazy loading). A first publish of this section timed one round with the
    single seed first: its 30 steps took longer than the five seeds' 30, an artefact.

    Returns:
        ``(rows, alone, together)``: two table rows (compile seconds of the first round,
        train seconds of the fastest round, seed·steps per second, the ratio to one seed
        at a time), and the last round's results (seed 0 of both must agree: vmapping
        does not change the arithmetic).
    """
    if n_seeds < 2:
        raise ValueError(f"n_seeds must be at least 2 to compare, got {n_seeds}")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    data = make_data(config) if data is None else data
    caches = (StepCache(), StepCache())
    best: list[Optional[float]] = [None, None]
    compile_s = [0.0, 0.0]
    alone = together = []
    for k in range(rounds):
        for j, seeds in enumerate(([0], list(range(n_seeds)))):
            results = run_seeds(config, seeds, data=data, cache=caches[j])
            if k == 0:
                compile_s[j] = results[0].compile_seconds
            t = results[0].train_seconds
            best[j] = t if best[j] is None else min(best[j], t)
            if j == 0:
                alone = results
            else:
                together = results
    rows = []
    for j, results in enumerate((alone, together)):
        r = results[0]
        rate = len(results) * r.steps / best[j]
        rows.append({
            "seeds trained together": len(results),
            "compile (s)": round(compile_s[j], 2),
            "train (s), fastest round": round(best[j], 3),
            "steps per seed": r.steps,
            "seed·steps / s": round(rate, 1),
        })
    for row in rows:
        row["× one seed at a time"] = round(row["seed·steps / s"] / rows[0]["seed·steps / s"], 2)
    return rows, alone, together
