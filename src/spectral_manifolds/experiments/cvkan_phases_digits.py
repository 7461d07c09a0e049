"""Chapter 16, section 7: the phase / magnitude interventions of :mod:`.cvkan_phases` on real data (sklearn digits).

Seed 003, "Phase Encoding Semantics": "What do phase values encode after training?" On real data
nothing says where the label lives; :func:`run_digits` measures what a trained CV-KAN uses.
"""

from __future__ import annotations

import torch

from spectral_manifolds import runtime
from spectral_manifolds.cvkan.phase_probes import KINDS, accuracy, forward_from, shuffle, states

__all__ = ["run_digits"]


def run_digits(cfg, *, progress: bool = True) -> dict | None:
    """The same interventions on real data: sklearn's digits as 16 tokens of 2x2 pixels
    (``data.domains.load_digits_tokens(patch=2)``), a ``CVKAN(d, 10, in_features=4)`` whose real
    embedding makes the complex tokens (state 0), ``digits_epochs`` epochs per seed; and the
    multinomial logistic regression on the 64 pixels. ``None`` when ``digits_epochs == 0``
    or the loader is missing; ``cfg`` a ``cvkan_phases.PhasesConfig``. Returns per-seed ``acc``, ``shuffled[kind][s][k]``, ``logistic``."""
    if cfg.digits_epochs == 0:
        return None
    try:
        from spectral_manifolds.data.domains import load_digits_tokens
    except ImportError:  # the loader belongs to another chapter
        return None
    from sklearn.linear_model import LogisticRegression

    from spectral_manifolds.cvkan.models import CVKAN, n_parameters
    from spectral_manifolds.cvkan.train import train_classifier

    x_tr, y_tr, x_te, y_te = load_digits_tokens(patch=2)
    out = dict(acc=[], shuffled={k: [] for k in KINDS}, n_params=0, n_train=len(y_tr), n_test=len(y_te), epochs=cfg.digits_epochs)
    pixels = LogisticRegression(max_iter=2000).fit(x_tr.reshape(len(x_tr), -1), y_tr)
    out["logistic"] = [float(pixels.score(x_te.reshape(len(x_te), -1), y_te))] * cfg.n_seeds
    bar = runtime.progress(range(cfg.n_seeds), desc="digits", leave=False, disable=not progress)
    for s in bar:
        torch.manual_seed(1000 + s)
        net = CVKAN(cfg.d, 10, in_features=x_tr.shape[-1], n_blocks=cfg.n_blocks, hidden=cfg.hidden)
        fit = train_classifier(x_tr, y_tr, X_test=x_te, y_test=y_te, model=net, seed=s, epochs=cfg.digits_epochs,
                               batch_size=cfg.batch_size, lr=cfg.lr, progress=False)
        net = fit.model.eval()
        out["n_params"] = n_parameters(net)
        out["acc"].append(float(fit.test["accuracy"]))
        st = states(net, torch.from_numpy(x_te))
        for kind in KINDS:
            out["shuffled"][kind].append([accuracy(forward_from(net, shuffle(z, kind, s), k), y_te) for k, z in enumerate(st)])
    bar.close()
    return out
