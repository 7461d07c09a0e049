"""Chapter 12's runs: which aggregation inside the blocks, which pooling before the head
(issue 8, Part III, "3. Aggregation and pooling").

Seed 003_65b12435998d9bd4.txt makes three claims that this module re-tests:

* "2026-01-20 Attention Pooling Marginally Better for Classification": mean against
  attention pooling, 3 epochs: CIFAR-10 46.8 % -> 48.2 % (+1.4 points), Speech Commands
  29.7 % -> 30.5 % (+0.8), ETTh1 0.92 -> 0.92 MSE (:data:`SEED_POOLING`). One run each.
* "Aggregation Strategy Paradox": "attention-based aggregation consistently outperforms
  mean aggregation"; can the parameter-free magnitude-weighted mean close the gap, and
  does the attention benefit shrink with more polarization layers?
* Its hypothesis: "mean aggregation may be 'too noisy' -- if only 10 % of tokens carry
  signal, the aggregate is 90 % noise".

Data: the synthetic task of :mod:`spectral_manifolds.data.polarization` with ``N = 20``
tokens and 2 signal tokens (10 %, the seed's figure), ``sigma = 0.5``, with and without a
random common phase per sample (:data:`TASKS`); and a sweep of the signal fraction at a
*fixed mean-field signal*: the expected ``mean_n z`` of a positive sample is
``f exp(-sigma^2 / 2)`` in every channel (``E e^{i phi} = e^{-sigma^2/2}`` for
``phi ~ N(0, sigma)``), so :func:`matched_sigma` widens the signal phases as the fraction
``f`` grows and keeps that level at the 10 % task's. Only how the signal is spread over the
tokens changes: a few strong tokens or many weak ones, the question the hypothesis asks.

Models (:class:`Spec`): the flat CVKAN (d = 32, hidden 128, centre norm, the seed-style
head) with each pooling (mean aggregation, 3 blocks), each aggregation (mean pooling,
1 and 3 blocks; causal and window at 3 blocks on the first task), and the baselines at the 3-block model's
parameter count (+-5 %): **Z0 (no head norm)** (no block, widened head without its
LayerNorm, the floor of chapter 11) and **R** (a real Transformer encoder); and the
logistic regressions on ``mean(Z)`` (65 and 33 parameters). Seed ``s`` draws the data and
initializes every model, so models pair by seed. Tables and verdicts:
:mod:`spectral_manifolds.experiments.cvkan_aggregation_tables`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

from spectral_manifolds import report, runtime, validate
from spectral_manifolds.cvkan.aggregation import AGGREGATIONS
from spectral_manifolds.cvkan.baselines import RealTransformer, width_for_params
from spectral_manifolds.cvkan.models import CVKAN, POOLINGS, n_parameters
from spectral_manifolds.cvkan.train import train_classifier
from spectral_manifolds.data.polarization import logistic_on_mean, make_polarization
from spectral_manifolds.experiments.cvkan_norms import ACCURACY_MARGIN, LOGISTICS, NormsResult

__all__ = [
    "SEED_POOLING", "ACCURACY_MARGIN", "LOGISTICS", "Z0", "R", "BASELINES", "Task", "TASKS", "Spec", "POOLING_SPECS",
    "AGGREGATION_SPECS", "PER_TOKEN_SPECS", "FRACTION_SPECS", "mean_field", "matched_sigma", "AggregationConfig",
    "AggregationResult", "build", "baseline_widths", "plan", "lookahead", "run",
]

# seed 003's pooling table: domain -> (mean pooling, attention pooling, unit)
SEED_POOLING = {"Image (CIFAR-10)": (46.8, 48.2, "% accuracy"), "Audio (Speech Commands)": (29.7, 30.5, "% accuracy"),
                "Timeseries (ETTh1)": (0.92, 0.92, "MSE")}
Z0, R = "Z0 (no head norm)", "R (real Transformer)"
BASELINES = (Z0, R)


@dataclass(frozen=True)
class Task:
    """``make_polarization(n_tokens=, n_signal=, sigma=, common_phase=)``; the name is built from them."""

    n_tokens: int = 20
    n_signal: int = 2
    sigma: float = 0.5
    common_phase: bool = False

    def __post_init__(self):
        validate.positive_int("n_tokens", self.n_tokens)
        validate.positive_int("n_signal", self.n_signal)
        if self.n_signal > self.n_tokens or not self.sigma >= 0:
            raise ValueError(f"need 1 <= n_signal <= n_tokens and sigma >= 0, got {self}")

    @property
    def fraction(self) -> float:
        return self.n_signal / self.n_tokens

    @property
    def name(self) -> str:
        return f"N={self.n_tokens}, {self.n_signal} signal ({self.fraction:.0%}), σ={self.sigma:.2f}" + (", common phase" if self.common_phase else "")


TASKS = (Task(), Task(common_phase=True))


@dataclass(frozen=True)
class Spec:
    """One CVKAN of the chapter: its blocks' aggregation, its pooling and its depth."""

    aggregation: str = "mean"
    pooling: str = "mean"
    n_blocks: int = 3

    def __post_init__(self):
        validate.choice("aggregation", self.aggregation, AGGREGATIONS)
        validate.choice("pooling", self.pooling, POOLINGS)
        validate.positive_int("n_blocks", self.n_blocks)

    @property
    def name(self) -> str:
        return f"agg={self.aggregation}, pool={self.pooling}, L={self.n_blocks}"


