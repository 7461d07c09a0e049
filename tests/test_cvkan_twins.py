"""The real twins of the CV-KAN (cvkan/twins.py): features, shapes, invariances, parameter matching."""

import math

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.layers import n_real_parameters
from spectral_manifolds.cvkan.models import CVKAN
from spectral_manifolds.cvkan.twins import RealTwin, twin_features, twin_for_params


def _tokens(b=4, n=8, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = torch.exp(torch.randn(b, n, d, generator=g))
    phi = torch.rand(b, n, d, generator=g) * 2 * math.pi - math.pi
    return r, phi, torch.polar(r, phi)


def test_polar_features_are_log_magnitude_cos_sin():
    r, phi, z = _tokens()
    f = twin_features(z, "polar")
    assert f.shape == (4, 8, 15)
    torch.testing.assert_close(f[..., :5], torch.log(r + 1e-6), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(f[..., 5:10], torch.cos(phi), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(f[..., 10:], torch.sin(phi), atol=1e-5, rtol=1e-5)


def test_cartesian_features_are_re_im():
    _, _, z = _tokens()
    f = twin_features(z, "cartesian")
    assert torch.equal(f, torch.cat([z.real, z.imag], dim=-1))


def test_zero_token_gives_finite_features_and_output():
    z = torch.zeros(2, 4, 3, dtype=torch.complex64)
    assert torch.isfinite(twin_features(z, "polar")).all()
    assert torch.isfinite(RealTwin(3, 2, coords="polar", hidden=8)(z)).all()


@pytest.mark.parametrize("coords", ["polar", "cartesian"])
def test_shapes_batched_and_unbatched(coords):
    _, _, z = _tokens(d=6)
    net = RealTwin(6, 3, coords=coords, hidden=16)
    assert net(z).shape == (4, 3)
    out1 = net(z[1])
    assert out1.shape == (3,)
    torch.testing.assert_close(out1, net(z)[1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("coords", ["polar", "cartesian"])
def test_twin_is_invariant_to_token_order(coords):
    # mean aggregation, one broadcast update per block, per-token norms and mean pooling
    torch.manual_seed(0)
    _, _, z = _tokens(d=6)
    net = RealTwin(6, 2, coords=coords, hidden=16)
    perm = torch.randperm(z.shape[1])
    torch.testing.assert_close(net(z[:, perm]), net(z), atol=1e-5, rtol=1e-5)


def test_twin_with_no_block_reads_only_the_mean_features():
    torch.manual_seed(0)
    net = RealTwin(4, 2, coords="cartesian", hidden=8, n_blocks=0)
    _, _, z = _tokens(d=4)
    shifted = z - z.mean(dim=1, keepdim=True) + z.mean(dim=1, keepdim=True)[[1, 0, 3, 2]]
    out, out_swapped = net(z), net(shifted)
    torch.testing.assert_close(out_swapped, out[[1, 0, 3, 2]], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bad", [torch.zeros(2, 4, 6), torch.zeros(2, 4, 5, dtype=torch.complex64), torch.zeros(4, dtype=torch.complex64)])
def test_bad_input_raises(bad):
    with pytest.raises(ValueError):
        RealTwin(6, 2)(bad)


@pytest.mark.parametrize("kwargs", [dict(coords="spherical"), dict(hidden=0), dict(n_blocks=-1), dict(width=0)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        RealTwin(6, 2, **kwargs)
    with pytest.raises(ValueError):
        twin_features(torch.zeros(2, 3, dtype=torch.complex64), "spherical")


@pytest.mark.parametrize("coords", ["polar", "cartesian"])
def test_twins_match_the_seeds_flat_stack_within_5_percent(coords):
    target = n_real_parameters(CVKAN(32, 2, n_blocks=3, hidden=128))
    assert target == 173_989
    twin = twin_for_params(32, 2, coords, target)
    assert abs(n_real_parameters(twin) / target - 1) <= 0.05
    # closed form: embed F w + w, per block w h + h + h^2 + h + h w + w + 2 w (LayerNorm), head 2 w + 2 w + 2
    w, h, f = twin.width, twin.hidden, (3 if coords == "polar" else 2) * 32
    assert n_real_parameters(twin) == f * w + w + 3 * (2 * w * h + h * h + 2 * h + w + 2 * w) + 2 * w + 2 * w + 2


def test_no_width_matches_a_tiny_target():
    with pytest.raises(ValueError):
        twin_for_params(32, 2, "polar", 100)


def test_twin_learns_a_magnitude_feature():
    # a sample's class is whether its log-magnitudes are shifted: the polar twin reads log|z| directly
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256)
    z = np.exp(0.5 * rng.normal(size=(256, 8, 4)) + 0.8 * y[:, None, None] + 1j * rng.uniform(0, 2 * np.pi, (256, 8, 4)))
    z = torch.from_numpy(z.astype(np.complex64))
    net = RealTwin(4, 2, coords="polar", hidden=16)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(net(z), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float((net(z).argmax(-1).numpy() == y).mean()) > 0.95
