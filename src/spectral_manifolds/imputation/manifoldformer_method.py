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
   that holds filled gaps. Several seeds train in one ``jax.vmap``-ed program
   (:mod:`.manifoldformer_train`).
3. **Fill** (:meth:`MFImputer.fill`): the series is pre-filled by LOCF (causal); for
   each run of fully missing steps ``[s, s + L)`` the ``context`` steps before it are
   encoded once and the latent state is rolled forward ``L`` steps
   (:meth:`ManifoldFormer.impute_latent`), then decoded. A step where only some channels
   are missing is a run of length 1 (:func:`fill_runs`): a one-step prediction fills its
   missing channels, so scattered missing entries of a (T, C) series never merge into one
   long rollout that ignores the observed channels. The runs of every series of a
   call (:meth:`MFImputer.fill_both_many`: all masks of a test part at once) are grouped
   by their length rounded up to a power of 4 and rolled out in fixed batches
   (``_CHUNK``): one compile per (length, model shape), shared by both directions and by
   imputers of the same channels and window.
   ``bidirectional``: a second model trained on the *time-reversed* series rolls out
   from the future; the two rollouts are cross-faded linearly across the gap (weight
   ``(L - i) / (L + 1)`` on the forward fill at gap step i), so each side counts most
   next to the observations it started from.

