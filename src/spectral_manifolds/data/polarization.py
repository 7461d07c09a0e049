"""The synthetic signal/noise task of seed 003's hierarchical table, and its logistic floor.

Seed 003_65b12435998d9bd4.txt, "2026-01-22 Hierarchical Polarization Validated", trains
its models on "balanced signal/noise classification"; issue 8, "The synthetic task",
records the public code's definition, which :func:`make_polarization` follows:

* ``N = 16`` tokens of ``d = 32`` complex channels, every entry of unit magnitude,
  ``z[n, c] = exp(i phi[n, c])``;
* noise tokens: ``phi ~ Uniform[0, 2 pi)`` independently per token and channel;
* a positive sample (label 1) holds ``n_signal = 4`` signal tokens at positions drawn
  at random per sample (without replacement), whose phases are ``phi ~ N(0, sigma)``,
  ``sigma = 0.5``, independently per channel; a negative sample (label 0) is all noise;
* "2,500 + 2,500 training sequences": read here as 2,500 positive and 2,500 negative
  training samples (exactly balanced, shuffled), plus a balanced test split;
* option ``common_phase=True`` (the book's harder variant, issue 8, chapter 4): one phase
  ``theta ~ Uniform[0, 2 pi)`` per sample is added to every token's phase. It is drawn
  from its own random stream, so the same seed with and without it gives the same data
  up to that rotation: ``|mean_n z|`` per sample and channel is unchanged, ``Re`` and
  ``Im`` of the mean are rotated.

:func:`make_magnitude_polarization` is the same task with the label moved into the
magnitudes (issue 8, chapter 6, the control of "what the phases encode"): the labels and
signal positions of :func:`make_polarization` with the same sizes and seed, every phase
uniform and independent of the label, log-magnitudes ``~ N(0, log_sd)`` plus ``log_gain``
at the signal tokens, drawn from a third stream ``default_rng([seed, split, 2])``.

:func:`logistic_on_mean` is the floor any model must beat. Issue 8: "a 65-parameter
logistic regression on mean(Z) scores 100 %" -- 65 = 2 d + 1 parameters for d = 32, i.e.
the logistic on ``(Re, Im)`` of ``mean_n z`` (``features="reim"``); ``features="abs"``
uses ``|mean_n z|`` per channel (d + 1 = 33 parameters). sklearn is not installed in the
book's environment, so the regression is fitted in torch with L-BFGS (float64, features
standardized with the training statistics, a small L2 penalty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spectral_manifolds import validate

__all__ = ["PolarizationData", "LogisticFit", "make_polarization", "make_magnitude_polarization", "mean_features",
           "logistic_on_mean"]

FEATURES = ("reim", "abs")
BACKENDS = ("numpy", "torch")


@dataclass(frozen=True)
class PolarizationData:
    """One draw of the task (numpy arrays unless ``backend="torch"``).

    Attributes:
        z_train: (n_train, N, d) complex64 tokens, unit magnitude.
        y_train: (n_train,) int64 labels, 1 = holds signal tokens.
        z_test: (n_test, N, d) complex64.
        y_test: (n_test,) int64.
        signal_train: (n_train, N) bool, True at the signal tokens (all False in negatives).
        signal_test: (n_test, N) bool.
        config: the arguments the data was made with.
    """

    z_train: object
    y_train: object
    z_test: object
    y_test: object
    signal_train: object
    signal_test: object
    config: dict


def _split(rng_main: np.random.Generator, rng_phase: np.random.Generator, n: int, n_tokens: int, d: int, n_signal: int, sigma: float, common_phase: bool):
    """Draw ``n`` balanced samples: (z (n, N, d) complex64, y (n,), signal mask (n, N))."""
    y = np.zeros(n, dtype=np.int64)
    y[: n // 2 + n % 2] = 1  # an odd n gets one more positive
    y = rng_main.permutation(y)
    phi = rng_main.uniform(0.0, 2.0 * np.pi, size=(n, n_tokens, d))
    # positions: the first n_signal entries of a random permutation per sample
    order = np.argsort(rng_main.random((n, n_tokens)), axis=1)
    mask = np.zeros((n, n_tokens), dtype=bool)
    np.put_along_axis(mask, order[:, :n_signal], True, axis=1)
    mask &= (y == 1)[:, None]
    signal_phase = rng_main.normal(0.0, sigma, size=(n, n_tokens, d))
    phi = np.where(mask[:, :, None], signal_phase, phi)
    theta = rng_phase.uniform(0.0, 2.0 * np.pi, size=(n, 1, 1))  # always drawn: streams stay aligned
    if common_phase:
        phi = phi + theta
    return np.exp(1j * phi).astype(np.complex64), y, mask


def make_polarization(n_train: int = 5000, n_test: int = 1000, *, n_tokens: int = 16, d: int = 32, n_signal: int = 4, sigma: float = 0.5, common_phase: bool = False, seed: int = 0, backend: str = "numpy") -> PolarizationData:
    """Make the seed's signal/noise task (module docstring has the definition).

    Args:
        n_train: training samples, half positive (default 5,000 = 2,500 + 2,500).
        n_test: test samples, half positive.
        n_tokens: tokens per sample N.
        d: complex channels per token.
        n_signal: signal tokens in a positive sample (1 <= n_signal <= n_tokens).
        sigma: standard deviation (radians) of the signal phases around 0 (>= 0).
        common_phase: add one uniform random phase per sample to all its tokens.
        seed: train and test draw from ``default_rng([seed, split, stream])``.
        backend: "numpy" or "torch" (complex64 / int64 / bool tensors on the CPU).

    Returns:
        A :class:`PolarizationData`.

    Raises:
        ValueError: non-positive sizes, ``n_signal`` outside 1..n_tokens, negative or
            non-finite ``sigma``, a negative seed, an unknown backend.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("n_tokens", n_tokens), ("d", d), ("n_signal", n_signal)):
        validate.positive_int(name, value)
    if n_signal > n_tokens:
        raise ValueError(f"n_signal={n_signal} must be at most n_tokens={n_tokens}")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    validate.choice("backend", backend, BACKENDS)
    args = dict(n_tokens=n_tokens, d=d, n_signal=n_signal, sigma=float(sigma), common_phase=bool(common_phase))
    out = []
    for split, n in ((0, n_train), (1, n_test)):
        rngs = [np.random.default_rng([int(seed), split, stream]) for stream in (0, 1)]
        out.append(_split(*rngs, n, **args))
    (z_tr, y_tr, m_tr), (z_te, y_te, m_te) = out
    arrays = [z_tr, y_tr, z_te, y_te, m_tr, m_te]
    if backend == "torch":
        import torch

        arrays = [torch.from_numpy(a) for a in arrays]
    config = dict(n_train=n_train, n_test=n_test, seed=int(seed), **args)
    return PolarizationData(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5], config)


