"""Tests of chapter 5's probes (src/spectral_manifolds/experiments/loss_probes.py).

Oracles: closed forms of the phase term for the circle's impostors, |log c| for a
rescaled copy, the cancellation identity of a shared filter, and constructed inputs for
the seed-figure verdict.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spectral_manifolds import report
from spectral_manifolds.data.oscillators import SeedTaskConfig
from spectral_manifolds.experiments import loss_probes

SMALL_TASK = SeedTaskConfig(n_samples=8, batch=8)


def test_phase_blindness_closed_forms():
    """Line: channel 2 off by pi/2 (mean 1/2); reversed: channel 2 off by pi (1/2 * 2); late: 1 - cos 1."""
    sep = loss_probes.phase_blindness([0, 1, 2])["separations"]
    expect = {"line (sin, sin)": 0.5, "reversed (sin, -cos)": 1.0, "late circle (+1 rad)": 1 - math.cos(1.0)}
    for name, value in expect.items():
        np.testing.assert_allclose(sep[name]["phase (weighted)"], value, atol=1e-4)
        assert max(abs(v) for v in sep[name]["log-magnitude (floored)"]) < 1e-3  # blind, whatever the circle


def test_bank_cancels_for_the_seeds_code_only():
    res = loss_probes.bank_cancellation(SMALL_TASK, [0, 1], n_samples=8)
    spreads = res["spreads"]
    names = list(loss_probes.BANK_VARIANTS)
    assert max(spreads[names[0]]) < 1e-2  # the seeds' bank: one loss, five times
    first = res["first_seed"][names[0]]
    np.testing.assert_allclose(first["terms"], first["kernel-free"], rtol=1e-2)
    for name in names[1:]:
        assert min(spreads[name]) > 1e-2, name  # the kernel no longer cancels


def test_kernel_spectra_stay_far_above_eps_and_span_decades_at_small_gamma():
    rows = {r["γ"]: r for r in loss_probes.kernel_spectra(255)}
    assert min(r["min |K|"] for r in rows.values()) > 1e4 * 1e-8  # eps = 1e-8 never bites
    assert rows[0.1]["max / min"] > 100  # a magnitude weighting would tilt the bins by > 100:1
    assert all(r["max / min"] == pytest.approx(r["max |K|"] / r["min |K|"]) for r in rows.values())


def test_calibration_closed_forms():
    cal = loss_probes.calibration(SMALL_TASK, [0, 1], n_samples=8)
    for name in cal:
        np.testing.assert_allclose(cal[name]["perfect (the target itself)"], 0.0, atol=1e-5)
    # half the target: every bin's log-magnitude is off by log 2, every phase is right
    np.testing.assert_allclose(cal["seed fidelity"]["half the target"], math.log(2), atol=1e-3)


def test_seed_figure_verdict_on_constructed_inputs():
    values = [1.0, 1.02, 0.98, 1.01, 0.99]
    assert loss_probes.seed_figure_verdict(0.5, values)[0] == report.REPRODUCED  # far below the reference
    assert loss_probes.seed_figure_verdict(1.5, values)[0] == report.NOT_REPRODUCED  # far above
    # the fidelity part spans the reference: the two ends disagree
    verdict, comparisons = loss_probes.seed_figure_verdict(1.2, values, entropy_max=0.5)
    assert verdict == report.INCONCLUSIVE and len(comparisons) == 2
    assert {c.verdict for c in comparisons} == {report.REPRODUCED, report.NOT_REPRODUCED}
