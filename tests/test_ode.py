"""Tests of spectral_manifolds.ode: classic RK4, substeps, retraction, scan integration."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds import driven_rotor as ku
from spectral_manifolds import ode, sphere


# ---------------------------------------------------------------- the classic tableau
def test_one_step_of_a_quadrature_is_simpsons_rule_not_the_three_eighths_rule():
    # f(t, y) = t^4 on [0, 1]: Simpson gives (0 + 4/16 + 1)/6 = 5/24; the 3/8 rule (torchdiffeq's
    # 'rk4') gives (0 + 3/81 + 3*16/81 + 1)/8 = 11/54; the exact integral is 1/5.
    y1 = ode.rk4_step(lambda t, y: t**4, 0.0, np.float64(0.0), 1.0)
    assert y1 == pytest.approx(5 / 24, abs=1e-15)
    assert abs(y1 - 11 / 54) > 1e-3


@settings(max_examples=30, deadline=None)
@given(st.floats(-2.5, 0.5), st.floats(-2.5, 2.5))
def test_linear_step_is_the_degree_four_taylor_polynomial(re, im):
    # For y' = lam y one classic RK4 step multiplies by R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24, z = h lam.
    lam = complex(re, im)
    y1 = ode.rk4_step(lambda t, y: lam * y, 0.0, np.complex128(1.0), 1.0)
    z = lam
    assert y1 == pytest.approx(1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24, rel=1e-13, abs=1e-13)


# ---------------------------------------------------------------- fourth order
def _scalar_errors(steps, T=1.0, y0=0.5):
    """y' = y^2 cos t (nonlinear, time-dependent): y = 1 / (1/y0 - sin t). float64 numpy."""
    errors = []
    for h in steps:
        n = int(round(T / h))
        y, t = np.float64(y0), 0.0
        for _ in range(n):
            y = ode.rk4_step(lambda s, u: u * u * np.cos(s), t, y, h)
            t += h
        errors.append(abs(y - 1.0 / (1.0 / y0 - np.sin(T))))
    return np.array(errors)


def test_classic_rk4_is_fourth_order_on_a_nonlinear_time_dependent_scalar_field():
    errors = _scalar_errors([0.1, 0.05, 0.025, 0.0125])
    ratios = errors[:-1] / errors[1:]
    assert np.all((ratios > 15.0) & (ratios < 17.5)), ratios  # 2^4 = 16


def test_classic_rk4_with_retraction_is_fourth_order_on_the_sphere_float32():
    phi0, lam0, T = 2.5, 0.3, 4.0
    z0 = jnp.asarray(ku.driven_rotor_solution(0.0, phi0, lam0), jnp.float32)
    exact = ku.driven_rotor_solution(T, phi0, lam0)
    errors = []
    for h in (0.25, 0.125, 0.0625):
        n = int(round(T / h))
        _, zs = ode.integrate(ku.driven_rotor_field, z0, h=h, n_steps=n, retract=sphere.normalize, save_every=n)
        errors.append(np.linalg.norm(np.asarray(zs[-1], np.float64) - exact))
        assert abs(np.linalg.norm(np.asarray(zs[-1])) - 1.0) < 1e-6
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 13.0) & (ratios < 20.0)), ratios


def test_driven_rotor_solution_solves_its_field():
    # The closed form used as the oracle: its time derivative equals the field (central differences).
    t, eps = np.linspace(0.1, 3.0, 7), 1e-5
    z = ku.driven_rotor_solution(t, 2.5, 0.3)
    dz = (ku.driven_rotor_solution(t + eps, 2.5, 0.3) - ku.driven_rotor_solution(t - eps, 2.5, 0.3)) / (2 * eps)
    f = np.stack([np.asarray(ku.driven_rotor_field(ti, jnp.asarray(zi, jnp.float32))) for ti, zi in zip(t, z)])
    np.testing.assert_allclose(dz, f, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=-1), 1.0, atol=1e-12)


# ---------------------------------------------------------------- substeps
def test_substeps_are_repeated_steps_with_retraction_after_each():
    f = ku.driven_rotor_field
    z0 = jnp.asarray(ku.driven_rotor_solution(0.0, 2.0, 0.1), jnp.float32)
    z = z0
    for i in range(4):
        z = sphere.normalize(ode.rk4_step(f, 0.25 * i, z, 0.25))
    np.testing.assert_allclose(ode.rk4_substeps(f, 0.0, z0, 1.0, 4, sphere.normalize), z, atol=1e-6)
    np.testing.assert_allclose(ode.rk4_substeps(f, 0.0, z0, 1.0, 1), ode.rk4_step(f, 0.0, z0, 1.0), atol=0)


def test_four_substeps_beat_one_unit_step_on_a_fast_field():
    z0 = jnp.asarray(ku.driven_rotor_solution(0.0, 2.5, 0.3), jnp.float32)
    exact = ku.driven_rotor_solution(1.0, 2.5, 0.3)
    one = np.linalg.norm(np.asarray(ode.rk4_substeps(ku.driven_rotor_field, 0.0, z0, 1.0, 1, sphere.normalize)) - exact)
    four = np.linalg.norm(np.asarray(ode.rk4_substeps(ku.driven_rotor_field, 0.0, z0, 1.0, 4, sphere.normalize)) - exact)
    assert four < one / 10


@pytest.mark.parametrize("n", [0, -1])
def test_substeps_must_be_positive(n):
    with pytest.raises(ValueError, match="n_substeps"):
        ode.rk4_substeps(lambda t, y: y, 0.0, jnp.ones(2), 1.0, n)


# ---------------------------------------------------------------- integrate
def test_integrate_matches_exponential_growth_and_returns_the_grid():
    ts, ys = ode.integrate(lambda t, y: -y, jnp.ones(3), h=0.1, n_steps=20, save_every=5)
    assert ts.shape == (5,) and ys.shape == (5, 3)
    np.testing.assert_allclose(ts, [0.0, 0.5, 1.0, 1.5, 2.0], atol=1e-6)
    growth = 1 - 0.1 + 0.1**2 / 2 - 0.1**3 / 6 + 0.1**4 / 24  # R(-h) per step
    np.testing.assert_allclose(ys[:, 0], growth ** (5 * np.arange(5)), rtol=1e-6)
    np.testing.assert_allclose(ys[:, 0], np.exp(-np.asarray(ts)), rtol=1e-5)


def test_integrate_accepts_pytrees_and_an_observer():
    y0 = (jnp.ones(2), jnp.zeros(()))

    def f(t, y):  # (x, s): x' = -x, s' = t
        return (-y[0], t)

    ts, obs = ode.integrate(f, y0, h=0.25, n_steps=8, observe=lambda y: y[1])
    assert obs.shape == (9,)
    np.testing.assert_allclose(obs, np.asarray(ts) ** 2 / 2, atol=1e-6)  # RK4 exact on a polynomial


def test_integrate_is_jittable():
    run = jax.jit(lambda y0: ode.integrate(lambda t, y: jnp.sin(t) * y, y0, h=0.05, n_steps=40, save_every=40)[1][-1])
    np.testing.assert_allclose(run(jnp.ones(2)), np.exp(1 - np.cos(2.0)) * np.ones(2), rtol=1e-5)


@pytest.mark.parametrize("n_steps,save_every", [(10, 3), (10, 0), (-1, 1)])
def test_integrate_rejects_bad_grids(n_steps, save_every):
    with pytest.raises(ValueError, match="n_steps"):
        ode.integrate(lambda t, y: y, jnp.ones(2), h=0.1, n_steps=n_steps, save_every=save_every)
