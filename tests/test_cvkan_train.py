"""Tests for spectral_manifolds.cvkan.train: the public training entry points (issue 8)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spectral_manifolds.cvkan.baselines import ComplexTransformer, RealTransformer, n_real_parameters
from spectral_manifolds.cvkan.forecast import chronological_windows, last_value, seasonal_naive, train_forecaster
from spectral_manifolds.cvkan.train import EPOCHS, train_classifier

FAST = dict(device="cpu", progress=False)


class MeanLinear(nn.Module):
    """A reader's own tiny model: mean over time, then Linear ((B, T, C) -> (B, out))."""

    def __init__(self, in_features: int, out: int, complex_input: bool = False):
        super().__init__()
        self.complex_input = complex_input
        self.lin = nn.Linear(2 * in_features if complex_input else in_features, out)

    def forward(self, x):
        m = x.mean(dim=1)
        return self.lin(torch.cat([m.real, m.imag], -1) if self.complex_input else m)


class LastStep(nn.Module):
    """A tiny forecaster: Linear on the flattened context -> (B, H * C)."""

    def __init__(self, context: int, in_features: int, out: int):
        super().__init__()
        self.lin = nn.Linear(context * in_features, out)

    def forward(self, x):
        return self.lin(x.reshape(len(x), -1))


