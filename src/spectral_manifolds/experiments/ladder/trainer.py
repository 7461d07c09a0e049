"""The ladder's one trainer: every seed of a configuration in one compiled, vmapped step.

:func:`run_seeds` trains one :class:`~spectral_manifolds.experiments.ladder.config.Config`
for several random seeds *together*: the per-seed parameters, optimizer states and PRNG
keys are stacked and the train step is ``jax.vmap``-ed over them, so on a launch-bound
GPU five seeds cost about one (issue 7, section 5). The data (``task.seed``) is the same
for every seed, as in the seeds' code (the same 640 samples every epoch).

**One compile for many runs.** Which encoder, rotation and dynamics a run uses, and the
weights of its loss terms, are *runtime* inputs of the step. A :class:`StepCache` (made
by the caller, never global) keeps compiled steps under :meth:`Config.compile_key`, which
holds every config field except the declared runtime ones, and the number of seeds.

**Metrics.** The step returns every metric of its batch, computed *before* its update
(with ``MainScriptConfig(metrics_after_update=True)`` also *after* it, by a second forward
pass of the same batch and latent sample; the epoch means then use those, as the seeds'
logs did, while ``history[m][0]`` and ``after[m]`` stay before-update values).
``Result.history[m][e]`` for ``e >= 1`` is the mean over epoch ``e``'s batches;
``history[m][0]`` is the first batch before any update; ``after[m]`` the first batch after
training (update discarded). The seeds' scripts logged their metrics after each update
instead: our epoch mean lags theirs by one batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spectral_manifolds import runtime
from spectral_manifolds.data.oscillators import OscillatorData, seed_task
from spectral_manifolds.experiments.ladder.config import METRICS, Config
from spectral_manifolds.experiments.ladder.losses import metrics as _metrics
from spectral_manifolds.experiments.ladder.losses import terms as _terms
from spectral_manifolds.experiments.ladder.modules import LadderModel

__all__ = ["Result", "StepCache", "make_data", "run", "run_seeds", "run_many"]


class _Latents(NamedTuple):
    """The two latents :func:`losses.metrics` reads: ``z`` and ``mu``, (B, T, d)."""

    z: jax.Array
    mu: jax.Array


@dataclass
class Result:
    """One run's history (JSON-able by :meth:`to_dict`).

    ``history[m]`` for each metric ``m`` in :data:`METRICS`: ``epochs + 1`` values,
    index 0 the first batch before any update, index ``e >= 1`` the mean over epoch
    ``e``'s batches (each computed before that batch's update). ``after[m]``: the first
    batch after training. ``compile_seconds`` is 0 when the run reused a compiled step;
    ``train_seconds`` is the wall time of the training loop of all seeds trained together
    with this one; ``n_params`` counts only the parts the configuration uses.
    """

    name: str
    config: dict
    history: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    n_params: int = 0
    compile_seconds: float = 0.0
    train_seconds: float = 0.0
    steps: int = 0
    device: str = ""

    @property
    def epochs(self) -> int:
        return len(self.history["objective"]) - 1

    def at(self, metric: str, epoch: int) -> float:
        """``metric`` after ``epoch`` epochs (1..epochs; 0 = before training; -1 = the last)."""
        return float(self.history[metric][epoch])

    def final(self, metric: str) -> float:
        """``metric`` in the last epoch."""
        return self.at(metric, -1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_data(config: Config) -> OscillatorData:
    """The run's fixed training data: ``n_batches * batch`` samples of ``config.task``."""
    return seed_task(config.data_config)


def _model(cfg: Config, key) -> LadderModel:
    return LadderModel(
        cfg.task, form=cfg.form, gamma=cfg.gamma, init=cfg.init, sigma_init=cfg.sigma_init, **cfg.dynamics_options(),
        rngs=nnx.Rngs(params=key),
    )


@dataclass
class _Compiled:
    graphdef: object
    rest: object
    tx: object
    step: runtime.CompiledFn


