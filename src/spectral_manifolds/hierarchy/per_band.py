"""Per-band learning (seed 004 §6.1 learning rates, §6.2 weight decay, §6.3 EMA, §9.2 phases).

- :func:`band_param_groups`: ``torch.optim`` parameter groups, one per band (plus router and
  attention), with the §6.1 learning rates and the §6.2 weight decays; :func:`band_lr_scheduler`
  is a ``LambdaLR`` with one lambda per group, ``lr(step) = lr0 * decay**step`` (§6.1's
  ``0.999^step`` etc.), times the §9.2 phase's lr factor when a :class:`PhaseScheduler` is given.
- :func:`band_ema`: one ``torch.optim.swa_utils.AveragedModel`` per band with
  ``get_ema_multi_avg_fn(decay)`` and the §6.3 decays 0.9999 / 0.999 / 0.99.
  :class:`SeedEMAModule` copies the seed's §11.1 ``update_ema``: it assigns a dict to a
  registered buffer, which ``nn.Module.__setattr__`` refuses (``TypeError``) at the first step.
- :func:`clip_norms` (ours) and :func:`seed_clip_norms` (the seed's ``1 / lr_scale``): the
  ``max_norm`` per band. "Stricter for slow-learning" read as: the coarse (slowest) band gets
  the *smallest* ``max_norm``, ``max_norm_i = base * lr_i / lr_fine`` (0.1 / 0.5 / 1.0 with the
  §6.1 table). The seed's ``1 / lr_scale`` with ``lr_scale = 0.1**(M-i-1)`` gives 100 / 10 / 1:
  the coarse band gets the loosest clip, and ``lr_scale`` spans 100x where §6.1 spans 10x.
- :class:`PhaseScheduler`: §9.2's four phases as data (:data:`PHASES`): which components
  train or are frozen, whether routing is fixed or learned, which losses are on (§9.3 weights).

Bands are named ``coarse, mid, fine`` (§6.1 rows); 2 bands use ``coarse, fine``, 4 bands
``coarse, mid, mid, fine`` (the seed tabulates 3 bands only: the extra row is our choice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from spectral_manifolds import validate

__all__ = ["LR_TABLE", "WEIGHT_DECAY", "EMA_DECAY", "MANIFOLD_LOSS_WEIGHTS", "PHASES", "band_names",
           "band_param_groups", "band_lr_scheduler", "lr_at", "lr_schedule_table", "lr_crossover_step",
           "band_ema", "seed_ema_decays", "SeedEMAModule", "seed_update_ema_error", "seed_lr_scales",
           "seed_clip_norms", "clip_norms", "clip_band_grads", "Phase", "PhaseScheduler"]

#: §6.1: (base lr, per-step decay) per row.
LR_TABLE = {"coarse": (1e-4, 0.999), "mid": (5e-4, 0.995), "fine": (1e-3, 0.99),
            "routing": (3e-4, 0.997), "attention": (5e-4, 0.995)}
#: §6.2 weight decay per band (the seed gives none for router and attention: 0 here).
WEIGHT_DECAY = {"coarse": 0.01, "mid": 0.001, "fine": 0.0001, "routing": 0.0, "attention": 0.0}
#: §6.3 EMA decay per band.
EMA_DECAY = {"coarse": 0.9999, "mid": 0.999, "fine": 0.99}
#: §9.3 (and the §11.2 loop's ``manifold_weights``): per-manifold loss weights.
MANIFOLD_LOSS_WEIGHTS = {"coarse": 1.0, "mid": 0.5, "fine": 0.3}


def band_names(n_bands: int) -> tuple[str, ...]:
    """Table rows of bands 0..n_bands-1 (coarse first): 2 -> coarse, fine; 3 -> coarse, mid, fine; 4 -> coarse, mid, mid, fine."""
    validate.positive_int("n_bands", n_bands)
    if not 2 <= n_bands <= 4:
        raise ValueError(f"n_bands must be 2, 3 or 4 (§4.2), got {n_bands}")
    return ("coarse",) + ("mid",) * (n_bands - 2) + ("fine",)


def _table_lr(name: str, table: dict, base_lr: float) -> tuple[float, float]:
    """(lr, decay) of row ``name``: the table's lr scaled by ``base_lr / lr_fine`` (base_lr = 1e-3 reproduces §6.1)."""
    lr, decay = table[name]
    return base_lr * lr / table["fine"][0], decay


