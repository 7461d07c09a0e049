"""Tests for geometry_metric: the corrected metric's calibrations and the seeds' metric's floors.

Oracles: closed forms derived in the module docstring (constant latent, amplitude floor,
DC offset, one oscillator), invariances by construction (rotations, invertible maps,
offsets), the libraries (scipy's principal angles, scikit-learn's ridge and R^2) and
inequalities that hold for every latent (von Neumann / Mirsky, Cauchy-Schwarz).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from spectral_manifolds import geometry_metric as G
from spectral_manifolds.alignment import oracle_distance
from spectral_manifolds.data.oscillators import SeedTaskConfig, seed_task
from spectral_manifolds.experiments import references as R
from spectral_manifolds.experiments.alignment_calibration import random_orthogonal

TASK = SeedTaskConfig(n_samples=64, seed=3)
D = TASK.latent_dim


@pytest.fixture(scope="module")
def data():
    return seed_task(TASK)


@pytest.fixture(scope="module")
def noisy_latent(data):
    """A generic latent: the oracle, mixed, plus noise, normalized per step."""
    rng = np.random.default_rng(0)
    return R.unit_rows(data.oracle @ rng.standard_normal((D, D)) + 0.3 * rng.standard_normal(data.oracle.shape))


def test_oracle_scores_zero_and_moves(data):
    assert G.whitened_distance(data.oracle, data.oracle) < 1e-6
    assert G.centred_variance(data.oracle) == pytest.approx(1.0, abs=1e-3)  # zero time mean
    rho, k = G.canonical_correlations(data.oracle, data.oracle)
    assert np.all(k == 2 * TASK.n_active)
    np.testing.assert_allclose(rho, 1.0, atol=1e-6)


def test_rotation_invariance(data, noisy_latent):
    rng = np.random.default_rng(1)
    for det in (1, -1):
        q = random_orthogonal(D, rng, det=det)
        assert G.whitened_distance(data.oracle @ q, data.oracle) < 1e-6
        np.testing.assert_allclose(G.whitened_distance(noisy_latent @ q, data.oracle, per_sample=True),
                                   G.whitened_distance(noisy_latent, data.oracle, per_sample=True), atol=1e-6)


def test_whitening_invariance(data):
    """Scaling a mode, or any invertible map of a latent with the oracle's rank, changes nothing."""
    amp = R.amplitude_oracle(data, TASK.amplitudes)
    assert float(oracle_distance(amp, data.oracle)) > 0.05  # the seeds' metric charges for amplitudes
    assert G.whitened_distance(amp, data.oracle) < 1e-6
    rng = np.random.default_rng(2)
    k = 2 * TASK.n_active
    z = data.oracle[..., :k] + 0.2 * rng.standard_normal(data.oracle[..., :k].shape)  # rank k, imperfect
    m = rng.standard_normal((k, k)) + 3 * np.eye(k)
    np.testing.assert_allclose(G.whitened_distance(z @ m, data.oracle, per_sample=True),
                               G.whitened_distance(z, data.oracle, per_sample=True), atol=1e-6)
    scaled = z * np.geomspace(1.0, 1e-2, k)  # scale each mode
    np.testing.assert_allclose(G.whitened_distance(scaled, data.oracle), G.whitened_distance(z, data.oracle), atol=1e-6)


def test_constant_latent_closed_forms(data):
    """Whitened: exactly 1 (no centred direction). Seeds': |z^T o|_* = |sum_t o_t| for
    z = 1 u^T, so D = sqrt((2 - 2 |mean_t o_t|) / d) whatever u. Collapse monitor: 0."""
    rng = np.random.default_rng(3)
    const = np.broadcast_to(R.unit_rows(rng.standard_normal((TASK.n_samples, 1, D))), data.oracle.shape)
    assert G.whitened_distance(const, data.oracle) == 1.0
    assert G.centred_variance(const) == 0.0
    mean_norm = np.linalg.norm(data.oracle.astype(np.float64).mean(axis=1), axis=-1)
    closed = np.mean(np.sqrt((2 - 2 * mean_norm) / D))
    assert float(oracle_distance(const, data.oracle)) == pytest.approx(closed, abs=2e-4)
    assert closed == pytest.approx(G.collapse_floor(0.0, D), abs=1e-3)  # the ceiling sqrt(2/d)


def test_collapse_monitor(data, noisy_latent):
    zero = np.zeros_like(data.oracle)
    assert G.centred_variance(zero) == 0.0 and G.whitened_distance(zero, data.oracle) == 1.0  # no NaN
    assert G.centred_variance(noisy_latent) > 0.5
    slow = R.unit_rows(np.concatenate([np.ones(data.oracle.shape[:-1] + (1,)), 1e-3 * data.oracle], axis=-1))
    v = G.centred_variance(slow, per_sample=True)
    assert np.all(v > 0) and np.all(v < 1e-5)  # barely moves: near 0, not 0
    assert G.whitened_distance(slow, data.oracle) < 1e-4  # scale-blind: the monitor is needed
    assert G.centred_variance(data.oracle, relative=False) == pytest.approx(1.0, abs=1e-3)


def test_dc_offset_closed_form(data):
    o = data.oracle
    for c in (0.3, 1.0, 2.5):
        z = o.copy()
        z[..., 2 * TASK.n_active] += c
        z = R.unit_rows(z)
        v = 1.0 / (1.0 + c * c)
        assert G.centred_variance(z) == pytest.approx(v, abs=1e-3)
        assert float(oracle_distance(z, o)) == pytest.approx(G.collapse_floor(v, D), abs=5e-4)
        assert G.whitened_distance(z, o) < 1e-5
    cost = 0.085
    assert G.collapse_floor(1.0 / (1.0 + G.offset_for_cost(cost, D) ** 2), D) == pytest.approx(cost, rel=1e-9)
    with pytest.raises(ValueError):
        G.offset_for_cost(1.0, D)


