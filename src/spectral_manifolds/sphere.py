"""Geometry of the unit sphere S^(d-1) in R^d, in JAX (seed 000_bd4cbe8700a1031d.txt, Stage I).

The ManifoldFormer keeps its latent state on the unit sphere: the encoder's mean is
normalized onto it, samples move along it with the exponential map and the dynamics
come back to it with a retraction. This module holds the few maps that work needs.

Every function works on the LAST axis and broadcasts over any leading axes, e.g.
``z: (B, T, d)`` with ``v: (B, T, d)`` or ``v: (d,)``. Every function is float32-safe
and has finite gradients at the degenerate points (a zero tangent vector, two equal
points), where the textbook formulas divide by zero.

Known trap (DESIGN.md): writing the exponential map as ``cos|v| z + sin|v| v/|v|``
gives NaN gradients at ``v = 0``, even behind a ``jnp.where``, because the unused
branch still differentiates ``v/|v|``. Here it is written with ``sinc`` and a
"double-where" norm whose gradient at zero is zero rather than NaN.

References: Absil, Mahony & Sepulchre (2008), Optimization Algorithms on Matrix
Manifolds, §§4-5 and example 5.4.1 (sphere); geoopt's ``Sphere`` serves as test oracle.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = [
    "safe_norm",
    "sinc",
    "inner",
    "normalize",
    "project",
    "exp",
    "exp_naive",
    "log",
    "dist",
    "retract",
    "transport",
    "random_point",
]


def inner(x, y):
    """Euclidean inner product on the last axis.

    Args:
        x, y: (..., d), broadcastable.
    Returns:
        (..., 1): ``<x, y>``, kept as a trailing axis so it broadcasts against (..., d).
    """
    return jnp.sum(x * y, axis=-1, keepdims=True)


def safe_norm(x):
    """Euclidean norm on the last axis whose gradient at ``x = 0`` is 0, not NaN.

    The plain ``sqrt(sum x^2)`` has gradient ``x/|x|`` = 0/0 at zero. The
    "double where" evaluates ``sqrt`` only at a safe argument, so neither branch
    produces a NaN in the backward pass.

    Args:
        x: (..., d).
    Returns:
        (..., 1): ``|x|``.
    """
    sq = jnp.sum(x * x, axis=-1, keepdims=True)
    positive = sq > 0
    safe_sq = jnp.where(positive, sq, jnp.ones_like(sq))
    return jnp.where(positive, jnp.sqrt(safe_sq), jnp.zeros_like(sq))


def normalize(x, eps: float = 1e-8):
    """Radial projection onto the unit sphere, ``x / |x|``.

    Args:
        x: (..., d), any vectors.
        eps: floor on the norm; a vector shorter than ``eps`` is divided by ``eps``
            (so ``normalize(0) = 0``, finite, with finite gradient).
    Returns:
        (..., d): unit vectors (for ``|x| >= eps``).
    """
    sq = jnp.sum(x * x, axis=-1, keepdims=True)
    return x / jnp.sqrt(jnp.maximum(sq, jnp.asarray(eps, sq.dtype) ** 2))


def project(z, v):
    """Orthogonal projection of ``v`` onto the tangent space at ``z``: ``v - <v, z> z``.

    Args:
        z: (..., d) on the unit sphere.
        v: (..., d) any ambient vector.
    Returns:
        (..., d): tangent vector at ``z`` (orthogonal to ``z``).
    """
    return v - inner(v, z) * z


def sinc(x):
    """Unnormalized sinc, ``sin(x)/x``: value 1 and derivative 0 at ``x = 0``, finite gradients.

    Written with a Taylor branch for ``|x| < 1e-3`` and a "double where", rather than
    ``jnp.sinc(x / pi)``: the rescaling by pi costs about ``|x| * 1e-7`` absolute accuracy in
    float32 (1e-6 at ``x = 50``), which moves ``exp`` off the sphere for long vectors.

    Args:
        x: (...) any shape.
    Returns:
        (...) same shape.
    """
    small = jnp.abs(x) < 1e-3
    safe = jnp.where(small, jnp.ones_like(x), x)
    x2 = x * x
    return jnp.where(small, 1.0 - x2 / 6.0 + x2 * x2 / 120.0, jnp.sin(safe) / safe)


def exp(z, v):
    """Exponential map: follow the great circle from ``z`` in direction ``v`` for length ``|v|``.

    ``exp_z(v) = cos|v| z + sinc|v| v`` with ``sinc(t) = sin(t)/t``; finite value and
    gradient at ``v = 0``, where the derivative is the identity on the tangent space.

    Args:
        z: (..., d) on the unit sphere.
        v: (..., d) tangent at ``z`` (``<z, v> = 0``; not re-projected here).
    Returns:
        (..., d) on the unit sphere.
    """
    n = safe_norm(v)
    return jnp.cos(n) * z + sinc(n) * v


def exp_naive(z, v):
    """The textbook exponential map ``cos|v| z + sin|v| v/|v|`` guarded by a ``where``: THE TRAP.

    Kept only to demonstrate and test the trap of DESIGN.md ("Known traps"): its value is
    right (``z`` at ``v = 0``), but its gradient at ``v = 0`` is NaN, because ``jnp.where``
    still differentiates the unused branch ``v/|v|`` = 0/0. Use :func:`exp`.

    Args:
        z: (..., d) on the unit sphere; v: (..., d) tangent at ``z``.
    Returns:
        (..., d) on the unit sphere.
    """
    n = jnp.linalg.norm(v, axis=-1, keepdims=True)
    return jnp.where(n > 0, jnp.cos(n) * z + jnp.sin(n) * v / n, z)


def log(z, y):
    """Logarithm map, the inverse of :func:`exp`: the tangent vector at ``z`` pointing to ``y``.

    ``log_z(y) = theta / |u| * u`` with ``u = y - <y, z> z`` and
    ``theta = atan2(|u|, <y, z>)`` the geodesic distance. Using ``|u|`` (which equals
    ``sin theta``) in both the angle and the rescaling keeps the result accurate for
    nearby points; at ``y = z`` it returns 0 with finite gradient (the projection).
    Near the antipode ``-z`` the map is ill-conditioned (every direction is a shortest
    path); at exactly ``y = -z`` it returns 0 rather than NaN.

    Args:
        z: (..., d) on the unit sphere (base point).
        y: (..., d) on the unit sphere.
    Returns:
        (..., d): tangent vector at ``z`` of norm ``dist(z, y)``.
    """
    u = project(z, y)
    nu = safe_norm(u)
    theta = jnp.arctan2(nu, inner(y, z))
    positive = nu > 0
    safe_nu = jnp.where(positive, nu, jnp.ones_like(nu))
    scale = jnp.where(positive, theta / safe_nu, jnp.ones_like(nu))
    return scale * u


def dist(x, y):
    """Geodesic (great-circle) distance, ``2 atan2(|x - y|, |x + y|)``.

    ``arccos(<x, y>)`` loses half the digits for nearby points (float32: about 3e-4
    absolute error at distance 1e-4) and has an infinite derivative at ``x = y``; the
    half-angle ``atan2`` form is accurate over the whole range ``[0, pi]`` and its
    gradient at ``x = y`` is finite (0).

    Args:
        x, y: (..., d) on the unit sphere, broadcastable.
    Returns:
        (...,): distances in ``[0, pi]``.
    """
    return 2.0 * jnp.arctan2(safe_norm(x - y), safe_norm(x + y))[..., 0]


def retract(z, v):
    """Metric-projection retraction ``normalize(z + v)``: first-order agreement with :func:`exp`.

    Args:
        z: (..., d) on the unit sphere.
        v: (..., d) tangent at ``z``.
    Returns:
        (..., d) on the unit sphere.
    """
    return normalize(z + v)


def transport(x, y, v):
    """Parallel transport of ``v`` (tangent at ``x``) along the minimizing geodesic to ``y``.

    Closed form without any norm: ``v - <y, v> / (1 + <x, y>) (x + y)``. It equals the
    textbook ``v + (cos t - 1) <e, v> e - sin t <e, v> x`` with ``t = dist(x, y)`` and
    ``e = log_x(y)/t``: the component along the geodesic turns with it, the orthogonal
    part is unchanged. It is an isometry onto the tangent space at ``y``. Undefined at
    ``y = -x`` (no unique geodesic); the denominator is floored there to stay finite.

    (geoopt's ``Sphere.transp`` is a different map, the projection ``proju(y, v)``.)

    Args:
        x: (..., d) on the unit sphere (start).
        y: (..., d) on the unit sphere (end).
        v: (..., d) tangent at ``x``.
    Returns:
        (..., d) tangent at ``y``.
    """
    c = inner(x, y)
    tiny = jnp.finfo(jnp.result_type(c)).tiny
    denom = jnp.maximum(1.0 + c, tiny)
    return v - inner(y, v) / denom * (x + y)


def random_point(key, shape):
    """Uniform random points on the unit sphere (normalized standard normals).

    Args:
        key: a JAX PRNG key.
        shape: tuple ending in ``d``, e.g. ``(B, d)``.
    Returns:
        ``shape``-shaped float32 array of unit vectors.
    """
    import jax

    return normalize(jax.random.normal(key, shape))
