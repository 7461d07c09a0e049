"""Does the seeds' loss reward a latent that barely moves? (issue 10, fact 5; chapter 8)

The seeds' loss (seed 001_a78d46c299591382.txt, sections 12-14) is the fractional fidelity
loss plus ``0.05 x`` the power spectral entropy of ``z_next`` over time
(``ladder.latent_entropy``). The entropy counts the DC bin: a coordinate whose time mean
dominates has its power in bin 0 and an entropy near 0. Issue 10 reports, from outside
this project, that under that loss the time-mean energy rises from 0.65 to 0.86-0.97 and
the oracle distance climbs toward the constant latent's ``sqrt(2/21) = 0.309``.

:func:`run` trains chapter 7's model of section 14 (``seed_runs.SECTION_14``:
``ladder.LadderModel``, the RVAE's causal-conv encoder with tangent sampling, one RK4 step
of the zero-initialized Kuramoto field, the RVAE's decoder) on the seeds' main task under
the three losses of :data:`VARIANTS`, every (loss, seed) pair in one ``jax.vmap``-ed step,
and after each epoch scores the sampled latent ``z`` (the one ``ladder.metrics`` scores)
and the encoder mean ``mu`` on held-out samples (draw :attr:`Config.test_seed`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from spectral_manifolds import geometry_metric as G
from spectral_manifolds import report, runtime, sphere, validate
from spectral_manifolds.alignment import oracle_distances
from spectral_manifolds.data.oscillators import seed_task
from spectral_manifolds.experiments.ladder import ENCODERS, LadderModel, fidelity_loss, latent_entropy
from spectral_manifolds.experiments.ladder.seed_runs import SECTION_14

__all__ = ["VARIANTS", "SEEDS_LOSS", "CENTRED", "FIDELITY", "METRICS", "SEEDS_EPOCHS", "Config", "Result", "time_mean_energy",
           "pull_rows", "default_config", "run", "checkpoints", "verdict_rows", "summary_rows", "plot"]

SEEDS_LOSS, CENTRED, FIDELITY = "seeds' loss (entropy counts DC)", "entropy of the centred latent", "fidelity alone"
#: label -> (entropy weight, centre z_next over time before the entropy)
VARIANTS = {SEEDS_LOSS: (SECTION_14.config.entropy_weight, False), CENTRED: (SECTION_14.config.entropy_weight, True), FIDELITY: (0.0, False)}
#: held-out: z's time-mean energy, centred share (``geometry_metric.centred_variance``) and
#: seeds' oracle distance, mu's energy and distance; training: fidelity and optimized entropy.
METRICS = ("time_mean_energy", "centred_share", "oracle_distance", "time_mean_energy_mu", "oracle_distance_mu", "fidelity", "entropy")
SEEDS_EPOCHS = SECTION_14.config.epochs  # the seeds' run length (sections 12 and 14: 5 epochs)
ISSUE_ENERGY, ISSUE_ENERGY_RANGE = 0.65, (0.86, 0.97)  # issue 10's figures (outside this project)


@dataclass(frozen=True)
class Config:
    """Sizes of :func:`run`; the defaults are the seeds' (section 14: batch 64, the same 10
    batches every epoch, adamw 1e-3, 256 time steps) with 5 seeds, run for 20 epochs (the
    seeds ran :data:`SEEDS_EPOCHS`), scored on ``n_test`` samples of draw ``test_seed``."""

    seeds: int = 5
    epochs: int = 20
    n_batches: int = 10
    batch: int = 64
    seq_len: int = 256
    n_test: int = 256
    test_seed: int = 1

    def __post_init__(self):
        for name in ("seeds", "epochs", "n_batches", "batch", "seq_len", "n_test"):
            validate.positive_int(name, getattr(self, name))
        if self.seeds < 2:
            raise ValueError(f"a paired verdict needs at least 2 seeds, got {self.seeds}")
        if self.test_seed == SECTION_14.config.task.seed:
            raise ValueError("test_seed must differ from the training draw's seed (held-out samples)")

    def ladder_config(self):
        """``seed_runs.SECTION_14.config`` (a ``ladder.Config``) at these sizes."""
        c = SECTION_14.config
        return dataclasses.replace(c, name="entropy collapse", epochs=self.epochs, n_batches=self.n_batches, batch=self.batch,
                                   task=dataclasses.replace(c.task, seq_len=self.seq_len))


def default_config(budget: str | None = None) -> Config:
    """Quick: 3 seeds, 128 time steps, 20 steps of batch 8. Full: :class:`Config`'s defaults."""
    return runtime.sized(quick=Config(seeds=3, epochs=4, n_batches=5, batch=8, seq_len=128, n_test=32), full=Config(), budget_name=budget)


def time_mean_energy(z, *, per_sample: bool = False):
    """``|mean_t z_t|^2``, averaged over samples unless ``per_sample``; ``z``: (B, T, d) or
    (T, d). 1 for a constant unit latent, 0 for a zero time mean; for unit rows it is
    ``1 - geometry_metric.centred_variance(z)``."""
    z3, unbatched = validate.sequence(np.asarray(z, dtype=np.float64), "z", finite=True)
    e = np.sum(np.mean(z3, axis=1) ** 2, axis=-1)
    return (e[0] if unbatched else e) if per_sample else float(np.mean(e))


