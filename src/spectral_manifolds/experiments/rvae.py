"""Chapter 1's runs: train the Riemannian VAE (seed 000_bd4cbe8700a1031d.txt, Stage I).

Task (DESIGN.md, "The seeds' experimental setup"; data from
:func:`spectral_manifolds.data.oscillators.seed_task`): reconstruct the clean signal
``y_recon = clean[:-1]`` from the noisy input ``x = noisy[:-1]``. Loss per batch::

    loss = MSE(x_hat, y_recon) + beta * KL(q(z | x) || Uniform(S^(d-1)))

with the single-sample Monte-Carlo KL of :func:`spectral_manifolds.wrapped_normal.kl_to_uniform`
(nats per time step). Adam (optax) at ``lr = 1e-3`` (seed 000, lesson 3).

:func:`run_many` trains several models in a single compiled program (``jax.vmap`` over
the models): configs that share a ``seed`` share initial weights, batches and noise
draws, so they differ only by what the configs change (``beta``, ``sigma_init``), and
configs with different seeds give the per-seed values that :mod:`spectral_manifolds.report`
pairs by seed. :func:`run_sweep` is one model per ``beta``, :func:`run` the one-``beta``
case. A test set is drawn with a different data seed. Results carry the
per-epoch mean tangent length ``|v|`` (``radius``): pi means samples sit at the antipode
of ``mu`` (the seed's initialization), far above pi that ``sigma`` ran away onto the wide
plateau of the KL (large ``beta``; see :mod:`spectral_manifolds.wrapped_normal`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.data.oscillators import OscillatorData, SeedTaskConfig, seed_task

GEN_BATCH = 64  # the seeds' data come in seeded blocks of 64 samples
TEST_SEED_OFFSET = 1000  # test data seed = config.seed + this


@dataclass(frozen=True)
class Config:
    """Sizes and hyper-parameters of one RVAE training run.

    ``n_train`` and ``n_test`` must be multiples of 64 (the seeds' seeded data blocks);
    ``batch`` must divide ``n_train``.
    """

    latent_dim: int = 21
    epochs: int = 100
    batch: int = 64
    lr: float = 1e-3
    beta: float = 1e-3
    seed: int = 0
    n_train: int = 640
    n_test: int = 128
    seq_len: int = 256
    n_channels: int = 16
    noise: float = 0.1
    n_wraps: int = 8
    sigma_init: float | None = 0.05  # None: the seed's init (sigma ~ softplus(0) = 0.69); see rvae.RVAE

    def __post_init__(self):
        for name in ("latent_dim", "epochs", "batch", "n_train", "n_test", "seq_len", "n_channels"):
            validate.positive_int(name, getattr(self, name))
        if self.latent_dim < 6:
            raise ValueError(f"latent_dim must be >= 6 (the task's oracle has 6 coordinates), got {self.latent_dim}")
        for name in ("n_train", "n_test"):
            if getattr(self, name) % GEN_BATCH:
                raise ValueError(f"{name} must be a multiple of {GEN_BATCH} (seeded data blocks), got {getattr(self, name)}")
        if self.n_train % self.batch:
            raise ValueError(f"batch ({self.batch}) must divide n_train ({self.n_train})")
        if not (self.lr > 0 and np.isfinite(self.lr)):
            raise ValueError(f"lr must be positive and finite, got {self.lr}")
        if not (self.beta >= 0 and np.isfinite(self.beta)):
            raise ValueError(f"beta must be finite and >= 0, got {self.beta}")
        if not (self.noise >= 0 and np.isfinite(self.noise)):
            raise ValueError(f"noise must be finite and >= 0, got {self.noise}")
        if not isinstance(self.n_wraps, (int, np.integer)) or self.n_wraps < 0:
            raise ValueError(f"n_wraps must be a non-negative integer, got {self.n_wraps!r}")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.sigma_init is not None and not (self.sigma_init > 1e-4 and np.isfinite(self.sigma_init)):
            raise ValueError(f"sigma_init must be None or a finite value > 1e-4 (sigma's floor), got {self.sigma_init}")

    def data_config(self, test: bool = False) -> SeedTaskConfig:
        """The :class:`SeedTaskConfig` of the training (or test) data."""
        return SeedTaskConfig(
            seq_len=self.seq_len,
            n_channels=self.n_channels,
            noise=self.noise,
            latent_dim=self.latent_dim,
            n_samples=self.n_test if test else self.n_train,
            batch=GEN_BATCH,
            seed=self.seed + TEST_SEED_OFFSET if test else self.seed,
        )


@dataclass
class Result:
    """History and test metrics of one trained RVAE (one ``beta``).

    Per-epoch histories are means over the epoch's batches. Test metrics are on a
    held-out set: ``test_mse_mean`` decodes the mean direction ``z = mu``,
    ``test_mse_sample`` a sample ``z = exp_mu(v)``; ``test_kl`` is the Monte-Carlo KL
    in nats per time step; ``noise_mse`` is the MSE of the noisy input itself against the
    clean target (what "no denoising" scores) and ``signal_var`` the MSE of predicting 0.
    """

    beta: float
    config: dict
    loss: list[float] = field(default_factory=list)
    mse: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    radius: list[float] = field(default_factory=list)  # mean tangent length |v| (radians) per epoch
    test_mse_mean: float = float("nan")
    test_mse_sample: float = float("nan")
    test_kl: float = float("nan")
    sigma_mean: float = float("nan")  # mean of sigma over test steps and coordinates
    tangent_radius: float = float("nan")  # mean |v| on the test set (radians)
    noise_mse: float = float("nan")
    signal_var: float = float("nan")
    n_params: int = 0
    compile_seconds: float = 0.0
    train_seconds: float = 0.0
    steps_per_second: float = float("nan")
    device: str = ""
    model: object = field(default=None, repr=False, compare=False)  # the trained RVAE (not in to_dict)

    def to_dict(self) -> dict:
        """JSON-able fields (everything but the model)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}


