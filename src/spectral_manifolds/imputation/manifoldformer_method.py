"""The ManifoldFormer as an imputer of one series: its latent rollout (causal) and a
forward + backward pair (bidirectional) (issue 10, items 3 and 5; seed
000_bd4cbe8700a1031d.txt, lesson 1: "latent-space rollout" imputation).

The model is :class:`spectral_manifolds.manifoldformer.ManifoldFormer` unchanged
(causal encoder -> latent ODE on S^(d-1) with power-law memory and Kuramoto attention ->
pointwise decoder), at small documented sizes (:data:`SIZES`, C = 1: see
:func:`parameter_count`). What this module adds is the protocol around it:

1. **Scale** with :func:`~spectral_manifolds.imputation.learned.prepare` (a Scaler fitted
   on the observed ``x[:train_end]``) and cut ``x[:train_end]`` into the overlapping
   windows of :func:`~spectral_manifolds.imputation.learned.windows` (length
   ``window``, stride ``window // 2``).
2. **Train** on chapter 4's objective, next-step prediction + reconstruction
   (``MSE(decode(Step(z_<=t)), x_{t+1}) + MSE(decode(z_t), x_t)``, the targets restricted to
   observed entries), AdamW. The input is corrupted as at imputation time: every batch
   hides a fresh share ``U(0, max_corrupt)`` of the steps (never the first) and carries
   the last kept value forward (LOCF), so the model learns to predict from a context
   that holds filled gaps. Several seeds train in one ``jax.vmap``-ed program.
3. **Fill** (:meth:`MFImputer.fill`): the series is pre-filled by LOCF (causal); for
   each run of missing steps ``[s, s + L)`` the ``context`` steps before it are encoded
   once and the latent state is rolled forward ``L`` steps
   (:meth:`ManifoldFormer.impute_latent`), then decoded. All runs go in fixed batches
   (``_CHUNK``) and rollouts of a power-of-two length (one compile per length).
   ``bidirectional``: a second model trained on the *time-reversed* series rolls out
   from the future; the two rollouts are cross-faded linearly across the gap (weight
   ``(L - i) / (L + 1)`` on the forward fill at gap step i), so each side counts most
   next to the observations it started from.

Seeds: ``seed`` fixes the initial parameters (``jax.random.key``), the batch order and
the corruption draws (``numpy.random.default_rng(seed)``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.data.real_series import Scaler, gap_runs
from spectral_manifolds.imputation import classical, learned

__all__ = ["SIZES", "MFImputer", "fit", "manifoldformer", "manifoldformer_bidir", "parameter_count"]

#: Model sizes (ManifoldFormerConfig keywords); the dynamics as in chapter 4.
SIZES = dict(latent_dim=8, hidden=32, decoder_hidden=64, gamma=0.5)
_EPOCHS = {"manifoldformer": (15, 60), "manifoldformer_bidir": (15, 60)}
_CHUNK = 64  # runs per rollout call (padded): the compiled shape does not depend on the mask


def _config(C: int, window: int):
    from spectral_manifolds.manifoldformer import ManifoldFormerConfig

    return ManifoldFormerConfig(n_channels=int(C), memory_len=max(int(window) - 1, 1), **SIZES)


def parameter_count(n_features: int = 1, window: int = 64) -> int:
    """Trainable parameters of one ManifoldFormer of :data:`SIZES` (one direction)."""
    from flax import nnx

    from spectral_manifolds.manifoldformer import ManifoldFormer, count_params

    return count_params(ManifoldFormer(_config(n_features, window), rngs=nnx.Rngs(0)))


def _locf_jax(x, keep):
    """x: (B, T, C); keep: (B, T) bool -> x with dropped steps replaced by the last kept one."""
    import jax
    import jax.numpy as jnp

    T = x.shape[1]
    idx = jnp.where(keep, jnp.arange(T)[None], 0)
    idx = jax.lax.cummax(idx, axis=1)
    return jnp.take_along_axis(x, idx[..., None], axis=1)


def _train(Ws, seeds, *, epochs: int, batch: int, lr: float, max_corrupt: float):
    """Train one model per (direction, seed) in one vmapped program.

    Args:
        Ws: one window set (N, L, C) per direction (NaN = unobserved target), each already
            centred on its windows' local level.
        seeds: the seeds; member (k, s) trains on ``Ws[k]`` with seed s.

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
    data = (jnp.asarray(np.stack(filled), jnp.float32), jnp.asarray(np.stack(observed), jnp.float32))  # (K, N, L, C)
    tx = optax.adamw(float(lr), weight_decay=1e-4)
    members = [(k, int(s)) for k in range(len(Ws)) for s in seeds]
    ps, rs, ss, orders, rates = [], [], [], [], []
    for k, s in members:
        g, p, r = nnx.split(ManifoldFormer(_config(C, L), rngs=nnx.Rngs(params=jax.random.key(s))), nnx.Param, ...)
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
    graphdef = g

    def member_step(p, r, s, d, ix, rt, key):
        x, m = data[0][d][ix], data[1][d][ix]
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

    vstep = jax.vmap(member_step, in_axes=(0, 0, 0, 0, 0, 0, 0))

    @jax.jit
    def epoch_fn(P, S, idx_e, rate_e, keys, e):
        def body(carry, b):
            P, S = carry
            k = jax.vmap(lambda k: jax.random.fold_in(k, e * nb + b))(keys)
            P, S, loss = vstep(P, R, S, direction, idx_e[:, b], rate_e[:, b], k)
            return (P, S), loss

        (P, S), losses = jax.lax.scan(body, (P, S), jnp.arange(nb))
        return P, S, losses.mean(axis=0)

    step = runtime.compile_with_notice(epoch_fn, P, S, idx[0], rate[0], keys, 0, name="ManifoldFormer imputer train step")
    history = []
    for e in runtime.progress(range(epochs), desc=f"ManifoldFormer imputer ({len(members)} members)", unit="epoch", leave=False):
        P, S, loss = step(P, S, idx[e], rate[e], keys, e)
        history.append(loss)
    runtime.block(P)
    n = len(seeds)
    part = lambda t, k: jax.tree_util.tree_map(lambda a: a[k * n : (k + 1) * n], t)  # noqa: E731
    return [(graphdef, part(P, k), part(R, k)) for k in range(len(Ws))], np.asarray(history).T


