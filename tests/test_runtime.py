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


@pytest.mark.parametrize("visible, expected", [(True, "full"), (False, "quick")])
def test_default_budget_follows_hardware(monkeypatch, visible, expected):
    monkeypatch.delenv("SM_BUDGET", raising=False)
    monkeypatch.setattr(runtime, "accelerator_visible", lambda: visible)
    assert runtime.budget() == expected


def test_explicit_budget_beats_hardware(monkeypatch):
    monkeypatch.setattr(runtime, "accelerator_visible", lambda: True)
    monkeypatch.setenv("SM_BUDGET", "quick")
    assert runtime.budget() == "quick"


def test_cpu_guard_on_small_machines_only(monkeypatch):
    monkeypatch.delenv("SM_CPU_GUARD", raising=False)
    env = {}
    assert runtime.configure_jax(env, cores=2)["cpu_guard"] and runtime.CPU_GUARD_FLAG in env["XLA_FLAGS"]
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    runtime.configure_jax(env, cores=2)
    assert env["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2 " + runtime.CPU_GUARD_FLAG
    env = {}
    assert not runtime.configure_jax(env, cores=16)["cpu_guard"] and "XLA_FLAGS" not in env
    env = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"}  # the user's own choice wins
    runtime.configure_jax(env, cores=2)
    assert env["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"
    monkeypatch.setenv("SM_CPU_GUARD", "off")
    assert not runtime.cpu_guard_wanted(cores=2)


def test_guard_is_set_before_jax_starts():
    """Importing the package (as every chapter does first) puts the flag in XLA_FLAGS
    of a fresh interpreter on a small machine before JAX reads it."""
    import subprocess
    import sys

    code = (
        "import os; os.sched_getaffinity = lambda pid: {0, 1}\n"
        "import spectral_manifolds, jax\n"
        "print(os.environ.get('XLA_FLAGS', ''))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("XLA_FLAGS", "SM_CPU_GUARD")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert runtime.CPU_GUARD_FLAG in out


def test_compile_cache_dir_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("SM_JAX_CACHE", str(tmp_path / "c"))
    assert runtime.compile_cache_dir() == str(tmp_path / "c")
    env = {}
    assert runtime.configure_jax(env, cores=16)["compile_cache"] == str(tmp_path / "c")
    assert env["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "c")
    monkeypatch.setenv("SM_JAX_CACHE", "off")
    assert runtime.compile_cache_dir() is None
    env = {}
    assert runtime.configure_jax(env, cores=16)["compile_cache"] is None and "JAX_COMPILATION_CACHE_DIR" not in env
    monkeypatch.delenv("SM_JAX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert runtime.compile_cache_dir() == str(tmp_path / "spectral_manifolds" / "jax")


def test_no_compile_cache_turns_the_cache_off_and_back():
    import jax.extend
    from jax._src import compilation_cache as cc  # what JAX consults before each compile

    backend = jax.extend.backend.get_backend()
    used_before = cc.is_cache_used(backend)
    with runtime.no_compile_cache():
        assert not cc.is_cache_used(backend)
    assert cc.is_cache_used(backend) == used_before


def test_sized_picks_by_budget(monkeypatch):
    monkeypatch.setenv("SM_BUDGET", "quick")
    assert runtime.sized(quick=1, full=2) == 1
    monkeypatch.setenv("SM_BUDGET", "full")
    assert runtime.sized(quick=1, full=2) == 2


def test_sized_takes_an_explicit_budget_name(monkeypatch):
    monkeypatch.setenv("SM_BUDGET", "quick")
    assert runtime.sized(quick=1, full=2, budget_name="full") == 2
    assert runtime.sized(quick=1, full=2, budget_name="quick") == 1
    with pytest.raises(ValueError, match="'quick', 'full'"):
        runtime.sized(quick=1, full=2, budget_name="medium")


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


@pytest.mark.parametrize("cores, device, inside", [(2, "cpu", 1), (16, "cpu", None), (2, "cuda", None)])
def test_torch_cpu_threads_only_on_a_small_cpu_and_restored(monkeypatch, cores, device, inside):
    import torch

    monkeypatch.setattr(runtime, "usable_cores", lambda: cores)
    monkeypatch.delenv("SM_CPU_GUARD", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with runtime.torch_cpu_threads(device):
            seen = torch.get_num_threads()
        assert seen == (2 if inside is None else inside)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_notice_starts_its_own_line_under_an_open_bar(capsys):
    bar = runtime.progress(range(3), mininterval=0.0)
    it = iter(bar)
    next(it), next(it)  # the bar has drawn "1/3" on a line with no newline at its end
    runtime.notice("Compiling g")
    bar.close()
    out = capsys.readouterr().out
    before = out.split("Compiling g")[0]
    # whatever precedes the message on its line has been erased ('\r' then spaces)
    assert before.rsplit("\r", 1)[-1].strip() == "" or before.endswith("\n")
    assert "Compiling g\n" in out


def test_notice_without_a_bar_is_a_plain_line(capsys):
    runtime.notice("hello")
    assert capsys.readouterr().out == "hello\n"


def test_progress_iterates_everything():
    assert list(runtime.progress(range(5), disable=True)) == list(range(5))


def test_describe_reports_budget(monkeypatch, capsys):
    monkeypatch.setenv("SM_BUDGET", "quick")
    info = runtime.describe()
    assert info["budget"] == "quick" and "jax_backend" in info and "torch_device" in info
    assert info["jax_compile_cache"] and info["xla_cpu_guard"] in ("on", "off")
    assert "budget" in capsys.readouterr().out
