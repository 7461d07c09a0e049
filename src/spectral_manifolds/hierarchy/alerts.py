"""The alerts of seed 004 §8.3, each a named rule with its threshold, on a :class:`MonitorHistory`.

§8.3 (the seed's table, condition -> action)::

    Coarse manifold loss increasing    Reduce LR, check data
    Routing entropy < 0.3              Increase entropy reg
    One manifold has >80% of traffic   Check routing init
    Fine manifold gradients exploding  Clip gradients, reduce LR
    Coarse manifold EMA diverging      Something is wrong, stop and investigate
    Cross-attention weights uniform    Attention not learning, check temperature
    Frequency content misrouted        Increase spectral reg

The seed gives two thresholds (entropy 0.3, traffic 80 %) and no windows. Every other number
below is ours, a documented default (``source="ours"``) that a chapter may calibrate on a
healthy run. Each rule is evaluated causally on its quantity's recorded rows (what a live
monitor sees at each step); a run of consecutive firing rows is one :class:`Alert`.

===========================  ==================  ========================================  =========
rule                          quantity            fires when                                default
===========================  ==================  ========================================  =========
coarse_loss_increasing        loss[coarse]        mean(last half)/mean(first half) - 1 of    0.1, w=20
                                                  the last ``window`` records > threshold
routing_entropy_low           routing_entropy     < threshold on ``window`` records (§8.3)   0.3, w=5
traffic_concentrated          usage[i]            > threshold on ``window`` records (§8.3)   0.8, w=5
fine_grad_exploding           grad_norm[fine]     > threshold x median of the previous       10, w=20
                                                  ``window`` records, or not finite
coarse_ema_diverging          ema_divergence      > threshold on ``window`` records, or      0.05, w=3
                              [coarse]            not finite (relative L2 of weights)
attention_uniform             attention_entropy   every band >= threshold on ``window``      0.99, w=50
                                                  records (1 = uniform over seen bands)
frequency_misrouted           error_content[i,:]  band i's loss outside band i's frequencies, 0.25, w=5
                                                  as a share of the total loss, > threshold
                                                  on ``window`` records
non_finite (ours, not §8.3)   loss, total_loss,   any recorded value NaN or inf              w=1
                              grad_norm, ema_div
===========================  ==================  ========================================  =========

``frequency_misrouted`` reads the frequency content of the per-band *losses* (``error_content``,
:func:`~spectral_manifolds.hierarchy.monitor.error_content`: band i's squared error, prediction
minus the target its loss term uses, split by fixed frequency band, over the total loss), not the
seed's content of each band's *output* (``freq_content``). The model band-limits each output
(``band_limited=True``), so an output's own-band share is about 1 whatever it learned and cannot
show a misrouting (issue 9). The loss can: band i's loss outside band i's frequencies is loss its
manifold can never remove, a target holding another band's frequencies. This reads the targets
directly, so it fires as soon as a target is misrouted, whatever the model learned: decided by
construction. The threshold 0.25 is ours.

``routing_entropy_low`` reads the seed's per-token entropy (``which="token"``). A confident,
balanced router has low per-token entropy, so this seed rule also fires on healthy
specialization (issue 9); ``which="marginal"`` reads H(usage) / log M instead.

:func:`check_all` applies a rule set to a history. Tabulating and scoring alerts
(:func:`alert_table`, :class:`AlertScore`, :func:`score_alerts`) live in
:mod:`~spectral_manifolds.hierarchy.alert_scoring` and are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from spectral_manifolds.hierarchy.monitor import MonitorHistory

__all__ = ["Alert", "Rule", "CoarseLossIncreasing", "RoutingEntropyLow", "TrafficConcentrated", "FineGradExploding",
           "CoarseEmaDiverging", "AttentionUniform", "FrequencyMisrouted", "NonFinite", "SEED_RULES", "DEFAULT_RULES",
           "check_all", "alert_table", "AlertScore", "score_alerts"]


@dataclass(frozen=True)
class Alert:
    """One alert episode: ``rule`` fired on ``quantity`` (of ``band``) from step ``start`` to ``end``; ``value`` at onset."""
    rule: str
    condition: str
    action: str
    quantity: str
    band: str | None
    start: int
    end: int
    value: float
    threshold: float


def _sustained(cond: np.ndarray, window: int) -> np.ndarray:
    """``out[t]`` = cond held on rows ``t-window+1 .. t`` (False before ``window`` rows)."""
    c = np.asarray(cond, dtype=int)
    if c.size == 0:
        return np.zeros(0, dtype=bool)
    return np.convolve(c, np.ones(window, dtype=int))[: c.size] == window


def _episodes(rule: "Rule", quantity: str, band, steps, stat, fire) -> list[Alert]:
    out, t = [], 0
    while t < fire.size:
        if fire[t]:
            e = t
            while e + 1 < fire.size and fire[e + 1]:
                e += 1
            out.append(Alert(rule.name, rule.condition, rule.action, quantity, band, int(steps[t]), int(steps[e]),
                             float(stat[t]), float(rule.threshold)))
            t = e + 1
        else:
            t += 1
    return out


@dataclass(frozen=True)
class Rule:
    """A §8.3 alert: ``name``, the seed's ``condition`` and ``action``, the ``quantity`` read, ``threshold``, ``window``."""
    name: str = "rule"
    condition: str = ""
    action: str = ""
    quantity: str = ""
    threshold: float = 0.0
    window: int = 1
    source: str = "ours"
    absolute: bool = True  # threshold in the quantity's units (False: a ratio or rise)

    def __post_init__(self):
        if isinstance(self.window, bool) or not isinstance(self.window, (int, np.integer)) or self.window < 1:
            raise ValueError(f"{self.name}: window must be a positive int, got {self.window!r}")
        if not math.isfinite(self.threshold):
            raise ValueError(f"{self.name}: threshold must be finite, got {self.threshold!r}")

    def _evaluate(self, h: MonitorHistory) -> list[tuple]:
        """``[(quantity, band, steps, stat, fire)]`` per series the rule watches."""
        raise NotImplementedError

    def check(self, history: MonitorHistory) -> list[Alert]:
        """The alert episodes on ``history`` (empty when the quantity was never recorded)."""
        if not isinstance(history, MonitorHistory):
            raise ValueError(f"{self.name}: history must be a MonitorHistory, got {type(history).__name__}")
        return [a for q, b, s, stat, fire in self._evaluate(history) for a in _episodes(self, q, b, s, stat, fire)]