@dataclass
class MFImputer:
    """Trained ManifoldFormer imputers, one per seed (and per direction).

    Attributes:
        seeds: (M,) seeds; scaler: fitted on the observed training values; window: L.
        forward, backward: ``(graphdef, params, rest)`` stacked over seeds (backward None
            unless trained with ``bidirectional=True``).
        history: (M, epochs) training loss of the forward models; fit_seconds: wall time.
    """

    seeds: tuple
    scaler: Scaler
    window: int
    context: int
    forward: tuple
    backward: tuple | None
    history: np.ndarray
    fit_seconds: float
    _compiled: dict = field(default_factory=dict, repr=False)

    def _rollout(self, which: str, ctx: np.ndarray, n: int) -> np.ndarray:
        """ctx (B, K, C) scaled -> (M, B, n, C) latent-rollout fills."""
        import jax
        import jax.numpy as jnp
        from flax import nnx

        graphdef, P, R = self.forward if which == "forward" else self.backward
        key = (which, n)
        if key not in self._compiled:
            def one(p, r, c):
                return nnx.merge(graphdef, p, r).impute_latent(c, n)

            f = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))
            self._compiled[key] = runtime.compile_with_notice(f, P, R, jnp.zeros((_CHUNK,) + ctx.shape[1:], jnp.float32), name=f"ManifoldFormer rollout of {n} steps")
        out = []
        for lo in range(0, len(ctx), _CHUNK):
            chunk = ctx[lo : lo + _CHUNK]
            pad = np.concatenate([chunk, np.repeat(chunk[-1:], _CHUNK - len(chunk), axis=0)])
            out.append(np.asarray(self._compiled[key](P, R, jnp.asarray(pad, jnp.float32)))[:, : len(chunk)])
        return np.concatenate(out, axis=1)

    def _direction(self, z: np.ndarray, which: str) -> np.ndarray:
        """(M, T, C) scaled fills of every missing step of z (T, C) from one direction."""
        miss = np.isnan(z).any(axis=1)
        pre = classical.locf(z)
        M = len(self.seeds)
        out = np.repeat(pre[None], M, axis=0)
        starts, lengths = gap_runs(miss)
        if starts.size == 0:
            return out
        K = self.context
        padded = np.concatenate([np.repeat(pre[:1], K, axis=0), pre])  # edge-padded history
        ctx = np.stack([padded[s : s + K] for s in starts])  # steps s-K .. s-1 of pre
        raw = np.concatenate([np.repeat(z[:1], K, axis=0), z])
        level = learned.window_level(np.stack([raw[s : s + K] for s in starts]))  # (B, 1, C), observed context only
        n = int(2 ** np.ceil(np.log2(lengths.max())))
        fills = self._rollout(which, ctx - level, n) + level[None]
        for i, (s, L) in enumerate(zip(starts, lengths)):
            out[:, s : s + L] = fills[:, i, :L]
        return out

    def fill(self, x: np.ndarray, *, bidirectional: bool = False) -> np.ndarray:
        """Fill the NaN of x ((T,) or (T, C), original units): (M, *x.shape), one fill per
        seed; observed entries unchanged."""
        return self.fill_both(x, bidirectional=bidirectional)[1 if bidirectional else 0]

    def fill_both(self, x: np.ndarray, *, bidirectional: bool = True) -> tuple:
        """``(causal, bidirectional)`` fills of x, each (M, *x.shape) (the second None
        unless ``bidirectional``); the forward rollout is computed once for both."""
        x = np.asarray(x, dtype=np.float64)
        x2 = x[:, None] if x.ndim == 1 else x
        z = self.scaler.transform(x2)
        fwd = self._direction(z, "forward")
        both = None
        if bidirectional:
            if self.backward is None:
                raise ValueError("this imputer was fitted without the backward model (bidirectional=False)")
            bwd = self._direction(z[::-1].copy(), "backward")[:, ::-1]
            starts, lengths = gap_runs(np.isnan(z).any(axis=1))
            w = np.ones(z.shape[0])
            for s, L in zip(starts, lengths):
                w[s : s + L] = (L - np.arange(L)) / (L + 1.0)
            both = w[None, :, None] * fwd + (1 - w[None, :, None]) * bwd

        def out(f):
            if f is None:
                return None
            o = np.where(np.isnan(x2)[None], self.scaler.inverse(f), x2[None])
            return o[..., 0] if x.ndim == 1 else o

        return out(fwd), out(both)


