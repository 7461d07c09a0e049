"""Measuring what the phases of a trained flat CV-KAN encode: interventions, position, class, probes.

Seed 003_65b12435998d9bd4.txt, "Open Research Questions", "Phase Encoding Semantics":
"What do phase values encode after training? Do phases cluster around certain angles for
semantic classes? Is there a relationship between phase and token position?"; issue 8,
chapter 6, adds "interventions that randomize phase keeping magnitude (and the reverse)".
The runs that use these measurements are in :mod:`spectral_manifolds.experiments.cvkan_phases`.

Everything reads the token states of a flat ``CVKAN`` (blocks and norms, no hierarchy),
``[Z_0 (input), Z_1, ..., Z_K]``, each complex ``(B, N, d)`` (``B`` samples, ``N`` tokens,
``d`` channels); pooled states are ``(B, d)``:

* :func:`states` -- the states ``[Z_0, ..., Z_K]`` on the CPU (:func:`pooled_states`: each pooled);
  :func:`forward_from` continues the model from state ``k`` to its logits ``(B, out_dim)``
  (:func:`accuracy` scores them); :func:`exact_checks` measures the two identities the
  interventions rest on (continuation, permutation equivariance).
* :func:`shuffle` -- an intervention: phases (or magnitudes) of one state permuted across
  all entries of the test set, the other part kept; it keeps the marginal distribution
  and destroys any link to the label.
* :func:`circular_linear` -- Mardia's circular-linear correlation of the token index with
  the phase; under independence ``M r^2 -> chi^2_2`` for ``M`` iid pairs, so
  ``E r ~ sqrt(pi / (2 M))`` (:func:`null_correlation`). :func:`signal_first` moves the signal
  tokens to fixed positions: the positive control.
* :func:`resultant_length` -- the mean resultant length per class of the pooled phases
  (``E R ~ sqrt(pi / (4 n))`` for ``n`` uniform angles, :func:`null_resultant`); :func:`probe` --
  a logistic probe on :func:`probe_features`, ``(cos, sin)`` of the pooled phases or ``log`` of
  their magnitudes (chance 50 % on two balanced classes).
"""

from __future__ import annotations

import numpy as np
import torch

from spectral_manifolds import validate

__all__ = ["KINDS", "signal_first", "states", "pooled_states", "forward_from", "accuracy", "exact_checks", "shuffle",
           "circular_linear", "null_correlation", "resultant_length", "null_resultant", "probe_features", "probe"]

KINDS = ("phase", "magnitude")


