"""Chapter 0's warm-up runs: one tiny regression model in torch, one in JAX/optax.

Both fit the same target, ``y = sin(2x) + 0.3 cos(5x)`` on ``x`` in ``[-pi, pi]``, with a
two-layer tanh MLP and Adam, so the reader sees the whole training machinery of the
book (device choice, budget, seeding, progress bars, the JIT notice, history as data)
on something that finishes in seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from spectral_manifolds import runtime


@dataclass(frozen=True)
class WarmupConfig:
    """Sizes of the warm-up run; chapter 0 picks them with ``runtime.sized``."""

    width: int = 64
    n_points: int = 512
    batch: int = 128
    steps: int = 400
    lr: float = 1e-2
    seed: int = 0

    def __post_init__(self):
        for name in ("width", "n_points", "batch", "steps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.batch > self.n_points:
            raise ValueError(f"batch ({self.batch}) cannot exceed n_points ({self.n_points})")


@dataclass
class WarmupResult:
    """History and speed of one warm-up run."""

    framework: str
    device: str
    losses: list[float] = field(default_factory=list)  # training MSE per step
    final_mse: float = float("nan")  # full-data MSE after training
    initial_mse: float = float("nan")  # full-data MSE before training
    steps_per_second: float = float("nan")
    compile_seconds: float = 0.0  # JAX only

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def target_data(n_points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points ``x: (n, 1)`` uniform in [-pi, pi] and targets ``y: (n, 1)``, float32."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n_points, 1)).astype(np.float32)
    y = (np.sin(2 * x) + 0.3 * np.cos(5 * x)).astype(np.float32)
    return x, y


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
    model = torch.nn.Sequential(
        torch.nn.Linear(1, cfg.width), torch.nn.Tanh(), torch.nn.Linear(cfg.width, cfg.width), torch.nn.Tanh(), torch.nn.Linear(cfg.width, 1)
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = WarmupResult("torch", str(device))
    with torch.no_grad():
        result.initial_mse = float(torch.mean((model(x) - y) ** 2))
    losses = []
    with runtime.Timer() as t:
        for step in runtime.progress(range(cfg.steps), desc="torch"):
            xb, yb = x[idx[step]], y[idx[step]]
            loss = torch.mean((model(xb) - yb) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        runtime.block(None)
    result.losses = [float(v) for v in torch.stack(losses).cpu()]
    result.steps_per_second = cfg.steps / t.seconds
    with torch.no_grad():
        result.final_mse = float(torch.mean((model(x) - y) ** 2))
    return result


def run_jax(cfg: WarmupConfig) -> WarmupResult:
    """Train the same MLP with Flax NNX and optax, the step compiled once with a notice."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    key = runtime.seed_everything(cfg.seed)

    class MLP(nnx.Module):
        def __init__(self, width: int, rngs: nnx.Rngs):
            # Random (not zero) biases, as torch does: with zero biases every tanh unit
            # is an odd function of x and the even part cos(5x) could never be fitted.
            bias = nnx.initializers.normal(stddev=1.0)
            self.l1 = nnx.Linear(1, width, bias_init=bias, rngs=rngs)
            self.l2 = nnx.Linear(width, width, bias_init=bias, rngs=rngs)
            self.l3 = nnx.Linear(width, 1, rngs=rngs)

        def __call__(self, x):  # x: (n, 1) -> (n, 1)
            return self.l3(jnp.tanh(self.l2(jnp.tanh(self.l1(x)))))

    model = MLP(cfg.width, nnx.Rngs(params=key))
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adam(cfg.lr)
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

    result = WarmupResult("jax", runtime.jax_backend())
    result.initial_mse = float(mse(params, x, y))
    step = runtime.compile_with_notice(train_step, params, opt_state, idx[0], name="JAX train step")
    result.compile_seconds = step.compile_seconds
    losses = []
    with runtime.Timer() as t:
        for i in runtime.progress(range(cfg.steps), desc="jax"):
            params, opt_state, loss = step(params, opt_state, idx[i])
            losses.append(loss)
        runtime.block(params)
    result.losses = [float(v) for v in jnp.stack(losses)]
    result.steps_per_second = cfg.steps / t.seconds
    result.final_mse = float(mse(params, x, y))
    return result
