"""The evidence standard as code: seeds, mean ± std, paired verdicts, rendered tables.

DESIGN.md, "The evidence standard": every comparison behind a verdict runs several
seeds (≥ 5 at the full budget, ≥ 3 at quick), reports mean ± std, and decides from the
*paired* differences. This module is framework-agnostic (numpy, scipy, pandas only) and
is the one place a verdict is computed.

**The rule** (:data:`RULE`, stated once in every chapter that decides something).
For a claim "A beats B" on a metric, seed ``i`` gives the paired difference
``d_i = B_i - A_i`` (for a metric where lower is better; ``A_i - B_i`` where higher is
better), so ``d > 0`` favours the claim. With ``n`` seeds, the 95 % Student-t interval
of the mean difference is ``mean(d) ± t_{0.975, n-1} · std(d) / sqrt(n)``.

* interval entirely above ``+margin`` → **reproduced**;
* interval entirely below ``-margin`` → **not reproduced** (the opposite holds);
* otherwise → **inconclusive** (the difference is inside the seed-to-seed spread).

``margin`` (default 0) is an optional smallest difference that matters, in the metric's
units; a chapter that uses one states it. The t interval is used rather than a bootstrap
because with 3–5 seeds a percentile bootstrap is too narrow (it cannot be wider than
the observed range), while the t interval is exact for normal differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from spectral_manifolds import validate

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
CONFIDENCE = 0.95

RULE = (
    "Verdict rule (spectral_manifolds.report): for the claim 'A beats B', each seed gives a paired "
    "difference d = B - A (lower is better) or A - B (higher is better). If the 95 % Student-t "
    "interval of mean(d) lies above the margin the claim is *reproduced*; below minus the margin, "
    "*not reproduced* (the opposite holds); otherwise *inconclusive*."
)


# --------------------------------------------------------------------------- seeds
def seeds_for(n: int, start: int = 0) -> list[int]:
    """The seeds ``start, ..., start + n - 1``; ``n`` must be at least 2 for a spread."""
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"a verdict needs at least 2 seeds, got n={n!r}")
    return list(range(int(start), int(start) + int(n)))


def run_seeds(fn: Callable[[int], Any], seeds: Sequence[int], *, desc: str | None = None, progress: bool = True) -> list[Any]:
    """Call ``fn(seed)`` for every seed, in order, with one progress bar; return the results.

    Use it when seeds must run one at a time; a JAX experiment that trains its seeds
    together (``jax.vmap``) returns the per-seed values itself.
    """
    seeds = list(seeds)
    if not seeds:
        raise ValueError("run_seeds needs at least one seed")
    if progress:
        from spectral_manifolds.runtime import progress as bar

        seeds_iter = bar(seeds, desc=desc or "seeds", leave=False)
    else:
        seeds_iter = seeds
    return [fn(int(s)) for s in seeds_iter]


# --------------------------------------------------------------------------- summaries
def _values(values: Iterable[float], name: str = "values") -> np.ndarray:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds non-finite entries: {arr.tolist()}")
    return arr


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (ddof = 1) of one metric over seeds."""

    mean: float
    std: float
    n: int
    values: tuple[float, ...] = field(repr=False)

    def __str__(self) -> str:
        return mean_std(self)


def summarize(values: Iterable[float]) -> Summary:
    """Mean ± sample std of per-seed values (std is 0 for a single value)."""
    arr = _values(values)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return Summary(float(arr.mean()), std, int(arr.size), tuple(float(v) for v in arr))


def _digits(x: float, sig: int) -> int:
    """Decimal places that show ``sig`` significant figures of ``x``."""
    if x == 0 or not math.isfinite(x):
        return sig
    return max(0, sig - 1 - int(math.floor(math.log10(abs(x)))))


#: A spread below this fraction of the mean is float rounding: the mean is shown alone.
_NEGLIGIBLE = 1e-9


def _three_figures(x: float) -> str:
    return f"{x:.{_digits(x, 3)}g}" if abs(x) < 1e-3 else f"{x:.{_digits(x, 3)}f}"


def mean_std(s: Summary | Iterable[float], sig: int = 2) -> str:
    """'mean ± std' with the std to ``sig`` significant figures and the mean to match.

    >>> mean_std(summarize([1.0, 1.2, 1.1]))
    '1.10 ± 0.10'

    No spread, or one that is only float rounding (below 1e-9 of the mean), prints the
    mean alone, to three significant figures.
    """
    s = s if isinstance(s, Summary) else summarize(s)
    if s.n == 1 or s.std <= _NEGLIGIBLE * abs(s.mean):
        # one value, or values identical up to float rounding (a deterministic method over seeds)
        return _three_figures(s.mean)
    d = min(_digits(s.std, sig), 12)
    return f"{s.mean:.{d}f} ± {s.std:.{d}f}"