@dataclass(frozen=True)
class CoarseLossIncreasing(Rule):
    name: str = "coarse_loss_increasing"
    condition: str = "Coarse manifold loss increasing"
    action: str = "Reduce LR, check data"
    quantity: str = "loss"
    threshold: float = 0.1
    window: int = 20
    absolute: bool = False
    band: str = "coarse"

    def _evaluate(self, h):
        if self.window < 2:
            raise ValueError(f"{self.name}: window must be >= 2 (two halves), got {self.window}")
        steps, v = h.series(self.quantity, self.band)
        rise = np.full(v.size, np.nan)
        k = self.window // 2
        for t in range(self.window - 1, v.size):
            w = v[t - self.window + 1: t + 1]
            rise[t] = w[-k:].mean() / max(w[:k].mean(), 1e-30) - 1
        return [(self.quantity, self.band, steps, rise, np.nan_to_num(rise, nan=-np.inf) > self.threshold)]


@dataclass(frozen=True)
class RoutingEntropyLow(Rule):
    name: str = "routing_entropy_low"
    condition: str = "Routing entropy < 0.3"
    action: str = "Increase entropy reg"
    quantity: str = "routing_entropy"
    threshold: float = 0.3
    window: int = 5
    source: str = "§8.3 (threshold), ours (window, entropy / log M)"
    which: str = "token"

    def _evaluate(self, h):
        if self.which == "token":
            steps, v = h.series("routing_entropy")
        elif self.which == "marginal":
            steps, u = h.series("usage")
            v = -(u * np.log(np.clip(u, 1e-300, None))).sum(-1) / math.log(h.m)
        else:
            raise ValueError(f"which must be 'token' or 'marginal', got {self.which!r}")
        return [(self.quantity, None, steps, v, _sustained(v < self.threshold, self.window))]


@dataclass(frozen=True)
class TrafficConcentrated(Rule):
    name: str = "traffic_concentrated"
    condition: str = "One manifold has >80% of traffic"
    action: str = "Check routing init"
    quantity: str = "usage"
    threshold: float = 0.8
    window: int = 5
    source: str = "§8.3 (threshold), ours (window)"

    def _evaluate(self, h):
        steps, u = h.series(self.quantity)
        return [(self.quantity, b, steps, u[:, i], _sustained(u[:, i] > self.threshold, self.window))
                for i, b in enumerate(h.bands)]


