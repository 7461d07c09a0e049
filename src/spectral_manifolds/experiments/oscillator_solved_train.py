"""Training of "the oscillator solved" (issue 10, item 2): the objective and the seeds trained together.

Split from :mod:`spectral_manifolds.experiments.oscillator_solved` (which re-exports the
public names). The objective of one batch (:func:`terms`):

    objective = rollout MSE + fidelity_weight * fidelity + entropy_weight * entropy

* rollout MSE -- from every start ``s`` (every ``stride``-th step) the latent ``z_s`` is
  rolled ``j = 0..k`` steps (``k = horizon``) and decoded; the MSE against the clean signal
  at step ``s + j`` (seed 001_a78d46c299591382.txt, "Critical Lessons" 1: rollout in latent space);
* fidelity -- the seeds' fractional fidelity ("spectral") loss of the one-step forecast
  against the clean next step (``ladder.losses.fidelity_loss``; seed 001, sections 12-14),
  kept as an objective term;
* entropy -- the seeds' latent power entropy (``ladder.losses.latent_entropy``) of the
  latent centred over time (``"centred"``), uncentred (the seeds', which counts the DC bin)
  or ``"none"``.

:func:`train_seeds` trains several model seeds of one config **together**: their
parameters are stacked and one ``jax.vmap``-ed step updates all of them (each seed keeps
its own initialization and batch order, so it equals :func:`train` seed by seed).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from spectral_manifolds import runtime
from spectral_manifolds.data.oscillators import OscillatorData
from spectral_manifolds.experiments.ladder.losses import fidelity_loss, latent_entropy
from spectral_manifolds.experiments.oscillator_solved_config import Config
from spectral_manifolds.orthogonal_dynamics import RolloutModel, spectral_angles

__all__ = ["make_model", "clean_signal", "terms", "train", "train_seeds"]


def make_model(cfg: Config, c: int = 16, x_train=None) -> RolloutModel:
    """The model of ``cfg`` for ``c`` channels, initialized from ``cfg.seed``; with
    ``angle_init="spectrum"`` the plane angles start at the peaks of ``x_train``'s
    periodogram (``orthogonal_dynamics.spectral_angles``; the grid without ``x_train``)."""
    angles = None
    if cfg.angle_init == "spectrum" and x_train is not None:
        angles = spectral_angles(x_train, cfg.latent_dim // 2, cfg.max_angle)
    return RolloutModel(c, cfg.latent_dim, hidden=cfg.hidden, kernel=cfg.kernel, dilations=cfg.dilations,
                        activation=cfg.activation, dynamics=cfg.dynamics, max_angle=cfg.max_angle, angles_init=angles,
                        rngs=nnx.Rngs(cfg.seed))


def clean_signal(data: OscillatorData) -> np.ndarray:
    """(N, T + 1, C): the clean signal at every step, ``[y_recon[:, :1], y_next]``."""
    return np.concatenate([data.y_recon[:, :1], data.y_next], axis=1)


def terms(model: RolloutModel, cfg: Config, x, y_next, clean) -> dict:
    """Every term of the objective for one batch; ``x, y_next: (B, T, C)``, ``clean: (B, T + 1, C)``."""
    z = model.encode(x)  # (B, T, d)
    starts = np.arange(0, x.shape[1] + 1 - cfg.horizon, cfg.stride)
    idx = starts[:, None] + np.arange(cfg.horizon + 1)[None]  # (S, k + 1)
    roll = model.decode(model.dynamics.rollout(z[:, starts], cfg.horizon))  # (B, S, k + 1, C)
    t = {"rollout_mse": jnp.mean((roll - clean[:, idx]) ** 2)}
    pred = model.decode(z @ model.dynamics.matrix())
    t["next_step_mse"] = jnp.mean((pred - y_next) ** 2)
    t["spectral_loss"] = fidelity_loss(pred, y_next)
    zc = z - jnp.mean(z, axis=1, keepdims=True) if cfg.entropy == "centred" else z
    t["entropy"] = latent_entropy(zc) if cfg.entropy != "none" else jnp.zeros(())
    t["objective"] = t["rollout_mse"] + cfg.fidelity_weight * t["spectral_loss"] + cfg.entropy_weight * t["entropy"]
    return t


def _optimizer(cfg: Config, model: RolloutModel):
    """Adam with a cosine-decayed lr; the plane angles at ``angle_lr_scale`` times it (a
    spectral initialization is already close, and a long rollout magnifies an angle's step)."""
    def sched(scale):
        return optax.adam(optax.cosine_decay_schedule(cfg.lr * scale, cfg.steps, alpha=0.05))

    params = nnx.state(model, nnx.Param)
    labels = jax.tree_util.tree_map_with_path(lambda path, _: "angles" if "angles" in jax.tree_util.keystr(path) else "rest", params)
    return optax.multi_transform({"angles": sched(cfg.angle_lr_scale), "rest": sched(1.0)}, labels)


#: Compiled steps by (Config.key(), number of seeds, data shapes): the one cache of this module.
_STEPS: dict[tuple, object] = {}


def _stack(trees):
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


def train_seeds(cfg: Config, data: OscillatorData, seeds: Sequence[int], *, progress: bool = False) -> tuple[list[RolloutModel], dict]:
    """Train the model seeds ``seeds`` of ``cfg`` together on ``data`` (``cfg.steps`` adam steps each).

    Seed ``s`` starts from ``make_model(cfg with seed=s)`` and draws its batches from
    ``np.random.default_rng([s, 17])`` (permutations of the training samples).

    Returns:
        (models, history): one trained model per seed, ``history[name]``: (steps, n_seeds)
        per-step values of every term of :func:`terms`.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("train_seeds needs at least one seed")
    models = [make_model(_with_seed(cfg, s), data.n_channels, data.x) for s in seeds]
    tx = _optimizer(cfg, models[0])
    splits = [nnx.split(m, nnx.Param, ...) for m in models]
    graphdef = splits[0][0]
    params, rest = _stack([s[1] for s in splits]), _stack([s[2] for s in splits])
    state = jax.vmap(tx.init)(params)
    arrays = (jnp.asarray(data.x), jnp.asarray(data.y_next), jnp.asarray(clean_signal(data)))

    def one(p, st, r, idx, x, yn, cl):
        def loss(p):
            t = terms(nnx.merge(graphdef, p, r), cfg, x[idx], yn[idx], cl[idx])
            return t["objective"], t
        (_, t), grads = jax.value_and_grad(loss, has_aux=True)(p)
        updates, st = tx.update(grads, st, p)
        return optax.apply_updates(p, updates), st, t

    ck = (cfg.key(), len(seeds), tuple(a.shape for a in arrays))
    if ck not in _STEPS:
        step = jax.jit(jax.vmap(one, in_axes=(0, 0, 0, 0, None, None, None)))
        idx0 = jnp.zeros((len(seeds), cfg.batch), jnp.int32)
        rf = models[0].receptive_field
        _STEPS[ck] = runtime.compile_with_notice(step, params, state, rest, idx0, *arrays,
                                                 name=f"rollout step ({len(seeds)} seeds, horizon {cfg.horizon}, {cfg.dynamics}, rf {rf})")
    step = _STEPS[ck]
    rngs = [np.random.default_rng([s, 17]) for s in seeds]
    orders = [np.array([], int) for _ in seeds]
    n = data.n_samples
    hist: dict[str, list] = {}
    it = range(cfg.steps)
    for _ in (runtime.progress(it, desc=f"training {len(seeds)} seeds") if progress else it):
        batch = []
        for i, rng in enumerate(rngs):
            if orders[i].size < cfg.batch:
                orders[i] = np.concatenate([orders[i], rng.permutation(n)])
            batch.append(orders[i][:cfg.batch])
            orders[i] = orders[i][cfg.batch:]
        params, state, t = step(params, state, rest, jnp.asarray(np.stack(batch), jnp.int32), *arrays)
        for k, v in t.items():
            hist.setdefault(k, []).append(v)
    history = {k: np.asarray(jnp.stack(v)) for k, v in hist.items()}
    out = [nnx.merge(graphdef, jax.tree.map(lambda a: a[i], params), jax.tree.map(lambda a: a[i], rest)) for i in range(len(seeds))]
    return out, history


def _with_seed(cfg: Config, seed: int) -> Config:
    import dataclasses

    return dataclasses.replace(cfg, seed=seed)


def train(cfg: Config, data: OscillatorData, *, progress: bool = False) -> tuple[RolloutModel, dict]:
    """Train seed ``cfg.seed`` alone (:func:`train_seeds` with one seed).

    Returns:
        (model, history) with ``history[name]``: (steps,) per-step values of every term.
    """
    models, hist = train_seeds(cfg, data, [cfg.seed], progress=progress)
    return models[0], {k: v[:, 0] for k, v in hist.items()}
