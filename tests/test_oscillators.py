"""Tests for spectral_manifolds.data.oscillators: the seeds' task and the normal-mode set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spectral_manifolds.data.oscillators import (
    NormalModesConfig,
    OscillatorData,
    SeedTaskConfig,
    batches,
    mixing_matrix,
    normal_modes,
    seed_task,
)


@pytest.fixture(scope="module")
def seed_data() -> OscillatorData:
    return seed_task(SeedTaskConfig())


@pytest.fixture(scope="module")
def modes_data() -> OscillatorData:
    return normal_modes(NormalModesConfig())


# --------------------------------------------------------------------------- seed task
def test_seed_task_shapes_and_dtypes(seed_data):
    d = seed_data
    assert d.x.shape == d.y_next.shape == d.y_recon.shape == (640, 255, 16)
    assert d.oracle.shape == (640, 255, 21)
    assert d.freqs.shape == d.phases.shape == (640, 3)
    assert d.t.shape == (256,)
    for a in (d.x, d.y_next, d.y_recon, d.oracle, d.freqs, d.phases, d.t):
        assert a.dtype == np.float32
        assert np.all(np.isfinite(a))
    np.testing.assert_allclose(d.t, np.linspace(0, 4 * np.pi, 256), rtol=1e-6)
    assert (d.n_samples, d.seq_len, d.n_channels) == (640, 255, 16)


def test_seed_task_is_deterministic_and_seed_dependent(seed_data):
    again = seed_task(SeedTaskConfig())
    np.testing.assert_array_equal(again.x, seed_data.x)
    np.testing.assert_array_equal(again.freqs, seed_data.freqs)
    other = seed_task(SeedTaskConfig(seed=1, n_samples=64))
    assert not np.array_equal(other.x, seed_data.x[:64])


def test_seed_task_batches_come_from_fixed_per_batch_seeds(seed_data):
    # batch b depends only on (seed, b): fewer samples give the same first batches.
    small = seed_task(SeedTaskConfig(n_samples=128))
    np.testing.assert_array_equal(small.x, seed_data.x[:128])


def test_seed_task_frequencies_distinct_from_pool(seed_data):
    f = seed_data.freqs
    assert np.all(np.isin(f, [1, 2, 3, 5, 8]))
    assert all(len(set(row)) == 3 for row in f.tolist())
    # all five frequencies show up across the 640 samples
    assert set(np.unique(f).tolist()) == {1.0, 2.0, 3.0, 5.0, 8.0}


def test_seed_task_clean_signal_is_the_documented_sum(seed_data):
    d = seed_data
    t = d.t.astype(np.float64)
    c = np.arange(16)
    for i in (0, 17, 639):
        f = d.freqs[i].astype(np.float64)
        clean = sum(a * np.sin(fk * t[:, None] + 2 * np.pi * c / 16) for a, fk in zip((1.0, 0.5, 0.25), f))
        np.testing.assert_allclose(d.y_recon[i], clean[:-1], atol=1e-5)
        np.testing.assert_allclose(d.y_next[i], clean[1:], atol=1e-5)


def test_seed_task_channel_phase_shift():
    # With one active frequency, channel c is channel 0 advanced by 2 pi c / 16.
    d = seed_task(SeedTaskConfig(n_active=1, amplitudes=(1.0,), noise=0.0, n_samples=64))
    t = d.t[:-1].astype(np.float64)
    for i in (0, 5):
        f = float(d.freqs[i, 0])
        for c in (0, 3, 15):
            np.testing.assert_allclose(d.y_recon[i, :, c], np.sin(f * t + 2 * np.pi * c / 16), atol=1e-5)


def test_seed_task_noise_on_input_only(seed_data):
    resid = seed_data.x - seed_data.y_recon
    assert abs(resid.mean()) < 0.005
    assert resid.std() == pytest.approx(0.1, rel=0.02)
    # the clean targets are consistent shifts of one clean sequence (no noise on them)
    np.testing.assert_array_equal(seed_data.y_next[:, :-1], seed_data.y_recon[:, 1:])


def test_seed_task_oracle_is_unit_norm_sin_cos_of_drawn_freqs(seed_data):
    d = seed_data
    np.testing.assert_allclose(np.linalg.norm(d.oracle, axis=-1), 1.0, atol=1e-5)
    t = d.t[:-1].astype(np.float64)
    for i in (0, 100, 639):
        f = d.freqs[i].astype(np.float64)
        expected = np.concatenate([np.sin(np.outer(t, f)), np.cos(np.outer(t, f)), np.zeros((255, 15))], axis=1)
        np.testing.assert_allclose(d.oracle[i], expected / math.sqrt(3), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(seq_len=1),
        dict(n_channels=0),
        dict(freqs=(1.0, 1.0, 2.0)),
        dict(freqs=(1.0, -2.0, 3.0)),
        dict(n_active=6, amplitudes=(1,) * 6),
        dict(amplitudes=(1.0, 0.5)),
        dict(amplitudes=(1.0, 0.0, 0.5)),
        dict(noise=-0.1),
        dict(noise=float("nan")),
        dict(t_max=0.0),
        dict(latent_dim=5),
        dict(n_samples=100),
        dict(batch=0),
        dict(seed=-1),
    ],
)
def test_seed_task_config_rejects_invalid(kwargs):
    with pytest.raises(ValueError):
        SeedTaskConfig(**kwargs)


# --------------------------------------------------------------------------- normal modes
def test_normal_modes_shapes_dtypes_determinism(modes_data):
    d = modes_data
    assert d.x.shape == d.y_next.shape == d.y_recon.shape == (256, 127, 8)
    assert d.oracle.shape == (256, 127, 6)
    assert d.freqs.shape == d.phases.shape == (256, 3)
    for a in (d.x, d.y_next, d.y_recon, d.oracle, d.freqs, d.phases, d.t):
        assert a.dtype == np.float32
    again = normal_modes(NormalModesConfig())
    np.testing.assert_array_equal(again.x, d.x)
    other = normal_modes(NormalModesConfig(seed=1))
    assert not np.array_equal(other.phases, d.phases)
    # the mixing matrix (the system) does not depend on the trajectory seed
    np.testing.assert_array_equal(mixing_matrix(NormalModesConfig(seed=1)), mixing_matrix(NormalModesConfig()))


def test_normal_modes_follow_the_definition(modes_data):
    cfg = NormalModesConfig()
    d = modes_data
    m = mixing_matrix(cfg).astype(np.float64)
    t = np.arange(128.0)
    for i in (0, 9):
        theta = 2 * np.pi * np.outer(t, cfg.freqs) / 128 + d.phases[i].astype(np.float64)
        u = np.concatenate([np.array(cfg.amplitudes) * np.sin(theta), np.array(cfg.amplitudes) * np.cos(theta)], axis=1)
        clean = u @ m
        np.testing.assert_allclose(d.y_recon[i], clean[:-1], atol=1e-4)
        np.testing.assert_allclose(d.y_next[i], clean[1:], atol=1e-4)
        orc = np.concatenate([np.sin(theta), np.cos(theta)], axis=1)[:-1] / math.sqrt(3)
        np.testing.assert_allclose(d.oracle[i], orc, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(d.oracle, axis=-1), 1.0, atol=1e-5)
    assert (d.x - d.y_recon).std() == pytest.approx(0.05, rel=0.03)
    assert np.all((d.phases >= 0) & (d.phases < 2 * np.pi))


def test_normal_modes_spectrum_peaks_at_the_chosen_frequencies():
    d = normal_modes(NormalModesConfig(noise=0.0, n_samples=4, seq_len=128))
    full = np.concatenate([d.y_recon[:, :1], d.y_next], axis=1)  # (N, 128, C) clean
    power = (np.abs(np.fft.rfft(full, axis=1)) ** 2).sum(axis=(0, 2))
    assert set(np.argsort(power)[-3:].tolist()) == {2, 3, 5}


def test_normal_modes_latent_dim_padding():
    d = normal_modes(NormalModesConfig(latent_dim=10, n_samples=2))
    assert d.oracle.shape[-1] == 10
    np.testing.assert_array_equal(d.oracle[..., 6:], 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(freqs=()),
        dict(freqs=(2.0, 2.0, 3.0)),
        dict(freqs=(2.0, 3.0, 64.0)),
        dict(amplitudes=(1.0,)),
        dict(noise=-1.0),
        dict(latent_dim=4),
        dict(n_samples=0),
        dict(seq_len=1),
        dict(mixing_seed=-3),
    ],
)
def test_normal_modes_config_rejects_invalid(kwargs):
    with pytest.raises(ValueError):
        NormalModesConfig(**kwargs)


# --------------------------------------------------------------------------- batches
def test_batches_cover_the_data_in_order(modes_data):
    got = list(batches(modes_data, 64))
    assert len(got) == 4
    np.testing.assert_array_equal(np.concatenate([b.x for b in got]), modes_data.x)
    assert all(b.t is modes_data.t for b in got)


def test_batches_shuffle_and_remainder(modes_data):
    shuffled = list(batches(modes_data, 100, shuffle=True, seed=3))
    assert len(shuffled) == 2 and all(b.n_samples == 100 for b in shuffled)
    kept = list(batches(modes_data, 100, drop_last=False))
    assert [b.n_samples for b in kept] == [100, 100, 56]
    x = np.concatenate([b.x for b in batches(modes_data, 64, shuffle=True, seed=3)])
    assert not np.array_equal(x, modes_data.x)
    np.testing.assert_allclose(np.sort(x.sum(axis=(1, 2))), np.sort(modes_data.x.sum(axis=(1, 2))), rtol=1e-6)
    with pytest.raises(ValueError):
        next(batches(modes_data, 0))
    with pytest.raises(ValueError):
        next(batches(modes_data, 257))
