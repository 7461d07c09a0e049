"""hierarchy.bands: partition of unity, exact reconstruction, Parseval, the seed's masks."""

import math

import numpy as np
import pytest
import torch

from spectral_manifolds.hierarchy import bands as B

SMOOTH = ("cosine", "logistic", "hard")


def _x(shape, seed=0, dtype=torch.float64):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


class _SeedReference:
    """Seed 004 §11.1, ``_compute_freq_bounds`` and ``_create_freq_masks`` copied verbatim."""

    def __init__(self, n_manifolds, grid_size):
        self.n_manifolds, self.grid_size = n_manifolds, grid_size
        self.freq_bounds = self._compute_freq_bounds(n_manifolds)

    def _compute_freq_bounds(self, n):
        bounds = [0.0]
        for i in range(1, n):
            bounds.append(0.1 * (3.0 ** (i - 1)))  # 0.1, 0.3, 0.9
        bounds.append(1.0)
        return bounds

    def _create_freq_masks(self):
        H = W = self.grid_size
        cy, cx = H // 2, W // 2
        y = torch.arange(H).float() - cy
        x = torch.arange(W).float() - cx
        Y, X = torch.meshgrid(y, x, indexing='ij')
        freq_dist = torch.sqrt(X ** 2 + Y ** 2) / min(cx, cy)
        freq_dist = torch.fft.fftshift(freq_dist)
        masks = []
        for i in range(self.n_manifolds):
            low, high = self.freq_bounds[i], self.freq_bounds[i + 1]
            mask = torch.sigmoid(20 * (freq_dist - low)) * torch.sigmoid(20 * (high - freq_dist))
            masks.append(mask)
        return torch.stack(masks)


# ---- partition of unity ---------------------------------------------------------------

