"""The seeds' main script against the book's main-task run: each of its five differences measured.

Issue 7, section 6: the seeds' public main script differs from the ladder's model in five
ways (:data:`~spectral_manifolds.experiments.ladder.config.MAIN_SCRIPT_SWITCHES`):
(1) ``q = k = z``, no query/key projections; (2) a **sum** over the causal keys where the
book takes the mean; (3) keys frozen across the RK4 stages; (4) a learned depthwise
convolution as the memory; (5) metrics logged after each update. :func:`run` trains, on
the main task (seed 001 section 14's run: the seeds' loss, zero-initialized dynamics),
the book's configuration, the full main-script configuration and each difference alone,
every configuration's seeds together in one vmapped step (:func:`ladder.run_seeds`), and
compares each variant with the book's by :func:`spectral_manifolds.report.compare`
(paired by seed, lower is better for every metric). :func:`force_scale` measures the
force scale of difference (2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spectral_manifolds import report, sphere
from spectral_manifolds.experiments.ladder.config import MAIN_SCRIPT_OFF, MAIN_SCRIPT_SWITCHES, MAIN_TASK, Config, Scale, main_script_config
from spectral_manifolds.experiments.ladder.trainer import StepCache, make_data, run_seeds
from spectral_manifolds.kuramoto import KuramotoAttention

__all__ = ["LABELS", "METRICS", "BOOK", "MAIN_SCRIPT", "Experiment", "Outcome", "variants", "switch_table", "force_scale", "run"]

#: Each switch's row label, in the issue's order.
LABELS = {
    "projections": "(1) q = k = z, no projections",
    "reduce": "(2) sum over keys, not mean",
    "freeze_keys": "(3) keys frozen across RK4 stages",
    "memory_kind": "(4) depthwise-conv memory",
    "metrics_after_update": "(5) metrics after the update",
}
#: The final metrics compared (last-epoch means, as the seeds logged them): the oracle
#: distance of the sampled latent, the prediction MSE, the seeds' optimized objective.
METRICS = ("oracle", "pred_mse", "objective")
BOOK = "book (chapter 7)"
MAIN_SCRIPT = "main script (all five)"


def _main_task_run() -> Config:
    """Seed 001 section 14's main-task run (``seed_runs.SECTION_14.config``, renamed)."""
    return Config(name=BOOK, task=MAIN_TASK, n_batches=10, init="zero")


@dataclass(frozen=True)
class Experiment:
    """What :func:`run` trains.

    Attributes:
        scale: sizes and the number of seeds (:class:`ladder.Scale`, main-task fields).
        base: the book's run (default: section 14's main-task run, zero init).
        force_samples: samples of the main task for :func:`force_scale`.
        only: variant labels to train besides the book's run (default: all of
            :func:`variants`; each costs one compile).
    """

    scale: Scale = Scale()
    base: Optional[Config] = None
    force_samples: int = 16
    only: Optional[tuple] = None

    def __post_init__(self):
        if not isinstance(self.scale, Scale):
            raise ValueError(f"scale must be a ladder Scale, got {type(self.scale).__name__}")
        if self.base is not None and not isinstance(self.base, Config):
            raise ValueError(f"base must be a ladder Config, got {type(self.base).__name__}")
        if self.scale.seeds < 2:
            raise ValueError(f"a verdict needs at least 2 seeds, got scale.seeds={self.scale.seeds}")
        if isinstance(self.force_samples, bool) or not isinstance(self.force_samples, int) or self.force_samples < 1:
            raise ValueError(f"force_samples must be a positive integer, got {self.force_samples!r}")
        if self.only is not None:
            unknown = set(self.only) - set(variants())
            if unknown:
                raise ValueError(f"unknown variants {sorted(unknown)}; choose from {list(variants())}")


def variants(base: Optional[Config] = None) -> dict[str, Config]:
    """The book's run, the full main script and each switch alone: label -> config (unsized)."""
    base = _main_task_run() if base is None else dataclasses.replace(base, name=BOOK)
    out = {BOOK: base, MAIN_SCRIPT: main_script_config(base, name=MAIN_SCRIPT)}
    out.update({LABELS[s]: main_script_config(base, only=s, name=LABELS[s]) for s in MAIN_SCRIPT_SWITCHES})
    return out


def switch_table(base: Optional[Config] = None):
    """A DataFrame: each variant of :func:`variants` and the value of each switch it trains with."""
    off = {**MAIN_SCRIPT_OFF, "metrics_after_update": False}
    rows = [{"variant": k, **{s: getattr(c, s, off[s]) for s in MAIN_SCRIPT_SWITCHES}} for k, c in variants(base).items()]
    return report.table(rows, index="variant")


