"""Linear orthogonal latent dynamics, a dilated causal encoder and a linear decoder (issue 10, item 2).

The model of "the oscillator solved" (Part II finale). Seed 001_a78d46c299591382.txt,
"Critical Lessons" 1, asks for the rollout in latent space ("Encode Context -> Evolve
Latent State -> Decode Result"); its "Rotation Insight" asks for orthogonal maps. Here the
latent evolves by one fixed orthogonal matrix,

    z_{t+1} = z_t R,      R = exp(A),  A^T = -A,

so ``|z_t|`` is conserved (a unit latent stays on the sphere without any retraction) and
``z_{t+j} = z_t R^j``: a Koopman / DMD view of a sum of sinusoids, whose Koopman
eigenvalues are ``e^{+-i theta}`` on the unit circle. Three parametrizations
(:data:`DYNAMICS`):

* ``"planes"`` -- ``A`` block-diagonal with learned angles ``theta_p`` on the 2-planes
  ``(p, P + p)``: ``R`` rotates plane ``p`` by exactly ``theta_p`` and ``R^j`` by
  ``j theta_p`` (closed form, :meth:`OrthogonalDynamics.powers`);
* ``"skew"`` -- a general skew matrix ``A = (W - W^T) / 2`` through
  ``jax.scipy.linalg.expm`` (orthogonal with ``det R = +1`` up to float rounding); ``expm``
  solves a linear system (LAPACK): keep any SVD metric out of a jitted program that trains
  it (DESIGN.md, known traps; jaxlib's CPU backend can deadlock on 2 cores);
* ``"linear"`` -- the ablation: an unconstrained matrix ``R = M`` (initialized as the
  planes' rotation), which need not conserve the norm.

The encoder (:class:`DilatedCausalEncoder`) is a stack of causal convolutions, kernel
``k``, dilations ``d_l``, ReLU between layers (or none: ``activation="linear"``, one long
factorized causal FIR filter), then a Dense to the latent, normalized onto the unit sphere
per step. Its receptive field is ``1 + (k - 1) * sum(d_l)``
(:func:`receptive_field`); kernel 2 with dilations ``1, 2, ..., 128`` gives 256 steps,
more than the seeds' task's slowest beat (``2 pi / (1 * dt) = 127.5`` steps at
``dt = 4 pi / 255``); the same stack with all dilations 1 (8 layers, kernel 2) has the
seeds' receptive field of 9 (two convs of kernel 5) with the same parameters.
:func:`spectral_angles` initializes the plane angles at the peaks of the training input's
periodogram (a DMD-style start; on the seeds' task the five candidate frequencies fall
exactly on rfft bins ``2 f`` of the 255-step input).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from spectral_manifolds import sphere, validate

__all__ = ["DYNAMICS", "receptive_field", "plane_rotation", "skew", "spectral_angles", "phase_latent", "DilatedCausalEncoder",
           "OrthogonalDynamics", "RolloutModel", "n_params"]

DYNAMICS = ("planes", "skew", "linear")
_HI = jax.lax.Precision.HIGHEST


def receptive_field(kernel: int, dilations: Sequence[int]) -> int:
    """Steps a causal conv stack sees: ``1 + (kernel - 1) * sum(dilations)``."""
    validate.positive_int("kernel", kernel)
    if not dilations or any(not isinstance(d, int) or d < 1 for d in dilations):
        raise ValueError(f"dilations must be a non-empty sequence of positive ints, got {dilations!r}")
    return 1 + (kernel - 1) * sum(dilations)


def plane_rotation(angles) -> jax.Array:
    """``exp(A)`` for block-diagonal ``A`` on the planes ``(p, P + p)``, in closed form.

    Args:
        angles: (..., P) angles ``theta_p`` (radians per step).
    Returns:
        (..., 2P, 2P): ``R`` with ``R[p, p] = R[P+p, P+p] = cos theta_p``,
        ``R[p, P+p] = sin theta_p``, ``R[P+p, p] = -sin theta_p``; a row vector's pair
        ``(z_p, z_{P+p}) = (cos phi, sin phi)`` maps to ``(cos(phi + theta), sin(phi + theta))``:
        plane ``p`` turns by exactly ``theta_p`` per step.
    """
    angles = jnp.asarray(angles)
    c, s = jnp.cos(angles), jnp.sin(angles)
    eye = jnp.eye(angles.shape[-1], dtype=angles.dtype)
    top = jnp.concatenate([c[..., None, :] * eye, s[..., None, :] * eye], axis=-1)
    bottom = jnp.concatenate([-s[..., None, :] * eye, c[..., None, :] * eye], axis=-1)
    return jnp.concatenate([top, bottom], axis=-2)


def skew(w) -> jax.Array:
    """(..., d, d) -> the skew-symmetric part ``(W - W^T) / 2``."""
    w = jnp.asarray(w)
    return 0.5 * (w - jnp.swapaxes(w, -1, -2))


def spectral_angles(x, p: int, max_angle: float = 0.5):
    """A DMD-style initialization of ``p`` plane angles from the data's spectrum.

    The local maxima of the mean periodogram ``mean_{n,c} |rfft(x[n, :, c])|^2`` (DC
    excluded) at angular frequencies ``2 pi j / T`` (radians per step), the strongest
    first; when there are fewer than ``p`` peaks the rest are the grid
    ``(q + 1/2) max_angle / p`` not yet taken. No oracle knowledge: only the training input.

    Args:
        x: (N, T, C) or (T, C) training input.
    Returns:
        (p,) float32 angles, ascending.
    """
    import numpy as np

    x = np.asarray(x, np.float64)
    x = x[None] if x.ndim == 2 else x
    if x.ndim != 3 or x.shape[1] < 4:
        raise ValueError(f"x must have shape (N, T, C) with T >= 4, got {x.shape}")
    validate.positive_int("p", p)
    power = np.mean(np.abs(np.fft.rfft(x, axis=1)) ** 2, axis=(0, 2))  # (F,)
    j = np.arange(1, power.size - 1)
    peaks = j[(power[j] > power[j - 1]) & (power[j] >= power[j + 1])]
    peaks = peaks[np.argsort(-power[peaks])][:p]
    angles = list(2 * np.pi * peaks / x.shape[1])
    grid = [(q + 0.5) * max_angle / p for q in range(p)]
    for g in grid:
        if len(angles) >= p:
            break
        angles.append(g)
    return jnp.asarray(sorted(angles), jnp.float32)


def phase_latent(z, kappa: float = 0.2):
    """The amplitude-free read-out of a plane latent: each 2-plane scaled to (about) unit size.

    Plane ``p`` of ``z`` (coordinates ``p, P + p``) has magnitude ``m_p``; it is multiplied
    by ``m_p / (m_p^2 + kappa^2)``, i.e. whitened to ``m_p^2 / (m_p^2 + kappa^2)`` (near 1 for
    a mode that is present, near 0 for a plane below ``kappa``: a soft gate, no NaN at
    ``m_p = 0``), and the rows are normalized again. If each mode sits in its own plane this
    removes the amplitudes that floor the seeds' oracle distance at 0.106
    (``geometry_metric.amplitude_floor``); if a plane mixes modes it cannot.

    Args:
        z: (..., 2P) latent (unit rows or not); kappa: gate, > 0.
    Returns:
        (..., 2P) float32 with unit rows (zero rows stay zero).
    """
    import numpy as np

    z = np.asarray(z, np.float64)
    if z.ndim < 1 or z.shape[-1] % 2:
        raise ValueError(f"z must end in an even dimension 2P, got shape {z.shape}")
    if not kappa > 0:
        raise ValueError(f"kappa must be > 0, got {kappa}")
    p = z.shape[-1] // 2
    m = np.sqrt(z[..., :p] ** 2 + z[..., p:] ** 2)
    s = m / (m * m + kappa * kappa)
    out = z * np.concatenate([s, s], axis=-1)
    norm = np.linalg.norm(out, axis=-1, keepdims=True)
    return (out / np.where(norm > 0, norm, 1.0)).astype(np.float32)


class DilatedCausalEncoder(nnx.Module):
    """Causal conv stack -> Dense(d) -> unit sphere per step.

    ``x: (B, T, C) or (T, C)`` -> ``z: same leading shape + (d,)``, unit rows; ``z_t``
    depends on ``x_{t - rf + 1 .. t}`` only (:attr:`receptive_field`).
    """

    def __init__(self, c_in: int, d: int, *, hidden: int = 32, kernel: int = 2,
                 dilations: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128), activation: str = "relu", rngs: nnx.Rngs):
        validate.positive_int("c_in", c_in)
        validate.choice("activation", activation, ("relu", "linear"))
        self.activation = activation
        validate.positive_int("hidden", hidden)
        self.receptive_field = receptive_field(kernel, tuple(dilations))
        chans = [c_in] + [hidden] * len(dilations)
        self.convs = nnx.List([
            nnx.Conv(a, b, kernel_size=(kernel,), kernel_dilation=(dil,), padding="CAUSAL", rngs=rngs)
            for a, b, dil in zip(chans[:-1], chans[1:], dilations)
        ])
        self.out = nnx.Linear(hidden, d, rngs=rngs)

    def __call__(self, x):
        h = jnp.asarray(x)
        for conv in self.convs:
            h = conv(h)
            h = nnx.relu(h) if self.activation == "relu" else h
        return sphere.normalize(self.out(h))


class OrthogonalDynamics(nnx.Module):
    """One linear map ``z_{t+1} = z_t R`` of a (..., d) latent, ``d = 2P`` even (module docstring).

    ``angles_init``: (P,) initial plane angles (default: a grid ``(p + 1/2) * max_angle / P``).
    ``kind="skew"`` starts from the same rotation (``W = A`` of the planes);
    ``kind="linear"`` starts from the same matrix, unconstrained.
    """

    def __init__(self, d: int, *, kind: str = "planes", max_angle: float = 0.5, angles_init=None, rngs: nnx.Rngs | None = None):
        validate.positive_int("d", d)
        if d % 2:
            raise ValueError(f"d must be even (2-planes), got {d}")
        validate.choice("kind", kind, DYNAMICS)
        self.kind, self.d = kind, int(d)
        p = d // 2
        if angles_init is None:
            angles_init = (jnp.arange(p) + 0.5) * max_angle / p
        angles_init = jnp.asarray(angles_init, jnp.float32)
        if angles_init.shape != (p,):
            raise ValueError(f"angles_init must have shape ({p},), got {angles_init.shape}")
        if kind == "planes":
            self.angles = nnx.Param(angles_init)
        elif kind == "skew":
            a = jnp.zeros((d, d), jnp.float32)
            idx = jnp.arange(p)
            self.w = nnx.Param(a.at[idx, p + idx].set(angles_init).at[p + idx, idx].set(-angles_init))
        else:
            self.m = nnx.Param(plane_rotation(angles_init))

    def generator(self) -> jax.Array:
        """(d, d) skew-symmetric ``A`` (``"planes"`` and ``"skew"`` only)."""
        if self.kind == "planes":
            p = self.d // 2
            idx = jnp.arange(p)
            th = self.angles[...]
            return jnp.zeros((self.d, self.d), th.dtype).at[idx, p + idx].set(th).at[p + idx, idx].set(-th)
        if self.kind == "skew":
            return skew(self.w[...])
        raise ValueError("an unconstrained linear map has no skew generator")

    def matrix(self) -> jax.Array:
        """(d, d) ``R``: ``exp(A)`` (closed form for planes, ``expm`` for skew) or ``M``."""
        if self.kind == "planes":
            return plane_rotation(self.angles[...])
        if self.kind == "skew":
            return jax.scipy.linalg.expm(self.generator())
        return self.m[...]

    def powers(self, k: int) -> jax.Array:
        """(k + 1, d, d): ``R^0 = I, R^1, ..., R^k`` (planes: ``plane_rotation(j theta)`` exactly)."""
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative int, got {k!r}")
        if self.kind == "planes":
            j = jnp.arange(k + 1, dtype=jnp.float32)[:, None]
            return plane_rotation(j * self.angles[...][None, :])
        r = self.matrix()

        def body(carry, _):
            nxt = jnp.matmul(carry, r, precision=_HI)
            return nxt, nxt

        eye = jnp.eye(self.d, dtype=r.dtype)
        _, rest = jax.lax.scan(body, eye, None, length=k)
        return jnp.concatenate([eye[None], rest], axis=0)

    def rollout(self, z, k: int) -> jax.Array:
        """``z: (..., d)`` -> ``(..., k + 1, d)``: ``z R^j`` for ``j = 0..k``."""
        z = jnp.asarray(z)
        if z.shape[-1] != self.d:
            raise ValueError(f"z must end in d={self.d}, got shape {z.shape}")
        return jnp.einsum("...i,jik->...jk", z, self.powers(k), precision=_HI)


class RolloutModel(nnx.Module):
    """Encoder -> orthogonal latent rollout -> linear decoder (module docstring).

    ``encode(x: (B, T, C)) -> z: (B, T, d)`` unit rows; ``decode(z: (..., d)) -> (..., C)``;
    ``predict_next(x) -> (B, T, C)``, the decoded ``z_t R`` (a forecast of step ``t + 1``);
    ``rollout(x, starts, k) -> (B, S, k + 1, C)``, decoded ``z_s R^j`` for ``s`` in ``starts``.
    """

    def __init__(self, c: int, d: int, *, hidden: int = 32, kernel: int = 2,
                 dilations: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128), dynamics: str = "planes",
                 max_angle: float = 0.5, angles_init=None, activation: str = "relu", rngs: nnx.Rngs):
        self.encoder = DilatedCausalEncoder(c, d, hidden=hidden, kernel=kernel, dilations=dilations,
                                            activation=activation, rngs=rngs)
        self.dynamics = OrthogonalDynamics(d, kind=dynamics, max_angle=max_angle, angles_init=angles_init, rngs=rngs)
        self.decoder = nnx.Linear(d, c, rngs=rngs)

    @property
    def receptive_field(self) -> int:
        return self.encoder.receptive_field

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def predict_next(self, x):
        z = self.encode(x)
        return self.decode(jnp.matmul(z, self.dynamics.matrix(), precision=_HI))

    def rollout(self, x, starts, k: int):
        z = self.encode(x)[:, jnp.asarray(starts)]  # (B, S, d)
        return self.decode(self.dynamics.rollout(z, k))


def n_params(model: nnx.Module) -> int:
    """Number of trainable scalars."""
    return int(sum(math.prod(p.shape) for p in jax.tree.leaves(nnx.state(model, nnx.Param))))
