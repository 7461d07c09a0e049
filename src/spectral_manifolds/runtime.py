"""Where and how big the book's code runs: device, budget, seeds, timing, progress, JIT notices.

Every chapter starts with ``runtime.describe()`` and takes its sizes from
``runtime.sized(quick=..., full=...)``; nothing else in the book reads ``SM_BUDGET``.

Budget (DESIGN.md, "Budgets"):

* ``quick`` -- a chapter executes in well under two minutes on two CPU cores (CI).
* ``full``  -- the published numbers, on one GPU.

``SM_BUDGET`` picks one explicitly; unset, the budget is ``full`` when torch or JAX
sees an accelerator and ``quick`` otherwise.

Seed 000, lesson 3: "JAX JIT compilation takes significant time ... Always inform the
user". :func:`compile_with_notice` prints a notice before the first compile and the
measured compile seconds after it.

JAX set-up (the persistent compilation cache and the CPU-deadlock guard, run by
``import spectral_manifolds`` before any module imports JAX) lives in
:mod:`spectral_manifolds.jax_setup`; its names are re-exported here.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

import numpy as np

BUDGETS = ("quick", "full")
T = TypeVar("T")
from spectral_manifolds.jax_setup import (  # noqa: F401  (re-exported: runtime is the book's one entry point)
    CPU_GUARD_FLAG,
    SMALL_CPU_CORES,
    compile_cache_dir,
    configure_jax,
    cpu_guard_wanted,
    no_compile_cache,
    usable_cores,
)


# --------------------------------------------------------------------------- devices
def torch_device():
    """The torch device the book trains on: cuda, else mps, else cpu."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def jax_backend() -> str:
    """JAX's default backend: 'gpu', 'tpu' or 'cpu'."""
    import jax

    return jax.default_backend()


def accelerator_visible() -> bool:
    """True when torch or JAX can see a GPU/TPU/MPS device."""
    try:
        if torch_device().type != "cpu":
            return True
    except ImportError:
        pass
    try:
        return jax_backend() != "cpu"
    except ImportError:
        return False


def device_name() -> str:
    """A human-readable accelerator name (e.g. 'NVIDIA H100 80GB HBM3'), else the CPU's."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        import jax

        dev = jax.devices()[0]
        if dev.platform != "cpu":
            return getattr(dev, "device_kind", str(dev))
    except ImportError:
        pass
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {os.cpu_count()} cores)"


# --------------------------------------------------------------------------- budget
def budget() -> str:
    """The active budget, 'quick' or 'full' (from ``SM_BUDGET``, else from the hardware).

    Raises:
        ValueError: when ``SM_BUDGET`` holds anything but 'quick' or 'full'.
    """
    value = os.environ.get("SM_BUDGET", "").strip().lower()
    if not value:
        return "full" if accelerator_visible() else "quick"
    if value not in BUDGETS:
        raise ValueError(
            f"SM_BUDGET={os.environ['SM_BUDGET']!r} is not a budget; "
            f"allowed values are {', '.join(repr(b) for b in BUDGETS)} (or unset)."
        )
    return value


def sized(*, quick: T, full: T, budget_name: str | None = None) -> T:
    """Return ``quick`` or ``full`` according to ``budget_name`` (default: :func:`budget`).

    The only place a chapter's sizes depend on the budget, e.g.
    ``cfg = sized(quick=Config(epochs=2), full=Config(epochs=50))``; a config's
    ``for_budget(budget)`` passes an explicit name through.

    Raises:
        ValueError: for a name that is not one of :data:`BUDGETS`.
    """
    if budget_name is None:
        budget_name = budget()
    elif budget_name not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget_name!r}")
    return full if budget_name == "full" else quick


# --------------------------------------------------------------------------- seeds
def seed_everything(seed: int = 0):
    """Seed Python, numpy and torch; return a JAX PRNG key made from the same seed.

    Returns:
        A ``jax.random.key(seed)`` (or ``None`` when JAX is not installed).
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    try:
        import torch

        torch.manual_seed(int(seed))
    except ImportError:
        pass
    try:
        import jax

        return jax.random.key(int(seed))
    except ImportError:
        return None


