"""The one-point form of a broadcast stack (cvkan/similarity.py): exact where its conditions
hold, broken where they do not, and its contrast bound."""

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.models import CVKAN
from spectral_manifolds.cvkan.similarity import circle_contrast, point_profile, similarity_fit


def _unit_tokens(b=6, n=8, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.exp(1j * 2 * np.pi * torch.rand(b, n, d, generator=g, dtype=torch.float64))


def _states(aggregation, norm, seed=0):
    torch.manual_seed(seed)
    model = CVKAN(4, 2, n_blocks=3, hidden=16, aggregation=aggregation, norm=norm).double()
    with torch.no_grad():
        for block in model.blocks:
            block.s.fill_(1.0)  # a large update, so that a broken form shows
        return model.tokens(_unit_tokens())


@pytest.mark.parametrize("aggregation", ["mean", "magnitude", "attention"])
@pytest.mark.parametrize("norm", ["centre", "none"])
def test_global_broadcast_stack_is_one_point_per_channel(aggregation, norm):
    states = _states(aggregation, norm)
    for zl in states[1:]:
        fit = similarity_fit(states[0], zl)
        assert fit["residual"].max() < 1e-12
        assert fit["angle"].abs().max() < 1e-12  # kappa is real ...
        assert (fit["kappa"].real > 0).all()  # ... and positive
        mags = zl.abs() / fit["kappa"].real.unsqueeze(-2)
        np.testing.assert_allclose(mags, (states[0] - fit["point"].unsqueeze(-2)).abs(), rtol=1e-10)


@pytest.mark.parametrize("aggregation,norm", [("causal", "centre"), ("window", "centre"), ("mean", "layernorm"), ("mean", "rms")])
def test_form_breaks_without_its_conditions(aggregation, norm):
    states = _states(aggregation, norm)
    assert similarity_fit(states[0], states[-1])["residual"].max() > 1e-3


def test_fit_recovers_a_known_similarity():
    z0 = _unit_tokens()
    kappa = torch.rand(6, 4, dtype=torch.float64) + 0.5
    p = torch.randn(6, 4, dtype=torch.complex128)
    fit = similarity_fit(z0, kappa.unsqueeze(-2) * (z0 - p.unsqueeze(-2)))
    np.testing.assert_allclose(fit["kappa"].real, kappa, rtol=1e-12)
    np.testing.assert_allclose(fit["point"], p, atol=1e-12)


def test_circle_contrast_is_the_largest_ratio_on_the_circle():
    phases = torch.linspace(0, 2 * np.pi, 4097, dtype=torch.float64)[:-1]
    for rho in (0.0, 0.3, 0.9, 1.7, 10.0):
        p = rho  # phases 0 and pi are on the grid
        mags = (torch.exp(1j * phases) - p).abs()
        np.testing.assert_allclose(float(mags.max() / mags.min()), float(circle_contrast(torch.tensor(rho))), rtol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError):
        similarity_fit(_unit_tokens(), _unit_tokens(n=4))
    with pytest.raises(ValueError):
        similarity_fit(_unit_tokens(n=1), _unit_tokens(n=1))


def test_point_profile_rows_on_a_float32_model():
    rows = point_profile(CVKAN(4, 2, n_blocks=2, hidden=8), _unit_tokens().to(torch.complex64))
    assert [r["layer"] for r in rows] == [1, 2]
    assert all(r["similarity residual"] < 1e-5 for r in rows)
    assert all(r["median max/min |z|"] <= r["median circle contrast"] * (1 + 1e-5) for r in rows)
