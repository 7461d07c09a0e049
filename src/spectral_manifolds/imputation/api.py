"""``fit_impute``: one entry point for every imputation method of the benchmark (issue 10, item 4).

>>> import numpy as np
>>> from spectral_manifolds.imputation import fit_impute
>>> fit_impute(np.array([1.0, np.nan, 3.0]), method="linear")
array([1., 2., 3.])

Every method is registered here (:data:`METHODS`, :data:`CAUSAL`): the classical ones
and the learned ones of :mod:`.learned` (GRU, bidirectional GRU) and
:mod:`.pypots_methods` (SAITS, BRITS) and :mod:`.manifoldformer_method` (the
ManifoldFormer's latent rollout, causal, and its forward + backward pair), which also
take ``seed`` and ``budget``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from spectral_manifolds import validate
from spectral_manifolds.imputation import classical, harmonic, learned, manifoldformer_method, pypots_methods, statespace

__all__ = ["Method", "METHODS", "CAUSAL", "BIDIRECTIONAL", "fit_impute", "min_observed"]


@dataclass(frozen=True)
class Method:
    """A registered imputer.

    Attributes:
        fn: ``fn(x: (T,) or (T, C), **options) -> filled copy``.
        causal: True when a fill uses only the past.
        min_observed: ``options -> fewest observations per channel the method needs``.
        required: option names without which it cannot run (e.g. STL's period).

    A ``fn`` with ``seed`` / ``budget`` parameters (the learned methods) gets
    ``fit_impute``'s; they are not options.
    """

    fn: Callable[..., np.ndarray]
    causal: bool
    min_observed: Callable[[dict], int]
    required: tuple[str, ...] = ()

    @property
    def options(self) -> tuple[str, ...]:
        params = list(inspect.signature(inspect.unwrap(self.fn)).parameters)
        return tuple(p for p in params[1:] if p not in _RUN_ARGS)

    @property
    def run_args(self) -> tuple[str, ...]:
        """Which of ``seed`` / ``budget`` ``fn`` takes."""
        return tuple(p for p in inspect.signature(inspect.unwrap(self.fn)).parameters if p in _RUN_ARGS)


_RUN_ARGS = ("seed", "budget")


def _ss_min(o: dict) -> int:
    return 10 + 2 * statespace.n_states(o.get("period"), o.get("harmonics", 2), o.get("ar", 1), o.get("trend", True))


def _sin_min(o: dict) -> int:
    if o.get("frequencies") is not None:
        k = len(np.atleast_1d(o["frequencies"]))
    elif o.get("period") is not None:
        k = int(o.get("harmonics", 1))
    else:
        k = int(o.get("n_frequencies", 3))
    return int(o.get("degree", 1)) + 2 + 3 * k


_REGISTRY: dict[str, Method] = {
    "locf": Method(classical.locf, True, lambda o: 1),
    "kalman": Method(statespace.kalman, True, _ss_min),
    "gru": Method(learned.gru, True, lambda o: learned.MIN_OBSERVED),
    "manifoldformer": Method(manifoldformer_method.manifoldformer, True, lambda o: learned.MIN_OBSERVED),
    "linear": Method(classical.linear, False, lambda o: 2),
    "pchip": Method(classical.pchip, False, lambda o: 2),
    "spline": Method(classical.spline, False, lambda o: 4),
    "stl_linear": Method(classical.stl_linear, False, lambda o: 2 * int(round(o["period"])), ("period",)),
    "state_space": Method(statespace.state_space, False, _ss_min),
    "sinusoid": Method(harmonic.sinusoid, False, _sin_min),
    "bigru": Method(learned.bigru, False, lambda o: learned.MIN_OBSERVED),
    "saits": Method(pypots_methods.saits, False, lambda o: learned.MIN_OBSERVED),
    "brits": Method(pypots_methods.brits, False, lambda o: learned.MIN_OBSERVED),
    "manifoldformer_bidir": Method(manifoldformer_method.manifoldformer_bidir, False, lambda o: learned.MIN_OBSERVED),
}

#: Every method name ``fit_impute`` accepts, causal ones first.
METHODS: tuple[str, ...] = tuple(_REGISTRY)
CAUSAL: tuple[str, ...] = tuple(n for n, m in _REGISTRY.items() if m.causal)
BIDIRECTIONAL: tuple[str, ...] = tuple(n for n, m in _REGISTRY.items() if not m.causal)


def min_observed(method: str, **options: Any) -> int:
    """The fewest observed entries per channel ``method`` needs with these options."""
    validate.choice("method", method, METHODS)
    return int(_REGISTRY[method].min_observed(options))


def _check_series(series: Any) -> np.ndarray:
    x = np.asarray(series)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"series must be a real numeric array, got dtype {x.dtype}")
    if x.ndim not in (1, 2):
        raise ValueError(f"series must have shape (T,) or (T, C), got shape {x.shape}")
    if x.shape[0] < 1 or (x.ndim == 2 and x.shape[1] < 1):
        raise ValueError(f"series is empty, got shape {x.shape}")
    x = x.astype(np.float64)
    if np.isinf(x).any():
        raise ValueError(f"series holds {int(np.isinf(x).sum())} infinite entries; mark missing entries with NaN")
    counts = np.sum(~np.isnan(x if x.ndim == 2 else x[:, None]), axis=0)
    if np.any(counts == 0):
        which = "the series is" if x.ndim == 1 else f"channel(s) {np.flatnonzero(counts == 0).tolist()} are"
        raise ValueError(f"{which} all missing: nothing to impute from")
    return x


def fit_impute(series: Any, method: str = "linear", *, seed: int = 0, budget: str | None = None, **options: Any) -> np.ndarray:
    """Fill the NaN of ``series`` with ``method``; return a new array, ``series`` untouched.

    Args:
        series: (T,) or (T, C) real array, NaN for missing entries (no inf).
        method: one of :data:`METHODS` -- causal: 'locf', 'kalman', 'gru',
            'manifoldformer'; bidirectional: 'linear', 'pchip', 'spline', 'stl_linear'
            (needs ``period``), 'state_space', 'sinusoid', 'bigru', 'saits', 'brits',
            'manifoldformer_bidir'. The classical methods impute channels
            independently, the learned ones model them jointly.
        seed: for methods that draw random numbers (the learned ones: weights, batches,
            artificial masks; the classical ones are deterministic).
        budget: 'quick' or 'full' for learned methods (unused by the classical ones;
            None: ``runtime``'s default).
        **options: the method's own keyword options (see its docstring), e.g.
            ``period=52.18, harmonics=3`` for 'state_space'; an unknown one is an error.

    Returns:
        (T,) or (T, C) float64, every NaN filled and every observed entry unchanged
        (float32 input gives float32 output).

    Raises:
        ValueError: wrong rank, non-numeric or empty input, infinite entries, an
            all-missing series or channel, fewer observations than the method needs,
            an unknown method or option.
    """
    validate.choice("method", method, METHODS)
    if budget is not None:
        validate.choice("budget", budget, ("quick", "full"))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    spec = _REGISTRY[method]
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method {method!r}; it accepts {list(spec.options)}")
    missing = [r for r in spec.required if options.get(r) is None]
    if missing:
        raise ValueError(f"method {method!r} needs the option(s) {missing}")
    if "period" in options and options["period"] is not None and method == "stl_linear" and not float(options["period"]) >= 2:
        raise ValueError(f"period must be >= 2 steps, got {options['period']!r}")
    in_dtype = np.asarray(series).dtype
    x = _check_series(series)
    if method == "stl_linear" and x.shape[0] < 2 * int(round(options["period"])):
        raise ValueError(f"stl_linear needs at least two periods ({2 * int(round(options['period']))} steps), got T = {x.shape[0]}")
    need = spec.min_observed(options)
    counts = np.sum(~np.isnan(x if x.ndim == 2 else x[:, None]), axis=0)
    if np.any(counts < need):
        raise ValueError(f"method {method!r} needs at least {need} observed entries per channel, got {int(counts.min())}")
    run = {"seed": int(seed), "budget": budget}
    filled = spec.fn(x, **options, **{k: run[k] for k in spec.run_args})
    return filled.astype(np.float32) if in_dtype == np.float32 else filled
