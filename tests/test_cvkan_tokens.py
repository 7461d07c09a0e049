"""cvkan.tokens: complex token validation and the stack's centre-magnitudes step (issue 8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.tokens import as_tokens, center_magnitudes, restore


def tokens(*shape, seed=0, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def test_as_tokens_batches_and_restore_undoes_it():
    z = tokens(2, 5, 3)
    zb, unb = as_tokens(z)
    assert zb.shape == (2, 5, 3) and not unb and zb is z
    zb, unb = as_tokens(z[0])
    assert zb.shape == (1, 5, 3) and unb
    assert torch.equal(restore(zb, unb), z[0])


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(5, 3), "complex"),  # real dtype
    (torch.zeros(5, 3, dtype=torch.int64), "complex"),
    (np.zeros((5, 3), dtype=np.complex64), "torch.Tensor"),
    (torch.zeros(3, dtype=torch.complex64), "must have shape"),  # rank 1
    (torch.zeros(2, 2, 5, 3, dtype=torch.complex64), "must have shape"),  # rank 4
])
def test_as_tokens_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        as_tokens(bad)


def test_as_tokens_checks_channels():
    with pytest.raises(ValueError, match="last axis"):
        as_tokens(tokens(4, 3), d=5)


def test_center_magnitudes_geometric_mean_is_one_and_phase_kept():
    z = tokens(3, 7, 4)
    out = center_magnitudes(z, eps=0.0)
    geo = torch.exp(torch.log(out.abs()).mean(dim=-2))  # (B, d): exp(mean_N log|out|)
    assert torch.allclose(geo, torch.ones_like(geo), atol=1e-12)
    # phase kept: out / z is a positive real number everywhere
    ratio = out / z
    assert torch.allclose(ratio.imag, torch.zeros_like(ratio.imag), atol=1e-12)
    assert bool((ratio.real > 0).all())


def test_center_magnitudes_scale_invariant_per_channel_and_rotation_equivariant():
    z = tokens(2, 6, 3, seed=1)
    out = center_magnitudes(z, eps=0.0)
    a = torch.tensor([0.3, 2.0, 17.0], dtype=torch.float64)  # per-channel positive scales
    assert torch.allclose(center_magnitudes(z * a, eps=0.0), out, atol=1e-12)
    rot = complex(math.cos(0.7), math.sin(0.7))
    assert torch.allclose(center_magnitudes(rot * z, eps=0.0), rot * out, atol=1e-12)


def test_center_magnitudes_unbatched_matches_batched():
    z = tokens(2, 6, 3, seed=2)
    assert torch.allclose(center_magnitudes(z[1]), center_magnitudes(z)[1], atol=0, rtol=0)


def test_center_magnitudes_all_zero_is_finite_with_finite_gradients():
    z = torch.zeros(2, 4, 3, dtype=torch.complex128, requires_grad=True)
    out = center_magnitudes(z)
    assert torch.equal(out, torch.zeros_like(out))
    (out.real + out.imag).sum().backward()
    assert torch.isfinite(z.grad.real).all() and torch.isfinite(z.grad.imag).all()


def test_center_magnitudes_one_zero_token_stays_finite():
    z = tokens(1, 4, 3, seed=3).clone()
    z[0, 2] = 0
    z.requires_grad_(True)
    out = center_magnitudes(z)
    out.abs().sum().backward()
    assert torch.isfinite(out.real).all() and torch.isfinite(z.grad.real).all()


def test_center_magnitudes_gradcheck_complex128():
    z = tokens(2, 3, 2, seed=4).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: center_magnitudes(x), (z,))


def test_center_magnitudes_rejects_bad_input():
    with pytest.raises(ValueError, match="complex"):
        center_magnitudes(torch.ones(4, 3))
    with pytest.raises(ValueError, match="eps"):
        center_magnitudes(tokens(4, 3), eps=-1.0)
