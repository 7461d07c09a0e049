"""Chapter 0's claim at the quick budget: both frameworks learn the warm-up target."""

from __future__ import annotations

import pytest

from spectral_manifolds.experiments.warmup import WarmupConfig, run_jax, run_torch, target_data

CONFIG = WarmupConfig(width=32, n_points=256, batch=64, steps=300)


@pytest.mark.parametrize("run", [run_torch, run_jax], ids=["torch", "jax"])
def test_warmup_learns(run):
    result = run(CONFIG)
    assert len(result.losses) == CONFIG.steps
    assert result.final_mse < result.initial_mse / 10
    assert result.steps_per_second > 0


def test_warmup_is_reproducible():
    a, b = run_jax(CONFIG), run_jax(CONFIG)
    assert a.losses == b.losses


def test_target_data_shapes_and_range():
    x, y = target_data(100, seed=3)
    assert x.shape == y.shape == (100, 1)
    assert x.min() >= -3.1416 and x.max() <= 3.1416


@pytest.mark.parametrize("kwargs", [dict(steps=0), dict(batch=1024, n_points=512), dict(width=-1)])
def test_config_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError):
        WarmupConfig(**kwargs)