def band_param_groups(manifolds, base_lr: float = 1e-3, table: dict = LR_TABLE, *,
                      weight_decay: dict = WEIGHT_DECAY, router: nn.Module | None = None,
                      attention: nn.Module | None = None) -> list[dict]:
    """Parameter groups ``[{'params', 'lr', 'weight_decay', 'lr_decay', 'name'}, ...]`` for ``torch.optim``.

    manifolds: a sequence of M modules, coarse first (2 to 4 bands, named by :func:`band_names`);
    router, attention: optional modules, given the §6.1 "Routing" / "Attention" rows.
    ``lr = base_lr * table_lr / table['fine'][0]``, so the default ``base_lr = 1e-3`` (the seed's
    default, the fine band's §6.1 lr) gives §6.1 exactly; ``weight_decay`` per §6.2. Every
    parameter lands in exactly one group; a parameter shared by two modules is a ``ValueError``.
    """
    if not (isinstance(base_lr, (int, float)) and math.isfinite(base_lr) and base_lr > 0):
        raise ValueError(f"base_lr must be a positive finite number, got {base_lr!r}")
    manifolds = list(manifolds)
    names = band_names(len(manifolds))
    parts = [(f"{n}_{i}", n, m) for i, (n, m) in enumerate(zip(names, manifolds))]
    parts += [(n, n, m) for n, m in (("routing", router), ("attention", attention)) if m is not None]
    seen, groups = set(), []
    for label, row, module in parts:
        if row not in table or row not in weight_decay:
            raise ValueError(f"table and weight_decay need a {row!r} row")
        params = list(module.parameters())
        if any(id(p) in seen for p in params):
            raise ValueError(f"{label} shares parameters with an earlier group")
        seen.update(id(p) for p in params)
        lr, decay = _table_lr(row, table, base_lr)
        groups.append({"params": params, "lr": lr, "weight_decay": weight_decay[row], "lr_decay": decay, "name": label})
    return groups


def band_lr_scheduler(optimizer: torch.optim.Optimizer, phases: "PhaseScheduler | None" = None,
                      steps_per_decay: int = 1) -> LambdaLR:
    """``LambdaLR`` with one lambda per group: ``lr(step) = lr0 * decay**(step / steps_per_decay) * phase factor``.

    Each group needs the ``lr_decay`` key of :func:`band_param_groups`. With ``phases`` the
    factor is the §9.2 phase's ``lr_factor`` (phase 4 "reduce learning rates"), else 1.
    """
    validate.positive_int("steps_per_decay", steps_per_decay)

    def make(decay):
        def f(step):
            factor = phases.phase(step).lr_factor if phases is not None else 1.0
            return decay ** (step / steps_per_decay) * factor
        return f
    return LambdaLR(optimizer, [make(g["lr_decay"]) for g in optimizer.param_groups])


def lr_at(step: int, row: str, base_lr: float = 1e-3, table: dict = LR_TABLE) -> float:
    """Closed form of §6.1: ``lr0 * decay**step`` for table row ``row``."""
    lr, decay = _table_lr(row, table, base_lr)
    return lr * decay ** step


def lr_schedule_table(steps=(0, 254, 1000, 5000, 15000, 30000), table: dict = LR_TABLE) -> pd.DataFrame:
    """§6.1 learning rates at the given steps (rows: table rows; columns: steps), with §9.2's boundaries by default."""
    return pd.DataFrame({s: {row: lr_at(s, row, table=table) for row in table} for s in steps})


def lr_crossover_step(slow: str = "coarse", fast: str = "fine", table: dict = LR_TABLE) -> float:
    """The step at which §6.1's decays make ``fast``'s lr equal ``slow``'s (afterwards the order is reversed).

    ``lr_f d_f^s = lr_s d_s^s``  ->  ``s = ln(lr_f / lr_s) / ln(d_s / d_f)``; coarse/fine: about 254 steps.
    """
    (ls, ds), (lf, df) = table[slow], table[fast]
    return math.log(lf / ls) / math.log(ds / df)


