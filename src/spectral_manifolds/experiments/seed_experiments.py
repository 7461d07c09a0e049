"""What the seeds ran, what they reported, and verdicts on our re-runs (chapter 7).

Seed 001_a78d46c299591382.txt reports, on the seeds' task (DESIGN.md, "The seeds'
experimental setup"):

* section 13 -- the debug ablation of seed 002_808d64c66db33027.txt, Patches A-E
  (:data:`PATCHES`), on the ablation task (64 steps, latent 16, two harmonics, no noise);
* sections 12 and 14 -- the full model with random and with zero-initialized dynamics;
* experiments 7-11 (sections 7-11) and 12 (section 12) on the main task.

Each is a :class:`SeedRun`: our :class:`~spectral_manifolds.experiments.ladder.Config`
for it at the seeds' sizes, the seed's numbers (quoted, labelled as the seed's), and
its claims (:class:`Claim`), each a comparison our runs can test.

**Verdict rule** (:func:`verdict`). A seed run's claims are checked on our runs (means
over the random seeds run): every claim holds -> ``"reproduced"``; none holds -> ``"not
reproduced"``; some hold -> ``"different"``, and the failing claims are the reason.
Claims are orderings and directions of change (``"falls"``: last epoch below the
first; ``"does not fall"``: last epoch above the first minus a tolerance; ``"flat"``:
relative change within a tolerance; ``"below"``: one value below another), never our
runs' exact numbers, so a verdict means the same at every budget.

Assumptions where the seed is silent (each stated in the chapter):

* experiments 7-12 and section 12 ran before the zero-init fix of section 13, so their
  dynamics are randomly initialized; section 14 is section 12 with zero init;
* the RVAE's latent scale is initialized as in the seeds' code (``sigma_init=None``:
  ``sigma`` near ``softplus(0)``), not at the book's 0.05;
* the phase term entered the fidelity loss in experiment 9 (weight 0.5) and was raised
  to 1.0 in experiment 10: weight 0 before;
* the magnitude-based entropy of experiment 7 stays through experiment 11; sections 12
  and 14 use the power-based one (the seeds' public code);
* experiment 8's decorrelation weight is 1.0 (the seed gives none); experiment 11's
  rotation reads the endpoints context of experiment 10;
* the seeds' "Spectral Loss" of sections 12-14 and experiments 7-12 is the optimized
  objective (their code printed it); in section 13 "Spec" is the fidelity loss alone
  and "Loss" = MSE + Spec;
* oracle distances of experiments 7-9 were centred (section 10 removed the centring).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from spectral_manifolds import runtime
from spectral_manifolds.experiments.ladder import ABLATION_TASK, MAIN_TASK, Config, Result, Scale, run

__all__ = [
    "Claim",
    "SeedRun",
    "PATCHES",
    "SECTION_14",
    "EXPERIMENTS",
    "ALL_RUNS",
    "runs_for",
    "run_all",
    "mean_curve",
    "our_last",
    "seed_last",
    "sampling_table",
    "check",
    "verdict",
    "patch_table",
    "section14_table",
    "experiment_table",
    "claims_table",
    "calibration_table",
    "format_table",
    "TOLERANCE_ORACLE",
    "TOLERANCE_FLAT",
]

#: "does not fall" for oracle distances: the last epoch above the first minus this (about
#: 2% of the seeds' 0.25 level).
TOLERANCE_ORACLE = 0.005
#: "flat" ("stagnated"): relative change between first and last epoch within 5%.
TOLERANCE_FLAT = 0.05


# --------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Claim:
    """One testable statement of a seed, about our runs' epoch means.

    Attributes:
        text: the seed's statement, in short.
        kind: ``"falls"`` / ``"rises"`` (last epoch vs first), ``"monotone"`` (every epoch
            below the one before), ``"not_falls"`` (last > first - ``tol``), ``"flat"``
            (``|last - first| <= tol * |first|``), ``"below"`` (this run's ``metric`` at
            ``epoch`` below ``other``'s ``other_metric`` at ``other_epoch``).
        run: the key of the run it is about; metric: a :data:`ladder.METRICS` name.
        other, other_metric, epoch, other_epoch: for ``"below"`` (epochs: -1 = last).
        tol: for ``"not_falls"`` (absolute) and ``"flat"`` (relative).
    """

    text: str
    kind: str
    run: str
    metric: str
    other: Optional[str] = None
    other_metric: Optional[str] = None
    epoch: int = -1
    other_epoch: int = -1
    tol: float = 0.0

    def __post_init__(self):
        if self.kind not in ("falls", "rises", "monotone", "not_falls", "flat", "below"):
            raise ValueError(f"unknown claim kind {self.kind!r}")
        if self.kind == "below" and self.other is None:
            raise ValueError("a 'below' claim needs another run (other)")


@dataclass(frozen=True)
class SeedRun:
    """A run the seeds reported, with our configuration for it and the seed's numbers.

    Attributes:
        key: short name ("A", "E zero init", "14", "7", ...).
        title: what was run.
        source: where the seed reports it.
        config: our :class:`Config` at the seeds' sizes.
        seed: the seed's numbers, ``{our metric: {epoch: value}}``.
        labels: ``{our metric: the seed's name for it}``.
        claims: the seed's claims about it.
        ablation: on the ablation task (section 13) rather than the main task.
    """

    key: str
    title: str
    source: str
    config: Config
    seed: Mapping[str, Mapping[int, float]]
    labels: Mapping[str, str]
    claims: Sequence[Claim] = ()
    ablation: bool = False


# --------------------------------------------------------------------------- section 13
def _patch(name: str, **kw) -> Config:
    return Config(name=name, task=ABLATION_TASK, n_batches=15, **kw)


_PATCH_LABELS = {"pred_mse": "MSE", "fidelity": "Spec", "objective": "Loss"}

#: Seed 001, section 13: Patches A-E of seed 002 (numbers quoted from the seed).
PATCHES: dict[str, SeedRun] = {
    r.key: r
    for r in (
        SeedRun(
            "A", "Euclidean latent, identity dynamics, MSE", "seed 001 §13 / seed 002 §1",
            _patch("A", encoder="euclidean", dynamics="identity", loss="mse"),
            {"pred_mse": {1: 0.5400, 2: 0.2470, 3: 0.0816, 4: 0.0190, 5: 0.0071}},
            _PATCH_LABELS,
            (Claim("MSE falls in every epoch", "monotone", "A", "pred_mse"),),
            ablation=True,
        ),
        SeedRun(
            "B", "Euclidean latent, identity dynamics, spectral loss", "seed 001 §13 / seed 002 §2.1",
            _patch("B", encoder="euclidean", dynamics="identity", loss="spectral"),
            {"fidelity": {1: 1.7536, 2: 1.4256, 3: 1.2084, 4: 1.0417, 5: 0.9560}},
            _PATCH_LABELS,
            (Claim("spectral loss falls in every epoch", "monotone", "B", "fidelity"),),
            ablation=True,
        ),
        SeedRun(
            "C", "spherical latent, identity dynamics, MSE + spectral", "seed 001 §13 / seed 002 §3",
            _patch("C", encoder="sphere", dynamics="identity", loss="mse+spectral"),
            {"objective": {1: 2.73, 5: 1.86}, "pred_mse": {1: 0.59, 5: 0.34}, "fidelity": {1: 2.14, 5: 1.52}},
            _PATCH_LABELS,
            (
                Claim("the loss falls (the model learns)", "falls", "C", "objective"),
                Claim("the sphere costs MSE: above Patch A's", "below", "A", "pred_mse", other="C", other_metric="pred_mse"),
                Claim("the sphere costs spectral fit: above Patch B's", "below", "B", "fidelity", other="C", other_metric="fidelity"),
            ),
            ablation=True,
        ),
        SeedRun(
            "D", "spherical latent, residual RNN cell, MSE + spectral", "seed 001 §13 / seed 002 §4",
            _patch("D", encoder="sphere", dynamics="residual", loss="mse+spectral"),
            {"objective": {5: 1.93}, "pred_mse": {5: 0.36}, "fidelity": {5: 1.57}},
            _PATCH_LABELS,
            (Claim("the residual cell is worse than identity (Patch C)", "below", "C", "objective", other="D", other_metric="objective"),),
            ablation=True,
        ),
        SeedRun(
            "E random init", "spherical latent, manifold dynamics (random init), MSE + spectral", "seed 001 §13 / seed 002 §7",
            _patch("E random init", encoder="sphere", dynamics="manifold", init="random", loss="mse+spectral"),
            {"objective": {5: 2.67}, "pred_mse": {5: 0.63}, "fidelity": {5: 2.03}},
            _PATCH_LABELS,
            (Claim("random dynamics are worse than identity (Patch C)", "below", "C", "objective", other="E random init", other_metric="objective"),),
            ablation=True,
        ),
        SeedRun(
            "E zero init", "spherical latent, manifold dynamics (zero init), MSE + spectral", "seed 001 §13 / seed 002 §7",
            _patch("E zero init", encoder="sphere", dynamics="manifold", init="zero", loss="mse+spectral"),
            {"objective": {5: 1.79}, "pred_mse": {5: 0.42}, "fidelity": {5: 1.37}},
            _PATCH_LABELS,
            (
                Claim("zero init beats random init (loss)", "below", "E zero init", "objective", other="E random init", other_metric="objective"),
                Claim("zero init beats random init (spectral)", "below", "E zero init", "fidelity", other="E random init", other_metric="fidelity"),
                Claim("beats identity (Patch C) on the loss", "below", "E zero init", "objective", other="C", other_metric="objective"),
                Claim("beats the residual cell (Patch D) on the loss", "below", "E zero init", "objective", other="D", other_metric="objective"),
                Claim("better spectral loss than identity (Patch C)", "below", "E zero init", "fidelity", other="C", other_metric="fidelity"),
            ),
            ablation=True,
        ),
    )
}

# --------------------------------------------------------------------------- sections 7-14
_MAIN_LABELS = {"objective": "Spectral Loss", "oracle": "Oracle Distance", "mse": "MSE (Tracking)"}
_CENTRED_LABELS = {"objective": "Spectral Loss", "oracle_centred": "Oracle Distance (centred)", "mse": "MSE (Tracking)"}


def _main(name: str, **kw) -> Config:
    kw.setdefault("init", "random")
    return Config(name=name, task=MAIN_TASK, n_batches=10, **kw)


def _no_fall(run: str, metric: str = "oracle") -> Claim:
    return Claim("the oracle distance does not fall", "not_falls", run, metric, tol=TOLERANCE_ORACLE)


#: Seed 001, section 14: section 12's run with zero-initialized dynamics.
SECTION_14 = SeedRun(
    "14", "full model, zero-initialized dynamics, spectral loss + entropy", "seed 001 §14",
    _main("14", init="zero"),
    {"objective": {1: 1.996, 5: 1.033}, "oracle": {1: 0.241, 5: 0.253}, "mse": {1: 1.27, 5: 2.07}},
    _MAIN_LABELS,
    (
        Claim("the spectral loss falls", "falls", "14", "objective"),
        Claim("zero init ends below random init (section 12)", "below", "14", "objective", other="12", other_metric="objective"),
        _no_fall("14"),
        Claim("MSE rises", "rises", "14", "mse"),
    ),
)

#: Seed 001, experiments 7-12 (and the control run for experiment 8's decorrelation).
EXPERIMENTS: dict[str, SeedRun] = {
    r.key: r
    for r in (
        SeedRun(
            "7", "dynamic Cayley rotation (mean context), magnitude entropy", "seed 001 §7",
            _main("7", epochs=3, rotation="mean", entropy="magnitude", phase_weight=0.0),
            {"objective": {1: 1.35, 2: 1.32, 3: 1.29}, "oracle_centred": {1: 0.226, 2: 0.243, 3: 0.244}, "mse": {1: 1.33, 2: 1.37, 3: 1.39}},
            _CENTRED_LABELS,
            (
                Claim("the spectral loss falls", "falls", "7", "objective"),
                _no_fall("7", "oracle_centred"),
                Claim("MSE rises", "rises", "7", "mse"),
            ),
        ),
        SeedRun(
            "8", "covariance context + decorrelation loss", "seed 001 §8",
            _main("8", rotation="covariance", entropy="magnitude", phase_weight=0.0, decorrelation_weight=1.0),
            {"objective": {5: 1.16}, "oracle_centred": {1: 0.215, 5: 0.237}},
            _CENTRED_LABELS,
            (
                Claim("the oracle distance rises", "rises", "8", "oracle_centred"),
                Claim("the spectral loss stagnates", "flat", "8", "objective", tol=TOLERANCE_FLAT),
                Claim("decorrelation hurts: the oracle distance ends above the control without it", "below", "8 control", "oracle_centred", other="8", other_metric="oracle_centred"),
            ),
        ),
        SeedRun(
            "8 control", "experiment 8 without the decorrelation loss (ours, a control)", "(not in the seed)",
            _main("8 control", rotation="covariance", entropy="magnitude", phase_weight=0.0),
            {},
            _CENTRED_LABELS,
            (),
        ),
        SeedRun(
            "9", "phase-aware fidelity loss (phase weight 0.5), velocity context", "seed 001 §9",
            _main("9", epochs=3, rotation="velocity", entropy="magnitude", phase_weight=0.5),
            {"objective": {3: 1.35}, "oracle_centred": {3: 0.205}},
            _CENTRED_LABELS,
            (
                Claim("lowest oracle distance yet: below experiment 7's", "below", "9", "oracle_centred", other="7", other_metric="oracle_centred"),
                Claim("lowest oracle distance yet: below experiment 8's", "below", "9", "oracle_centred", other="8", other_metric="oracle_centred"),
                Claim("a harder loss: the spectral loss ends above experiment 7's", "below", "7", "objective", other="9", other_metric="objective"),
            ),
        ),
        SeedRun(
            "10", "endpoints context, phase weight 1.0, uncentred oracle distance", "seed 001 §10",
            _main("10", rotation="endpoints", entropy="magnitude", phase_weight=1.0),
            {"objective": {1: 2.14, 5: 1.19}, "oracle": {5: 0.248}, "mse": {1: 1.35, 5: 2.00}},
            _MAIN_LABELS,
            (
                Claim("the spectral loss falls", "falls", "10", "objective"),
                Claim("the uncentred distance is the stricter: above the centred one", "below", "10", "oracle_centred", other="10", other_metric="oracle"),
                _no_fall("10"),
                Claim("MSE rises", "rises", "10", "mse"),
            ),
        ),
        SeedRun(
            "11", "direct oracle supervision (MSE, weight 1) with the dynamic rotation", "seed 001 §11",
            _main("11", rotation="endpoints", entropy="magnitude", phase_weight=1.0, oracle_weight=1.0, ortho_weight=0.1),
            {
                "objective": {1: 2.30, 2: 2.12, 3: 1.86, 4: 1.59, 5: 1.39},
                "oracle": {1: 0.251, 2: 0.251, 3: 0.249, 4: 0.252, 5: 0.250},
                "mse": {1: 1.36, 2: 1.42, 3: 1.51, 4: 1.69, 5: 1.83},
            },
            _MAIN_LABELS,
            (
                _no_fall("11"),
                Claim("the spectral loss falls", "falls", "11", "objective"),
                Claim("MSE rises", "rises", "11", "mse"),
            ),
        ),
        SeedRun(
            "12", "spectral loss + entropy only (random init)", "seed 001 §12",
            _main("12"),
            {
                "objective": {1: 2.14, 2: 2.00, 3: 1.89, 4: 1.76, 5: 1.61},
                "oracle": {1: 0.242, 2: 0.250, 3: 0.250, 4: 0.251, 5: 0.250},
                "mse": {1: 1.31, 2: 1.35, 3: 1.38, 4: 1.43, 5: 1.51},
            },
            _MAIN_LABELS,
            (
                Claim("the spectral loss falls", "falls", "12", "objective"),
                _no_fall("12"),
                Claim("MSE rises", "rises", "12", "mse"),
            ),
        ),
    )
}

#: Every run, ablation task first (one compile per task).
ALL_RUNS: dict[str, SeedRun] = {**PATCHES, SECTION_14.key: SECTION_14, **EXPERIMENTS}


# --------------------------------------------------------------------------- running
def runs_for(scale: Scale, keys: Optional[Sequence[str]] = None, seeds: Optional[int] = None) -> list[Config]:
    """Our configurations for the seed runs ``keys`` (default: all), resized by ``scale``,
    one per random seed ``0 .. seeds-1`` (default ``scale.seeds``; named ``"<key>"`` or
    ``"<key> #<seed>"``)."""
    keys = list(ALL_RUNS) if keys is None else list(keys)
    seeds = scale.seeds if seeds is None else seeds
    out = []
    for key in keys:
        r = ALL_RUNS[key]
        cfg = scale.apply(r.config, ablation=r.ablation)
        for s in range(seeds):
            out.append(dataclasses.replace(cfg, seed=s, name=key if seeds == 1 else f"{key} #{s}"))
    return out


def run_all(scale: Scale, keys: Optional[Sequence[str]] = None, seeds: Optional[int] = None, *, progress: bool = True) -> dict[str, list[Result]]:
    """Run the seed runs ``keys`` (default: all) at ``scale``, ``seeds`` random seeds each
    (default ``scale.seeds``). Runs on one task share one compiled train step.

    Returns:
        key -> list of :class:`Result`, one per seed.
    """
    seeds = scale.seeds if seeds is None else seeds
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    keys = list(ALL_RUNS) if keys is None else list(keys)
    unknown = [k for k in keys if k not in ALL_RUNS]
    if unknown:
        raise KeyError(f"unknown seed runs {unknown}; known: {list(ALL_RUNS)}")
    configs = runs_for(scale, keys, seeds)
    it = runtime.progress(configs, desc="seed runs", unit="run") if progress else configs
    out: dict[str, list[Result]] = {k: [] for k in keys}
    for cfg in it:
        out[cfg.name.split(" #")[0]].append(run(cfg, progress=False))
    return out


# --------------------------------------------------------------------------- verdicts
def mean_curve(results: Sequence[Result], metric: str) -> np.ndarray:
    """(epochs + 1,) mean over seeds of ``history[metric]`` (index 0 = before training)."""
    return np.mean([r.history[metric] for r in results], axis=0)


def our_last(results: Mapping[str, Sequence[Result]], key: str, metric: str) -> float:
    """Our last-epoch value of ``metric`` for run ``key``, mean over seeds."""
    return float(mean_curve(results[key], metric)[-1])


def seed_last(key: str, metric: str) -> Optional[float]:
    """The seed's number for ``metric`` at the last epoch it reports for run ``key`` (None if none)."""
    s = ALL_RUNS[key].seed.get(metric, {})
    return float(s[max(s)]) if s else None


def _value(results: Mapping[str, Sequence[Result]], run: str, metric: str, epoch: int) -> float:
    curve = mean_curve(results[run], metric)
    return float(curve[epoch])


def check(claim: Claim, results: Mapping[str, Sequence[Result]]) -> tuple[bool, str]:
    """Test ``claim`` on ``results`` (key -> results per seed); returns (holds, what we measured)."""
    c = claim
    if c.kind == "below":
        a = _value(results, c.run, c.metric, c.epoch)
        b = _value(results, c.other, c.other_metric or c.metric, c.other_epoch)
        return a < b, f"{c.run} {c.metric} {a:.4g} vs {c.other} {c.other_metric or c.metric} {b:.4g}"
    curve = mean_curve(results[c.run], c.metric)[1:]  # epochs 1..N
    first, last = float(curve[0]), float(curve[-1])
    seen = f"{c.metric} {first:.4g} -> {last:.4g}"
    if c.kind == "falls":
        return last < first, seen
    if c.kind == "rises":
        return last > first, seen
    if c.kind == "not_falls":
        return last > first - c.tol, seen
    if c.kind == "flat":
        return abs(last - first) <= c.tol * abs(first), seen
    steps = np.diff(curve)  # monotone
    return bool(curve.size > 1 and np.all(steps < 0)), "per epoch " + ", ".join(f"{v:.4g}" for v in curve)


def verdict(seed_run: SeedRun, results: Mapping[str, Sequence[Result]]) -> tuple[str, list[str]]:
    """The module docstring's rule: ``("reproduced" | "not reproduced" | "different", reasons)``.

    ``reasons`` lists each failing claim with what we measured (empty when reproduced);
    a run without claims (a control) gets ``("(control)", [])``.
    """
    if not seed_run.claims:
        return "(control)", []
    checks = [(c, *check(c, results)) for c in seed_run.claims]
    failing = [f"{c.text}: not so ({seen})" for c, ok, seen in checks if not ok]
    if not failing:
        return "reproduced", []
    if len(failing) == len(checks):
        return "not reproduced", failing
    return "different", failing


# --------------------------------------------------------------------------- tables
def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f"{v:.4g}"


def _seed_span(seed: Mapping[int, float]) -> str:
    if not seed:
        return "-"
    epochs = sorted(seed)
    if len(epochs) == 1:
        return f"{_fmt(seed[epochs[0]])} (ep {epochs[0]})"
    return f"{_fmt(seed[epochs[0]])} -> {_fmt(seed[epochs[-1]])}"


def _our_span(curve: np.ndarray) -> str:
    return f"{_fmt(curve[1])} -> {_fmt(curve[-1])}"


def patch_table(results: Mapping[str, Sequence[Result]]) -> list[dict]:
    """One row per patch: the seed's last-epoch MSE, spectral and loss beside ours, and the verdict."""
    rows = []
    for key, sr in PATCHES.items():
        if key not in results:
            continue
        row = {"patch": key, "what": sr.title}
        for metric, label in (("pred_mse", "MSE"), ("fidelity", "spectral"), ("objective", "loss")):
            s = sr.seed.get(metric, {})
            row[f"seed {label}"] = _fmt(s[max(s)]) if s else "-"
            row[f"our {label}"] = _fmt(mean_curve(results[key], metric)[-1])
        row["verdict"] = verdict(sr, results)[0]
        rows.append(row)
    return rows


def section14_table(results: Mapping[str, Sequence[Result]], keys: Sequence[str] = ("12", "14")) -> list[dict]:
    """Seed vs ours at the first and last epoch, per metric, for sections 12 and 14."""
    rows = []
    for key in keys:
        sr = ALL_RUNS[key]
        for metric, label in sr.labels.items():
            s = sr.seed.get(metric, {})
            curve = mean_curve(results[key], metric)
            rows.append(
                {
                    "run": f"§{key}" if key in ("12", "14") else key,
                    "metric": label,
                    "seed epoch 1": _fmt(s.get(1)),
                    "seed last": _fmt(s[max(s)]) if s else "-",
                    "our epoch 1": _fmt(curve[1]),
                    "our last": _fmt(curve[-1]),
                }
            )
    return rows


def experiment_table(results: Mapping[str, Sequence[Result]], keys: Optional[Sequence[str]] = None) -> list[dict]:
    """One row per experiment: the seed's figures (first -> last epoch), ours, the verdict."""
    keys = [k for k in (keys or EXPERIMENTS) if k in results]
    rows = []
    for key in keys:
        sr = ALL_RUNS[key]
        seed_fig = "; ".join(f"{label} {_seed_span(sr.seed[m])}" for m, label in sr.labels.items() if m in sr.seed)
        ours = "; ".join(f"{label} {_our_span(mean_curve(results[key], m))}" for m, label in sr.labels.items())
        rows.append({"exp.": key, "what": sr.title, "seed": seed_fig or "-", "ours": ours, "verdict": verdict(sr, results)[0]})
    return rows


def claims_table(results: Mapping[str, Sequence[Result]], keys: Optional[Sequence[str]] = None) -> list[dict]:
    """Every claim of the runs ``keys`` (default: all present), whether it holds, and what we measured."""
    keys = [k for k in (keys or ALL_RUNS) if k in results]
    rows = []
    for key in keys:
        for c in ALL_RUNS[key].claims:
            try:
                ok, seen = check(c, results)
            except KeyError as missing:
                ok, seen = None, f"needs run {missing}"
            rows.append({"run": key, "seed's claim": c.text, "holds": {True: "yes", False: "no", None: "-"}[ok], "we measured": seen})
    return rows


def sampling_table(results: Mapping[str, Sequence[Result]], random_level: float, keys: Optional[Sequence[str]] = None) -> list[dict]:
    """Last-epoch oracle distance of the sampled latent (the seeds' measurement) and of the mean.

    Args:
        results: key -> results per seed.
        random_level: the oracle distance of a random unit latent on the same task.
        keys: runs (default: every main-task run present).
    Returns:
        rows: run, oracle (sample z), oracle (mean mu), whether mu scores lower, and
        whether z lies within 0.02 of the random level.
    """
    keys = [k for k in (keys or ALL_RUNS) if k in results and not ALL_RUNS[k].ablation]
    rows = []
    for key in keys:
        z, mu = our_last(results, key, "oracle"), our_last(results, key, "oracle_mu")
        rows.append({
            "run": key,
            "oracle (sample z)": z,
            "oracle (mean mu)": mu,
            "mu below z": "yes" if mu < z else "no",
            "z within 0.02 of random": "yes" if abs(z - random_level) < 0.02 else "no",
        })
    return rows


def calibration_table(task, n_samples: int = 64, seed: int = 0) -> list[dict]:
    """The oracle-distance scale on ``task`` (chapter 6's :func:`~spectral_manifolds.experiments.alignment.calibrate`).

    Rows: case, DESIGN.md's value (main task only), ours uncentred and centred.
    """
    from spectral_manifolds.experiments.alignment import SEED_CALIBRATION, CalibrationConfig, calibrate

    cfg = CalibrationConfig(task=dataclasses.replace(task, n_samples=n_samples, batch=n_samples), seed=seed)
    main = task.latent_dim == MAIN_TASK.latent_dim and task.n_active == MAIN_TASK.n_active
    rows = []
    for r in calibrate(cfg).rows:
        if r["case"] == "oracle":
            continue
        rows.append(
            {
                "reference latent": r["case"],
                "DESIGN.md": _fmt(SEED_CALIBRATION.get(r["case"])) if main else "-",
                "ours": r["uncentred"],
                "ours, centred": r["centred"],
            }
        )
    return rows


def format_table(rows: Sequence[dict], floatfmt: str = ".4g") -> str:
    """A plain-text table of ``rows`` (dicts with the same keys), for printing."""
    from spectral_manifolds.experiments.manifoldformer import format_table as _format

    return _format(rows, floatfmt)
