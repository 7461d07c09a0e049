"""Tests for chapter 4's training (spectral_manifolds.experiments.mf_train): settings and
seeds trained together must equal each one trained alone, compile times must not depend
on call order, and the chapter's claims hold at a small budget."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spectral_manifolds import report
from spectral_manifolds.data.oscillators import NormalModesConfig, SeedTaskConfig
from spectral_manifolds.experiments import mf_train as T
from spectral_manifolds.manifoldformer import ManifoldFormer

SMALL = dict(latent_dim=8, hidden=16, decoder_hidden=32)
TINY = T.Config(data=NormalModesConfig(seq_len=24, n_samples=32), n_test=16, epochs=3, batch=16, **SMALL)


def test_config_validation_and_program_key():
    for bad in (dict(epochs=0), dict(lr=-1.0), dict(latent_weight=-1.0), dict(kl_weight=float("inf")), dict(seed=-1)):
        with pytest.raises(ValueError):
            T.Config(**bad)
    with pytest.raises(ValueError):
        T.Config(data=NormalModesConfig(n_samples=16), batch=32)
    with pytest.raises(ValueError):
        T.Config(data=SeedTaskConfig(n_samples=64), n_test=32)
    base = T.Config()
    assert dataclasses.replace(base, lr=1e-4, sample=True, sigma_init=None, h=0.25, seed=3).program() == base.program()
    assert dataclasses.replace(base, n_substeps=4).program() != base.program()
    assert T.Config(sigma_init=None).model_config().sigma_init is None


def test_settings_that_change_the_program_are_refused():
    with pytest.raises(ValueError, match="PER_MEMBER"):
        T.train({"a": TINY, "b": dataclasses.replace(TINY, n_substeps=2)}, [0])


def test_losses_parts_and_switches():
    m = ManifoldFormer(TINY.model_config(), rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (2, 23, 8))
    loss, (pred, recon) = T.losses(m, x, x, x, None)
    assert float(loss) == pytest.approx(float(pred + recon), rel=1e-6)
    # sample = 0 with a key decodes mu: the same loss as no key (no KL)
    same, _ = T.losses(m, x, x, x, jax.random.key(1), sample=0.0, with_kl=False)
    assert float(same) == pytest.approx(float(loss), rel=1e-6)
    sampled, _ = T.losses(m, x, x, x, jax.random.key(1), sample=1.0, with_kl=False)
    assert float(sampled) != pytest.approx(float(loss), rel=1e-6)
    kl, _ = T.losses(m, x, x, x, jax.random.key(1), sample=1.0, kl_weight=1.0)
    assert np.isfinite(float(kl)) and float(kl) != pytest.approx(float(sampled), rel=1e-6)


@pytest.fixture(scope="module")
def pair():
    settings = {"det": TINY, "vae": dataclasses.replace(TINY, sample=True, kl_weight=1e-3, sigma_init=None, lr=3e-3)}
    return settings, T.train(settings, [0, 1])


def test_group_layout_and_shapes(pair):
    _, g = pair
    assert g.names == ["det", "det", "vae", "vae"] and g.seeds == [0, 1, 0, 1]
    assert g.mse.shape == (4, TINY.epochs) and g.test_pred_mse.shape == (4,)
    assert list(g.values("vae", "final_mse")) == list(g.mse[2:, -1])
    assert g.steps == TINY.epochs * (32 // 16) and g.member_steps_per_second == pytest.approx(4 * g.steps_per_second)
    np.testing.assert_allclose(g.sigma[:2], 0.05, rtol=1e-2)  # the book's sigma init, no sampling: sigma untouched by the loss
    assert np.all(g.sigma[2:] > 0.2)  # the seed's init starts near 0.69
    assert g.model(3).config.sigma_init is None and g.model(0).config.sigma_init == 0.05
    with pytest.raises(KeyError):
        g.index("nope")


def test_members_trained_together_equal_each_trained_alone(pair):
    settings, g = pair
    alone = T.train({"vae": settings["vae"]}, [1])
    np.testing.assert_allclose(alone.mse[0], g.mse[3], rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(alone.test_pred_mse[0], g.test_pred_mse[3], rtol=2e-4)
    # and two seeds differ
    assert abs(g.mse[0, -1] - g.mse[1, -1]) > 1e-7


def test_compile_seconds_do_not_depend_on_call_order(pair):
    """Each call compiles its own program: a repeat of the same call reports a compile too."""
    settings, g = pair
    again = T.train(settings, [0, 1])
    assert g.compile_seconds > 0 and again.compile_seconds > 0
    np.testing.assert_allclose(again.mse, g.mse, rtol=1e-5)


# --------------------------------------------------------------------------- chapter claims
CLAIM = T.Config(data=NormalModesConfig(seq_len=32, n_samples=64), n_test=32, epochs=100, batch=32, **SMALL)


@pytest.fixture(scope="module")
def rates():
    return T.train({"lr 1e-3": CLAIM, "lr 1e-4": dataclasses.replace(CLAIM, lr=1e-4)}, report.seeds_for(3))


def test_claim_trained_model_beats_copying_the_input(rates):
    assert np.all(rates.values("lr 1e-3", "test_pred_mse") < rates.copy_mse)
    assert np.all(rates.mse[:, -1] < rates.mse[:, 0])


def test_claim_lr_1e3_beats_1e4_at_equal_steps(rates):
    c = report.compare(rates.values("lr 1e-3", "final_mse"), rates.values("lr 1e-4", "final_mse"))
    assert c.verdict == report.REPRODUCED


def test_frozen_parameters_keep_their_initial_values():
    settings = {"all": TINY, "frozen": dataclasses.replace(TINY, freeze=("memory", "alpha", "kernel"))}
    g = T.train(settings, [0])
    init = ManifoldFormer(TINY.model_config(), rngs=nnx.Rngs(params=jax.random.split(jax.random.key(0))[0]))
    free, frozen = g.model(0), g.model(1)
    np.testing.assert_array_equal(frozen.field.w_style.kernel[...], 0.0)  # the memory term stays off
    np.testing.assert_array_equal(frozen.field.memory.kernel[...], init.field.memory.kernel[...])
    assert float(frozen.field.coupling.alpha[...]) == float(init.field.coupling.alpha[...])
    # the same parameters move without the mask, and the unfrozen ones move in both
    assert float(jnp.max(jnp.abs(free.field.w_style.kernel[...]))) > 0
    assert float(jnp.max(jnp.abs(free.field.memory.kernel[...] - init.field.memory.kernel[...]))) > 0
    assert float(jnp.max(jnp.abs(frozen.field.coupling.out.kernel[...]))) > 0


def test_freeze_validation():
    with pytest.raises(ValueError):
        T.Config(freeze=("nope",))
    with pytest.raises(ValueError):
        T.Config(freeze=("memory",), zero_init=False)
    with pytest.raises(ValueError):
        T.Config(freeze=("kernel",), learnable_memory=False)
    assert T.Config(freeze=("coupling",)).program() == T.Config().program()
