"""runtime: budget parsing, seeding, timing, the JIT notice."""

from __future__ import annotations

import numpy as np
import pytest

from spectral_manifolds import runtime


@pytest.mark.parametrize("value,expected", [("quick", "quick"), ("full", "full"), (" FULL ", "full")])
def test_budget_from_env(monkeypatch, value, expected):
    monkeypatch.setenv("SM_BUDGET", value)
    assert runtime.budget() == expected


def test_unknown_budget_names_allowed_values(monkeypatch):
    monkeypatch.setenv("SM_BUDGET", "medium")
    with pytest.raises(ValueError, match=r"'quick', 'full'"):
        runtime.budget()


def test_default_budget_follows_hardware(monkeypatch):
    monkeypatch.delenv("SM_BUDGET", raising=False)
    assert runtime.budget() == ("full" if runtime.accelerator_visible() else "quick")


def test_sized_picks_by_budget(monkeypatch):
    monkeypatch.setenv("SM_BUDGET", "quick")
    assert runtime.sized(quick=1, full=2) == 1
    monkeypatch.setenv("SM_BUDGET", "full")
    assert runtime.sized(quick=1, full=2) == 2


def test_seed_everything_repeats_numpy_torch_and_jax():
    import jax
    import torch

    key_a = runtime.seed_everything(7)
    a = (np.random.rand(4), torch.rand(4), jax.random.normal(key_a, (4,)))
    key_b = runtime.seed_everything(7)
    b = (np.random.rand(4), torch.rand(4), jax.random.normal(key_b, (4,)))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    np.testing.assert_array_equal(np.asarray(a[2]), np.asarray(b[2]))
    c = np.random.rand(4)
    assert not np.array_equal(a[0], c)


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        runtime.seed_everything(bad)


def test_timer_measures_elapsed_time():
    import time

    with runtime.Timer() as t:
        time.sleep(0.02)
    assert t.seconds >= 0.02


def test_compile_with_notice_prints_and_matches_eager(capsys):
    import jax
    import jax.numpy as jnp

    def f(x):
        return jnp.sin(x) * 2.0

    x = jnp.linspace(0.0, 1.0, 8)
    compiled = runtime.compile_with_notice(jax.jit(f), x, name="f")
    out = capsys.readouterr().out
    assert "Compiling f" in out and "Compiled f in" in out
    assert compiled.compile_seconds >= 0.0
    np.testing.assert_allclose(np.asarray(compiled(x)), np.asarray(f(x)), rtol=1e-6)


def test_compile_with_notice_rejects_plain_functions():
    with pytest.raises(TypeError):
        runtime.compile_with_notice(lambda x: x, 1.0)


def test_progress_iterates_everything():
    assert list(runtime.progress(range(5), disable=True)) == list(range(5))


def test_describe_reports_budget(monkeypatch, capsys):
    monkeypatch.setenv("SM_BUDGET", "quick")
    info = runtime.describe()
    assert info["budget"] == "quick" and "jax_backend" in info and "torch_device" in info
    assert "budget" in capsys.readouterr().out
