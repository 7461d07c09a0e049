"""hierarchy.fields: energy in the requested bands, seeding, exact spectral baselines, the task split."""

import math

import pytest
import torch

from spectral_manifolds.hierarchy import bands as B
from spectral_manifolds.hierarchy import fields as F

D = torch.float64


def test_plane_waves_shapes_and_info():
    f = F.plane_waves(3, 10, 32, per_band=2)
    assert f.x.shape == f.clean.shape == (3, 10, 32, 32) and f.x.dtype == torch.float32
    assert f.info["k"].shape == (3, 6, 2) and f.info["omega"].shape == (3, 6)
    assert f.info["band"].tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(f.x, f.clean)  # no noise by default
    k = f.info["k"]  # distinct modes within a sample, never k and -k
    for s in range(3):
        modes = {tuple(v) for v in k[s].long().tolist()}
        assert len(modes) == 6 and not any((-a, -b) in modes for a, b in modes)


@pytest.mark.parametrize("bands, amps, n", [(3, (1.0, 0.5, 0.25), 32), (2, (0.0, 1.0), 32),
                                           (4, (0.3, 1.0, 0.0, 0.7), 64)])
def test_plane_wave_energy_sits_in_requested_bands(bands, amps, n):
    t, per = 6, 1
    f = F.plane_waves(2, t, n, bands=bands, per_band=per, amplitudes=amps, dtype=D, seed=3)
    e = B.band_energy(B.decompose(f.clean, bands))  # (B, M)
    expected = torch.tensor([per * a * a * t * n * n / 2 for a in amps], dtype=D)
    # mask weight >= 0.999 at every wave: band energy within 0.2 % of a^2 T N^2 / 2, nothing elsewhere
    assert torch.allclose(e, expected.expand_as(e), rtol=2e-3, atol=1e-6 * expected.max())
    total = f.clean.pow(2).sum(dim=(1, 2, 3))
    assert torch.allclose(total, expected.sum().expand_as(total), rtol=1e-9)


def test_band_limited_noise_stays_in_its_band():
    f = F.plane_waves(2, 8, 32, amplitudes=(1.0, 0.0, 0.0), noise=0.3, noise_bands=[2], dtype=D)
    nz = f.x - f.clean
    assert math.isclose(float(nz.pow(2).mean().sqrt()), 0.3, rel_tol=1e-9)
    share = B.band_energy(B.decompose(nz)).sum(0) / nz.pow(2).sum()
    assert share[2] > 0.9 and share[0] < 1e-12


def test_advection_energy_per_band_and_shapes():
    amps = (0.0, 1.0, 0.0)
    f = F.advection_diffusion(3, 5, 32, amplitudes=amps, dtype=D)
    assert f.x.shape == (3, 5, 32, 32) and f.info["multiplier"].shape == (32, 17)
    assert abs(float(f.clean[:, 0].pow(2).mean().sqrt()) - 1.0) < 1e-9  # band 1 starts at RMS a_1 = 1
    # smooth masks: the band's spectrum is m_1 times white, decompose applies m_1 again
    share = B.band_energy(B.decompose(f.clean)).sum(0) / f.clean.pow(2).sum()
    assert share[1] > 0.8 and share[0] < 0.01 and share[2] < 0.05
    # hard (0/1) masks: all of the energy in band 1, at every frame (advection keeps |u_k|)
    h = F.advection_diffusion(3, 5, 32, amplitudes=amps, masks="hard", dtype=D)
    e = B.band_energy(B.decompose(h.clean, masks="hard").transpose(1, 2).flatten(0, 1)[:, :, None])
    assert torch.allclose(e[:, 1], h.clean.flatten(0, 1).pow(2).sum((1, 2)), rtol=1e-12)
    assert e[:, [0, 2]].max() < 1e-20


@pytest.mark.parametrize("gen", [F.plane_waves, F.advection_diffusion])
def test_seeded_reproducibility(gen):
    a, b, c = (gen(2, 6, 16 if gen is F.advection_diffusion else 32, noise=0.1, seed=s) for s in (7, 7, 8))
    assert torch.equal(a.x, b.x) and torch.equal(a.clean, b.clean)
    assert not torch.allclose(a.x, c.x)