@dataclass
class Outcome:
    """:func:`run`'s result (JSON-able by :meth:`to_dict`).

    Attributes:
        values: ``{variant: {metric: [per-seed last-epoch value]}}`` for :data:`METRICS`.
        rows: one dict per (variant, metric): ``variant``, ``metric``, ``mean``, ``std``,
            ``mean ± std``, and against the book's run (``None`` for the book itself)
            ``paired diff`` (book - variant: > 0 when the variant is lower), ``95 % CI``
            and ``verdict`` of the claim "the variant ends lower than the book's run".
        force: :func:`force_scale`'s dict.
        seconds: ``{variant: {"compile": s, "train": s}}`` (train: all seeds together).
        seeds, configs: the seeds and each variant's sized config (``Config.to_dict``).
    """

    values: dict
    rows: list
    force: dict
    seconds: dict
    seeds: list
    configs: dict = field(default_factory=dict)

    def table(self, metric: Optional[str] = None):
        """A DataFrame of :attr:`rows` (one metric, or all), indexed by variant."""
        rows = [r for r in self.rows if metric is None or r["metric"] == metric]
        keep = ("variant", "metric", "mean ± std", "paired diff", "95 % CI", "verdict")
        return report.table([{k: ("—" if r[k] is None else r[k]) for k in keep} for r in rows], index="variant")

    def wide_table(self):
        """One row per variant: each metric's mean ± std and its verdict against the book's run."""
        rows = {}
        for r in self.rows:
            row = rows.setdefault(r["variant"], {"variant": r["variant"]})
            row[r["metric"]] = r["mean ± std"]
            row[f"{r['metric']}: lower than the book's?"] = "—" if r["verdict"] is None else r["verdict"]
        return report.table(list(rows.values()), index="variant")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def force_scale(config: Config, n_samples: int = 16, seed: int = 0) -> dict:
    """The force scale of difference (2): the summed coupling's norm over the mean's, along
    the sequence, on a random model (lecun-normal ``W_q, W_k, W_out``, ``alpha = 0``) fed
    the latent means of a fresh encoder on ``n_samples`` samples of ``config.task``.

    With the same weights the two differ only by the divisor, so the ratio at step ``t``
    is the number of causal keys ``n_t = t + 1`` (exactly, up to rounding, whatever the
    weights; for uniform weights it is the textbook case). How large the summed force is
    depends on how coherent the keys are: ``|F_sum|`` grows like ``n_t`` for aligned keys
    and like ``sqrt(n_t)`` for random ones.

    Returns:
        dict: ``steps`` (T), ``n_keys`` (T,), ``mean_norm`` and ``sum_norm`` (T,) the
        tangential coupling force ``|Pi_z F_t|`` averaged over samples, ``ratio`` (T,),
        ``max_rel_error`` of ``ratio`` against ``n_keys``, ``ratio_last``, and
        ``mean_max``, ``sum_max``: the largest of ``mean_norm`` and ``sum_norm``.
    """
    from spectral_manifolds.rvae import RVAE

    task = dataclasses.replace(config.task, n_samples=n_samples, batch=n_samples)
    data = make_data(dataclasses.replace(config, task=task, n_batches=1, batch=n_samples))
    d = config.task.latent_dim
    key = jax.random.key(seed)
    vae = RVAE(config.task.n_channels, d, sigma_init=config.sigma_init, rngs=nnx.Rngs(params=jax.random.fold_in(key, 0)))
    mu, _ = vae.encode(jnp.asarray(data.x))
    layers = {}
    for reduce in ("mean", "sum"):  # same key: the same weights
        layers[reduce] = KuramotoAttention(d, form="seed", zero_init=False, reduce=reduce, rngs=nnx.Rngs(params=jax.random.fold_in(key, 1)))
    norms = {r: np.asarray(jnp.linalg.norm(sphere.project(mu, layer(mu)), axis=-1).mean(axis=0), np.float64) for r, layer in layers.items()}
    n_keys = np.arange(1, mu.shape[-2] + 1, dtype=np.float64)
    ratio = norms["sum"] / np.maximum(norms["mean"], 1e-30)
    return {
        "steps": int(mu.shape[-2]),
        "n_keys": n_keys.tolist(),
        "mean_norm": norms["mean"].tolist(),
        "sum_norm": norms["sum"].tolist(),
        "ratio": ratio.tolist(),
        "max_rel_error": float(np.max(np.abs(ratio / n_keys - 1.0))),
        "ratio_last": float(ratio[-1]),
        "mean_max": float(norms["mean"].max()),
        "sum_max": float(norms["sum"].max()),
    }


def run(experiment: Experiment = Experiment(), *, cache: Optional[StepCache] = None, progress: bool = True) -> Outcome:
    """Train every variant of :func:`variants` at ``experiment.scale`` for seeds
    ``0 .. scale.seeds - 1`` and compare each with the book's run.

    All variants see the same data (``task.seed``) and, per seed, the same encoder and
    decoder initialization (the RVAE is created first). A variant's static switches give
    it its own compiled step (seven compiles in all).

    Returns:
        :class:`Outcome` (its ``values``, ``rows``, ``force``, ``seconds`` documented there).
    """
    scale = experiment.scale
    seeds = list(range(scale.seeds))
    chosen = None if experiment.only is None else {BOOK, *experiment.only}
    configs = {k: scale.apply(c, ablation=False) for k, c in variants(experiment.base).items() if chosen is None or k in chosen}
    cache = StepCache() if cache is None else cache
    data = make_data(configs[BOOK])
    it = configs.items()
    if progress:
        from spectral_manifolds import runtime

        it = runtime.progress(list(it), desc="main-script variants", unit="run")
    results = {k: run_seeds(c, seeds, data=data, cache=cache) for k, c in it}
    values = {k: {m: [r.final(m) for r in rs] for m in METRICS} for k, rs in results.items()}
    rows = []
    for k in configs:
        for m in METRICS:
            s = report.summarize(values[k][m])
            row = {"variant": k, "metric": m, "mean": s.mean, "std": s.std, "mean ± std": report.mean_std(s),
                   "paired diff": None, "95 % CI": None, "verdict": None}
            if k != BOOK:
                c = report.compare(values[k][m], values[BOOK][m], lower_is_better=True)
                row.update({"paired diff": report.mean_std(c.diff), "95 % CI": c.interval, "verdict": c.verdict})
            rows.append(row)
    seconds = {k: {"compile": rs[0].compile_seconds, "train": rs[0].train_seconds} for k, rs in results.items()}
    force = force_scale(configs[BOOK], n_samples=experiment.force_samples)
    return Outcome(values, rows, force, seconds, seeds, {k: c.to_dict() for k, c in configs.items()})
