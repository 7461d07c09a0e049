"""Tests of spectral_manifolds.manifold_field (the ManifoldFormer's latent field), moved
from tests/test_kuramoto.py with the class."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spectral_manifolds import kuramoto as ku
from spectral_manifolds import manifold_field as mf
from spectral_manifolds import sphere

Z = sphere.random_point(jax.random.key(7), (2, 9, 4))


def test_kuramoto_re_exports_the_field():
    # notebooks and older code use kuramoto.ManifoldField / kuramoto.MEMORY_KINDS
    assert ku.ManifoldField is mf.ManifoldField and ku.MEMORY_KINDS is mf.MEMORY_KINDS
    assert {"ManifoldField", "MEMORY_KINDS"} <= set(ku.__all__) and "ManifoldField" in dir(ku)
    with pytest.raises(AttributeError):
        ku.no_such_name


@pytest.mark.parametrize("first", ["manifold_field", "kuramoto"])
def test_either_module_imports_first_without_a_cycle(first):
    # a fresh interpreter: kuramoto's re-export must not need manifold_field at import time
    code = (f"import spectral_manifolds.{first}; from spectral_manifolds.kuramoto import ManifoldField; "
            "from spectral_manifolds.manifold_field import ManifoldField as F; assert ManifoldField is F")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("form", ["sakaguchi", "seed"])
def test_manifold_field_starts_as_the_identity_step(form):
    field = mf.ManifoldField(4, memory_len=16, form=form, rngs=nnx.Rngs(0))
    assert np.all(np.asarray(field(Z)) == 0.0)
    for n in (1, 4):
        np.testing.assert_allclose(field.step(Z, n_substeps=n), Z, atol=1e-6)


def test_manifold_field_is_tangent_and_steps_stay_on_the_sphere():
    field = mf.ManifoldField(4, memory_len=16, zero_init=False, alpha_init=0.5, rngs=nnx.Rngs(3))
    v = field(Z)
    np.testing.assert_allclose(np.sum(np.asarray(v) * np.asarray(Z), axis=-1), 0.0, atol=1e-5)
    one, four = field.step(Z), field.step(Z, h=1.0, n_substeps=4)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(one), axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(four), axis=-1), 1.0, atol=1e-6)
    assert not np.allclose(one, four, atol=1e-4)
    np.testing.assert_allclose(field.step(Z[0]), one[0], atol=1e-5)  # (T, d) input
    with pytest.raises(ValueError, match="memory"):
        field(Z, memory=jnp.ones((2, 3, 4)))


def test_manifold_field_memory_term_uses_the_past_only():
    field = mf.ManifoldField(4, memory_len=16, zero_init=False, rngs=nnx.Rngs(4))
    changed = Z.at[:, 6:].set(sphere.random_point(jax.random.key(5), (2, 3, 4)))
    np.testing.assert_allclose(field(changed)[:, :6], field(Z)[:, :6], atol=1e-6)
    np.testing.assert_allclose(field.step(changed)[:, :6], field.step(Z)[:, :6], atol=1e-6)


def test_manifold_field_gradients_reach_every_parameter_from_zero_init():
    field = mf.ManifoldField(4, memory_len=16, alpha_init=0.2, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(field, nnx.Param)
    target = sphere.random_point(jax.random.key(9), Z.shape)

    def loss(p):
        return jnp.sum((nnx.merge(graphdef, p).step(Z) - target) ** 2)

    grads = jax.jit(jax.grad(loss))(params)
    flat = {jax.tree_util.keystr(k): np.asarray(v) for k, v in jax.tree_util.tree_leaves_with_path(grads)}
    assert all(np.all(np.isfinite(g)) for g in flat.values())
    # the zero-initialized output layers get a gradient at once (the force can grow from zero)
    assert np.abs(flat[next(k for k in flat if "out" in k)]).max() > 0
    assert np.abs(flat[next(k for k in flat if "w_style" in k)]).max() > 0