def band_ema(manifolds, decays: dict = EMA_DECAY, *, use_buffers: bool = False) -> list[AveragedModel]:
    """One ``AveragedModel(m, multi_avg_fn=get_ema_multi_avg_fn(decay))`` per band, §6.3 decays.

    Call ``ema.update_parameters(model)`` after each optimizer step. The first call copies the
    weights; after k calls with weights p_1..p_k the average is
    ``d**(k-1) p_1 + (1-d) * sum_{j=2..k} d**(k-j) p_j``.
    """
    manifolds = list(manifolds)
    return [AveragedModel(m, multi_avg_fn=get_ema_multi_avg_fn(decays[n]), use_buffers=use_buffers)
            for n, m in zip(band_names(len(manifolds)), manifolds)]


def seed_ema_decays(n_bands: int) -> list[float]:
    """The seed's code (§11.1): ``0.999 - 0.009 * band_idx`` (3 bands: 0.999 / 0.990 / 0.981, not §6.3's 0.9999 / 0.999 / 0.99)."""
    return [0.999 - 0.009 * i for i in range(len(band_names(n_bands)))]


class SeedEMAModule(nn.Module):
    """A tiny module carrying the seed's §11.1 EMA code verbatim (``register_buffer('ema_weight', None)``)."""

    def __init__(self, band_idx: int = 0):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.register_buffer('ema_weight', None)
        self.ema_decay = 0.999 - 0.009 * band_idx

    def update_ema(self):
        if self.ema_weight is None:
            self.ema_weight = {k: v.clone() for k, v in self.state_dict().items()}
        else:
            for k, v in self.state_dict().items():
                self.ema_weight[k] = self.ema_decay * self.ema_weight[k] + (1 - self.ema_decay) * v


def seed_update_ema_error() -> str | None:
    """Run the seed's ``update_ema`` once; return the ``TypeError`` it raises as ``'TypeError: ...'`` (None if it passes)."""
    try:
        SeedEMAModule().update_ema()
    except TypeError as e:
        return f"TypeError: {e}"
    return None


def seed_lr_scales(n_bands: int) -> list[float]:
    """The seed's code: ``lr_scale = 0.1 ** (M - i - 1)`` (3 bands: 0.01 / 0.1 / 1, a 100x span; §6.1 spans 10x)."""
    m = len(band_names(n_bands))
    return [0.1 ** (m - i - 1) for i in range(m)]


def seed_clip_norms(n_bands: int) -> list[float]:
    """The seed's ``max_norm = 1.0 / lr_scale`` per band (3 bands: 100 / 10 / 1): the coarse band clipped *least*."""
    return [1.0 / s for s in seed_lr_scales(n_bands)]


def clip_norms(n_bands: int, base: float = 1.0, table: dict = LR_TABLE) -> list[float]:
    """Ours: ``max_norm_i = base * lr_i / lr_fine`` (§6.1 rows; 3 bands: 0.1 / 0.5 / 1.0 x base).

    "Stricter for slow-learning" read as a smaller ``max_norm`` for a slower band, in
    proportion to its learning rate: the coarse band's gradients are capped hardest, and the
    plain-SGD step bound ``lr_i * max_norm_i`` falls as ``lr_i**2``, so a gradient spike moves the
    coarse band least. (The seed's ``1/lr_scale`` makes ``lr_i * max_norm_i`` the same for every
    band, undoing the slow coarse lr exactly on spikes.) Under Adam the clip mostly matters on spikes.
    """
    if not (math.isfinite(base) and base > 0):
        raise ValueError(f"base must be a positive finite number, got {base!r}")
    return [base * table[n][0] / table["fine"][0] for n in band_names(n_bands)]


def clip_band_grads(manifolds, max_norms) -> list[float]:
    """``nn.utils.clip_grad_norm_`` per band with its ``max_norm``; returns the pre-clip total norms (one per band)."""
    manifolds, max_norms = list(manifolds), list(max_norms)
    if len(manifolds) != len(max_norms):
        raise ValueError(f"{len(manifolds)} manifolds but {len(max_norms)} max_norms")
    return [float(nn.utils.clip_grad_norm_(m.parameters(), c)) for m, c in zip(manifolds, max_norms)]


