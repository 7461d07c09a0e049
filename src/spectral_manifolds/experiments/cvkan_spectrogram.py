"""Chapter 17, accuracy part: the CV-KAN on complex STFT frames of the synthetic waveform task.

Issue 8, "Chapters", item 7: "A synthetic waveform classification task (seeded, 16 kHz, 1 s)";
seed 003_65b12435998d9bd4.txt, "2026-01-22 Audio Training Performance Optimization" (the
``n_fft = 512`` preset, STFT input). The data is :mod:`spectral_manifolds.data.waveforms`.

* every neural model is :func:`~spectral_manifolds.cvkan.spectrogram.spectrogram_model`: the
  same front end (complex STFT frames as tokens, bins -> ``d`` by a complex linear map) under a
  different body: the seed's flat **CVKAN** stack, **Z0** (no block, widened head) and **R**
  (a real Transformer on ``[Re, Im]`` of the tokens, sinusoidal positions), at the CVKAN's
  parameter count (+-5 %, ``width_for_params``), and the diagnostic **CVKAN |STFT|**, the same
  CVKAN on the frames' magnitudes (phases set to 0); all trained by ``train_classifier`` on the
  precomputed frames (the on-the-fly STFT gives the same numbers: tested);
* the classical baseline: a logistic regression (scikit-learn) on the log-magnitude
  spectrogram averaged into ``time_bands x freq_bands`` cells (:func:`log_magnitude_features`);
* :func:`order_check`: the CVKAN with mean aggregation, centring and mean pooling is a
  symmetric function of its tokens, so shuffling the frames leaves its logits unchanged,
  while R's positions make it order-sensitive.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spectral_manifolds import report, runtime
from spectral_manifolds.cvkan import CVKAN, RealTransformer, n_parameters, train_classifier, width_for_params
from spectral_manifolds.cvkan.spectrogram import precompute_tokens, spectrogram_model
from spectral_manifolds.data.waveforms import CLASSES, make_waveforms

MODELS = ("CVKAN", "CVKAN |STFT|", "Z0", "R")
LOGISTIC = "logistic (log-magnitude cells)"


@dataclass(frozen=True)
class SpectrogramConfig:
    """Sizes of the accuracy runs (pick with :func:`config_for`)."""

    n_train: int = 3000
    n_test: int = 1000
    snr_db: tuple = (-10.0, 5.0)
    n_fft: int = 512  # the seed's speech_commands_fast preset (257 bins)
    hop: int = 256  # not stated by the seed: half a window
    d: int = 32
    hidden: int = 64
    n_blocks: int = 3
    epochs: int = 8
    batch_size: int = 128
    lr: float = 2e-3
    n_seeds: int = 5
    baseline_heads: int = 4
    baseline_layers: int = 2
    time_bands: int = 8  # logistic features: time x frequency cells of the log-magnitude spectrogram
    freq_bands: int = 32

    def __post_init__(self):
        if self.n_seeds < 2:
            raise ValueError(f"a verdict needs n_seeds >= 2, got {self.n_seeds}")
        for name in ("n_train", "n_test", "n_fft", "hop", "d", "hidden", "n_blocks", "epochs", "batch_size", "time_bands", "freq_bands"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hop > self.n_fft:
            raise ValueError(f"hop={self.hop} must be <= n_fft={self.n_fft}")


def config_for(budget: str | None = None) -> SpectrogramConfig:
    """The chapter's sizes: quick (CI, 2 CPU cores) or full (one GPU); None: the active budget."""
    quick = SpectrogramConfig(n_train=480, n_test=240, d=16, hidden=32, n_blocks=2, epochs=4, batch_size=32, n_seeds=3, baseline_layers=1)
    return runtime.sized(quick=quick, full=SpectrogramConfig(), budget_name=budget)