@dataclass(frozen=True)
class FineGradExploding(Rule):
    name: str = "fine_grad_exploding"
    condition: str = "Fine manifold gradients exploding"
    action: str = "Clip gradients, reduce LR"
    quantity: str = "grad_norm"
    threshold: float = 10.0
    window: int = 20
    absolute: bool = False
    band: str = "fine"

    def _evaluate(self, h):
        steps, g = h.series(self.quantity, self.band)
        ratio = np.full(g.size, np.nan)
        for t in range(max(1, self.window // 2), g.size):
            past = g[max(0, t - self.window): t]
            med = np.median(past[np.isfinite(past)]) if np.isfinite(past).any() else np.nan
            ratio[t] = g[t] / max(med, 1e-30) if np.isfinite(g[t]) else np.inf
        return [(self.quantity, self.band, steps, ratio, ~np.isfinite(g) | (np.nan_to_num(ratio, nan=0.0) > self.threshold))]


@dataclass(frozen=True)
class CoarseEmaDiverging(Rule):
    name: str = "coarse_ema_diverging"
    condition: str = "Coarse manifold EMA diverging"
    action: str = "Something is wrong, stop and investigate"
    quantity: str = "ema_divergence"
    threshold: float = 0.05
    window: int = 3
    band: str = "coarse"

    def _evaluate(self, h):
        steps, d = h.series(self.quantity, self.band)
        bad = ~np.isfinite(d)
        return [(self.quantity, self.band, steps, d, bad | _sustained(bad | (d > self.threshold), self.window))]


@dataclass(frozen=True)
class AttentionUniform(Rule):
    name: str = "attention_uniform"
    condition: str = "Cross-attention weights uniform"
    action: str = "Attention not learning, check temperature"
    quantity: str = "attention_entropy"
    threshold: float = 0.99
    window: int = 50

    def _evaluate(self, h):
        steps, e = h.series(self.quantity)
        low = np.nanmin(np.where(np.isnan(e), np.inf, e), axis=-1) if e.size else np.zeros(0)
        low = np.where(np.isinf(low), np.nan, low)
        return [(self.quantity, None, steps, low, _sustained(low >= self.threshold, self.window))]


@dataclass(frozen=True)
class FrequencyMisrouted(Rule):
    name: str = "frequency_misrouted"
    condition: str = "Frequency content misrouted"
    action: str = "Increase spectral reg"
    quantity: str = "error_content"
    threshold: float = 0.25
    window: int = 5

    def _evaluate(self, h):
        steps, e = h.series(self.quantity)
        off = e.sum(-1) - np.diagonal(e, axis1=-2, axis2=-1)  # (S, M): band i's loss outside band i, over the total
        return [(self.quantity, b, steps, off[:, i], _sustained(np.nan_to_num(off[:, i]) > self.threshold, self.window))
                for i, b in enumerate(h.bands)]


@dataclass(frozen=True)
class NonFinite(Rule):
    name: str = "non_finite"
    condition: str = "(ours, not in §8.3) a loss, gradient norm or EMA divergence is NaN or inf"
    action: str = "Stop: the run has diverged"
    quantity: str = "loss, total_loss, grad_norm, ema_divergence"
    threshold: float = 0.0
    window: int = 1
    absolute: bool = False

    def _evaluate(self, h):
        out = []
        for q in ("loss", "total_loss", "grad_norm", "ema_divergence"):
            steps, v = h.series(q)
            bad = ~np.isfinite(v) if v.ndim == 1 else ~np.isfinite(v).all(-1)
            out.append((q, None, steps, bad.astype(float), bad))
        return out


SEED_RULES = (CoarseLossIncreasing(), RoutingEntropyLow(), TrafficConcentrated(), FineGradExploding(),
              CoarseEmaDiverging(), AttentionUniform(), FrequencyMisrouted())
DEFAULT_RULES = SEED_RULES + (NonFinite(),)


def check_all(history: MonitorHistory, rules: Sequence[Rule] = DEFAULT_RULES) -> list[Alert]:
    """Every rule's alerts on ``history``, sorted by start step (rule names must be unique)."""
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"rule names must be unique, got {names}")
    return sorted((a for r in rules for a in r.check(history)), key=lambda a: (a.start, a.rule))


# Re-exported (alert_scoring imports the rules above, so this import stays at the end).
from spectral_manifolds.hierarchy.alert_scoring import AlertScore, alert_table, score_alerts  # noqa: E402