def make_data(config: Config) -> tuple[OscillatorData, OscillatorData]:
    """The training and test sets of ``config`` (seeds' task, different data seeds)."""
    return seed_task(config.data_config(False)), seed_task(config.data_config(True))


def run_sweep(config: Config, betas: Sequence[float]) -> list[Result]:
    """Train one RVAE per ``beta`` (``config.beta`` is ignored); see :func:`run_many`."""
    betas = [float(b) for b in betas]
    if not betas:
        raise ValueError("betas must be a non-empty sequence")
    return run_many([dataclasses.replace(config, beta=b) for b in betas])


def run_many(configs: Sequence[Config]) -> list[Result]:
    """Train one RVAE per config, all in one compiled program (``jax.vmap`` over models).

    The configs may differ only in ``beta``, ``sigma_init`` and ``seed``. Models with the
    same ``seed`` start from the same weights (only the sigma head differs when
    ``sigma_init`` does), see the same batches in the same order (the seeds' fixed
    blocks of data seed ``seed``) and the same latent noise draws, so within a seed the
    runs differ only by what the configs change; a different ``seed`` changes the
    initial weights, the training and test data and the noise draws.

    Returns:
        One :class:`Result` per config, in order.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from spectral_manifolds.rvae import RVAE
    from spectral_manifolds.wrapped_normal import kl_to_uniform

    configs = list(configs)
    if not configs or not all(isinstance(c, Config) for c in configs):
        raise ValueError("configs must be a non-empty sequence of Config")
    base = dataclasses.replace(configs[0], beta=0.0, sigma_init=None, seed=0)
    for c in configs:
        if dataclasses.replace(c, beta=0.0, sigma_init=None, seed=0) != base:
            raise ValueError("run_many: configs may differ only in beta, sigma_init and seed")
    betas = [c.beta for c in configs]
    cfg = configs[0]
    runtime.seed_everything(cfg.seed)
    seeds = sorted({c.seed for c in configs})
    keys = {s: jax.random.split(jax.random.key(s), 3) for s in seeds}  # init, train, test keys per seed
    data = {s: make_data(dataclasses.replace(cfg, seed=s)) for s in seeds}
    n_batches = cfg.n_train // cfg.batch

    def batches(a):  # (n_train, T, C) -> (n_batches, batch, T, C)
        return jnp.asarray(a).reshape(n_batches, cfg.batch, *a.shape[1:])

    xs = jnp.stack([batches(data[c.seed][0].x) for c in configs], axis=1)  # (n_batches, m, batch, T, C)
    ys = jnp.stack([batches(data[c.seed][0].y_recon) for c in configs], axis=1)
    train_keys = jnp.stack([keys[c.seed][1] for c in configs])

    per_model = []
    for c in configs:
        model = RVAE(cfg.n_channels, cfg.latent_dim, sigma_init=c.sigma_init, rngs=nnx.Rngs(params=keys[c.seed][0]))
        graphdef, params = nnx.split(model, nnx.Param)
        per_model.append(params)
    n_params = int(sum(p.size for p in jax.tree.leaves(params)))
    m = len(configs)
    stacked = jax.tree.map(lambda *ps: jnp.stack(ps), *per_model)
    tx = optax.adam(cfg.lr)
    opt_state = jax.vmap(tx.init)(stacked)
    beta_arr = jnp.asarray(betas, dtype=jnp.float32)

    def loss_fn(p, beta, x, y, k):
        out = nnx.merge(graphdef, p)(x, k)
        mse = jnp.mean(jnp.square(out.x_hat - y))
        kl = jnp.mean(kl_to_uniform(out.mu, out.sigma, out.v, cfg.n_wraps))
        radius = jax.lax.stop_gradient(jnp.mean(jnp.linalg.norm(out.v, axis=-1)))
        return mse + beta * kl, (mse, kl, radius)

    def one_model_step(p, state, beta, x, y, k):
        (loss, (mse, kl, radius)), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, beta, x, y, k)
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, jnp.stack([loss, mse, kl, radius])

    # One jitted step for all models (a Python loop over steps: on XLA:CPU a lax.scan
    # over convolutions ran several times slower than the same steps unrolled).
    step = jax.jit(jax.vmap(one_model_step, in_axes=(0, 0, 0, 0, 0, 0)))
    step_keys = jax.vmap(lambda k, e, b: jax.random.fold_in(jax.random.fold_in(k, e), b), in_axes=(0, None, None))
    step_fn = runtime.compile_with_notice(
        step, stacked, opt_state, beta_arr, xs[0], ys[0], train_keys, name=f"RVAE train step ({m} model(s), {len(seeds)} seed(s))"
    )

    history = []
    with runtime.Timer() as timer:
        for e in runtime.progress(range(cfg.epochs), desc=f"RVAE x{m} (epochs)"):
            metrics = []
            for b in range(n_batches):
                stacked, opt_state, met = step_fn(stacked, opt_state, beta_arr, xs[b], ys[b], step_keys(train_keys, e, b))
                metrics.append(met)
            history.append(jnp.mean(jnp.stack(metrics), axis=0))
        runtime.block(stacked)
    history = np.asarray(jnp.stack(history))  # (epochs, m, 4): loss, mse, kl, mean |v|

    @jax.jit
    def evaluate(p, x_test, y_test, test_key):
        mdl = nnx.merge(graphdef, p)
        mean_out = mdl(x_test)
        out = mdl(x_test, test_key)
        kl = kl_to_uniform(out.mu, out.sigma, out.v, cfg.n_wraps)
        return jnp.stack([
            jnp.mean((mean_out.x_hat - y_test) ** 2),
            jnp.mean((out.x_hat - y_test) ** 2),
            jnp.mean(kl),
            jnp.mean(out.sigma),
            jnp.mean(jnp.linalg.norm(out.v, axis=-1)),
        ])

    results = []
    for i, (beta, c) in enumerate(zip(betas, configs)):
        test = data[c.seed][1]
        noise_mse = float(np.mean((test.x - test.y_recon) ** 2))
        signal_var = float(np.mean(test.y_recon**2))
        p_i = jax.tree.map(lambda a: a[i], stacked)
        ev = np.asarray(evaluate(p_i, jnp.asarray(test.x), jnp.asarray(test.y_recon), keys[c.seed][2]))
        results.append(
            Result(
                beta=beta,
                config=dataclasses.asdict(c),
                loss=[float(v) for v in history[:, i, 0]],
                mse=[float(v) for v in history[:, i, 1]],
                kl=[float(v) for v in history[:, i, 2]],
                radius=[float(v) for v in history[:, i, 3]],
                test_mse_mean=float(ev[0]),
                test_mse_sample=float(ev[1]),
                test_kl=float(ev[2]),
                sigma_mean=float(ev[3]),
                tangent_radius=float(ev[4]),
                noise_mse=noise_mse,
                signal_var=signal_var,
                n_params=n_params,
                compile_seconds=step_fn.compile_seconds,
                train_seconds=timer.seconds,
                steps_per_second=cfg.epochs * n_batches / timer.seconds,
                device=runtime.jax_backend(),
                model=nnx.merge(graphdef, p_i),
            )
        )
    return results


def run(config: Config) -> Result:
    """Train one RVAE at ``config.beta``; see :func:`run_sweep`."""
    return run_sweep(config, (config.beta,))[0]