# --------------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class Comparison:
    """A paired comparison of A against B over the same seeds, and its verdict.

    ``diff`` is oriented so that a positive value favours A (the claim "A beats B").
    """

    a: Summary
    b: Summary
    diff: Summary
    low: float
    high: float
    margin: float
    lower_is_better: bool
    verdict: str

    @property
    def interval(self) -> str:
        """The 95 % interval as text, to two significant figures of its width
        (``[+0.0012]`` when every paired difference is the same)."""
        width = abs(self.high - self.low)
        if width == 0:
            return f"[{self.low:+.3g}]"
        d = min(_digits(width, 2), 12)
        return f"[{self.low:+.{d}f}, {self.high:+.{d}f}]"


def decide(low: float, high: float, margin: float = 0.0) -> str:
    """The verdict for a 95 % interval [low, high] of a difference that favours the claim."""
    if low > margin:
        return REPRODUCED
    if high < -margin:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def compare(a: Iterable[float], b: Iterable[float], *, lower_is_better: bool = True, margin: float = 0.0) -> Comparison:
    """Decide "A beats B" from per-seed values paired by seed (same order, same seeds).

    Args:
        a, b: (n,) per-seed metric values for the two settings; n ≥ 2.
        lower_is_better: True for losses and errors, False for accuracies.
        margin: smallest difference that matters, in the metric's units (≥ 0).

    Returns:
        A :class:`Comparison` whose ``verdict`` follows :data:`RULE`.
    """
    from scipy import stats

    a_arr, b_arr = _values(a, "a"), _values(b, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"paired values need equal lengths, got {a_arr.size} and {b_arr.size}")
    if a_arr.size < 2:
        raise ValueError("a paired verdict needs at least 2 seeds")
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be finite and >= 0, got {margin!r}")
    d = (b_arr - a_arr) if lower_is_better else (a_arr - b_arr)
    ds = summarize(d)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, ds.n - 1)) * ds.std / math.sqrt(ds.n)
    low, high = ds.mean - half, ds.mean + half
    return Comparison(summarize(a_arr), summarize(b_arr), ds, low, high, float(margin), lower_is_better, decide(low, high, margin))


# --------------------------------------------------------------------------- tables
def _round_sig(value: Any, sig: int) -> Any:
    """A float (not an int or bool) to ``sig`` significant figures; anything else unchanged."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return float(f"{float(value):.{sig}g}")
    return value


def table(rows: Sequence[Mapping[str, Any]], *, index: str | None = None, sig: int | None = 4):
    """A pandas DataFrame of ``rows`` (dicts with the same keys), rendered as HTML in the book.

    Floats stay numbers, rounded to ``sig`` significant figures (house style: numbers
    rounded to what they mean; ``sig=None`` keeps every digit); pass strings (e.g.
    :func:`mean_std`) for cells formatted otherwise.
    """
    import pandas as pd

    if not rows:
        raise ValueError("table needs at least one row")
    if sig is not None:
        validate.positive_int("sig", sig)
        rows = [{k: _round_sig(v, sig) for k, v in row.items()} for row in rows]
    df = pd.DataFrame(list(rows))
    if index is not None:
        df = df.set_index(index)
    return df


def verdict_row(claim: str, comparison: Comparison, *, seed_figure: Any = "—", a_name: str = "A", b_name: str = "B", metric: str = "") -> dict:
    """One row of a verdict table: the claim, the metric, the seed's own figure, ours for
    A and B as mean ± std, the paired difference with its 95 % interval, the verdict."""
    return {
        "claim": claim,
        "metric": metric,
        "seed's figure": seed_figure,
        "A (ours)": f"{a_name}: {mean_std(comparison.a)}",
        "B (ours)": f"{b_name}: {mean_std(comparison.b)}",
        "paired diff (95 % CI)": f"{mean_std(comparison.diff)} {comparison.interval}",
        "seeds": comparison.diff.n,
        "verdict": comparison.verdict,
    }


def verdict_table(rows: Sequence[Mapping[str, Any]]):
    """A DataFrame of :func:`verdict_row` rows, indexed by claim."""
    return table(rows, index="claim")


def summary_table(results: Mapping[str, Iterable[float]], *, metric: str = "value", seed_figures: Mapping[str, Any] | None = None):
    """A DataFrame with one row per setting: mean ± std over seeds (and the seed's figure)."""
    rows = []
    for name, values in results.items():
        s = summarize(values)
        row = {"setting": name, metric: mean_std(s), "seeds": s.n}
        if seed_figures is not None:
            row = {"setting": name, "seed's figure": seed_figures.get(name, "—"), **{k: v for k, v in row.items() if k != "setting"}}
        rows.append(row)
    return table(rows, index="setting")
