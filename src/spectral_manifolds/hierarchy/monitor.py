"""The manifold monitor of seed 004 §8: a history recorder and the probes that feed it.

§8.1 lists what to observe: routing gates, manifold activations, per-manifold loss,
cross-attention weights, per-manifold gradients, manifold EMA divergence, frequency content
per manifold. :mod:`~spectral_manifolds.hierarchy.monitor_dashboard` shows a history as §8.2's
dashboard (text, one row per band, and a figure); :mod:`~spectral_manifolds.hierarchy.alerts`
holds the §8.3 alerts.

:class:`MonitorHistory` takes, per step (or logging interval), any subset of :data:`QUANTITIES`
(shapes with M bands): per band ``(M,)``: ``loss``, ``lr``, ``grad_norm``, ``ema_divergence``
(:func:`ema_divergence`), ``usage`` (mean gate per band, sums to 1), ``attention_entropy``
(:func:`attention_entropy`, in [0, 1]); per band pair ``(M, M)``: ``freq_content`` (row i: the
share of band i's output energy in each band's mask, :func:`frequency_content`; rows sum to
1), ``error_content`` (entry [i, j]: band i's squared error, its prediction minus the target its
loss term uses, in band j's frequencies, over the total of all bands, :func:`error_content`; the
matrix sums to 1) and ``attention_weights`` (row i: attention mass band i gives band j); scalars:
``total_loss``, ``routing_entropy`` (per-token gate entropy over log M, in [0, 1], the seed's
``_compute_routing_entropy`` normalized), ``switch`` (Switch balance, 1 when uniform),
``step_time`` (seconds). A quantity not given at a step is NaN there and not "recorded".

Host syncs: torch tensors are kept (detached and cloned, on their device) until the history is
read; :meth:`MonitorHistory.arrays` then stacks each quantity and copies it to the host once. Only
shapes are checked at :meth:`~MonitorHistory.record` (metadata, no sync); values of tensors
are checked when read, of floats and numpy arrays at once. The probes below return tensors
and never call ``.item()``. NaN and inf are recorded, not refused: they are faults to alert on.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from spectral_manifolds.hierarchy import routing_losses
from spectral_manifolds.hierarchy.bands import band_energy, decompose
from spectral_manifolds.hierarchy.per_band import band_names

__all__ = ["PER_BAND", "PAIRWISE", "SCALARS", "QUANTITIES", "MonitorHistory", "monitor_bands",
           "routing_stats", "frequency_content", "error_content", "ema_divergence", "grad_norms", "attention_entropy"]

PER_BAND = ("loss", "lr", "grad_norm", "ema_divergence", "usage", "attention_entropy")
PAIRWISE = ("freq_content", "error_content", "attention_weights")
SCALARS = ("total_loss", "routing_entropy", "switch", "step_time")
QUANTITIES = PER_BAND + PAIRWISE + SCALARS
_NONNEG = ("loss", "lr", "grad_norm", "ema_divergence", "total_loss", "switch", "step_time")
_UNIT = ("usage", "attention_entropy", "freq_content", "error_content", "attention_weights", "routing_entropy")
_SUMS_TO_ONE = ("usage", "freq_content")


def monitor_bands(n_bands: int) -> tuple[str, ...]:
    """Unique band names: :func:`~spectral_manifolds.hierarchy.per_band.band_names`, repeated 'mid' numbered (mid1, mid2)."""
    names = band_names(n_bands)
    if names.count("mid") < 2:
        return names
    k = iter(range(1, n_bands))
    return tuple(f"mid{next(k)}" if n == "mid" else n for n in names)


class MonitorHistory:
    """Per-step monitor records for bands ``bands`` (names, coarse first; or an int: :func:`monitor_bands`)."""

    def __init__(self, bands: int | Sequence[str] = 3):
        names = monitor_bands(bands) if isinstance(bands, int) and not isinstance(bands, bool) else tuple(bands)
        if len(names) < 2 or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"bands must be an int 2..4 or at least 2 unique non-empty names, got {bands!r}")
        self.bands = names
        self.steps: list[int] = []
        self._raw: dict[str, dict[int, object]] = {q: {} for q in QUANTITIES}
        self._cache: dict[str, np.ndarray] | None = None

    @property
    def m(self) -> int:
        return len(self.bands)

    def __len__(self) -> int:
        return len(self.steps)

    def _shape(self, name: str) -> tuple:
        return (self.m,) if name in PER_BAND else (self.m, self.m) if name in PAIRWISE else ()

    def record(self, step: int, **values) -> None:
        """Append one record at ``step`` (an int above the last one); ``values``: quantities of :data:`QUANTITIES`."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or (self.steps and step <= self.steps[-1]):
            raise ValueError(f"step must be an int above the last recorded step {self.steps[-1:] or '(none)'}, got {step!r}")
        unknown = sorted(set(values) - set(QUANTITIES))
        if unknown:
            raise ValueError(f"unknown monitor quantities {unknown}; known: {QUANTITIES}")
        checked = {}
        for name, v in values.items():
            if v is None:
                continue
            if isinstance(v, torch.Tensor):
                if v.is_complex() or tuple(v.shape) != self._shape(name):
                    raise ValueError(f"{name} must be a real tensor of shape {self._shape(name)}, got {v.dtype} {tuple(v.shape)}")
                checked[name] = v.detach().clone()  # async copy: later in-place edits do not leak in
            else:
                a = np.asarray(v, dtype=np.float64)
                if a.shape != self._shape(name):
                    raise ValueError(f"{name} must have shape {self._shape(name)} ({self.m} bands), got {a.shape}")
                checked[name] = _check_values(name, a)
        row = len(self.steps)
        self.steps.append(int(step))
        for name, v in checked.items():
            self._raw[name][row] = v
        self._cache = None

    def arrays(self) -> dict[str, np.ndarray]:
        """Every quantity as float64 numpy, ``(S,)``, ``(S, M)`` or ``(S, M, M)`` (NaN where not recorded); cached."""
        if self._cache is None:
            out = {"step": np.asarray(self.steps, dtype=np.int64)}
            for name, raw in self._raw.items():
                a = np.full((len(self.steps),) + self._shape(name), np.nan)
                tensors = {r: v for r, v in raw.items() if isinstance(v, torch.Tensor)}
                if tensors:  # one stack and one host copy per quantity
                    host = torch.stack([t.float() for t in tensors.values()]).cpu().double().numpy()
                    a[list(tensors)] = _check_values(name, host)
                for r, v in raw.items():
                    if not isinstance(v, torch.Tensor):
                        a[r] = v
                out[name] = a
            self._cache = out
        return self._cache

    def recorded(self, name: str) -> np.ndarray:
        """Boolean ``(S,)``: the rows where ``name`` was given."""
        if name not in QUANTITIES:
            raise ValueError(f"unknown monitor quantity {name!r}; known: {QUANTITIES}")
        mask = np.zeros(len(self.steps), dtype=bool)
        mask[list(self._raw[name])] = True
        return mask

    def series(self, name: str, band: str | int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of the rows where ``name`` was recorded; ``band`` picks one band's column (or row of a pair)."""
        mask = self.recorded(name)
        values = self.arrays()[name][mask]
        if band is not None:
            if name in SCALARS:
                raise ValueError(f"{name} is a scalar: it has no band")
            values = values[:, self.band_index(band)]
        return self.arrays()["step"][mask], values

    def band_index(self, band: str | int) -> int:
        if isinstance(band, str) and band in self.bands:
            return self.bands.index(band)
        if isinstance(band, (int, np.integer)) and not isinstance(band, bool) and -self.m <= band < self.m:
            return int(band) % self.m
        raise ValueError(f"unknown band {band!r}; bands are {self.bands}")


def _check_values(name: str, a: np.ndarray) -> np.ndarray:
    """Range checks on the finite entries (NaN/inf pass: alerts catch them); returns ``a``."""
    f = a[np.isfinite(a)]
    if name in _NONNEG and np.any(f < 0):
        raise ValueError(f"{name} must be >= 0, got min {f.min():.3g}")
    if name in _UNIT and np.any((f < -1e-6) | (f > 1 + 1e-6)):
        raise ValueError(f"{name} must lie in [0, 1], got range [{f.min():.3g}, {f.max():.3g}]")
    if name in _SUMS_TO_ONE:
        s = a.sum(-1)
        if np.any(np.isfinite(s) & (np.abs(s - 1) > 1e-3)):
            raise ValueError(f"{name} must sum to 1 over bands (last axis), got sums {np.unique(np.round(s, 4))[:5]}")
    if name == "error_content":
        s = a.sum((-2, -1))
        if np.any(np.isfinite(s) & (np.abs(s - 1) > 1e-3)):
            raise ValueError(f"{name} must sum to 1 over both band axes, got sums {np.unique(np.round(s, 4))[:5]}")
    return a


# ---- probes: tensors in, tensors out, no host sync -------------------------------------------

def routing_stats(gates: torch.Tensor, dim: int = -1) -> dict[str, torch.Tensor]:
    """``usage (M,)``, ``routing_entropy`` (mean per-token entropy / log M) and ``switch`` of gates ``(..., M)``.

    Uses :mod:`~spectral_manifolds.hierarchy.routing_losses` (``usage``, ``entropy``,
    ``switch_loss``); the seed's gates ``(B, M, H, W)`` take ``dim=1``.
    """
    m = gates.shape[dim]
    return {"usage": routing_losses.usage(gates, dim).detach(),
            "routing_entropy": (routing_losses.entropy(gates, dim) / math.log(m)).detach(),
            "switch": routing_losses.switch_loss(gates, dim).detach()}


def frequency_content(outputs: torch.Tensor, bands: int | Sequence[float] = 3, masks="cosine") -> torch.Tensor:
    """§8.1 "frequency content per manifold": ``outputs (B, M, T, N, N)`` or ``(M, T, N, N)`` -> ``(M, M)``.

    Row i: band i's output decomposed with ``masks`` (:func:`~spectral_manifolds.hierarchy.bands.decompose`),
    energy per band (:func:`~spectral_manifolds.hierarchy.bands.band_energy`) summed over the batch, normalized
    to sum 1 (a zero output gives NaN). With ``"hard"`` masks the band energies add exactly.
    """
    x = outputs.detach()
    if x.ndim == 4:
        x = x[None]
    if x.ndim != 5:
        raise ValueError(f"outputs must have shape (B, M, T, N, N) or (M, T, N, N), got {tuple(outputs.shape)}")
    e = torch.stack([band_energy(decompose(x[:, i], bands, masks)).sum(0) for i in range(x.shape[1])])
    if e.shape[0] != e.shape[1]:
        raise ValueError(f"{x.shape[1]} band outputs but the masks give {e.shape[1]} bands")
    return e / e.sum(-1, keepdim=True)


def error_content(outputs: torch.Tensor, targets: torch.Tensor, bands: int | Sequence[float] = 3,
                  masks="hard") -> torch.Tensor:
    """Frequency content of the per-band losses: ``outputs``, ``targets`` ``(B, M, N, N)`` -> ``(M, M)``.

    Entry ``[i, j]``: the energy of band i's error ``outputs[:, i] - targets[:, i]`` (its prediction
    minus the target its loss term uses) in band j's frequencies (``masks`` of ``bands``,
    :func:`~spectral_manifolds.hierarchy.bands.decompose`), over the sum of all entries: the matrix
    sums to 1. With the default ``"hard"`` (0/1) masks at fixed cut-offs the entries split the
    summed per-band MSE exactly (Parseval). A band-limited output cannot reduce the part of its loss
    outside its own band, so the off-diagonal of row i is loss that band i's manifold can never
    remove: a target that holds another band's frequencies. Also ``(B, M, T, N, N)``; zero error: NaN.
    """
    if outputs.shape != targets.shape or outputs.ndim not in (4, 5):
        raise ValueError(f"outputs and targets must both have shape (B, M, N, N) or (B, M, T, N, N), "
                         f"got {tuple(outputs.shape)} and {tuple(targets.shape)}")
    err = outputs.detach() - targets.detach().to(outputs.dtype)
    x = err[:, :, None] if err.ndim == 4 else err
    e = torch.stack([band_energy(decompose(x[:, i], bands, masks)).sum(0) for i in range(x.shape[1])])
    if e.shape[0] != e.shape[1]:
        raise ValueError(f"{x.shape[1]} band errors but the masks give {e.shape[1]} bands")
    return e / e.sum()


def _flat(params) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).float() for p in params])