class StepCache:
    """Compiled train steps keyed by ``(Config.compile_key(), number of seeds)``.

    Pass one cache to every :func:`run_seeds` call that may share a step (the chapter
    makes one per chapter run); a fresh cache compiles again.
    """

    def __init__(self):
        self._steps: dict[tuple, _Compiled] = {}

    def __len__(self) -> int:
        return len(self._steps)

    def get(self, cfg: Config, params, arrays, keys) -> tuple[_Compiled, float]:
        """The step for ``cfg`` with stacked ``params`` (leading axis: seeds), and the seconds
        spent compiling now (0 when reused)."""
        n_seeds = int(keys.shape[0])
        ck = (cfg.compile_key(), n_seeds)
        if ck in self._steps:
            return self._steps[ck], 0.0
        import optax

        graphdef, _, rest = nnx.split(_model(cfg, jax.random.key(0)), nnx.Param, ...)
        tx = optax.adamw(cfg.lr, weight_decay=cfg.weight_decay)
        b = cfg.batch

        def loss_and_terms(p, data, i, k, switches, weights):
            x, yn, yr, o = (jax.lax.dynamic_slice_in_dim(a, i * b, b, axis=0) for a in data)
            out = nnx.merge(graphdef, p, rest)(x, k, switches)
            t = _terms(out, weights, yn, yr, o)
            return t["objective"], (t, out.z, out.mu, o)

        def one_seed(p, state, data, i, k, switches, weights):
            (_, (t, z, mu, o)), grads = jax.value_and_grad(loss_and_terms, has_aux=True)(p, data, i, k, switches, weights)
            # The metrics' SVD waits for the gradient, so it never runs beside the Cayley
            # rotation's LAPACK solves: two batched LAPACK calls at once can hang a 2-core
            # CPU (see spectral_manifolds.alignment).
            _, (z, mu) = jax.lax.optimization_barrier((grads, (z, mu)))
            m = _metrics(_Latents(z, mu), t, o)
            updates, state = tx.update(grads, state, p)
            if not cfg.logs_after_update:
                return optax.apply_updates(p, updates), state, m
            # The seeds' logging: the same batch (and latent sample) again with the updated
            # parameters. Its rotation solves wait for the first SVD, its SVD for them.
            new_p, m = jax.lax.optimization_barrier((optax.apply_updates(p, updates), m))
            _, (t2, z2, mu2, o2) = loss_and_terms(new_p, data, i, k, switches, weights)
            _, (z2, mu2) = jax.lax.optimization_barrier((t2, (z2, mu2)))
            return new_p, state, jnp.stack([m, _metrics(_Latents(z2, mu2), t2, o2)])

        train_step = jax.jit(jax.vmap(one_seed, in_axes=(0, 0, None, None, 0, None, None)))
        state = jax.vmap(tx.init)(params)
        example = (params, state, arrays, jnp.asarray(0, jnp.int32), keys, jnp.asarray(cfg.switches()), jnp.asarray(cfg.weights()))
        name = f"ladder train step ({cfg.steps} steps, latent {cfg.task.latent_dim}, {n_seeds} seed(s) vmapped)"
        step = runtime.compile_with_notice(train_step, *example, name=name)
        self._steps[ck] = _Compiled(graphdef, rest, tx, step)
        return self._steps[ck], step.compile_seconds


def _check_data(cfg: Config, data: OscillatorData) -> None:
    n, t, c, d = cfg.n_batches * cfg.batch, cfg.steps, cfg.task.n_channels, cfg.task.latent_dim
    shapes = {"x": (n, t, c), "y_next": (n, t, c), "y_recon": (n, t, c), "oracle": (n, t, d)}
    for name, shape in shapes.items():
        if tuple(getattr(data, name).shape) != shape:
            raise ValueError(f"data.{name} must have shape {shape} for this config, got {tuple(getattr(data, name).shape)}")


