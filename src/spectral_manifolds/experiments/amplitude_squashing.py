"""Chapter 5's amplitude-squashing experiment (seed 001_a78d46c299591382.txt, §5 table).

Seed 001 motivates its log-magnitude loss by "Minimizing MSE allows the signal to
'squash' (decay) because zero energy is a safe local minimum". This experiment isolates
the mechanism with one parameter.

Setup: a broadband template ``x`` (white noise, T samples). Each target ``y_i`` has
exactly ``x``'s magnitude spectrum but phases jittered per bin by ``phi_{i,f} ~ N(0, s^2)``
(DC and Nyquist kept real): the target's *amplitude* is known, its *phase* uncertain.
The model predicts ``a * x`` for every sample; ``a`` is fitted by Adam under

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
    T: samples per signal; a_init: starting amplitude; steps, lr: Adam with cosine decay.
    """

    sigmas: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
    n_targets: int = 32
    T: int = 128
    a_init: float = 1.0
    steps: int = 300
    lr: float = 0.05
    losses: tuple[str, ...] = LOSSES
    seed: int = 0

    def __post_init__(self):
        if not self.sigmas or any(not math.isfinite(s) or s < 0 for s in self.sigmas):
            raise ValueError(f"sigmas must be non-empty, finite and >= 0, got {self.sigmas}")
        for name in ("n_targets", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.T < 4:
            raise ValueError(f"T must be >= 4, got {self.T}")
        if not self.a_init > 0 or not self.lr > 0:
            raise ValueError(f"a_init and lr must be positive, got {self.a_init}, {self.lr}")
        if not self.losses or any(name not in LOSSES for name in self.losses):
            raise ValueError(f"losses must be a non-empty subset of {LOSSES}, got {self.losses}")


@dataclass
class SquashResult:
    """Fitted amplitude per loss and sigma, with its history and the closed forms."""

    sigmas: list[float] = field(default_factory=list)
    fitted: dict = field(default_factory=dict)  # loss -> [a per sigma]
    histories: dict = field(default_factory=dict)  # loss -> [[a per step] per sigma]
    mse_optimum: list[float] = field(default_factory=list)  # exact minimizer of the MSE on the drawn targets
    gaussian_theory: list[float] = field(default_factory=list)  # exp(-sigma^2 / 2)
    compile_seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_targets(config: SquashConfig) -> tuple[np.ndarray, np.ndarray]:
    """Template ``x: (T,)`` and targets ``y: (S, N, T)``, float32 (S sigmas, N targets each)."""
    rng = np.random.default_rng(config.seed)
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
    """Fit the amplitude ``a`` under each loss, for every sigma at once (vmapped)."""
    import jax
    import jax.numpy as jnp
    import optax

    from spectral_manifolds.losses import log_magnitude_loss, seed_fidelity_loss, spectral_loss

    runtime.seed_everything(config.seed)
    x_np, y_np = make_targets(config)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)  # (T,), (S, N, T)
    S = len(config.sigmas)
    result = SquashResult(sigmas=[float(s) for s in config.sigmas])
    result.gaussian_theory = [math.exp(-(s**2) / 2) for s in config.sigmas]
    xx = float(np.dot(x_np, x_np))
    result.mse_optimum = [float(np.mean(y_np[i] @ x_np) / xx) for i in range(S)]

    def loss_of(name, a, targets):  # a: scalar, targets: (N, T)
        pred = a * jnp.broadcast_to(x, targets.shape)
        if name == "mse":
            return jnp.mean((pred - targets) ** 2)
        p3, y3 = pred[..., None], targets[..., None]  # (N, T, 1): one channel per target
        if name == "log_magnitude":
            return log_magnitude_loss(p3, y3)
        if name == "spectral":
            return spectral_loss(p3, y3)
        return seed_fidelity_loss(p3, y3)

    tx = optax.adam(optax.cosine_decay_schedule(config.lr, config.steps))
    for name in runtime.progress(config.losses, desc="losses"):

        def fit(a0, targets, name=name):
            def step(carry, _):
                a, state = carry
                g = jax.grad(lambda a_: loss_of(name, a_, targets))(a)
                upd, state = tx.update(g, state, a)
                a = optax.apply_updates(a, upd)
                return (a, state), a

            (_, _), path = jax.lax.scan(step, (a0, tx.init(a0)), None, length=config.steps)
            return path  # (steps,)

        fit_all = jax.jit(jax.vmap(fit, in_axes=(None, 0)))
        a0 = jnp.asarray(config.a_init, jnp.float32)
        compiled = runtime.compile_with_notice(fit_all, a0, y, name=f"{name} amplitude fit ({config.steps} steps x {S} sigmas)")
        result.compile_seconds += compiled.compile_seconds
        paths = np.asarray(runtime.block(compiled(a0, y)), np.float64)  # (S, steps)
        result.histories[name] = paths.tolist()
        result.fitted[name] = paths[:, -1].tolist()
    return result
