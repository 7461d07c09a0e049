"""Tests for spectral_manifolds.rotations (chapter 6): the seeds' Cayley rotations.

Oracles: closed forms (Cayley in 2-D, the orthogonality penalty of ``c I``), orthogonality
and ``det R = +1`` checked in float64, the identity start of both modules, and the oracle
distance (spectral_manifolds.alignment), which a rotation in front of it cannot change.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds.alignment import oracle_distance
from spectral_manifolds.rotations import (
    CONTEXTS,
    DynamicCayleyRotation,
    StaticCayleyRotation,
    cayley,
    orthogonality_penalty,
    rotation_context,
)

SETTINGS = dict(max_examples=10, deadline=None)


def _traj(rng, t, d, unit=False):
    x = rng.standard_normal((t, d))
    if unit:
        x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x.astype(np.float32)


# --------------------------------------------------------------------------- Cayley
@settings(**SETTINGS)
@given(d=st.sampled_from([1, 3, 8]), scale=st.floats(0.0, 5.0), seed=st.integers(0, 10_000))
def test_cayley_is_a_rotation(d, scale, seed):
    w = (scale * np.random.default_rng(seed).standard_normal((2, d, d))).astype(np.float32)
    r = np.asarray(cayley(w), dtype=np.float64)
    np.testing.assert_allclose(np.swapaxes(r, -1, -2) @ r, np.broadcast_to(np.eye(d), r.shape), atol=5e-5)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=5e-4)
    assert float(orthogonality_penalty(r.astype(np.float32))) < 1e-7


def test_cayley_closed_form_in_2d_and_identity():
    a = 0.7
    w = np.array([[0.0, a], [0.0, 0.0]], np.float32)  # A = w - w^T = [[0, a], [-a, 0]]
    c, s = (1 - a**2) / (1 + a**2), 2 * a / (1 + a**2)
    np.testing.assert_allclose(np.asarray(cayley(w)), [[c, -s], [s, c]], atol=1e-6)
    np.testing.assert_allclose(np.asarray(cayley(np.zeros((4, 4), np.float32))), np.eye(4), atol=0)
    with pytest.raises(ValueError):
        cayley(np.zeros((3, 4)))


def test_orthogonality_penalty_closed_form():
    for c in (0.5, 1.0, 2.0):
        assert float(orthogonality_penalty(c * np.eye(5, dtype=np.float32))) == pytest.approx(5 * (c**2 - 1) ** 2, rel=1e-5)
    with pytest.raises(ValueError):
        orthogonality_penalty(np.zeros(3))


def test_static_rotation_module():
    rot = StaticCayleyRotation(6, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(np.asarray(rot.rotation()), np.eye(6), atol=0)  # starts at R = I
    rot = StaticCayleyRotation(6, rngs=nnx.Rngs(0), init_scale=1.0)
    z = _traj(np.random.default_rng(8), 10, 6)
    out = rot(z)
    assert out.shape == (10, 6)
    np.testing.assert_allclose(np.asarray(rot(z[None])[0]), np.asarray(out), atol=1e-6)
    np.testing.assert_allclose(np.linalg.det(np.asarray(rot.rotation())), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="latent dims"):
        rot(np.zeros((10, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(B, T, d\) or \(T, d\)"):
        rot(np.zeros(6, np.float32))


@pytest.mark.parametrize("context", CONTEXTS)
def test_dynamic_rotation_module(context):
    d = 21
    z = jnp.asarray(np.stack([_traj(np.random.default_rng(i), 40, d, unit=True) for i in range(3)]))
    ident = DynamicCayleyRotation(d, context=context, hidden=16, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(np.asarray(ident(z)), np.asarray(z), atol=0)  # identity start
    model = DynamicCayleyRotation(d, context=context, hidden=16, rngs=nnx.Rngs(1), identity_init=False)
    r = np.asarray(model.rotation(z), dtype=np.float64)
    assert r.shape == (3, d, d)
    assert np.max(np.abs(r - np.eye(d))) > 1e-3  # it does rotate, differently per sample
    assert np.max(np.abs(r[0] - r[1])) > 1e-4
    np.testing.assert_allclose(np.swapaxes(r, -1, -2) @ r, np.broadcast_to(np.eye(d), r.shape), atol=5e-5)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=5e-4)
    aligned = model(z)
    # unbatched input gives the same result (atol: GPUs may run the Dense layers in TF32)
    np.testing.assert_allclose(np.asarray(model(z[0])), np.asarray(aligned[0]), atol=1e-3)
    # a rotation module in front of the metric cannot change the oracle distance
    assert float(oracle_distance(aligned, z)) < 1e-3
    if context == "endpoints":  # finite gradients through the Cayley solve
        grads = nnx.grad(lambda m: jnp.mean((m(z) - z[::-1]) ** 2))(model)
        assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def test_contexts():
    z = _traj(np.random.default_rng(9), 12, 4)
    vel = np.asarray(rotation_context(z, "velocity"))
    np.testing.assert_allclose(vel, (z[-1] - z[0]) / 11, atol=1e-6)  # the sum telescopes
    assert rotation_context(z, "endpoints").shape == (8,)
    assert rotation_context(z[None], "mean").shape == (1, 4)
    with pytest.raises(ValueError, match="T >= 2"):
        rotation_context(z[:1], "velocity")
    cov = np.asarray(rotation_context(z, "covariance"))
    np.testing.assert_allclose(cov, (z.T @ z / 12).ravel(), rtol=1e-5, atol=1e-6)  # uncentred, as seed 001 section 8
    assert rotation_context(z[None], "covariance").shape == (1, 16)
    with pytest.raises(ValueError, match="context must be one of"):
        rotation_context(z, "spin")
