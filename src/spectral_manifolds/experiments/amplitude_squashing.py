"""Chapter 5's amplitude-squashing experiment (seed 001_a78d46c299591382.txt, §5 table).

Seed 001 motivates its log-magnitude loss by "Minimizing MSE allows the signal to
'squash' (decay) because zero energy is a safe local minimum". This experiment isolates
the mechanism with one parameter.

Setup: a broadband template ``x`` (white noise, T samples). Each target ``y_i`` has
exactly ``x``'s magnitude spectrum but phases jittered per bin by ``phi_{i,f} ~ N(0, s^2)``
(DC and Nyquist kept real): the target's *amplitude* is known, its *phase* uncertain.
The model predicts ``a * x`` for every sample; ``a`` is fitted by Adam, from a start
below and one above the true amplitude 1, under

* MSE: ``mean_i |a x - y_i|^2``, whose minimizer is ``a* = sum_f |X_f|^2 <cos phi_f> / sum_f |X_f|^2``,
  about ``exp(-s^2 / 2)``: the more uncertain the phase, the more MSE shrinks the output;
* log-magnitude (:func:`spectral_manifolds.losses.log_magnitude_loss`): every bin costs
  ``|log a|``, so ``a* = 1`` whatever the phase uncertainty;
* the seeds' fidelity loss (:func:`spectral_manifolds.losses.seed_fidelity_loss`):
  log-magnitude plus a phase term that does not depend on ``a``;
* the book's repaired :func:`spectral_manifolds.losses.spectral_loss` (magnitude-weighted,
  floored).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime

LOSSES = ("mse", "log_magnitude", "seed_fidelity", "spectral")


@dataclass(frozen=True)
class SquashConfig:
    """Sizes of the squashing experiment; chapter 5 picks them with ``runtime.sized``.

    sigmas: phase-jitter standard deviations (radians); n_targets: targets per sigma;
    T: samples per signal; a_inits: starting amplitudes (one fit from each: 0.2 starts
    below the true amplitude 1, 3 above it, so neither loss starts at its optimum);
    seeds: one template and one set of phase-noise draws per seed (the verdicts' seeds);
    steps, lr: Adam with cosine decay.
    """

    sigmas: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
    n_targets: int = 32
    T: int = 128
    a_inits: tuple[float, ...] = (0.2, 3.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 300
    lr: float = 0.05
    losses: tuple[str, ...] = LOSSES

    def __post_init__(self):
        if not self.sigmas or any(not math.isfinite(s) or s < 0 for s in self.sigmas):
            raise ValueError(f"sigmas must be non-empty, finite and >= 0, got {self.sigmas}")
        for name in ("n_targets", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.T < 4:
            raise ValueError(f"T must be >= 4, got {self.T}")
        if not self.a_inits or any(not a > 0 for a in self.a_inits) or not self.lr > 0:
            raise ValueError(f"a_inits must be non-empty and positive and lr positive, got {self.a_inits}, {self.lr}")
        if not self.seeds:
            raise ValueError("seeds must hold at least one seed")
        if not self.losses or any(name not in LOSSES for name in self.losses):
            raise ValueError(f"losses must be a non-empty subset of {LOSSES}, got {self.losses}")


@dataclass
class SquashResult:
    """Fitted amplitude per loss, seed, start and sigma, with histories and closed forms.

    ``fitted[loss]``: (seeds, a_inits, sigmas); ``histories[loss]``: (seeds, a_inits,
    sigmas, steps); ``mse_optimum``: (seeds, sigmas), the exact MSE minimizer on each
    seed's targets; ``gaussian_theory``: (sigmas,), ``exp(-sigma^2 / 2)``.
    """

    sigmas: list[float] = field(default_factory=list)
    a_inits: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    fitted: dict = field(default_factory=dict)
    histories: dict = field(default_factory=dict)
    mse_optimum: list = field(default_factory=list)
    gaussian_theory: list[float] = field(default_factory=list)
    compile_seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_targets(config: SquashConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Template ``x: (T,)`` and targets ``y: (S, N, T)``, float32 (S sigmas, N targets each)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(config.T)
    X = np.fft.rfft(x)
    F = X.size
    ys = []
    for s in config.sigmas:
        phi = s * rng.standard_normal((config.n_targets, F))
        phi[:, 0] = 0.0  # DC stays real
        if config.T % 2 == 0:
            phi[:, -1] = 0.0  # so does the Nyquist bin
        ys.append(np.fft.irfft(X * np.exp(1j * phi), n=config.T))
    return x.astype(np.float32), np.stack(ys).astype(np.float32)


def run(config: SquashConfig) -> SquashResult:
    """Fit the amplitude ``a`` under each loss, for every seed, start and sigma at once (vmapped)."""
    import jax
    import jax.numpy as jnp
    import optax

    from spectral_manifolds.losses import log_magnitude_loss, seed_fidelity_loss, spectral_loss

    runtime.seed_everything(config.seeds[0])
    drawn = [make_targets(config, s) for s in config.seeds]
    x_np = np.stack([d[0] for d in drawn])  # (R, T)
    y_np = np.stack([d[1] for d in drawn])  # (R, S, N, T)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    S = len(config.sigmas)
    result = SquashResult(sigmas=[float(s) for s in config.sigmas], a_inits=[float(a) for a in config.a_inits],
                          seeds=[int(s) for s in config.seeds])
    result.gaussian_theory = [math.exp(-(s**2) / 2) for s in config.sigmas]
    result.mse_optimum = [[float(np.mean(y_np[r, i] @ x_np[r]) / float(x_np[r] @ x_np[r])) for i in range(S)]
                          for r in range(len(config.seeds))]

    def loss_of(name, a, template, targets):  # a: scalar, template: (T,), targets: (N, T)
        pred = a * jnp.broadcast_to(template, targets.shape)
        if name == "mse":
            return jnp.mean((pred - targets) ** 2)
        p3, y3 = pred[..., None], targets[..., None]  # (N, T, 1): one channel per target
        if name == "log_magnitude":
            return log_magnitude_loss(p3, y3)
        if name == "spectral":
            return spectral_loss(p3, y3)
        return seed_fidelity_loss(p3, y3)

    tx = optax.adam(optax.cosine_decay_schedule(config.lr, config.steps))
    a0 = jnp.asarray(config.a_inits, jnp.float32)  # (I,)
    n_fits = len(config.seeds) * len(config.a_inits) * S
    print(f"Compiling {len(config.losses)} amplitude fits with JAX ({n_fits} fits each: "
          f"{len(config.seeds)} seeds x {len(config.a_inits)} starts x {S} sigmas, {config.steps} steps)...", flush=True)
    compiled = {}
    with runtime.Timer() as total:
        for name in config.losses:

            def fit(a_start, template, targets, name=name):
                def step(carry, _):
                    a, state = carry
                    g = jax.grad(lambda a_: loss_of(name, a_, template, targets))(a)
                    upd, state = tx.update(g, state, a)
                    a = optax.apply_updates(a, upd)
                    return (a, state), a

                (_, _), path = jax.lax.scan(step, (a_start, tx.init(a_start)), None, length=config.steps)
                return path  # (steps,)

            over_sigmas = jax.vmap(fit, in_axes=(None, None, 0))  # targets (S, N, T)
            over_inits = jax.vmap(over_sigmas, in_axes=(0, None, None))  # a0 (I,)
            over_seeds = jax.vmap(over_inits, in_axes=(None, 0, 0))  # template (R, T), targets (R, S, N, T)
            compiled[name] = jax.jit(over_seeds).lower(a0, x, y).compile()
    result.compile_seconds = total.seconds
    print(f"Compiled in {total.seconds:.2f} s on {runtime.jax_backend()}.", flush=True)
    for name in runtime.progress(config.losses, desc="losses"):
        paths = np.asarray(runtime.block(compiled[name](a0, x, y)), np.float64)  # (R, I, S, steps)
        result.histories[name] = paths.tolist()
        result.fitted[name] = paths[..., -1].tolist()
    return result


def verdicts(result: SquashResult) -> dict:
    """Claim "loss L keeps the amplitude better than MSE" at the largest sigma, per start.

    Metric: ``|a_fitted - 1|`` (lower is better), paired by seed; decided by
    :func:`spectral_manifolds.report.compare`. Returns ``{loss: {a_init: Comparison}}``
    for every fitted loss other than MSE.
    """
    from spectral_manifolds import report

    if "mse" not in result.fitted:
        raise ValueError("the verdicts compare with MSE: fit 'mse' too")
    mse = np.abs(np.asarray(result.fitted["mse"])[:, :, -1] - 1.0)  # (R, I)
    out = {}
    for name, fitted in result.fitted.items():
        if name == "mse":
            continue
        err = np.abs(np.asarray(fitted)[:, :, -1] - 1.0)
        out[name] = {a: report.compare(err[:, i], mse[:, i], lower_is_better=True) for i, a in enumerate(result.a_inits)}
    return out
