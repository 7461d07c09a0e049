"""experiments.cvkan_domains(_tables): chapter 15's claims at the quick budget.

Invariants and parameter matching first (no training); then one reduced quick run
(digits without the depth sweep, and CO2) for the orderings the chapter states.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.forecast import train_forecaster
from spectral_manifolds.cvkan.models import CVKAN, n_parameters
from spectral_manifolds.data import domains
from spectral_manifolds.experiments import cvkan_domains as cd
from spectral_manifolds.experiments import cvkan_domains_pooling as pl
from spectral_manifolds.experiments import cvkan_domains_tables as tb

QUICK = cd.config_for("quick")
FULL = cd.config_for("full")
FULL_FC = cd.config_for("full", "forecasting")  # chapter 18: the series, with R, C and attention pooling


def test_budgets_and_bad_configs():
    assert QUICK.n_seeds >= 3 and FULL.n_seeds >= 5 and FULL.steps >= QUICK.steps and FULL.with_c and FULL.hidden == 128
    assert FULL.depths == (1, 2, 3, 6) and FULL.n_blocks == 3
    for bad in (dict(n_seeds=1), dict(datasets=("cifar",)), dict(series=("etth1",)), dict(depths=(1, 2)), dict(depths=(0, 3)),
                dict(depth_datasets=("basic_motions",), datasets=("digits",)), dict(pooling_datasets=("basic_motions",), datasets=("digits",), depth_datasets=()),
                dict(steps=0), dict(lr=0.0)):
        with pytest.raises(ValueError):
            dataclasses.replace(QUICK, **bad)
    cls, fc = cd.config_for("quick", "classification"), cd.config_for("full", "forecasting")
    assert cls.series == () and cls.pooling_datasets and fc.datasets == () and fc.pooling_series and fc.forecast_transformers and fc.with_c
    assert not (QUICK.pooling_datasets or QUICK.pooling_series or QUICK.forecast_transformers)  # "all": chapter 15 as published
    with pytest.raises(ValueError):
        cd.config_for("quick", "everything")
    with pytest.raises(ValueError):
        cd.config_for("medium")
    with pytest.raises(ValueError):
        cd.load("cifar")


def test_tokenize_patches_and_appends_one_hot_positions():
    seen = []
    probe = lambda x: seen.append(x) or x.sum((1, 2))
    tok = cd.Tokenize(probe, 6, patch=2)
    x = torch.arange(2 * 6 * 3, dtype=torch.float32).reshape(2, 6, 3)
    tok(x)
    (out,) = seen
    assert out.shape == (2, 3, 2 * 3 + 3)
    torch.testing.assert_close(out[:, :, :6], x.reshape(2, 3, 6))
    torch.testing.assert_close(out[0, :, 6:], torch.eye(3))
    with pytest.raises(ValueError):
        cd.Tokenize(probe, 7, patch=2)
    with pytest.raises(ValueError):
        tok(x[:, :4])


@torch.no_grad()
def test_positions_break_the_cvkans_token_permutation_invariance():
    """Without positions the broadcast stack with mean pooling is a function of the token set;
    the one-hot index is what lets it tell a shuffled input apart."""
    torch.manual_seed(0)
    x = torch.randn(4, 8, 3, dtype=torch.float64)
    perm = torch.randperm(8)
    plain = cd.Tokenize(CVKAN(8, 5, in_features=3, n_blocks=2, hidden=16).double(), 8, positions=False)
    torch.testing.assert_close(plain(x), plain(x[:, perm]), rtol=1e-9, atol=1e-9)
    pos = cd.Tokenize(CVKAN(8, 5, in_features=3 + 8, n_blocks=2, hidden=16).double(), 8)
    assert (pos(x) - pos(x[:, perm])).abs().max() > 1e-4


@torch.no_grad()
def test_z0_sees_only_the_mean_token_even_with_positions():
    """The chapter's remark: Z0 pools a linear embedding, so the one-hot positions add a
    constant and a shuffled input, or any input with the same mean token, gives the same output."""
    x_tr, y_tr, _, _ = cd.load("digits")
    widths = cd.baseline_widths(QUICK, 16, 4, 10, 1)
    torch.manual_seed(0)
    z0 = cd.build(QUICK, cd.Z0, 16, 4, 10, 1, widths).double()
    x = torch.from_numpy(x_tr[:8]).double()
    same_mean = x.mean(1, keepdim=True).expand(-1, 16, -1)  # every token replaced by the mean token
    torch.testing.assert_close(z0(x), z0(x[:, torch.randperm(16)]), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(z0(x), z0(same_mean), rtol=1e-9, atol=1e-9)
    cv = cd.build(QUICK, cd.CVKAN_NAME, 16, 4, 10, 1, widths).double()
    assert (cv(x) - cv(same_mean)).abs().max() > 1e-3


@torch.no_grad()
def test_relative_to_last_shifts_with_the_level():
    torch.manual_seed(1)
    net = cd.RelativeToLast(cd.Tokenize(CVKAN(8, 4 * 2, in_features=2 * 2 + 6, n_blocks=1, hidden=8).double(), 12, patch=2), 4)
    x = torch.randn(3, 12, 2, dtype=torch.float64)
    shift = torch.tensor([5.0, -2.0], dtype=torch.float64)
    out, out2 = net(x), net(x + shift)
    torch.testing.assert_close(out2.reshape(3, 4, 2), out.reshape(3, 4, 2) + shift, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", cd.CLASSIFICATION)
def test_baselines_and_depths_are_parameter_matched(name):
    x_tr, y_tr, _, _ = cd.load(name)
    shape = (x_tr.shape[1], x_tr.shape[2], int(y_tr.max()) + 1, cd.TIME_PATCH[name])
    cfg = FULL if name == "basic_motions" else QUICK  # C at the full width once (it is not trained at quick)
    widths = cd.baseline_widths(cfg, *shape)
    target = widths["target"]
    for model in (cd.Z0, cd.R) + ((cd.C,) if cfg.with_c else ()):
        assert abs(n_parameters(cd.build(cfg, model, *shape, widths)) / target - 1) <= 0.05, model
    depth = cd.depth_models(QUICK, *shape)
    qtarget = n_parameters(cd.build(QUICK, cd.CVKAN_NAME, *shape, {}))
    assert depth[QUICK.n_blocks] == QUICK.hidden
    assert [depth[L] for L in sorted(depth)] == sorted(depth.values(), reverse=True)  # deeper is narrower
    for L, w in depth.items():
        assert abs(n_parameters(cd.build(QUICK, cd.CVKAN_NAME, *shape, {}, hidden=w, n_blocks=L)) / qtarget - 1) <= 0.05
    with pytest.raises(ValueError):
        cd.build(QUICK, "ViT", *shape, widths)


@pytest.mark.parametrize("name", domains.SERIES)
@torch.no_grad()
def test_forecast_transformers_are_parameter_matched_and_shaped(name):
    """R and C forecasters (out_dim = horizon * channels) within 5 % of the plain CV-KAN forecaster."""
    context, patch = cd.FORECAST[name]
    widths = cd.forecast_widths(FULL_FC, name)
    make = cd.forecast_models(FULL_FC, name, widths)
    target = n_parameters(make[cd.CVKAN_NAME](1, FULL_FC.horizon))
    assert widths["target"] == target
    x = torch.randn(3, context, 1)
    for model in (cd.R, cd.C):
        net = make[model](1, FULL_FC.horizon)
        assert abs(n_parameters(net) / target - 1) <= 0.05, model
        assert net(x).shape == (3, FULL_FC.horizon)
    with pytest.raises(ValueError):
        cd.forecast_models(FULL_FC, name)  # the transformers need widths


@torch.no_grad()
def test_attention_pooling_switch_changes_the_model_and_reduces_to_the_mean():
    """Attention pooling adds a Linear(2d, 1) score (2d + 1 parameters) and changes the output; with
    its score weights at zero it is the mean again (same remaining weights)."""
    x = torch.from_numpy(cd.load("digits")[0][:6]).double()
    torch.manual_seed(0)
    mean = cd.build(QUICK, cd.CVKAN_NAME, 16, 4, 10, 1, {}).double()
    attn = cd.build(QUICK, cd.CVKAN_ATTN, 16, 4, 10, 1, {}).double()
    assert n_parameters(attn) - n_parameters(mean) == 2 * QUICK.d + 1
    missing, unexpected = attn.load_state_dict(mean.state_dict(), strict=False)
    assert not unexpected and all("pool.score" in k for k in missing) and missing
    assert (attn(x) - mean(x)).abs().max() > 1e-6
    attn.inner.pool.score.weight.zero_()
    torch.testing.assert_close(attn(x), mean(x), rtol=1e-9, atol=1e-9)
    fc = cd.forecast_models(dataclasses.replace(QUICK, pooling_series=True), "airline")
    assert n_parameters(fc[cd.CVKAN_REL_ATTN](1, 12)) - n_parameters(fc[cd.CVKAN_REL](1, 12)) == 2 * QUICK.d + 1


def test_baseline_errors_match_train_forecaster():
    s = domains.load_series("airline")
    context, patch = cd.FORECAST["airline"]
    fit = train_forecaster(s.values, 12, context=context, season=12, epochs=1, progress=False,
                           model=lambda f, out: cd.build(QUICK, cd.CVKAN_NAME, context, f, out, patch, {}))
    err = cd.baseline_errors(s.values, 12, context, 12)
    assert err["seasonal naive"]["mse"] == pytest.approx(fit.test["seasonal_naive_mse"], rel=1e-9)
    assert err["last value"]["mse"] == pytest.approx(fit.test["last_value_mse"], rel=1e-9)
    assert err["ridge"]["mse"] == pytest.approx(fit.test["linear_mse"], rel=1e-6)
    for e in err.values():  # MAE <= RMSE
        assert e["mae"] <= np.sqrt(e["mse"]) + 1e-9


def test_logistic_baselines_are_strong_on_digits_and_on_motion_summaries():
    acc = cd.logistic_baselines("digits", cd.load("digits"))
    assert set(acc) == {cd.LOGREG_RAW} and acc[cd.LOGREG_RAW][0] > 0.9
    acc = cd.logistic_baselines("basic_motions", cd.load("basic_motions"))
    assert acc[cd.LOGREG_SUMMARY][0] > acc[cd.LOGREG_RAW][0]


# --------------------------------------------------------------------- trained claims (quick sizes, reduced)
@pytest.fixture(scope="module")
def result():
    cfg = dataclasses.replace(QUICK, datasets=("digits",), series=("co2",), depths=(), depth_datasets=(), pooling_datasets=("digits",), pooling_series=True,
                              forecast_transformers=True)
    return cd.run(cfg, progress=False)


def test_result_is_json_and_tables_render(result):
    assert json.loads(result.to_json())["config"]["n_seeds"] == QUICK.n_seeds
    assert len(tb.classification_rows(result)) == 4 and len(tb.classification_verdicts(result)) == 3
    assert len(tb.forecast_rows(result)) == 6 and len(tb.forecast_verdicts(result)) == 6  # CV-KAN, relative, R; 3 baselines
    assert len(tb.best_baseline_verdicts(result)) == 3
    assert [r["claim"].split(":")[0] for r in pl.pooling_verdicts(result)] == ["digits", "co2"]
    assert pl.pooling_rows(result)[0]["seed: delta"].startswith("+1.4")
    rows = tb.seed_vs_ours_rows(result)
    assert [r["seed's data"] for r in rows] == ["CIFAR-10", "ETTh1"]
    assert "(deterministic)" in tb.classification_rows(result)[-1]["test accuracy (%)"]


def test_blocks_beat_z0_on_digits_and_the_logistic_stays_ahead(result):
    verdicts = {r["claim"]: r["verdict"] for r in tb.classification_verdicts(result)}
    assert verdicts[f"digits: CV-KAN beats {cd.Z0}"] == "reproduced"
    # Z0 pools a linear function of the mean token: it sees the mean 2x2 patch only
    assert np.mean(tb.accuracy_points(result, "digits", cd.Z0)) < 30.0
    assert np.mean(tb.accuracy_points(result, "digits", cd.CVKAN_NAME)) < tb.accuracy_points(result, "digits", cd.LOGREG_RAW)[0]
    assert verdicts[f"digits: CV-KAN beats {cd.LOGREG_RAW}"] != "reproduced"


def test_co2_forecasts_need_the_level_and_ridge_wins(result):
    plain, rel = (result.values("co2", m, "mse") for m in (cd.CVKAN_NAME, cd.CVKAN_REL))
    assert max(rel) < min(plain)  # every seed: predicting the change from the last value helps
    assert min(rel) < result.values("co2", "seasonal naive", "mse")[0]
    verdicts = {r["claim"]: r["verdict"] for r in tb.forecast_verdicts(result)}
    assert verdicts[f"co2: {cd.CVKAN_REL} beats ridge"] == "not reproduced"
    assert verdicts[f"co2: {cd.CVKAN_NAME} beats ridge"] != "reproduced"