POOLING_SPECS = tuple(Spec(pooling=p) for p in ("mean", "magnitude", "attention"))
AGGREGATION_SPECS = tuple(Spec(aggregation=a, n_blocks=n) for n in (1, 3) for a in ("mean", "magnitude", "attention"))
PER_TOKEN_SPECS = (Spec(aggregation="causal"), Spec(aggregation="window"))
FRACTION_SPECS = tuple(Spec(aggregation=a) for a in ("mean", "magnitude", "attention"))


def mean_field(fraction: float, sigma: float) -> float:
    """``E[mean_n z_c]`` of a positive sample: ``f exp(-sigma^2 / 2)`` (noise tokens average to 0)."""
    if not 0 < fraction <= 1 or not sigma >= 0:
        raise ValueError(f"need 0 < fraction <= 1 and sigma >= 0, got {fraction}, {sigma}")
    return fraction * math.exp(-sigma * sigma / 2)


def matched_sigma(fraction: float, level: float) -> float:
    """The ``sigma`` with ``mean_field(fraction, sigma) == level``: ``sqrt(2 ln(f / level))``."""
    if not 0 < level <= fraction <= 1:
        raise ValueError(f"need 0 < level <= fraction <= 1 (a mean field above f cannot be reached), got level={level}, fraction={fraction}")
    return math.sqrt(2.0 * math.log(fraction / level))


