"""Training the ManifoldFormer imputers: every (direction, seed) member in one vmapped
JAX program (issue 10, item 3; the protocol is :mod:`.manifoldformer_method`'s, step 2).

The model is :class:`spectral_manifolds.manifoldformer.ManifoldFormer` unchanged, at the
sizes of :data:`SIZES`. Chapter 4's objective, next-step prediction + reconstruction
(``MSE(decode(Step(z_<=t)), x_{t+1}) + MSE(decode(z_t), x_t)``, the targets restricted to
observed entries), AdamW; every batch hides a fresh share ``U(0, max_corrupt)`` of the
steps (never the first) and carries the last kept value forward (LOCF).

A compiled epoch depends only on the model's structure, the learning rate and the
shapes (members, windows, batches), not on the data, which is an argument: two series
with the same channels and window count (CO2 and sunspots on equally long training
parts) share one compile (:data:`_STEPS`, per process).
"""

from __future__ import annotations

import numpy as np

from spectral_manifolds import runtime
from spectral_manifolds.imputation import classical

__all__ = ["SIZES", "parameter_count", "model_config", "train_members"]

#: Model sizes (ManifoldFormerConfig keywords); the dynamics as in chapter 4.
SIZES = dict(latent_dim=8, hidden=32, decoder_hidden=64, gamma=0.5)
_STEPS: dict = {}  # (graphdef, lr, shapes) -> compiled epoch


def model_config(C: int, window: int):
    """The ManifoldFormerConfig of one imputer: ``C`` channels, memory over the window."""
    from spectral_manifolds.manifoldformer import ManifoldFormerConfig

    return ManifoldFormerConfig(n_channels=int(C), memory_len=max(int(window) - 1, 1), **SIZES)


def parameter_count(n_features: int = 1, window: int = 64) -> int:
    """Trainable parameters of one ManifoldFormer of :data:`SIZES` (one direction)."""
    from flax import nnx

    from spectral_manifolds.manifoldformer import ManifoldFormer, count_params

    return count_params(ManifoldFormer(model_config(n_features, window), rngs=nnx.Rngs(0)))


def _locf_jax(x, keep):
    """x: (B, T, C); keep: (B, T) bool -> x with dropped steps replaced by the last kept one."""
    import jax
    import jax.numpy as jnp

    T = x.shape[1]
    idx = jnp.where(keep, jnp.arange(T)[None], 0)
    idx = jax.lax.cummax(idx, axis=1)
    return jnp.take_along_axis(x, idx[..., None], axis=1)