def make_magnitude_polarization(n_train: int = 5000, n_test: int = 1000, *, n_tokens: int = 16, d: int = 32, n_signal: int = 4, log_gain: float = 1.0, log_sd: float = 0.5, seed: int = 0, backend: str = "numpy") -> PolarizationData:
    """Make the magnitude variant of the task: the label is in the magnitudes, not the phases.

    Labels and signal masks are those of ``make_polarization(n_train, n_test, n_tokens=n_tokens,
    d=d, n_signal=n_signal, seed=seed)`` (any ``sigma`` or ``common_phase``: stream 0 draws them
    before the phases); every token is redrawn from ``default_rng([seed, split, 2])`` as
    ``z = exp(log_sd * g + log_gain * signal + i phi)``, ``g ~ N(0, 1)``, ``phi ~ Uniform[0, 2 pi)``,
    independently per token and channel.

    Args:
        n_train, n_test, n_tokens, d, n_signal, seed, backend: as in :func:`make_polarization`.
        log_gain: added to the log-magnitude of every channel of a signal token (finite).
        log_sd: standard deviation of the log-magnitudes (finite, >= 0).

    Returns:
        A :class:`PolarizationData`: z (n, N, d) complex64 of any magnitude, y (n,) int64,
        signal (n, N) bool; ``config`` adds ``log_gain`` and ``log_sd``.

    Raises:
        ValueError: as :func:`make_polarization`, or a non-finite ``log_gain``, a negative or
            non-finite ``log_sd``.
    """
    if not (np.isfinite(log_gain) and np.isfinite(log_sd) and log_sd >= 0):
        raise ValueError(f"log_gain must be finite and log_sd finite and >= 0, got {log_gain!r}, {log_sd!r}")
    validate.choice("backend", backend, BACKENDS)
    base = make_polarization(n_train, n_test, n_tokens=n_tokens, d=d, n_signal=n_signal, seed=seed)
    zs = []
    for split, mask in ((0, base.signal_train), (1, base.signal_test)):
        rng = np.random.default_rng([int(seed), split, 2])
        shape = (len(mask), n_tokens, d)
        log_r = log_sd * rng.normal(size=shape) + log_gain * mask[:, :, None]
        zs.append(np.exp(log_r + 1j * rng.uniform(0.0, 2.0 * np.pi, size=shape)).astype(np.complex64))
    arrays = [zs[0], base.y_train, zs[1], base.y_test, base.signal_train, base.signal_test]
    if backend == "torch":
        import torch

        arrays = [torch.from_numpy(a) for a in arrays]
    config = dict(n_train=n_train, n_test=n_test, seed=int(seed), n_tokens=n_tokens, d=d, n_signal=n_signal,
                  log_gain=float(log_gain), log_sd=float(log_sd))
    return PolarizationData(*arrays, config)


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def mean_features(z, features: str = "reim") -> np.ndarray:
    """The logistic's features of ``mean_n z``.

    Args:
        z: (B, N, d) complex (numpy or torch).
        features: "reim" -> (B, 2d) ``[Re m, Im m]``; "abs" -> (B, d) ``|m|``, ``m = mean_n z``.

    Returns:
        float64 numpy array.
    """
    validate.choice("features", features, FEATURES)
    z = _numpy(z)
    if z.ndim != 3 or not np.iscomplexobj(z):
        raise ValueError(f"z must be a complex (B, N, d) array, got dtype {z.dtype} and shape {z.shape}")
    m = z.astype(np.complex128).mean(axis=1)
    return np.concatenate([m.real, m.imag], axis=1) if features == "reim" else np.abs(m)


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic regression on mean features.

    Attributes:
        accuracy: test accuracy in [0, 1].
        train_accuracy: training accuracy.
        n_params: weights + bias (65 for "reim" at d = 32, 33 for "abs").
        features: "reim" or "abs".
        weight: (n_params - 1,) weights on the standardized features.
        bias: the intercept.
    """

    accuracy: float
    train_accuracy: float
    n_params: int
    features: str
    weight: np.ndarray
    bias: float


def _labels(y, n: int, name: str) -> np.ndarray:
    y = _numpy(y)
    if y.shape != (n,) or not np.all(np.isin(y, (0, 1))):
        raise ValueError(f"{name} must be ({n},) labels in {{0, 1}}, got shape {y.shape}")
    return y.astype(np.float64)


def logistic_on_mean(z_train, y_train, z_test, y_test, *, features: str = "reim", l2: float = 1e-4, max_iter: int = 200) -> LogisticFit:
    """Fit ``p(y=1) = sigmoid(w . f(mean_n z) + b)`` on the training split, score the test split.

    Args:
        z_train: (B, N, d) complex; y_train: (B,) labels in {0, 1}.
        z_test: (B', N, d) complex; y_test: (B',) labels.
        features: "reim" (2d + 1 parameters) or "abs" (d + 1), see :func:`mean_features`.
        l2: penalty ``l2 * |w|^2`` added to the mean log-loss (keeps a separable fit finite).
        max_iter: L-BFGS iterations.

    Returns:
        A :class:`LogisticFit`.
    """
    import torch

    f_tr, f_te = mean_features(z_train, features), mean_features(z_test, features)
    t_tr, t_te = _labels(y_train, len(f_tr), "y_train"), _labels(y_test, len(f_te), "y_test")
    mu, sd = f_tr.mean(axis=0), f_tr.std(axis=0) + 1e-12
    x_tr = torch.tensor((f_tr - mu) / sd)
    x_te = torch.tensor((f_te - mu) / sd)
    y = torch.tensor(t_tr)
    w = torch.zeros(x_tr.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x_tr @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        acc_tr = float(((x_tr @ w + b > 0).double() == y).double().mean())
        acc_te = float(((x_te @ w + b > 0).double() == torch.tensor(t_te)).double().mean())
    return LogisticFit(acc_te, acc_tr, int(w.numel() + 1), features, w.detach().numpy().copy(), float(b.detach()))
