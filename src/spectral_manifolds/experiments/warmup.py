"""Chapter 0's warm-up runs: one tiny regression model in torch, the same one in JAX/optax.

Both fit the same target, ``y = sin(2x) + 0.3 cos(5x)`` on ``x`` in ``[-pi, pi]``, with a
two-layer tanh MLP ``1 -> width -> width -> 1`` and Adam, so the reader sees the whole
training machinery of the book (device choice, budget, seeding, progress bars, the JIT
notice, history as data) on something that finishes in seconds.

"The same model" is meant literally: :func:`init_params` draws the initial weights once
in numpy, with torch's default ``nn.Linear`` rule (weights and biases uniform in
``±1/sqrt(fan_in)``), and both frameworks start from those arrays, see the same batches
in the same order and use the same Adam (``betas = (0.9, 0.999)``, ``eps = 1e-8``) with the
same learning-rate schedule. What still differs is floating-point rounding (and, on a
GPU, JAX's default TF32 matmuls), so the two loss curves agree at first and drift apart
slowly.

Schedules (``WarmupConfig.schedule``): ``"constant"`` (default) keeps ``lr``;
``"cosine"`` decays it from ``lr`` to 0 over the run, ``lr_t = lr (1 + cos(pi t / steps)) / 2``
for update ``t = 0..steps-1`` (torch ``CosineAnnealingLR``, optax ``cosine_decay_schedule``:
the same numbers). At ``lr = 1e-2`` a constant rate can let Adam's loss spike late in a
long run (chapter 0's full-budget torch run did, after about step 1400), so a loss read
at the last step can land on a spike; the result therefore also reports the smallest
batch loss and the mean and maximum of the last ``tail`` batch losses. A decaying rate
ends with small steps, so its last loss is not read on a spike; in a short run it also
learns more slowly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime

SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class WarmupConfig:
    """Sizes of the warm-up run; chapter 0 picks them with ``runtime.sized``.

    ``tail`` is the number of final steps summarized by ``tail_mean`` / ``tail_max``
    (default: the last tenth of the run).
    """

    width: int = 64
    n_points: int = 512
    batch: int = 128
    steps: int = 400
    lr: float = 1e-2
    schedule: str = "constant"
    seed: int = 0
    tail: int | None = None

    def __post_init__(self):
        for name in ("width", "n_points", "batch", "steps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.batch > self.n_points:
            raise ValueError(f"batch ({self.batch}) cannot exceed n_points ({self.n_points})")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive and finite, got {self.lr}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r} is not one of {', '.join(repr(s) for s in SCHEDULES)}")
        if self.tail is not None and not 1 <= self.tail <= self.steps:
            raise ValueError(f"tail must lie in [1, steps={self.steps}], got {self.tail}")

    @property
    def tail_steps(self) -> int:
        return self.tail if self.tail is not None else max(1, self.steps // 10)

    def learning_rate(self, step: int) -> float:
        """The rate of update ``step`` (0-based), as both frameworks apply it."""
        if self.schedule == "constant":
            return self.lr
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * step / self.steps))


@dataclass
class WarmupResult:
    """History and speed of one warm-up run."""

    framework: str
    device: str
    schedule: str = "constant"
    losses: list[float] = field(default_factory=list)  # batch MSE per step (before that step's update)
    final_mse: float = float("nan")  # full-data MSE after training
    initial_mse: float = float("nan")  # full-data MSE before training
    min_loss: float = float("nan")  # smallest batch MSE of the run
    tail_mean: float = float("nan")  # mean batch MSE over the last ``tail`` steps
    tail_max: float = float("nan")  # largest batch MSE over the last ``tail`` steps
    steps_per_second: float = float("nan")
    compile_seconds: float = 0.0  # JAX only

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summarize(self, tail: int) -> None:
        """Fill ``min_loss``, ``tail_mean`` and ``tail_max`` from ``losses``."""
        losses = np.asarray(self.losses, dtype=float)
        self.min_loss = float(losses.min())
        self.tail_mean = float(losses[-tail:].mean())
        self.tail_max = float(losses[-tail:].max())


def target_data(n_points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points ``x: (n, 1)`` uniform in [-pi, pi] and targets ``y: (n, 1)``, float32."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n_points, 1)).astype(np.float32)
    y = (np.sin(2 * x) + 0.3 * np.cos(5 * x)).astype(np.float32)
    return x, y


def init_params(width: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Initial weights of the MLP, shared by both frameworks.

    torch's default ``nn.Linear`` rule: kernel and bias uniform in ``±1/sqrt(fan_in)``
    (random, not zero, biases matter here: with zero biases every tanh unit of the first
    layer is an odd function of ``x`` and the even part ``cos(5x)`` is harder to fit).

    Returns:
        ``[(W1, b1), (W2, b2), (W3, b3)]`` float32 with ``W: (fan_in, fan_out)``,
        ``b: (fan_out,)`` for the layer sizes ``1 -> width -> width -> 1``.
    """
    rng = np.random.default_rng(seed + 2)
    sizes = (1, width, width, 1)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
        b = rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)
        params.append((w, b))
    return params


