"""A nonlinear, time-dependent test problem on S^2 with a closed-form solution (for RK4).

Chapter 3 (section 5) and ``tests/test_ode.py`` measure the order of classic RK4 with
retraction (:mod:`spectral_manifolds.ode`) on this field: one oscillator pulled towards
a fixed mean field ``p = e_3`` with a time-varying coupling and turned about ``p`` at a
time-varying rate. In polar angle and azimuth it separates, so its solution is exact.
Seed 000_bd4cbe8700a1031d.txt, lesson 2, replaced 4 RK4 substeps of ``h = 0.25`` by one
step of ``h = 1``; this field shows how different the two maps are on a field whose
rates are of order one.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from spectral_manifolds import sphere
from spectral_manifolds.kuramoto_theory import lag_generator

__all__ = ["driven_rotor_field", "driven_rotor_solution"]


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
