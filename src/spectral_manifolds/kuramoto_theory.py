"""Sakaguchi-Kuramoto phase model and its version on the sphere S^(d-1) (the physics).

Seed 000_bd4cbe8700a1031d.txt, Stage II writes the latent coupling as
``F_kuramoto(z) = W_out sum_j sin(<q^, k^_j>) k^_j`` and seed 001_a78d46c299591382.txt,
section 5 ("Sakaguchi-Kuramoto Stability") adds a learnable phase lag,
``sin(<q, k> + alpha)``. DESIGN.md ("Known traps") notes that for unit vectors
``<q, k> = cos(dtheta)``, so the seed's form is ``sin(cos(dtheta) + alpha)``: not the
Kuramoto coupling. This module holds the theory that chapter 3 checks; the Flax NNX
layers built on it are in :mod:`spectral_manifolds.kuramoto`.

1. **Sakaguchi-Kuramoto on the sphere** (Sakaguchi & Kuramoto 1986; Lohe 2009). For
   ``N`` oscillators ``z_i`` on ``S^(d-1)`` with mean field ``m = mean_j z_j``,

       dz_i/dt = omega_i A z_i + K Pi_{z_i}( L_alpha m ),     L_alpha = cos(alpha) I - sin(alpha) A,

   where ``A`` is a skew-symmetric *generator* (default: the block complex structure
   that turns coordinate pairs ``(0, 1), (2, 3), ...`` by +90 degrees and leaves the
   last coordinate of an odd ``d`` alone, :func:`lag_generator`) and
   ``Pi_z(v) = v - <v, z> z``. In ``d = 2``, ``A = [[0, -1], [1, 0]]``, ``L_alpha`` is
   the rotation by ``-alpha`` and with ``z_i = (cos theta_i, sin theta_i)``,
   ``m = r (cos psi, sin psi)`` the equation is *exactly* the Sakaguchi-Kuramoto model

       dtheta_i/dt = omega_i + K r sin(psi - theta_i - alpha)
                   = omega_i + K/N sum_j sin(theta_j - theta_i - alpha),

   whose order parameter for Lorentzian frequencies of half-width ``Delta`` is
   ``r* = sqrt(1 - 2 Delta / (K cos alpha))`` (Ott & Antonsen 2008).

   *Why ``cos(alpha) I - sin(alpha) A`` and not the rotation ``exp(-alpha A)``.* They
   agree whenever ``A^2 = -I`` (``d`` even). For a synchronized cluster (``z_i = z = m``)
   the lagged force is ``Pi_z(L_alpha z) = -sin(alpha) A z``: the cluster keeps turning
   along ``A`` at speed ``K sin(alpha) |A z|`` (the Sakaguchi-Kuramoto frequency shift).
   With the rotation ``exp(-alpha A)`` in odd ``d`` the force also has a component
   ``(1 - cos alpha)`` that drives the cluster into the rotation axis, where it stops.
   No choice avoids a fixed point for every ``z`` on ``S^2`` (hairy-ball theorem); the
   linear lag makes the axis a *neutral centre* rather than an attractor.

2. **The seed's form**, ``F_i = K mean_j sin(<z^_i, z^_j> + alpha) z^_j`` (projected).
   In ``d = 2`` its tangent part is ``K mean_j sin(cos(dtheta_ij) + alpha) sin(dtheta_ij)``,
   an *odd* function of ``dtheta`` for every ``alpha``: the lag changes the coupling
   strength profile but produces no drift of the synchronized state.

3. :func:`time_averaged_order`, the ``d = 2`` simulation behind chapter 3's comparison
   with Ott-Antonsen.

Off the sphere (the intermediate RK4 stages), every coupling term is evaluated at the
normalized state ``z^ = z / |z|``; the field is thus defined on all of ``R^d \\ {0}`` and
agrees with the sphere field on the sphere. Without this, a fast oscillator's
off-sphere stage (length ~ (h omega)^k) would dominate the mean field.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from spectral_manifolds import ode, sphere

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
    "time_averaged_order",
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
