"""cvkan.layers: ComplexLinear (complex and real-stored weights) and the four norms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.layers import (
    NORMS, ComplexLayerNorm, ComplexLinear, ComplexRMSNorm, double_precision, make_norm,
    n_real_parameters,
)


def tokens(*shape, seed=0, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


ROT = complex(math.cos(1.1), math.sin(1.1))


def finite(t):
    return bool(torch.isfinite(torch.view_as_real(t) if t.is_complex() else t).all())


# ----------------------------------------------------------------------------- linear
def test_linear_is_w_z_plus_b_in_real_arithmetic():
    lin = double_precision(ComplexLinear(3, 2))
    with torch.no_grad():
        lin.bias.copy_(tokens(2, seed=9))
    z = tokens(4, 3, seed=1)
    wr, wi = lin.weight.real.detach(), lin.weight.imag.detach()
    br, bi = lin.bias.real.detach(), lin.bias.imag.detach()
    re = z.real @ wr.T - z.imag @ wi.T + br  # (Wr + i Wi)(zr + i zi) + b
    im = z.real @ wi.T + z.imag @ wr.T + bi
    assert torch.allclose(lin(z), torch.complex(re, im), atol=1e-12)


def test_real_parametrization_is_the_same_map_with_real_parameters():
    cplx = ComplexLinear(5, 4)
    real = ComplexLinear(5, 4, parametrization="real")
    with torch.no_grad():
        real.weight.copy_(torch.view_as_real(cplx.weight))
        real.bias.copy_(torch.view_as_real(cplx.bias))
    assert all(not p.is_complex() for p in real.parameters())
    assert all(p.is_complex() for p in cplx.parameters())
    assert n_real_parameters(real) == n_real_parameters(cplx) == 2 * (5 * 4 + 4)
    z = tokens(2, 3, 5, seed=2, dtype=torch.complex64)
    assert torch.equal(real(z), cplx(z))


def test_linear_init_keeps_mean_square_magnitude():
    lin = ComplexLinear(256, 256, bias=False)
    assert abs(lin.weight.abs().pow(2).mean().item() * 256 - 1.0) < 0.03  # E|W|^2 = 1/d_in


@pytest.mark.parametrize("parametrization", ["complex", "real"])
def test_linear_gradcheck_complex128(parametrization):
    lin = double_precision(ComplexLinear(3, 2, parametrization=parametrization))
    z = tokens(2, 3, seed=3).requires_grad_(True)
    assert torch.autograd.gradcheck(lin, (z,))


def test_linear_rejects_bad_input_and_options():
    lin = ComplexLinear(3, 2)
    with pytest.raises(ValueError, match="complex"):
        lin(torch.ones(4, 3))
    with pytest.raises(ValueError, match="d_in=3"):
        lin(tokens(4, 5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="parametrization"):
        ComplexLinear(3, 2, parametrization="polar")


def test_double_precision_keeps_kinds():
    m = double_precision(torch.nn.ModuleList([ComplexLinear(2, 2), ComplexLayerNorm(2)]))
    dtypes = {p.dtype for p in m.parameters()}
    assert dtypes == {torch.complex128, torch.float64}


# ----------------------------------------------------------------------------- norms
def layernorm_equation(z, weight, bias, eps):
    """The LayerNorm equation, token by token, with S^(-1/2) from an eigendecomposition."""
    z, weight, bias = z.numpy(), weight.detach().numpy(), bias.detach().numpy()
    out = np.empty_like(z)
    for idx in np.ndindex(*z.shape[:-1]):
        c = z[idx] - z[idx].mean()
        x = np.stack([c.real, c.imag], axis=1)  # (d, 2)
        s = x.T @ x / len(c) + eps * np.eye(2)  # biased covariance + eps I
        vals, vecs = np.linalg.eigh(s)
        whitened = x @ (vecs @ np.diag(vals ** -0.5) @ vecs.T)  # rows S^-1/2 x_c
        y = np.einsum("cij,cj->ci", weight, whitened) + bias
        out[idx] = y[:, 0] + 1j * y[:, 1]
    return torch.from_numpy(out)


def test_layernorm_matches_its_equation_with_learned_parameters():
    ln = double_precision(ComplexLayerNorm(5, eps=1e-5))
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        ln.weight.copy_(torch.randn(5, 2, 2, generator=g, dtype=torch.float64))
        ln.bias.copy_(torch.randn(5, 2, generator=g, dtype=torch.float64))
    z = tokens(2, 3, 5, seed=6) * 3 + 1  # non-zero mean, non-unit scale
    assert torch.allclose(ln(z), layernorm_equation(z, ln.weight, ln.bias, 1e-5), atol=1e-10)


def test_layernorm_at_init_whitens_each_token():
    ln = double_precision(ComplexLayerNorm(64, eps=1e-12))
    g = torch.Generator().manual_seed(7)
    # anisotropic, correlated (Re, Im) per token, different scale per token
    re = torch.randn(3, 4, 64, generator=g, dtype=torch.float64)
    z = torch.complex(re, 0.3 * re + 0.1 * torch.randn(3, 4, 64, generator=g, dtype=torch.float64))
    z = z * torch.arange(1, 5, dtype=torch.float64)[:, None]
    y = torch.view_as_real(ln(z))  # (3, 4, 64, 2)
    assert torch.allclose(y.mean(-2), torch.zeros(3, 4, 2, dtype=torch.float64), atol=1e-10)
    cov = torch.einsum("bnci,bncj->bnij", y, y) / 64
    assert torch.allclose(cov, 0.5 * torch.eye(2, dtype=torch.float64).expand_as(cov), atol=1e-8)


def test_layernorm_statistics_are_per_token_unlike_torchcvnn():
    """torchcvnn.nn.LayerNorm takes its statistics over the batch (see layers' docstring)."""
    cnn = pytest.importorskip("torchcvnn.nn")
    z = tokens(3, 4, 6, seed=8, dtype=torch.complex64)
    z2 = z.clone()
    z2[1] = 10 * z2[1] + 3  # change another sequence only
    ours = ComplexLayerNorm(6)
    assert torch.equal(ours(z)[0], ours(z2)[0])
    theirs = cnn.LayerNorm(6)
    assert (theirs(z)[0] - theirs(z2)[0]).abs().max() > 0.1


def test_layernorm_rotation_equivariant_at_init_only():
    z = tokens(2, 3, 8, seed=9)
    ln = double_precision(ComplexLayerNorm(8))
    assert torch.allclose(ln(ROT * z), ROT * ln(z), atol=1e-10)
    with torch.no_grad():
        ln.weight[:, 0, 1] = 0.7  # a non-isotropic learned weight
    assert not torch.allclose(ln(ROT * z).abs(), ln(z).abs(), atol=1e-3)


def test_rms_matches_equation_and_invariances():
    rms = double_precision(ComplexRMSNorm(6, eps=1e-12))
    with torch.no_grad():
        rms.gain.copy_(torch.linspace(0.5, 2.0, 6, dtype=torch.float64))
    z = tokens(2, 3, 6, seed=10)
    expected = rms.gain.detach() * z / torch.sqrt((z.abs() ** 2).mean(-1, keepdim=True) + 1e-12)
    assert torch.allclose(rms(z), expected, atol=1e-12)
    assert torch.allclose(rms(7.5 * z), rms(z), atol=1e-10)  # scale-free
    assert torch.allclose(rms(ROT * z), ROT * rms(z), atol=1e-12)  # rotation-equivariant


@pytest.mark.parametrize("kind", NORMS)
def test_norm_shapes_batched_and_unbatched(kind):
    norm = make_norm(kind, 4)
    z = tokens(2, 5, 4, seed=11, dtype=torch.complex64)
    out = norm(z)
    assert out.shape == z.shape and out.dtype == z.dtype
    assert torch.allclose(norm(z[1]), out[1], atol=1e-6)


@pytest.mark.parametrize("kind", NORMS)
def test_norm_gradcheck_complex128(kind):
    norm = double_precision(make_norm(kind, 3))
    z = tokens(2, 3, 3, seed=12).requires_grad_(True)
    assert torch.autograd.gradcheck(norm, (z,))


@pytest.mark.parametrize("kind", NORMS)
def test_norm_all_zero_and_constant_tokens_are_finite(kind):
    norm = make_norm(kind, 4)
    z = torch.zeros(2, 3, 4, dtype=torch.complex64)
    z[1] = 2 - 1j  # constant tokens: layernorm's centred token is 0
    z.requires_grad_(True)
    out = norm(z)
    out.abs().sum().backward()
    assert finite(out) and finite(z.grad)
    assert all(finite(p.grad) for p in norm.parameters())


def test_norm_rejects_unknown_kind_and_bad_input():
    with pytest.raises(ValueError, match="norm"):
        make_norm("batch", 4)
    for kind in NORMS:
        with pytest.raises(ValueError, match="complex"):
            make_norm(kind, 4)(torch.ones(3, 4))
        with pytest.raises(ValueError, match="must have shape"):
            make_norm(kind, 4)(torch.ones(4, dtype=torch.complex64))