def _epoch_step(graphdef, tx, nb: int):
    """``epoch(P, R, S, X, Mo, direction, idx_e, rate_e, keys, e) -> (P, S, mean loss per member)``, jitted."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    def member_step(p, r, s, X, Mo, d, ix, rt, key):
        x, m = X[d][ix], Mo[d][ix]
        keep = (jax.random.uniform(key, x.shape[:2]) >= rt).at[:, 0].set(True)

        def objective(p):
            model = nnx.merge(graphdef, p, r)
            mu, _ = model.vae.encode(_locf_jax(x, keep)[:, :-1])
            pred, recon = model.decode(model.advance(mu)), model.decode(mu)
            se = ((pred - x[:, 1:]) ** 2 * m[:, 1:]).sum() + ((recon - x[:, :-1]) ** 2 * m[:, :-1]).sum()
            return se / jnp.maximum(m[:, 1:].sum() + m[:, :-1].sum(), 1.0)

        loss, grads = jax.value_and_grad(objective)(p)
        updates, s = tx.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    vstep = jax.vmap(member_step, in_axes=(0, 0, 0, None, None, 0, 0, 0, 0))

    @jax.jit
    def epoch_fn(P, R, S, X, Mo, direction, idx_e, rate_e, keys, e):
        def body(carry, b):
            P, S = carry
            k = jax.vmap(lambda k: jax.random.fold_in(k, e * nb + b))(keys)
            P, S, loss = vstep(P, R, S, X, Mo, direction, idx_e[:, b], rate_e[:, b], k)
            return (P, S), loss

        (P, S), losses = jax.lax.scan(body, (P, S), jnp.arange(nb))
        return P, S, losses.mean(axis=0)

    return epoch_fn


def train_members(Ws, seeds, *, epochs: int, batch: int, lr: float, max_corrupt: float):
    """Train one model per (direction, seed) in one vmapped program.

    Args:
        Ws: one window set (N, L, C) per direction (NaN = unobserved target), each already
            centred on its windows' local level.
        seeds: the seeds; member (k, s) trains on ``Ws[k]`` with seed s (initial
            parameters ``jax.random.key(s)``, batch order and corruption rates from
            ``numpy.random.default_rng([s, k])``).
        epochs, batch, lr, max_corrupt: passes, windows per step (capped at N), AdamW's
            step size, the largest share of steps hidden per batch.

    Returns:
        ``[(graphdef, params, rest) per direction]`` with params / rest stacked over seeds
        (S, ...), and the (K * S, epochs) loss history.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from spectral_manifolds.manifoldformer import ManifoldFormer

    N, L, C = Ws[0].shape
    batch = min(int(batch), N)
    nb = N // batch
    filled, observed = [], []
    for W in Ws:
        cols = W.transpose(1, 0, 2).reshape(L, N * C).copy()  # LOCF along time in every window and channel
        cols[:, np.isnan(cols).all(axis=0)] = 0.0  # nothing observed in a window's channel: the local level
        filled.append(classical.locf(cols).reshape(L, N, C).transpose(1, 0, 2))
        observed.append(~np.isnan(W))
    X, Mo = jnp.asarray(np.stack(filled), jnp.float32), jnp.asarray(np.stack(observed), jnp.float32)  # (K, N, L, C)
    tx = optax.adamw(float(lr), weight_decay=1e-4)
    members = [(k, int(s)) for k in range(len(Ws)) for s in seeds]
    ps, rs, ss, orders, rates = [], [], [], [], []
    for k, s in members:
        g, p, r = nnx.split(ManifoldFormer(model_config(C, L), rngs=nnx.Rngs(params=jax.random.key(s))), nnx.Param, ...)
        ps.append(p), rs.append(r), ss.append(tx.init(p))
        rng = np.random.default_rng([s, k])
        orders.append(np.stack([rng.permutation(N)[: nb * batch].reshape(nb, batch) for _ in range(epochs)]))
        rates.append(rng.uniform(0.0, max_corrupt, size=(epochs, nb)))
    stack = lambda t: jax.tree_util.tree_map(lambda *a: jnp.stack(a), *t)  # noqa: E731
    P, R, S = stack(ps), stack(rs), stack(ss)
    idx = jnp.asarray(np.stack(orders).swapaxes(0, 1))  # (E, M, nb, B)
    rate = jnp.asarray(np.stack(rates).swapaxes(0, 1), jnp.float32)  # (E, M, nb)
    direction = jnp.asarray([k for k, _ in members])
    keys = jnp.stack([jax.random.fold_in(jax.random.key(s), 1 + k) for k, s in members])
    key = (g, float(lr), len(members), X.shape, tuple(idx.shape[1:]))
    if key not in _STEPS:
        _STEPS[key] = runtime.compile_with_notice(_epoch_step(g, tx, nb), P, R, S, X, Mo, direction, idx[0], rate[0], keys, 0,
                                                  name="ManifoldFormer imputer train step")
    step = _STEPS[key]
    history = []
    for e in runtime.progress(range(epochs), desc=f"ManifoldFormer imputer ({len(members)} members)", unit="epoch", leave=False):
        P, S, loss = step(P, R, S, X, Mo, direction, idx[e], rate[e], keys, e)
        history.append(loss)
    runtime.block(P)
    n = len(seeds)
    part = lambda t, k: jax.tree_util.tree_map(lambda a: a[k * n : (k + 1) * n], t)  # noqa: E731
    return [(g, part(P, k), part(R, k)) for k in range(len(Ws))], np.asarray(history).T
