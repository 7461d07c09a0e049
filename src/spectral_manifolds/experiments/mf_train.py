"""Chapter 4's training: ManifoldFormers of several settings and seeds in one compiled step
(seed 000_bd4cbe8700a1031d.txt, "System Architecture" and "Critical Lessons Learned").

Task. Next-step prediction with reconstruction, on either data set of
:mod:`spectral_manifolds.data.oscillators`: the book's normal modes or the seeds' own
task (DESIGN.md, "The seeds' experimental setup"). Input ``x = noisy[:-1]``; loss per
batch (the seeds' tracked "MSE" plus two optional terms)::

    loss = MSE(decode(Step(z_{<=t})), clean[t+1]) + MSE(decode(z_t), clean[t])
           + latent_weight * mean dist(Step(z_{<=t}), z_{t+1})^2
           + kl_weight * KL(q(z|x) || Uniform(S^(d-1)))

teacher-forced over the whole sequence in parallel. ``z`` is the tangent sample
``exp_mu(v)`` when ``sample`` (the seeds' VAE) and the encoder mean ``mu`` otherwise
(the deterministic encoder). optax AdamW (the seeds' optimizer).

**Several members, one program.** :func:`train` takes named settings and seeds; every
(setting, seed) pair is a *member*. The members' parameters and optimizer states are
stacked on a leading axis and one ``jax.vmap``-ed train step (a ``lax.scan`` over an
epoch's batches) trains them all at once, so on a launch-bound GPU five seeds cost about
one. Settings in one call may differ only in :data:`PER_MEMBER` fields (they are
arrays in the program, not constants); anything else changes the program. Each call
compiles its own program (no cache across calls), so ``compile_seconds`` does not depend
on what ran before in the process.

A seed fixes a member's initial parameters, its batch order and its latent noise; the
training and test data are the same for all seeds (data seed in the data config).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from spectral_manifolds import runtime
from spectral_manifolds.data.oscillators import OscillatorData
from spectral_manifolds.experiments.mf_config import FREEZABLE, PER_MEMBER, TEST_SEED_OFFSET, Config, make_data

__all__ = ["Config", "FREEZABLE", "PER_MEMBER", "TEST_SEED_OFFSET", "Group", "losses", "make_data", "train", "update_mask"]

def losses(model, x, y_next, y_recon, key, *, kl_weight=0.0, latent_weight=0.0, sample=0.0, h=None, with_kl=True):
    """Training objective of one batch; returns ``(loss, (pred_mse, recon_mse))``.

    Args:
        model: a :class:`ManifoldFormer`; x: (B, T, C) noisy input; y_next, y_recon:
            (B, T, C) clean targets one step ahead and at the same step.
        key: PRNG key of the tangent sample (None: ``z = mu`` and no KL).
        kl_weight, latent_weight, sample, h: numbers or traced scalars; ``sample`` in
            {0, 1} picks the sample (1) or ``mu`` (0); ``h`` the step's total time.
        with_kl: compute the KL term at all (a static switch: it costs compute).
    """
    import jax.numpy as jnp

    from spectral_manifolds import sphere
    from spectral_manifolds.wrapped_normal import kl_to_uniform

    mu, sigma = model.vae.encode(x)
    if key is None:
        z, v = mu, jnp.zeros_like(mu)
    else:
        zs, v = model.sample(key, mu, sigma)
        z = jnp.where(jnp.asarray(sample) > 0, zs, mu)
    z_next = model.advance(z, h=h)
    pred = jnp.mean((model.decode(z_next) - y_next) ** 2)
    recon = jnp.mean((model.decode(z) - y_recon) ** 2)
    loss = pred + recon + latent_weight * jnp.mean(sphere.dist(z_next[..., :-1, :], z[..., 1:, :]) ** 2)
    if with_kl and key is not None:
        loss = loss + kl_weight * jnp.mean(kl_to_uniform(mu, sigma, v))
    return loss, (pred, recon)


@dataclass
class Group:
    """Members trained together: histories, test metrics, speed, and the trained models.

    Member ``i`` is setting ``names[i]`` with seed ``seeds[i]`` (setting-major order).
    Histories are per-epoch means over the epoch's batches, arrays ``(M, epochs)``.
    Test metrics (``(M,)``) decode ``z = mu`` on the held-out set, ``*_sample`` one
    tangent sample; ``sigma`` is the mean encoder scale on it. ``copy_mse`` is the
    prediction MSE of copying the noisy input, a floor any one-step predictor should beat.
    ``steps_per_second`` counts compiled steps (all members at once);
    ``member_steps_per_second`` = members x steps / second.
    """

    names: list[str]
    seeds: list[int]
    configs: list[Config]
    loss: np.ndarray
    pred_mse: np.ndarray
    recon_mse: np.ndarray
    test_pred_mse: np.ndarray
    test_recon_mse: np.ndarray
    test_pred_mse_sample: np.ndarray
    sigma: np.ndarray
    copy_mse: float
    n_params: int
    compile_seconds: float
    train_seconds: float
    steps: int
    steps_per_second: float
    member_steps_per_second: float
    device: str
    params: object = field(default=None, repr=False)  # stacked (M, ...) nnx.State
    rest: object = field(default=None, repr=False)
    graphdefs: list = field(default_factory=list, repr=False)
    test: Optional[OscillatorData] = field(default=None, repr=False)
    train_data: Optional[OscillatorData] = field(default=None, repr=False)

    @property
    def mse(self) -> np.ndarray:
        """(M, epochs) training prediction + reconstruction MSE (the seeds' "MSE")."""
        return self.pred_mse + self.recon_mse

    @property
    def settings(self) -> list[str]:
        return list(dict.fromkeys(self.names))

    def index(self, name: str) -> np.ndarray:
        """Member indices of setting ``name``, in seed order."""
        idx = np.array([i for i, n in enumerate(self.names) if n == name])
        if idx.size == 0:
            raise KeyError(f"no setting {name!r}; settings: {self.settings}")
        return idx

    def values(self, name: str, metric: str) -> np.ndarray:
        """(S,) per-seed values of a member metric, e.g. ``values("a", "test_pred_mse")``;
        ``"final_mse"`` is the last epoch's training MSE."""
        arr = self.mse[:, -1] if metric == "final_mse" else np.asarray(getattr(self, metric))
        return arr[self.index(name)]

    def model(self, i: int):
        """The trained :class:`ManifoldFormer` of member ``i``."""
        import jax
        from flax import nnx

        take = lambda a: a[i]  # noqa: E731
        return nnx.merge(self.graphdefs[i], jax.tree_util.tree_map(take, self.params), jax.tree_util.tree_map(take, self.rest))


def update_mask(params, freeze: Sequence[str]):
    """A pytree like ``params`` of float32 scalars: 0 on the leaves ``freeze`` names, else 1."""
    import jax
    import jax.numpy as jnp

    prefixes = [FREEZABLE[f] for f in freeze]
    return jax.tree_util.tree_map_with_path(
        lambda path, _: jnp.float32(0.0 if any(jax.tree_util.keystr(path).startswith(p) for p in prefixes) else 1.0), params
    )


def _stack(trees):
    import jax
    import jax.numpy as jnp

    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *trees)