# --------------------------------------------------------------------------- models
def builders(cfg: SpectrogramConfig, n_classes: int = len(CLASSES)) -> dict:
    """Model name -> ``build(in_features, n_classes)``; Z0 and R matched to the CVKAN's count (+-5 %)."""
    d, nf, hop, heads, layers = cfg.d, cfg.n_fft, cfg.hop, cfg.baseline_heads, cfg.baseline_layers
    cvkan = lambda k, phase=True: spectrogram_model(CVKAN(d, k, n_blocks=cfg.n_blocks, hidden=cfg.hidden), d, nf, hop, keep_phase=phase)
    target = n_parameters(cvkan(n_classes))
    z0 = lambda h, k: spectrogram_model(CVKAN(d, k, n_blocks=0, head_hidden=h), d, nf, hop)
    r = lambda w, k: spectrogram_model(RealTransformer(d, heads * w, heads, layers, k, complex_input=True), d, nf, hop)
    h0 = width_for_params(lambda h: z0(h, n_classes), target, 1, 4 * target, tol=0.05)
    wr = width_for_params(lambda w: r(w, n_classes), target, 1, 512, tol=0.05)
    return {"CVKAN": lambda f, k: cvkan(k), "CVKAN |STFT|": lambda f, k: cvkan(k, False), "Z0": lambda f, k: z0(h0, k), "R": lambda f, k: r(wr, k)}


@torch.no_grad()
def order_check(cfg: SpectrogramConfig, seed: int = 0, batch: int = 8) -> list[dict]:
    """``max |logits(frames shuffled) - logits(frames)|`` of random CVKAN and R, beside the logits' spread.

    Frames: the STFT of ``batch`` test waveforms; one random permutation of the frame axis.
    """
    data = make_waveforms(1, batch, seed=seed, snr_db=cfg.snr_db)
    s = precompute_tokens(data.x_test, cfg.n_fft, cfg.hop)
    perm = torch.randperm(s.shape[1], generator=torch.Generator().manual_seed(seed))
    rows = []
    for name in ("CVKAN", "R"):
        torch.manual_seed(seed)
        model = builders(cfg)[name](s.shape[-1], len(CLASSES)).eval()
        a, b = model(s), model(s[:, perm])
        rows.append({"model": name, "max |logits(shuffled) - logits|": float((a - b).abs().max()), "std of logits over samples": float(a.std(0).max())})
    return rows


# --------------------------------------------------------------------------- classical baseline
def log_magnitude_features(frames: torch.Tensor, time_bands: int, freq_bands: int, eps: float = 1e-4) -> np.ndarray:
    """``(N, T, F)`` complex frames -> ``(N, time_bands * freq_bands)`` float64: ``log(|S| + eps)`` averaged over
    a grid of nearly equal time x frequency cells (``torch.tensor_split`` boundaries, as ``numpy.array_split``),
    time-major; computed on the frames' device."""
    if frames.ndim != 3 or not frames.is_complex():
        raise ValueError(f"frames must be complex (N, T, F), got {frames.dtype} {tuple(frames.shape)}")
    n, t, f = frames.shape
    if not (1 <= time_bands <= t and 1 <= freq_bands <= f):
        raise ValueError(f"need 1 <= time_bands <= {t} and 1 <= freq_bands <= {f}, got {time_bands}, {freq_bands}")
    logmag = torch.log(frames.abs() + eps)
    cells = [c.mean(dim=(1, 2)) for rows in torch.tensor_split(logmag, time_bands, dim=1) for c in torch.tensor_split(rows, freq_bands, dim=2)]
    return torch.stack(cells, dim=1).double().cpu().numpy()


