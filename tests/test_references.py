"""Tests for experiments.references: the reference latents of chapters 6 and 7.

Oracles: closed forms (a permuted oracle scores 0, equal amplitudes give the oracle back),
causality by construction (changing the future leaves earlier windows unchanged), exact
least squares on a noiseless linear problem, and SSA on noiseless sinusoids.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spectral_manifolds.alignment import oracle_distance
from spectral_manifolds.data.oscillators import SeedTaskConfig, seed_task
from spectral_manifolds.experiments import references as R

TASK = SeedTaskConfig(n_samples=64)


@pytest.fixture(scope="module")
def data():
    return seed_task(TASK)


def test_unit_rows_and_pad():
    z = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(R.unit_rows(z), [[0.6, 0.8], [0.0, 0.0]])  # a zero row stays zero
    assert R.pad(z, 5).shape == (2, 5) and np.all(R.pad(z, 5)[:, 2:] == 0)
    with pytest.raises(ValueError):
        R.pad(z, 1)


def test_causal_windows_are_causal():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 10, 3)).astype(np.float32)
    w = R.causal_windows(x, 4)
    assert w.shape == (2, 10, 12)
    np.testing.assert_array_equal(w[:, 0].reshape(2, 3, 4)[..., :3], 0)  # before the start: zeros
    np.testing.assert_array_equal(w[:, 5].reshape(2, 3, 4)[..., -1], x[:, 5])  # the last lag is step t itself
    x2 = x.copy()
    x2[:, 6:] += 1.0  # change the future
    np.testing.assert_array_equal(R.causal_windows(x2, 4)[:, :6], w[:, :6])


def test_canonical_oracle_is_a_permuted_oracle(data):
    c = R.canonical_oracle(data, TASK.freqs)
    assert c.shape == (64, data.oracle.shape[1], 10)
    np.testing.assert_allclose(np.linalg.norm(c, axis=-1), 1.0, atol=1e-5)
    assert float(oracle_distance(R.pad(c, 21), data.oracle)) < 1e-3


def test_amplitude_oracle(data):
    equal = R.amplitude_oracle(data, (1.0, 1.0, 1.0))
    np.testing.assert_allclose(equal, data.oracle, atol=1e-6)
    weighted = R.amplitude_oracle(data, TASK.amplitudes)
    np.testing.assert_allclose(np.linalg.norm(weighted, axis=-1), 1.0, atol=1e-5)
    # pairs scaled 1 : 0.5 : 0.25 (the first pair is the amplitude-1 oscillator)
    pair = [np.hypot(weighted[..., k], weighted[..., 3 + k]) for k in range(3)]
    np.testing.assert_allclose(pair[1] / pair[0], 0.5, rtol=1e-5)
    np.testing.assert_allclose(pair[2] / pair[0], 0.25, rtol=1e-5)
    assert float(oracle_distance(weighted, data.oracle)) > 0.05  # separated, but not whitened


def test_linear_causal_encoder_improves_with_its_window(data):
    """On the noiseless task a longer window fits the oracle better (its features contain the
    shorter window's), and both beat the input itself, which no pointwise map can separate."""
    clean = seed_task(dataclasses.replace(TASK, noise=0.0))
    d9 = float(oracle_distance(R.linear_causal_latent(clean, clean, 9, TASK.freqs), clean.oracle))
    d33 = float(oracle_distance(R.linear_causal_latent(clean, clean, 33, TASK.freqs), clean.oracle))
    d_input = float(oracle_distance(R.unit_rows(R.pad(clean.x, 21)), clean.oracle))
    assert d33 < d9 < d_input


def test_ssa_on_noiseless_sinusoids(data):
    clean = seed_task(dataclasses.replace(TASK, noise=0.0))
    z = R.ssa_latent(clean.x, 32, 6, 21)
    assert z.shape == (64, clean.x.shape[1] - 31, 21)
    np.testing.assert_allclose(np.linalg.norm(z, axis=-1), 1.0, atol=1e-5)
    assert float(oracle_distance(z, clean.oracle[:, 31:])) < 0.01


def test_reference_rows_order_the_ruler(data):
    rows = {r["reference latent"]: r for r in R.reference_rows(R.ReferenceConfig(task=TASK, linear_windows=(9,), ssa_windows=(32,)))}
    assert set(rows) == {"normalized input", "untrained linear encoder", "amplitude-weighted oracle",
                         "linear causal encoder, window 9", "SSA, window 32"}
    d = {k: r["ours"] for k, r in rows.items()}
    # the chapter's reading: nothing learned at all (SSA) beats separation with amplitudes kept,
    # which beats a short linear window, which beats the input itself
    assert d["SSA, window 32"] < d["amplitude-weighted oracle"] < d["linear causal encoder, window 9"] < d["normalized input"]
    assert d["normalized input"] < np.sqrt(2 / 21)
    assert all(r["measured outside"] == R.MEASURED_OUTSIDE[k] for k, r in rows.items())
    with pytest.raises(ValueError):
        R.ReferenceConfig(task=TASK, ssa_windows=(300,))