@dataclass(frozen=True)
class AggregationConfig:
    """Sizes of the chapter's runs; :meth:`for_budget` is the one place they depend on the budget.

    ``fractions`` are realised on ``tasks[0]``'s ``N`` as ``round(f N)`` signal tokens, with
    ``sigma`` from :func:`matched_sigma` at the level of ``tasks[0]`` (a fraction task equal
    to a main task shares its runs).
    """

    n_train: int = 640
    n_test: int = 400
    epochs: int = 3
    batch_size: int = 64
    n_seeds: int = 3
    tasks: tuple = TASKS
    fractions: tuple = (0.1, 0.25, 0.5)
    d: int = 32
    hidden: int = 128
    lr: float = 1e-3
    baseline_heads: int = 4
    baseline_layers: int = 1
    with_baselines: bool = True

    def __post_init__(self):
        for name in ("n_train", "n_test", "epochs", "batch_size", "d", "hidden", "baseline_heads", "baseline_layers"):
            validate.positive_int(name, getattr(self, name))
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for a paired verdict, got {self.n_seeds}")
        if not self.tasks or not all(isinstance(t, Task) for t in self.tasks):
            raise ValueError(f"tasks must be a non-empty tuple of Task, got {self.tasks!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        self.fraction_tasks()  # validates the fractions

    def fraction_tasks(self) -> tuple:
        """The sweep: one :class:`Task` per fraction, the mean field held at ``tasks[0]``'s."""
        base = self.tasks[0]
        level = mean_field(base.fraction, base.sigma)
        out = []
        for f in self.fractions:
            k = int(round(f * base.n_tokens))
            if not 1 <= k <= base.n_tokens:
                raise ValueError(f"fraction {f} gives {k} signal tokens of {base.n_tokens}")
            sigma = base.sigma if k == base.n_signal else matched_sigma(k / base.n_tokens, level)
            out.append(Task(base.n_tokens, k, sigma, False))
        return tuple(out)

    @classmethod
    def for_budget(cls, budget: str | None = None) -> "AggregationConfig":
        """quick: CI on two CPU cores (3 seeds, 640 + 400 samples, the seed's 3 epochs);
        full: one GPU, 5 seeds, 5,000 + 2,000 samples, 4 epochs (about 150 fits of 160 steps)."""
        quick = cls()
        full = cls(n_train=5000, n_test=2000, epochs=4, batch_size=128, n_seeds=5)
        return runtime.sized(quick=quick, full=full, budget_name=budget)


class AggregationResult(NormsResult):
    """Every run: ``runs`` holds one dict per (task, model, seed) with keys task, model, seed,
    n_params, accuracy (test, after ``epochs``, a fraction), test_acc (per epoch; None for the
    logistics). ``config`` also holds the baselines' widths, the tasks' names and sigmas.
    ``values(task, model, metric)`` gives per-seed values ordered by seed."""


def lookahead(norm: str, *, n_tokens: int = 8, d: int = 4, n_blocks: int = 2, seed: int = 0) -> float:
    """How far a causal stack looks ahead: ``max |Z_L[:, :-1] (Z') - Z_L[:, :-1] (Z)|`` (float64),
    where ``Z'`` changes only the last token of a random ``Z`` and ``Z_L`` are the token states
    after ``n_blocks`` causal blocks, each followed by ``norm``. 0 means no token sees the future."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = CVKAN(d, 2, n_blocks=n_blocks, hidden=16, aggregation="causal", norm=norm).double()
    z = torch.polar(torch.rand(1, n_tokens, d, generator=gen, dtype=torch.float64) + 0.5, 6.3 * torch.rand(1, n_tokens, d, generator=gen, dtype=torch.float64))
    z2 = z.clone()
    z2[:, -1] = 3.0 * z2[:, -1] * 1j
    with torch.no_grad():
        a, b = model.tokens(z)[-1], model.tokens(z2)[-1]
    return float((a[:, :-1] - b[:, :-1]).abs().max())


def _width(build_w, target: int, hi: int) -> int:
    return width_for_params(build_w, target, 1, hi, tol=0.05)


def build(cfg: AggregationConfig, name: str, widths: dict | None = None):
    """The module called ``name`` (a :attr:`Spec.name`, :data:`Z0` or :data:`R`) for 2 classes.

    ``widths``: ``{"Z0": head width, "R": per-head width}`` (from :func:`baseline_widths`).
    """
    for spec in (*POOLING_SPECS, *AGGREGATION_SPECS, *PER_TOKEN_SPECS):
        if spec.name == name:
            return CVKAN(cfg.d, 2, n_blocks=spec.n_blocks, hidden=cfg.hidden, aggregation=spec.aggregation, pooling=spec.pooling)
    widths = baseline_widths(cfg) if widths is None else widths
    if name == Z0:
        return CVKAN(cfg.d, 2, n_blocks=0, head_hidden=widths["Z0"], head_norm=False)
    if name == R:
        h = cfg.baseline_heads
        return RealTransformer(cfg.d, h * widths["R"], h, cfg.baseline_layers, 2, complex_input=True)
    raise ValueError(f"unknown model {name!r}")


def baseline_widths(cfg: AggregationConfig) -> dict:
    """Widths that give Z0 and R the parameter count of the 3-block mean/mean CVKAN, +-5 %."""
    target = n_parameters(build(cfg, Spec().name, {}))
    h = cfg.baseline_heads
    return {"Z0": _width(lambda w: CVKAN(cfg.d, 2, n_blocks=0, head_hidden=w, head_norm=False), target, 4 * target),
            "R": _width(lambda w: RealTransformer(cfg.d, h * w, h, cfg.baseline_layers, 2, complex_input=True), target, 512)}


def plan(cfg: AggregationConfig) -> dict:
    """``{task: [model names]}``: poolings, aggregations at both depths and baselines on the main
    tasks (causal and window on ``tasks[0]`` only), the fraction models on the sweep."""
    main = [s.name for s in (*POOLING_SPECS, *AGGREGATION_SPECS)] + (list(BASELINES) if cfg.with_baselines else [])
    out = {t: list(dict.fromkeys(main + ([s.name for s in PER_TOKEN_SPECS] if i == 0 else []))) for i, t in enumerate(cfg.tasks)}
    for t in cfg.fraction_tasks():
        out.setdefault(t, [s.name for s in FRACTION_SPECS])
    return out


def _run_task_seed(cfg: AggregationConfig, task: Task, seed: int, names: list, widths: dict) -> list[dict]:
    data = make_polarization(cfg.n_train, cfg.n_test, n_tokens=task.n_tokens, d=cfg.d, n_signal=task.n_signal, sigma=task.sigma,
                             common_phase=task.common_phase, seed=seed)
    out = []
    for name in names:
        # built inside train_classifier, after it seeds torch, so that the initialization is reproducible
        fit = train_classifier(data.z_train, data.y_train, X_test=data.z_test, y_test=data.y_test, model=lambda f, k, name=name: build(cfg, name, widths),
                               seed=seed, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False)
        acc = [float(a) for a in fit.history["test_acc"]]
        out.append({"task": task.name, "model": name, "seed": seed, "n_params": fit.n_params, "accuracy": acc[-1], "test_acc": acc})
    for name, features in LOGISTICS.items():
        lf = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features=features)
        out.append({"task": task.name, "model": name, "seed": seed, "n_params": lf.n_params, "accuracy": lf.accuracy, "test_acc": None})
    return out


def run(cfg: AggregationConfig | None = None, *, progress: bool = True) -> AggregationResult:
    """Every task x seed x model of :func:`plan` (default config: the active budget's); one progress bar."""
    cfg = AggregationConfig.for_budget() if cfg is None else cfg
    t0 = time.perf_counter()
    widths = baseline_widths(cfg) if cfg.with_baselines else {}
    jobs = [(task, names, seed) for task, names in plan(cfg).items() for seed in report.seeds_for(cfg.n_seeds)]
    bar = runtime.progress(jobs, desc="tasks x seeds", disable=not progress)
    runs = [row for task, names, seed in bar for row in _run_task_seed(cfg, task, seed, names, widths)]
    bar.close()
    config = {**dataclasses.asdict(cfg), "baseline_widths": widths, "device": str(runtime.torch_device()),
              "task_names": [t.name for t in cfg.tasks], "fraction_task_names": [t.name for t in cfg.fraction_tasks()],
              "fraction_sigmas": [t.sigma for t in cfg.fraction_tasks()], "fraction_values": [t.fraction for t in cfg.fraction_tasks()]}
    return AggregationResult(config, runs, time.perf_counter() - t0)
