"""Tests for the ManifoldFormer (spectral_manifolds.manifoldformer) and chapter 4's runs
(spectral_manifolds.experiments.manifoldformer)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from spectral_manifolds import sphere
from spectral_manifolds.data.oscillators import NormalModesConfig, SeedTaskConfig
from spectral_manifolds.experiments import manifoldformer as E
from spectral_manifolds.manifoldformer import ManifoldFormer, ManifoldFormerConfig, count_params

C, D, T = 4, 6, 24
SMALL = dict(n_channels=C, latent_dim=D, hidden=8, decoder_hidden=16, memory_len=T)


def make(**kw) -> ManifoldFormer:
    return ManifoldFormer(ManifoldFormerConfig(**{**SMALL, **kw}), rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def x():
    return jax.random.normal(jax.random.key(1), (3, T, C))


@pytest.fixture(scope="module")
def trained_like():
    """A model whose dynamics are not zero (random output weights), to test the wiring."""
    return make(zero_init=False)


# --------------------------------------------------------------------------- model
def n_params_formula(c: int, d: int, h: int, k: int, dh: int, mem: int) -> int:
    """Trainable scalars of the ManifoldFormer, counted by hand from its layers."""
    encoder = (c * h * k + h) + (h * h * k + h) + 2 * (h * d + d)  # two convs, mu and sigma heads
    decoder = (d * dh + dh) + (dh * c + c)
    dynamics = 3 * d * d + 1 + mem + d * d  # W_q, W_k, W_out, alpha, memory kernel, W_style
    return encoder + decoder + dynamics


def test_parameter_count_matches_the_layers_and_the_seeds_size():
    assert count_params(make()) == n_params_formula(C, D, 8, 5, 16, T)
    assert count_params(make(dynamics=False)) == n_params_formula(C, D, 8, 5, 16, T) - (4 * D * D + 1 + T)
    seed_size = n_params_formula(16, 21, 64, 5, 128, 255)  # the seeds' model (DESIGN.md)
    assert 30_000 < seed_size < 45_000  # DESIGN.md: "about 39k parameters"


def test_shapes_batched_and_unbatched(x):
    m = make()
    out = m(x)
    assert out.pred.shape == out.recon.shape == (3, T, C)
    assert out.z.shape == out.z_next.shape == out.mu.shape == out.sigma.shape == (3, T, D)
    single = m(x[0])
    assert single.pred.shape == (T, C) and single.z_next.shape == (T, D)
    np.testing.assert_allclose(single.pred, out.pred[0], atol=1e-5)


@pytest.mark.parametrize("shape", [(T,), (1, 2, T, C), (T, C + 1)])
def test_bad_rank_or_channels_raise(shape):
    m = make()
    with pytest.raises(ValueError, match=r"\(B, T, C\) or \(T, C\)"):
        m(jnp.zeros(shape))


def test_latents_stay_on_the_sphere(x, trained_like):
    out = trained_like(x, jax.random.key(2))
    for z in (out.z, out.z_next, out.mu):
        np.testing.assert_allclose(jnp.linalg.norm(z, axis=-1), 1.0, atol=1e-5)
    roll = trained_like.rollout(out.mu[:, :10], 12)
    np.testing.assert_allclose(jnp.linalg.norm(roll, axis=-1), 1.0, atol=1e-5)
    assert bool(jnp.all(jnp.isfinite(out.pred)))


@pytest.mark.parametrize("n_substeps", [1, 4])
def test_zero_init_dynamics_is_the_identity_step(x, n_substeps):
    m = make(n_substeps=n_substeps)  # zero_init=True by default (seed 001, section 13)
    out = m(x)
    np.testing.assert_allclose(out.z_next, out.z, atol=1e-6)
    np.testing.assert_allclose(out.pred, out.recon, atol=1e-5)
    # and with random output weights the step is not the identity
    moved = make(n_substeps=n_substeps, zero_init=False)(x)
    assert float(jnp.max(jnp.abs(moved.z_next - moved.z))) > 1e-2


def test_dynamics_off_is_the_identity(x):
    m = make(dynamics=False, zero_init=False)
    assert m.field is None
    out = m(x)
    np.testing.assert_array_equal(out.z_next, out.z)


def test_scanned_substeps_equal_manifold_field_step(x, trained_like):
    m = make(zero_init=False, n_substeps=4)
    z = m.encode(x)[0]
    np.testing.assert_allclose(m.advance(z), m.field.step(z, h=1.0, n_substeps=4), atol=1e-5)
    # one step of h = 1 is exactly ManifoldField.step
    z1 = trained_like.encode(x)[0]
    np.testing.assert_allclose(trained_like.advance(z1), trained_like.field.step(z1), atol=1e-6)


def test_teacher_forcing_is_causal(x, trained_like):
    z = trained_like.encode(x)[0]
    t = 10
    perturbed = z.at[:, t:].set(sphere.normalize(z[:, t:] + 0.5))
    np.testing.assert_allclose(trained_like.advance(perturbed)[:, :t], trained_like.advance(z)[:, :t], atol=1e-5)
    # the encoder is causal too
    x2 = x.at[:, t:].set(0.0)
    np.testing.assert_allclose(trained_like.encode(x2)[0][:, :t], z[:, :t], atol=1e-5)


def test_step_is_the_last_position_of_advance(x, trained_like):
    z = trained_like.encode(x)[0]
    np.testing.assert_allclose(trained_like.step(z[:, :7]), trained_like.advance(z[:, :7])[:, -1], atol=1e-6)
    assert trained_like.step(z[0, :7]).shape == (D,)


def test_rollout_shapes_and_recurrence(x, trained_like):
    m = trained_like
    mu = m.encode(x)[0]
    ctx = mu[:, :8]
    roll = m.rollout(ctx, 5)
    assert roll.shape == (3, 5, D)
    assert m.rollout(ctx[0], 5).shape == (5, D)
    assert m.rollout(ctx, 0).shape == (3, 0, D)
    # each rolled-out latent is Step of the context plus the latents before it
    hist = ctx
    for i in range(5):
        nxt = m.step(hist)
        np.testing.assert_allclose(roll[:, i], nxt, atol=2e-5)
        hist = jnp.concatenate([hist, roll[:, i : i + 1]], axis=1)
    with pytest.raises(ValueError):
        m.rollout(ctx, -1)
    with pytest.raises(ValueError):
        m.rollout(ctx[..., :3], 2)


def test_feedback_rollout_reencodes_the_decoded_signal(x, trained_like):
    m = trained_like
    xc = x[:, :8]
    fb = m.feedback_rollout(xc, 3)
    lat = m.impute_latent(xc, 3)
    assert fb.shape == lat.shape == (3, 3, C)
    assert m.feedback_rollout(xc[0], 3).shape == (3, C)
    # the first step is the same for both (nothing has been fed back yet) ...
    np.testing.assert_allclose(fb[:, 0], lat[:, 0], atol=1e-5)
    # ... the second re-encodes the decoded first step
    x_next = jnp.concatenate([xc, fb[:, :1]], axis=1)
    np.testing.assert_allclose(fb[:, 1], m.decode(m.step(m.encode(x_next)[0])), atol=1e-5)


def test_config_validation():
    for bad in (dict(latent_dim=1), dict(gamma=1.0), dict(n_substeps=0), dict(h=0.0), dict(form="x"), dict(hidden=0)):
        with pytest.raises(ValueError):
            ManifoldFormerConfig(**bad)
    with pytest.raises(ValueError):
        E.Config(epochs=0)
    with pytest.raises(ValueError):
        E.Config(data=NormalModesConfig(n_samples=16), batch=32)
    with pytest.raises(ValueError):
        E.Config(data=SeedTaskConfig(n_samples=64), n_test=32)
    with pytest.raises(ValueError):
        E.Config(lr=-1.0)
    with pytest.raises(ValueError):
        E.Config(latent_weight=-1.0)


def test_one_jitted_train_step_lowers_the_loss_on_a_fixed_batch(x):
    m = make()
    graphdef, params, rest = nnx.split(m, nnx.Param, ...)
    y = jnp.roll(x, -1, axis=1)
    tx = optax.adam(3e-3)
    state = tx.init(params)

    def loss(p):
        return E._losses(nnx.merge(graphdef, p, rest), x, y, x, None, 0.0, 1.0)[0]

    @jax.jit
    def step(p, s):
        l, g = jax.value_and_grad(loss)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, l

    p1, s1, l0 = step(params, state)
    _, _, l1 = step(p1, s1)
    assert bool(jnp.isfinite(l0)) and float(l1) < float(l0)


# --------------------------------------------------------------------------- chapter claims
TEST_DATA = NormalModesConfig(seq_len=48, n_samples=128)
TEST_CFG = E.Config(data=TEST_DATA, n_test=16, epochs=15, batch=32)
GAPS = (1, 4, 16)


@pytest.fixture(scope="module")
def runs():
    base = E.run(TEST_CFG)
    return {
        "base": base,
        "lr1e-4": E.run(dataclasses.replace(TEST_CFG, lr=1e-4)),
        "consistency": E.run(dataclasses.replace(TEST_CFG, latent_weight=1.0)),
    }


def test_run_history_and_result(runs):
    r = runs["base"]
    assert len(r.loss) == len(r.mse) == TEST_CFG.epochs
    assert r.mse[-1] < r.mse[0]
    assert r.steps == TEST_CFG.epochs * (128 // 32) and r.steps_per_second > 0
    assert r.compile_seconds > 0 and runs["lr1e-4"].compile_seconds == 0.0  # reused executable
    d = r.to_dict()
    assert "model" not in d and d["config"]["data"]["kind"] == "normal modes"


def test_claim_trained_model_beats_copying_the_input(runs):
    r = runs["base"]
    assert r.test_pred_mse < r.copy_mse


def test_claim_lr_1e3_beats_1e4(runs):
    rows, row = E.lr_rows({"1e-3": runs["base"], "1e-4": runs["lr1e-4"]})
    assert runs["base"].mse[-1] < runs["lr1e-4"].mse[-1]
    assert row["verdict"] == "reproduced" and len(rows) == 2


def test_claim_signal_feedback_beats_latent_rollout_under_the_seeds_loss(runs):
    imp = E.imputation(runs["base"].model, runs["base"].test, GAPS)
    assert imp.latent[0] == pytest.approx(imp.signal[0], rel=1e-4)  # L = 1: identical
    assert imp.signal[-1] < imp.latent[-1]
    assert E.lesson1_row(imp)["verdict"] == "not reproduced (opposite)"
    # linear interpolation is the floor at short gaps and loses at long ones
    assert imp.linear[0] < imp.latent[0]
    assert imp.linear[-1] > imp.signal[-1]
    rows = E.imputation_rows({"a": imp})
    assert [r["gap length"] for r in rows] == list(GAPS)


def test_claim_latent_consistency_repairs_the_latent_rollout(runs):
    seed_loss = E.imputation(runs["base"].model, runs["base"].test, GAPS)
    cons = E.imputation(runs["consistency"].model, runs["consistency"].test, GAPS)
    assert cons.latent[-1] < seed_loss.latent[-1]


def test_claim_four_substeps_change_nothing_but_cost():
    small = dataclasses.replace(TEST_CFG, epochs=2)
    res = E.compare(small, {"1 x h=1": {}, "4 x h=0.25": {"n_substeps": 4}})
    rows, row = E.solver_rows(res)
    one, four = res["1 x h=1"], res["4 x h=0.25"]
    assert abs(one.mse[-1] - four.mse[-1]) < 0.05 * one.mse[-1]
    assert row["verdict"] == "not reproduced (no clear difference)"


def test_compile_rows_and_verdict(runs):
    rows, row = E.compile_rows({"base": runs["base"]})
    assert rows[0]["compile s"] == runs["base"].compile_seconds
    assert row["verdict"].startswith(("reproduced", "not reproduced"))


def test_imputation_rejects_bad_gaps(runs):
    r = runs["base"]
    with pytest.raises(ValueError):
        E.imputation(r.model, r.test, [0])
    with pytest.raises(ValueError):
        E.imputation(r.model, r.test, [4], gap_start=r.test.seq_len - 2)


def test_format_table_and_verdict_helper():
    text = E.format_table([{"a": 1.0, "b": "x"}, {"a": 2.5, "b": "yy"}])
    assert text.splitlines()[0].split() == ["a", "b"] and len(text.splitlines()) == 4
    assert E.verdict(True, 0.5) == "reproduced"
    assert E.verdict(False, -0.5) == "not reproduced (opposite)"
    assert E.verdict(True, 0.01) == "not reproduced (no clear difference)"