def train(settings: Mapping[str, Config], seeds: Sequence[int], *, desc: str | None = None) -> Group:
    """Train every (setting, seed) member in one compiled, vmapped program.

    Args:
        settings: ``{name: Config}``; the configs must agree except in :data:`PER_MEMBER`.
        seeds: the seeds; every setting runs every seed (paired comparisons).
    Returns:
        A :class:`Group`.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from spectral_manifolds.experiments.mf_eval import teacher_forced
    from spectral_manifolds.manifoldformer import ManifoldFormer, count_params

    if not settings or not seeds:
        raise ValueError("train needs at least one setting and one seed")
    first = next(iter(settings.values()))
    for name, c in settings.items():
        if c.program() != first.program():
            raise ValueError(f"setting {name!r} differs from the first in a field outside PER_MEMBER={PER_MEMBER}")
    members = [(n, int(s), dataclasses.replace(c, seed=int(s))) for n, c in settings.items() for s in seeds]
    train_d, test_d = make_data(first)
    graphdefs, params, rests, states, keys, orders = [], [], [], [], [], []
    n_batches = train_d.n_samples // first.batch
    for _, seed, c in members:
        init_key, noise_key = jax.random.split(jax.random.key(seed))
        g, p, r = nnx.split(ManifoldFormer(c.model_config(), rngs=nnx.Rngs(params=init_key)), nnx.Param, ...)
        tx_m = optax.inject_hyperparams(optax.adamw)(learning_rate=c.lr, weight_decay=c.weight_decay)
        graphdefs.append(g), params.append(p), rests.append(r), states.append(tx_m.init(p)), keys.append(noise_key)
        rng = np.random.default_rng(seed)
        orders.append([rng.permutation(train_d.n_samples)[: n_batches * c.batch].reshape(n_batches, c.batch) for _ in range(c.epochs)])
    n_params = count_params(nnx.merge(graphdefs[0], params[0], rests[0]))
    P, R, S, K = _stack(params), _stack(rests), _stack(states), jnp.stack(keys)
    masks = _stack([update_mask(p, c.freeze) for p, (_, _, c) in zip(params, members)])
    flags = {k: jnp.asarray([float(getattr(c, k)) for _, _, c in members], jnp.float32) for k in ("kl_weight", "latent_weight", "sample", "h")}
    need_key = any(c.sample or c.kl_weight > 0 for _, _, c in members)
    with_kl = any(c.kl_weight > 0 for _, _, c in members)
    idx = jnp.asarray(np.stack([np.stack(o) for o in orders]).swapaxes(0, 1))  # (E, M, nb, B)
    data = tuple(jnp.asarray(a) for a in (train_d.x, train_d.y_next, train_d.y_recon))
    graphdef = graphdefs[0]
    tx = optax.inject_hyperparams(optax.adamw)(learning_rate=first.lr, weight_decay=first.weight_decay)  # hyperparameters live in each member's state

    def member_step(p, r, s, mask, ix, key, step, kl_w, lat_w, samp, h):
        def objective(p):
            m = nnx.merge(graphdef, p, r)
            x, yn, yr = (a[ix] for a in data)
            k = jax.random.fold_in(key, step) if need_key else None
            return losses(m, x, yn, yr, k, kl_weight=kl_w, latent_weight=lat_w, sample=samp, h=h, with_kl=with_kl)

        (loss, (pred, recon)), grads = jax.value_and_grad(objective, has_aux=True)(p)
        updates, s = tx.update(grads, s, p)
        updates = jax.tree_util.tree_map(lambda u, k: u * k, updates, mask)  # frozen parameters keep their values
        return optax.apply_updates(p, updates), s, jnp.stack([loss, pred, recon])

    vstep = jax.vmap(member_step, in_axes=(0, 0, 0, 0, 0, 0, None, 0, 0, 0, 0))

    @jax.jit
    def epoch_fn(P, R, S, idx_e, K, epoch, fl):
        def body(carry, b):
            P, S = carry
            P, S, st = vstep(P, R, S, masks, idx_e[:, b], K, epoch * n_batches + b, fl["kl_weight"], fl["latent_weight"], fl["sample"], fl["h"])
            return (P, S), st

        (P, S), st = jax.lax.scan(body, (P, S), jnp.arange(n_batches))
        return P, S, jnp.mean(st, axis=0)  # (M, 3)

    label = desc or f"ManifoldFormer ({first.data_name}, {len(members)} members)"
    step = runtime.compile_with_notice(epoch_fn, P, R, S, idx[0], K, 0, flags, name=f"{label} train step")
    history = []
    with runtime.Timer() as t:
        for e in runtime.progress(range(first.epochs), desc=label, unit="epoch"):
            P, S, st = step(P, R, S, idx[e], K, e, flags)
            history.append(st)
        runtime.block(P)
    hist = np.asarray(jnp.stack(history)).transpose(1, 0, 2)  # (M, E, 3)
    steps = first.epochs * n_batches
    group = Group(
        names=[n for n, _, _ in members], seeds=[s for _, s, _ in members], configs=[c for _, _, c in members],
        loss=hist[..., 0], pred_mse=hist[..., 1], recon_mse=hist[..., 2],
        test_pred_mse=np.zeros(0), test_recon_mse=np.zeros(0), test_pred_mse_sample=np.zeros(0), sigma=np.zeros(0),
        copy_mse=float(np.mean((test_d.x[:, :-1] - test_d.y_next[:, :-1]) ** 2)), n_params=n_params,
        compile_seconds=step.compile_seconds, train_seconds=t.seconds, steps=steps,
        steps_per_second=steps / t.seconds, member_steps_per_second=len(members) * steps / t.seconds,
        device=runtime.device_name(), params=P, rest=R, graphdefs=graphdefs, test=test_d, train_data=train_d,
    )
    ev = teacher_forced(group, test_d)
    group.test_pred_mse, group.test_recon_mse = ev["pred_mse"], ev["recon_mse"]
    group.test_pred_mse_sample, group.sigma = ev["pred_mse_sample"], ev["sigma"]
    return group
