"""Chapter 14's verdicts on the seed's AMP diagnosis: counts of non-finite values, and fact rows.

Seed 003, "2026-01-20 AMP Breaks Complex Number Operations": "AMP causes NaN gradients with
complex-valued tensors. ``torch.amp.autocast`` casts intermediates to float16, losing precision
in complex magnitude calculations." Issue 8 ("AMP") adds three facts measured elsewhere.

* :func:`nonfinite_verdicts` -- "<precision> gives more non-finite losses (gradients) than fp32",
  ``report.compare`` on per-seed counts of steps with a non-finite loss (gradient), paired by seed;
* :func:`fact_rows` -- each yes/no statement of the seed and of issue 8, with what this run observed
  (computed from the runs, the capability probes, the dtype trace and the backward trace) and
  whether the statement holds on it;
* :func:`first_overflow` -- the first module, in backward order, whose gradient is not finite.
"""

from __future__ import annotations

import math

from spectral_manifolds import report
from spectral_manifolds.experiments.cvkan_precision import MODEL_LABELS, PRECISIONS, PrecisionResult, models_of

__all__ = ["nonfinite_verdicts", "first_overflow", "fact_rows"]

_COUNTS = {"loss": "n_nonfinite_loss", "gradient": "n_nonfinite_grad"}
_PLURAL = {"loss": "losses", "gradient": "gradients"}


def nonfinite_verdicts(result: PrecisionResult, what: str = "loss") -> list[dict]:
    """Per model and precision that ran in every seed: "<precision> gives more steps with a non-finite
    ``what`` ("loss" or "gradient", before the scaler skips the step) than fp32" (per-seed counts)."""
    if what not in _COUNTS:
        raise ValueError(f"what must be one of {tuple(_COUNTS)}, got {what!r}")
    key, out = _COUNTS[what], []
    for m in models_of(result):
        ref = result.rows("fp32", m)
        for prec in result.config["precisions"]:
            rows = result.rows(prec, m)
            if prec == "fp32" or any(r["status"] != "ok" for r in rows + ref):
                continue
            comp = report.compare([r[key] for r in rows], [r[key] for r in ref], lower_is_better=False)
            out.append(report.verdict_row(f"{MODEL_LABELS[m]}: {prec} gives more non-finite {_PLURAL[what]} than fp32",
                                          comp, a_name=prec, b_name="fp32", metric=f"steps with a non-finite {what} per run",
                                          seed_figure="'NaN gradients' (no count)"))
    return out


def first_overflow(trace: list[dict]) -> str | None:
    """The first row of a ``precision.backward_trace`` (backward order) with a non-finite entry; None if all finite."""
    for row in trace:
        if any(isinstance(v, float) and not math.isfinite(v) for k, v in row.items() if k.startswith("max")):
            return row["module"]
    return None


def _runs(result, precs, models):
    return [r for r in result.runs if r["precision"] in precs and r["parametrization"] in models]


def _yes(b: bool) -> str:
    return "yes" if b else "no"


def fact_rows(result: PrecisionResult, dtypes: list[dict] | None = None, trace: list[dict] | None = None, trace_seed: int | None = None) -> list[dict]:
    """One row per yes/no statement: ``statement``, ``source``, ``observed`` (computed here), ``holds here``.

    ``dtypes``: rows of ``precision.dtype_trace`` (module, fp32, bf16 autocast, fp16 autocast);
    ``trace``: rows of ``precision.backward_trace`` for seed ``trace_seed`` at step 0; rows that need
    them are left out when they are not given.
    """
    caps = {c["probe"]: c["result"] for c in result.capabilities}
    cv = tuple(m for m in ("complex", "real") if m in models_of(result))
    rows = []
    scaled = _runs(result, ("fp16 + GradScaler",), ("complex",))
    if scaled:
        raised = [r for r in scaled if r["status"].startswith("NotImplementedError") and r["error_step"] == 0]
        rows.append({"statement": "torch.amp.GradScaler.step raises for complex parameters", "source": "issue 8 (AMP)",
                     "observed": f"{len(raised)} of {len(scaled)} runs stopped at step 0 with: {scaled[0]['status']}",
                     "holds here": _yes(len(raised) == len(scaled))})
    probes = [caps.get(f"{p} autocast: complex64 matmul output dtype") for p in ("fp16", "bf16")]
    rows.append({"statement": "autocast leaves complex matmuls in complex64", "source": "issue 8 (AMP)",
                 "observed": f"fp16 autocast: {probes[0]}; bf16 autocast: {probes[1]}", "holds here": _yes(probes == ["complex64", "complex64"])})
    half = [p for p in ("fp16 + GradScaler", "bf16") if p in result.config["precisions"]]
    real = _runs(result, half, ("real",))
    bad = [r for r in real if r["status"] != "ok" or r["n_nonfinite_loss"]]
    rows.append({"statement": "real parameters train in fp16 + GradScaler and in bf16 with no non-finite loss", "source": "issue 8 (AMP)",
                 "observed": f"{len(real) - len(bad)} of {len(real)} runs trained to the end with every loss finite",
                 "holds here": _yes(real and not bad)})
    auto = [p for p, (dt, _) in PRECISIONS.items() if dt is not None and p in result.config["precisions"]]
    ok = [r for r in _runs(result, auto, cv) if r["status"] == "ok"]
    unscaled = [r for r in ok if not PRECISIONS[r["precision"]][1] and r["n_nonfinite_grad"]]
    skipped = [r for r in ok if PRECISIONS[r["precision"]][1] and r["n_nonfinite_grad"]]
    n_scaled = sum(PRECISIONS[r["precision"]][1] for r in ok)
    rows.append({"statement": "AMP causes NaN gradients with complex-valued tensors (in the CV-KAN)", "source": "seed 003",
                 "observed": f"non-finite gradient in {len(unscaled)} of {len(ok) - n_scaled} autocast runs without the scaler; "
                             f"in {len(skipped)} of {n_scaled} with it (steps the scaler skipped)",
                 "holds here": _yes(bool(unscaled)) + ("" if unscaled else " (only the scaled backward, skipped by design)" if skipped else "")})
    if "R" in models_of(result):
        r_ok = [r for r in _runs(result, auto, ("R",)) if r["status"] == "ok"]
        r_bad = [r for r in r_ok if r["n_nonfinite_grad"]]
        rows.append({"statement": "non-finite gradients also come in R, which has no complex tensor", "source": "this chapter",
                     "observed": f"{len(r_bad)} of {len(r_ok)} autocast runs of R (" + (", ".join(sorted({r['precision'] for r in r_bad})) or "none") + ")",
                     "holds here": _yes(bool(r_bad))})
    if dtypes:
        complex_rows = [d for d in dtypes if str(d.get("fp32", "")).startswith("complex")]
        seen = sorted({str(d.get("fp16 autocast")) for d in complex_rows})
        rows.append({"statement": "autocast casts complex intermediates to float16 (complex32)", "source": "seed 003",
                     "observed": f"{len(complex_rows)} complex module outputs in fp32; under fp16 autocast: {', '.join(seen)}",
                     "holds here": _yes(any(s in ("complex32", "float16") for s in seen))})
    if trace is not None:
        first = first_overflow(trace)
        where = "no non-finite value in this backward pass" if first is None else f"{first} (a real nn.Linear)"
        rows.append({"statement": "the first non-finite value arises in a complex magnitude", "source": "seed 003",
                     "observed": f"seed {trace_seed}, step 0, scaled fp16 backward: first non-finite gradient at {where}",
                     "holds here": "no" if first is not None else "not tested (nothing overflowed)"})
    return rows