# --------------------------------------------------------------------------- timing
class Timer:
    """Wall-clock timer; a context manager whose ``seconds`` holds the elapsed time.

    >>> with Timer() as t:
    ...     _ = sum(range(10))
    >>> t.seconds >= 0
    True
    """

    def __init__(self) -> None:
        self.start: float | None = None
        self.seconds: float = 0.0

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start


def block(tree: Any) -> Any:
    """Wait for every JAX array (or CUDA kernel) in ``tree``; returns ``tree``."""
    try:
        import jax

        tree = jax.block_until_ready(tree)
    except ImportError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    except ImportError:
        pass
    return tree


# --------------------------------------------------------------------------- torch threads
@contextlib.contextmanager
def torch_cpu_threads(device=None):
    """One torch intra-op thread while training on a small CPU; the setting is restored after.

    Part III's models are small and launch-bound: on a shared 2-core machine two intra-op
    threads made a 3-epoch quick run 10-50x slower than one (measured while writing
    chapters 10 and 11). Applies on the same machines as the JAX guard
    (:func:`cpu_guard_wanted`: at most ``SMALL_CPU_CORES`` usable cores, ``SM_CPU_GUARD``
    not ``off``) and only when ``device`` (default :func:`torch_device`) is the CPU.
    """
    import torch

    device = torch_device() if device is None else torch.device(device)
    if device.type != "cpu" or not cpu_guard_wanted(usable_cores()):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- progress
def progress(iterable: Iterable[T] | None = None, **kwargs: Any):
    """A ``tqdm.auto`` progress bar (a widget in Jupyter when ipywidgets is present,
    text otherwise). Keyword arguments go to tqdm."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm warns when ipywidgets is absent
        from tqdm.auto import tqdm

    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("file", sys.stdout)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


# --------------------------------------------------------------------------- JIT notice
@dataclass
class CompiledFn:
    """A compiled JAX function and the seconds its compilation took."""

    fn: Callable
    compile_seconds: float
    name: str

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def compile_with_notice(jitted: Callable, *example_args: Any, name: str = "step", **example_kwargs: Any) -> CompiledFn:
    """Ahead-of-time compile a ``jax.jit`` function, telling the reader (seed 000, lesson 3).

    Prints a notice before compiling and the measured compile seconds after it, so a
    long first step is never mistaken for a hang.

    Args:
        jitted: a function wrapped by ``jax.jit``.
        example_args: arguments with the shapes and dtypes of the real calls.
        name: what to call it in the notice.

    Returns:
        A :class:`CompiledFn`; calling it runs the compiled executable.
    """
    if not hasattr(jitted, "lower"):
        raise TypeError(f"{name}: expected a jax.jit-wrapped function, got {type(jitted).__name__}")
    notice(f"Compiling {name} with JAX (first call; this can take a while)...")
    with Timer() as t:
        compiled = jitted.lower(*example_args, **example_kwargs).compile()
    notice(f"Compiled {name} in {t.seconds:.2f} s on {jax_backend()}.")
    return CompiledFn(compiled, t.seconds, name)


def notice(message: str) -> None:
    """Print one line for the reader; above the progress bar when one is open.

    A plain ``print`` while a text bar is drawn lands in the middle of the bar's line;
    ``tqdm.write`` clears the bar, prints the line and redraws the bar below it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    if getattr(tqdm, "_instances", None):
        tqdm.write(message, file=sys.stdout)
        sys.stdout.flush()
    else:
        print(message, flush=True)


# --------------------------------------------------------------------------- summary
def describe() -> dict:
    """Print and return where this chapter runs: budget, devices, library versions."""
    info: dict[str, Any] = {"budget": budget(), "python": platform.python_version(), "device": device_name()}
    info["jax_compile_cache"] = os.environ.get("JAX_COMPILATION_CACHE_DIR") or "off"
    info["xla_cpu_guard"] = "on" if CPU_GUARD_FLAG in os.environ.get("XLA_FLAGS", "") else "off"
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_device"] = str(torch_device())
    except ImportError:
        pass
    try:
        import jax

        info["jax"] = jax.__version__
        info["jax_backend"] = jax_backend()
    except ImportError:
        pass
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:>{width}} : {value}")
    return info
