"""cvkan.probes: AUROC against scipy's Mann-Whitney U, and the per-layer profile."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import mannwhitneyu

from spectral_manifolds.cvkan.models import CVKAN
from spectral_manifolds.cvkan.probes import auroc, layer_profile
from spectral_manifolds.data.polarization import make_polarization


def test_auroc_is_mann_whitney_u_over_pairs():
    rng = np.random.default_rng(0)
    p, n = rng.normal(0.5, 1, 40), np.round(rng.normal(0, 1, 30), 1)  # rounding makes ties
    u = mannwhitneyu(p, n, alternative="two-sided").statistic
    assert auroc(p, n) == pytest.approx(u / (40 * 30))


def test_auroc_extremes_and_symmetry():
    assert auroc([2, 3], [0, 1]) == 1.0 and auroc([0, 1], [2, 3]) == 0.0
    assert auroc([1, 1], [1, 1]) == 0.5
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=20), rng.normal(size=25)
    assert auroc(a, b) + auroc(b, a) == pytest.approx(1.0)


@pytest.mark.parametrize("p, n", [([], [1.0]), ([1.0], [np.nan])])
def test_auroc_bad_input(p, n):
    with pytest.raises(ValueError):
        auroc(p, n)


def test_layer_profile_embedding_row_is_chance_on_unit_magnitudes():
    data = make_polarization(64, 64, n_tokens=8, d=8, seed=0, backend="torch")
    pos = data.y_test == 1
    model = CVKAN(8, 2, n_blocks=2, hidden=16)
    rows = layer_profile(model, data.z_test[pos], np.asarray(data.signal_test)[np.asarray(pos)])
    assert [r["layer"] for r in rows] == [0, 1, 2]
    # every input token has |z| = 1: magnitudes cannot separate anything before a block
    assert rows[0]["auroc"] == pytest.approx(0.5, abs=0.1)  # float32 rounding of |z| may break the ties
    assert rows[0]["log-magnitude variance"] == pytest.approx(0.0, abs=1e-10)
    assert all(0.0 <= r["auroc"] <= 1.0 for r in rows)


def test_layer_profile_rejects_a_wrong_mask():
    model = CVKAN(8, 2, n_blocks=1, hidden=16)
    z = torch.polar(torch.ones(4, 8, 8), torch.zeros(4, 8, 8))
    with pytest.raises(ValueError):
        layer_profile(model, z, np.zeros((4, 7), bool))