def logistic_fit(f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray) -> tuple[np.ndarray, int]:
    """Standardized features -> multinomial logistic regression (sklearn, L2, C = 1); (test predictions, parameters)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    clf.fit(f_train, y_train)
    lr = clf[-1]
    return clf.predict(f_test), int(lr.coef_.size + lr.intercept_.size)


# --------------------------------------------------------------------------- runs
@dataclass
class SpectrogramResult:
    """JSON-able: ``accuracy[model]`` final test accuracy per seed, ``history[model]`` per-seed per-epoch
    test accuracy, ``confusion[model]`` (K, K) counts summed over seeds (rows: true class)."""

    config: dict
    seeds: list
    n_params: dict = field(default_factory=dict)
    accuracy: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    confusion: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def run(cfg: SpectrogramConfig, *, device=None, progress: bool = True) -> SpectrogramResult:
    """Train every model and the logistic baseline on each seed's data (one progress bar over the fits)."""
    t0 = time.perf_counter()
    device = runtime.torch_device() if device is None else torch.device(device)
    seeds, k = report.seeds_for(cfg.n_seeds), len(CLASSES)
    res = SpectrogramResult(dataclasses.asdict(cfg), seeds)
    names = list(MODELS) + [LOGISTIC]
    res.accuracy = {n: [] for n in names}
    res.history = {n: [] for n in MODELS}
    conf = {n: np.zeros((k, k), dtype=np.int64) for n in names}
    build = builders(cfg)
    bar = runtime.progress(total=cfg.n_seeds * len(MODELS), desc="fits", disable=not progress)
    for seed in seeds:
        data = make_waveforms(cfg.n_train, cfg.n_test, seed=seed, snr_db=cfg.snr_db)
        s_train = precompute_tokens(data.x_train, cfg.n_fft, cfg.hop, device=device)
        s_test = precompute_tokens(data.x_test, cfg.n_fft, cfg.hop, device=device)
        pred, res.n_params[LOGISTIC] = logistic_fit(log_magnitude_features(s_train, cfg.time_bands, cfg.freq_bands), data.y_train,
                                                    log_magnitude_features(s_test, cfg.time_bands, cfg.freq_bands))
        res.accuracy[LOGISTIC].append(float(np.mean(pred == data.y_test)))
        conf[LOGISTIC] += _confusion(data.y_test, pred, k)
        x_train, x_test = s_train.cpu().numpy(), s_test.cpu().numpy()
        for name in MODELS:
            fit = train_classifier(x_train, data.y_train, X_test=x_test, y_test=data.y_test, model=build[name], seed=seed,
                                   epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, device=device, progress=False)
            res.n_params[name] = fit.n_params
            res.accuracy[name].append(float(fit.history["test_acc"][-1]))
            res.history[name].append([float(a) for a in fit.history["test_acc"]])
            with torch.no_grad(), runtime.torch_cpu_threads(device):
                pred = torch.cat([fit.model(s_test[i : i + 256]).argmax(-1) for i in range(0, len(s_test), 256)]).cpu().numpy()
            conf[name] += _confusion(data.y_test, pred, k)
            bar.update(1)
    bar.close()
    res.confusion = {n: c.tolist() for n, c in conf.items()}
    res.seconds = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------------- tables
def pct(values) -> list[float]:
    return [100.0 * v for v in values]


def accuracy_rows(res: SpectrogramResult) -> list[dict]:
    """One row per model: parameters and test accuracy (%) mean +- std over seeds."""
    return [{"model": n, "parameters": res.n_params[n], "test accuracy (%)": report.mean_std(pct(v)), "seeds": len(v)} for n, v in res.accuracy.items()]


def verdict_rows(res: SpectrogramResult) -> list[dict]:
    """"CVKAN beats X" for Z0, R and the logistic baseline, paired by seed (higher accuracy is better)."""
    acc = {n: pct(v) for n, v in res.accuracy.items()}
    return [report.verdict_row(f"CVKAN on STFT frames beats {other}", report.compare(acc["CVKAN"], acc[other], lower_is_better=False),
                               seed_figure="— (Speech Commands, not shipped offline)", a_name="CVKAN", b_name=other, metric="test accuracy (%)")
            for other in ("CVKAN |STFT|", "Z0", "R", LOGISTIC)]


def per_class_rows(res: SpectrogramResult) -> list[dict]:
    """Recall (%) of every class per model, from the confusion counts summed over seeds."""
    rows = []
    for name, c in res.confusion.items():
        c = np.asarray(c)
        rows.append({"model": name, **{cls: round(100.0 * c[i, i] / max(c[i].sum(), 1), 1) for i, cls in enumerate(CLASSES)}})
    return rows
