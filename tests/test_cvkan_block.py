"""cvkan.aggregation and cvkan.block: the five aggregations and the polarizing block (issue 8)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from spectral_manifolds.cvkan.aggregation import AGGREGATIONS, make_aggregation
from spectral_manifolds.cvkan.block import EPS, PolarizingBlock
from spectral_manifolds.cvkan.layers import double_precision

ROT = complex(math.cos(0.9), math.sin(0.9))
EQUIVARIANT = ("mean", "magnitude", "causal", "window")
BROADCAST = ("mean", "magnitude", "attention")


def tokens(*shape, seed=0, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def finite(t):
    return bool(torch.isfinite(torch.view_as_real(t) if t.is_complex() else t).all())


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def block64(d=3, hidden=5, **kw):
    torch.manual_seed(0)
    return double_precision(PolarizingBlock(d, hidden, **kw))


# ------------------------------------------------------------------------ aggregations
@pytest.mark.parametrize("kind", AGGREGATIONS)
def test_aggregation_shapes(kind):
    agg = make_aggregation(kind, 4)
    z = tokens(2, 6, 4, dtype=torch.complex64)
    n_out = 1 if kind in BROADCAST else 6
    assert agg(z).shape == (2, n_out, 4) and agg.broadcast == (kind in BROADCAST)
    assert agg(z[0]).shape == (n_out, 4)
    assert torch.allclose(agg(z[1]), agg(z)[1], atol=1e-6)


def test_magnitude_weights_follow_the_formula_and_equal_mean_for_unit_tokens():
    z = tokens(2, 5, 3, seed=1)
    m = z.abs().mean(-1)  # (B, N): mean_d |z_i|
    w = m / m.sum(-1, keepdim=True)
    expected = (w[..., None] * z).sum(1, keepdim=True)
    agg = make_aggregation("magnitude", 3)
    assert torch.allclose(agg(z), expected, atol=1e-12)
    unit = torch.polar(torch.ones(2, 5, 3, dtype=torch.float64), z.angle())  # the synthetic task's tokens
    assert torch.allclose(agg(unit), unit.mean(1, keepdim=True), atol=1e-12)


def test_causal_is_the_cumulative_mean_and_never_looks_ahead():
    z = tokens(2, 7, 3, seed=2)
    agg = make_aggregation("causal", 3)
    out = agg(z)
    for i in range(7):
        assert torch.allclose(out[:, i], z[:, : i + 1].mean(1), atol=1e-12)
    for k in range(1, 7):
        future = z.clone()
        future[:, k:] = tokens(2, 7 - k, 3, seed=10 + k) * 100
        assert torch.equal(agg(future)[:, :k], out[:, :k])  # exactly, bit for bit


def test_window_is_the_centred_mean_over_existing_tokens():
    z = tokens(2, 6, 3, seed=3)
    for window in (1, 3, 5):
        h = window // 2
        out = make_aggregation("window", 3, window=window)(z)
        for i in range(6):
            lo, hi = max(0, i - h), min(6, i + h + 1)
            assert torch.allclose(out[:, i], z[:, lo:hi].mean(1), atol=1e-12)
    wide = make_aggregation("window", 3, window=11)(z)  # >= 2N - 1: the global mean everywhere
    assert torch.allclose(wide, z.mean(1, keepdim=True).expand_as(z), atol=1e-12)


def test_window_is_local():
    z = tokens(1, 9, 2, seed=4)
    agg = make_aggregation("window", 2, window=3)
    moved = z.clone()
    moved[:, 4] += 5.0
    changed = (agg(moved) != agg(z)).any(-1)[0]
    assert changed.tolist() == [False] * 3 + [True] * 3 + [False] * 3


def test_window_must_be_odd():
    with pytest.raises(ValueError, match="odd"):
        make_aggregation("window", 3, window=4)


def test_attention_is_a_softmax_over_re_im_scores():
    agg = double_precision(make_aggregation("attention", 3))
    z = tokens(2, 5, 3, seed=5)
    w, b = agg.score.weight.detach()[0], agg.score.bias.detach()[0]
    p = torch.softmax(z.real @ w[:3] + z.imag @ w[3:] + b, dim=1)  # (B, N)
    assert torch.allclose(agg(z), (p[..., None] * z).sum(1, keepdim=True), atol=1e-12)
    assert n_params(agg) == 2 * 3 + 1
    with torch.no_grad():
        agg.score.weight.zero_()
    assert torch.allclose(agg(z), z.mean(1, keepdim=True), atol=1e-12)  # uniform scores: the mean


@pytest.mark.parametrize("kind", EQUIVARIANT)
def test_aggregation_rotation_equivariant(kind):
    agg = make_aggregation(kind, 3)
    z = tokens(2, 5, 3, seed=6)
    assert torch.allclose(agg(ROT * z), ROT * agg(z), atol=1e-12)


def test_attention_aggregation_is_not_rotation_equivariant():
    agg = double_precision(make_aggregation("attention", 3))
    with torch.no_grad():
        agg.score.weight.normal_(0, 2.0, generator=torch.Generator().manual_seed(0))
    z = tokens(2, 5, 3, seed=7)
    assert (agg(ROT * z).abs() - agg(z).abs()).abs().max() > 1e-2


@pytest.mark.parametrize("kind", AGGREGATIONS)
def test_aggregation_gradcheck_complex128(kind):
    agg = double_precision(make_aggregation(kind, 2))
    z = tokens(2, 4, 2, seed=8).requires_grad_(True)
    assert torch.autograd.gradcheck(agg, (z,))


@pytest.mark.parametrize("kind", AGGREGATIONS)
def test_aggregation_all_zero_is_finite(kind):
    agg = make_aggregation(kind, 3)
    z = torch.zeros(2, 4, 3, dtype=torch.complex64, requires_grad=True)
    out = agg(z)
    (out.real + out.imag).sum().backward()
    assert finite(out) and finite(z.grad)


def test_aggregation_rejects_unknown_kind_and_bad_input():
    with pytest.raises(ValueError, match="aggregation"):
        make_aggregation("max", 3)
    for kind in AGGREGATIONS:
        with pytest.raises(ValueError, match="complex"):
            make_aggregation(kind, 3)(torch.ones(4, 3))
        with pytest.raises(ValueError, match="must have shape"):
            make_aggregation(kind, 3)(torch.ones(3, dtype=torch.complex64))


# ------------------------------------------------------------------------------ block
def test_block_parameter_count_reproduces_the_seed():
    block = PolarizingBlock(32, hidden=128)
    assert n_params(block.psi_m) == 24_864 and n_params(block.psi_p) == 33_088
    n = n_params(block)
    assert n == 57_953
    head = 130  # the seed's head, from its three figures
    assert 3 * n + head == 173_989 and n + head == 58_083 and 10 * n + head == 579_660


@pytest.mark.parametrize("d, h, univariate", [(32, 128, False), (32, 27, True), (5, 7, False), (5, 7, True)])
def test_block_parameter_count_closed_form(d, h, univariate):
    if univariate:  # per channel: psi_m 1->h->h->1, psi_p 2->h->h->2
        expected = d * ((h + h) + (h * h + h) + (h + 1)) + d * ((2 * h + h) + (h * h + h) + (2 * h + 2)) + 1
    else:
        expected = (d * h + h + h * h + h + h * d + d) + (2 * d * h + h + h * h + h + 2 * h * d + 2 * d) + 1
    block = PolarizingBlock(d, h, univariate=univariate)
    assert n_params(block) == expected == PolarizingBlock.n_parameters_for(d, h, univariate)
    assert n_params(PolarizingBlock(d, h, "attention", univariate=univariate)) == expected + 2 * d + 1


@pytest.mark.parametrize("version", ["tanh", "legacy"])
def test_block_follows_its_equation(version):
    block = block64(version=version, s_init=0.3)
    z = tokens(2, 4, 3, seed=9)
    a = z.mean(1, keepdim=True)
    ell, u = torch.log(a.abs() + 1e-6), a / (a.abs() + 1e-6)
    m = block.psi_m(ell)
    out = block.psi_p(torch.cat([u.real, u.imag], -1))
    v = torch.complex(out[..., :3], out[..., 3:])
    direction = v / (v.abs() + 1e-6)
    gain = 0.3 * torch.exp(5 * torch.tanh(m)) if version == "tanh" else torch.exp(ell + 0.3 * m)
    assert torch.allclose(block(z), z + gain * direction, atol=1e-12)


@pytest.mark.parametrize("univariate", [False, True])
@pytest.mark.parametrize("kind", AGGREGATIONS)
def test_block_shapes(kind, univariate):
    block = PolarizingBlock(4, 6, kind, univariate=univariate)
    z = tokens(2, 5, 4, seed=10, dtype=torch.complex64)
    out = block(z)
    assert out.shape == z.shape and out.dtype == z.dtype
    assert block(z[0]).shape == (5, 4)
    assert torch.allclose(block(z[1]), out[1], atol=1e-5)


@pytest.mark.parametrize("version, kind", list(itertools.product(["tanh", "legacy"], BROADCAST)))
def test_broadcast_mode_preserves_token_differences(version, kind):
    block = block64(aggregation=kind, version=version)
    z = tokens(2, 5, 3, seed=11)
    out = block(z)
    diff_in = z[:, :, None] - z[:, None]  # (B, N, N, d): Z_i - Z_j
    assert torch.allclose(out[:, :, None] - out[:, None], diff_in, atol=1e-12)
    assert not torch.allclose(out, z, atol=1e-3)  # the block did add something


def test_per_token_aggregation_changes_token_differences():
    block = block64(aggregation="causal")
    z = tokens(1, 5, 3, seed=12)
    out = block(z)
    assert not torch.allclose(out[:, 1:] - out[:, :-1], z[:, 1:] - z[:, :-1], atol=1e-3)


def test_mean_block_output_mean_depends_only_on_input_mean():
    block = block64()
    z = tokens(2, 6, 3, seed=13)
    w = tokens(2, 6, 3, seed=14)
    z2 = z + (w - w.mean(1, keepdim=True))  # other tokens, same mean
    assert torch.allclose(block(z).mean(1), block(z2).mean(1), atol=1e-12)


@pytest.mark.parametrize("univariate", [False, True])
@pytest.mark.parametrize("kind", EQUIVARIANT)
def test_rotation_gain_invariant_but_block_not_equivariant(kind, univariate):
    block = block64(aggregation=kind, univariate=univariate)
    z = tokens(2, 5, 3, seed=15)
    a, a_rot = block.aggregation(z), block.aggregation(ROT * z)
    gain, direction = block.parts(a)
    gain_rot, direction_rot = block.parts(a_rot)
    assert torch.allclose(gain_rot, gain, atol=1e-10, rtol=1e-10)  # depends on |A| only
    assert not torch.allclose(direction_rot, ROT * direction, atol=1e-3)  # psi_p sees Re u, Im u
    out, out_rot = block(z), block(ROT * z)
    assert not torch.allclose(out_rot, ROT * out, atol=1e-3)
    assert (out_rot.abs() - out.abs()).abs().max() > 1e-3  # |out_i| are not invariant


def test_attention_block_gain_not_rotation_invariant():
    block = block64(aggregation="attention")
    with torch.no_grad():
        block.aggregation.score.weight.normal_(0, 2.0, generator=torch.Generator().manual_seed(1))
    z = tokens(2, 5, 3, seed=16)
    gain = block.parts(block.aggregation(z))[0]
    gain_rot = block.parts(block.aggregation(ROT * z))[0]
    assert (gain_rot - gain).abs().max() > 1e-4


@pytest.mark.parametrize("version", ["tanh", "legacy"])
def test_causal_block_never_looks_ahead(version):
    block = PolarizingBlock(4, 8, "causal", version=version)
    z = tokens(2, 6, 4, seed=17, dtype=torch.complex64)
    out = block(z)
    for k in range(1, 6):
        future = z.clone()
        future[:, k:] = 50.0
        assert torch.equal(block(future)[:, :k], out[:, :k])


def test_univariate_block_never_mixes_channels_multivariate_does():
    z = tokens(2, 5, 4, seed=18)
    moved = z.clone()
    moved[..., 2] *= 3.0
    uni = block64(d=4, univariate=True)
    changed = (uni(moved) != uni(z)).any(dim=(0, 1))
    assert changed.tolist() == [False, False, True, False]
    multi = block64(d=4)
    assert bool((multi(moved) != multi(z)).any(dim=(0, 1)).all())


@pytest.mark.parametrize("version, univariate", list(itertools.product(["tanh", "legacy"], [False, True])))
def test_block_gradcheck_complex128(version, univariate):
    block = block64(d=2, hidden=3, version=version, univariate=univariate)
    z = tokens(2, 3, 2, seed=19).requires_grad_(True)
    assert torch.autograd.gradcheck(block, (z,))


@pytest.mark.parametrize("version, univariate", list(itertools.product(["tanh", "legacy"], [False, True])))
@pytest.mark.parametrize("kind", AGGREGATIONS)
def test_block_all_zero_input_is_finite(kind, version, univariate):
    block = PolarizingBlock(3, 4, kind, version=version, univariate=univariate)
    z = torch.zeros(2, 4, 3, dtype=torch.complex64, requires_grad=True)
    out = block(z)
    out.abs().sum().backward()
    assert finite(out) and finite(z.grad)
    assert all(finite(p.grad) for p in block.parameters() if p.grad is not None)
    gain = block.parts(block.aggregation(z.detach()))[0].detach()
    if version == "legacy":  # exp(log(1e-6) + s psi_m): the update is of size ~1e-6
        assert float(gain.max()) < 10 * EPS


def test_block_rejects_bad_input_and_options():
    block = PolarizingBlock(3, 4)
    with pytest.raises(ValueError, match="complex"):
        block(torch.ones(4, 3))
    with pytest.raises(ValueError, match="must have shape"):
        block(torch.ones(1, 2, 4, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="last axis"):
        block(torch.ones(4, 5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="version"):
        PolarizingBlock(3, 4, version="v2")
    with pytest.raises(ValueError, match="aggregation"):
        PolarizingBlock(3, 4, aggregation="max")
    with pytest.raises(ValueError, match="aggregation"):
        PolarizingBlock(3, 4, aggregation=3)


@pytest.mark.parametrize("univariate", [False, True])
@pytest.mark.parametrize("kind", ["mean", "attention"])
def test_block_runs_under_bfloat16_autocast(kind, univariate):
    """The MLPs run in bfloat16; their outputs return to float32 before the complex arithmetic."""
    torch.manual_seed(0)
    block = PolarizingBlock(4, 16, kind, univariate=univariate)
    z = tokens(2, 8, 4, seed=20, dtype=torch.complex64)
    reference = block(z) - z
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = block(z)
    assert out.dtype == torch.complex64 and finite(out)
    rel = ((out - z) - reference).abs().mean() / reference.abs().mean()
    assert rel < 0.03  # bfloat16 MLPs (8-bit mantissa; about 0.5 % seen), exp(5 tanh m) amplifies m's error