def run_seeds(
    config: Config, seeds: Sequence[int], *, data: Optional[OscillatorData] = None,
    cache: Optional[StepCache] = None, progress: bool = False,
) -> list[Result]:
    """Train ``config`` once per seed in ``seeds``, all seeds in one vmapped step.

    Seed ``s`` initializes the parameters from ``key(s)`` (split into init, sample and
    evaluation keys, as :func:`run` did for one seed); the latent sample of step ``j``
    uses ``fold_in(sample key, j)``. AdamW (optax) on the ``nnx.Param`` leaves.

    Args:
        config: the run (its ``seed`` is ignored; ``seeds`` decide).
        seeds: distinct non-negative ints.
        data: optional training data in place of :func:`make_data`:
            ``x, y_next, y_recon: (n_batches * batch, T, C)``, ``oracle: (..., T, latent_dim)``.
        cache: a :class:`StepCache` to reuse compiled steps (default: a fresh one).
        progress: a progress bar over epochs.
    Returns:
        one :class:`Result` per seed, in the order of ``seeds``.
    """
    cfg = config
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"seeds must be distinct non-negative integers, got {seeds}")
    cache = StepCache() if cache is None else cache
    data = make_data(cfg) if data is None else data
    _check_data(cfg, data)
    runtime.seed_everything(seeds[0])
    split = [jax.random.split(jax.random.key(s), 3) for s in seeds]
    init_keys, noise_keys, eval_keys = (jnp.stack([k[j] for k in split]) for j in range(3))
    models = [_model(dataclasses.replace(cfg, seed=s), init_keys[i]) for i, s in enumerate(seeds)]
    per_seed = [nnx.split(m, nnx.Param, ...)[1] for m in models]
    params = jax.tree.map(lambda *xs: jnp.stack(xs), *per_seed)
    arrays = tuple(jnp.asarray(a) for a in (data.x, data.y_next, data.y_recon, data.oracle))
    compiled, compile_seconds = cache.get(cfg, params, arrays, eval_keys)
    step, opt_state = compiled.step, jax.vmap(compiled.tx.init)(params)
    switches, weights = jnp.asarray(cfg.switches()), jnp.asarray(cfg.weights())
    i0 = jnp.asarray(0, jnp.int32)
    # (S, M) metrics before the update; (S, 2, M) before and after with cfg.logs_after_update
    before = (lambda m: m[:, 0]) if cfg.logs_after_update else (lambda m: m)
    logged = (lambda m: m[:, 1]) if cfg.logs_after_update else (lambda m: m)
    _, _, first = step(params, opt_state, arrays, i0, eval_keys, switches, weights)  # before training (update discarded)
    first = before(first)
    rows = [first]  # each (S, len(METRICS))
    epochs = range(cfg.epochs)
    if progress:
        epochs = runtime.progress(epochs, desc=cfg.name, unit="epoch", leave=False)
    n_steps = cfg.epochs * cfg.n_batches
    step_keys = jax.vmap(lambda j: jax.vmap(lambda key: jax.random.fold_in(key, j))(noise_keys))(jnp.arange(n_steps))  # (steps, S)
    with runtime.Timer() as timer:
        for epoch in epochs:
            per_batch = []
            for i in range(cfg.n_batches):
                k = step_keys[epoch * cfg.n_batches + i]
                params, opt_state, m = step(params, opt_state, arrays, jnp.asarray(i, jnp.int32), k, switches, weights)
                per_batch.append(logged(m))
            rows.append(jnp.mean(jnp.stack(per_batch), axis=0))
        runtime.block(params)
    _, _, after = step(params, opt_state, arrays, i0, eval_keys, switches, weights)
    hist = np.asarray(jnp.stack(rows), dtype=float)  # (epochs + 1, S, M)
    after = np.asarray(before(after), dtype=float)
    n_params = models[0].n_params(cfg)
    out = []
    for j, s in enumerate(seeds):
        r = Result(cfg.name, dataclasses.replace(cfg, seed=s).to_dict(), device=runtime.device_name(), compile_seconds=compile_seconds)
        r.n_params, r.train_seconds, r.steps = n_params, timer.seconds, cfg.epochs * cfg.n_batches
        r.history = {name: hist[:, j, m].tolist() for m, name in enumerate(METRICS)}
        r.after = dict(zip(METRICS, after[j].tolist()))
        out.append(r)
    return out


def run(config: Config, *, data: Optional[OscillatorData] = None, cache: Optional[StepCache] = None, progress: bool = True) -> Result:
    """Train one configuration with its own ``config.seed`` (see :func:`run_seeds`)."""
    return run_seeds(config, [config.seed], data=data, cache=cache, progress=progress)[0]


def run_many(configs: Sequence[Config], *, cache: Optional[StepCache] = None, progress: bool = True) -> dict[str, Result]:
    """Run configurations in order (names must be unique); returns name -> :class:`Result`.

    Runs with equal :meth:`Config.compile_key` share one compiled step of ``cache``.
    """
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"configuration names must be unique, got {names}")
    cache = StepCache() if cache is None else cache
    it = runtime.progress(configs, desc="runs", unit="run") if progress else configs
    return {cfg.name: run(cfg, cache=cache, progress=False) for cfg in it}
