"""Chapter "Bands and routing", part 1: the seed's band masks against a partition of unity
(seed 004 §4.2 cut-offs, §11.1 ``_create_freq_masks`` / ``decompose`` / ``synthesize``;
issue 9, Part IV, chapter 1).

* :func:`mask_rows` -- for every mask kind (the seed's, and the partition-of-unity
  low-passes ``cosine``, ``logistic``, ``hard``), 2, 3 and 4 bands and every grid size:
  the mask sum at DC, its range, the uncovered and corner areas, and the relative L2 loss
  of ``synthesize(decompose(x))`` on white noise and on smooth fields, per seed
  (:func:`~spectral_manifolds.hierarchy.bands.mask_report`). :func:`loss_table` shows them
  as mean ± std, :func:`loss_rows` turns them into verdict rows (``report.compare``).
* :func:`parseval_rows` -- energy bookkeeping on white noise: the synthesis keeps the
  energy (Parseval) exactly for a partition of unity; the band energies add up to the input
  energy only for 0/1 masks.
* :func:`radial_profiles` -- the masks and their sum along the frequency axis and the
  diagonal (for the figure of the radial profiles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.hierarchy import band_energy, decompose, mask_report, masks, radius, synthesize

KINDS = ("seed", "cosine", "logistic", "hard")  # the seed's masks first, then the partitions of unity
ISSUE_WHITE = "39–41 %"  # issue 9, "Facts about the seed's own code": white-noise loss of the seed's masks
ISSUE_SMOOTH = "18–36 %"  # the same for a smooth field


@dataclass(frozen=True)
class BandsConfig:
    """Sizes of the mask experiments (pick with :func:`config_for`)."""

    sizes: tuple = (32, 64)  # grid sizes N
    bands: tuple = (2, 3, 4)  # §4.2's options A, B, C (the seed's code gives other edges, see seed_bounds)
    frames: int = 8  # frames of each test field
    sigmas: tuple = (2.0, 4.0)  # smooth fields: white noise blurred by a Gaussian of sigma pixels
    n_seeds: int = 5

    def __post_init__(self):
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        if not self.sizes or min(self.sizes) < 4 or any(n % 2 for n in self.sizes):
            raise ValueError(f"sizes must be even and >= 4 (the seed's masks need even N), got {self.sizes}")
        if not set(self.bands) <= {2, 3, 4} or not self.bands:
            raise ValueError(f"bands must be among 2, 3, 4, got {self.bands}")
        if self.frames < 1 or not self.sigmas or min(self.sigmas) <= 0:
            raise ValueError(f"frames must be >= 1 and sigmas positive, got {self.frames}, {self.sigmas}")


def config_for(budget: str | None = None) -> BandsConfig:
    """The sizes: quick (CI, 2 CPU cores) or full (one GPU); None: the active budget."""
    return runtime.sized(quick=BandsConfig(sizes=(64,), frames=4, n_seeds=3), full=BandsConfig(n_seeds=5), budget_name=budget)


def mask_rows(cfg: BandsConfig) -> list[dict]:
    """One row per (kind, bands, N): the seed-independent mask facts and per-seed losses.

    Keys: ``kind``, ``bands``, ``n``, ``dc_weight``, ``sum_min``, ``sum_max``, ``uncovered``
    (fraction of bins with mask sum < 1/2), ``corner_area`` (fraction with r > 1),
    ``white_loss`` (list over seeds), ``white_loss_expected`` (``sqrt(mean (1 - S)^2)``), and
    ``smooth_loss_<sigma>`` (list over seeds) per smooth width.
    """
    rows = []
    for kind in KINDS:
        for nb in cfg.bands:
            for n in cfg.sizes:
                reps = {s: [mask_report(n, nb, kind, seed=seed, frames=cfg.frames, sigma=s) for seed in range(cfg.n_seeds)]
                        for s in cfg.sigmas}
                first = reps[cfg.sigmas[0]][0]
                row = {k: first[k] for k in ("dc_weight", "sum_min", "sum_max", "uncovered", "corner_area", "white_loss_expected")}
                row = {"kind": kind, "bands": nb, "n": n, **row, "white_loss": [r["white_loss"] for r in reps[cfg.sigmas[0]]]}
                for s in cfg.sigmas:
                    row[f"smooth_loss_{s:g}"] = [r["smooth_loss"] for r in reps[s]]
                rows.append(row)
    return rows


def loss_table(rows: list[dict]) -> list[dict]:
    """Rows for ``report.table``: the losses in percent as mean ± std over seeds."""
    out = []
    for r in rows:
        row = {"masks": r["kind"], "bands": r["bands"], "N": r["n"], "DC weight": round(r["dc_weight"], 3),
               "sum min": round(r["sum_min"], 3), "sum max": round(r["sum_max"], 3),
               "uncovered (%)": round(100 * r["uncovered"], 1), "white noise loss (%)": loss_cell(r["white_loss"])}
        for k in r:
            if k.startswith("smooth_loss_"):
                row[f"smooth σ={k.split('_')[-1]} loss (%)"] = loss_cell(r[k])
        out.append(row)
    return out


def pct(values) -> list[float]:
    """Fractions -> percent."""
    return [100.0 * float(v) for v in values]


def loss_cell(values) -> str:
    """A loss (fractions over seeds) in percent as 'mean ± std', or its largest value when
    it is rounding error (below 1e-6 %)."""
    v = pct(values)
    return f"{max(v):.0e} (max)" if max(v) < 1e-6 else report.mean_std(v)


def loss_rows(rows: list[dict], kind: str = "cosine") -> list[dict]:
    """Verdict rows "the ``kind`` partition of unity reconstructs better than the seed's masks",
    one per (bands, N, field), paired by seed (the same noise for both mask sets); losses
    in percent rounded to 1e-4 (the partitions' rounding error shows as 0)."""
    by = {(r["kind"], r["bands"], r["n"]): r for r in rows}
    out = []
    for (k, nb, n), r in by.items():
        if k != kind or ("seed", nb, n) not in by:
            continue
        s = by[("seed", nb, n)]
        for key in [k2 for k2 in r if k2 == "white_loss" or k2.startswith("smooth_loss_")]:
            field = "white noise" if key == "white_loss" else f"smooth σ={key.split('_')[-1]}"
            out.append(report.verdict_row(
                f"{nb} bands, N={n}, {field}: {kind} partition loses less than the seed's masks",
                report.compare(np.round(pct(r[key]), 4), np.round(pct(s[key]), 4)), seed_figure="'synthesize = sum(bands)' (§11.1)",
                a_name=kind, b_name="seed", metric="relative L2 loss (%)"))
    return out


@torch.no_grad()
def parseval_rows(n: int = 64, bands: int = 3, seed: int = 0, frames: int = 8) -> list[dict]:
    """Energy bookkeeping on white noise ``(frames, N, N)``, float64, one row per mask kind.

    ``|synth|^2 / |x|^2`` (1 for a partition of unity: Parseval of the identity map),
    ``sum_i E_i / |x|^2`` with ``E_i`` the band energies (1 only for 0/1 masks, below 1 for
    smooth ones: the cross terms ``2 sum_{i<j} <b_i, b_j>`` make up the rest), the largest
    ``|synth - x|`` and the largest ``|sum_i m_i - 1|``.
    """
    x = torch.randn((frames, n, n), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    e = float((x ** 2).sum())
    rows = []
    for kind in KINDS:
        b = decompose(x, bands, kind)
        y = synthesize(b)
        m = masks(n, bands, kind, dtype=torch.float64)
        rows.append({"masks": kind, "|synthesis|² / |x|²": float((y ** 2).sum()) / e,
                     "Σ band energies / |x|²": float(band_energy(b).sum()) / e,
                     "max |synthesis − x|": float((y - x).abs().max()), "max |Σ m − 1|": float((m.sum(0) - 1).abs().max())})
    return rows


def radial_profiles(n: int = 64, bands: int = 3) -> dict:
    """Masks along the ``k_x`` axis and the diagonal, in FFT order up to the largest radius.

    Returns ``{"axis": {...}, "diagonal": {...}}``, each ``{"r": (K,), kind: (M, K) masks,
    kind + " sum": (K,)}`` as numpy arrays, ``r`` in units of Nyquist (the diagonal reaches
    sqrt(2) at the corner). The full-plane masks of :func:`masks`.
    """
    r = radius(n, dtype=torch.float64)
    idx = torch.arange(n // 2 + 1)
    out = {}
    for name, (iy, ix) in {"axis": (torch.zeros_like(idx), idx), "diagonal": (idx, idx)}.items():
        prof = {"r": r[iy, ix].numpy()}
        for kind in KINDS:
            m = masks(n, bands, kind, dtype=torch.float64)[:, iy, ix].numpy()
            prof[kind], prof[kind + " sum"] = m, m.sum(0)
        out[name] = prof
    return out


def summary(rows: list[dict], kind: str, nb: int, n: int, key: str = "white_loss") -> tuple[float, float]:
    """Mean and std over seeds of one loss, in percent (for the chapter's sentences)."""
    r = next(r for r in rows if (r["kind"], r["bands"], r["n"]) == (kind, nb, n))
    v = np.array(pct(r[key]))
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def seed_loss_range(rows: list[dict], key: str = "white_loss") -> tuple[float, float]:
    """Smallest and largest mean loss (percent) of the seed's masks over bands and sizes."""
    means = [float(np.mean(pct(r[key]))) for r in rows if r["kind"] == "seed"]
    return min(means), max(means)


__all__ = ["KINDS", "ISSUE_WHITE", "ISSUE_SMOOTH", "BandsConfig", "config_for", "mask_rows", "loss_table", "pct", "loss_cell",
           "loss_rows", "parseval_rows", "radial_profiles", "summary", "seed_loss_range"]