Seeds: ``seed`` fixes the initial parameters (``jax.random.key``), the batch order and
the corruption draws (``numpy.random.default_rng(seed)``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.data.real_series import Scaler, gap_runs
from spectral_manifolds.imputation import classical, learned
from spectral_manifolds.imputation.manifoldformer_train import (  # noqa: F401  (_config, SIZES, parameter_count re-exported)
    SIZES, model_config as _config, parameter_count, train_members)

__all__ = ["SIZES", "MFImputer", "fill_runs", "fit", "manifoldformer", "manifoldformer_bidir", "parameter_count"]

_EPOCHS = {"manifoldformer": (15, 60), "manifoldformer_bidir": (15, 60)}
_CHUNK = 64  # runs per rollout call (padded): the compiled shape does not depend on the mask
_ROLLOUTS: dict = {}  # (graphdef, length, context shape, members) -> compiled rollout


def _rollout_fn(graphdef, P, R, ctx_shape: tuple, n: int):
    """The compiled ``(P, R, ctx (_CHUNK, K, C)) -> (M, _CHUNK, n, C)`` rollout of one model shape."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    M = jax.tree_util.tree_leaves(P)[0].shape[0]
    key = (graphdef, int(n), tuple(ctx_shape), M)
    if key not in _ROLLOUTS:
        def one(p, r, c):
            return nnx.merge(graphdef, p, r).impute_latent(c, n)

        f = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))
        _ROLLOUTS[key] = runtime.compile_with_notice(f, P, R, jnp.zeros((_CHUNK,) + tuple(ctx_shape), jnp.float32),
                                                     name=f"ManifoldFormer rollout of {n} steps")
    return _ROLLOUTS[key]


def fill_runs(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, lengths)`` of the runs :class:`MFImputer` fills, in time order, for z (T, C)
    with NaN = missing: each run of steps in which **every** channel is missing (a latent
    rollout of its length), and each step in which only **some** channels are missing, as
    a run of length 1 (a one-step prediction from the context before it: the observed
    channels of the step stay as they are). For C = 1 these are the runs of missing steps."""
    miss = np.isnan(np.asarray(z)).reshape(len(z), -1)
    full = miss.all(axis=1)
    s_full, l_full = gap_runs(full)
    partial = np.flatnonzero(miss.any(axis=1) & ~full)
    starts = np.concatenate([s_full, partial]).astype(int)
    lengths = np.concatenate([l_full, np.ones(partial.size)]).astype(int)
    order = np.argsort(starts, kind="stable")
    return starts[order], lengths[order]


def _bucket(length: int) -> int:
    """The rollout length a run of ``length`` steps gets: the next power of 4 (1, 4, 16, 64,
    ...). A rollout's first steps do not depend on how far it goes, so rounding up only
    costs compute, and few distinct lengths mean few compiles."""
    n = 1
    while n < int(length):
        n *= 4
    return n


@dataclass
class MFImputer:
    """Trained ManifoldFormer imputers, one per seed (and per direction).

    Attributes:
        seeds: (M,) seeds; scaler: fitted on the observed training values; window: L;
            context: steps encoded before a gap.
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

    def _rollout(self, which: str, ctx: np.ndarray, n: int) -> np.ndarray:
        """ctx (B, K, C) scaled -> (M, B, n, C) latent-rollout fills."""
        import jax.numpy as jnp

        graphdef, P, R = self.forward if which == "forward" else self.backward
        step = _rollout_fn(graphdef, P, R, ctx.shape[1:], n)
        out = []
        for lo in range(0, len(ctx), _CHUNK):
            chunk = ctx[lo : lo + _CHUNK]
            pad = np.concatenate([chunk, np.repeat(chunk[-1:], _CHUNK - len(chunk), axis=0)])
            out.append(np.asarray(step(P, R, jnp.asarray(pad, jnp.float32)))[:, : len(chunk)])
        return np.concatenate(out, axis=1)

    def _directions(self, zs: Sequence[np.ndarray], which: str) -> list[np.ndarray]:
        """Per series z (T, C) of ``zs``: (M, T, C) scaled fills of every missing step from one direction."""
        K, M = self.context, len(self.seeds)
        outs, runs, ctxs, levels = [], [], [], []
        for b, z in enumerate(zs):
            pre = classical.locf(z)
            outs.append(np.repeat(pre[None], M, axis=0))
            starts, lengths = fill_runs(z)
            if starts.size == 0:
                continue
            padded = np.concatenate([np.repeat(pre[:1], K, axis=0), pre])  # edge-padded history
            raw = np.concatenate([np.repeat(z[:1], K, axis=0), z])
            ctxs.append(np.stack([padded[s : s + K] for s in starts]))  # steps s-K .. s-1 of pre
            levels.append(learned.window_level(np.stack([raw[s : s + K] for s in starts])))  # (B, 1, C), observed context only
            runs += [(b, int(s), int(L)) for s, L in zip(starts, lengths)]
        if not runs:
            return outs
        ctx, level = np.concatenate(ctxs), np.concatenate(levels)
        bucket = np.asarray([_bucket(L) for _, _, L in runs])
        for n in np.unique(bucket):
            sel = np.flatnonzero(bucket == n)
            fills = self._rollout(which, ctx[sel] - level[sel], int(n)) + level[sel][None]
            for j, i in enumerate(sel):
                b, s, L = runs[i]
                outs[b][:, s : s + L] = fills[:, j, :L]
        return outs

    def fill(self, x: np.ndarray, *, bidirectional: bool = False) -> np.ndarray:
        """Fill the NaN of x ((T,) or (T, C), original units): (M, *x.shape), one fill per
        seed; observed entries unchanged."""
        return self.fill_both(x, bidirectional=bidirectional)[1 if bidirectional else 0]

    def fill_both(self, x: np.ndarray, *, bidirectional: bool = True) -> tuple:
        """``(causal, bidirectional)`` fills of x, each (M, *x.shape) (the second None
        unless ``bidirectional``); the forward rollout is computed once for both."""
        causal, both = self.fill_both_many([x], bidirectional=bidirectional)
        return causal[0], both[0]

    def fill_both_many(self, xs: Sequence[np.ndarray], *, bidirectional: bool = True) -> tuple[list, list]:
        """:meth:`fill_both` of every series of ``xs`` (each (T,) or (T, C)) in one set of
        rollouts: ``(causal fills, bidirectional fills)``, lists over ``xs`` of (M, *x.shape)
        arrays (the second list holds None unless ``bidirectional``)."""
        if bidirectional and self.backward is None:
            raise ValueError("this imputer was fitted without the backward model (bidirectional=False)")
        xs = [np.asarray(x, dtype=np.float64) for x in xs]
        x2s = [x[:, None] if x.ndim == 1 else x for x in xs]
        zs = [self.scaler.transform(x2) for x2 in x2s]
        fwds = self._directions(zs, "forward")
        boths = [None] * len(xs)
        if bidirectional:
            bwds = [f[:, ::-1] for f in self._directions([z[::-1].copy() for z in zs], "backward")]
            for i, z in enumerate(zs):
                starts, lengths = fill_runs(z)
                w = np.ones(z.shape[0])
                for s, L in zip(starts, lengths):
                    w[s : s + L] = (L - np.arange(L)) / (L + 1.0)
                boths[i] = w[None, :, None] * fwds[i] + (1 - w[None, :, None]) * bwds[i]

        def out(f, x, x2):
            if f is None:
                return None
            o = np.where(np.isnan(x2)[None], self.scaler.inverse(f), x2[None])
            return o[..., 0] if x.ndim == 1 else o

        return [out(f, x, x2) for f, x, x2 in zip(fwds, xs, x2s)], [out(f, x, x2) for f, x, x2 in zip(boths, xs, x2s)]


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
    models, hist = train_members(Ws, seeds, epochs=n_epochs, batch=batch_size, lr=lr, max_corrupt=max_corrupt)
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
