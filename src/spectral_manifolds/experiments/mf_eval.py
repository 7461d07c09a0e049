"""Chapter 4's evaluation: held-out metrics, gap imputation with its classical floors,
and the step-size measurement of a trained field (seed 000_bd4cbe8700a1031d.txt,
lessons 1 and 2). Every function evaluates all members of a
:class:`spectral_manifolds.experiments.mf_train.Group` in one ``jax.vmap``-ed program,
compiled afresh per call.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from spectral_manifolds import runtime
from spectral_manifolds.data.gaps import linear_fill
from spectral_manifolds.data.oscillators import OscillatorData
from spectral_manifolds.experiments import mf_floors


EVAL_CHUNK = 64  # test samples per evaluation call (see teacher_forced)


def _chunked_mean(f, *samples) -> np.ndarray:
    """The mean over samples of ``f(i, *chunk_i)``, evaluated on chunks of ``EVAL_CHUNK``.

    ``f`` returns per-member means over its chunk (every sample weighs the same); the
    chunks' results are averaged weighted by their sizes. All members at once over the
    whole test set would hold (M, B, T, T) attention weights: hundreds of GiB at the full
    budget.
    """
    n, total = len(samples[0]), 0.0
    for i, lo in enumerate(range(0, n, EVAL_CHUNK)):
        hi = min(n, lo + EVAL_CHUNK)
        total = total + np.asarray(f(i, *(a[lo:hi] for a in samples)), np.float64) * (hi - lo)
    return total / n


def _h(group) -> np.ndarray:
    return np.asarray([c.h for c in group.configs], np.float32)


def teacher_forced(group, data: OscillatorData, seed: int = 0) -> dict:
    """Teacher-forced test metrics of every member, each ``(M,)``.

    Returns ``pred_mse``, ``recon_mse`` decoding ``z = mu``; ``pred_mse_sample``,
    ``recon_mse_sample`` decoding one tangent sample (PRNG ``seed``; NaN when no member
    of the group trains on samples); ``sigma``, the mean encoder scale.
    """
    import jax
    import jax.numpy as jnp
    from flax import nnx

    graphdef = group.graphdefs[0]
    sampled = any(c.sample for c in group.configs)  # the sampler costs compile time: only when used

    def one(p, r, h, x, yn, yr, key):
        m = nnx.merge(graphdef, p, r)
        mu, sigma = m.vae.encode(x)
        out = []
        for z in (mu, m.sample(key, mu, sigma)[0]) if sampled else (mu,):
            out += [jnp.mean((m.decode(m.advance(z, h=h)) - yn) ** 2), jnp.mean((m.decode(z) - yr) ** 2)]
        if not sampled:
            out += [jnp.nan, jnp.nan]
        return jnp.stack(out + [jnp.mean(sigma)])

    f = jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None, None, None, None)))
    h, key = jnp.asarray(_h(group)), jax.random.key(seed)
    v = _chunked_mean(lambda i, x, yn, yr: f(group.params, group.rest, h, x, yn, yr, jax.random.fold_in(key, i)), data.x, data.y_next, data.y_recon)
    return {"pred_mse": v[:, 0], "recon_mse": v[:, 1], "pred_mse_sample": v[:, 2], "recon_mse_sample": v[:, 3], "sigma": v[:, 4]}


# --------------------------------------------------------------------------- lesson 1
@dataclass
class Imputation:
    """Gap errors of every member's two rollouts and of the classical floors (lesson 1).

    Attributes:
        gap_lengths: (G,) gap lengths L; gap_start: first missing step (context ``[0, gap_start)``).
        names, seeds: the group's members (setting, seed).
        latent, feedback: (M, G) MSE against the clean signal over the first L gap steps,
            averaged over test samples and channels.
        floors: ``{name: (G,)}`` the same for linear interpolation, the sinusoid fit and AR(p).
        freqs: the frequencies the sinusoid fit used (cycles per step); ar_order: p.
        example: arrays of one test sample, longest gap, first member (for plotting).
        seconds: wall time of the rollouts (compile included).
    """

    gap_lengths: list[int]
    gap_start: int
    names: list[str]
    seeds: list[int]
    latent: np.ndarray
    feedback: np.ndarray
    floors: dict
    freqs: np.ndarray
    ar_order: int
    example: dict = field(default_factory=dict, repr=False)
    seconds: float = 0.0

    def values(self, name: str, which: str, gap: int | None = None) -> np.ndarray:
        """(S,) per-seed gap MSE of setting ``name``'s ``which`` rollout ("latent" or
        "feedback") at gap length ``gap`` (default: the longest)."""
        g = self.gap_lengths.index(self.gap_lengths[-1] if gap is None else int(gap))
        idx = [i for i, n in enumerate(self.names) if n == name]
        if not idx:
            raise KeyError(f"no setting {name!r}")
        return getattr(self, which)[idx, g]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("latent", "feedback", "freqs"):
            d[k] = np.asarray(d[k]).tolist()
        d["floors"] = {k: np.asarray(v).tolist() for k, v in self.floors.items()}
        d["example"] = {k: np.asarray(v).tolist() for k, v in self.example.items()}
        return d


def imputation(group, gap_lengths: Sequence[int], *, gap_start: int | None = None, n_samples: int | None = None, n_freqs: int | None = None, ar_order: int | None = None, example: int = 0) -> Imputation:
    """Impute gaps of several lengths after the same context, for every member (lesson 1).

    Both rollouts use only the context ``x[:, :gap_start]`` (causal), so one rollout of
    the longest length gives every shorter gap: its first ``L`` steps. The floors:
    linear interpolation (sees the first observed step after the gap: an easier game),
    and two forecasts from the context alone: a least-squares sinusoid fit at the
    ``n_freqs`` frequencies the training set gives by ESPRIT (default: as many as the
    data config lists) and AR(``ar_order``) fitted on the training set (default ``4 n_freqs``).
    Errors are MSE against the clean signal ``y_recon``.
    """
    import jax
    from flax import nnx

    lengths = sorted({int(g) for g in gap_lengths})
    if not lengths or lengths[0] < 1:
        raise ValueError(f"gap_lengths must be positive integers, got {list(gap_lengths)}")
    if len({c.h for c in group.configs}) != 1:
        raise ValueError("imputation needs members with one step size h")
    data = group.test
    T, L = data.seq_len, lengths[-1]
    start = T - L - 1 if gap_start is None else int(gap_start)
    if start < 1 or start + L >= T:
        raise ValueError(f"gap_start={start} with gaps up to {L} needs 1 <= gap_start and gap_start + {L} < T = {T}")
    d = data if n_samples is None else data.subset(slice(0, int(n_samples)))
    graphdef = group.graphdefs[0]

    def one(p, r, xc):
        m = nnx.merge(graphdef, p, r)
        return m.impute_latent(xc, L), m.feedback_rollout(xc, L)

    with runtime.Timer() as t:
        lat, fb = jax.block_until_ready(jax.jit(jax.vmap(one, in_axes=(0, 0, None)))(group.params, group.rest, d.x[:, :start]))
    lat, fb = np.asarray(lat), np.asarray(fb)  # (M, N, L, C)
    truth = d.y_recon[:, start : start + L]
    k = int(n_freqs or len(group.configs[0].data.freqs))
    freqs = mf_floors.estimate_frequencies(group.train_data.x, k)
    p = int(ar_order or 4 * k)
    coef = mf_floors.fit_ar(group.train_data.x, p, max_rows=500_000)
    context = d.x[:, :start]
    sin_fc = mf_floors.sinusoid_forecast(context, freqs, L)
    ar_fc = mf_floors.ar_forecast(context, coef, L)
    steps = np.arange(T)
    err = lambda a, g: float(np.mean((a[..., :g, :] - truth[:, :g]) ** 2))  # noqa: E731
    floors = {"linear interpolation": [], "sinusoid fit": [], f"AR({p})": []}
    for g in lengths:
        mask = (steps >= start) & (steps < start + g)
        floors["linear interpolation"].append(err(linear_fill(d.x, mask)[:, start : start + g], g))
        floors["sinusoid fit"].append(err(sin_fc, g))
        floors[f"AR({p})"].append(err(ar_fc, g))
    per = lambda a: np.asarray([[np.mean((a[m, :, :g] - truth[:, :g]) ** 2) for g in lengths] for m in range(a.shape[0])])  # noqa: E731
    mask = (steps >= start) & (steps < start + L)
    ex = {
        "t": steps, "truth": d.y_recon[example], "observed": np.where(mask[:, None], np.nan, d.x[example]),
        "latent": lat[0, example], "feedback": fb[0, example], "sinusoid fit": sin_fc[example], f"AR({p})": ar_fc[example],
        "linear": linear_fill(d.x[example], mask)[start : start + L],
    }
    return Imputation(lengths, start, list(group.names), list(group.seeds), per(lat), per(fb), {k_: np.asarray(v) for k_, v in floors.items()}, freqs, p, ex, t.seconds)


# --------------------------------------------------------------------------- lesson 2
def substep_gap(group, data: OscillatorData | None = None, n_substeps: int = 4) -> dict:
    """How far one RK4 step of ``h = 1`` is from ``n_substeps`` substeps on each trained field.

    On the held-out encodings ``mu`` (teacher forcing), per member (``(M,)`` arrays):
    ``rotation``, the mean geodesic length of one step ``dist(Step(z), z)`` (radians per
    data step); ``one_vs_sub``, the mean ``dist(Step_1(z), Step_n(z))`` between one step
    of ``h = 1`` and ``n`` substeps of ``1/n`` (same field, same total time); and
    ``relative`` = one_vs_sub / rotation.
    """
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from spectral_manifolds import sphere

    d = group.test if data is None else data
    graphdef = group.graphdefs[0]

    def one(p, r, x):
        m = nnx.merge(graphdef, p, r)
        mu, _ = m.vae.encode(x)
        a, b = m.field.step(mu, h=1.0, n_substeps=1), m.field.step(mu, h=1.0, n_substeps=n_substeps)
        return jnp.stack([jnp.mean(sphere.dist(a, mu)), jnp.mean(sphere.dist(a, b))])

    f = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))
    v = _chunked_mean(lambda i, x: f(group.params, group.rest, x), d.x)
    return {"rotation": v[:, 0], "one_vs_sub": v[:, 1], "relative": v[:, 1] / np.maximum(v[:, 0], 1e-12)}
