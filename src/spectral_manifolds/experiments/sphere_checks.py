"""Chapter 1's checks of the sphere and of the KL's gradient, as functions that return rows.

Seed 000_bd4cbe8700a1031d.txt, Stage I puts the latent on S^(d-1); chapter 1 checks the
book's maps (:mod:`spectral_manifolds.sphere`) against geoopt's ``Sphere`` and mpmath, and
measures the KL of :mod:`spectral_manifolds.wrapped_normal` and its pathwise gradient.
Each function returns plain rows (dicts) or arrays; the chapter turns rows into
DataFrames with :func:`spectral_manifolds.report.table`.

* :func:`geoopt_eps` -- geoopt's clamp of ``<x, y>`` in ``Sphere.dist`` read from its
  source module, and the smallest distance it can return, ``arccos(1 - eps)``.
* :func:`geoopt_agreement` -- largest ``|ours - geoopt|`` of exp, log, dist, project and
  retract over random pairs, per dtype and dimension.
* :func:`distance_accuracy` -- distances at a few true angles: mpmath at 40 digits,
  ours (float32), ``arccos`` (float32), geoopt (float32, float64).
* :func:`kl_vs_scale` -- the Monte-Carlo KL of an isotropic wrapped normal against the
  uniform prior over a range of ``sigma``, and its ``sigma -> infinity`` limit.
* :func:`kl_gradient_rows` -- the per-sample pathwise gradient ``dKL/dsigma`` against the
  finite-difference derivative of the Monte-Carlo KL (same noise draws).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def geoopt_eps() -> dict:
    """geoopt's ``Sphere`` clamp: ``{dtype name: (eps, arccos(1 - eps))}``.

    ``geoopt.manifolds.sphere.EPS`` maps torch dtypes to the ``eps`` of
    ``<x, y>.clamp(-1 + eps, 1 - eps)`` in ``Sphere.dist``; no distance below
    ``arccos(1 - eps)`` can come out (the floor is computed in float64).
    """
    import torch
    from geoopt.manifolds import sphere as geoopt_sphere

    out = {}
    for dtype, name in ((torch.float32, "float32"), (torch.float64, "float64")):
        eps = float(geoopt_sphere.EPS[dtype])
        out[name] = (eps, math.acos(1.0 - eps))
    return out


def _random_pairs(dim: int, n: int, r_max: float, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z: (n, dim) on the sphere, v: (n, dim) tangent with |v| in [0.5, r_max], y = exp_z(v)."""
    rng = np.random.default_rng(dim)
    z = rng.standard_normal((n, dim))
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    v = rng.standard_normal((n, dim))
    v -= np.sum(v * z, -1, keepdims=True) * z
    v *= rng.uniform(0.5, r_max, (n, 1)) / np.linalg.norm(v, axis=-1, keepdims=True)
    r = np.linalg.norm(v, axis=-1, keepdims=True)
    y = np.cos(r) * z + np.sin(r) * v / r
    return tuple(a.astype(dtype) for a in (z, v, y))


def geoopt_agreement(dims: Sequence[int] = (2, 3, 21, 64), n: int = 256) -> list[dict]:
    """Largest ``|ours - geoopt|`` per map over ``n`` random pairs, float32 (|v| <= 2.5) and float64 (<= 3.1).

    Returns:
        One row per (dtype, d): ``{"dtype", "d", "exp", "log", "dist", "project", "retract"}``.
    """
    import geoopt
    import jax
    import torch

    from spectral_manifolds import sphere

    G = geoopt.Sphere()
    rows = []
    for dtype, r_max in ((np.float32, 2.5), (np.float64, 3.1)):
        with jax.enable_x64(dtype == np.float64):
            for dim in dims:
                z, v, y = _random_pairs(dim, n, r_max, dtype)
                T = {k: torch.from_numpy(a) for k, a in (("z", z), ("v", v), ("y", y))}
                pairs = {
                    "exp": (sphere.exp(z, v), G.expmap(T["z"], T["v"])),
                    "log": (sphere.log(z, y), G.logmap(T["z"], T["y"])),
                    "dist": (sphere.dist(z, y), G.dist(T["z"], T["y"])),
                    "project": (sphere.project(z, 3 * v + 1), G.proju(T["z"], 3 * T["v"] + 1)),
                    "retract": (sphere.retract(z, v), G.retr(T["z"], T["v"])),
                }
                row = {"dtype": np.dtype(dtype).name, "d": dim}
                row.update({k: float(np.abs(np.asarray(a) - b.numpy()).max()) for k, (a, b) in pairs.items()})
                rows.append(row)
    return rows