def pull_rows(pulls=(0.0, 1.0, 3.0, 10.0), *, n: int = 64, steps: int = 255, d: int = 21, seed: int = 0) -> list[dict]:
    """The mechanism: a white unit latent ``r`` ((n, steps, d)) pulled toward a fixed unit
    direction, ``normalize(r + c u)``: per pull ``c``, the time-mean energy, the seeds'
    entropy (counts bin 0) and the entropy of the centred latent."""
    r = sphere.normalize(jnp.asarray(np.random.default_rng(seed).standard_normal((n, steps, d)), jnp.float32))
    rows = []
    for c in pulls:
        z = sphere.normalize(r + c / np.sqrt(d))
        rows.append({"pull c": float(c), "time-mean energy": time_mean_energy(np.asarray(z)), "seeds' entropy (nats)": float(latent_entropy(z)),
                     "entropy of the centred latent (nats)": float(latent_entropy(z - jnp.mean(z, axis=1, keepdims=True)))})
    return rows


@dataclass
class Result:
    """``history[variant][metric]``: (seeds, epochs + 1) lists; index 0 before training (the
    first batch for fidelity and entropy), index ``e``: held-out metrics after epoch ``e``,
    the training terms' mean over its batches (each before its update). JSON-able."""

    config: dict
    seeds: list
    history: dict
    n_params: int
    compile_seconds: float
    train_seconds: float  # the training loop of every run together
    steps: int
    device: str = ""
    references: dict = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return len(self.history[SEEDS_LOSS]["fidelity"][0]) - 1

    def at(self, variant: str, metric: str, epoch: int = -1) -> list:
        """Per-seed values after ``epoch`` epochs (0: before training, -1: the last)."""
        return [h[epoch] for h in self.history[variant][metric]]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _loss(model, x, y_next, key, weight, centre):
    """The seeds' objective (``ladder.terms`` with rotation "none"), the entropy optionally centred."""
    z, _ = model.encode(x, key, ENCODERS.index("sphere_sample"))
    z_next = model.field.step(z, h=1.0, freeze_keys=model.freeze_keys)
    fid = fidelity_loss(model.vae.decode(z_next), y_next)
    ent = latent_entropy(z_next - centre * jnp.mean(z_next, axis=1, keepdims=True), "power")
    return fid + weight * ent, (fid, ent)


def run(config: Config | None = None, *, progress: bool = True) -> Result:
    """Train every variant for seeds ``0 .. seeds - 1`` together. Seed ``s`` starts every
    variant from the same model and draws its latent samples as ``ladder.run_seeds`` does
    (init, noise and evaluation keys split from ``key(s)``; step ``j``: ``fold_in(noise, j)``)."""
    cfg = default_config() if config is None else config
    lc = cfg.ladder_config()
    train = seed_task(lc.data_config)
    test = seed_task(dataclasses.replace(lc.data_config, seed=cfg.test_seed, n_samples=cfg.n_test, batch=cfg.n_test))
    runs = [(v, s) for v in VARIANTS for s in range(cfg.seeds)]
    keys = [jax.random.split(jax.random.key(s), 3) for s in range(cfg.seeds)]
    models = [LadderModel(lc.task, form=lc.form, gamma=lc.gamma, init=lc.init, sigma_init=lc.sigma_init, **lc.dynamics_options(),
                          rngs=nnx.Rngs(params=keys[s][0])) for _, s in runs]
    graphdef, _, rest = nnx.split(models[0], nnx.Param, ...)
    params = jax.tree.map(lambda *xs: jnp.stack(xs), *[nnx.split(m, nnx.Param, ...)[1] for m in models])
    weight, centre = (jnp.asarray([float(VARIANTS[v][j]) for v, _ in runs], jnp.float32) for j in (0, 1))
    noise_keys, eval_keys = (jnp.stack([keys[s][j] for _, s in runs]) for j in (1, 2))
    tx = optax.adamw(lc.lr, weight_decay=lc.weight_decay)
    x, yn, b = jnp.asarray(train.x), jnp.asarray(train.y_next), cfg.batch

    def one_run(p, state, i, key, w, c):
        xb, yb = (jax.lax.dynamic_slice_in_dim(a, i * b, b, axis=0) for a in (x, yn))
        (_, terms), grads = jax.value_and_grad(lambda q: _loss(nnx.merge(graphdef, q, rest), xb, yb, key, w, c), has_aux=True)(p)
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, jnp.stack(terms)

    def evaluate(p, keys):  # every distance from one batched SVD (alignment.oracle_distances)
        z, mu = jax.vmap(lambda q, k: nnx.merge(graphdef, q, rest).encode(jnp.asarray(test.x), k, ENCODERS.index("sphere_sample")))(p, keys)
        n = len(runs)
        return z, mu, oracle_distances([z[r] for r in range(n)] + [mu[r] for r in range(n)], [jnp.asarray(test.oracle)] * (2 * n))

    opt_state = jax.vmap(tx.init)(params)
    step = runtime.compile_with_notice(jax.jit(jax.vmap(one_run, in_axes=(0, 0, None, 0, 0, 0))), params, opt_state, jnp.int32(0),
                                       noise_keys, weight, centre, name=f"entropy-collapse step ({len(runs)} runs vmapped)")
    evaluate = jax.jit(evaluate)
    hist = {v: {m: [[] for _ in range(cfg.seeds)] for m in METRICS} for v in VARIANTS}

    def record(p, terms):
        z, mu, dist = (np.asarray(a) for a in evaluate(p, eval_keys))
        for r, (v, s) in enumerate(runs):
            vals = (time_mean_energy(z[r]), G.centred_variance(z[r]), dist[r], time_mean_energy(mu[r]), dist[len(runs) + r], *terms[r])
            for m, val in zip(METRICS, vals):
                hist[v][m][s].append(float(val))

    record(params, np.asarray(step(params, opt_state, jnp.int32(0), eval_keys, weight, centre)[2]))  # update discarded
    step_keys = jax.vmap(lambda j: jax.vmap(lambda k: jax.random.fold_in(k, j))(noise_keys))(jnp.arange(cfg.epochs * cfg.n_batches))
    seconds = 0.0
    for e in runtime.progress(range(cfg.epochs), desc="entropy collapse", unit="epoch", disable=not progress):
        with runtime.Timer() as t:
            per_batch = []
            for i in range(cfg.n_batches):
                params, opt_state, m = step(params, opt_state, jnp.int32(i), step_keys[e * cfg.n_batches + i], weight, centre)
                per_batch.append(m)
            runtime.block(params)
        seconds += t.seconds
        record(params, np.asarray(jnp.mean(jnp.stack(per_batch), axis=0)))
    refs = {"constant latent": G.collapse_floor(0.0, lc.task.latent_dim)}
    return Result(dataclasses.asdict(cfg), list(range(cfg.seeds)), hist, models[0].n_params(lc), step.compile_seconds, seconds,
                  cfg.epochs * cfg.n_batches, runtime.device_name(), refs)


