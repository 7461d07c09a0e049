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
"""

from __future__ import annotations

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


def sized(*, quick: T, full: T) -> T:
    """Return ``quick`` or ``full`` according to :func:`budget`.

    The only place a chapter's sizes depend on the budget, e.g.
    ``cfg = sized(quick=Config(epochs=2), full=Config(epochs=50))``.
    """
    return full if budget() == "full" else quick


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
    print(f"Compiling {name} with JAX (first call; this can take a while)...", flush=True)
    with Timer() as t:
        compiled = jitted.lower(*example_args, **example_kwargs).compile()
    print(f"Compiled {name} in {t.seconds:.2f} s on {jax_backend()}.", flush=True)
    return CompiledFn(compiled, t.seconds, name)


# --------------------------------------------------------------------------- summary
def describe() -> dict:
    """Print and return where this chapter runs: budget, devices, library versions."""
    info: dict[str, Any] = {"budget": budget(), "python": platform.python_version(), "device": device_name()}
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
