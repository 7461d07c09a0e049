"""Tables and scores of the §8.3 alerts (:mod:`~spectral_manifolds.hierarchy.alerts`) on recorded histories.

Seed 004 §8.3 gives the alerts as a table of conditions and actions (the rules, in
:mod:`~spectral_manifolds.hierarchy.alerts`); scoring their firings against labelled histories
(correct, missed, false) is ours (issue 9). A history is labelled with the rule (or set of
rules) its injected fault should trigger, or None for a healthy run.

* :func:`alert_table` -- one row per :class:`~spectral_manifolds.hierarchy.alerts.Alert`:
  columns rule, band, quantity, start, end, value (at onset), threshold, action.
* :func:`score_alerts` -- over ``(name, history, expected)`` items, one row per history
  (columns history, expected, fired, correct, missed, false) and the totals, as an
  :class:`AlertScore`. Counts are per (history, rule) pair.
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
    """Count rule firings against labels: ``labelled`` holds ``(name, history, expected)``.

    ``expected``: None (a healthy history: any firing rule is false), a rule name, or a set of
    rule names (the injected fault's). Counts are per (history, rule) pair: a rule that fires
    several episodes on one history counts once.
    """
    known = {r.name for r in rules}
    rows = []
    for item in labelled:
        if len(item) != 3:
            raise ValueError(f"each labelled item must be (name, history, expected), got {item!r}")
        name, h, expected = item
        exp = set() if expected is None else {expected} if isinstance(expected, str) else set(expected)
        if exp - known:
            raise ValueError(f"{name}: expected rules {sorted(exp - known)} are not among {sorted(known)}")
        fired = {a.rule for a in check_all(h, rules)}
        rows.append({"history": name, "expected": ", ".join(sorted(exp)) or "(healthy)",
                     "fired": ", ".join(sorted(fired)) or "-", "correct": len(fired & exp),
                     "missed": len(exp - fired), "false": len(fired - exp)})
    table = pd.DataFrame(rows, columns=["history", "expected", "fired", "correct", "missed", "false"])
    return AlertScore(int(table["correct"].sum()), int(table["missed"].sum()), int(table["false"].sum()), table)
