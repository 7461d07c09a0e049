"""validate: one shape/NaN validator for numpy, JAX and torch sequences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from spectral_manifolds import validate


@pytest.mark.parametrize("make", [np.zeros, jnp.zeros, torch.zeros])
def test_batched_and_unbatched(make):
    xb, unb = validate.sequence(make((4, 7, 3)), last=3)
    assert tuple(xb.shape) == (4, 7, 3) and not unb
    xb, unb = validate.sequence(make((7, 3)), last=3)
    assert tuple(xb.shape) == (1, 7, 3) and unb


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4, 5)])
def test_wrong_rank(shape):
    with pytest.raises(ValueError, match="must have shape"):
        validate.sequence(np.zeros(shape))


def test_wrong_last_axis_and_steps():
    with pytest.raises(ValueError, match="last axis"):
        validate.sequence(np.zeros((5, 4)), "x", last=3, last_name="C")
    with pytest.raises(ValueError, match="at least 8"):
        validate.sequence(np.zeros((5, 4)), min_steps=8)


@pytest.mark.parametrize("make", [np.array, jnp.array, torch.tensor])
def test_nan_rejected_when_asked(make):
    x = make([[0.0, float("nan")], [1.0, 2.0]])
    validate.sequence(x)  # not checked unless asked
    with pytest.raises(ValueError, match="1 NaN"):
        validate.sequence(x, finite=True)


def test_traced_values_pass_through_jit():
    f = jax.jit(lambda x: validate.sequence(x, finite=True, last=2)[0].sum())
    assert float(f(jnp.ones((3, 2)))) == 6.0


def test_choice():
    validate.choice("mode", "a", ("a", "b"))
    with pytest.raises(ValueError, match="'c' is not one of 'a', 'b'"):
        validate.choice("mode", "c", ("a", "b"))


@pytest.mark.parametrize("value", [0, -3, 2.0, True, "4", None])
def test_positive_int_rejects(value):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        validate.positive_int("n", value)


def test_positive_int_accepts_numpy_ints():
    validate.positive_int("n", 3)
    validate.positive_int("n", np.int64(3))