COMPONENTS = ("manifolds", "router", "attention")
LOSSES = ("reconstruction", "manifold", "routing", "entropy", "spectral")


@dataclass(frozen=True)
class Phase:
    """One §9.2 phase: steps ``[start, end)`` (``end=None``: open), components trained, routing mode, losses on."""

    name: str
    start: int
    end: int | None
    train: frozenset
    routing: str  # "fixed" (hardcoded by frequency) or "learned"
    losses: frozenset
    lr_factor: float = 1.0
    monitor_collapse: bool = False
    manifold_weights: dict = field(default_factory=lambda: dict(MANIFOLD_LOSS_WEIGHTS))

    @property
    def frozen(self) -> frozenset:
        return frozenset(COMPONENTS) - self.train

    @property
    def attention(self) -> bool:
        return "attention" in self.train


#: §9.2 as data. Read literally: phase 1 trains "each manifold on its frequency band
#: independently" with routing "hardcoded by frequency" and no attention -> per-band losses
#: only (a reconstruction loss of the sum would couple the bands), router and attention frozen;
#: phase 2 enables learned routing (router trains, routing losses and reconstruction on, still
#: no attention); phase 3 "all components learn together"; phase 4 "reduce learning rates",
#: "monitor for collapse". §9.2 gives no factor for phase 4: 0.1 is ours. The spectral loss
#: (§9.3 "frequency band enforcement") is on throughout (our reading; §9.2 is silent).
PHASES = (
    Phase("independent", 0, 5000, frozenset({"manifolds"}), "fixed", frozenset({"manifold", "spectral"})),
    Phase("routing", 5000, 15000, frozenset({"manifolds", "router"}), "learned",
          frozenset({"reconstruction", "manifold", "routing", "entropy", "spectral"})),
    Phase("integration", 15000, 30000, frozenset(COMPONENTS), "learned", frozenset(LOSSES)),
    Phase("refinement", 30000, None, frozenset(COMPONENTS), "learned", frozenset(LOSSES),
          lr_factor=0.1, monitor_collapse=True),
)


class PhaseScheduler:
    """§9.2's phases: ``phase(step)``, ``boundaries``, and ``apply(step, modules)`` to freeze components.

    ``modules``: a dict ``{'manifolds': ..., 'router': ..., 'attention': ...}`` (any subset);
    ``apply`` sets ``requires_grad`` of each component's parameters. Frozen parameters then get
    no gradient, and ``torch.optim`` (with ``zero_grad(set_to_none=True)``, the default) leaves them
    unchanged, weight decay included.
    """

    def __init__(self, phases=PHASES):
        phases = tuple(phases)
        if not phases or phases[0].start != 0 or phases[-1].end is not None:
            raise ValueError("phases must start at step 0 and the last one must be open-ended")
        for a, b in zip(phases, phases[1:]):
            if a.end != b.start:
                raise ValueError(f"phase {a.name!r} ends at {a.end} but {b.name!r} starts at {b.start}")
        self.phases = phases

    @property
    def boundaries(self) -> list[int]:
        return [p.start for p in self.phases[1:]]

    def phase(self, step: int) -> Phase:
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        return next(p for p in reversed(self.phases) if step >= p.start)

    def apply(self, step: int, modules: dict) -> Phase:
        for name in modules:
            validate.choice("component", name, COMPONENTS)
        p = self.phase(step)
        for name, module in modules.items():
            for q in module.parameters():
                q.requires_grad_(name in p.train)
        return p

    def table(self) -> pd.DataFrame:
        """One row per phase: steps, trained / frozen components, routing, losses, lr factor."""
        return pd.DataFrame([{"phase": p.name, "start": p.start, "end": p.end, "train": ", ".join(sorted(p.train)),
                              "frozen": ", ".join(sorted(p.frozen)), "routing": p.routing,
                              "losses": ", ".join(sorted(p.losses)), "lr_factor": p.lr_factor}
                             for p in self.phases]).astype({"end": "Int64"})
