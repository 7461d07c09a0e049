"""Tests for spectral_manifolds.cvkan.baselines: the R and C Transformer baselines (issue 8)."""

from __future__ import annotations

import pytest
import torch

from spectral_manifolds.cvkan.baselines import (
    ComplexTransformer,
    HeadwiseLayerNorm,
    RealTransformer,
    n_real_parameters,
    width_for_params,
)

SEED_FLAT = 173_989  # issue 8: the seed's flat model, d = 32


def _z(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(*shape, generator=g), torch.randn(*shape, generator=g))


def _real_count(F, d, L, ff, out, complex_input=False):
    """RealTransformer's parameters by hand: embed, L x (attention, MLP, 2 LN), final LN, head."""
    f = 2 * F if complex_input else F
    layer = (3 * d * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d) + 4 * d
    return f * d + d + L * layer + 2 * d + d * out + out


def _complex_count(F, d, h, L, ff, out):
    """ComplexTransformer's real parameters by hand (a complex entry is 2). A complex layer norm
    on n channels has a 2x2 real map and a complex bias per channel: 6 n."""
    head = d // h
    layer = 2 * (3 * d * d + 3 * d) + 2 * (d * d + d) + 2 * 6 * head + 2 * 6 * d + 2 * (d * ff + ff) + 2 * (ff * d + d)
    return 2 * (F * d + d) + L * layer + 6 * d + d * out + out


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("unbatched", [False, True])
def test_real_transformer_shapes(unbatched):
    real = RealTransformer(5, 16, 4, 2, 3)
    x = torch.randn(7, 11, 5)
    cplx = RealTransformer(4, 16, 4, 1, 3, complex_input=True)
    z = _z(7, 11, 4)
    if unbatched:
        assert real(x[0]).shape == (3,) and cplx(z[0]).shape == (3,)
    else:
        assert real(x).shape == (7, 3) and cplx(z).shape == (7, 3)
        assert real(x).dtype == torch.float32


@pytest.mark.parametrize("norm", ["token", "torchcvnn"])
def test_complex_transformer_shapes(norm):
    m = ComplexTransformer(4, 16, 4, 2, 3, norm=norm)
    out = m(_z(7, 11, 4))
    assert out.shape == (7, 3) and not out.is_complex()
    assert m(torch.randn(7, 11, 4)).shape == (7, 3)  # real input, cast to complex
    assert m(_z(11, 4)).shape == (3,)
    assert m(_z(2, 11, 4).to(torch.complex128)).shape == (2, 3)


@pytest.mark.parametrize("activation", ["cgelu", "modrelu", "crelu"])
def test_complex_activations_finite(activation):
    out = ComplexTransformer(4, 8, 2, 1, 2, activation=activation)(_z(3, 5, 4))
    assert torch.isfinite(out).all()


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_value_errors():
    r, rc, c = RealTransformer(4, 8, 2, 1, 2), RealTransformer(4, 8, 2, 1, 2, complex_input=True), ComplexTransformer(4, 8, 2, 1, 2)
    cases = [
        (r, _z(2, 5, 4)),  # complex into a real model
        (rc, torch.randn(2, 5, 4)),  # real into complex_input=True
        (r, torch.randn(2, 5, 3)),  # wrong last axis
        (r, torch.randn(2, 2, 5, 4)),  # rank 4
        (c, torch.randn(4)),  # rank 1
        (c, _z(2, 5, 3)),
        (c, torch.ones(2, 5, 4, dtype=torch.int64)),
    ]
    for model, x in cases:
        with pytest.raises(ValueError, match="expects"):
            model(x)
    with pytest.raises(ValueError, match="torch tensor"):
        c(_z(2, 5, 4).numpy())


@pytest.mark.parametrize("kwargs", [dict(d_model=10, n_heads=4), dict(n_layers=0), dict(activation="relu"), dict(norm="batch")])
def test_bad_options_raise(kwargs):
    args = {"in_features": 4, "d_model": 8, "n_heads": 2, "n_layers": 1, "out_dim": 2, **kwargs}
    with pytest.raises(ValueError):
        ComplexTransformer(**args)
    if "activation" not in kwargs and "norm" not in kwargs:
        with pytest.raises(ValueError):
            RealTransformer(**args)


# --------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("F,d,L,ff,out,ci", [(5, 16, 2, 32, 3, False), (32, 100, 2, 200, 2, True), (1, 8, 3, 24, 12, False)])
def test_real_parameter_count_closed_form(F, d, L, ff, out, ci):
    m = RealTransformer(F, d, 4, L, out, dim_feedforward=ff, complex_input=ci)
    assert n_real_parameters(m) == _real_count(F, d, L, ff, out, ci)


