"""The ladder's model: encoder -> rotation -> dynamics -> decoder, every variant switchable.

Seed 002_808d64c66db33027.txt builds the model back up one part at a time; this module
holds every part so that one compiled train step serves every rung (the branch a run
uses is a runtime input, ``jax.lax.switch``):

* encoder -- the causal-conv encoder of :class:`spectral_manifolds.rvae.RVAE`, used three
  ways: ``"euclidean"`` (the raw mean head; Patch A), ``"sphere"`` (the mean normalized,
  no sampling; section 3.1) and ``"sphere_sample"`` (tangent sample + exponential map);
* rotation -- :class:`spectral_manifolds.rotations.DynamicCayleyRotation` with the
  contexts of seed 001, sections 7-10 (``"mean"``, ``"velocity"``, ``"endpoints"``,
  ``"covariance"``), default (random) initialization as the seed's;
* dynamics -- ``"identity"``; ``"residual"`` (:class:`ResidualCell`, section 4.1);
  ``"tangent"`` (:class:`TangentStepCell`, section 7.3); ``"manifold"``
  (:class:`spectral_manifolds.manifold_field.ManifoldField`, one RK4 step of ``h = 1``);
* decoder -- the RVAE's pointwise MLP: ``pred = decode(z_next)``, ``recon = decode(z)``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
from flax import nnx

from spectral_manifolds import sphere
from spectral_manifolds.data.oscillators import SeedTaskConfig
from spectral_manifolds.rotations import DynamicCayleyRotation
from spectral_manifolds import validate
from spectral_manifolds.experiments.ladder.config import INITS, ROTATIONS, Config
from spectral_manifolds.manifold_field import ManifoldField
from spectral_manifolds.rvae import RVAE

__all__ = ["ResidualCell", "TangentStepCell", "LadderOutput", "LadderModel"]


class ResidualCell(nnx.Module):
    """Seed 002, section 4.1: ``z_next = z + tanh(z W + b)``, ``W`` Xavier-uniform, ``b = 0``.

    Verbatim: no tangent projection and no retraction, so ``z_next`` leaves the sphere.

    Call: ``z: (..., d)`` -> ``(..., d)``.
    """

    def __init__(self, d: int, *, rngs: nnx.Rngs):
        self.linear = nnx.Linear(d, d, kernel_init=nnx.initializers.xavier_uniform(), bias_init=nnx.initializers.zeros, rngs=rngs)

    def __call__(self, z):
        return z + jnp.tanh(self.linear(z))


class TangentStepCell(nnx.Module):
    """Seed 002, section 7.3: the "very minimal manifold-aware step".

    ``v = z W`` (``W`` Xavier-uniform, no bias), its tangent part
    ``v_tan = v - <v, z> z``, then ``z_new = (z + h v_tan) / max(|z + h v_tan|, 1e-8)``
    with ``h = 0.1``. On the sphere ``z_new`` stays on the sphere. The norm is computed as
    ``sqrt(max(|z_new|^2, 1e-16))``: the same value, and a finite gradient at ``z_new = 0``
    (an all-zero latent), where the gradient of ``|z_new|`` is NaN.

    Call: ``z: (..., d)`` on the sphere -> ``(..., d)`` on the sphere.
    """

    def __init__(self, d: int, *, h: float = 0.1, rngs: nnx.Rngs):
        self.h = float(h)
        self.linear = nnx.Linear(d, d, use_bias=False, kernel_init=nnx.initializers.xavier_uniform(), rngs=rngs)

    def __call__(self, z):
        v = self.linear(z)
        v_tan = v - jnp.sum(v * z, axis=-1, keepdims=True) * z
        z_new = z + self.h * v_tan
        # max(|z_new|, 1e-8) as the seed wrote it, with a norm whose gradient is finite at 0
        norm = jnp.sqrt(jnp.maximum(jnp.sum(z_new * z_new, axis=-1, keepdims=True), 1e-16))
        return z_new / norm


class LadderOutput(NamedTuple):
    """What :class:`LadderModel` returns for ``x: (B, T, C)``.

    Attributes:
        pred: (B, T, C) decoded ``z_next``, the prediction of the next step;
        recon: (B, T, C) decoded ``z``, the reconstruction of the current step;
        z: (B, T, d) the encoder latent (sampled for ``"sphere_sample"``);
        mu: (B, T, d) the encoder mean (not normalized for ``"euclidean"``);
        z_next: (B, T, d) after rotation and dynamics;
        rotation: (B, d, d) the rotation (the identity without one).
    """

    pred: jax.Array
    recon: jax.Array
    z: jax.Array
    mu: jax.Array
    z_next: jax.Array
    rotation: jax.Array


#: The rotation modules' attribute names, in the order of ``ROTATIONS[1:]``.
_ROTATION_ATTRS = tuple(f"rot_{c}" for c in ROTATIONS[1:])


class LadderModel(nnx.Module):
    """Encoder -> rotation -> dynamics -> decoder, holding every variant of each part.

    Which variant runs is chosen per call by ``switches`` (:meth:`Config.switches`), so
    one compiled step serves every run of the ladder. Parameters of unused parts get
    zero gradients; :meth:`n_params` counts only the parts a configuration uses.

    Args:
        task: the data config (channels, latent dimension, steps).
        form, gamma: the manifold dynamics' coupling form and memory exponent.
        init: ``"zero"`` or ``"random"`` output weights of the manifold dynamics.
        sigma_init: the RVAE's initial latent scale (None: the seeds' initialization).
        projections, reduce, memory_kind: :class:`ManifoldField`'s main-script switches;
        freeze_keys: hold the coupling's keys through the RK4 stages (``ManifoldField.step``).
            Defaults: the book's field (see ``config.MainScriptConfig``).
        rngs: ``nnx.Rngs``. The RVAE is created first, so runs with the same seed start
            from the same encoder and decoder whatever their other parts.
    """

    def __init__(
        self, task: SeedTaskConfig, *, form: str = "seed", gamma: float = 0.5, init: str = "zero",
        sigma_init: Optional[float] = None, projections: bool = True, reduce: str = "mean",
        freeze_keys: bool = False, memory_kind: str = "power_law", rngs: nnx.Rngs,
    ):
        validate.choice("init", init, INITS)
        d, c, steps = task.latent_dim, task.n_channels, task.seq_len - 1
        self.d = d
        self.vae = RVAE(c, d, sigma_init=sigma_init, rngs=rngs)
        self.cell = ResidualCell(d, rngs=rngs)
        self.field = ManifoldField(
            d, gamma=gamma, memory_len=steps, form=form, zero_init=init == "zero", projections=projections, reduce=reduce,
            memory_kind=memory_kind, rngs=rngs,
        )
        self.freeze_keys = bool(freeze_keys)
        for context, attr in zip(ROTATIONS[1:], _ROTATION_ATTRS):
            setattr(self, attr, DynamicCayleyRotation(d, context=context, identity_init=False, rngs=rngs))
        self.tangent = TangentStepCell(d, rngs=rngs)

    def parts(self, config: Config) -> tuple[str, ...]:
        """The submodules ``config`` uses (attribute names)."""
        used = ["vae"]
        if config.rotation != "none":
            used.append(f"rot_{config.rotation}")
        used += {"identity": [], "residual": ["cell"], "manifold": ["field"], "tangent": ["tangent"]}[config.dynamics]
        return tuple(used)

    def n_params(self, config: Config) -> int:
        """Trainable parameters of the parts ``config`` uses (unused branches not counted)."""
        return int(sum(x.size for name in self.parts(config) for x in jax.tree.leaves(nnx.state(getattr(self, name), nnx.Param))))

    def encode(self, x, key, encoder):
        """x: (B, T, C) -> (z, mu), (B, T, d) each; ``encoder`` an index into ``ENCODERS``."""
        vae = self.vae  # the RVAE's conv trunk and heads (RVAE.encode always normalizes)
        h = jax.nn.relu(vae.conv2(jax.nn.relu(vae.conv1(x))))
        raw = vae.to_mu(h)

        def euclidean(_):
            return raw, raw

        def on_sphere(_):
            mu = sphere.normalize(raw)
            return mu, mu

        def sampled(_):
            mu = sphere.normalize(raw)
            sigma = jax.nn.softplus(vae.to_sigma(h)) + vae.sigma_eps
            z, _ = vae.sample(key, mu, sigma)
            return z, mu

        return jax.lax.switch(encoder, (euclidean, on_sphere, sampled), None)

    def rotate(self, z, rotation):
        """z: (B, T, d) -> (z R, R: (B, d, d)); ``rotation`` an index into ``ROTATIONS``."""
        eye = jnp.broadcast_to(jnp.eye(self.d, dtype=z.dtype), (z.shape[0], self.d, self.d))
        modules = [getattr(self, a) for a in _ROTATION_ATTRS]
        branches = [lambda _: eye] + [lambda _, m=m: m.rotation(z) for m in modules]
        r = jax.lax.switch(rotation, branches, None)
        return jnp.matmul(z, r), r

    def advance(self, z, dynamics):
        """z: (B, T, d) -> z_next, same shape; ``dynamics`` an index into ``DYNAMICS``."""
        branches = (lambda _: z, lambda _: self.cell(z), lambda _: self.field.step(z, h=1.0, freeze_keys=self.freeze_keys), lambda _: self.tangent(z))
        return jax.lax.switch(dynamics, branches, None)

    def __call__(self, x, key, switches) -> LadderOutput:
        """x: (B, T, C) or (T, C); key: PRNG key for the latent sample; switches: (3,) int
        indices of encoder, rotation, dynamics. Returns :class:`LadderOutput` (batch axis
        as in ``x``)."""
        x = jnp.asarray(x)
        if x.ndim == 2:
            return LadderOutput(*(a[0] for a in self(x[None], key, switches)))
        if x.ndim != 3:
            raise ValueError(f"x must have shape (B, T, C) or (T, C), got shape {tuple(x.shape)}")
        switches = jnp.asarray(switches)
        z, mu = self.encode(x, key, switches[0])
        z_aligned, r = self.rotate(z, switches[1])
        z_next = self.advance(z_aligned, switches[2])
        return LadderOutput(self.vae.decode(z_next), self.vae.decode(z), z, mu, z_next, r)
