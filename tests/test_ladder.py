"""Tests for chapter 7: the generic ladder trainer and the seed runs' claims and verdicts."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds import losses, sphere
from spectral_manifolds.experiments import seed_experiments as S
from spectral_manifolds.experiments.ladder import (
    ABLATION_TASK,
    MAIN_TASK,
    METRICS,
    Config,
    CovarianceCayleyRotation,
    covariance_context,
    LadderModel,
    ResidualCell,
    Result,
    Scale,
    _terms,
    decorrelation_loss,
    fidelity_loss,
    make_data,
    run,
)

SMALL_MAIN = dataclasses.replace(MAIN_TASK, seq_len=33)
#: The test budget: small batches, the seeds' epochs (5), the ablation task's 64 steps.
QUICK = Scale(batch=16, n_batches_main=3, n_batches_ablation=3, seq_len_main=64, seq_len_ablation=65)


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "kw",
    [
        dict(encoder="poincare"),
        dict(dynamics="lstm"),
        dict(init="ones"),
        dict(rotation="quaternion"),
        dict(loss="l1"),
        dict(entropy="renyi"),
        dict(epochs=0),
        dict(batch=-1),
        dict(lr=0.0),
        dict(phase_weight=-0.5),
        dict(decorrelation_weight=float("nan")),
        dict(gamma=1.0),
        dict(sigma_init=0.0),
        dict(encoder="euclidean", dynamics="manifold"),
        dict(ortho_weight=0.1, rotation="none"),
        dict(task=dataclasses.replace(MAIN_TASK, seq_len=2)),
        dict(task="main"),
    ],
)
def test_config_rejects_bad_values(kw):
    with pytest.raises(ValueError):
        Config(**kw)


def test_config_objective_terms_and_weights():
    cfg = Config(loss="spectral+entropy", entropy="magnitude", phase_weight=0.5, oracle_weight=1.0, rotation="endpoints", ortho_weight=0.1)
    assert cfg.objective_terms() == {"fidelity": 1.0, "entropy": 0.05, "oracle": 1.0, "ortho": 0.1}
    w = dict(zip(("mse", "fidelity", "entropy", "magnitude_entropy", "phase", "decorrelation", "oracle", "ortho"), cfg.weights()))
    assert w["mse"] == 0 and w["magnitude_entropy"] == 1 and w["phase"] == 0.5 and w["decorrelation"] == 0
    assert Config(loss="mse+spectral").objective_terms() == {"mse": 1.0, "fidelity": 1.0}
    assert Config(encoder="euclidean", dynamics="identity", rotation="covariance").switches().tolist() == [0, 4, 0]


def test_scale_apply_and_data_size():
    cfg = QUICK.apply(Config(task=ABLATION_TASK, epochs=3), ablation=True)
    assert (cfg.batch, cfg.n_batches, cfg.task.seq_len, cfg.epochs, cfg.task.latent_dim) == (16, 3, 65, 3, 16)
    data = make_data(cfg)
    assert data.x.shape == (48, 64, 16) and data.oracle.shape == (48, 64, 16)
    assert np.all(data.x == data.y_recon)  # the ablation task has no noise
    assert Scale(epochs=2).apply(cfg, ablation=False).epochs == 2
    assert cfg.compile_key() == dataclasses.replace(cfg, encoder="euclidean", dynamics="residual", seed=3).compile_key()


# --------------------------------------------------------------------------- parts
def test_residual_cell_is_seed_002_cell():
    d = 7
    cell = ResidualCell(d, rngs=nnx.Rngs(0))
    bound = np.sqrt(6.0 / (2 * d))  # Xavier-uniform
    w = np.asarray(cell.linear.kernel[...])
    assert np.all(np.abs(w) <= bound) and np.all(np.asarray(cell.linear.bias[...]) == 0)
    z = sphere.random_point(jax.random.key(1), (3, 5, d))
    np.testing.assert_allclose(cell(z), z + np.tanh(np.asarray(z) @ w), rtol=1e-5, atol=1e-6)
    cell.linear.kernel[...] = jnp.zeros((d, d))
    np.testing.assert_array_equal(cell(z), z)  # W = 0, b = 0: the identity


def test_covariance_rotation_is_a_rotation():
    rot = CovarianceCayleyRotation(5, hidden=16, rngs=nnx.Rngs(0))
    z = sphere.random_point(jax.random.key(2), (4, 9, 5))
    r = np.asarray(rot.rotation(z), dtype=np.float64)
    assert r.shape == (4, 5, 5)
    np.testing.assert_allclose(np.swapaxes(r, -1, -2) @ r, np.broadcast_to(np.eye(5), r.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-5)


def test_unbatched_helpers_and_rank_errors():
    z = sphere.random_point(jax.random.key(4), (9, 5))
    rot = CovarianceCayleyRotation(5, hidden=8, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(rot(z), rot(z[None])[0], atol=1e-6)
    np.testing.assert_allclose(decorrelation_loss(z), decorrelation_loss(z[None]), rtol=1e-6)
    for f in (decorrelation_loss, covariance_context):
        with pytest.raises(ValueError, match=r"\(B, T, d\) or \(T, d\)"):
            f(jnp.zeros((2, 3, 4, 5)))


def test_decorrelation_loss():
    t = np.arange(64) * 2 * np.pi / 64
    uncorrelated = np.stack([np.sin(t), np.cos(t), np.sin(2 * t)], axis=-1)[None].astype(np.float32)
    assert float(decorrelation_loss(uncorrelated)) < 1e-10
    correlated = np.stack([np.sin(t), np.sin(t), np.cos(t)], axis=-1)[None].astype(np.float32)
    # Cov = diag(1/2, 1/2, 1/2) plus the (0, 1) pair at 1/2: two off-diagonal entries of 1/4 squared
    np.testing.assert_allclose(float(decorrelation_loss(correlated)), 2 * 0.25, rtol=1e-5)
    np.testing.assert_allclose(decorrelation_loss(correlated + 3.0), decorrelation_loss(correlated), rtol=1e-4)


@settings(max_examples=10, deadline=None)
@given(st.floats(0.0, 2.0), st.integers(0, 1000))
def test_fidelity_loss_phase_weight(w, seed):
    rng = np.random.default_rng(seed)
    pred, target = (rng.standard_normal((2, 20, 3)).astype(np.float32) for _ in range(2))
    terms = losses.fractional_fidelity_terms(pred, target)
    expected = float(np.mean(np.asarray(terms["magnitude"]) + w * np.asarray(terms["phase"])))
    np.testing.assert_allclose(float(fidelity_loss(pred, target, w)), expected, rtol=1e-5)


# --------------------------------------------------------------------------- model
@pytest.fixture(scope="module")
def small():
    """A batch of 2 short main-task sequences and ONE jitted forward for every switch setting.

    Returns ``(cfg, data, forward, params)``: ``forward(params, x, key, switches)``;
    ``params[init]`` for ``init`` in ("zero", "random") (same structure, one compile).
    """
    cfg = Config(task=SMALL_MAIN, batch=2, n_batches=1)
    data = make_data(cfg)
    models = {init: LadderModel(cfg.task, form=cfg.form, gamma=cfg.gamma, init=init, rngs=nnx.Rngs(params=jax.random.key(0))) for init in ("zero", "random")}
    graphdef, _, rest = nnx.split(models["zero"], nnx.Param, ...)
    params = {init: nnx.split(m, nnx.Param, ...)[1] for init, m in models.items()}
    forward = jax.jit(lambda p, x, k, sw: nnx.merge(graphdef, p, rest)(x, k, sw))
    return cfg, data, forward, params, models["zero"]


def test_model_parts_switch(small):
    cfg, data, forward, params, model = small
    x, key = jnp.asarray(data.x), jax.random.key(3)

    def out(encoder="sphere", rotation="none", dynamics="identity", init="zero"):
        sw = dataclasses.replace(cfg, encoder=encoder, rotation=rotation, dynamics=dynamics).switches()
        return forward(params[init], x, key, jnp.asarray(sw))

    eu, sp, sa = out("euclidean"), out("sphere"), out("sphere_sample")
    assert not np.allclose(np.linalg.norm(eu.z, axis=-1), 1.0, atol=1e-3)  # raw head: not normalized
    np.testing.assert_allclose(sp.z, sphere.normalize(eu.z), atol=1e-6)
    for o in (sp, sa):
        np.testing.assert_allclose(np.linalg.norm(o.z, axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(sa.mu, sp.z, atol=1e-6)
    assert not np.allclose(sa.z, sa.mu, atol=1e-2)  # the tangent sample moves z off the mean
    np.testing.assert_array_equal(sp.z_next, sp.z)  # identity dynamics, no rotation
    np.testing.assert_allclose(out(dynamics="manifold").z_next, sp.z, atol=1e-6)  # zero init: identity step
    rnd = out(dynamics="manifold", init="random")
    assert not np.allclose(rnd.z_next, rnd.z, atol=1e-3)  # random init moves z
    np.testing.assert_allclose(np.linalg.norm(rnd.z_next, axis=-1), 1.0, atol=1e-5)  # retracted
    for context in ("mean", "velocity", "endpoints", "covariance"):
        rot = out(rotation=context)
        np.testing.assert_allclose(np.linalg.norm(rot.z_next, axis=-1), 1.0, atol=1e-5)
        assert not np.allclose(rot.z_next, rot.z, atol=1e-3), context
    w = np.asarray(model.cell.linear.kernel[...])
    np.testing.assert_allclose(out(dynamics="residual").z_next, sp.z + np.tanh(np.asarray(sp.z) @ w), atol=1e-5)


def test_model_unbatched_and_rank(small):
    cfg, data, forward, params, model = small
    key, sw = jax.random.key(0), jnp.asarray(dataclasses.replace(cfg, encoder="sphere").switches())
    batched = forward(params["zero"], jnp.asarray(data.x), key, sw)
    single = forward(params["zero"], jnp.asarray(data.x[0]), key, sw)
    assert single.pred.shape == data.x[0].shape
    np.testing.assert_allclose(single.pred, batched.pred[0], atol=1e-5)  # deterministic encoder: same as in the batch
    with pytest.raises(ValueError, match=r"\(B, T, C\) or \(T, C\)"):
        model(jnp.asarray(data.x[0, 0]), key, sw)


def test_seed_total_loss_is_our_objective(small):
    """Our "spectral+entropy" objective is losses.seed_total_loss; "mse+spectral" is MSE + fidelity."""
    cfg, data, forward, params, model = small
    out = forward(params["random"], jnp.asarray(data.x), jax.random.key(0), jnp.asarray(cfg.switches()))
    args = (jnp.asarray(data.y_next), jnp.asarray(data.y_recon), jnp.asarray(data.oracle))
    t = jax.jit(_terms)(out, jnp.asarray(cfg.weights()), *args)
    np.testing.assert_allclose(float(t["objective"]), float(losses.seed_total_loss(out.pred, args[0], out.z_next)), rtol=1e-5)
    np.testing.assert_allclose(float(t["fidelity"]), float(losses.seed_fidelity_loss(out.pred, args[0])), rtol=1e-5)
    both = jax.jit(_terms)(out, jnp.asarray(dataclasses.replace(cfg, loss="mse+spectral").weights()), *args)
    np.testing.assert_allclose(float(both["objective"]), float(both["pred_mse"] + both["fidelity"]), rtol=1e-6)
    assert np.isfinite(float(t["entropy"])) and float(t["ortho"]) < 1e-8  # no rotation: R = I


# --------------------------------------------------------------------------- claims and verdicts
def _fake(name: str, curves: dict) -> Result:
    n = len(next(iter(curves.values())))
    history = {m: list(curves.get(m, [0.0] * n)) for m in METRICS}
    return Result(name, {}, history=history)


def test_check_kinds():
    res = {"a": [_fake("a", {"objective": [3.0, 2.0, 1.5, 1.0], "oracle": [0.3, 0.25, 0.249, 0.252]})], "b": [_fake("b", {"objective": [3.0, 2.0, 2.0, 2.0]})]}
    ok = lambda c: S.check(c, res)[0]  # noqa: E731
    assert ok(S.Claim("", "falls", "a", "objective")) and not ok(S.Claim("", "rises", "a", "objective"))
    assert ok(S.Claim("", "monotone", "a", "objective")) and not ok(S.Claim("", "monotone", "b", "objective"))
    assert ok(S.Claim("", "not_falls", "a", "oracle", tol=0.005))  # 0.25 -> 0.252
    assert ok(S.Claim("", "flat", "b", "objective", tol=0.05)) and not ok(S.Claim("", "flat", "a", "objective", tol=0.05))
    assert ok(S.Claim("", "below", "a", "objective", other="b")) and not ok(S.Claim("", "below", "b", "objective", other="a"))
    # epoch means over seeds: two seeds of "b" with 1.0 and 3.0 at the end average 2.0
    res2 = {"b": [_fake("b", {"objective": [3.0, 2.0, 1.0]}), _fake("b", {"objective": [3.0, 2.0, 3.0]})]}
    np.testing.assert_allclose(S.mean_curve(res2["b"], "objective"), [3.0, 2.0, 2.0])


def test_verdict_rule():
    res = {"x": [_fake("x", {"objective": [3.0, 2.0, 1.0], "mse": [1.0, 1.0, 2.0]})]}
    base = S.SeedRun("x", "", "", Config(), {}, {})
    mk = lambda *claims: dataclasses.replace(base, claims=claims)  # noqa: E731
    falls, rises = S.Claim("loss falls", "falls", "x", "objective"), S.Claim("mse rises", "rises", "x", "mse")
    assert S.verdict(mk(falls, rises), res) == ("reproduced", [])
    v, why = S.verdict(mk(falls, S.Claim("mse falls", "falls", "x", "mse")), res)
    assert v == "different" and len(why) == 1 and why[0].startswith("mse falls")
    assert S.verdict(mk(S.Claim("loss rises", "rises", "x", "objective")), res)[0] == "not reproduced"
    assert S.verdict(mk(), res)[0] == "(control)"


def test_seed_runs_are_consistent():
    """Every claim names known runs and metrics; every run fits its task; the seed's epochs exist."""
    for key, sr in S.ALL_RUNS.items():
        assert sr.config.name == key
        assert (sr.config.task.latent_dim == 16) == sr.ablation
        for metric, by_epoch in sr.seed.items():
            assert metric in METRICS and max(by_epoch) <= sr.config.epochs
        for c in sr.claims:
            assert c.run in S.ALL_RUNS and c.metric in METRICS
            assert c.other is None or (c.other in S.ALL_RUNS and (c.other_metric or c.metric) in METRICS)