def test_spectral_ar1_is_exact_on_noiseless_linear_field():
    f = F.advection_diffusion(6, 24, 32, diffusion=0.05, dtype=D, seed=1)
    task = F.next_frame_task(f, history=8)
    ar = F.SpectralAR1().fit(task.train_frames)
    a = f.info["multiplier"]
    live = a.abs() > 0
    assert torch.allclose(ar.multiplier[live], a[live], atol=1e-12)
    err = (ar.predict(task.test_x) - task.test_y).abs().max()
    assert err < 1e-12 * task.test_y.abs().max()
    # k steps: the multiplier to the k-th power
    x0 = task.test_x[:1]
    direct = torch.fft.irfft2(torch.fft.rfft2(x0[:, -1]) * a ** 3, s=(32, 32))
    assert torch.allclose(ar.predict(x0, steps=3), direct, atol=1e-12)
    # and it beats persistence by far on the same test windows
    per = (F.persistence(task.test_x) - task.test_y).pow(2).mean()
    assert per > 1e-4 and err ** 2 < 1e-20 * per


def test_spectral_ar1_float32_tolerance_and_unbatched():
    f = F.advection_diffusion(4, 12, 16, dtype=torch.float32)
    ar = F.SpectralAR1().fit(f.x)
    h, y = f.x[0, 3:11], f.x[0, 11]
    p = ar.predict(h)
    assert p.shape == (16, 16) and p.dtype == torch.float32
    assert (p - y).abs().max() < 1e-5 * y.abs().max()


def test_per_sample_ar1_is_exact_on_plane_waves():
    f = F.plane_waves(4, 12, 32, dtype=D, seed=5)
    h, y = f.clean[:, :8], f.clean[:, 8]
    assert (F.spectral_ar1(h) - y).abs().max() < 1e-10
    assert torch.allclose(F.spectral_ar1(h, steps=4), f.clean[:, 11], atol=1e-9)
    assert (F.persistence(h) - y).pow(2).mean() > 1e-3  # persistence is not
    assert F.spectral_ar1(h[0]).shape == (32, 32)


def test_forcing_and_noise_break_exactness_but_ar1_still_beats_persistence():
    f = F.advection_diffusion(8, 20, 32, forcing=0.05, noise=0.02, velocity=(1.0, 1.5), seed=2)
    task = F.next_frame_task(f, history=4, target="x")
    ar = F.SpectralAR1().fit(task.train_frames)
    mse_ar = (ar.predict(task.test_x) - task.test_y).pow(2).mean()
    mse_p = (F.persistence(task.test_x) - task.test_y).pow(2).mean()
    assert 0 < mse_ar < mse_p


def test_windows_and_task_split():
    f = F.plane_waves(4, 10, 32)
    inp, tgt = F.windows(f.x, 3)
    assert inp.shape == (4 * 7, 3, 32, 32) and tgt.shape == (4 * 7, 32, 32)
    assert torch.equal(inp[1], f.x[0, 1:4]) and torch.equal(tgt[1], f.x[0, 4])
    inp2, _ = F.windows(f.x, 3, stride=3)
    assert inp2.shape[0] == 4 * 3
    task = F.next_frame_task(f, history=3, test_fraction=0.25)
    assert task.train_x.shape[0] == 3 * 7 and task.test_x.shape[0] == 7 and task.train_frames.shape[0] == 3
    assert torch.equal(task.test_x[0], f.x[3, 0:3])
    assert torch.equal(F.linear_extrapolation(f.x[0, :3]), 2 * f.x[0, 2] - f.x[0, 1])
    assert torch.equal(F.persistence(f.x[:, :3]), f.x[:, 2])


def test_bad_input():
    f = F.plane_waves(2, 6, 32)
    with pytest.raises(ValueError, match="frames"):
        F.windows(f.x, 6)
    with pytest.raises(ValueError, match="at least 2"):
        F.next_frame_task(F.plane_waves(1, 6, 32), 2)
    with pytest.raises(ValueError, match="mode"):
        F.plane_waves(1, 4, 16, per_band=2)  # band 0 has no pure integer mode at N = 16
    with pytest.raises(ValueError, match="amplitudes"):
        F.plane_waves(1, 4, 32, amplitudes=(1.0, 2.0))
    with pytest.raises(ValueError, match="velocity"):
        F.advection_diffusion(1, 4, 16, velocity=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="NaN"):
        F.persistence(torch.full((3, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="shape"):
        F.spectral_ar1(torch.zeros(3, 8, 9))
    with pytest.raises(ValueError, match="before fit"):
        F.SpectralAR1().predict(f.x[:, :3])
    with pytest.raises(ValueError, match="all amplitudes"):
        F.plane_waves(1, 4, 32, amplitudes=0.0)
    with pytest.raises(ValueError, match="masks"):
        F.plane_waves(1, 4, 32, masks="seed")