def checkpoints(res: Result) -> list[int]:
    """The epochs the verdicts read: the seeds' run length (or the last, if shorter) and the last."""
    return sorted({min(SEEDS_EPOCHS, res.epochs), res.epochs})


def verdict_rows(res: Result) -> list[dict]:
    """The three claims at each of :func:`checkpoints`, per-seed values paired by seed."""
    claims = (("the seeds' loss raises the time-mean energy above fidelity alone", "time_mean_energy", SEEDS_LOSS, FIDELITY, False,
               f"{ISSUE_ENERGY} -> {ISSUE_ENERGY_RANGE[0]}-{ISSUE_ENERGY_RANGE[1]}"),
              ("centring the entropy removes the rise", "time_mean_energy", CENTRED, SEEDS_LOSS, True, "—"),
              ("the oracle distance climbs toward 0.309 under the seeds' loss", "oracle_distance", SEEDS_LOSS, FIDELITY, False, "toward 0.309"))
    rows = []
    for e in checkpoints(res):
        for text, m, a, b, lower, fig in claims:
            c = report.compare(res.at(a, m, e), res.at(b, m, e), lower_is_better=lower)
            rows.append(report.verdict_row(f"{text} (epoch {e})", c, seed_figure=fig, a_name=a, b_name=b, metric=f"{m.replace('_', ' ')} of z"))
    return rows


def summary_rows(res: Result) -> list[dict]:
    """Each variant before training and at :func:`checkpoints`: every metric, mean ± std over seeds."""
    return [{"loss, epoch": f"{v}, {e}", **{m.replace("_", " "): report.mean_std(res.at(v, m, e)) for m in METRICS}}
            for v in VARIANTS for e in [0, *checkpoints(res)]]


def plot(res: Result):
    """Three panels over epochs (seed bands): the time-mean energy of z and of mu, the seeds'
    oracle distance of z; issue 10's figures and the constant latent's distance as references."""
    import matplotlib.pyplot as plt

    from spectral_manifolds.plotting import plot_seed_curves

    lo, hi = ISSUE_ENERGY_RANGE
    energy = {f"issue 10: {ISSUE_ENERGY} before": ISSUE_ENERGY, f"issue 10: {lo} after (low end)": lo, f"issue 10: {hi} after (high end)": hi}
    panels = (("time_mean_energy", r"time-mean energy $|\overline{z}|^2$ of z (dimensionless)", energy),
              ("time_mean_energy_mu", r"time-mean energy $|\overline{\mu}|^2$ of mu (dimensionless)", energy),
              ("oracle_distance", "seeds' oracle distance of z (RMSE per entry)", {"constant latent sqrt(2/21)": res.references["constant latent"]}))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    for ax, (m, ylabel, refs) in zip(axes, panels):
        plot_seed_curves({v: np.asarray(res.history[v][m])[:, 1:] for v in VARIANTS}, xlabel="epoch", ylabel=ylabel, logy=False, reference=refs, ax=ax)
    fig.suptitle("Held-out latents under the three losses (band: lowest to highest seed)")
    fig.tight_layout()
    return fig
