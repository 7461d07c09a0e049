"""Classic fourth-order Runge-Kutta (RK4) with substeps and a retraction hook.

Seed 000_bd4cbe8700a1031d.txt, Stage II and lesson 2: the latent state evolves as
``z_{t+1} = RK4(z_t, h = 1)``, one step per data step; the seed's earlier version took
4 substeps of ``h = 0.25``. Both are :func:`rk4_substeps` with ``n = 1`` or ``n = 4``.

The scheme is the *classic* RK4 (Kutta 1901),

    k1 = f(t, y)
    k2 = f(t + h/2, y + h/2 k1)
    k3 = f(t + h/2, y + h/2 k2)
    k4 = f(t + h,   y + h k3)
    y' = y + h/6 (k1 + 2 k2 + 2 k3 + k4),

not the 3/8 rule that torchdiffeq calls 'rk4' (DESIGN.md, "Known traps"). For the pure
quadrature ``f(t, y) = g(t)`` one step is Simpson's rule, which the tests use to tell
the two apart.

On a manifold the stages are taken in the ambient space (the field is tangent, so the
stages stay close to the manifold) and a *retraction* (e.g. ``sphere.normalize``) maps
the result back after each (sub)step (Absil et al. 2008, chapter 4).

Every function works on pytrees of arrays (JAX or numpy) and is ``jax.jit``-compatible;
the long integrations use ``jax.lax.scan``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp

Field = Callable[[Any, Any], Any]  # f(t, y) -> dy/dt, same pytree structure as y
Retraction = Optional[Callable[[Any], Any]]  # y -> y (back onto the manifold)


def _axpy(a, x, y):
    """``y + a * x`` on pytrees (``a`` a scalar)."""
    return jax.tree_util.tree_map(lambda xi, yi: yi + a * xi, x, y)


def rk4_step(f: Field, t, y, h):
    """One classic RK4 step of size ``h`` for ``dy/dt = f(t, y)``.

    Args:
        f: the vector field, ``f(t, y)`` with the pytree structure of ``y``.
        t: scalar time at the start of the step.
        y: state, any pytree of arrays (e.g. ``z: (B, T, d)``).
        h: scalar step size.

    Returns:
        The state at ``t + h``, same structure and shapes as ``y`` (no retraction).
    """
    k1 = f(t, y)
    k2 = f(t + 0.5 * h, _axpy(0.5 * h, k1, y))
    k3 = f(t + 0.5 * h, _axpy(0.5 * h, k2, y))
    k4 = f(t + h, _axpy(h, k3, y))
    return jax.tree_util.tree_map(
        lambda yi, a, b, c, d: yi + (h / 6.0) * (a + 2.0 * b + 2.0 * c + d), y, k1, k2, k3, k4
    )


def rk4_substeps(f: Field, t, y, h, n_substeps: int = 1, retract: Retraction = None):
    """Advance ``y`` from ``t`` to ``t + h`` with ``n_substeps`` RK4 steps of ``h / n``.

    ``n_substeps = 1`` is the seed's final choice (one step of ``h = 1``); ``n = 4`` its
    earlier one (4 substeps of ``h = 0.25``). ``retract`` (if given) is applied after
    every substep, e.g. ``sphere.normalize`` to keep ``z`` on the unit sphere.

    Args:
        f: vector field ``f(t, y)``.
        t: scalar start time.
        y: state pytree.
        h: scalar total step.
        n_substeps: positive Python int.
        retract: optional map ``y -> y`` onto the manifold.

    Returns:
        The state at ``t + h``.
    """
    n = int(n_substeps)
    if n < 1:
        raise ValueError(f"n_substeps must be a positive integer, got {n_substeps!r}")
    dt = h / n
    for i in range(n):  # n is small and static: unrolled
        y = rk4_step(f, t + i * dt, y, dt)
        if retract is not None:
            y = retract(y)
    return y


def integrate(
    f: Field,
    y0,
    *,
    h: float,
    n_steps: int,
    t0: float = 0.0,
    n_substeps: int = 1,
    retract: Retraction = None,
    save_every: int = 1,
    observe: Optional[Callable[[Any], Any]] = None,
):
    """Integrate ``dy/dt = f(t, y)`` for ``n_steps`` steps of ``h`` with ``jax.lax.scan``.

    Each step is :func:`rk4_substeps` (``n_substeps`` RK4 substeps, retraction after each).

    Args:
        f: vector field ``f(t, y)``; must be traceable by JAX.
        y0: initial state pytree (JAX arrays), e.g. ``(N, d)`` points on a sphere.
        h: step size; n_steps: number of steps (``n_steps % save_every == 0``).
        t0: initial time.
        n_substeps: RK4 substeps per step; retract: optional retraction.
        save_every: keep every ``save_every``-th state.
        observe: optional map ``y -> pytree`` (e.g. an order parameter); when given, only
            ``observe(y)`` is kept instead of the whole state, which saves memory.

    Returns:
        ``(ts, ys)``: ``ts: (n_steps // save_every + 1,)`` times and the (observed)
        states stacked on a new leading axis, ``ys: (n_steps // save_every + 1, ...)``;
        row 0 belongs to ``y0``.
    """
    n_steps, save_every = int(n_steps), int(save_every)
    if n_steps < 0 or save_every < 1 or n_steps % save_every:
        raise ValueError(
            f"need n_steps >= 0 divisible by save_every >= 1, got n_steps={n_steps}, save_every={save_every}"
        )
    n_saved = n_steps // save_every

    def inner(carry, _):
        t, y = carry
        y = rk4_substeps(f, t, y, h, n_substeps, retract)
        return (t + h, y), None

    obs = (lambda y: y) if observe is None else observe

    def outer(carry, _):
        carry, _ = jax.lax.scan(inner, carry, None, length=save_every)
        return carry, (carry[0], obs(carry[1]))

    t0 = jnp.asarray(t0, dtype=jnp.result_type(float))
    _, (ts, ys) = jax.lax.scan(outer, (t0, y0), None, length=n_saved)
    ts = jnp.concatenate([t0[None], ts])
    ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([jnp.asarray(a)[None], b]), obs(y0), ys)
    return ts, ys
