"""hierarchy.manifold: shapes, causal temporal attention, §9.1 receptive fields, §4.3 capacities, overfit."""

import pytest
import torch

from spectral_manifolds.hierarchy import fields as F
from spectral_manifolds.hierarchy import manifold as M


def _model(band=0, layout="text", **kw):
    torch.manual_seed(0)
    return M.SpectralManifold.for_band(band, layout=layout, **kw).double()


def _x(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("layout", M.LAYOUTS)
def test_shapes_batched_and_unbatched(layout):
    m = _model(1, layout)
    x = _x((2, 5, 12, 12))
    y = m(x)
    assert y.shape == (2, 12, 12)
    assert m.encode(x).shape == (2, 5, 64, 12, 12)
    assert m(x[1]).shape == (12, 12) and m.encode(x[1]).shape == (5, 64, 12, 12)
    assert torch.allclose(m(x[1]), y[1], atol=1e-12)
    assert m(x.float()).dtype == torch.float64  # cast to the module's dtype
    r = M.SpectralManifold(8, 3, heads=2, residual=True).double()
    assert r(x).shape == (2, 12, 12)


def test_temporal_attention_is_causal():
    m = _model(0)
    x = _x((2, 6, 10, 10))
    z = m.encode(x)
    x2 = x.clone()
    x2[:, 3] += _x((2, 10, 10), seed=1)
    z2 = m.encode(x2)
    assert torch.allclose(z[:, :3], z2[:, :3], rtol=0, atol=1e-12)  # frames 0..2 cannot see frame 3
    assert (z[:, 3:] - z2[:, 3:]).abs().amax(dim=(0, 2, 3, 4)).min() > 1e-6  # frames 3..5 can
    # and the prediction (the last frame's encoding) depends on the first frame too
    x0 = x.clone().requires_grad_(True)
    m(x0).sum().backward()
    assert x0.grad[:, 0].abs().sum() > 0


def _extent(grad):
    """Side of the bounding box of the non-zero entries of an (..., N, N) gradient."""
    nz = grad.abs().reshape(-1, *grad.shape[-2:]).sum(0) > 0
    rows, cols = nz.any(1).nonzero(), nz.any(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


SEC_9_1 = {0: 7, 1: 5, 2: 3}  # §9.1: coarse 7x7, mid 5x5, fine 3x3 receptive fields


@pytest.mark.parametrize("band", [0, 1, 2])
@pytest.mark.parametrize("layout", M.LAYOUTS)
def test_receptive_fields_measured_by_gradients(band, layout):
    m = _model(band, layout, padding="zeros")
    n, c = 32, 16
    x = _x((1, 3, n, n), seed=band).requires_grad_(True)
    m.encode_frames(x)[0, 2, :, c, c].sum().backward()  # frame 2's encoding at the centre pixel
    rf_enc = _extent(x.grad)
    assert x.grad[:, :2].abs().sum() == 0  # the conv encoder is per frame
    x.grad = None
    m(x)[0, c, c].backward()
    rf_model = _extent(x.grad)
    k = SEC_9_1[band]
    if layout == "text":  # §9.1 as written: the encoder sees exactly k x k
        assert rf_enc == (k, k) and rf_model == (2 * k - 1, 2 * k - 1)
    else:  # the seed's code: two k x k convs per side
        assert rf_enc == (2 * k - 1,) * 2 and rf_model == (4 * k - 3,) * 2
    assert rf_enc[0] == m.receptive_field("encoder") and rf_model[0] == m.receptive_field("model")


def test_circular_padding_wraps_around():
    m = _model(0)
    x = _x((1, 2, 16, 16)).requires_grad_(True)
    m.encode_frames(x)[0, 1, :, 0, 0].sum().backward()
    g = x.grad[0, 1].abs() > 0
    assert g[-3:, -3:].all() and g[:4, :4].all()  # the 7 x 7 window wraps to the far corner


@pytest.mark.parametrize("layout", M.LAYOUTS)
def test_parameter_counts_match_capacity_formula(layout):
    counts = []
    for b in range(3):
        m = M.SpectralManifold.for_band(b, layout=layout)
        d, k = M.band_config(b)
        assert (d, k) == ((32, 7), (64, 5), (128, 3))[b]  # §4.3 dims, §9.1 kernels
        assert m.n_parameters == M.capacity(d, k, layout) == sum(p.numel() for p in m.parameters())
        counts.append(m.n_parameters)
    assert counts == ([30753, 70977, 149121] if layout == "text" else [56097, 120897, 215169])
    share = torch.tensor(counts, dtype=torch.float64) / sum(counts)
    # §4.3's 15 % / 30 % / 55 %: the seed's layout within 1 point, the text's within 5
    tol = 0.01 if layout == "seed" else 0.05
    assert torch.allclose(share, torch.tensor([0.15, 0.30, 0.55], dtype=torch.float64), atol=tol)
    for d, k in ((8, 3), (16, 1), (24, 5)):
        m = M.SpectralManifold(d, k, heads=2, layout=layout)
        assert m.n_parameters == M.capacity(d, k, layout)
    assert M.band_config(3, 4) == (256, 1)


def test_tiny_overfit():
    torch.manual_seed(0)
    f = F.plane_waves(4, 5, 16, amplitudes=(0.0, 0.0, 1.0), seed=0)
    x, y = f.x[:, :4], f.x[:, 4]
    m = M.SpectralManifold(16, 3, heads=2)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    with torch.no_grad():
        first = torch.mean((m(x) - y) ** 2).item()
    for _ in range(60):
        loss = torch.mean((m(x) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        last = torch.mean((m(x) - y) ** 2).item()
    assert last < 0.1 * first


def test_bad_input_and_options():
    m = M.SpectralManifold(8, 3, heads=2)
    for bad in (torch.zeros(8, 8), torch.zeros(1, 2, 3, 8, 8), torch.zeros(2, 3, 8, 9), torch.zeros(2, 0, 8, 8)):
        with pytest.raises(ValueError, match="shape"):
            m(bad)
    with pytest.raises(ValueError, match="NaN"):
        m(torch.full((3, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="real"):
        m(torch.zeros(3, 8, 8, dtype=torch.complex64))
    with pytest.raises(ValueError, match="circular"):
        M.SpectralManifold(8, 7, heads=2)(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="tensor"):
        m([[1.0]])
    with pytest.raises(ValueError, match="odd"):
        M.SpectralManifold(8, 4, heads=2)
    with pytest.raises(ValueError, match="divisible"):
        M.SpectralManifold(10, 3, heads=4)
    with pytest.raises(ValueError, match="layout"):
        M.SpectralManifold(8, 3, heads=2, layout="other")
    with pytest.raises(ValueError, match="band"):
        M.band_config(3, 3)
    with pytest.raises(ValueError, match="4 bands"):
        M.band_config(0, 5)
