"""cvkan.seeds_together: seeds trained in one vectorized step equal seeds trained one by one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.models import CVKAN
from spectral_manifolds.cvkan.seeds_together import seeds_speed, train_classifier_seeds
from spectral_manifolds.cvkan.train import train_classifier
from spectral_manifolds.data.polarization import make_polarization


@pytest.fixture(scope="module")
def data():
    return make_polarization(96, 48, n_tokens=8, d=8, seed=3)


def small(in_features, n_classes):
    return CVKAN(8, n_classes, n_blocks=2, hidden=16)


def test_together_equals_one_at_a_time(data):
    kw = dict(X_test=data.z_test, y_test=data.y_test, epochs=2, batch_size=32, device="cpu", progress=False)
    together = train_classifier_seeds(data.z_train, data.y_train, model=small, seeds=[0, 5], **kw)
    for fit, seed in zip(together, [0, 5]):
        alone = train_classifier(data.z_train, data.y_train, model=small, seed=seed, **kw)
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            np.testing.assert_allclose(fit.history[key], alone.history[key], rtol=2e-4, atol=2e-5)
        for (name, p), q in zip(fit.model.named_parameters(), alone.model.parameters()):
            torch.testing.assert_close(p, q, rtol=2e-4, atol=2e-5, msg=name)
        assert fit.n_params == alone.n_params and fit.info["seed"] == seed


def test_seeds_differ_and_bad_input(data):
    kw = dict(X_test=data.z_test, y_test=data.y_test, epochs=1, batch_size=32, device="cpu", progress=False)
    a, b = train_classifier_seeds(data.z_train, data.y_train, model=small, seeds=[1, 2], **kw)
    assert not torch.equal(next(a.model.parameters()), next(b.model.parameters()))
    with pytest.raises(ValueError, match="distinct"):
        train_classifier_seeds(data.z_train, data.y_train, model=small, seeds=[1, 1], **kw)
    with pytest.raises(ValueError, match="callable"):
        train_classifier_seeds(data.z_train, data.y_train, model=small(8, 2), seeds=[1], **kw)
    with pytest.raises(ValueError, match="must match"):
        train_classifier_seeds(data.z_train, data.y_train, model=small, seeds=[1], **{**kw, "X_test": data.z_test[:, :4]})


def test_speed_reports_a_ratio_of_the_two_ways(data):
    out = seeds_speed(data.z_train, data.y_train, model=small, seeds=[0, 1], X_test=data.z_test, y_test=data.y_test, epochs=1, batch_size=32, device="cpu")
    assert out["n_seeds"] == 2 and out["steps_per_seed"] == 3
    assert out["speedup"] == pytest.approx(out["one_at_a_time_s"] / out["together_s"])
    assert out["seed_steps_per_s_together"] == pytest.approx(6 / out["together_s"])
