"""Sakaguchi-Kuramoto dynamics on the sphere S^(d-1), and the ManifoldFormer's latent field.

Seed 000_bd4cbe8700a1031d.txt, Stage II writes the latent ODE as

    dz/dt = Pi_{T_z}( W_style M(t) + F_kuramoto(z) ),
    F_kuramoto(z) = W_out sum_j sin(<q^, k^_j>) k^_j ,

and seed 001_a78d46c299591382.txt, section 5 ("Sakaguchi-Kuramoto Stability") adds a
learnable phase lag, ``Attn ~ sin(<q, k> + alpha)``. DESIGN.md ("Known traps") notes
that for unit vectors ``<q, k> = cos(dtheta)``, so ``sin(<q, k> + alpha)`` is
``sin(cos(dtheta) + alpha)``: not the Kuramoto coupling. This module implements both:

1. **Sakaguchi-Kuramoto on the sphere** (the physics, Sakaguchi & Kuramoto 1986). For
   ``N`` oscillators ``z_i`` on ``S^(d-1)`` with mean field ``m = mean_j z_j``,

       dz_i/dt = omega_i A z_i + K Pi_{z_i}( L_alpha m ),     L_alpha = cos(alpha) I - sin(alpha) A,

   where ``A`` is a skew-symmetric *generator* (default: the block complex structure
   that turns coordinate pairs ``(0, 1), (2, 3), ...`` by +90 degrees and leaves the
   last coordinate of an odd ``d`` alone, :func:`lag_generator`), ``omega_i A`` the
   natural rotation of oscillator ``i`` and ``Pi_z(v) = v - <v, z> z``. In ``d = 2``,
   ``A = [[0, -1], [1, 0]]``, ``L_alpha`` is the rotation by ``-alpha`` and with
   ``z_i = (cos theta_i, sin theta_i)``, ``m = r (cos psi, sin psi)`` the equation is
   *exactly* the Sakaguchi-Kuramoto model

       dtheta_i/dt = omega_i + K r sin(psi - theta_i - alpha)
                   = omega_i + K/N sum_j sin(theta_j - theta_i - alpha),

   whose order parameter for Lorentzian frequencies of half-width ``Delta`` is
   ``r* = sqrt(1 - 2 Delta / (K cos alpha))`` (Ott & Antonsen 2008).

   *Why ``cos(alpha) I - sin(alpha) A`` and not the rotation ``exp(-alpha A)``.* They
   agree whenever ``A^2 = -I`` (``d`` even, in particular ``d = 2``). For a synchronized
   cluster (``z_i = z = m``) the lagged force is ``Pi_z(L_alpha z) = -sin(alpha) A z``:
   the cluster keeps turning along ``A`` at speed ``K sin(alpha) |A z|`` (the
   Sakaguchi-Kuramoto frequency shift). With the rotation ``exp(-alpha A)`` in odd ``d``
   the force also has a component ``(1 - cos alpha)`` that drives the cluster into the
   rotation axis, where it stops. No choice can avoid a fixed point for every ``z`` on
   ``S^2`` (hairy-ball theorem); the linear lag makes the axis a *neutral centre* rather
   than an attractor, so orbits at any latitude persist. Chapter 3 measures both.

2. **The seed's form**, ``F_i = K mean_j sin(<z^_i, z^_j> + alpha) z^_j`` (projected).
   In ``d = 2`` its tangent part is ``K mean_j sin(cos(dtheta_ij) + alpha) sin(dtheta_ij)``,
   an *odd* function of ``dtheta`` for every ``alpha``: the lag changes the coupling
   strength profile but produces no drift of the synchronized state.

3. **Flax NNX layers for the latent dynamics**: :class:`KuramotoAttention` (learnable
   q/k projections, attention over the sequence, learnable ``alpha``, zero-initialized
   output; ``form="sakaguchi"`` or the seed's ``form="seed"``) and :class:`ManifoldField`,
   which adds the power-law memory (:mod:`spectral_manifolds.fractional`), projects onto
   the tangent space and steps with classic RK4 plus retraction (:mod:`spectral_manifolds.ode`).
   Zero-initialized forcing (seed 001, section 13, Patch E): at initialization the field
   is exactly zero, so a step is the identity map.

Off the sphere (the intermediate RK4 stages), every coupling term is evaluated at the
normalized state ``z^ = z / |z|``; the field is thus defined on all of ``R^d \\ {0}`` and
agrees with the sphere field on the sphere. Without this, a fast oscillator's
off-sphere stage (length ~ (h omega)^k) would dominate the mean field.
"""

