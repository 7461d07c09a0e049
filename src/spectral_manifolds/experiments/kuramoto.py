"""Chapter 3's runs: Sakaguchi-Kuramoto dynamics on the sphere (seed 000, Stage II;
seed 001, section 5 "Sakaguchi-Kuramoto Stability"; seed 001, section 13).

Three measurements, each a function of one :class:`KuramotoConfig`:

1. :func:`run_sync_curves` -- the time-averaged order parameter ``r`` of ``N``
   Lorentzian oscillators (deterministic quantile frequencies, half-width ``delta``)
   against the Ott-Antonsen curve ``r* = sqrt(1 - 2 delta / (K cos alpha))``, simulated
   twice: with the ``d = 2`` phase reduction and with the sphere implementation in
   ``d = 2`` (same initial phases).
2. :func:`run_portraits` -- ``N`` identical oscillators on ``S^2`` (``d = 3``) from
   random starts: Kuramoto without lag, Sakaguchi-Kuramoto with lag (the book's linear
   lag), the seed's ``sin(<q, k> + alpha)`` form with the same lag, and the rotation lag
   ``exp(-alpha A)``; late-time order parameter and speed of the mean field.
3. :func:`run_rk4_order` -- classic RK4 (with retraction) on the nonlinear,
   time-dependent :func:`~spectral_manifolds.driven_rotor.driven_rotor_field` against its
   closed form: error and error ratio as ``h`` halves; one step of ``h = 1`` against
   4 substeps of ``h = 0.25``.

:func:`run` does all three and returns a :class:`KuramotoResult`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spectral_manifolds import driven_rotor as rotor
from spectral_manifolds import kuramoto_theory as ku
from spectral_manifolds import ode, runtime, sphere


@dataclass(frozen=True)
class KuramotoConfig:
    """Sizes of chapter 3's runs (picked with ``runtime.sized``)."""

    # 1. synchronization curves, d = 2
    n_oscillators: int = 2000
    delta: float = 0.5  # Lorentzian half-width
    couplings: tuple = (0.6, 0.9, 1.1, 1.3, 1.6, 2.0, 2.6, 3.2)
    alphas: tuple = (0.0, 0.8)
    h: float = 0.05
    t_transient: float = 50.0
    t_total: float = 150.0
    # 2. phase portraits on S^2
    portrait_n: int = 48
    portrait_K: float = 1.0
    portrait_alpha: float = 0.8
    portrait_h: float = 0.1
    portrait_t: float = 60.0
    # 3. RK4 order
    order_steps: tuple = (0.5, 0.25, 0.125, 0.0625)
    order_t: float = 4.0
    seed: int = 0

    def __post_init__(self):
        for name in ("n_oscillators", "portrait_n"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be >= 2, got {getattr(self, name)}")
        for name in ("delta", "h", "portrait_K", "portrait_h", "portrait_t", "order_t"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.t_transient < self.t_total:
            raise ValueError(f"need 0 <= t_transient < t_total, got {self.t_transient}, {self.t_total}")
        if not self.couplings or min(self.couplings) <= 0:
            raise ValueError(f"couplings must be positive, got {self.couplings}")
        if not self.alphas or max(abs(a) for a in self.alphas) >= np.pi / 2:
            raise ValueError(f"alphas must lie in (-pi/2, pi/2), got {self.alphas}")
        if not abs(self.portrait_alpha) < np.pi / 2:
            raise ValueError(f"portrait_alpha must lie in (-pi/2, pi/2), got {self.portrait_alpha}")
        if len(self.order_steps) < 2 or min(self.order_steps) <= 0:
            raise ValueError(f"order_steps needs >= 2 positive steps, got {self.order_steps}")
        for h in self.order_steps:
            if abs(self.order_t / h - round(self.order_t / h)) > 1e-9:
                raise ValueError(f"order_t={self.order_t} is not a multiple of step {h}")


def _listify(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _listify(v) for k, v in obj.items()}
    if isinstance(obj, (np.ndarray, jax.Array)):
        return np.asarray(obj).tolist()
    if isinstance(obj, (list, tuple)):
        return [_listify(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


@dataclass
class KuramotoResult:
    """Everything chapter 3 plots and prints (numpy arrays; ``to_dict`` gives lists)."""

    sync: dict = field(default_factory=dict)
    portraits: dict = field(default_factory=dict)
    rk4: dict = field(default_factory=dict)
    compile_seconds: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return _listify(dataclasses.asdict(self))


# --------------------------------------------------------------------------- 1. sync curves
def initial_phases(n: int, seed: int) -> np.ndarray:
    """``(n,)`` float32 phases uniform on ``[-pi, pi)`` from ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, n).astype(np.float32)


def run_sync_curves(cfg: KuramotoConfig) -> tuple[dict, dict]:
    """Order parameter against coupling, phase reduction and sphere (d = 2), and theory.

    Returns:
        ``(sync, compile_seconds)``; ``sync`` holds ``couplings: (nK,)``, ``alphas: (nA,)``,
        ``r_phase, r_sphere, std_phase, std_sphere, r_theory: (nA, nK)`` and
        ``k_critical: (nA,)``.
    """
    omega = ku.lorentzian_frequencies(cfg.n_oscillators, cfg.delta)
    theta0 = jnp.asarray(initial_phases(cfg.n_oscillators, cfg.seed))
    ks = jnp.asarray(cfg.couplings, jnp.float32)
    times = dict(h=cfg.h, t_transient=cfg.t_transient, t_total=cfg.t_total)
    out: dict[str, Any] = {"couplings": np.asarray(cfg.couplings), "alphas": np.asarray(cfg.alphas)}
    compile_seconds = {}
    for model in ("phase", "sphere"):

        def curve(alpha, model=model):  # r over all couplings at one lag
            return jax.vmap(lambda k: ku.time_averaged_order(model, omega, theta0, k, alpha, **times))(ks)

        fn = runtime.compile_with_notice(jax.jit(curve), jnp.float32(0.0), name=f"{model} model (d = 2, N = {cfg.n_oscillators})")
        compile_seconds[f"sync_{model}"] = fn.compile_seconds
        means, stds = [], []
        for alpha in runtime.progress(cfg.alphas, desc=f"{model} model, per lag"):
            m, s = runtime.block(fn(jnp.float32(alpha)))
            means.append(np.asarray(m))
            stds.append(np.asarray(s))
        out[f"r_{model}"], out[f"std_{model}"] = np.stack(means), np.stack(stds)
    a, k = np.meshgrid(cfg.alphas, cfg.couplings, indexing="ij")
    out["r_theory"] = ku.ott_antonsen_r(k, cfg.delta, a)
    out["k_critical"] = ku.critical_coupling(cfg.delta, np.asarray(cfg.alphas))
    return out, compile_seconds


# --------------------------------------------------------------------------- 2. portraits
NEAR = 0.1  # radians: "at" the mean direction or at its antipode

PORTRAIT_VARIANTS = (
    # (name, field, lag kind, use the lag?)
    ("Kuramoto, no lag", "sakaguchi", "linear", False),
    ("Sakaguchi-Kuramoto, lag", "sakaguchi", "linear", True),
    ("seed form sin(<q,k>+a), lag", "seed", "linear", True),
    ("rotation lag exp(-aA), lag", "sakaguchi", "rotation", True),
)


def run_portraits(cfg: KuramotoConfig) -> tuple[dict, dict]:
    """Identical oscillators on ``S^2`` under four couplings (:data:`PORTRAIT_VARIANTS`).

    Returns:
        ``(portraits, compile_seconds)``; ``portraits[name]`` holds ``times: (S,)``,
        ``trajectories: (S, N, 3)``, ``mean_field: (S, 3)``, ``r: (S,)``, ``alpha``,
        ``r_final``, ``late_speed`` (mean ``|dm/dt|`` over the last quarter),
        ``cluster_speed`` (the field's speed for a fully synchronized cluster at the
        final mean direction; ``K sin(alpha) |A m^|`` under the linear lag),
        ``final_height`` (``e_3`` component of the final ``m^``, +-1 on the lag axis),
        ``max_norm_error`` (``max |1 - |z||`` over all states), ``final_angles: (N,)``
        (geodesic angle of each oscillator from the final ``m^``, radians),
        ``n_at_mean`` / ``n_at_antipode`` (oscillators within :data:`NEAR` rad of ``m^`` /
        of ``-m^``).
    """
    key = runtime.seed_everything(cfg.seed)
    z0 = sphere.random_point(key, (cfg.portrait_n, 3))
    save_dt = 0.5
    save_every = max(1, int(round(save_dt / cfg.portrait_h)))
    n_saves = int(round(cfg.portrait_t / (save_every * cfg.portrait_h)))
    portraits, compile_seconds = {}, {}

    def fn_cluster(m, alpha, form, kind):  # velocity of a fully synchronized cluster at m / |m|
        zc = sphere.normalize(m)
        if form == "seed":
            return ku.seed_field(zc, None, cfg.portrait_K, alpha)
        return ku.sphere_field(zc, None, cfg.portrait_K, alpha, lag=kind)

    def simulate(alpha, form, kind):
        if form == "seed":
            f = lambda t, z: ku.seed_field(z, None, cfg.portrait_K, alpha)  # noqa: E731
        else:
            f = lambda t, z: ku.sphere_field(z, None, cfg.portrait_K, alpha, lag=kind)  # noqa: E731
        return ode.integrate(
            f, z0, h=cfg.portrait_h, n_steps=n_saves * save_every, retract=sphere.normalize, save_every=save_every
        )

    compiled = {}  # compile every variant first, so the notices do not interleave with the bar
    for name, form, kind, lagged in PORTRAIT_VARIANTS:
        alpha = cfg.portrait_alpha if lagged else 0.0
        compiled[name] = runtime.compile_with_notice(
            jax.jit(lambda al, form=form, kind=kind: simulate(al, form, kind)), jnp.float32(alpha), name=f"portrait: {name}"
        )
        compile_seconds[f"portrait: {name}"] = compiled[name].compile_seconds
    for name, form, kind, lagged in runtime.progress(PORTRAIT_VARIANTS, desc="phase portraits"):
        alpha = cfg.portrait_alpha if lagged else 0.0
        ts, zs = runtime.block(compiled[name](jnp.float32(alpha)))
        ts, zs = np.asarray(ts), np.asarray(zs)
        m = zs.mean(axis=1)
        speed = np.linalg.norm(np.diff(m, axis=0), axis=-1) / np.diff(ts)
        late = slice(3 * len(speed) // 4, None)
        m_hat = m[-1] / max(np.linalg.norm(m[-1]), 1e-12)
        angles = np.arccos(np.clip(zs[-1] @ m_hat / np.linalg.norm(zs[-1], axis=-1), -1.0, 1.0))
        portraits[name] = {
            "alpha": float(alpha),
            "times": ts,
            "trajectories": zs,
            "mean_field": m,
            "r": np.linalg.norm(m, axis=-1),
            "r_final": float(np.linalg.norm(m[-1])),
            "late_speed": float(speed[late].mean()),
            "cluster_speed": float(np.linalg.norm(np.asarray(fn_cluster(jnp.asarray(m[-1:]), jnp.float32(alpha), form, kind)))),
            "final_height": float(m[-1, 2] / max(np.linalg.norm(m[-1]), 1e-12)),
            "max_norm_error": float(np.abs(1.0 - np.linalg.norm(zs, axis=-1)).max()),
            "final_angles": angles,
            "n_at_mean": int(np.sum(angles < NEAR)),
            "n_at_antipode": int(np.sum(angles > np.pi - NEAR)),
        }
    return portraits, compile_seconds


# --------------------------------------------------------------------------- 3. RK4 order
def run_rk4_order(cfg: KuramotoConfig, phi0: float = 2.5, lam0: float = 0.3) -> dict:
    """Convergence of classic RK4 (+ retraction) on :func:`~spectral_manifolds.driven_rotor.driven_rotor_field`.

    Returns:
        dict with ``steps: (n,)``, ``errors: (n,)`` (``|z_h(T) - z(T)|`` at
        ``T = order_t``), ``ratios: (n-1,)`` (error ratio when ``h`` halves),
        ``orders: (n-1,)`` (``log2`` of the ratios), and for one unit step from the same
        start: ``one_step_error`` (one step of ``h = 1``), ``substeps_error`` (4 substeps
        of ``h = 0.25``), ``one_vs_substeps`` (their distance).
    """
    z0 = jnp.asarray(rotor.driven_rotor_solution(0.0, phi0, lam0), jnp.float32)
    exact_T = rotor.driven_rotor_solution(cfg.order_t, phi0, lam0)
    errors = []
    for h in cfg.order_steps:
        n = int(round(cfg.order_t / h))
        run = jax.jit(lambda z, h=h, n=n: ode.integrate(rotor.driven_rotor_field, z, h=h, n_steps=n, retract=sphere.normalize, save_every=n)[1][-1])
        errors.append(float(np.linalg.norm(np.asarray(run(z0), np.float64) - exact_T)))
    errors = np.asarray(errors)
    ratios = errors[:-1] / errors[1:]
    step = jax.jit(lambda z, n: ode.rk4_substeps(rotor.driven_rotor_field, 0.0, z, 1.0, n, sphere.normalize), static_argnums=1)
    one, four = np.asarray(step(z0, 1), np.float64), np.asarray(step(z0, 4), np.float64)
    exact_1 = rotor.driven_rotor_solution(1.0, phi0, lam0)
    return {
        "steps": np.asarray(cfg.order_steps),
        "errors": errors,
        "ratios": ratios,
        "orders": np.log2(ratios),
        "one_step_error": float(np.linalg.norm(one - exact_1)),
        "substeps_error": float(np.linalg.norm(four - exact_1)),
        "one_vs_substeps": float(np.linalg.norm(one - four)),
    }


# --------------------------------------------------------------------------- all
def run(cfg: KuramotoConfig) -> KuramotoResult:
    """All three measurements of chapter 3."""
    result = KuramotoResult()
    with runtime.Timer() as t:
        result.sync, cs = run_sync_curves(cfg)
        result.compile_seconds.update(cs)
        result.portraits, cs = run_portraits(cfg)
        result.compile_seconds.update(cs)
        result.rk4 = run_rk4_order(cfg)
    result.seconds = t.seconds
    return result
