"""Chapter 17, speed part: precomputed against on-the-fly STFT, torch.compile against eager,
complex against real-pair arithmetic (issue 8, "Chapters", item 7).

Seed 003_65b12435998d9bd4.txt, "2026-01-22 Audio Training Performance Optimization":
"STFT on every forward pass (FFT computation per batch)" made audio training slow, and
precomputed STFT mode was "Expected **2-3x speedup**", with the open item "Benchmark actual
speedup with precomputed vs raw". These are benchmarks, not tests: every figure is a rate
measured in one process on one device, as a ratio of two settings timed side by side.

How a rate is measured: :func:`~spectral_manifolds.experiments.benchmarking.measure` (warm-up
steps, rotating rounds, ``torch.cuda.synchronize`` on a GPU, median and range over rounds,
ratios paired by round); :func:`measure`, :func:`spread` and :func:`ratios` are re-exported here.

* :func:`input_benchmark` -- one training step (forward, cross-entropy, backward, AdamW) of the
  chapter's CVKAN on (a) precomputed STFT frames already in device memory and (b) waveforms,
  with ``torch.stft`` inside the forward; also (c) the STFT alone.
* :func:`compile_benchmark` -- the same step with ``torch.compile(model)`` against eager; the
  first compiled step (tracing and code generation) is timed apart from the steady state, and
  an exception is recorded, not raised.
* :func:`arithmetic_check` / :func:`arithmetic_benchmark` -- the complex linear front end
  (complex64) against its real-pair twin (two float32 tensors), first checked equal in output
  and gradients, then timed as a layer (forward + backward) and inside the whole training step.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from spectral_manifolds import report, runtime, validate
from spectral_manifolds.cvkan import CVKAN, ComplexLinear
from spectral_manifolds.cvkan.precision import exception_text
from spectral_manifolds.cvkan.spectrogram import RealPairLinear, precompute_tokens, spectrogram_model, stft_tokens
from spectral_manifolds.data.waveforms import CLASSES, make_waveforms
from spectral_manifolds.experiments.benchmarking import measure, ratios, spread, timed

SEED_SPEEDUP = (2.0, 3.0)  # seed 003: "Expected 2-3x speedup when using precomputed mode"
BACKENDS = ("inductor", "aot_eager", "eager")


@dataclass(frozen=True)
class SpeedConfig:
    """Sizes of the benchmarks (pick with :func:`config_for`)."""

    batch_size: int = 256
    n_batches: int = 4  # distinct batches, cycled through
    n_fft: int = 512
    hop: int = 256
    d: int = 32  # the accuracy runs' full model
    hidden: int = 64
    n_blocks: int = 3
    warmup_steps: int = 5
    steps: int = 20  # timed steps per round
    repeats: int = 7
    compile_backend: str = "inductor"
    compile_blocks: int = 3  # the compiled (and its eager twin) model's depth
    seed: int = 0

    def __post_init__(self):
        for name in ("batch_size", "n_batches", "n_fft", "hop", "d", "hidden", "n_blocks", "steps", "compile_blocks"):
            validate.positive_int(name, getattr(self, name))
        if self.repeats < 2 or self.warmup_steps < 1:
            raise ValueError(f"need repeats >= 2 and warmup_steps >= 1, got {self.repeats}, {self.warmup_steps}")
        validate.choice("compile_backend", self.compile_backend, BACKENDS)


def config_for(budget: str | None = None) -> SpeedConfig:
    """Quick (2 CPU cores, well inside the chapter's 60 s) or full (one GPU); None: the active budget.

    Quick compiles with ``backend="aot_eager"`` (dynamo's tracing and AOT autograd, no code
    generation) and a one-block model: a cold inductor compile of the training step took
    32-75 s on the 2-core CI-like machine while writing this chapter, more than the whole quick budget.
    """
    quick = SpeedConfig(batch_size=32, n_batches=2, d=16, hidden=32, n_blocks=2, warmup_steps=3, steps=5, repeats=5,
                        compile_backend="aot_eager", compile_blocks=1)
    return runtime.sized(quick=quick, full=SpeedConfig(), budget_name=budget)


# --------------------------------------------------------------------------- set-up
def build_model(cfg: SpeedConfig, *, n_blocks: int | None = None, arithmetic: str = "complex", seed: int | None = None) -> nn.Module:
    """The front end and the CVKAN stack (4 classes), seeded with ``cfg.seed`` unless ``seed`` is given."""
    torch.manual_seed(cfg.seed if seed is None else seed)
    body = CVKAN(cfg.d, len(CLASSES), n_blocks=cfg.n_blocks if n_blocks is None else n_blocks, hidden=cfg.hidden)
    return spectrogram_model(body, cfg.d, cfg.n_fft, cfg.hop, arithmetic)


def batches(cfg: SpeedConfig, device) -> dict:
    """``waves: (n_batches, B, L)`` float32, ``frames: (n_batches, B, T, F)`` complex64, ``labels: (n_batches, B)``, on ``device``."""
    data = make_waveforms(cfg.n_batches * cfg.batch_size, 1, seed=cfg.seed)
    waves = torch.from_numpy(data.x_train).to(device)
    frames = precompute_tokens(waves, cfg.n_fft, cfg.hop)
    shape = (cfg.n_batches, cfg.batch_size)
    return {"waves": waves.reshape(*shape, -1), "frames": frames.reshape(*shape, *frames.shape[1:]),
            "labels": torch.from_numpy(data.y_train).to(device).reshape(shape)}


def train_step(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, lr: float = 1e-3) -> Callable[[int], None]:
    """``step(i)``: one AdamW step of cross-entropy on batch ``i % len(inputs)``."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    def step(i: int) -> None:
        j = i % len(inputs)
        loss = loss_fn(model(inputs[j]), labels[j])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _measure(cfg: SpeedConfig, fns: dict, device) -> dict:
    return measure(fns, batch_size=cfg.batch_size, warmup_steps=cfg.warmup_steps, steps=cfg.steps, repeats=cfg.repeats, device=device)


# --------------------------------------------------------------------------- benchmarks
def input_benchmark(cfg: SpeedConfig, device, b: dict | None = None) -> dict:
    """Samples/s of "precomputed", "on-the-fly STFT" (training steps) and "STFT alone";
    ``b``: :func:`batches` (made here when None)."""
    b = batches(cfg, device) if b is None else b
    pre, otf = build_model(cfg).to(device), build_model(cfg).to(device)

    @torch.no_grad()
    def stft_only(i):
        stft_tokens(b["waves"][i % cfg.n_batches], cfg.n_fft, cfg.hop)

    fns = {"precomputed": train_step(pre, b["frames"], b["labels"]), "on-the-fly STFT": train_step(otf, b["waves"], b["labels"]), "STFT alone": stft_only}
    return _measure(cfg, fns, device)


def compile_benchmark(cfg: SpeedConfig, device, b: dict | None = None) -> dict:
    """Eager against ``torch.compile(model, backend=cfg.compile_backend)`` on precomputed frames.

    Returns ``{"backend", "compile_seconds" (first compiled step minus the median eager step),
    "first_step_seconds", "warnings" (distinct messages raised while compiling and running the first
    step, deprecation notices left out), "error" (None, or
    the exception text when compiling or running failed), "rates" (eager, compiled)}``.
    """
    b = batches(cfg, device) if b is None else b
    eager = build_model(cfg, n_blocks=cfg.compile_blocks).to(device)
    out = {"backend": cfg.compile_backend, "blocks": cfg.compile_blocks, "torch": torch.__version__, "error": None, "warnings": [], "rates": {}}
    eager_step = train_step(eager, b["frames"], b["labels"])
    for i in range(cfg.warmup_steps):
        eager_step(i)
    times = [timed(eager_step, i, device=device) for i in range(cfg.steps)]
    torch._dynamo.reset()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compiled = torch.compile(build_model(cfg, n_blocks=cfg.compile_blocks).to(device), backend=cfg.compile_backend)
            compiled_step = train_step(compiled, b["frames"], b["labels"])
            first = timed(compiled_step, 0, device=device)
        out["warnings"] = list(dict.fromkeys(str(w.message).strip().splitlines()[0] for w in caught
                                             if not issubclass(w.category, (DeprecationWarning, FutureWarning))))
        out["first_step_seconds"] = first
        out["compile_seconds"] = first - float(np.median(times))
        out["rates"] = _measure(cfg, {"eager": eager_step, "torch.compile": compiled_step}, device)
    except Exception as e:  # noqa: BLE001 -- the failure is the result the chapter prints
        out["error"] = exception_text(e)
    return out


def arithmetic_check(cfg: SpeedConfig, device, seed: int = 0, b: dict | None = None) -> dict:
    """The complex front-end layer against its real-pair twin on one batch of STFT frames.

    Loss ``L = sum(g_re Re y + g_im Im y)`` with random real ``g``. Returns the largest output
    difference relative to ``max |y|`` and the largest weight-gradient difference relative to the
    largest gradient entry (``W.grad`` of a complex parameter is ``dL/dRe W + i dL/dIm W``).
    """
    b = batches(dataclasses.replace(cfg, n_batches=1), device) if b is None else b
    s = b["frames"][0]
    device = torch.device(device)
    torch.manual_seed(seed)
    lin = ComplexLinear(s.shape[-1], cfg.d).to(device)
    twin = RealPairLinear.from_complex(lin).to(device)
    y = lin(s)
    yr, yi = twin(s.real.contiguous(), s.imag.contiguous())
    with torch.no_grad():
        out_diff = float(torch.maximum((y.real - yr).abs().max(), (y.imag - yi).abs().max()))
    g = torch.randn(2, *y.shape, generator=torch.Generator().manual_seed(seed)).to(device)
    (g[0] * y.real + g[1] * y.imag).sum().backward()
    (g[0] * yr + g[1] * yi).sum().backward()
    scale = float(y.detach().abs().max())
    gw, gscale = lin.weight.grad, float(torch.view_as_real(lin.weight.grad).abs().max())
    return {
        "max |Δ output| / max |y|": out_diff / scale,
        "max |Δ weight grad| / max |grad|": float(torch.maximum((gw.real - twin.weight_re.grad).abs().max(), (gw.imag - twin.weight_im.grad).abs().max())) / gscale,
        "max |y|": scale,
    }


def arithmetic_benchmark(cfg: SpeedConfig, device, b: dict | None = None) -> dict:
    """Samples/s of the front-end layer alone (forward + backward) and of the whole training step,
    complex64 against real pair. The layer's real-pair input is two contiguous float32 tensors."""
    b = batches(cfg, device) if b is None else b
    frames, pairs = b["frames"], (b["frames"].real.contiguous(), b["frames"].imag.contiguous())
    torch.manual_seed(cfg.seed)
    lin = ComplexLinear(frames.shape[-1], cfg.d).to(device)
    twin = RealPairLinear.from_complex(lin).to(device)

    def layer_complex(i):
        y = lin(frames[i % cfg.n_batches])
        (y.real.sum() + y.imag.sum()).backward()

    def layer_pair(i):
        j = i % cfg.n_batches
        yr, yi = twin(pairs[0][j], pairs[1][j])
        (yr.sum() + yi.sum()).backward()

    complex_model = build_model(cfg).to(device)
    pair_model = build_model(cfg, arithmetic="real_pair").to(device)
    pair_model[0].proj = RealPairLinear.from_complex(complex_model[0].proj).to(device)
    pair_model[1].load_state_dict(complex_model[1].state_dict())
    fns = {"layer, complex64": layer_complex, "layer, real pair": layer_pair,
           "step, complex64": train_step(complex_model, frames, b["labels"]), "step, real pair": train_step(pair_model, frames, b["labels"])}
    return _measure(cfg, fns, device)


# --------------------------------------------------------------------------- the run
@dataclass
class SpeedResult:
    """JSON-able results of :func:`run`: ``rates[benchmark][setting]`` per-round samples/s."""

    config: dict
    device: str
    rates: dict = field(default_factory=dict)
    compile: dict = field(default_factory=dict)
    check: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def run(cfg: SpeedConfig, *, device=None) -> SpeedResult:
    """All benchmarks on ``device`` (None: ``runtime.torch_device()``), one torch thread on a small CPU."""
    t0 = time.perf_counter()
    device = runtime.torch_device() if device is None else torch.device(device)
    res = SpeedResult(dataclasses.asdict(cfg), f"{device} ({runtime.device_name()})")
    with runtime.torch_cpu_threads(device):
        b = batches(cfg, device)
        res.check = arithmetic_check(cfg, device, b=b)
        res.rates["input"] = input_benchmark(cfg, device, b)
        res.rates["arithmetic"] = arithmetic_benchmark(cfg, device, b)
        res.compile = compile_benchmark(cfg, device, b)
    if res.compile.get("rates"):
        res.rates["compile"] = res.compile.pop("rates")
    res.seconds = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------------- tables
RATIOS = (  # (name, benchmark, numerator, denominator, the seed's figure)
    ("precomputed / on-the-fly STFT", "input", "precomputed", "on-the-fly STFT", "2–3× (expected, not measured)"),
    ("torch.compile / eager (steady state)", "compile", "torch.compile", "eager", "—"),
    ("real pair / complex64 (layer)", "arithmetic", "layer, real pair", "layer, complex64", "—"),
    ("real pair / complex64 (training step)", "arithmetic", "step, real pair", "step, complex64", "—"),
)


def rate_rows(res: SpeedResult) -> list[dict]:
    """One row per benchmark setting: median samples/s over rounds and its range."""
    rows = []
    for bench, settings in res.rates.items():
        for name, v in settings.items():
            s = spread(v)
            rows.append({"benchmark": bench, "setting": name, "samples/s (median)": round(s["median"]), "min": round(s["min"]), "max": round(s["max"]), "rounds": len(v)})
    return rows


def ratio_rows(res: SpeedResult) -> list[dict]:
    """One row per ratio of :data:`RATIOS` that was measured: per-round ratios' median and range."""
    rows = []
    for name, bench, a, b, seed_fig in RATIOS:
        if bench in res.rates:
            s = spread(ratios(res.rates[bench][a], res.rates[bench][b]))
            rows.append({"ratio (samples/s)": name, "seed's figure": seed_fig, "median": round(s["median"], 2), "min": round(s["min"], 2), "max": round(s["max"], 2),
                         "device": res.device})
    return rows


def speedup_verdict_rows(res: SpeedResult) -> list[dict]:
    """"Precomputing speeds training up by at least 2x" (the low end of the seed's 2-3x), and by more than 1x,
    paired by round; the rounds are repeats in one process, not seeds."""
    r = ratios(res.rates["input"]["precomputed"], res.rates["input"]["on-the-fly STFT"])
    return [report.verdict_row(f"precomputed STFT trains more than {x:g}× as fast as on-the-fly", report.compare(r, [x] * len(r), lower_is_better=False),
                               seed_figure="2–3× (expected)", a_name="speedup", b_name=f"{x:g}×", metric=f"samples/s ratio, rounds on {res.device.split(' ')[0]}")
            for x in (1.0, SEED_SPEEDUP[0])]
