"""Chapter 5's probes of the seeds' spectral loss, run over seeds (seed 001_a78d46c299591382.txt).

* :func:`phase_blindness` -- §9: "the magnitude loss cannot tell a circle (sin, cos) from
  a line (sin, sin)". Per seed, a circle of random on-bin frequency, phase and radius
  against three impostors; the *separation* of a loss is ``loss(impostor) - loss(circle)``.
* :func:`bank_cancellation` -- the fractional bank's kernel cancels (chapter 5) only for
  the full linear convolution with uniform weights. Per seed (a fresh draw of the seeds'
  task), the relative spread of the per-gamma magnitude terms around the kernel-free
  term, for the seeds' full convolution, a truncated causal one, and magnitude weights.
* :func:`kernel_spectra` -- the range of ``|K_gamma(f)|`` of the seeds' kernels on the
  bank's FFT grid (deterministic).
* :func:`calibration` -- trivial predictions scored by the seeds' fidelity loss and the
  book's repaired one, per seed (a fresh draw of the task).

Every function returns per-seed values; chapter 5 decides with :func:`spectral_manifolds.report.compare`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

IMPOSTORS = ("line (sin, sin)", "reversed (sin, -cos)", "late circle (+1 rad)")


def _orbits(rng, T: int) -> dict:
    """A circle of random on-bin frequency, phase and radius, and its three impostors: (T, 2) each."""
    k = int(rng.integers(1, T // 4))
    phi = float(rng.uniform(0, 2 * np.pi))
    r = float(rng.uniform(0.5, 2.0))
    th = 2 * np.pi * k * np.arange(T) / T + phi
    pairs = {
        "circle (sin, cos)": (np.sin(th), np.cos(th)),
        "line (sin, sin)": (np.sin(th), np.sin(th)),
        "reversed (sin, -cos)": (np.sin(th), -np.cos(th)),
        "late circle (+1 rad)": (np.sin(th + 1), np.cos(th + 1)),
    }
    return {name: (r * np.stack(p, axis=1)).astype(np.float32) for name, p in pairs.items()}


def phase_blindness(seeds, T: int = 64) -> dict:
    """Separations ``loss(impostor) - loss(circle)`` per seed.

    Returns:
        ``{impostor: {"log-magnitude (floored)": (n,), "phase (weighted)": (n,)}}`` and
        ``"example"``: the orbits of the first seed.
    """
    from spectral_manifolds.losses import log_magnitude_loss, phase_consistency_loss

    out = {name: {"log-magnitude (floored)": [], "phase (weighted)": []} for name in IMPOSTORS}
    example = None
    for seed in seeds:
        orbits = _orbits(np.random.default_rng(seed), T)
        example = example or orbits
        circle = orbits["circle (sin, cos)"]
        base_mag = float(log_magnitude_loss(circle, circle, mag_floor=1e-3))
        base_phase = float(phase_consistency_loss(circle, circle))
        for name in IMPOSTORS:
            out[name]["log-magnitude (floored)"].append(float(log_magnitude_loss(orbits[name], circle, mag_floor=1e-3)) - base_mag)
            out[name]["phase (weighted)"].append(float(phase_consistency_loss(orbits[name], circle)) - base_phase)
    return {"separations": out, "example": example}


def _task(task, seed: int, n_samples: int):
    from spectral_manifolds.data.oscillators import seed_task

    return seed_task(dataclasses.replace(task, n_samples=n_samples, batch=min(task.batch, n_samples), seed=seed))


#: The variants of the bank whose cancellation :func:`bank_cancellation` measures.
BANK_VARIANTS = {
    "full convolution, uniform weights (the seeds')": dict(convolution="full", weighting="uniform"),
    "truncated causal convolution, uniform weights": dict(convolution="causal", weighting="uniform"),
    "full convolution, magnitude weights": dict(convolution="full", weighting="magnitude"),
}


def bank_cancellation(task, seeds, n_samples: int = 64) -> dict:
    """Spread of the bank's per-gamma magnitude terms, ``(max - min) / mean`` over gamma.

    Prediction: the input copied (the identity model), target: the clean next step. If the
    kernel cancels, every gamma gives the same term (spread ~ 0) and, for the full
    convolution, the term equals the kernel-free one on the same zero-padded grid.

    Returns:
        ``"spreads"``: ``{variant: (n,) spreads}``; ``"first_seed"``: ``{variant: {"terms": (G,),
        "kernel-free": float}}`` for the first seed (kernel-free on the variant's FFT grid).
    """
    from spectral_manifolds.losses import SEED_KERNEL_SIZE, fractional_fidelity_terms, log_magnitude_loss

    spreads = {name: [] for name in BANK_VARIANTS}
    first = {}
    for seed in seeds:
        data = _task(task, seed, n_samples)
        pred, target = data.x, data.y_next
        T = target.shape[1]
        for name, kw in BANK_VARIANTS.items():
            terms = np.asarray(fractional_fidelity_terms(pred, target, **kw)["magnitude"], np.float64)
            spreads[name].append(float(np.ptp(terms) / np.mean(terms)))
            if name not in first:
                n_fft = T + SEED_KERNEL_SIZE - 1 if kw["convolution"] == "full" else T
                plain = float(log_magnitude_loss(pred, target, n_fft=n_fft, weighting=kw["weighting"]))
                first[name] = {"terms": terms.tolist(), "kernel-free": plain}
    return {"spreads": spreads, "first_seed": first}


def kernel_spectra(T: int, gammas=None) -> list[dict]:
    """min and max of ``|K_gamma(f)|`` for the seeds' kernel on the bank's grid ``T + 127``."""
    import jax.numpy as jnp

    from spectral_manifolds.losses import SEED_GAMMAS, SEED_KERNEL_SIZE, fractional_kernel

    rows = []
    for g in gammas or SEED_GAMMAS:
        k = fractional_kernel(g, SEED_KERNEL_SIZE, "seed")
        K = np.abs(np.asarray(jnp.fft.rfft(k, n=T + k.shape[0] - 1)))
        rows.append({"γ": g, "min |K|": float(K.min()), "max |K|": float(K.max()), "max / min": float(K.max() / K.min())})
    return rows


def trivial_predictions(data, rng) -> dict:
    """Predictions of the clean next step that need no training: name -> (N, T, C)."""
    target = data.y_next
    return {
        "perfect (the target itself)": target,
        "clean current step (y_recon)": data.y_recon,
        "half the target": 0.5 * target,
        "copy the input (identity model)": data.x,
        "target averaged over the batch": np.broadcast_to(target.mean(axis=0, keepdims=True), target.shape),
        "white noise, target's RMS": rng.standard_normal(target.shape).astype(np.float32) * target.std(),
        "all zeros": np.zeros_like(target),
    }


def seed_figure_verdict(figure: float, values, *, entropy_max: float = 0.0):
    """Does the seed's reported loss beat a reference scored on our seeds?

    The seed's figure is one number; when it includes ``0.05 H`` with ``0 <= 0.05 H <=
    entropy_max``, its fidelity part lies in ``[figure - entropy_max, figure]``. Each end is
    compared with the per-seed ``values`` by :func:`spectral_manifolds.report.compare`
    (lower is better; the figure enters as a constant, so the interval is that of the
    reference's mean). Returns ``(verdict, comparisons)``: the common verdict of both ends,
    or "inconclusive" when they differ.
    """
    from spectral_manifolds import report

    values = list(values)
    ends = sorted({float(figure) - float(entropy_max), float(figure)})
    comparisons = [report.compare([e] * len(values), values, lower_is_better=True) for e in ends]
    verdicts = {c.verdict for c in comparisons}
    return (verdicts.pop() if len(verdicts) == 1 else report.INCONCLUSIVE), comparisons


def calibration(task, seeds, n_samples: int = 64) -> dict:
    """Scores of :func:`trivial_predictions` per loss, per seed.

    Returns:
        ``{loss: {prediction: (n,) values}}`` for the losses "seed fidelity" (no entropy
        term), "floored, uniform" and "repaired spectral_loss".
    """
    from spectral_manifolds.losses import seed_fidelity_loss, spectral_loss

    fns = {
        "seed fidelity": seed_fidelity_loss,
        "floored, uniform": lambda p, y: spectral_loss(p, y, weighting="uniform"),
        "repaired spectral_loss": spectral_loss,
    }
    out = {name: {} for name in fns}
    for seed in seeds:
        data = _task(task, seed, n_samples)
        preds = trivial_predictions(data, np.random.default_rng(seed))
        for name, fn in fns.items():
            for k, p in preds.items():
                out[name].setdefault(k, []).append(float(fn(p, data.y_next)))
    return out