def _batch_indices(cfg: WarmupConfig) -> np.ndarray:
    """(steps, batch) indices into the data, the same for both frameworks."""
    rng = np.random.default_rng(cfg.seed + 1)
    return np.stack([rng.choice(cfg.n_points, cfg.batch, replace=False) for _ in range(cfg.steps)])


def run_torch(cfg: WarmupConfig) -> WarmupResult:
    """Train the MLP with torch on ``runtime.torch_device()``."""
    import torch

    runtime.seed_everything(cfg.seed)
    device = runtime.torch_device()
    x_np, y_np = target_data(cfg.n_points, cfg.seed)
    x, y = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)
    idx = torch.from_numpy(_batch_indices(cfg)).to(device)
    layers = [torch.nn.Linear(1, cfg.width), torch.nn.Linear(cfg.width, cfg.width), torch.nn.Linear(cfg.width, 1)]
    with torch.no_grad():
        for layer, (w, b) in zip(layers, init_params(cfg.width, cfg.seed)):
            layer.weight.copy_(torch.from_numpy(w.T.copy()))  # torch stores (fan_out, fan_in)
            layer.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(layers[0], torch.nn.Tanh(), layers[1], torch.nn.Tanh(), layers[2]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: cfg.learning_rate(step) / cfg.lr)
    result = WarmupResult("torch", str(device), cfg.schedule)
    with torch.no_grad():
        result.initial_mse = float(torch.mean((model(x) - y) ** 2))
    losses = []
    with runtime.Timer() as t:
        for step in runtime.progress(range(cfg.steps), desc=f"torch ({cfg.schedule} lr)"):
            xb, yb = x[idx[step]], y[idx[step]]
            loss = torch.mean((model(xb) - yb) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.detach())
        runtime.block(None)
    result.losses = [float(v) for v in torch.stack(losses).cpu()]
    result.steps_per_second = cfg.steps / t.seconds
    with torch.no_grad():
        result.final_mse = float(torch.mean((model(x) - y) ** 2))
    result.summarize(cfg.tail_steps)
    return result


def run_jax(cfg: WarmupConfig) -> WarmupResult:
    """Train the same MLP with Flax NNX and optax, the step compiled once with a notice."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    runtime.seed_everything(cfg.seed)

    class MLP(nnx.Module):
        def __init__(self, width: int, rngs: nnx.Rngs):
            self.l1 = nnx.Linear(1, width, rngs=rngs)
            self.l2 = nnx.Linear(width, width, rngs=rngs)
            self.l3 = nnx.Linear(width, 1, rngs=rngs)

        def __call__(self, x):  # x: (n, 1) -> (n, 1)
            return self.l3(jnp.tanh(self.l2(jnp.tanh(self.l1(x)))))

    model = MLP(cfg.width, nnx.Rngs(params=0))
    for layer, (w, b) in zip((model.l1, model.l2, model.l3), init_params(cfg.width, cfg.seed)):
        layer.kernel[...] = jnp.asarray(w)  # flax stores (fan_in, fan_out)
        layer.bias[...] = jnp.asarray(b)
    graphdef, params = nnx.split(model, nnx.Param)
    if cfg.schedule == "cosine":
        lr = optax.cosine_decay_schedule(cfg.lr, decay_steps=cfg.steps)
    else:
        lr = cfg.lr
    tx = optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8)
    opt_state = tx.init(params)
    x_np, y_np = target_data(cfg.n_points, cfg.seed)
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)
    idx = jnp.asarray(_batch_indices(cfg))

    def mse(p, xb, yb):
        return jnp.mean((nnx.merge(graphdef, p)(xb) - yb) ** 2)

    @jax.jit
    def train_step(p, state, batch_idx):
        loss, grads = jax.value_and_grad(mse)(p, x[batch_idx], y[batch_idx])
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    result = WarmupResult("jax", runtime.jax_backend(), cfg.schedule)
    result.initial_mse = float(mse(params, x, y))
    step = runtime.compile_with_notice(train_step, params, opt_state, idx[0], name=f"the warm-up train step ({cfg.schedule} lr)")
    result.compile_seconds = step.compile_seconds
    losses = []
    with runtime.Timer() as t:
        for i in runtime.progress(range(cfg.steps), desc=f"jax ({cfg.schedule} lr)"):
            params, opt_state, loss = step(params, opt_state, idx[i])
            losses.append(loss)
        runtime.block(params)
    result.losses = [float(v) for v in jnp.stack(losses)]
    result.steps_per_second = cfg.steps / t.seconds
    result.final_mse = float(mse(params, x, y))
    result.summarize(cfg.tail_steps)
    return result