@pytest.mark.parametrize("norm", ["token", "torchcvnn"])
@pytest.mark.parametrize("F,d,h,L,ff,out", [(4, 16, 4, 2, 32, 3), (32, 72, 4, 2, 144, 2)])
def test_complex_parameter_count_closed_form(norm, F, d, h, L, ff, out):
    m = ComplexTransformer(F, d, h, L, out, dim_feedforward=ff, norm=norm)
    assert n_real_parameters(m) == _complex_count(F, d, h, L, ff, out)


def test_complex_entries_count_twice():
    lin = torch.nn.Linear(3, 2, dtype=torch.complex64)
    assert n_real_parameters(lin) == 2 * (3 * 2 + 2)


@pytest.mark.parametrize(
    "build",
    [lambda w: RealTransformer(32, 4 * w, 4, 2, 2, complex_input=True), lambda w: ComplexTransformer(32, 4 * w, 4, 2, 2)],
    ids=["R", "C"],
)
def test_width_for_params_matches_the_seed_count_within_5_percent(build):
    w = width_for_params(build, SEED_FLAT, 1, 64)
    n = n_real_parameters(build(w))
    assert abs(n / SEED_FLAT - 1) <= 0.05
    for other in (w - 1, w + 1):  # and no neighbour is closer
        assert abs(n - SEED_FLAT) <= abs(n_real_parameters(build(other)) - SEED_FLAT)


def test_width_for_params_on_a_known_count():
    build = lambda w: torch.nn.Linear(w, 10)  # 10 w + 10 parameters
    assert width_for_params(build, 10 * 37 + 10, 1, 200) == 37
    assert width_for_params(build, 10 * 37 + 10 + 4, 1, 200) == 37  # rounds to the closer width
    assert width_for_params(build, 10 * 37 + 10 + 6, 1, 200) == 38
    assert width_for_params(build, 10 * 37 + 10 + 5, 1, 200) == 37  # a tie: the smaller
    assert width_for_params(build, 10**9, 1, 20) == 20  # beyond the range: its end
    with pytest.raises(ValueError, match="within"):
        width_for_params(build, 10**9, 1, 20, tol=0.05)
    with pytest.raises(ValueError):
        width_for_params(build, 100, 5, 2)


# --------------------------------------------------------------------------- training behaviour
@pytest.mark.parametrize("which", ["R", "C"])
def test_gradients_flow_to_every_parameter(which):
    torch.manual_seed(0)
    m = RealTransformer(4, 8, 2, 2, 3, complex_input=True) if which == "R" else ComplexTransformer(4, 8, 2, 2, 3)
    m(_z(5, 6, 4)).pow(2).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(torch.view_as_real(p.grad) if p.grad.is_complex() else p.grad).all(), name
    assert m.embed.weight.grad.abs().sum() > 0 and m.head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("which", ["R", "C"])
def test_eval_mode_is_deterministic_and_train_mode_uses_dropout(which):
    torch.manual_seed(0)
    m = RealTransformer(4, 8, 2, 1, 3, dropout=0.3) if which == "R" else ComplexTransformer(4, 8, 2, 1, 3, dropout=0.3)
    x = torch.randn(6, 5, 4)
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x), m(x))
    m.train()
    assert not torch.equal(m(x), m(x))


def test_token_norm_keeps_samples_independent_torchcvnn_norm_does_not():
    """torchcvnn 0.10's LayerNorm takes its statistics over the batch (module docstring): a
    sample's output then depends on its batch companions, also in eval mode; "token" does not."""
    z = _z(6, 5, 4)
    torch.manual_seed(0)
    token = ComplexTransformer(4, 8, 2, 1, 3, norm="token").eval()
    torch.manual_seed(0)
    library = ComplexTransformer(4, 8, 2, 1, 3, norm="torchcvnn").eval()
    with torch.no_grad():
        torch.testing.assert_close(token(z)[:1], token(z[:1]), atol=1e-5, rtol=1e-5)
        assert (library(z)[:1] - library(z[:1])).abs().max() > 1e-3


def test_zero_input_is_finite():
    """A constant token is the layer norm's edge (zero covariance)."""
    for m in (RealTransformer(4, 8, 2, 1, 2), ComplexTransformer(4, 8, 2, 1, 2)):
        x = torch.zeros(2, 5, 4, requires_grad=True)
        out = m(x)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


def test_headwise_norm_normalizes_each_group():
    """At init each head's channels leave with mean 0 and mean |.|^2 = 1 (whitened, times I/sqrt2)."""
    norm = HeadwiseLayerNorm(4)
    z = _z(3, 5, 12) * 7 + 2j
    out = norm(z).reshape(3, 5, 3, 4)
    torch.testing.assert_close(out.mean(-1), torch.zeros(3, 5, 3, dtype=out.dtype), atol=1e-5, rtol=0)
    assert torch.allclose((out.abs() ** 2).mean(-1), torch.ones(3, 5, 3), atol=1e-3)
    with pytest.raises(ValueError):
        norm(_z(3, 5, 10))