def signal_first(z: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Reorder each sample's tokens so that its signal tokens come first (order kept otherwise).

    ``z: (B, N, d)``, ``signal: (B, N)`` bool -> ``(B, N, d)``: the positive control of the
    phase-vs-position measurement (signal at fixed positions 0..n_signal-1)."""
    z, signal = np.asarray(z), np.asarray(signal, bool)
    if z.ndim != 3 or signal.shape != z.shape[:2]:
        raise ValueError(f"z must be (B, N, d) and signal (B, N), got {z.shape} and {signal.shape}")
    order = np.argsort(~signal, axis=1, kind="stable")
    return np.take_along_axis(z, order[:, :, None], axis=1)


# --------------------------------------------------------------------------- the model's states
def _flat(model) -> None:
    if getattr(model, "hierarchy", None) is not None or not hasattr(model, "blocks"):
        raise ValueError("forward_from needs a flat CVKAN (blocks and norms, no hierarchy)")


@torch.no_grad()
def states(model, z, *, batch_size: int = 1024) -> list:
    """``[Z_0, ..., Z_K]`` of a CVKAN (``model.tokens``) for complex ``z: (B, N, d)``, each a
    (B, N, d) complex tensor on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    z = torch.as_tensor(z)
    parts = [model.tokens(z[i: i + batch_size].to(device)) for i in range(0, len(z), batch_size)]
    return [torch.cat([p[k] for p in parts]).cpu() for k in range(len(parts[0]))]


def pooled_states(model, zs: list) -> list:
    """``model.pooled`` of each state in ``zs`` (each complex ``(B, N, d)``) -> a list of ``(B, d)``
    complex numpy arrays (computed on the model's device)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return [model.pooled(z.to(device)).cpu().numpy() for z in zs]


@torch.no_grad()
def forward_from(model, z: torch.Tensor, k: int, *, batch_size: int = 1024) -> torch.Tensor:
    """Logits ``(B, out_dim)`` of a flat CVKAN continued from its state ``k`` (0 = input tokens):
    blocks ``k+1..K`` (each with its norm), pooling, ``|.|``, head. ``forward_from(m, states(m, x)[k], k)
    == m(x)`` for every ``k``."""
    _flat(model)
    if not (isinstance(k, int) and 0 <= k <= len(model.blocks)):
        raise ValueError(f"k must be an int in 0..{len(model.blocks)}, got {k!r}")
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(z), batch_size):
        h = z[i: i + batch_size].to(device)
        for block, norm in zip(list(model.blocks)[k:], list(model.norms)[k:]):
            h = norm(block(h))
        out.append(model.head(model.pooled(h).abs()).cpu())
    return torch.cat(out)


def accuracy(logits: torch.Tensor, y) -> float:
    """Fraction of ``argmax(logits: (B, C))`` equal to the labels ``y: (B,)``, as an exact count ratio
    (the same number :func:`~spectral_manifolds.cvkan.train.train_classifier` reports for the same
    predictions: a float32 mean on two devices can differ in the last bit)."""
    y = torch.as_tensor(np.asarray(y))
    return int((logits.argmax(-1).cpu() == y).sum()) / len(y)


@torch.no_grad()
def exact_checks(model, z, seed: int = 0) -> dict:
    """Two identities the measurements rest on, as the largest absolute deviation (float32):

    * ``forward_from``: ``max_k |forward_from(model, Z_k, k) - model(z)|`` over the states;
    * permutation equivariance: ``max_k |tokens(z[:, pi])_k - tokens(z)_k[:, pi]|`` for a random
      token permutation ``pi`` (mean aggregation, broadcast update and centre magnitudes treat
      every token alike, and there is no positional encoding)."""
    z = torch.as_tensor(z)
    st = states(model, z)
    logits = model(z)
    perm = torch.randperm(z.shape[1], generator=torch.Generator().manual_seed(int(seed)))
    st_perm = states(model, z[:, perm])
    return {"forward_from vs forward": max(float((forward_from(model, s, k) - logits).abs().max()) for k, s in enumerate(st)),
            "permuted tokens vs permuted states": max(float((a - b[:, perm]).abs().max()) for a, b in zip(st_perm, st))}


def shuffle(z: torch.Tensor, kind: str, seed: int = 0) -> torch.Tensor:
    """Permute the phases (``kind="phase"``) or the magnitudes (``"magnitude"``) of complex
    ``z: (B, N, d)`` across all its ``B N d`` entries, keeping the other part entry by entry.

    The multiset of phases (magnitudes) is unchanged; which sample, token and channel holds
    which value is random. One ``torch.Generator`` seeded with ``seed``."""
    validate.choice("kind", kind, KINDS)
    if not (isinstance(z, torch.Tensor) and z.is_complex()):
        raise ValueError("shuffle needs a complex torch tensor")
    mag, phase = z.abs(), torch.angle(z)
    perm = torch.randperm(z.numel(), generator=torch.Generator().manual_seed(int(seed))).to(z.device)
    if kind == "phase":
        phase = phase.reshape(-1)[perm].reshape(z.shape)
    else:
        mag = mag.reshape(-1)[perm].reshape(z.shape)
    return torch.polar(mag, phase)


# --------------------------------------------------------------------------- statistics
def circular_linear(x, theta) -> np.ndarray:
    """Mardia's circular-linear correlation of a linear ``x: (M,)`` with angles ``theta: (M, C)``, per column.

    ``r^2 = (r_xc^2 + r_xs^2 - 2 r_xc r_xs r_cs) / (1 - r_cs^2)`` with the Pearson correlations of
    ``x``, ``cos theta``, ``sin theta``: the R^2 of regressing ``x`` on ``(cos theta, sin theta)``.
    Returns ``r: (C,)`` in [0, 1]."""
    x = np.asarray(x, float).ravel()
    theta = np.asarray(theta, float)
    theta = theta[:, None] if theta.ndim == 1 else theta
    if theta.ndim != 2 or len(theta) != len(x) or len(x) < 3 or np.std(x) == 0:
        raise ValueError(f"need x (M,) with M >= 3 and spread, theta (M, C); got {x.shape}, {theta.shape}")
    c, s = np.cos(theta), np.sin(theta)

    def corr(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0) + 1e-300)

    xc, xs, cs = corr(x[:, None], c), corr(x[:, None], s), corr(c, s)
    r2 = (xc ** 2 + xs ** 2 - 2 * xc * xs * cs) / np.maximum(1 - cs ** 2, 1e-12)
    return np.sqrt(np.clip(r2, 0.0, 1.0))


def null_correlation(m: int) -> float:
    """``E r`` of :func:`circular_linear` for ``m`` independent pairs (``m r^2 ~ chi^2_2``): ``sqrt(pi / (2 m))``."""
    validate.positive_int("m", m)
    return float(np.sqrt(np.pi / (2 * m)))


def resultant_length(p, y) -> dict:
    """Mean resultant length of the phases of ``p: (B, d)`` complex, per class of ``y: (B,)``,
    averaged over channels: ``{class: mean_c |mean_{b in class} p_bc / |p_bc||}`` (1: every sample of
    the class at one angle per channel; ``~ sqrt(pi / (4 n))`` for ``n`` uniform angles)."""
    p, y = np.asarray(p), np.asarray(y)
    if p.ndim != 2 or y.shape != (len(p),):
        raise ValueError(f"p must be (B, d) and y (B,), got {p.shape} and {y.shape}")
    u = np.exp(1j * np.angle(p))
    return {int(c): float(np.abs(u[y == c].mean(0)).mean()) for c in np.unique(y)}


def null_resultant(n: int) -> float:
    """``E R`` for ``n`` uniform angles (``2 n R^2 -> chi^2_2``): ``sqrt(pi / (4 n))``."""
    validate.positive_int("n", n)
    return float(np.sqrt(np.pi / (4 * n)))


def probe_features(p, kind: str) -> np.ndarray:
    """``p: (B, d)`` complex -> ``(B, 2d)`` ``[cos arg p, sin arg p]`` (``"phase"``) or ``(B, d)``
    ``log(|p| + 1e-12)`` (``"magnitude"``)."""
    validate.choice("kind", kind, KINDS)
    p = np.asarray(p)
    if kind == "phase":
        a = np.angle(p)
        return np.concatenate([np.cos(a), np.sin(a)], axis=1)
    return np.log(np.abs(p) + 1e-12)


def probe(f_train, y_train, f_test, y_test) -> float:
    """Test accuracy of sklearn's ``LogisticRegression`` (C = 1, liblinear, standardized features)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(solver="liblinear", max_iter=2000))
    clf.fit(np.asarray(f_train), np.asarray(y_train))
    return float(clf.score(np.asarray(f_test), np.asarray(y_test)))
