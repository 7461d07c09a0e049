"""JAX set-up, run by ``import spectral_manifolds`` before any module imports JAX
(:func:`configure_jax`; every name here is re-exported by :mod:`spectral_manifolds.runtime`):

* a **persistent compilation cache** under the user's cache folder
  (``~/.cache/spectral_manifolds/jax``; ``SM_JAX_CACHE=<dir>`` moves it,
  ``SM_JAX_CACHE=off`` turns it off), so a re-run of a chapter loads its compiled steps
  instead of compiling them again; :func:`spectral_manifolds.runtime.describe` reports it and
  :func:`no_compile_cache` measures a first compile with it off;
* a **guard against a CPU deadlock**: on machines with at most
  :data:`SMALL_CPU_CORES` cores, ``XLA_FLAGS`` gains
  ``--xla_cpu_multi_thread_eigen=false``. Outside this project, training steps like
  Chapter 7's deadlocked in XLA's CPU thread pool with jax 0.11.2 on a 2-core machine
  without it (6 of 6 runs). On the H200 host, restricted to 2 cores with ``taskset``,
  jax 0.11.2 did not hang in 2 of 2 runs without the flag, and the quick ladder run
  took 17.5 s with it against 18.7 s without (2 runs each): the guard costs nothing
  measurable, so it stays on. The flag only touches the CPU backend;
  ``SM_CPU_GUARD=off`` disables it. It does **not** stop jaxlib's batched LAPACK
  kernels (SVD, LU, triangular solve) from splitting a large batch over the thread
  pool (measured here: with the flag the pool's two threads still did about 40 % of a
  batched SVD's work). Two such calls running at once on a 2-thread pool wait for each
  other forever; CI hung that way in ``block_until_ready`` (jaxlib 0.10.2, three SVDs
  in the ladder's metrics). The code therefore keeps batched LAPACK calls in sequence
  (``spectral_manifolds.alignment``, the ladder's train step).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys

__all__ = ["SMALL_CPU_CORES", "CPU_GUARD_FLAG", "compile_cache_dir", "usable_cores", "cpu_guard_wanted",
           "configure_jax", "no_compile_cache"]

SMALL_CPU_CORES = 4
CPU_GUARD_FLAG = "--xla_cpu_multi_thread_eigen=false"


def compile_cache_dir() -> str | None:
    """Where JAX's persistent compilation cache lives (None when ``SM_JAX_CACHE=off``)."""
    value = os.environ.get("SM_JAX_CACHE", "").strip()
    if value.lower() in ("off", "0", "false", "none"):
        return None
    if value:
        return str(pathlib.Path(value).expanduser())
    base = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return str(pathlib.Path(base) / "spectral_manifolds" / "jax")


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_guard_wanted(cores: int | None = None) -> bool:
    """True when the CPU-deadlock guard should be on: a small CPU and not switched off."""
    if os.environ.get("SM_CPU_GUARD", "").strip().lower() in ("off", "0", "false"):
        return False
    cores = usable_cores() if cores is None else cores
    return cores <= SMALL_CPU_CORES


def configure_jax(environ: dict | None = None, cores: int | None = None) -> dict:
    """Set JAX's cache and the CPU guard in ``environ`` (default ``os.environ``).

    Called once by ``import spectral_manifolds``; environment variables the user already
    set win. When JAX is already imported the cache is set through ``jax.config``; the
    XLA flag then only applies if no backend has started yet.

    Returns:
        ``{"compile_cache": dir or None, "cpu_guard": bool}``.
    """
    env = os.environ if environ is None else environ
    cache = compile_cache_dir()
    if cache is not None:
        env.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
        if environ is None and "jax" in sys.modules:
            sys.modules["jax"].config.update("jax_compilation_cache_dir", env["JAX_COMPILATION_CACHE_DIR"])
    guard = cpu_guard_wanted(cores)
    flags = env.get("XLA_FLAGS", "")
    if guard and "xla_cpu_multi_thread_eigen" not in flags:
        env["XLA_FLAGS"] = (flags + " " + CPU_GUARD_FLAG).strip()
    return {"compile_cache": env.get("JAX_COMPILATION_CACHE_DIR") if cache else None, "cpu_guard": CPU_GUARD_FLAG in env.get("XLA_FLAGS", "")}


@contextlib.contextmanager
def no_compile_cache():
    """Inside this block JAX neither reads nor writes its persistent cache, so a compile
    measured here is a first compile."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    before = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()  # JAX decides once per process whether the cache is used
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", before)
        compilation_cache.reset_cache()