def distance_accuracy(angles: Sequence[float] = (1e-6, 1e-4, 1e-2, 1.0, math.pi - 1e-2)) -> list[dict]:
    """The distance between ``e_1`` and a point at each true angle, five ways.

    The float32 point is what is measured, so the reference (mpmath at 40 digits, local
    precision) is the exact distance between the float32-rounded points.
    """
    import geoopt
    import mpmath
    import torch

    from spectral_manifolds import sphere

    G = geoopt.Sphere()
    rows = []
    for theta in angles:
        a = np.array([1.0, 0.0, 0.0])
        b = np.array([math.cos(theta), math.sin(theta), 0.0])
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        with mpmath.workdps(40):
            am, bm = [mpmath.mpf(float(p)) for p in a32], [mpmath.mpf(float(q)) for q in b32]
            norm_b = mpmath.sqrt(sum(q * q for q in bm))
            exact = float(2 * mpmath.asin(mpmath.sqrt(sum((p - q / norm_b) ** 2 for p, q in zip(am, bm))) / 2))
        rows.append({
            "true distance (mpmath)": exact,
            "ours, float32": float(sphere.dist(a32, b32)),
            "arccos, float32": float(np.arccos(np.float32(a32 @ b32))),
            "geoopt, float32": float(G.dist(torch.from_numpy(a32), torch.from_numpy(b32))),
            "geoopt, float64": float(G.dist(torch.from_numpy(a), torch.from_numpy(b))),
        })
    return rows


def kl_limit(d: int) -> float:
    """``KL_inf = log A_(d-1) - log A_(d-2) - log pi + (d-2) log 2``: a very wide wrapped normal vs uniform."""
    from spectral_manifolds.wrapped_normal import log_sphere_area

    return log_sphere_area(d) - log_sphere_area(d - 1) - math.log(math.pi) + (d - 2) * math.log(2)


def kl_vs_scale(sigmas: Sequence[float], dim: int, n_samples: int = 50_000, seed: int = 1, n_wraps: int = 30) -> np.ndarray:
    """Monte-Carlo ``KL(q || Uniform(S^(dim-1)))`` of the isotropic sampler at each ``sigma``.

    Returns:
        (len(sigmas),) nats, each the mean over ``n_samples`` draws (the same key).
    """
    import jax
    import jax.numpy as jnp

    from spectral_manifolds import sphere, wrapped_normal

    mu = sphere.normalize(jnp.ones(dim))

    @jax.jit
    def mean_kl(key, s):
        sig = jnp.full((n_samples, dim), s)
        _, v = wrapped_normal.sample_tangent(key, jnp.broadcast_to(mu, (n_samples, dim)), sig)
        return wrapped_normal.kl_to_uniform(mu, jnp.full((dim,), s), v, n_wraps=n_wraps).mean()

    return np.asarray([float(mean_kl(jax.random.key(seed), s)) for s in sigmas])


def kl_gradient_samples(sigma: float, dim: int = 21, n: int = 20_000, seed: int = 5) -> tuple[np.ndarray, float]:
    """Per-sample pathwise ``dKL/dsigma`` (isotropic sigma) and the finite-difference derivative.

    Returns:
        ``(g, fd)``: ``g: (n,)`` per-sample gradients of the single-sample KL; ``fd`` the
        central difference (at ``sigma (1 ± 1e-3)``) of the Monte-Carlo KL with the same draws.
    """
    import jax
    import jax.numpy as jnp

    from spectral_manifolds import sphere, wrapped_normal

    mu = sphere.normalize(jnp.arange(1.0, dim + 1.0))

    def single(s, key):
        sig = jnp.full((dim,), s)
        return wrapped_normal.kl_to_uniform(mu, sig, wrapped_normal.sample_tangent(key, mu, sig)[1])

    keys = jax.random.split(jax.random.key(seed), n)
    g = np.asarray(jax.jit(jax.vmap(jax.grad(single), in_axes=(None, 0)))(sigma, keys))
    mean_kl = jax.jit(lambda s: jnp.mean(jax.vmap(single, in_axes=(None, 0))(s, keys)))
    fd = (float(mean_kl(sigma * 1.001)) - float(mean_kl(sigma * 0.999))) / (0.002 * sigma)
    return g, fd


def kl_gradient_rows(sigmas: Sequence[float] = (0.1, 0.3, 0.45, 0.8, 2.0), dim: int = 21, n: int = 20_000) -> list[dict]:
    """One row per ``sigma``: typical ``|v|``, the finite-difference derivative, and the
    per-sample pathwise gradient's mean (over all ``n`` and over the first ``n/20``), std and max."""
    rows = []
    for s in sigmas:
        g, fd = kl_gradient_samples(float(s), dim, n)
        rows.append({
            "sigma": float(s),
            "typical |v| = sigma sqrt(d-1) (rad)": float(s) * math.sqrt(dim - 1),
            "dKL/dsigma, finite difference": fd,
            f"per-sample mean, first {n // 20:,}": float(g[: n // 20].mean()),
            f"per-sample mean, all {n:,}": float(g.mean()),
            "per-sample std": float(g.std()),
            "max |per-sample|": float(np.abs(g).max()),
        })
    return rows
