"""Tables and scores of the §8.3 alerts (:mod:`~spectral_manifolds.hierarchy.alerts`) on recorded histories.

Seed 004 §8.3 gives the alerts as a table of conditions and actions (the rules, in
:mod:`~spectral_manifolds.hierarchy.alerts`); scoring their firings against labelled histories
(correct, missed, false) is ours (issue 9). A history is labelled with the rule (or set of
rules) its injected fault should trigger, or None for a healthy run.

* :func:`alert_table` -- one row per :class:`~spectral_manifolds.hierarchy.alerts.Alert`:
  columns rule, band, quantity, start, end, value (at onset), threshold, action.
* :func:`score_alerts` -- over ``(name, history, expected)`` or ``(name, history, expected,
  fault_step)`` items, one row per history (columns history, expected, fired, correct,
  missed, false) and the totals, as an :class:`AlertScore`. Counts are per (history, rule)
  pair; with a ``fault_step``, an expected rule detects the fault only when an episode of it
  starts at or after that step (one already firing before it says nothing about the fault).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

from spectral_manifolds.hierarchy.alerts import DEFAULT_RULES, Alert, Rule, check_all

__all__ = ["alert_table", "AlertScore", "score_alerts"]


def alert_table(alerts: Iterable[Alert]) -> pd.DataFrame:
    """One row per alert: rule, band, quantity, start, end, value at onset, threshold, action."""
    cols = ["rule", "band", "quantity", "start", "end", "value", "threshold", "action"]
    return pd.DataFrame([{c: getattr(a, c) for c in cols} for a in alerts], columns=cols)


@dataclass(frozen=True)
class AlertScore:
    """Over labelled histories: ``correct`` (expected rule fired), ``missed``, ``false`` (a rule fired that was not expected)."""
    correct: int
    missed: int
    false: int
    table: pd.DataFrame


def score_alerts(labelled: Iterable[tuple], rules: Sequence[Rule] = DEFAULT_RULES) -> AlertScore:
    """Count rule firings against labels: ``labelled`` holds ``(name, history, expected)`` or
    ``(name, history, expected, fault_step)``.

    ``expected``: None (a healthy history: any firing rule is false), a rule name, or a set of
    rule names (the injected fault's). Counts are per (history, rule) pair: a rule that fires
    several episodes on one history counts once. ``fault_step`` (steps, as ``Alert.start``):
    an expected rule counts as correct only if one of its episodes starts at or after it; an
    expected rule whose episodes all start before it counts as missed and as false (it fired
    without the fault, and did not signal it).
    """
    known = {r.name for r in rules}
    rows = []
    for item in labelled:
        if len(item) not in (3, 4):
            raise ValueError(f"each labelled item must be (name, history, expected[, fault_step]), got {item!r}")
        name, h, expected = item[:3]
        fault_step = item[3] if len(item) == 4 else None
        exp = set() if expected is None else {expected} if isinstance(expected, str) else set(expected)
        if exp - known:
            raise ValueError(f"{name}: expected rules {sorted(exp - known)} are not among {sorted(known)}")
        alerts = check_all(h, rules)
        fired = {a.rule for a in alerts}
        detected = fired if fault_step is None else {a.rule for a in alerts if a.start >= fault_step}
        correct = fired & exp & detected
        rows.append({"history": name, "expected": ", ".join(sorted(exp)) or "(healthy)",
                     "fired": ", ".join(sorted(fired)) or "-", "correct": len(correct),
                     "missed": len(exp - correct), "false": len(fired - correct)})
    table = pd.DataFrame(rows, columns=["history", "expected", "fired", "correct", "missed", "false"])
    return AlertScore(int(table["correct"].sum()), int(table["missed"].sum()), int(table["false"].sum()), table)