from __future__ import annotations

import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from spectral_manifolds import ode, sphere
from spectral_manifolds.fractional import PowerLawMemory

__all__ = [
    "lorentzian_frequencies",
    "critical_coupling",
    "ott_antonsen_r",
    "phases_to_sphere",
    "sphere_to_phases",
    "order_parameter",
    "phase_order_parameter",
    "lag_generator",
    "lag_operator",
    "phase_field",
    "sphere_field",
    "seed_field",
    "seed_phase_coupling",
    "sakaguchi_phase_coupling",
    "driven_rotor_field",
    "driven_rotor_solution",
    "time_averaged_order",
    "KuramotoAttention",
    "set_mean_field_weights",
    "ManifoldField",
]


# =========================================================================== theory
def lorentzian_frequencies(n: int, delta: float, omega0: float = 0.0) -> jax.Array:
    """Deterministic Lorentzian (Cauchy) frequencies by quantiles.

    ``omega_i = omega0 + delta tan(pi ((i + 1/2)/n - 1/2))``, ``i = 0..n-1``: the
    mid-quantiles of a Lorentzian of centre ``omega0`` and half-width ``delta``. Regular
    quantiles remove most of the sampling noise that random draws put on finite-``n``
    order parameters.

    Returns:
        (n,) float32, increasing, symmetric about ``omega0``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not delta > 0:
        raise ValueError(f"delta (half-width) must be positive, got {delta!r}")
    q = (np.arange(n, dtype=np.float64) + 0.5) / n
    return jnp.asarray(omega0 + delta * np.tan(np.pi * (q - 0.5)), dtype=jnp.float32)


def critical_coupling(delta, alpha=0.0):
    """Onset of synchrony for Lorentzian frequencies, ``K_c = 2 delta / cos(alpha)`` (numpy)."""
    return 2.0 * np.asarray(delta, dtype=float) / np.cos(np.asarray(alpha, dtype=float))


def ott_antonsen_r(K, delta, alpha=0.0):
    """Ott-Antonsen steady order parameter of the Sakaguchi-Kuramoto model (numpy).

    ``r* = sqrt(1 - 2 delta / (K cos alpha))`` above onset (``K cos alpha > 2 delta``),
    0 below (Ott & Antonsen 2008; Lorentzian frequencies of half-width ``delta``,
    ``dtheta_i/dt = omega_i + K r sin(psi - theta_i - alpha)``, ``|alpha| < pi/2``).

    Args:
        K, delta, alpha: broadcastable numbers or arrays.
    Returns:
        numpy array (broadcast shape) of ``r*`` in ``[0, 1)``.
    """
    K, delta, alpha = (np.asarray(x, dtype=float) for x in (K, delta, alpha))
    kc = K * np.cos(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = 1.0 - 2.0 * delta / kc
    return np.where(kc > 2.0 * delta, np.sqrt(np.clip(val, 0.0, None)), 0.0)


# =========================================================================== coordinates
def phases_to_sphere(theta):
    """``theta: (...,)`` angles -> ``(..., 2)`` unit vectors ``(cos theta, sin theta)``."""
    return jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=-1)


def sphere_to_phases(z):
    """``z: (..., 2)`` -> ``(...,)`` angles ``atan2(z_1, z_0)`` in ``(-pi, pi]``."""
    return jnp.arctan2(z[..., 1], z[..., 0])


def order_parameter(z):
    """Kuramoto order parameter on the sphere, ``r = |mean_i z_i|``.

    Args:
        z: (..., N, d) points on the sphere.
    Returns:
        (...,) values in ``[0, 1]``.
    """
    return jnp.linalg.norm(jnp.mean(z, axis=-2), axis=-1)


def phase_order_parameter(theta):
    """``r = |mean_j exp(i theta_j)|`` for ``theta: (..., N)``; returns ``(...,)``."""
    return jnp.hypot(jnp.mean(jnp.cos(theta), axis=-1), jnp.mean(jnp.sin(theta), axis=-1))


# =========================================================================== lag
def lag_generator(d: int, dtype=jnp.float32) -> jax.Array:
    """Default skew generator ``A: (d, d)``: +90 degree turns of the coordinate pairs.

    ``A[2k+1, 2k] = 1``, ``A[2k, 2k+1] = -1`` for ``k < d // 2``; for odd ``d`` the last
    coordinate is left fixed (``A`` has the kernel ``e_{d-1}``). In ``d = 2``,
    ``A = [[0, -1], [1, 0]]`` and ``A z`` is the counter-clockwise tangent ``e_theta``.
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    a = np.zeros((d, d))
    for k in range(d // 2):
        a[2 * k + 1, 2 * k] = 1.0
        a[2 * k, 2 * k + 1] = -1.0
    return jnp.asarray(a, dtype=dtype)


def lag_operator(alpha, d: int, generator=None, kind: str = "linear"):
    """Phase-lag operator ``(d, d)``: ``L_alpha = cos(alpha) I - sin(alpha) A`` (``kind="linear"``,
    the book's choice) or the rotation ``exp(-alpha A)`` (``kind="rotation"``).

    The two agree when ``A^2 = -I`` (``d = 2``, and any even ``d`` with the default
    generator); they differ in odd ``d`` (module docstring).

    Args:
        alpha: scalar phase lag (radians), may be traced.
        d: dimension.
        generator: optional skew ``(d, d)``; default :func:`lag_generator`.
        kind: "linear" or "rotation".
    """
    a = lag_generator(d) if generator is None else jnp.asarray(generator)
    eye = jnp.eye(d, dtype=a.dtype)
    if kind == "linear":
        return jnp.cos(alpha) * eye - jnp.sin(alpha) * a
    if kind == "rotation":
        if generator is None:  # A^3 = -A: exp(-alpha A) = L_alpha + (1 - cos alpha)(I + A^2), no expm
            return jnp.cos(alpha) * eye - jnp.sin(alpha) * a + (1.0 - jnp.cos(alpha)) * (eye + a @ a)
        return jax.scipy.linalg.expm(-alpha * a)
    raise ValueError(f"kind must be 'linear' or 'rotation', got {kind!r}")


def _natural_rotation(z, omega, a):
    """``omega_i A z_i`` for ``z: (..., N, d)``, ``omega: (N,)`` or None; returns (..., N, d) or 0."""
    if omega is None:
        return 0.0
    return jnp.asarray(omega)[..., :, None] * (z @ a.T)


# =========================================================================== fields
def phase_field(theta, omega, K, alpha):
    """Sakaguchi-Kuramoto phase velocities (mean-field form, O(N)).

    ``dtheta_i/dt = omega_i + K r sin(psi - theta_i - alpha)``.

    Args:
        theta: (..., N) phases; omega: (N,) natural frequencies; K, alpha: scalars.
    Returns:
        (..., N) phase velocities.
    """
    c = jnp.mean(jnp.cos(theta), axis=-1, keepdims=True)
    s = jnp.mean(jnp.sin(theta), axis=-1, keepdims=True)
    # r sin(psi - x) = s cos x - c sin x, with x = theta + alpha
    x = theta + alpha
    return omega + K * (s * jnp.cos(x) - c * jnp.sin(x))


def sphere_field(z, omega, K, alpha, generator=None, lag: str = "linear"):
    """Sakaguchi-Kuramoto velocities on ``S^(d-1)``: ``omega_i A z_i + K Pi_{z_i}(L_alpha m)``.

    The coupling uses ``z^ = z/|z|`` (mean field ``m = mean_j z^_j``, projection at
    ``z^_i``); the natural rotation acts on ``z`` itself (it is linear and tangent).

    Args:
        z: (..., N, d) states (on or near the sphere).
        omega: (N,) natural frequencies about ``generator``, or None (identical, at rest).
        K: scalar coupling; alpha: scalar phase lag.
        generator: skew ``(d, d)``; default :func:`lag_generator`.
        lag: "linear" (default) or "rotation", see :func:`lag_operator`.
    Returns:
        (..., N, d) tangent velocities.
    """
    d = z.shape[-1]
    a = lag_generator(d, z.dtype) if generator is None else jnp.asarray(generator, z.dtype)
    zh = sphere.normalize(z)
    m = jnp.mean(zh, axis=-2, keepdims=True)  # (..., 1, d)
    lagged = m @ lag_operator(alpha, d, a, kind=lag).T
    return _natural_rotation(z, omega, a) + K * sphere.project(zh, lagged)


def seed_field(z, omega, K, alpha, generator=None):
    """The seed's coupling on the sphere: ``K Pi_{z_i}( mean_j sin(<z_i, z_j> + alpha) z_j )``.

    Seed 000, Stage II with ``q = k = z`` (seed 001, section 2 "forcing Q = K = z") and
    the lag of seed 001, section 5; mean over ``j`` instead of the seed's sum (a rescaling
    of ``K``). O(N^2).

    Args:
        z: (..., N, d); omega: (N,) or None; K, alpha: scalars; generator: as in
            :func:`sphere_field` (for the natural rotations only).
    Returns:
        (..., N, d) tangent velocities.
    """
    d = z.shape[-1]
    a = lag_generator(d, z.dtype) if generator is None else jnp.asarray(generator, z.dtype)
    zh = sphere.normalize(z)
    weights = jnp.sin(zh @ jnp.swapaxes(zh, -1, -2) + alpha)  # (..., N, N)
    pull = weights @ zh / z.shape[-2]
    return _natural_rotation(z, omega, a) + K * sphere.project(zh, pull)


def sakaguchi_phase_coupling(dtheta, alpha):
    """Phase coupling of Sakaguchi-Kuramoto, ``H(dtheta) = sin(dtheta - alpha)`` (``dtheta = theta_j - theta_i``)."""
    return jnp.sin(dtheta - alpha)


def seed_phase_coupling(dtheta, alpha):
    """Tangent (phase) part of the seed's coupling in ``d = 2``: ``sin(cos(dtheta) + alpha) sin(dtheta)``.

    The pull of ``z_j`` on ``z_i`` along ``e_theta_i`` is ``<z_j, e_theta_i> = sin(dtheta)``,
    weighted by the seed's ``sin(<z_i, z_j> + alpha) = sin(cos(dtheta) + alpha)``.
    """
    return jnp.sin(jnp.cos(dtheta) + alpha) * jnp.sin(dtheta)


# =========================================================================== test problem
def driven_rotor_field(t, z, kappa0: float = 1.5, omega0: float = 2.0):
    """A nonlinear, time-dependent field on ``S^2`` with a closed-form solution (for RK4 tests).

    One oscillator pulled towards a fixed mean field ``p = e_3`` with a time-varying
    coupling and turned about ``p`` at a time-varying rate::

        dz/dt = kappa(t) Pi_z(p) + w(t) A z,   kappa(t) = kappa0 (1 + sin(2t)/2),
                                               w(t)     = omega0 (1 + cos(3t)/2),

    ``A`` = :func:`lag_generator` (3) (rotation about ``e_3``). See
    :func:`driven_rotor_solution`.

    Args:
        t: scalar time; z: (..., 3).
    Returns:
        (..., 3) velocities.
    """
    kappa = kappa0 * (1.0 + 0.5 * jnp.sin(2.0 * t))
    w = omega0 * (1.0 + 0.5 * jnp.cos(3.0 * t))
    p = jnp.asarray([0.0, 0.0, 1.0], dtype=z.dtype)
    return kappa * sphere.project(z, p) + w * (z @ lag_generator(3, z.dtype).T)


def driven_rotor_solution(t, phi0: float, lam0: float, kappa0: float = 1.5, omega0: float = 2.0):
    """Exact solution of :func:`driven_rotor_field` (numpy, float64).

    In polar angle ``phi`` (from ``e_3``) and azimuth ``lam`` the field separates:
    ``dphi/dt = -kappa(t) sin(phi)``, so ``tan(phi/2) = tan(phi0/2) exp(-int kappa)``,
    and ``dlam/dt = w(t)``; ``int_0^t kappa = kappa0 (t + (1 - cos 2t)/4)``,
    ``int_0^t w = omega0 (t + sin(3t)/6)``.

    Args:
        t: scalar or (n,) times; phi0, lam0: initial angles.
    Returns:
        ``(*t.shape, 3)`` points ``(sin phi cos lam, sin phi sin lam, cos phi)``.
    """
    t = np.asarray(t, dtype=float)
    big_k = kappa0 * (t + 0.25 * (1.0 - np.cos(2.0 * t)))
    phi = 2.0 * np.arctan(np.tan(phi0 / 2.0) * np.exp(-big_k))
    lam = lam0 + omega0 * (t + np.sin(3.0 * t) / 6.0)
    return np.stack([np.sin(phi) * np.cos(lam), np.sin(phi) * np.sin(lam), np.cos(phi)], axis=-1)


# =========================================================================== simulation
def time_averaged_order(
    model: str,
    omega,
    theta0,
    K,
    alpha,
    *,
    h: float,
    t_transient: float,
    t_total: float,
    save_dt: float = 0.5,
    n_substeps: int = 1,
):
    """Time-averaged order parameter of the ``d = 2`` Sakaguchi-Kuramoto model.

    Integrates with classic RK4 (``jax.lax.scan``) from the phases ``theta0`` and
    averages ``r(t)`` over ``t_transient <= t <= t_total`` (sampled every ``save_dt``).
    ``model="phase"`` integrates :func:`phase_field` on the phases; ``model="sphere"``
    integrates :func:`sphere_field` on ``z = (cos theta, sin theta)`` with the
    retraction ``sphere.normalize`` after each step. Jit- and vmap-able over ``K``,
    ``alpha`` (the sizes are static).

    Args:
        model: "phase" or "sphere".
        omega: (N,) frequencies; theta0: (N,) initial phases; K, alpha: scalars.
        h, t_transient, t_total, save_dt: times (``save_dt`` a multiple of ``h``).
    Returns:
        ``(mean_r, std_r)`` over the averaging window, scalars.
    """
    save_every = int(round(save_dt / h))
    n_saves = int(round(t_total / (save_every * h)))
    if save_every < 1 or n_saves < 2 or not 0 <= t_transient < t_total:
        raise ValueError(f"bad times: h={h}, save_dt={save_dt}, t_transient={t_transient}, t_total={t_total}")
    if model == "phase":
        f, y0, observe, retract = (lambda t, y: phase_field(y, omega, K, alpha)), theta0, phase_order_parameter, None
    elif model == "sphere":
        f = lambda t, y: sphere_field(y, omega, K, alpha)  # noqa: E731
        y0, observe, retract = phases_to_sphere(theta0), order_parameter, sphere.normalize
    else:
        raise ValueError(f"model must be 'phase' or 'sphere', got {model!r}")
    ts, rs = ode.integrate(
        f, y0, h=h, n_steps=n_saves * save_every, n_substeps=n_substeps,
        retract=retract, save_every=save_every, observe=observe,
    )
    window = (ts >= t_transient - 1e-6 * h).astype(rs.dtype)
    mean = jnp.sum(window * rs) / jnp.sum(window)
    std = jnp.sqrt(jnp.sum(window * (rs - mean) ** 2) / jnp.sum(window))
    return mean, std


# =========================================================================== NNX layers
def _check_sequence(z):
    z = jnp.asarray(z)
    if z.ndim not in (2, 3):
        raise ValueError(f"z must have shape (B, T, d) or (T, d), got shape {z.shape}")
    return z


def _allowed_keys(shape: tuple, causal: bool, mask):
    """Boolean ``(T, T)`` or ``(B, T, T)`` for ``z`` of ``shape``: query ``t`` may attend key ``s``."""
    T = shape[-2]
    allowed = jnp.ones((T, T), dtype=bool)
    if causal:
        allowed = jnp.tril(allowed)
    if mask is not None:
        mask = jnp.asarray(mask, dtype=bool)
        if mask.shape not in ((T,), shape[:-1]):
            expected = f"({shape[0]}, {T}) or ({T},)" if len(shape) == 3 else f"({T},)"
            raise ValueError(f"mask must have shape {expected} for z of shape {shape}, got shape {mask.shape}")
        allowed = allowed & mask[..., None, :]
    return allowed


class KuramotoAttention(nnx.Module):
    """Kuramoto coupling over a sequence of latent states, as attention (seed 000, Stage II).

    Each position ``t`` of ``z: (B, T, d)`` is an oscillator coupled to the positions it
    may attend (``s <= t`` when ``causal``, and ``mask[s]`` true).

    ``form="sakaguchi"`` (default, the Sakaguchi-Kuramoto mean field)::

        a_ts = softmax_s( <W_q z^_t, W_k z^_s> / sqrt(d_qk) )      (attention weights)
        m_t  = sum_s a_ts z^_s                                     (attended mean field)
        F_t  = W_out L_alpha m_t,    L_alpha = cos(alpha) I - sin(alpha) A

    With ``W_q = 0`` (uniform attention), ``W_out = K I`` and no causal mask, the
    projected force is exactly :func:`sphere_field` (see :func:`set_mean_field_weights`).

    ``form="seed"`` (seed 000's ``sin(<q, k> + alpha)`` form)::

        q^_t = normalize(W_q z_t),  k^_s = normalize(W_k z_s)
        F_t  = W_out mean_s sin(<q^_t, k^_s> + alpha) k^_s

    (mean over the attended keys instead of the seed's sum: a rescaling of ``W_out``).

    ``alpha`` is a learnable scalar ``nnx.Param``. With ``zero_init`` (default; seed 001,
    section 13) ``W_out = 0``, so the force is exactly zero at initialization.
    The output is *not* projected; :class:`ManifoldField` projects the total force.

    Args:
        d: latent dimension.
        form: "sakaguchi" or "seed".
        d_qk: query/key width (default ``d``).
        causal: attend only to ``s <= t`` (default True; the ManifoldFormer predicts
            ``z_{t+1}`` from ``z_{<=t}``, so non-causal coupling would leak the target).
        alpha_init: initial phase lag (radians).
        zero_init: zero-initialize ``W_out``.
        generator: skew ``(d, d)`` for ``L_alpha`` (default :func:`lag_generator`).
        rngs: ``nnx.Rngs`` for the q/k projections.

    Call: ``z: (B, T, d) or (T, d)`` (unit vectors; normalized internally), optional
    ``mask: (B, T) or (T,)`` bool (True = valid key; ``(T,)`` only for unbatched ``z``
    or shared by the batch) -> ``F``, same shape as ``z``.
    A query with no valid key gets ``F = 0`` (no NaN).
    """

    def __init__(
        self,
        d: int,
        *,
        form: str = "sakaguchi",
        d_qk: Optional[int] = None,
        causal: bool = True,
        alpha_init: float = 0.0,
        zero_init: bool = True,
        generator=None,
        rngs: nnx.Rngs,
    ):
        if form not in ("sakaguchi", "seed"):
            raise ValueError(f"form must be 'sakaguchi' or 'seed', got {form!r}")
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
            raise ValueError(f"d must be an integer >= 2, got {d!r}")
        d_qk = d if d_qk is None else int(d_qk)
        self.d, self.d_qk, self.form, self.causal = int(d), d_qk, form, bool(causal)
        self.query = nnx.Linear(d, d_qk, use_bias=False, rngs=rngs)
        self.key = nnx.Linear(d, d_qk, use_bias=False, rngs=rngs)
        width = d if form == "sakaguchi" else d_qk
        kernel_init = nnx.initializers.zeros if zero_init else nnx.initializers.lecun_normal()
        self.out = nnx.Linear(width, d, use_bias=False, kernel_init=kernel_init, rngs=rngs)
        self.alpha = nnx.Param(jnp.asarray(alpha_init, dtype=jnp.float32))
        gen = np.asarray(lag_generator(d) if generator is None else generator, dtype=np.float64)
        if gen.shape != (d, d) or not np.allclose(gen, -gen.T):
            raise ValueError(f"generator must be a skew-symmetric ({d}, {d}) matrix, got shape {gen.shape}")
        # fixed, hashable static data (not a Variable): nnx.split(model, nnx.Param) stays exhaustive
        self.generator = tuple(tuple(float(v) for v in row) for row in gen)

    def weights(self, z, mask=None):
        """Coupling weights ``(..., T, T)``: attention ``a_ts`` (sakaguchi) or
        ``sin(<q^_t, k^_s> + alpha) / n_t`` (seed), zero where ``s`` is not attended."""
        z = _check_sequence(z)
        zh = sphere.normalize(z)
        allowed = _allowed_keys(z.shape, self.causal, mask)
        q, k = self.query(zh), self.key(zh)
        alpha = self.alpha[...]
        if self.form == "sakaguchi":
            scores = q @ jnp.swapaxes(k, -1, -2) / math.sqrt(self.d_qk)
            scores = jnp.where(allowed, scores, -1e30)  # finite: an all-masked row stays finite
            w = jax.nn.softmax(scores, axis=-1) * allowed
            return w / jnp.maximum(jnp.sum(w, axis=-1, keepdims=True), 1e-30)
        qh, kh = sphere.normalize(q), sphere.normalize(k)
        s = jnp.sin(qh @ jnp.swapaxes(kh, -1, -2) + alpha) * allowed
        return s / jnp.maximum(jnp.sum(allowed, axis=-1, keepdims=True), 1)

    def __call__(self, z, mask=None):
        z = _check_sequence(z)
        w = self.weights(z, mask)
        zh = sphere.normalize(z)
        if self.form == "sakaguchi":
            m = w @ zh  # (..., T, d)
            lag = lag_operator(self.alpha[...], self.d, jnp.asarray(self.generator, jnp.float32))
            return self.out(m @ lag.T)
        kh = sphere.normalize(self.key(zh))
        return self.out(w @ kh)


def set_mean_field_weights(layer: KuramotoAttention, K: float) -> KuramotoAttention:
    """Set ``layer``'s weights (in place) so that it computes the plain mean-field coupling.

    ``sakaguchi``: ``W_q = 0`` (uniform attention), ``W_out = K I``; ``seed``:
    ``W_q = W_k = I``, ``W_out = K I`` (so ``q = k = z``, the seed 001 section 2 choice).
    With ``causal=False`` the projected force then equals :func:`sphere_field`
    (resp. :func:`seed_field`) with ``omega = None`` and the layer's ``alpha``.
    Returns the layer.
    """
    eye = jnp.eye(layer.d, dtype=jnp.float32)
    if layer.form == "sakaguchi":
        layer.query.kernel[...] = jnp.zeros_like(layer.query.kernel[...])
    else:
        if layer.d_qk != layer.d:
            raise ValueError("the seed form's mean-field weights need d_qk == d")
        layer.query.kernel[...] = eye
        layer.key.kernel[...] = eye
    layer.out.kernel[...] = K * eye
    return layer


class ManifoldField(nnx.Module):
    """The ManifoldFormer's latent vector field and its RK4 step (seed 000, Stage II).

    ``dz/dt = Pi_{T_z}( W_style M + F(z) )`` with ``M`` the causal power-law memory of the
    sequence (:class:`spectral_manifolds.fractional.PowerLawMemory`, kernel initialized
    as the product-integration weights) and ``F`` a :class:`KuramotoAttention`.
    ``W_style`` and ``W_out`` are zero-initialized (seed 001, section 13): the field is
    zero at initialization and :meth:`step` is the identity.

    Args:
        d: latent dimension.
        gamma: memory exponent (0 < gamma < 1); memory_len: kernel length (lags).
        use_memory: include the ``W_style M`` term.
        learnable_memory: memory kernel is an ``nnx.Param``.
        form, causal, alpha_init, d_qk: passed to :class:`KuramotoAttention`.
        zero_init: zero-initialize ``W_style`` and ``W_out``.
        rngs: ``nnx.Rngs``.

    ``__call__(z, memory=None, mask=None)``: ``z: (B, T, d) or (T, d)`` -> tangent field,
    same shape. ``memory`` (same shape) overrides ``M``; by default ``M`` is computed
    from ``z``.

    ``step(z, h=1.0, n_substeps=1, mask=None)``: ``z: (B, T, d) or (T, d)`` on the sphere
    -> ``z_next``, same shape, on the sphere. The memory ``M`` is computed once from the
    input sequence and held fixed during the step (the observed past is the forcing);
    the coupling is re-evaluated at each RK4 stage. ``n_substeps = 1`` is the seed's
    one step of ``h = 1``; ``n_substeps = 4`` its earlier 4 substeps of ``h = 0.25``;
    ``sphere.normalize`` retracts after each substep.
    """

    def __init__(
        self,
        d: int,
        *,
        gamma: float = 0.5,
        memory_len: int = 256,
        use_memory: bool = True,
        learnable_memory: bool = True,
        form: str = "sakaguchi",
        causal: bool = True,
        alpha_init: float = 0.0,
        d_qk: Optional[int] = None,
        zero_init: bool = True,
        rngs: nnx.Rngs,
    ):
        self.d = int(d)
        self.use_memory = bool(use_memory)
        self.coupling = KuramotoAttention(
            d, form=form, d_qk=d_qk, causal=causal, alpha_init=alpha_init, zero_init=zero_init, rngs=rngs
        )
        if self.use_memory:
            self.memory = PowerLawMemory(gamma, memory_len, learnable=learnable_memory)
            kernel_init = nnx.initializers.zeros if zero_init else nnx.initializers.lecun_normal()
            self.w_style = nnx.Linear(d, d, use_bias=False, kernel_init=kernel_init, rngs=rngs)

    def forcing(self, z):
        """``W_style M``: ``z: (B, T, d) or (T, d)`` -> same shape (zeros without memory)."""
        z = _check_sequence(z)
        if not self.use_memory:
            return jnp.zeros_like(z)
        return self.w_style(self.memory(z))

    def _field(self, z, forcing, mask):
        zh = sphere.normalize(z)
        return sphere.project(zh, forcing + self.coupling(z, mask))

    def __call__(self, z, memory=None, mask=None):
        z = _check_sequence(z)
        if memory is None:
            forcing = self.forcing(z)
        else:
            memory = jnp.asarray(memory)
            if memory.shape != z.shape:
                raise ValueError(f"memory must have the shape of z {z.shape}, got {memory.shape}")
            forcing = self.w_style(memory) if self.use_memory else jnp.zeros_like(z)
        return self._field(z, forcing, mask)

    def step(self, z, h: float = 1.0, n_substeps: int = 1, mask=None):
        z = _check_sequence(z)
        forcing = self.forcing(z)
        return ode.rk4_substeps(
            lambda t, y: self._field(y, forcing, mask), 0.0, z, h, n_substeps, retract=sphere.normalize
        )
