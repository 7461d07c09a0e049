"""Tests for chapter 4's evaluation (spectral_manifolds.experiments.mf_eval): held-out
metrics, the rollouts against the floors, and the one-step vs substep distance."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spectral_manifolds.data.oscillators import NormalModesConfig
from spectral_manifolds.experiments import mf_eval as V
from spectral_manifolds.experiments import mf_train as T

CFG = T.Config(data=NormalModesConfig(seq_len=40, n_samples=64), n_test=16, epochs=40, batch=32, latent_dim=8, hidden=16, decoder_hidden=32)
GAPS = (1, 4, 12)


@pytest.fixture(scope="module")
def group():
    return T.train({"det": CFG, "cons": dataclasses.replace(CFG, latent_weight=1.0)}, [0, 1, 2])


@pytest.fixture(scope="module")
def imp(group):
    return V.imputation(group, GAPS)


def test_teacher_forced_metrics_without_sampling_members(group):
    assert np.all(np.isnan(group.test_pred_mse_sample)) and np.all(np.isfinite(group.test_pred_mse))
    ev = V.teacher_forced(group, group.test)
    np.testing.assert_allclose(ev["pred_mse"], group.test_pred_mse, rtol=1e-6)


def test_chunked_evaluation_equals_one_pass(group, monkeypatch):
    """Means over chunks of unequal size (16 test samples in chunks of 5: 5, 5, 5, 1)
    weighted by their sizes are the one-pass means."""
    whole_tf, whole_gap = V.teacher_forced(group, group.test), V.substep_gap(group)
    monkeypatch.setattr(V, "EVAL_CHUNK", 5)
    parts_tf, parts_gap = V.teacher_forced(group, group.test), V.substep_gap(group)
    for k in ("pred_mse", "recon_mse", "sigma"):
        np.testing.assert_allclose(parts_tf[k], whole_tf[k], rtol=1e-5)
    for k in ("rotation", "one_vs_sub"):
        np.testing.assert_allclose(parts_gap[k], whole_gap[k], rtol=1e-5, atol=1e-9)


def test_imputation_shapes_and_the_one_step_identity(group, imp):
    assert imp.latent.shape == imp.feedback.shape == (6, len(GAPS))
    assert imp.gap_start == group.test.seq_len - max(GAPS) - 1
    # at L = 1 nothing has been fed back: the two rollouts are the same computation
    np.testing.assert_allclose(imp.latent[:, 0], imp.feedback[:, 0], rtol=1e-4)
    assert set(imp.floors) == {"linear interpolation", "sinusoid fit", f"AR({imp.ar_order})"} and imp.ar_order == 12
    assert imp.values("cons", "latent").shape == (3,) and imp.values("det", "feedback", 4)[0] == imp.feedback[0, 1]
    np.testing.assert_allclose(imp.freqs * CFG.data.seq_len, CFG.data.freqs, atol=0.05)
    assert imp.example["latent"].shape == (max(GAPS), CFG.data.n_channels)
    d = imp.to_dict()
    assert len(d["latent"]) == 6 and len(d["floors"]["sinusoid fit"]) == len(GAPS)


def test_classical_forecasts_beat_linear_interpolation_on_long_gaps(imp):
    """On a linear oscillator the sinusoid fit and AR extrapolate; a straight line cannot."""
    lin = imp.floors["linear interpolation"][-1]
    assert imp.floors["sinusoid fit"][-1] < lin and imp.floors[f"AR({imp.ar_order})"][-1] < lin


def test_imputation_rejects_bad_gaps(group):
    with pytest.raises(ValueError):
        V.imputation(group, [0])
    with pytest.raises(ValueError):
        V.imputation(group, [4], gap_start=group.test.seq_len - 2)


def test_substep_gap_is_zero_at_zero_init_and_positive_for_random_weights():
    zero = T.train({"z": dataclasses.replace(CFG, epochs=1, lr=1e-12)}, [0])  # effectively untrained
    g0 = V.substep_gap(zero)
    assert float(g0["rotation"][0]) < 1e-6 and float(g0["one_vs_sub"][0]) < 1e-6
    rnd = T.train({"r": dataclasses.replace(CFG, epochs=1, lr=1e-12, zero_init=False)}, [0])
    g1 = V.substep_gap(rnd)
    assert float(g1["rotation"][0]) > 1e-2 and float(g1["one_vs_sub"][0]) > 1e-6


def test_claim_one_step_is_an_accurate_integrator_of_the_trained_slow_field(group):
    """The chapter's lesson 2: on the normal modes' trained fields one step of h = 1 lands
    within 1 % of its own length from 4 substeps."""
    gap = V.substep_gap(group)
    assert np.all(gap["rotation"] > 0) and np.all(gap["relative"] < 1e-2)
