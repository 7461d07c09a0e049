"""Chapter "The polarizing block": its exact properties and the flat stack trained on the
synthetic task (seed 003, "Hierarchical Polarization Validated" and "Open Research
Questions / Depth vs Width"; issue 8, Part III, chapter 1).

* :func:`broadcast_check` -- random tokens through a block of each version and
  aggregation: a broadcast aggregation adds one vector to every token, so ``Z_i - Z_j``
  is kept exactly, and a token grows where its phase lines up with that vector.
* :func:`mean_only_check` -- two inputs with the same ``mean(Z)``: identical logits for
  the flat mean/mean stack with ``norm="none"``, different ones with the seed's
  centre-magnitudes step. :func:`scale_check` -- ``Z -> a Z``: Z0, whose head starts
  with a LayerNorm, cannot see a common scale of ``|mean(Z)|``; :data:`Z0_FREE` (no
  head norm) can.
* :func:`run` -- trains on the same data per seed: the flat stack at several depths
  (profiling ``|z|`` layer by layer on positive test samples), Z0, Z0 without head norm,
  R and C at the flat model's parameter count (±5 %), and the logistic regressions on ``mean(Z)``, on the
  seed's task and on its random-common-phase variant; on the variant also width against
  depth at that parameter count. :func:`amplification_rows` and :func:`comparison_rows`
  turn a result into verdict rows (``report.compare``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.cvkan import (
    AGGREGATIONS, CVKAN, VERSIONS, ComplexTransformer, PolarizingBlock, RealTransformer,
    n_parameters, train_classifier, width_for_params,
)
from spectral_manifolds.cvkan.probes import layer_profile
from spectral_manifolds.data.polarization import logistic_on_mean, make_polarization

from spectral_manifolds.cvkan.similarity import point_profile
from spectral_manifolds.experiments.cvkan_block_verdicts import (  # noqa: F401  (re-exported)
    SEED_FLAT_ACC, SEED_TOLERANCE, amplification_rows, comparison_rows, matched_names, pct, point_rows, point_table, width_depth_rows,
)

TASKS = {"seed's task": False, "common phase": True}  # name -> make_polarization(common_phase=)
Z0_FREE = "Z0 (no head norm)"  # Z0 without the head's LayerNorm: no block at all, reads the level of |mean(Z)|


@dataclass(frozen=True)
class BlockConfig:
    """Sizes of the chapter's runs (pick with :func:`config_for`)."""

    n_train: int = 5000  # the seed's 2,500 + 2,500
    n_test: int = 1000
    n_tokens: int = 16
    d: int = 32
    sigma: float = 0.5
    hidden: int = 128
    n_blocks: int = 3  # the seed's flat model (173,989 parameters at d = 32, hidden = 128)
    depths: tuple = (1, 2, 3, 4, 6)  # profiled on the seed's task, hidden fixed
    matched_depths: tuple = (1, 2, 3, 6)  # width vs depth on the common-phase task, parameters fixed
    epochs: int = 5  # the full budget: all chapters publish within one 10-minute GPU call
    report_epoch: int = 3  # the seed's "Val Acc (Ep 3)"
    batch_size: int = 128
    lr: float = 1e-3
    n_seeds: int = 5
    baseline_layers: int = 2  # encoder layers of R and C
    baseline_heads: int = 4
    profile_samples: int = 500  # positive test samples profiled

    def __post_init__(self):
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        if self.n_blocks not in self.depths:
            raise ValueError(f"depths {self.depths} must contain the flat model's n_blocks={self.n_blocks}")
        if min(self.depths) < 1 or (self.matched_depths and min(self.matched_depths) < 1):
            raise ValueError(f"depths must be >= 1, got {self.depths}, {self.matched_depths}")
        if not 1 <= self.report_epoch <= self.epochs:
            raise ValueError(f"report_epoch={self.report_epoch} must lie in 1..epochs={self.epochs}")
        for name in ("n_train", "n_test", "d", "hidden", "batch_size", "profile_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def config_for(budget: str | None = None) -> BlockConfig:
    """The chapter's sizes: quick (CI, 2 CPU cores) or full (one GPU); None: the active budget."""
    quick = BlockConfig(n_train=800, n_test=400, depths=(1, 2, 3), matched_depths=(1, 3), epochs=3,
                        batch_size=64, n_seeds=3, baseline_layers=1, profile_samples=200)
    full = BlockConfig()
    return runtime.sized(quick=quick, full=full, budget_name=budget)


# --------------------------------------------------------------------------- exact checks
def _random_tokens(batch: int, n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mag = 0.5 + torch.rand(batch, n, d, generator=g, dtype=torch.float64)
    return torch.polar(mag, 2 * np.pi * torch.rand(batch, n, d, generator=g, dtype=torch.float64))


@torch.no_grad()
def broadcast_check(d: int = 8, n_tokens: int = 16, batch: int = 4, hidden: int = 32, seed: int = 0) -> list[dict]:
    """One row per (version, aggregation): float64 random tokens ``(batch, N, d)``, random block.

    Columns: the aggregate's token axis (1 = broadcast), ``max |c_i - c_j|`` of the added
    vectors ``c = out - Z``, ``max |(out_i - out_j) - (Z_i - Z_j)|``, ``max |c|``, and the
    mean ``cos(arg Z - arg c)`` over entries whose magnitude grew and over those that shrank.
    """
    z = _random_tokens(batch, n_tokens, d, seed)
    rows = []
    for version in VERSIONS:
        for agg in AGGREGATIONS:
            torch.manual_seed(seed)
            block = PolarizingBlock(d, hidden=hidden, aggregation=agg, version=version).double()
            out = block(z)
            c = out - z
            dz = lambda x: x[:, :, None] - x[:, None]  # (B, N, N, d)
            grew = out.abs() > z.abs()
            cos = torch.cos(z.angle() - c.angle())
            rows.append({
                "version": version, "aggregation": agg, "aggregate tokens": int(block.aggregation(z).shape[-2]),
                "max |c_i - c_j|": float((c - c[:, :1]).abs().max()),
                "max |Δ(Z_i - Z_j)|": float((dz(out) - dz(z)).abs().max()), "max |c|": float(c.abs().max()),
                "mean cos, grew": float(cos[grew].mean()) if grew.any() else float("nan"),
                "mean cos, shrank": float(cos[~grew].mean()) if (~grew).any() else float("nan"),
            })
    return rows


def _task_batch(cfg: BlockConfig, n: int, seed: int, common_phase: bool = False) -> torch.Tensor:
    data = make_polarization(n, 2, n_tokens=cfg.n_tokens, d=cfg.d, sigma=cfg.sigma, common_phase=common_phase, seed=seed)
    return torch.from_numpy(data.z_train).to(torch.complex128)


@torch.no_grad()
def mean_only_check(cfg: BlockConfig, seeds=(0, 1, 2), batch: int = 16) -> list[dict]:
    """Z (task tokens, ``(batch, N, d)``) against ``Z' = Z + D`` with ``mean_n D = 0``.

    One row per norm ("none", "centre") and seed of the random (untrained) flat model of
    ``cfg.n_blocks`` blocks, float64: ``max |mean Z - mean Z'|``, ``max |logits(Z) -
    logits(Z')|`` and, for scale, the std of ``logits(Z)`` over the samples.
    """
    rows = []
    for seed in seeds:
        z = _task_batch(cfg, batch, seed)
        g = torch.Generator().manual_seed(seed + 1000)
        noise = torch.complex(torch.randn(z.shape, generator=g, dtype=torch.float64), torch.randn(z.shape, generator=g, dtype=torch.float64))
        z2 = z + noise - noise.mean(dim=1, keepdim=True)
        for norm in ("none", "centre"):
            torch.manual_seed(seed)
            model = CVKAN(cfg.d, 2, n_blocks=cfg.n_blocks, hidden=cfg.hidden, norm=norm).double().eval()
            a, b = model(z), model(z2)
            rows.append({"norm": norm, "seed": seed, "max |mean Z - mean Z'|": float((z.mean(1) - z2.mean(1)).abs().max()),
                         "max |logits(Z) - logits(Z')|": float((a - b).abs().max()), "std of logits over samples": float(a.std(0).max())})
    return rows


@torch.no_grad()
def scale_check(cfg: BlockConfig, scale: float = 2.0, seed: int = 0, batch: int = 16) -> list[dict]:
    """``max |logits(a Z) - logits(Z)|`` for random Z0, Z0 without head norm (widened heads as
    in :func:`run`) and flat models."""
    z = _task_batch(cfg, batch, seed)
    rows = []
    models = (("Z0", dict(n_blocks=0, head_hidden=64)), (Z0_FREE, dict(n_blocks=0, head_hidden=64, head_norm=False)),
              (cvkan_name(cfg.n_blocks, cfg.hidden), dict(n_blocks=cfg.n_blocks, hidden=cfg.hidden)))
    for name, kwargs in models:
        torch.manual_seed(seed)
        model = CVKAN(cfg.d, 2, **kwargs).double().eval()
        rows.append({"model": name, "scale a": scale, "max |logits(aZ) - logits(Z)|": float((model(scale * z) - model(z)).abs().max()),
                     "std of logits over samples": float(model(z).std(0).max())})
    return rows


# --------------------------------------------------------------------------- training
def cvkan_name(n_blocks: int, hidden: int, norm: str = "centre") -> str:
    return f"CVKAN L={n_blocks}, h={hidden}" + ("" if norm == "centre" else f", norm {norm}")


def builders(cfg: BlockConfig) -> dict:
    """Model name -> ``build(in_features, n_classes)``: the flat stack at every depth of
    ``cfg.depths``, and, at the flat model's parameter count (±5 %, ``width_for_params``),
    Z0 (widened head), Z0 without head norm, R, C and the flat stack at every depth of ``cfg.matched_depths``;
    also the flat model with ``norm="none"`` (the mean-only stack, same parameters)."""
    d, heads, layers = cfg.d, cfg.baseline_heads, cfg.baseline_layers
    out = {cvkan_name(L, cfg.hidden): (lambda L: lambda f, k: CVKAN(d, k, n_blocks=L, hidden=cfg.hidden))(L) for L in cfg.depths}
    out[cvkan_name(cfg.n_blocks, cfg.hidden, "none")] = lambda f, k: CVKAN(d, k, n_blocks=cfg.n_blocks, hidden=cfg.hidden, norm="none")
    target = n_parameters(CVKAN(d, 2, n_blocks=cfg.n_blocks, hidden=cfg.hidden))
    for L in cfg.matched_depths:
        h = width_for_params(lambda h: CVKAN(d, 2, n_blocks=L, hidden=h), target, 1, 2048, tol=0.05)
        out.setdefault(cvkan_name(L, h), (lambda L, h: lambda f, k: CVKAN(d, k, n_blocks=L, hidden=h))(L, h))
    h0 = width_for_params(lambda h: CVKAN(d, 2, n_blocks=0, head_hidden=h), target, 1, target, tol=0.05)
    hf = width_for_params(lambda h: CVKAN(d, 2, n_blocks=0, head_hidden=h, head_norm=False), target, 1, target, tol=0.05)
    wr = width_for_params(lambda w: RealTransformer(d, heads * w, heads, layers, 2, complex_input=True), target, 1, 512, tol=0.05)
    wc = width_for_params(lambda w: ComplexTransformer(d, heads * w, heads, layers, 2), target, 1, 512, tol=0.05)
    out["Z0"] = lambda f, k: CVKAN(d, k, n_blocks=0, head_hidden=h0)
    out[Z0_FREE] = lambda f, k: CVKAN(d, k, n_blocks=0, head_hidden=hf, head_norm=False)
    out["R"] = lambda f, k: RealTransformer(d, heads * wr, heads, layers, k, complex_input=True)
    out["C"] = lambda f, k: ComplexTransformer(d, heads * wc, heads, layers, k)
    return out


def task_models(cfg: BlockConfig, names) -> dict:
    """Task -> the model names trained on it (the seed's task: depths; the variant: matched depths)."""
    flat = cvkan_name(cfg.n_blocks, cfg.hidden)
    base = [flat, cvkan_name(cfg.n_blocks, cfg.hidden, "none"), "Z0", Z0_FREE, "R", "C"]
    depth = [cvkan_name(L, cfg.hidden) for L in cfg.depths]
    matched = [n for n in names if n.startswith("CVKAN") and n not in depth + base]
    return {"seed's task": list(dict.fromkeys(depth + base)), "common phase": list(dict.fromkeys(base + matched))}


@dataclass
class BlockResult:
    """JSON-able: ``accuracy[task][model]`` final-epoch test accuracy per seed,
    ``accuracy_at_report`` the same at ``config.report_epoch``, ``history[task][model]`` per-seed
    per-epoch test accuracy, ``profiles[model]`` per-seed ``layer_profile`` rows (seed's task),
    ``points[model]`` per-seed ``point_profile`` rows (the one-point form, same samples)."""

    config: dict
    seeds: list
    n_params: dict = field(default_factory=dict)
    accuracy: dict = field(default_factory=dict)
    accuracy_at_report: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    profiles: dict = field(default_factory=dict)
    points: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def profile(self, model: str, key: str = "auroc") -> np.ndarray:
        """``(seeds, layers)`` array of one profile column (layer 0 = the input tokens);
        ``key="separation"`` gives ``|2 AUROC - 1|`` (separation in either direction)."""
        if key == "separation":
            return np.abs(2 * self.profile(model) - 1)
        return np.array([[row[key] for row in rows] for rows in self.profiles[model]])

    def point(self, model: str, key: str) -> np.ndarray:
        """``(seeds, blocks)`` array of one :func:`~spectral_manifolds.cvkan.similarity.point_profile`
        column (entry l - 1 = after block l)."""
        return np.array([[row[key] for row in rows] for rows in self.points[model]])


def run(cfg: BlockConfig, *, only=None, progress: bool = True) -> BlockResult:
    """Train and profile everything (module docstring); one progress bar over all fits.
    ``only``: train just these model names (the logistic regressions always run)."""
    t0 = time.perf_counter()
    seeds = report.seeds_for(cfg.n_seeds)
    build = builders(cfg)
    plan = {task: [n for n in names if only is None or n in only] for task, names in task_models(cfg, build).items()}
    res = BlockResult(dataclasses.asdict(cfg), seeds)
    profiled = {cvkan_name(L, cfg.hidden) for L in cfg.depths}
    for task, names in plan.items():
        for store in (res.accuracy, res.accuracy_at_report):
            store[task] = {n: [] for n in names + ["logistic (Re, Im) of mean(Z)", "logistic |mean(Z)|"]}
        res.history[task] = {n: [] for n in names}
    bar = runtime.progress(total=cfg.n_seeds * sum(len(v) for v in plan.values()), desc="fits", disable=not progress)
    _fit_all(cfg, res, build, plan, seeds, profiled, bar)  # train_classifier keeps a small CPU to one thread
    bar.close()
    res.seconds = time.perf_counter() - t0
    return res


def _fit_all(cfg, res, build, plan, seeds, profiled, bar) -> None:
    for seed in seeds:
        for task, names in plan.items():
            data = make_polarization(cfg.n_train, cfg.n_test, n_tokens=cfg.n_tokens, d=cfg.d, sigma=cfg.sigma, common_phase=TASKS[task], seed=seed)
            for feats, name in (("reim", "logistic (Re, Im) of mean(Z)"), ("abs", "logistic |mean(Z)|")):
                lf = logistic_on_mean(data.z_train, data.y_train, data.z_test, data.y_test, features=feats)
                res.n_params[name] = lf.n_params
                for store in (res.accuracy, res.accuracy_at_report):
                    store[task][name].append(lf.accuracy)
            for name in names:
                fit = train_classifier(data.z_train, data.y_train, X_test=data.z_test, y_test=data.y_test, model=build[name], seed=seed,
                                       epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False)
                res.n_params[name] = fit.n_params
                acc = [float(a) for a in fit.history["test_acc"]]
                res.accuracy[task][name].append(acc[-1])
                res.accuracy_at_report[task][name].append(acc[cfg.report_epoch - 1])
                res.history[task][name].append(acc)
                if task == "seed's task" and name in profiled:
                    pos = np.flatnonzero(data.y_test == 1)[: cfg.profile_samples]
                    rows = layer_profile(fit.model, torch.from_numpy(data.z_test[pos]), data.signal_test[pos])
                    res.profiles.setdefault(name, []).append(rows)
                    res.points.setdefault(name, []).append(point_profile(fit.model, torch.from_numpy(data.z_test[pos])))
                bar.update(1)