def test_amplitude_floor(data):
    for a in [(1.0, 1.0, 1.0), TASK.amplitudes, (2.0, 0.3, 0.1)]:
        measured = float(oracle_distance(R.amplitude_oracle(data, a), data.oracle))
        assert measured == pytest.approx(G.amplitude_floor(a, D), abs=5e-4)
    assert G.amplitude_floor((1.0, 1.0, 1.0), D) == 0.0
    assert G.amplitude_floor(TASK.amplitudes, D) == pytest.approx(R.MEASURED_OUTSIDE["amplitude-weighted oracle"], abs=1e-3)
    with pytest.raises(ValueError):
        G.amplitude_floor((1.0, 0.0), D)


def test_one_oscillator_closed_form(data):
    """Two of six canonical correlations are 1: sqrt(1 - 2/6)."""
    from spectral_manifolds.experiments.alignment_calibration import one_oscillator

    assert G.whitened_distance(one_oscillator(data, 0), data.oracle) == pytest.approx(math.sqrt(2 / 3), abs=1e-5)


def test_floors_bound_the_seeds_metric(data, noisy_latent):
    rng = np.random.default_rng(4)
    window = data.oracle[:, 40:200]  # not whole periods: the oracle has a time mean
    latents = [noisy_latent[:, 40:200], R.unit_rows(rng.standard_normal(window.shape) + 0.7),
               R.unit_rows(window + 0.5 * rng.standard_normal(window.shape) + rng.standard_normal((1, 1, D)))]
    for z in latents:
        seeds = oracle_distance(z, window, centred=False)
        per = np.asarray(_per_sample_seeds(z, window))
        assert float(seeds) == pytest.approx(per.mean(), abs=1e-4)
        assert np.all(G.spectrum_floor(z, window, per_sample=True) <= per + 1e-4)
        floor = G.collapse_floor(G.centred_variance(z, per_sample=True), D, G.centred_variance(window, per_sample=True))
        assert np.all(floor <= per + 1e-4)


def _per_sample_seeds(z, o):
    return [float(oracle_distance(z[i], o[i])) for i in range(z.shape[0])]


def test_canonical_correlations_match_scipy(data, noisy_latent):
    rho, k = G.canonical_correlations(noisy_latent[:4], data.oracle[:4])
    for i in range(4):
        qz, _ = G.principal_directions(noisy_latent[i], k=int(k[i]))
        zc = noisy_latent[i] - noisy_latent[i].mean(0)
        oc = data.oracle[i] - data.oracle[i].mean(0)
        top = np.linalg.svd(zc.astype(np.float64), full_matrices=False)[0][:, : k[i]]
        np.testing.assert_allclose(np.abs(qz[0][:, : k[i]]), np.abs(top), atol=1e-6)
        angles = scipy.linalg.subspace_angles(top, oc[:, : k[i]].astype(np.float64))
        np.testing.assert_allclose(np.sort(rho[i])[::-1], np.sort(np.cos(angles))[::-1], atol=1e-6)


def test_probe_matches_sklearn(data, noisy_latent):
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    y = R.canonical_oracle(data, TASK.freqs)
    zs, ys, zt, yt = noisy_latent[:32], y[:32], noisy_latent[32:], y[32:]
    a = zs.reshape(-1, D).astype(np.float64)
    ac = a - a.mean(0)
    lam = 1e-3 * np.trace(ac.T @ ac) / D
    model = Ridge(alpha=lam).fit(a, ys.reshape(-1, y.shape[-1]))
    want = r2_score(yt.reshape(-1, y.shape[-1]), model.predict(zt.reshape(-1, D)), multioutput="variance_weighted")
    assert G.probe_r2(zs, ys, zt, yt, ridge=1e-3) == pytest.approx(want, abs=1e-6)
    fixed = R.pad(y, D)
    assert G.probe_r2(fixed[:32], ys, fixed[32:], yt) == pytest.approx(1.0, abs=1e-5)


def test_probe_constant_latent_closed_form(data):
    y = R.canonical_oracle(data, TASK.freqs).astype(np.float64)
    const = np.ones(data.oracle.shape)
    ys, yt = y[:32], y[32:]
    mu, flat = ys.reshape(-1, y.shape[-1]).mean(0), yt.reshape(-1, y.shape[-1])
    closed = -flat.shape[0] * np.sum((mu - flat.mean(0)) ** 2) / np.sum((flat - flat.mean(0)) ** 2)
    assert G.probe_r2(const[:32], ys, const[32:], yt) == pytest.approx(closed, abs=1e-9)
    assert closed <= 0


def test_unbatched_and_errors(data, noisy_latent):
    per = G.whitened_distance(noisy_latent, data.oracle, per_sample=True)
    assert G.whitened_distance(noisy_latent[5], data.oracle[5]) == pytest.approx(per[5], abs=1e-12)
    assert np.ndim(G.whitened_distance(noisy_latent[5], data.oracle[5], per_sample=True)) == 0
    with pytest.raises(ValueError):
        G.whitened_distance(noisy_latent[..., 0], data.oracle)  # wrong rank
    with pytest.raises(ValueError):
        G.whitened_distance(noisy_latent[:, :10], data.oracle)  # mismatched T
    bad = noisy_latent.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError):
        G.centred_variance(bad)
    with pytest.raises(ValueError):
        G.whitened_distance(noisy_latent, np.ones_like(data.oracle))  # the oracle must move
    with pytest.raises(ValueError):
        G.probe_r2(noisy_latent, data.oracle, noisy_latent[..., :5], data.oracle)