def test_oracle_calibration_orders_references():
    """The ruler: a rotated oracle scores ~0, one exact oscillator < random unit latent < constant latent."""
    rows = {r["reference latent"]: r["ours"] for r in S.calibration_table(MAIN_TASK, n_samples=64)}
    assert rows["rotated oracle"] < 1e-3
    assert rows["rotated oracle"] < rows["one oscillator exact"] < rows["random unit latent"] < rows["constant latent"]
    assert rows["constant latent"] <= np.sqrt(2 / 21) + 1e-4  # the bound for unit rows


# --------------------------------------------------------------------------- the ladder at the quick budget
@pytest.fixture(scope="module")
def ladder():
    return S.run_all(QUICK, ["A", "C", "E random init", "E zero init"], progress=False)


def test_ladder_compiles_once(ladder):
    assert ladder["A"][0].compile_seconds > 0
    assert all(ladder[k][0].compile_seconds == 0 for k in ("C", "E random init", "E zero init"))


def test_zero_init_starts_as_identity(ladder):
    """Zero output weights: before training, Patch E is exactly Patch C (same seed, same encoder)."""
    for m in ("objective", "fidelity", "pred_mse", "oracle"):
        np.testing.assert_allclose(ladder["E zero init"][0].history[m][0], ladder["C"][0].history[m][0], rtol=1e-5, atol=1e-6)
    assert ladder["E random init"][0].history["objective"][0] != ladder["C"][0].history["objective"][0]