def ema_divergence(live, averaged) -> torch.Tensor:
    """Relative EMA divergence per band ``||theta_ema - theta|| / ||theta||``: ``(M,)``.

    ``live``: the M band modules; ``averaged``: their ``AveragedModel`` EMAs
    (:func:`~spectral_manifolds.hierarchy.per_band.band_ema`) or plain modules of the same layout.
    """
    live, averaged = list(live), list(averaged)
    if len(live) != len(averaged):
        raise ValueError(f"{len(live)} live modules but {len(averaged)} EMA models")
    out = []
    for a, b in zip(live, averaged):
        b = getattr(b, "module", b)
        pa, pb = _flat(a.parameters()), _flat(b.parameters())
        if pa.shape != pb.shape:
            raise ValueError(f"EMA model has {pb.numel()} parameters but the live band {pa.numel()}")
        out.append(torch.linalg.vector_norm(pb - pa) / torch.linalg.vector_norm(pa).clamp_min(1e-30))
    return torch.stack(out)


def grad_norms(modules) -> torch.Tensor:
    """Total L2 gradient norm per module (parameters without a gradient skipped): ``(M,)``; clip after, or
    use the pre-clip norms that :func:`~spectral_manifolds.hierarchy.per_band.clip_band_grads` returns (floats: a sync)."""
    norms = []
    for mod in modules:
        g = [torch.linalg.vector_norm(p.grad.detach().float()) for p in mod.parameters() if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack(g)) if g else torch.zeros(()))
    return torch.stack(norms)


def attention_entropy(band_weights: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Entropy of each query band's attention over the bands it sees, over log(#seen): ``(M, M) -> (M,)`` in [0, 1].

    ``band_weights``: ``CrossManifoldAttention.last_band_weights`` (mass band i gives band j,
    averaged over batch, heads, pixels); ``mask``: the topology (``.mask``). 1 = uniform. The
    entropy of averaged weights bounds the mean per-token entropy from above (concavity), so
    sharp per-pixel attention that averages to uniform also reads 1. A band seeing one band reads NaN.
    """
    w = band_weights.detach().float()
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"band_weights must have shape (M, M), got {tuple(band_weights.shape)}")
    mask = torch.ones_like(w, dtype=torch.bool) if mask is None else mask.to(device=w.device, dtype=torch.bool)
    w = torch.where(mask, w, torch.zeros_like(w))
    w = w / w.sum(-1, keepdim=True)
    h = -(w * torch.log(w.clamp_min(torch.finfo(w.dtype).tiny))).sum(-1)
    return h / torch.log(mask.sum(-1).float())
