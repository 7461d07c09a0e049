"""hierarchy.fno: the spectral convolution is a per-mode complex multiplier, resolution-invariant; the FNO baseline."""

import math

import numpy as np
import pytest
import torch

from spectral_manifolds.hierarchy import baselines as BL
from spectral_manifolds.hierarchy import evaluate as EV
from spectral_manifolds.hierarchy.fno import FNO2d, SpectralConv2d, fno_parameters


def _wave(n, ky, kx, phase=0.0):
    """cos(2 pi (ky y + kx x) / n + phase) on an n x n grid, float64 (1, 1, n, n)."""
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    return torch.cos(2 * math.pi * (ky * y + kx * x) / n + phase)[None, None]


@pytest.mark.parametrize("ky, kx", [(0, 1), (1, 2), (2, 3), (-1, 1), (-3, 2)])
def test_spectral_conv_multiplies_each_retained_mode_by_its_weight(ky, kx):
    """A plane wave with 0 < kx < modes comes out as Re(w exp(i theta)): |w| cos(theta + arg w), with w the
    weight of its mode (corner 0 for ky >= 0, corner 1 for ky < 0): the closed form, no FFT involved."""
    torch.manual_seed(0)
    n, m = 16, 4
    conv = SpectralConv2d(1, 1, m).double()
    with torch.no_grad():
        conv.weight.normal_()
    w = conv.multipliers()[0 if ky >= 0 else 1, 0, 0, ky if ky >= 0 else m + ky, kx]
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    theta = 2 * math.pi * (ky * y + kx * x) / n
    want = (w * torch.exp(1j * theta)).real
    got = conv(_wave(n, ky, kx))[0, 0]
    assert torch.allclose(got, want, atol=1e-12)


def test_spectral_conv_drops_modes_above_modes_and_mixes_channels_linearly():
    torch.manual_seed(1)
    conv = SpectralConv2d(2, 3, 3).double()
    high = torch.cat([_wave(16, 0, 3), _wave(16, 5, 1)], 1)  # kx = modes, |ky| = 5 > modes: both dropped
    assert conv(high).abs().max() < 1e-12
    a, b = torch.randn(2, 2, 16, 16, dtype=torch.float64)
    assert torch.allclose(conv(a[None] * 2 - b[None]), 2 * conv(a[None]) - conv(b[None]), atol=1e-12)


def test_spectral_conv_is_resolution_invariant_on_band_limited_input():
    """The same trigonometric polynomial (modes < 3) sampled at 16 and 32: the 32-grid output,
    every other pixel, is the 16-grid output (rfft2/irfft2 scale by N^2 and 1/N^2)."""
    g = torch.Generator().manual_seed(2)
    terms = [(ky, kx, float(torch.rand(1, generator=g)) * 6.3, float(torch.randn(1, generator=g)))
             for ky in range(-2, 3) for kx in range(0, 3)]

    def field(n):
        return sum(a * _wave(n, ky, kx, ph) for ky, kx, ph, a in terms).repeat(1, 2, 1, 1)

    torch.manual_seed(3)
    conv = SpectralConv2d(2, 2, 3).double()
    with torch.no_grad():
        conv.weight.normal_()
    lo, hi = conv(field(16)), conv(field(32))
    assert lo.abs().max() > 0.1
    assert torch.allclose(hi[..., ::2, ::2], lo, atol=1e-10)


def test_fno_shapes_parameters_and_residual_identity():
    m = FNO2d(4, 6, modes=3, layers=2, hidden=5)
    x = torch.randn(2, 4, 12, 12)
    assert m(x).shape == (2, 12, 12) and m(x[0]).shape == (12, 12)
    assert torch.allclose(m(x[0]), m(x)[0], atol=1e-6)
    assert sum(p.numel() for p in m.parameters()) == fno_parameters(4, 6, 3, 2, 5)
    assert all(not p.is_complex() for p in m.parameters())  # real storage: optimizers and GradScaler are safe
    BL.start_at_persistence(m)
    assert torch.equal(m(x), x[:, -1])
    assert FNO2d(4, 6, modes=3, residual=False)(x).shape == (2, 12, 12)


def test_fno_is_translation_equivariant():
    """No coordinate channels: rolling the input rolls the output (periodic fields)."""
    torch.manual_seed(4)
    m = FNO2d(3, 5, modes=3).double()
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    assert torch.allclose(m(torch.roll(x, (2, 5), (-2, -1))), torch.roll(m(x), (2, 5), (-2, -1)), atol=1e-10)


@pytest.mark.parametrize("bad, match", [
    (torch.randn(2, 4, 12), "square"),
    (torch.randn(2, 4, 12, 10), "square"),
    (torch.randn(1, 2, 4, 12, 12), "shape"),
    (torch.full((2, 4, 12, 12), float("nan")), "NaN"),
    (torch.randn(2, 5, 12, 12), "stacks 4 frames"),
    (torch.randn(2, 4, 4, 4), "N >= 2 modes"),
])
def test_fno_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        FNO2d(4, 4, modes=3)(bad)


def test_bad_options():
    with pytest.raises(ValueError, match="width"):
        FNO2d(4, 0)
    with pytest.raises(ValueError, match="modes"):
        SpectralConv2d(2, 2, 0)
    with pytest.raises(ValueError, match="shape"):
        SpectralConv2d(2, 2, 2)(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="kind"):
        BL.build("transformer", 4, 4)


@pytest.mark.parametrize("modes", [2, 4, 8])
@pytest.mark.parametrize("target", [4881, 18301, 70773])
def test_fno_matched_within_5_percent(modes, target):
    m = BL.matched("fno", target, 4, modes=modes)
    count = sum(p.numel() for p in m.parameters())
    assert abs(count / target - 1) <= 0.05
    assert count == fno_parameters(4, m.width, modes, m.n_layers, m.hidden)


def test_fno_registered_in_evaluate():
    frames = (torch.randn(30, 8, 8) * 0.1).numpy()
    df = EV.evaluate_next_frame(frames, models={"fno": ("fno", {"modes": 2})}, context=3, k=2, epochs=1,
                                params=3000, progress=False, device="cpu")
    assert abs(df.loc[0, "parameters"] / 3000 - 1) <= 0.05 and np.isfinite(df.loc[0, "mse"])