def test_patch_a_mse_falls(ladder):
    mse = S.mean_curve(ladder["A"], "pred_mse")
    assert mse[-1] < 0.8 * mse[1]  # epoch 5 well below epoch 1
    assert S.check(S.PATCHES["A"].claims[0], ladder)[0] or mse[-1] < mse[1]


def test_zero_init_beats_random_init(ladder):
    """Seed 001, section 13's key finding at the quick budget: zero-initialized dynamics end
    with a lower spectral (fidelity) loss and a lower total loss than random ones."""
    for metric in ("fidelity", "objective"):
        zero = S.mean_curve(ladder["E zero init"], metric)[-1]
        rand = S.mean_curve(ladder["E random init"], metric)[-1]
        assert zero < rand, (metric, zero, rand)
    results = {k: v for k, v in ladder.items()}
    for c in S.PATCHES["E zero init"].claims[:2]:
        assert S.check(c, results)[0]


def test_silent_data_trains_finitely(ladder):
    """All-zero input and targets (silent spectra, a zero raw latent) train without NaN or inf
    for every encoder, rotation and dynamics; reuses the compiled step (same shapes)."""
    cfg = S.runs_for(QUICK, ["A"])[0]
    data = make_data(cfg)
    silent = dataclasses.replace(data, x=0 * data.x, y_next=0 * data.y_next, y_recon=0 * data.y_recon)
    everything = dict(loss="mse+spectral", entropy="magnitude", decorrelation_weight=1.0, oracle_weight=1.0, ortho_weight=0.1, epochs=1)
    for encoder, rotation, dynamics, init in (
        ("euclidean", "velocity", "residual", "zero"),
        ("sphere", "covariance", "manifold", "random"),
        ("sphere_sample", "endpoints", "manifold", "zero"),
        ("sphere_sample", "mean", "identity", "random"),
    ):
        c = dataclasses.replace(cfg, encoder=encoder, rotation=rotation, dynamics=dynamics, init=init, **everything)
        r = run(c, data=silent, progress=False)
        assert r.compile_seconds == 0
        for m in METRICS:
            assert np.all(np.isfinite(r.history[m])) and np.isfinite(r.after[m]), (encoder, rotation, dynamics, m)
    with pytest.raises(ValueError, match="data.x must have shape"):
        run(cfg, data=data.subset(slice(0, 8)), progress=False)


def test_history_is_finite_and_shaped(ladder):
    for key, results in ladder.items():
        r = results[0]
        assert r.epochs == S.ALL_RUNS[key].config.epochs
        for m in METRICS:
            assert len(r.history[m]) == r.epochs + 1 and np.all(np.isfinite(r.history[m])), (key, m)
        assert set(r.after) == set(METRICS)
        assert r.to_dict()["name"] == key