def separable(n=240, T=6, C=3, seed=0, complex_=False):
    """Class k shifts channel 0 by +-1.5 (noise 0.5): separable by the time mean of one channel."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(0, 0.5, (n, T, C))
    X[:, :, 0] += np.where(y == 1, 1.5, -1.5)[:, None]
    if complex_:
        X = X * np.exp(1j * 0.3)
    return X, y


# --------------------------------------------------------------------------- classifier
def test_tiny_module_learns_a_separable_task():
    X, y = separable()
    fit = train_classifier(X, y, model=MeanLinear(3, 2), epochs=8, lr=3e-2, seed=0, **FAST)
    assert fit.test["accuracy"] >= 0.95
    assert fit.history["train_loss"][-1] < fit.history["train_loss"][0]
    assert fit.n_params == 3 * 2 + 2 == n_real_parameters(fit.model)
    assert not fit.model.training


def test_factory_and_both_baselines_learn():
    X, y = separable(n=160)
    real = train_classifier(X, y, model=lambda f, k: RealTransformer(f, 8, 2, 1, k, dropout=0.0), epochs=6, lr=1e-2, **FAST)
    assert real.test["accuracy"] >= 0.9
    Z, yz = separable(n=160, complex_=True)
    cplx = train_classifier(Z, yz, model=lambda f, k: ComplexTransformer(f, 8, 2, 1, k, dropout=0.0), epochs=6, lr=1e-2, **FAST)
    assert cplx.test["accuracy"] >= 0.9


def test_two_dimensional_input_is_one_channel():
    X, y = separable(C=1)
    fit = train_classifier(X[:, :, 0], y, model=lambda f, k: MeanLinear(f, k), epochs=2, **FAST)
    assert fit.model.lin.in_features == 1


def test_history_lengths_equal_epochs_and_keys():
    X, y = separable(n=60)
    fit = train_classifier(X, y, model=MeanLinear(3, 2), epochs=4, **FAST)
    assert set(fit.history) == {"train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
    assert all(len(v) == 4 for v in fit.history.values())
    assert fit.test["accuracy"] == fit.history["test_acc"][-1]
    assert all(0.0 <= a <= 1.0 for a in fit.history["train_acc"] + fit.history["test_acc"])


def test_budget_decides_epochs_when_none(monkeypatch):
    X, y = separable(n=40)
    monkeypatch.setenv("SM_BUDGET", "quick")
    fit = train_classifier(X, y, model=MeanLinear(3, 2), **FAST)
    assert len(fit.history["train_loss"]) == EPOCHS["quick"]
    fit = train_classifier(X, y, model=MeanLinear(3, 2), budget="quick", epochs=2, **FAST)
    assert len(fit.history["train_loss"]) == 2  # epochs wins


def test_seeded_runs_repeat_and_differ():
    X, y = separable(n=60)
    a = train_classifier(X, y, model=lambda f, k: MeanLinear(f, k), epochs=2, seed=1, **FAST)
    b = train_classifier(X, y, model=lambda f, k: MeanLinear(f, k), epochs=2, seed=1, **FAST)
    c = train_classifier(X, y, model=lambda f, k: MeanLinear(f, k), epochs=2, seed=2, **FAST)
    assert a.history["train_loss"] == b.history["train_loss"]
    assert a.history["train_loss"] != c.history["train_loss"]
    assert not np.array_equal(a.info["test_index"], c.info["test_index"])


def test_random_split_sizes_and_explicit_test_split_never_trains():
    X, y = separable(n=50)
    fit = train_classifier(X, y, model=MeanLinear(3, 2), epochs=1, test_fraction=0.2, **FAST)
    assert len(fit.info["test_index"]) == 10 and len(set(fit.info["test_index"])) == 10
    # an explicit test split: changing its values leaves the trained weights unchanged
    Xt, yt = separable(n=20, seed=5)
    runs = []
    for scale in (1.0, -100.0):
        torch.manual_seed(0)
        runs.append(train_classifier(X, y, model=MeanLinear(3, 2), epochs=2, X_test=Xt * scale, y_test=yt, **FAST))
    for p, q in zip(runs[0].model.parameters(), runs[1].model.parameters()):
        assert torch.equal(p, q)


def test_classifier_bad_input_raises():
    X, y = separable(n=40)
    m = MeanLinear(3, 2)
    bad = [
        (X[0, 0], y, "must be a numeric"),  # rank 1
        (X[:, :, :, None], y, "must be a numeric"),  # rank 4
        (np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), y, "NaN"),
        (X, y[:-1], "shape"),  # label count
        (X, y - 1, "0..K-1"),  # negative labels
        (X, y + 0.5, "0..K-1"),  # not integers
        (X, 2 * y, "missing \\[1\\]"),  # labels {0, 2}: class 1 missing
        (X, np.zeros_like(y), "K >= 2"),  # one class
        (X.astype(str), y, "must be a numeric"),
    ]
    for Xb, yb, match in bad:
        with pytest.raises(ValueError, match=match):
            train_classifier(Xb, yb, model=m, epochs=1, **FAST)
    for kwargs in (dict(test_fraction=0.0), dict(test_fraction=1.0), dict(epochs=0), dict(budget="huge", epochs=None), dict(batch_size=0)):
        with pytest.raises(ValueError):
            train_classifier(X, y, model=m, **{"epochs": 1, **kwargs}, **FAST)
    with pytest.raises(ValueError, match="too few"):
        train_classifier(X[:2], np.array([0, 1]), model=m, epochs=1, **FAST)
    with pytest.raises(ValueError, match="nn.Module"):
        train_classifier(X, y, model="transformer", epochs=1, **FAST)
    with pytest.raises(ValueError, match="must return real"):
        train_classifier(X, y, model=MeanLinear(3, 5), epochs=1, **FAST)  # 5 logits for 2 classes


# --------------------------------------------------------------------------- forecaster
@pytest.mark.parametrize("T,context,horizon,f", [(100, 12, 3, 0.2), (144, 24, 12, 0.2), (50, 5, 1, 0.3)])
def test_chronological_windows_never_leak(T, context, horizon, f):
    train, test, cut = chronological_windows(T, context, horizon, f)
    span = np.arange(context + horizon)
    train_steps = set((train[:, None] + span).ravel().tolist())
    test_targets = set((test[:, None] + context + np.arange(horizon)).ravel().tolist())
    assert max(train_steps) < cut <= min(test_targets) and max(test_targets) == T - 1
    assert train_steps.isdisjoint(test_targets)
    assert test.min() >= 0 and train.min() == 0
    assert len(train) == cut - context - horizon + 1  # every window that fits before the cut
    assert T - cut == max(horizon, round(f * T))


def test_forecaster_training_ignores_the_test_period():
    """Changing the series after the cut leaves the trained weights bit-identical."""
    t = np.arange(120.0)
    s = np.sin(2 * np.pi * t / 12) + 0.01 * t
    _, _, cut = chronological_windows(120, 24, 6, 0.2)
    fits = []
    for tail in (0.0, 50.0):
        s2 = s.copy()
        s2[cut:] += tail
        torch.manual_seed(0)
        fits.append(train_forecaster(s2, 6, context=24, model=LastStep(24, 1, 6), epochs=3, **FAST))
    for p, q in zip(fits[0].model.parameters(), fits[1].model.parameters()):
        assert torch.equal(p, q)
    assert fits[1].test["mse"] > fits[0].test["mse"]  # only the test metrics see the change


def test_seasonal_naive_is_exact_on_a_periodic_series():
    P = 12
    s = np.tile(np.random.default_rng(0).normal(size=P), 12)  # pure period P
    fit = train_forecaster(s, 6, context=2 * P, season=P, model=LastStep(2 * P, 1, 6), epochs=2, **FAST)
    assert fit.test["seasonal_naive_mse"] == 0.0
    assert fit.test["last_value_mse"] > 0.1


def test_baselines_on_a_ramp_match_hand_computation():
    """y_t = t: last value errs by h at step h, MSE = (H+1)(2H+1)/6; seasonal naive errs by P
    when H <= P, MSE = P^2; a ridge on the context is nearly exact on a line."""
    H, P = 4, 5
    fit = train_forecaster(np.arange(80.0), H, context=10, season=P, model=LastStep(10, 1, H), epochs=1, **FAST)
    assert fit.test["last_value_mse"] == pytest.approx((H + 1) * (2 * H + 1) / 6)
    assert fit.test["seasonal_naive_mse"] == pytest.approx(P**2)
    assert fit.test["linear_mse"] < 0.05 * fit.test["last_value_mse"]


def test_seasonal_naive_and_last_value_closed_forms():
    c = np.arange(10.0).reshape(1, 10, 1)
    np.testing.assert_array_equal(seasonal_naive(c, 7, 3)[0, :, 0], [7, 8, 9, 7, 8, 9, 7])
    np.testing.assert_array_equal(last_value(c, 3)[0, :, 0], [9, 9, 9])
    with pytest.raises(ValueError):
        seasonal_naive(c, 2, 11)


def test_forecaster_history_multichannel_and_model_output_shapes():
    rng = np.random.default_rng(0)
    s = np.cumsum(rng.normal(size=(90, 2)), axis=0)
    fit = train_forecaster(s, 3, context=8, model=lambda f, out: LastStep(8, f, out), epochs=3, **FAST)
    assert set(fit.history) == {"train_loss", "test_loss", "seconds"} and all(len(v) == 3 for v in fit.history.values())
    assert fit.test["seasonal_naive_mse"] is None and fit.test["mse"] > 0 and fit.test["mae"] > 0
    assert fit.n_params == 8 * 2 * 6 + 6
    real = train_forecaster(s, 3, context=8, model=lambda f, out: RealTransformer(f, 8, 2, 1, out), epochs=1, **FAST)
    assert np.isfinite(real.test["mse"])


def test_forecaster_bad_input_raises():
    s = np.sin(np.arange(60.0))
    m = LastStep(8, 1, 2)
    bad = [
        (dict(series=s.reshape(2, 3, 10)), "real \\(T,\\)"),  # rank 3
        (dict(series=np.where(np.arange(60) == 30, np.nan, s)), "NaN"),
        (dict(series=s * 1j), "real \\(T,\\)"),  # complex
        (dict(series=s[:12]), "too short"),  # too short for its windows
        (dict(season=12), "season"),  # season > context
        (dict(horizon=0), "horizon"),
    ]
    for kwargs, match in bad:
        args = {"series": s, "horizon": 2, "context": 8, "model": m, "epochs": 1, **FAST, **kwargs}
        with pytest.raises(ValueError, match=match):
            train_forecaster(args.pop("series"), args.pop("horizon"), **args)
    with pytest.raises(ValueError, match="must return real"):
        train_forecaster(s, 2, context=8, model=LastStep(8, 1, 3), epochs=1, **FAST)
