"""Chapter 2's measurements of the power-law memory (seed 000_bd4cbe8700a1031d.txt, Stage II).

* :func:`naive_vs_product` -- the memory of a constant input by product integration, by
  the naive weights ``k^(-g)/Gamma(1-g)`` and by the closed form ``t^a / Gamma(1+a)``.
* :func:`sinusoid_response` -- the steady-state gain and phase lag of the memory of an
  oscillation, measured from the discrete memory and predicted in closed form.
* :func:`run_kernel_fit` -- seed 000's fix "Learnable (Init as Power-Law)": a
  :class:`~spectral_manifolds.fractional.PowerLawMemory` initialized at one exponent
  learns the memory of data generated with another.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime


# --------------------------------------------------------------------------- naive weights
def naive_vs_product(gamma: float, T: int) -> dict:
    """Memory of the constant input ``z = 1`` for ``t = 0..T-1`` by three routes.

    Returns:
        dict of (T,) float64 arrays ``t``, ``exact`` (``t^a / Gamma(1+a)``, ``a = 1-g``),
        ``product`` and ``naive`` (discrete memories), and ``naive_rel_error`` and
        ``product_rel_error`` (relative to ``exact``; NaN at ``t = 0`` where all are 0).
    """
    from spectral_manifolds.fractional import memory_fft, naive_weights, power_law_weights

    ones = np.ones((T, 1), np.float32)
    t = np.arange(T, dtype=np.float64)
    a = 1.0 - gamma
    exact = t**a / math.gamma(1.0 + a)
    product = np.asarray(memory_fft(ones, power_law_weights(T, gamma)), np.float64)[:, 0]
    naive = np.asarray(memory_fft(ones, naive_weights(T, gamma)), np.float64)[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = dict(
            t=t,
            exact=exact,
            product=product,
            naive=naive,
            naive_rel_error=np.where(t > 0, naive / exact - 1.0, np.nan),
            product_rel_error=np.where(t > 0, product / exact - 1.0, np.nan),
        )
    return out


# --------------------------------------------------------------------------- oscillations
def held_sinusoid_gain(gamma: float, omega: float) -> complex:
    """Closed-form steady-state response ``W`` of the discrete memory to ``exp(i omega t)``.

    The input is held constant between samples, so its spectrum is the continuous line at
    ``omega`` and its aliases ``nu_m = omega + 2 pi m``, each shaped by the hold's transfer
    function ``(1 - exp(-i nu)) / (i nu)``; the fractional integral multiplies each by
    ``(i nu)^(-a)``, ``a = 1 - g``. Since ``exp(-i nu_m) = exp(-i omega)``,

        W(omega) = (1 - exp(-i omega)) * sum_m (i nu_m)^(-1-a),

    and the two tails of the alias sum are Hurwitz zeta functions,
    ``sum_{m>=1} (2 pi m +- omega)^(-1-a) = (2 pi)^(-1-a) zeta(1+a, 1 +- omega/(2 pi))``.
    For ``a = 1`` this is the geometric series ``sum_{k>=1} exp(-i omega k)``. For small
    ``omega``: ``|W| ~ omega^(-a)`` and ``-arg W ~ a pi/2 + c omega``: the continuous
    fractional integral's lag plus a delay of ``c`` steps from the hold, ``c = 1/2`` at
    ``a = 1`` (``g -> 0``) growing to ``c = 1`` as ``a -> 0`` (``g -> 1``, where the memory
    becomes the one-step delay ``M[t] = z[t-1]``).

    Returns:
        complex ``W``: steady state ``M[t] = Re(W exp(i omega t))`` for input ``cos(omega t)``.
    """
    from scipy.special import zeta

    if not 0.0 < omega < 2 * np.pi:
        raise ValueError(f"omega must lie in (0, 2 pi), got {omega}")
    a = 1.0 - gamma
    p = 1.0 + a
    x = omega / (2 * np.pi)
    central = (1j * omega) ** (-p)
    upper = np.exp(-1j * np.pi * p / 2) * (2 * np.pi) ** (-p) * zeta(p, 1.0 + x)  # nu > 0
    lower = np.exp(+1j * np.pi * p / 2) * (2 * np.pi) ** (-p) * zeta(p, 1.0 - x)  # nu < 0
    return complex((1 - np.exp(-1j * omega)) * (central + upper + lower))


def sinusoid_response(gamma: float, period: float, T: int = 8192, fit_periods: int = 8) -> dict:
    """Gain and phase lag of the memory of ``cos(omega t)``, ``omega = 2 pi / period``.

    The memory starts at ``t = 0`` and its start-up transient decays only like a power of
    ``t`` (the memory never forgets the start), so the last ``fit_periods`` periods of
    ``M`` are fitted by least squares with ``cos``, ``sin``, a constant and ``t^(-g)``.

    Returns:
        dict with ``omega``, the measured ``gain`` and ``lag`` (radians), the discrete
        closed form ``gain_discrete``, ``lag_discrete`` (:func:`held_sinusoid_gain`) and the
        continuous ones ``gain_continuous = omega^(-a)``, ``lag_continuous = a pi / 2``.
    """
    from spectral_manifolds.fractional import memory_fft, power_law_weights

    omega = 2 * np.pi / period
    t = np.arange(T, dtype=np.float64)
    z = np.cos(omega * t)[:, None].astype(np.float32)
    m = np.asarray(memory_fft(z, power_law_weights(T, gamma)), np.float64)[:, 0]
    start = max(1, T - int(round(fit_periods * period)))
    tt = t[start:]
    design = np.stack([np.cos(omega * tt), np.sin(omega * tt), np.ones_like(tt), tt ** (-gamma)], axis=1)
    coef, *_ = np.linalg.lstsq(design, m[start:], rcond=None)
    w_meas = coef[0] - 1j * coef[1]  # Re(W e^{i w t}) = Re W cos - Im W sin
    w_theory = held_sinusoid_gain(gamma, omega)
    a = 1.0 - gamma
    return dict(
        gamma=gamma,
        omega=omega,
        gain=abs(w_meas),
        lag=-float(np.angle(w_meas)),
        gain_discrete=abs(w_theory),
        lag_discrete=-float(np.angle(w_theory)),
        gain_continuous=omega ** (-a),
        lag_continuous=a * np.pi / 2,
    )


# --------------------------------------------------------------------------- learnable kernel
@dataclass(frozen=True)
class KernelFitConfig:
    """A learnable memory initialized at ``gamma_init`` fits data made with ``gamma_true``.

    Data: ``z`` white Gaussian noise of shape (batch, T, dim), fresh each step; target the
    exact memory of ``z`` with exponent ``gamma_true``; loss the MSE; optimizer adam with a
    cosine-decaying learning rate. The kernel holds ``T - 1`` lags, all that reach an output.
    """

    gamma_init: float = 0.5
    gamma_true: float = 0.8
    T: int = 128
    batch: int = 8
    dim: int = 4
    steps: int = 300
    lr: float = 3e-3
    seed: int = 0

    def __post_init__(self):
        for name in ("gamma_init", "gamma_true"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must lie in (0, 1), got {getattr(self, name)}")
        for name in ("T", "batch", "dim", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.T < 16:
            raise ValueError(f"T must be >= 16 to fit a power law to the kernel, got {self.T}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


@dataclass
class KernelFitResult:
    """History and kernels of one fit; ``*_gamma`` are exponents read off the kernels."""

    losses: list[float] = field(default_factory=list)
    kernel_init: list[float] = field(default_factory=list)
    kernel_learned: list[float] = field(default_factory=list)
    kernel_true: list[float] = field(default_factory=list)
    init_error: float = float("nan")  # |w_init - w_true| / |w_true|
    learned_error: float = float("nan")  # |w_learned - w_true| / |w_true|
    init_gamma: float = float("nan")
    learned_gamma: float = float("nan")
    compile_seconds: float = 0.0
    steps_per_second: float = float("nan")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def kernel_exponent(weights, k_min: int = 4) -> float:
    """Exponent ``g`` read off a kernel: minus the log-log slope of ``w_k`` for ``k >= k_min``.

    For the product weights ``w_k ~ (1-g) k^(-g) / Gamma(2-g)`` at large ``k``, so the
    slope is ``-g``. Non-positive weights are skipped.
    """
    w = np.asarray(weights, np.float64)
    k = np.arange(1, w.size + 1, dtype=np.float64)
    keep = (k >= k_min) & (w > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(-np.polyfit(np.log(k[keep]), np.log(w[keep]), 1)[0])


def run_kernel_fit(config: KernelFitConfig) -> KernelFitResult:
    """Fit a :class:`PowerLawMemory` (learnable) to the memory of another exponent."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from spectral_manifolds.fractional import PowerLawMemory, memory_fft, power_law_weights

    key = runtime.seed_everything(config.seed)
    n_lags = config.T - 1  # lag T never reaches an output of a length-T series
    model = PowerLawMemory(config.gamma_init, n_lags, learnable=True)
    graphdef, params = nnx.split(model, nnx.Param)
    w_true = power_law_weights(n_lags, config.gamma_true)
    tx = optax.adam(optax.cosine_decay_schedule(config.lr, config.steps))
    opt_state = tx.init(params)

    def loss_fn(p, z):
        target = memory_fft(z, w_true)
        return jnp.mean((nnx.merge(graphdef, p)(z) - target) ** 2)

    @jax.jit
    def train_step(p, state, k):
        z = jax.random.normal(k, (config.batch, config.T, config.dim), jnp.float32)
        loss, grads = jax.value_and_grad(loss_fn)(p, z)
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    result = KernelFitResult()
    step = runtime.compile_with_notice(train_step, params, opt_state, key, name="kernel-fit step")
    result.compile_seconds = step.compile_seconds
    keys = jax.random.split(key, config.steps)
    w_init = np.asarray(power_law_weights(n_lags, config.gamma_init), np.float64)
    losses = []
    with runtime.Timer() as timer:
        for i in runtime.progress(range(config.steps), desc="kernel fit"):
            params, opt_state, loss = step(params, opt_state, keys[i])
            losses.append(loss)
        runtime.block(params)
    result.steps_per_second = config.steps / timer.seconds
    result.losses = [float(v) for v in jnp.stack(losses)]
    learned = np.asarray(nnx.merge(graphdef, params).kernel[...], np.float64)
    true = np.asarray(w_true, np.float64)
    result.kernel_init, result.kernel_learned, result.kernel_true = w_init.tolist(), learned.tolist(), true.tolist()
    result.init_error = float(np.linalg.norm(w_init - true) / np.linalg.norm(true))
    result.learned_error = float(np.linalg.norm(learned - true) / np.linalg.norm(true))
    result.init_gamma = kernel_exponent(w_init)
    result.learned_gamma = kernel_exponent(learned)
    return result
