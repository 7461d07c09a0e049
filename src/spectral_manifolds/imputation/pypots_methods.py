"""SAITS and BRITS from PyPOTS as imputers of one series (issue 10, item 3; bidirectional).

* SAITS -- Du, Cote & Liu (2023), "SAITS: Self-attention-based imputation for time
  series": two diagonally-masked self-attention blocks, trained on the joint
  observed-reconstruction (ORT) and masked-imputation (MIT, 20 % of the observed
  entries hidden per sample) losses.
* BRITS -- Cao et al. (2018), "BRITS: Bidirectional recurrent imputation for time
  series": two recurrent imputers (RITS) run forward and backward, with temporal decay
  and a consistency loss between the directions.

PyPOTS (``pypots`` 1.5) trains on a set of samples ``(N, n_steps, n_features)``; a
single series becomes that set the same way as for the GRUs of :mod:`.learned`:
the Scaler fitted on the observed ``x[:train_end]``
(:func:`~spectral_manifolds.imputation.learned.prepare`), the overlapping windows of
``x[:train_end]`` (:func:`~spectral_manifolds.imputation.learned.windows`,
``n_steps = min(window, train_end)``, ``n_features = C``). After training, every window
of the series to fill is imputed (the windows of several series in one pass,
:meth:`~spectral_manifolds.imputation.learned.Fitted.fill_many`) and the windows are
blended (:func:`~spectral_manifolds.imputation.learned.blend`, triangular weights).

Small documented sizes (DESIGN.md, "Compare like with like"; counts for C = 1 from
:func:`parameter_count`): SAITS ``n_layers=2, d_model=32, n_heads=2, d_k=d_v=16,
d_ffn=64, dropout=0.1`` (33,974 parameters); BRITS ``rnn_hidden_size=32``
(9,424). Windows of 48, batches of 8, PyPOTS's Adam at ``lr=3e-3``; epochs
``runtime.sized(quick=50, full=200)`` for SAITS and ``(quick=20, full=100)`` for BRITS
(a sequential recurrence, about 5x slower per epoch on a CPU) unless given; no validation set, so PyPOTS keeps the epoch of lowest training loss.
Seeded with ``runtime.seed_everything(seed)`` (weights, PyPOTS's shuffling and its
MIT masks drawn by pygrinder from the global RNGs); on ``runtime.torch_device()``;
no checkpoint is written (``saving_path=None``).

Importing ``pypots`` takes about 5 s (it imports ``transformers`` for its LLM models),
so it happens on the first call, not at import of this module.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from spectral_manifolds import runtime, validate
from spectral_manifolds.imputation import learned

__all__ = ["saits", "brits", "fit", "parameter_count", "SIZES"]

#: Documented default sizes of each PyPOTS model (its constructor's keywords).
SIZES = {
    "saits": dict(n_layers=2, d_model=32, n_heads=2, d_k=16, d_v=16, d_ffn=64, dropout=0.1, attn_dropout=0.0),
    "brits": dict(rnn_hidden_size=32),
}
_EPOCHS = {"saits": (50, 200), "brits": (20, 100)}


def _classes():
    # PyPOTS's import prints a banner (ai4ts), reading sys.stdout.encoding: swallow it
    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding="utf-8")):
        from pypots.imputation import BRITS, SAITS
    return {"saits": SAITS, "brits": BRITS}


@contextlib.contextmanager
def _quiet():
    """Drop PyPOTS's log records below ERROR for the duration (it warns on every model
    that ``saving_path`` is not given, which is deliberate here). A filter, not a level:
    PyPOTS resets its logger's level when a model is built with ``verbose=False``."""
    import logging

    _classes()  # the first import of pypots, with its banner swallowed
    from pypots.utils.logging import logger

    def below_error(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    logger.addFilter(below_error)
    try:
        yield
    finally:
        logger.removeFilter(below_error)


def _model(method: str, n_steps: int, n_features: int, epochs: int, batch_size: int, device, sizes: dict, lr: float = 1e-3):
    cls = _classes()[method]  # first: the import that prints the banner
    from pypots.optim import Adam

    with _quiet():
        return cls(n_steps=int(n_steps), n_features=int(n_features), **sizes, batch_size=int(batch_size),
                   epochs=int(epochs), patience=None, optimizer=Adam(lr=float(lr)), num_workers=0, device=device,
                   saving_path=None, model_saving_strategy=None, verbose=False)


def parameter_count(method: str, n_features: int = 1, window: int = 48) -> int:
    """Trainable parameters of the default-size 'saits' or 'brits' model."""
    model = _model(method, window, n_features, 1, 16, "cpu", SIZES[method])
    return int(sum(p.numel() for p in model.model.parameters() if p.requires_grad))


def fit(method: str, x: np.ndarray, *, window: int = 48, epochs: int | None = None, batch_size: int = 8, lr: float = 3e-3,
        train_end: int | None = None, seed: int = 0, budget: str | None = None, sizes: dict | None = None,
        local_level: bool = False) -> learned.Fitted:
    """Train the PyPOTS ``method`` ('saits' or 'brits', ``sizes`` default :data:`SIZES`) on
    windows of ``x[:train_end]``; the result's ``fill`` imputes any series of its channels.
    ``local_level``: centre every window on its observed mean (:func:`learned.window_level`)."""
    import time

    validate.choice("method", method, tuple(SIZES))
    for name, v in (("window", window), ("batch_size", batch_size)):
        validate.positive_int(name, v)
    if not float(lr) > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    sizes = SIZES[method] if sizes is None else sizes
    n_epochs = learned.epochs_for(method, epochs, budget, _EPOCHS)
    start = time.perf_counter()
    z, scaler, end = learned.prepare(x, train_end)
    L = int(min(window, end))
    W, _ = learned.windows(z[:end], L)
    W = W - learned.window_level(W) if local_level else W
    device = runtime.torch_device()
    with runtime.torch_cpu_threads(device):
        runtime.seed_everything(int(seed))
        model = _model(method, L, z.shape[1], n_epochs, min(int(batch_size), len(W)), device, sizes, lr)
        with _quiet():
            model.fit({"X": W})
    n_params = int(sum(p.numel() for p in model.model.parameters() if p.requires_grad))

    def predict(Z: np.ndarray) -> np.ndarray:
        Wall, starts = learned.windows_many(Z, L)
        level = learned.window_level(Wall) if local_level else 0.0
        train_batch, model.batch_size = model.batch_size, max(len(Wall), 1)  # every window of every series in one pass
        try:
            with runtime.torch_cpu_threads(device), _quiet():
                P = model.impute({"X": Wall - level}) + level
        finally:
            model.batch_size = train_batch
        P = P.reshape(len(Z), len(starts), L, Z.shape[2])
        return np.stack([learned.blend(p, starts, Z.shape[1]) for p in P])

    return learned.Fitted(method, model, scaler, L, n_params, time.perf_counter() - start, predict)


def _fit_fill(method: str, x: np.ndarray, **kw) -> np.ndarray:
    """Train the PyPOTS ``method`` on windows of ``x[:train_end]``; fill ``x``'s NaN."""
    return fit(method, x, **kw).fill(x)


def saits(x: np.ndarray, window: int = 48, epochs: int | None = None, batch_size: int = 8, lr: float = 3e-3, train_end: int | None = None,
          n_layers: int = 2, d_model: int = 32, n_heads: int = 2, d_ffn: int = 64, dropout: float = 0.1, local_level: bool = False, *,
          seed: int = 0, budget: str | None = None) -> np.ndarray:
    """PyPOTS SAITS imputer (bidirectional: attention sees both sides of a gap).

    Args:
        x: (T,) or (T, C) float, NaN = missing; channels are the model's features.
        window: n_steps of the training windows (capped at train_end).
        epochs: None: ``runtime.sized(quick=50, full=200)`` (BRITS: 20, 100).
        batch_size: PyPOTS's batch size (capped at the number of windows).
        lr: Adam's step size.
        train_end: scale and train on ``x[:train_end]`` only.
        n_layers, d_model, n_heads, d_ffn, dropout: SAITS's sizes (d_k = d_v = d_model / n_heads).
        local_level: centre every window on its observed mean (a trending series).
        seed, budget: as in :func:`~spectral_manifolds.imputation.learned.gru`.

    Returns:
        a filled copy, x's shape, float64; observed entries unchanged.
    """
    if isinstance(n_heads, bool) or not isinstance(n_heads, (int, np.integer)) or n_heads < 1 or d_model % n_heads:
        raise ValueError(f"n_heads must be a positive divisor of d_model = {d_model}, got {n_heads!r}")
    sizes = dict(SIZES["saits"], n_layers=int(n_layers), d_model=int(d_model), n_heads=int(n_heads),
                 d_k=int(d_model) // int(n_heads), d_v=int(d_model) // int(n_heads), d_ffn=int(d_ffn), dropout=float(dropout))
    return _fit_fill("saits", x, window=window, epochs=epochs, batch_size=batch_size, lr=lr, train_end=train_end,
                     seed=seed, budget=budget, sizes=sizes, local_level=local_level)


def brits(x: np.ndarray, window: int = 48, epochs: int | None = None, batch_size: int = 8, lr: float = 3e-3, train_end: int | None = None,
          rnn_hidden_size: int = 32, local_level: bool = False, *, seed: int = 0, budget: str | None = None) -> np.ndarray:
    """PyPOTS BRITS imputer (bidirectional recurrent). Arguments as :func:`saits`, with
    ``rnn_hidden_size`` BRITS's hidden size per direction."""
    if isinstance(rnn_hidden_size, bool) or not isinstance(rnn_hidden_size, (int, np.integer)) or rnn_hidden_size < 1:
        raise ValueError(f"rnn_hidden_size must be a positive integer, got {rnn_hidden_size!r}")
    return _fit_fill("brits", x, window=window, epochs=epochs, batch_size=batch_size, lr=lr, train_end=train_end,
                     seed=seed, budget=budget, sizes=dict(rnn_hidden_size=int(rnn_hidden_size)), local_level=local_level)
