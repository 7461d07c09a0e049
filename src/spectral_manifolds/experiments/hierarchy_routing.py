"""Chapter "Bands and routing", part 2: can a router move a band boundary, and does it collapse?
(seed 004 §4.2, §5.1-5.4, §8.3, §11.1 ``LearnedRouter``; issue 9, Part IV, chapter 1).

**The task** (:func:`make_task`): a "two-speed field", :func:`~spectral_manifolds.hierarchy.fields.advection_diffusion`
on an N x N torus whose Fourier modes below the true cut-off ``c*`` (0.2 of Nyquist, §4.2's
option A) move by ``v_0`` pixels per frame and those above by ``v_1`` (hard masks at
``c*``, integer velocities, no forcing, white spectrum). The next frame is predicted from
the current one by :class:`BandPredictor`: a router splits the frame into M bands, each band
has its own 3 x 3 circular kernel (which shifts by one pixel exactly), the bands are summed.
With the split at ``c*`` the predictor can be exact; with the seed's code's 2-band edge
(0.1, ``bands.seed_bounds(2)``) the modes between 0.1 and 0.2 share a kernel with the wrong
velocity. Routers (``ROUTERS``): ``fixed`` (cosine partition at 0.1, nothing learned),
``seed gate`` (the seed's per-pixel ``SeedRouter`` gates on those bands, ``spatial_gate``),
``edges`` (``LearnableBandEdges`` from 0.1), ``modes`` (``ModeRouter`` from the 0.1 masks),
``exact`` (hard masks at ``c*``: the exact spectral assignment, fixed). The task, the
predictor, :data:`REGULARIZERS` and the training loop live in
:mod:`~spectral_manifolds.experiments.hierarchy_band_task` and are re-exported here.

* :func:`run_boundary` -- trains every router per seed; the learned boundary is read with
  plane-wave probes (:func:`probe_boundary`: the integral over radius of band 0's share of
  a probe's routed energy, which is ``c`` for a step at ``c``); beside it ``c*`` and the best
  edge of the cosine family (:func:`best_edge`, closed form from the data's spectrum and
  the true multipliers). :func:`boundary_table` and :func:`boundary_rows` give the table
  and the verdict rows.

The collapse experiment on the 3-band version of the task (the seed's router, its learning
rate times ``lr_multiplier``, the regularizers of :data:`REGULARIZERS`) is in
:mod:`~spectral_manifolds.experiments.hierarchy_collapse`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.experiments.hierarchy_band_task import (  # noqa: F401  (the task, predictor, training: re-exported here)
    REGULARIZERS, ROUTERS, BandPredictor, evaluate, make_task, reg_loss, rel_error, train, white_amplitudes,
)
from spectral_manifolds.hierarchy import SpectralAR1, decompose, masks, persistence  # noqa: F401  (decompose: re-exported)

COLLAPSE_ALERT = 0.8  # §8.3: "One manifold has >80% of traffic"
ENTROPY_ALERT = 0.3  # §8.3: "Routing entropy < 0.3"


@dataclass(frozen=True)
class RoutingConfig:
    """Sizes of the routing experiments (pick with :func:`config_for`)."""

    n: int = 64
    true_cutoff: float = 0.2  # §4.2 option A
    init_cutoff: float = 0.1  # the seed's code for 2 bands (seed_bounds(2) = [0, 0.1, 1])
    velocities: tuple = ((0.0, 1.0), (-1.0, 0.0))  # pixels/frame, coarse then fine
    sequences: int = 16  # sequences per seed, the last quarter held out
    frames: int = 12
    batch: int = 32
    steps: int = 300
    lr: float = 0.02  # Adam, kernels
    router_lr: float = 0.02  # Adam, routers (edges, modes, seed gate)
    router_dim: int = 32  # the seed's LearnedRouter(n_manifolds, dim=32)
    collapse_n: int = 32
    collapse_cutoffs: tuple = (0.1, 0.3)  # §4.2 option B, the data's and the bands' cut-offs
    collapse_velocities: tuple = ((0.0, 1.0), (-1.0, 0.0), (1.0, 1.0))
    collapse_steps: int = 200
    collapse_lr: float = 0.02  # kernels, as in the boundary experiment
    collapse_router_lr: float = 3e-4  # §6.1's routing learning rate, before the trigger
    lr_multiplier: float = 100.0  # the collapse trigger
    regularizers: tuple = tuple(REGULARIZERS)
    log_every: int = 10
    n_seeds: int = 5

    def __post_init__(self):
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        if not 0 < self.init_cutoff < 1 or not 0 < self.true_cutoff < 1:
            raise ValueError(f"cut-offs must lie in (0, 1), got {self.init_cutoff}, {self.true_cutoff}")
        for name in ("n", "sequences", "frames", "batch", "steps", "collapse_n", "collapse_steps", "log_every", "router_dim"):
            if getattr(self, name) < (4 if name in ("n", "collapse_n") else 1):
                raise ValueError(f"{name} is too small: {getattr(self, name)}")
        if self.sequences < 2 or len(self.velocities) != 2 or len(self.collapse_velocities) != len(self.collapse_cutoffs) + 1:
            raise ValueError("need >= 2 sequences, 2 velocities and one velocity per collapse band")
        if any(abs(v) > 1 or v != round(v) for vel in self.velocities + self.collapse_velocities for v in vel):
            raise ValueError("velocities must be integers in [-1, 1] pixels/frame (a 3 x 3 kernel shifts exactly)")
        unknown = set(self.regularizers) - set(REGULARIZERS)
        if unknown or "none" not in self.regularizers:
            raise ValueError(f"regularizers must include 'none' and come from {tuple(REGULARIZERS)}, got {self.regularizers}")


def config_for(budget: str | None = None) -> RoutingConfig:
    """Quick (CI, 2 CPU cores) or full (one GPU) sizes; None: the active budget."""
    quick = RoutingConfig(sequences=8, frames=8, batch=8, steps=100, collapse_steps=150, n_seeds=3)
    return runtime.sized(quick=quick, full=RoutingConfig(), budget_name=budget)


# --------------------------------------------------------------------------- boundaries
@torch.no_grad()
def probe_boundary(model: BandPredictor, device=None) -> dict:
    """Band 0's share of the routed energy of plane waves ``cos(2 pi k x / N)``, k = 1..N/2-1.

    Returns ``r`` (K,) in units of Nyquist, ``share`` (K,), and ``boundary``, the effective
    boundary ``integral_0^{r_K} share(r) dr`` (trapezoid, share(0) = 1): it equals ``c`` for
    a step from 1 to 0 at ``c`` and the midpoint of a symmetric ramp, and it is defined for
    any share profile, also one that mixes (a first crossing of 1/2 is not).
    """
    device = device or next(model.parameters()).device
    n = model.n
    k = torch.arange(1, n // 2)
    p = torch.arange(n, dtype=torch.float32)
    x = torch.cos(2 * math.pi * k[:, None, None] * p[None, None, :] / n).expand(-1, n, n)[:, None].to(device)
    routed = model.split(x)[0][:, :, 0]  # (K, M, N, N)
    e = routed.pow(2).sum(dim=(-2, -1))
    share = (e[:, 0] / e.sum(1)).cpu().numpy()
    r = (2 * k / n).numpy().astype(float)
    rr, ss = np.concatenate([[0.0], r]), np.concatenate([[1.0], share.astype(float)])
    b = float(np.sum((ss[1:] + ss[:-1]) / 2 * np.diff(rr)))
    return {"r": r, "share": share, "boundary": b}


def best_edge(cfg: RoutingConfig, frames: torch.Tensor, grid=None) -> dict:
    """The cosine edge with the least one-step error if every band's kernel were its exact shift.

    ``frames: (B, T, N, N)``; per-mode power ``P(k)`` from them (full FFT plane). For an edge
    ``c`` the error is ``sum_k P(k) |m_0(k) A_0(k) + m_1(k) A_1(k) - A(k)|^2 / sum_k P(k)`` with
    ``A_b = exp(-2 pi i k . v_b / N)`` and ``A`` the data's multiplier. Returns ``grid``,
    ``error`` (relative L2, the square root) and ``best``, the argmin.
    """
    n = cfg.n
    grid = np.linspace(0.05, 0.45, 161) if grid is None else np.asarray(grid)
    power = torch.fft.fft2(frames.double()).abs().pow(2).mean(dim=(0, 1))
    f = torch.fft.fftfreq(n, 1 / n, dtype=torch.float64)
    ky, kx = torch.meshgrid(f, f, indexing="ij")
    a = [torch.exp(-2j * math.pi * (ky * vy + kx * vx) / n) for vy, vx in cfg.velocities]
    hard = masks(n, (cfg.true_cutoff,), "hard", dtype=torch.float64)
    truth = hard[0] * a[0] + hard[1] * a[1]
    errs = []
    for c in grid:
        m = masks(n, (float(c),), "cosine", dtype=torch.float64)
        errs.append(float(((m[0] * a[0] + m[1] * a[1] - truth).abs().pow(2) * power).sum() / power.sum()) ** 0.5)
    return {"grid": grid, "error": np.array(errs), "best": float(grid[int(np.argmin(errs))])}


@dataclass
class BoundaryResult:
    """JSON-able: per router, per seed ``test_error``, ``boundary`` and histories; baselines."""

    config: dict
    seeds: list
    test_error: dict = field(default_factory=dict)  # name -> [seeds]
    boundary: dict = field(default_factory=dict)  # router -> [seeds]
    share: dict = field(default_factory=dict)  # router -> [seeds][K]
    probe_r: list = field(default_factory=list)
    edges: list = field(default_factory=list)  # [seeds][log steps] edge of the learnable-edges router
    loss: dict = field(default_factory=dict)  # router -> [seeds][log steps]
    steps: list = field(default_factory=list)
    best_edge: list = field(default_factory=list)  # [seeds]
    n_params: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def run_boundary(cfg: RoutingConfig, *, progress: bool = True, routers=ROUTERS) -> BoundaryResult:
    """Train every router of ``routers`` on the two-speed field per seed (module docstring)."""
    t0 = time.perf_counter()
    seeds = report.seeds_for(cfg.n_seeds)
    res = BoundaryResult(dataclasses.asdict(cfg), seeds)
    names = list(routers) + ["persistence", "spectral AR(1)"]
    res.test_error = {k: [] for k in names}
    bar = runtime.progress(total=cfg.n_seeds * len(routers), desc="router fits", disable=not progress)
    device = runtime.torch_device()
    with runtime.torch_cpu_threads(device):
        for seed in seeds:
            f, task = make_task(cfg.n, (cfg.true_cutoff,), cfg.velocities, cfg.sequences, cfg.frames, seed)
            res.test_error["persistence"].append(rel_error(persistence(task.test_x), task.test_y))
            ar = SpectralAR1().fit(task.train_frames)
            res.test_error["spectral AR(1)"].append(rel_error(ar.predict(task.test_x), task.test_y))
            res.best_edge.append(best_edge(cfg, task.train_frames)["best"])
            for name in routers:
                torch.manual_seed(seed)
                cut = (cfg.true_cutoff,) if name == "exact" else (cfg.init_cutoff,)
                model = BandPredictor(cfg.n, cut, name, router_dim=cfg.router_dim)
                res.n_params[name] = sum(p.numel() for p in model.parameters())
                out = train(task, model, steps=cfg.steps, batch=cfg.batch, lr=cfg.lr, router_lr=cfg.router_lr, seed=seed,
                            log_every=cfg.log_every, device=device)
                res.test_error[name].append(out["test_error"])
                res.loss.setdefault(name, []).append(out["history"]["loss"])
                res.steps = out["history"]["step"]
                pb = probe_boundary(model)
                res.boundary.setdefault(name, []).append(pb["boundary"])
                res.share.setdefault(name, []).append(pb["share"].tolist())
                res.probe_r = pb["r"].tolist()
                if name == "edges":
                    res.edges.append([e[0] for e in out["history"]["edges"]])
                bar.update(1)
    bar.close()
    res.seconds = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------------- tables and verdicts
LABELS = {"fixed": "fixed cosine bands at 0.1 (no router)", "seed gate": "the seed's per-pixel gate on those bands",
          "edges": "learnable band edges (from 0.1)", "modes": "per-mode router (from the 0.1 bands)",
          "exact": "exact assignment: hard bands at c* (fixed)", "persistence": "persistence (last frame)",
          "spectral AR(1)": "per-mode complex AR(1), least squares"}


def _cell(values, decimals: int = 6) -> str:
    """'mean ± std' of values rounded to ``decimals``; below 1e-3 in scientific notation."""
    v = np.round(np.asarray(values, dtype=float), decimals)
    if abs(v.mean()) < 1e-3 and v.mean() != 0:
        return f"{np.mean(values):.1e} (max {np.max(values):.1e})"
    return report.mean_std(v)


def boundary_table(res: BoundaryResult) -> list[dict]:
    """One row per model: parameters, test error (%) and effective boundary, mean ± std over seeds."""
    rows = []
    for name, errs in res.test_error.items():
        b = res.boundary.get(name)
        rows.append({"model": LABELS.get(name, name), "parameters": res.n_params.get(name, "—"),
                     "test error (%)": _cell(100 * np.array(errs), 9),
                     "effective boundary (Nyquist)": _cell(b) if b else "—"})
    return rows


def boundary_rows(res: BoundaryResult) -> list[dict]:
    """Verdict rows, paired by seed: distance of the effective boundary to ``c*`` (each router
    against the fixed bands) and test error (each against the fixed bands and the AR(1))."""
    c = res.config["true_cutoff"]
    dist = {k: np.abs(np.array(v) - c) for k, v in res.boundary.items()}
    err = {k: 100 * np.array(v) for k, v in res.test_error.items()}
    rows = []
    for name in ("seed gate", "edges", "modes"):
        if name not in dist:
            continue
        rows.append(report.verdict_row(f"{name}: boundary ends closer to c* = {c} than the fixed bands'", report.compare(dist[name], dist["fixed"]),
                                       seed_figure="'Discovers optimal band boundaries' (§5.1)", a_name=name, b_name="fixed", metric="|boundary − c*| (Nyquist)"))
        rows.append(report.verdict_row(f"{name}: lower error than the fixed bands", report.compare(err[name], err["fixed"]),
                                       seed_figure="'Adapts to data' (§5.1)", a_name=name, b_name="fixed", metric="test error (%)"))
    for name in [k for k in ("edges", "modes", "exact") if k in err]:
        rows.append(report.verdict_row(f"{name}: lower error than the per-mode AR(1)", report.compare(err[name], err["spectral AR(1)"]),
                                       a_name=name, b_name="AR(1)", metric="test error (%)"))
    return rows