@pytest.mark.parametrize("kind", SMOOTH)
@pytest.mark.parametrize("bands", [2, 3, 4, (0.05, 0.2, 0.4, 0.8)])
@pytest.mark.parametrize("n", [16, 17, 32])
def test_partition_of_unity(kind, bands, n):
    m = B.masks(n, bands, kind, dtype=torch.float64)
    assert m.shape == (len(B._cutoffs(bands)) + 1, n, n)
    assert torch.allclose(m.sum(0), torch.ones(n, n, dtype=torch.float64), atol=1e-12)
    assert m.min() >= 0 and m.max() <= 1
    half = B.masks(n, bands, kind, half=True, dtype=torch.float64)
    assert torch.equal(half, m[..., : n // 2 + 1])


def test_hard_masks_are_indicators_and_cosine_keeps_dc_in_band_0():
    hard = B.masks(32, 3, "hard")
    assert set(hard.unique().tolist()) <= {0.0, 1.0}
    cos = B.masks(32, 3, "cosine")
    assert cos[0, 0, 0] == 1 and cos[1:, 0, 0].abs().max() == 0
    r = B.radius(32)
    assert torch.all(cos[-1][r > 0.3 * 1.3] == 1)  # past the last transition: all fine band


# ---- exact reconstruction, realness, batching -------------------------------------------

@pytest.mark.parametrize("kind", SMOOTH)
@pytest.mark.parametrize("n", [16, 17])
def test_exact_reconstruction(kind, n):
    x = _x((5, n, n))
    b = B.decompose(x, 3, kind)
    assert b.shape == (3, 5, n, n) and b.dtype == torch.float64
    torch.testing.assert_close(B.synthesize(b), x, atol=1e-12, rtol=0)
    x32 = x.float()
    b32 = B.decompose(x32, 4, kind)
    assert b32.dtype == torch.float32
    torch.testing.assert_close(B.synthesize(b32), x32, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", SMOOTH + ("seed",))
@pytest.mark.parametrize("n", [16, 17])
def test_masks_hermitian_so_bands_real(kind, n):
    m = B.masks(n, 3, kind, dtype=torch.float64)
    flip = torch.roll(torch.flip(m, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))  # m[-k mod N]
    if kind == "seed" and n % 2:
        assert not torch.allclose(m, flip)  # the seed's fftshift is off by one bin for odd N
        return
    torch.testing.assert_close(m, flip, atol=1e-15, rtol=0)
    x = _x((3, n, n))
    complex_bands = torch.fft.ifft2(torch.fft.fft2(x)[None] * m[:, None])
    assert complex_bands.imag.abs().max() < 1e-12 * x.abs().max()


def test_rfft_path_equals_fft_path():
    x = _x((2, 4, 16, 16))
    full, half = B.masks(16, 3, "cosine", dtype=torch.float64), B.masks(16, 3, "cosine", half=True, dtype=torch.float64)
    torch.testing.assert_close(B.decompose(x, masks=full), B.decompose(x, masks=half), atol=1e-12, rtol=0)


def test_batched_equals_unbatched():
    x = _x((3, 4, 16, 16))
    b = B.decompose(x, 3)
    assert b.shape == (3, 3, 4, 16, 16)
    for i in range(3):
        torch.testing.assert_close(b[i], B.decompose(x[i], 3), atol=1e-12, rtol=0)
    torch.testing.assert_close(B.synthesize(b)[1], B.synthesize(b[1]))
    assert B.band_energy(b).shape == (3, 3)
    torch.testing.assert_close(B.band_energy(b)[2], B.band_energy(b[2]))


def test_float32_default_and_int_input():
    x = torch.randint(0, 5, (2, 8, 8))
    b = B.decompose(x)
    assert b.dtype == torch.float32 and B.masks(8).dtype == torch.float32
    torch.testing.assert_close(B.synthesize(b), x.float(), atol=1e-5, rtol=0)


def test_differentiable():
    x = _x((2, 8, 8)).requires_grad_()
    B.synthesize(B.decompose(x)).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x), atol=1e-12, rtol=0)


# ---- Parseval, against numpy.fft ---------------------------------------------------------

@pytest.mark.parametrize("kind", SMOOTH + ("seed",))
def test_bands_and_energies_match_numpy(kind):
    n = 16
    x = _x((3, n, n), seed=1)
    m = B.masks(n, 3, kind, dtype=torch.float64).numpy()
    xn = x.numpy()
    spec = np.fft.fft2(xn)
    ref = np.fft.ifft2(spec[None] * m[:, None]).real
    b = B.decompose(x, 3, kind)
    np.testing.assert_allclose(b.numpy(), ref, atol=1e-12)
    # Parseval per band: sum_x b_i^2 = sum_k m_i(k)^2 |X(k)|^2 / N^2 (Hermitian masks)
    energy = (m[:, None] ** 2 * np.abs(spec[None]) ** 2).sum(axis=(1, 2, 3)) / n ** 2
    np.testing.assert_allclose(B.band_energy(b).numpy(), energy, rtol=1e-10)


def test_parseval_hard_masks_energies_add():
    x = _x((4, 32, 32), seed=2)
    e = B.band_energy(B.decompose(x, 4, "hard"))
    torch.testing.assert_close(e.sum(), (x ** 2).sum(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("kind", ("cosine", "logistic"))
def test_parseval_soft_masks(kind):
    x = _x((4, 32, 32), seed=3)
    b = B.decompose(x, 3, kind)
    total = (x ** 2).sum()
    gram = torch.einsum("itxy,jtxy->ij", b, b)  # cross terms: soft bands are not orthogonal
    torch.testing.assert_close(gram.sum(), total, rtol=1e-12, atol=0)
    torch.testing.assert_close((B.synthesize(b) ** 2).sum(), total, rtol=1e-12, atol=0)
    assert B.band_energy(b).sum() < total * (1 - 1e-3)  # strict: white noise fills the overlaps
    assert gram.sum() - gram.diagonal().sum() > 0


def test_band_energies_add_iff_field_avoids_the_transitions():
    n = 32
    yy, xx = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    m = B.masks(n, 3, "cosine", dtype=torch.float64)
    for k, exact in ((2, False), (8, True)):  # r = 1/8 in the 0/1 transition; r = 1/2 in band 2 only
        x = torch.cos(2 * math.pi * k * xx / n)[None] + 0.0 * yy
        assert (m[:, 0, k].max() == 1) == exact
        e, total = B.band_energy(B.decompose(x, masks=m)).sum(), (x ** 2).sum()
        assert torch.isclose(e, total, rtol=1e-12) == exact and e <= total * (1 + 1e-12)


# ---- the seed's masks and their defects --------------------------------------------------

@pytest.mark.parametrize("bands", [2, 3, 4])
@pytest.mark.parametrize("n", [16, 17, 64])
def test_seed_masks_are_the_seeds_code(bands, n):
    ref = _SeedReference(bands, n)
    assert B.seed_bounds(bands) == ref.freq_bounds
    assert torch.equal(B.masks(n, bands, "seed"), ref._create_freq_masks())


def test_seed_radius_is_ours_for_even_n():
    n = 32
    d = torch.fft.fftshift(torch.sqrt(sum(g ** 2 for g in torch.meshgrid(torch.arange(n) - n // 2.0, torch.arange(n) - n // 2.0, indexing="ij"))) / (n // 2))
    torch.testing.assert_close(B.radius(n), d.float())


@pytest.mark.parametrize("bands", [2, 3, 4])
def test_seed_mask_defects(bands):
    n = 64
    rep = B.mask_report(n, bands, "seed", seed=0)
    bounds = B.seed_bounds(bands)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    dc = sum(sig(20 * (0 - lo)) * sig(20 * (hi - 0)) for lo, hi in zip(bounds[:-1], bounds[1:]))
    assert rep["dc_weight"] == pytest.approx(dc, rel=1e-6) and abs(rep["dc_weight"] - 1) > 0.3
    s = B.masks(n, bands, "seed", dtype=torch.float64).sum(0)
    r = B.radius(n, dtype=torch.float64)
    assert s[r > 1.05].max() < 0.5  # the corners belong to no band
    assert rep["uncovered"] >= float((r > 1.05).double().mean()) > 0.15
    assert rep["white_loss"] > 0.1 and rep["smooth_loss"] > 0.1
    # white noise has a flat spectrum: the loss is sqrt(mean (1 - S)^2) up to sampling
    assert rep["white_loss"] == pytest.approx(rep["white_loss_expected"], rel=0.05)


@pytest.mark.parametrize("kind", SMOOTH)
def test_report_of_a_partition_of_unity_is_clean(kind):
    rep = B.mask_report(32, 3, kind)
    assert rep["sum_min"] == pytest.approx(1, abs=1e-12) and rep["sum_max"] == pytest.approx(1, abs=1e-12)
    assert rep["dc_weight"] == pytest.approx(1) and rep["uncovered"] == 0 and rep["off_1pct"] == 0
    assert rep["white_loss"] < 1e-12 and rep["smooth_loss"] < 1e-12


def test_smooth_field_is_seeded_and_smooth():
    a = B.smooth_field(2, 32, 4.0, generator=torch.Generator().manual_seed(5))
    b = B.smooth_field(2, 32, 4.0, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (2, 32, 32) and a.dtype == torch.float32
    w = _x((2, 32, 32)).float()
    assert a.diff(dim=-1).std() / a.std() < 0.5 * w.diff(dim=-1).std() / w.std()


# ---- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(8, 8), (1, 2, 3, 8, 8), (2, 8, 9), (2, 3, 3)])
def test_decompose_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="must have shape"):
        B.decompose(torch.zeros(shape))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_decompose_rejects_non_finite(bad):
    x = torch.zeros(2, 8, 8)
    x[1, 2, 3] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        B.decompose(x)


@pytest.mark.parametrize("call, match", [
    (lambda: B.decompose(torch.zeros(2, 8, 8, dtype=torch.complex64)), "real"),
    (lambda: B.decompose(torch.zeros(2, 8, 8), masks="gaussian"), "not one of"),
    (lambda: B.decompose(torch.zeros(2, 8, 8), masks=[1.0]), "masks must be"),
    (lambda: B.decompose(torch.zeros(2, 8, 8), masks=torch.ones(3, 8, 7)), "mask tensor"),
    (lambda: B.decompose(torch.zeros(2, 8, 8), bands=5), "not one of"),
    (lambda: B.decompose(torch.zeros(2, 8, 8), bands=(0.3, 0.1)), "strictly increasing"),
    (lambda: B.decompose(torch.zeros(2, 8, 8), bands="three"), "sequence of cut-offs"),
    (lambda: B.decompose(torch.zeros(2, 8, 8), width=1.5), "width"),
    (lambda: B.masks(8, 3, "wavelet"), "not one of"),
    (lambda: B.masks(0), "positive integer"),
    (lambda: B.masks(9, 3, "seed", half=True), "odd n"),
    (lambda: B.synthesize(torch.zeros(2, 8, 8)), "must have shape"),
    (lambda: B.band_energy(torch.zeros(3, 2, 8, 8, 8, 8)), "must have shape"),
    (lambda: B.smooth_field(2, 8, -1.0), "sigma"),
])
def test_bad_options_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