def fit(x: np.ndarray, seeds=(0,), *, window: int = 64, context: int = 32, epochs: int | None = None, batch_size: int = 16,
        lr: float = 3e-3, max_corrupt: float = 0.5, train_end: int | None = None, bidirectional: bool = True,
        budget: str | None = None) -> MFImputer:
    """Train ManifoldFormer imputers on ``x[:train_end]`` ((T,) or (T, C), NaN = missing),
    one per seed (vmapped together), forward and, with ``bidirectional``, backward.

    Epochs: ``runtime.sized(quick=15, full=60)`` unless given.
    """
    for name, v in (("window", window), ("context", context), ("batch_size", batch_size)):
        validate.positive_int(name, v)
    if not 0.0 <= float(max_corrupt) < 1.0:
        raise ValueError(f"max_corrupt must be in [0, 1), got {max_corrupt!r}")
    if not float(lr) > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    seeds = tuple(int(s) for s in seeds)
    n_epochs = learned.epochs_for("manifoldformer", epochs, budget, _EPOCHS)
    start = time.perf_counter()
    z, scaler, end = learned.prepare(x, train_end)
    L = int(min(window, end))
    if L < 3:
        raise ValueError(f"the ManifoldFormer needs training windows of at least 3 steps, got {L}")
    W, _ = learned.windows(z[:end].astype(np.float64), L)
    W = W - learned.window_level(W)
    Ws = [W, W[:, ::-1].copy()] if bidirectional else [W]
    models, hist = _train(Ws, seeds, epochs=n_epochs, batch=batch_size, lr=lr, max_corrupt=max_corrupt)
    fwd, bwd = models[0], (models[1] if bidirectional else None)
    return MFImputer(seeds, scaler, L, int(context), fwd, bwd, hist, time.perf_counter() - start)


def manifoldformer(x: np.ndarray, window: int = 64, context: int = 32, epochs: int | None = None, batch_size: int = 16,
                   lr: float = 3e-3, train_end: int | None = None, *, seed: int = 0, budget: str | None = None) -> np.ndarray:
    """Causal ManifoldFormer imputer: a latent rollout from the past of each gap.

    Args:
        x: (T,) or (T, C) float, NaN = missing.
        window: training window length (capped at T); context: steps encoded before a gap.
        epochs: None: ``runtime.sized(quick=15, full=60)``; batch_size, lr: AdamW's.
        train_end: scale and train on ``x[:train_end]`` only.
        seed, budget: as in :func:`~spectral_manifolds.imputation.learned.gru`.

    Returns:
        a filled copy, x's shape, float64; observed entries unchanged.
    """
    imp = fit(x, (seed,), window=window, context=context, epochs=epochs, batch_size=batch_size, lr=lr,
              train_end=train_end, bidirectional=False, budget=budget)
    return imp.fill(x)[0]


def manifoldformer_bidir(x: np.ndarray, window: int = 64, context: int = 32, epochs: int | None = None, batch_size: int = 16,
                         lr: float = 3e-3, train_end: int | None = None, *, seed: int = 0, budget: str | None = None) -> np.ndarray:
    """Forward + backward ManifoldFormer: the two latent rollouts cross-faded across each
    gap. Same arguments and return as :func:`manifoldformer`."""
    imp = fit(x, (seed,), window=window, context=context, epochs=epochs, batch_size=batch_size, lr=lr,
              train_end=train_end, bidirectional=True, budget=budget)
    return imp.fill(x, bidirectional=True)[0]
