"""The ManifoldFormer: encoder -> latent dynamics on S^(d-1) -> decoder, in Flax NNX
(seed 000_bd4cbe8700a1031d.txt, "System Architecture", Stages I-II and lessons 1-4;
seed 001_a78d46c299591382.txt, section 13, zero-initialized dynamics).

The model assembles the book's tested parts; it adds no new mathematics:

* Stage I, :class:`spectral_manifolds.rvae.RVAE`: two causal convolutions (64 channels,
  kernel 5, ReLU) -> ``mu`` normalized onto the sphere, ``sigma = softplus(.) + eps``,
  tangent sample + exponential map; pointwise decoder ``Dense(128)-ReLU-Dense(C)``.
* Stage II, :class:`spectral_manifolds.manifold_field.ManifoldField`: the latent ODE
  ``dz/dt = Pi_{T_z}(W_style M(t) + F_kuramoto(z))`` with the causal power-law memory
  ``M`` (:mod:`spectral_manifolds.fractional`, learnable kernel initialized as the
  power law) and causal Kuramoto attention; one classic RK4 step of ``h = 1`` (seed 000,
  lesson 2) followed by the retraction ``normalize``; ``W_style`` and ``W_out`` start at
  zero, so at initialization a step is the identity (seed 001, section 13).

Three ways to use the dynamics:

* **teacher forcing** (:meth:`ManifoldFormer.__call__`): encode the whole observed
  sequence, ``z_t``, and advance *every* ``z_t`` by one step in parallel,
  ``z^_{t+1} = Step(z_{<=t})``; the memory of each position comes from the encoded
  past by one zero-padded FFT convolution and the attention is causal, so position
  ``t`` never sees ``z_{>t}``. Decoding ``z^_{t+1}`` predicts ``x_{t+1}``, decoding
  ``z_t`` reconstructs ``x_t``.
* **latent-space rollout** (:meth:`ManifoldFormer.rollout`, seed 000 lesson 1's
  "correction"): encode the context once, then evolve the latent state alone with
  ``jax.lax.scan``, ``z_{t+1} = Step(z_{<=t})``, feeding each new ``z`` back into the
  memory and the attention; decode only at the end.
* **signal-space feedback** (:meth:`ManifoldFormer.feedback_rollout`, seed 000 lesson
  1's "mistake"): decode each predicted step, append it to the signal and re-encode.

Both rollouts use exactly the step of teacher forcing: each scan step recomputes
``Step`` on a fixed-length buffer and reads the position it needs. Positions after it
hold placeholders that the causal memory and attention never read.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
from flax import nnx

from spectral_manifolds import ode, sphere, validate
from spectral_manifolds.manifold_field import ManifoldField
from spectral_manifolds.manifoldformer_config import ManifoldFormerConfig  # noqa: F401  (re-exported)
from spectral_manifolds.rvae import RVAE

__all__ = ["ManifoldFormerConfig", "ManifoldFormer", "ManifoldFormerOutput", "count_params", "param_breakdown"]


class ManifoldFormerOutput(NamedTuple):
    """Teacher-forced outputs; the batch axis is present iff it was in the input.

    Attributes:
        pred: (B, T, C) decoded ``z^_{t+1}``: the prediction of ``x_{t+1}``.
        recon: (B, T, C) decoded ``z_t``: the reconstruction of ``x_t``.
        z: (B, T, d) encoded latents on the sphere (sampled when a key was given).
        z_next: (B, T, d) ``Step(z_{<=t})`` on the sphere.
        mu: (B, T, d) encoder means on the sphere; sigma: (B, T, d) > 0.
        v: (B, T, d) tangent samples (zeros when decoding the mean).
    """

    pred: jax.Array
    recon: jax.Array
    z: jax.Array
    z_next: jax.Array
    mu: jax.Array
    sigma: jax.Array
    v: jax.Array


def _check_steps(n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative Python int, got {n_steps!r}")
    return n_steps


class ManifoldFormer(nnx.Module):
    """Encoder -> latent dynamics on the sphere -> decoder (seed 000's ManifoldFormer).

    Args:
        config: :class:`ManifoldFormerConfig`.
        rngs: ``nnx.Rngs`` for the parameters.
    """

    def __init__(self, config: ManifoldFormerConfig = ManifoldFormerConfig(), *, rngs: nnx.Rngs):
        self.config = config
        c = config
        self.vae = RVAE(
            c.n_channels, c.latent_dim, hidden=c.hidden, kernel=c.kernel, decoder_hidden=c.decoder_hidden, sigma_init=c.sigma_init, rngs=rngs
        )
        field = None
        if c.dynamics:
            field = ManifoldField(
                c.latent_dim,
                gamma=c.gamma,
                memory_len=c.memory_len,
                use_memory=c.use_memory,
                learnable_memory=c.learnable_memory,
                form=c.form,
                causal=True,
                alpha_init=c.alpha_init,
                zero_init=c.zero_init,
                rngs=rngs,
            )
        # None (no dynamics) is a static attribute, a module a data attribute: one assignment
        self.field: Optional[ManifoldField] = field

    # ------------------------------------------------------------------ stages
    def encode(self, x):
        """x: (B, T, C) or (T, C) -> (mu, sigma), each (B, T, d) or (T, d); ``mu`` on the sphere.

        Causal: ``mu[t]`` depends on ``x[<= t]`` only.
        """
        validate.sequence(jnp.asarray(x), "x", last=self.config.n_channels, last_name="C")
        return self.vae.encode(x)

    def sample(self, key, mu, sigma):
        """Tangent sample + exponential map: returns ``(z, v)``, shapes of ``mu``."""
        return self.vae.sample(key, mu, sigma)

    def decode(self, z):
        """z: (..., d) on the sphere -> (..., C), pointwise."""
        return self.vae.decode(z)

    def advance(self, z, h=None):
        """One latent step at every position: ``z: (B, T, d) or (T, d)`` -> ``Step(z_{<=t})``, same shape.

        One RK4 step of total time ``h`` (``n_substeps`` substeps of ``h / n_substeps``) of
        the manifold field, memory and attention causal, retraction after each substep.
        The memory ``M`` of the input sequence is held fixed within the step; the coupling
        is re-evaluated at every RK4 stage. Without dynamics: the identity.

        Args:
            z: (B, T, d) or (T, d) on the sphere.
            h: total time of the step; None uses ``config.h``. May be a traced scalar
               (training several step sizes in one compiled program).
        """
        zb, squeeze = validate.sequence(jnp.asarray(z), "z", last=self.config.latent_dim, last_name="d")
        n = self.config.n_substeps
        h = self.config.h if h is None else h
        if self.field is None:
            out = zb
        elif n == 1:
            out = self.field.step(zb, h=h, n_substeps=1)
        else:
            # ManifoldField.step's scheme (memory of the input held fixed, coupling
            # re-evaluated at every stage, retraction after every substep), with the
            # substeps in a lax.scan: one traced substep instead of n unrolled ones
            # keeps the compile time of n = 4 close to that of n = 1.
            memory = self.field.memory(zb) if self.config.use_memory else None
            dt = h / n

            def substep(y, i):
                f = lambda t, y: self.field(y, memory=memory)  # noqa: E731
                return ode.rk4_substeps(f, i * dt, y, dt, 1, retract=sphere.normalize), None

            out, _ = jax.lax.scan(substep, zb, jnp.arange(n, dtype=zb.dtype))
        return out[0] if squeeze else out

    def step(self, z_past):
        """The next latent from a history: ``z_past: (B, t, d) or (t, d)`` -> ``z_t: (B, d) or (d,)``.

        Equal to ``advance(z_past)[..., -1, :]`` (the last position's step, using the
        memory of and the coupling to the whole history).
        """
        return self.advance(z_past)[..., -1, :]

    # ------------------------------------------------------------------ teacher forcing
    def __call__(self, x, key=None) -> ManifoldFormerOutput:
        """Teacher-forced pass: predict ``x_{t+1}`` and reconstruct ``x_t`` for every ``t`` in parallel.

        Args:
            x: (B, T, C) or (T, C) observed (noisy) signal.
            key: PRNG key for the tangent sample; None uses ``z = mu``.
        Returns:
            :class:`ManifoldFormerOutput` (batch axis as in ``x``).
        """
        xb, squeeze = validate.sequence(jnp.asarray(x), "x", last=self.config.n_channels, last_name="C")
        mu, sigma = self.vae.encode(xb)
        if key is None:
            z, v = mu, jnp.zeros_like(mu)
        else:
            z, v = self.vae.sample(key, mu, sigma)
        z_next = self.advance(z)
        out = ManifoldFormerOutput(self.decode(z_next), self.decode(z), z, z_next, mu, sigma, v)
        return ManifoldFormerOutput(*(a[0] for a in out)) if squeeze else out

    # ------------------------------------------------------------------ rollouts
    def rollout(self, z_context, n_steps: int):
        """Latent-space rollout (seed 000, lesson 1): evolve ``z`` alone, ``n_steps`` steps.

        Args:
            z_context: (B, t0, d) or (t0, d) latents of the observed context, ``t0 >= 1``.
            n_steps: number of new latents (a Python int, static under ``jit``).
        Returns:
            (B, n_steps, d) or (n_steps, d): ``z_{t0}, ..., z_{t0+n_steps-1}`` on the sphere,
            each ``Step`` of the context plus the latents rolled out before it.
        """
        zc, squeeze = validate.sequence(jnp.asarray(z_context), "z_context", last=self.config.latent_dim, last_name="d")
        n = _check_steps(n_steps)
        b, t0, d = zc.shape
        if t0 < 1:
            raise ValueError("z_context needs at least one time step")
        if n == 0:
            out = zc[:, :0]
        else:
            buf = jnp.concatenate([zc, jnp.zeros((b, n, d), zc.dtype)], axis=1)

            def body(buf, t):
                z_new = jax.lax.dynamic_index_in_dim(self.advance(buf), t, axis=1, keepdims=True)
                buf = jax.lax.dynamic_update_slice_in_dim(buf, z_new, t + 1, axis=1)
                return buf, None

            buf, _ = jax.lax.scan(body, buf, jnp.arange(t0 - 1, t0 - 1 + n))
            out = buf[:, t0:]
        return out[0] if squeeze else out

    def impute_latent(self, x_context, n_steps: int):
        """Encode the context once, roll out in latent space, decode at the end.

        Args:
            x_context: (B, t0, C) or (T0, C) observed signal before the gap.
            n_steps: gap length (Python int).
        Returns:
            (B, n_steps, C) or (n_steps, C): the imputed signal ``x_{t0} .. x_{t0+n-1}``.
        """
        mu, _ = self.encode(x_context)
        return self.decode(self.rollout(mu, n_steps))

    def feedback_rollout(self, x_context, n_steps: int):
        """Signal-space feedback (seed 000, lesson 1's "mistake"): decode, append, re-encode.

        At each step the whole signal so far (context plus the decoded predictions) is
        encoded again (causally), the last latent is advanced by ``Step`` and decoded;
        the decoded value becomes the next input.

        Args:
            x_context: (B, t0, C) or (t0, C) observed signal before the gap, ``t0 >= 1``.
            n_steps: gap length (Python int).
        Returns:
            (B, n_steps, C) or (n_steps, C): the imputed signal.
        """
        xc, squeeze = validate.sequence(jnp.asarray(x_context), "x_context", last=self.config.n_channels, last_name="C")
        n = _check_steps(n_steps)
        b, t0, c = xc.shape
        if t0 < 1:
            raise ValueError("x_context needs at least one time step")
        if n == 0:
            out = xc[:, :0]
        else:
            buf = jnp.concatenate([xc, jnp.zeros((b, n, c), xc.dtype)], axis=1)

            def body(buf, t):
                mu, _ = self.vae.encode(buf)
                z_new = jax.lax.dynamic_index_in_dim(self.advance(mu), t, axis=1, keepdims=True)
                buf = jax.lax.dynamic_update_slice_in_dim(buf, self.decode(z_new), t + 1, axis=1)
                return buf, None

            buf, _ = jax.lax.scan(body, buf, jnp.arange(t0 - 1, t0 - 1 + n))
            out = buf[:, t0:]
        return out[0] if squeeze else out


def count_params(model: nnx.Module) -> int:
    """Number of trainable scalars (``nnx.Param`` leaves) in ``model``."""
    params = nnx.state(model, nnx.Param)
    return int(sum(p.size for p in jax.tree_util.tree_leaves(params)))


def param_breakdown(model: "ManifoldFormer") -> dict[str, int]:
    """Trainable scalars of each part of ``model``, in the order of the architecture.

    Keys: "encoder convs", "mu head", "sigma head", "decoder", and, with dynamics,
    "coupling W_q, W_k", "coupling W_out", "phase lag alpha", "memory kernel",
    "memory W_style" (parts a configuration leaves out are omitted). The values sum to
    :func:`count_params`.
    """

    def n(m) -> int:
        return count_params(m) if isinstance(m, nnx.Module) else int(m.size)

    vae = model.vae
    parts = {
        "encoder convs": n(vae.conv1) + n(vae.conv2),
        "mu head": n(vae.to_mu),
        "sigma head": n(vae.to_sigma),
        "decoder": n(vae.dec1) + n(vae.dec2),
    }
    f = model.field
    if f is not None:
        parts["coupling W_q, W_k"] = n(f.coupling.query) + n(f.coupling.key)
        parts["coupling W_out"] = n(f.coupling.out)
        parts["phase lag alpha"] = int(f.coupling.alpha[...].size)
        if f.use_memory:
            parts["memory kernel"] = count_params(f.memory)
            parts["memory W_style"] = n(f.w_style)
    return parts
