"""Chapter 0's claims at the quick budget: both frameworks train the *same* model and learn."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spectral_manifolds.experiments.warmup import WarmupConfig, init_params, run_jax, run_torch, target_data

CONFIG = WarmupConfig(width=32, n_points=256, batch=64, steps=300)


@pytest.fixture(scope="module")
def pair():
    return run_torch(CONFIG), run_jax(CONFIG)


def test_warmup_learns(pair):
    for result in pair:
        assert len(result.losses) == CONFIG.steps
        assert result.final_mse < result.initial_mse / 10
        assert result.steps_per_second > 0


def test_both_frameworks_start_from_the_same_model(pair):
    torch_result, jax_result = pair
    # same initial weights: the full-data MSE before training agrees to float32 rounding
    assert torch_result.initial_mse == pytest.approx(jax_result.initial_mse, rel=1e-5)
    # same batches, same Adam, same schedule: the first steps agree closely, the end within a few %
    np.testing.assert_allclose(torch_result.losses[:20], jax_result.losses[:20], rtol=1e-3)
    assert torch_result.final_mse == pytest.approx(jax_result.final_mse, rel=0.05)


def test_cosine_schedule_is_optax_and_torch():
    import optax
    import torch

    cfg = WarmupConfig(steps=50, lr=0.02, schedule="cosine")
    schedule = optax.cosine_decay_schedule(cfg.lr, decay_steps=cfg.steps)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    for step in range(cfg.steps):
        assert cfg.learning_rate(step) == pytest.approx(float(schedule(step)), rel=1e-5, abs=1e-9)
        assert cfg.learning_rate(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        sched.step()
    assert WarmupConfig().learning_rate(123) == 1e-2  # the default is constant


def test_init_follows_torch_default_rule():
    params = init_params(width=512, seed=0)
    assert [w.shape for w, _ in params] == [(1, 512), (512, 512), (512, 1)]
    for (w, b), fan_in in zip(params, (1, 512, 512)):
        bound = 1.0 / math.sqrt(fan_in)
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
        # uniform on [-bound, bound]: variance bound^2 / 3
        assert np.var(w) == pytest.approx(bound**2 / 3, rel=0.1 if w.size > 1000 else 0.6)


def test_tail_summaries(pair):
    for result in pair:
        tail = np.asarray(result.losses[-CONFIG.tail_steps :])
        assert result.tail_mean == pytest.approx(tail.mean())
        assert result.min_loss <= result.tail_mean <= result.tail_max
        assert result.min_loss == min(result.losses)


def test_warmup_is_reproducible():
    a, b = run_jax(CONFIG), run_jax(CONFIG)
    assert a.losses == b.losses


def test_target_data_shapes_and_range():
    x, y = target_data(100, seed=3)
    assert x.shape == y.shape == (100, 1)
    assert x.min() >= -3.1416 and x.max() <= 3.1416


@pytest.mark.parametrize(
    "kwargs",
    [dict(steps=0), dict(batch=1024, n_points=512), dict(width=-1), dict(schedule="linear"), dict(lr=0.0), dict(tail=0), dict(steps=10, tail=11)],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        WarmupConfig(**kwargs)
