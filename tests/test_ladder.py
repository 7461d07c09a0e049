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

from spectral_manifolds import losses, report, sphere
from spectral_manifolds.experiments import seed_experiments as S
from spectral_manifolds.experiments.ladder import (
    ABLATION_TASK,
    MAIN_TASK,
    METRICS,
    RUNTIME_FIELDS,
    Config,
    LadderModel,
    ResidualCell,
    Result,
    Scale,
    StepCache,
    TangentStepCell,
    decorrelation_loss,
    fidelity_loss,
    make_data,
    run_seeds,
    terms,
)
from spectral_manifolds.rotations import DynamicCayleyRotation
from spectral_manifolds.rvae import RVAE

SMALL_MAIN = dataclasses.replace(MAIN_TASK, seq_len=33)
#: The chapter's quick budget: small batches, the seeds' epochs (5), the ablation task's 64 steps, 3 seeds.
QUICK = Scale(batch=8, n_batches_main=3, n_batches_ablation=3, seq_len_main=64, seq_len_ablation=65, seeds=3)


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
        dict(encoder="euclidean", dynamics="tangent"),
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
    assert (cfg.batch, cfg.n_batches, cfg.task.seq_len, cfg.epochs, cfg.task.latent_dim) == (8, 3, 65, 3, 16)
    data = make_data(cfg)
    assert data.x.shape == (24, 64, 16) and data.oracle.shape == (24, 64, 16)
    assert np.all(data.x == data.y_recon)  # the ablation task has no noise
    assert Scale(epochs=2).apply(cfg, ablation=False).epochs == 2


def test_compile_key_holds_every_field_but_the_runtime_ones():
    """Changing a runtime field keeps the key; changing any other field (or a shape of the
    task) changes it, so a cached step is never reused for a config it was not built for."""
    cfg = Config(task=ABLATION_TASK)
    runtime_changes = dict(
        name="x", seed=3, epochs=2, encoder="sphere", dynamics="tangent", init="random", sigma_init=0.05, rotation="mean",
        loss="mse", entropy="magnitude", entropy_weight=0.1, phase_weight=0.5, decorrelation_weight=1.0, oracle_weight=1.0,
        ortho_weight=0.1,
    )
    assert set(runtime_changes) == set(RUNTIME_FIELDS)
    assert dataclasses.replace(cfg, **runtime_changes).compile_key() == cfg.compile_key()
    other = dict(n_batches=3, batch=8, lr=2e-3, weight_decay=0.0, form="sakaguchi", gamma=0.3)
    fields = {f.name for f in dataclasses.fields(Config)} - set(RUNTIME_FIELDS) - {"task"}
    assert set(other) == fields  # a new Config field must be listed here or in RUNTIME_FIELDS
    for name, value in other.items():
        assert dataclasses.replace(cfg, **{name: value}).compile_key() != cfg.compile_key(), name
    for task_change in (dict(seq_len=33), dict(latent_dim=8), dict(n_channels=8)):
        t = dataclasses.replace(ABLATION_TASK, **task_change)
        assert dataclasses.replace(cfg, task=t).compile_key() != cfg.compile_key(), task_change


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


def test_tangent_step_cell_is_seed_002_section_7_3():
    """z + h * tangent part of z W, retracted; h = 0.1. For a skew W, z W is already tangent."""
    d = 6
    cell = TangentStepCell(d, rngs=nnx.Rngs(0))
    assert cell.h == 0.1
    z = sphere.random_point(jax.random.key(5), (3, 7, d))
    out = np.asarray(cell(z))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)
    a = np.asarray(jax.random.normal(jax.random.key(6), (d, d)))
    cell.linear.kernel[...] = jnp.asarray(a - a.T)
    expected = np.asarray(z) + 0.1 * np.asarray(z) @ (a - a.T)
    expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    np.testing.assert_allclose(cell(z), expected, atol=1e-5)
    cell.linear.kernel[...] = jnp.asarray(np.outer(np.ones(d), np.ones(d)))  # a radial-heavy v: only its tangent part moves z
    v = np.asarray(z) @ np.outer(np.ones(d), np.ones(d))
    v_tan = v - np.sum(v * np.asarray(z), -1, keepdims=True) * np.asarray(z)
    step = np.asarray(z) + 0.1 * v_tan
    np.testing.assert_allclose(cell(z), step / np.linalg.norm(step, axis=-1, keepdims=True), atol=1e-5)
    cell.linear.kernel[...] = jnp.zeros((d, d))
    np.testing.assert_allclose(cell(z), z, atol=1e-6)  # W = 0: the identity


def test_covariance_rotation_is_a_rotation():
    """Experiment 8's rotation: the dynamic Cayley head on the uncentred covariance context."""
    rot = DynamicCayleyRotation(5, context="covariance", hidden=16, identity_init=False, rngs=nnx.Rngs(0))
    z = sphere.random_point(jax.random.key(2), (4, 9, 5))
    r = np.asarray(rot.rotation(z), dtype=np.float64)
    assert r.shape == (4, 5, 5)
    np.testing.assert_allclose(np.swapaxes(r, -1, -2) @ r, np.broadcast_to(np.eye(5), r.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-5)
    np.testing.assert_allclose(rot(z[0]), rot(z)[0], atol=1e-5)


def test_unbatched_helpers_and_rank_errors():
    z = sphere.random_point(jax.random.key(4), (9, 5))
    np.testing.assert_allclose(decorrelation_loss(z), decorrelation_loss(z[None]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, T, d\) or \(T, d\)"):
        decorrelation_loss(jnp.zeros((2, 3, 4, 5)))


def test_decorrelation_loss():
    t = np.arange(64) * 2 * np.pi / 64
    uncorrelated = np.stack([np.sin(t), np.cos(t), np.sin(2 * t)], axis=-1)[None].astype(np.float32)
    assert float(decorrelation_loss(uncorrelated)) < 1e-10
    correlated = np.stack([np.sin(t), np.sin(t), np.cos(t)], axis=-1)[None].astype(np.float32)
    # Cov = diag(1/2, 1/2, 1/2) plus the (0, 1) pair at 1/2: two off-diagonal entries of 1/4 squared
    np.testing.assert_allclose(float(decorrelation_loss(correlated)), 2 * 0.25, rtol=1e-5)
    np.testing.assert_allclose(decorrelation_loss(correlated + 3.0), decorrelation_loss(correlated), rtol=1e-4)


@settings(max_examples=10, deadline=None)
@given(st.floats(0.0, 2.0), st.floats(0.0, 2.0), st.floats(0.0, 1.0), st.integers(0, 1000))
def test_fidelity_loss_phase_weight(w1, w2, a, seed):
    """Properties of the phase weight: weight 1 is the seeds' loss (losses.seed_fidelity_loss),
    the loss is affine and non-decreasing in the weight, and a perfect prediction's phase
    term does not depend on it."""
    rng = np.random.default_rng(seed)
    pred, target = (rng.standard_normal((2, 20, 3)).astype(np.float32) for _ in range(2))
    f = lambda w: float(fidelity_loss(pred, target, w))  # noqa: E731
    np.testing.assert_allclose(f(1.0), float(losses.seed_fidelity_loss(pred, target)), rtol=1e-5)
    np.testing.assert_allclose(f(a * w1 + (1 - a) * w2), a * f(w1) + (1 - a) * f(w2), rtol=1e-4, atol=1e-5)
    assert f(max(w1, w2)) >= f(min(w1, w2)) - 1e-5  # the phase term is a 1 - cos, never negative
    same = float(fidelity_loss(target, target, w1)), float(fidelity_loss(target, target, w2))
    np.testing.assert_allclose(same[0], same[1], atol=1e-5)


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
    tan = out(dynamics="tangent")
    np.testing.assert_allclose(np.linalg.norm(tan.z_next, axis=-1), 1.0, atol=1e-5)
    assert 1e-4 < float(np.max(np.abs(tan.z_next - tan.z))) < 0.2  # a small step of h = 0.1
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
    t = jax.jit(terms)(out, jnp.asarray(cfg.weights()), *args)
    np.testing.assert_allclose(float(t["objective"]), float(losses.seed_total_loss(out.pred, args[0], out.z_next)), rtol=1e-5)
    np.testing.assert_allclose(float(t["fidelity"]), float(losses.seed_fidelity_loss(out.pred, args[0])), rtol=1e-5)
    both = jax.jit(terms)(out, jnp.asarray(dataclasses.replace(cfg, loss="mse+spectral").weights()), *args)
    np.testing.assert_allclose(float(both["objective"]), float(both["pred_mse"] + both["fidelity"]), rtol=1e-6)
    assert np.isfinite(float(t["entropy"])) and float(t["ortho"]) < 1e-8  # no rotation: R = I
    np.testing.assert_allclose(float(t["fidelity"]), float(t["fidelity_magnitude"] + t["fidelity_phase"]), rtol=1e-6)


def test_n_params_counts_only_the_parts_used(small):
    cfg, data, forward, params, model = small
    count = lambda m: sum(x.size for x in jax.tree.leaves(nnx.state(m, nnx.Param)))  # noqa: E731
    vae = count(RVAE(cfg.task.n_channels, cfg.task.latent_dim, rngs=nnx.Rngs(0)))
    base = dataclasses.replace(cfg, encoder="sphere", dynamics="identity")
    assert model.n_params(base) == vae
    assert model.n_params(dataclasses.replace(base, rotation="endpoints")) == vae + count(model.rot_endpoints)
    assert model.n_params(dataclasses.replace(base, dynamics="residual")) == vae + cfg.task.latent_dim * (cfg.task.latent_dim + 1)
    assert model.n_params(dataclasses.replace(base, dynamics="tangent")) == vae + cfg.task.latent_dim**2
    assert model.n_params(dataclasses.replace(base, dynamics="manifold")) == vae + count(model.field)
    assert model.n_params(base) < count(model)  # the model holds every branch


# --------------------------------------------------------------------------- claims and verdicts
def _fake(name: str, curves: dict) -> Result:
    n = len(next(iter(curves.values())))
    history = {m: list(curves.get(m, [0.0] * n)) for m in METRICS}
    return Result(name, {}, history=history)


def _seeds(name: str, base: dict, jitter=(0.0, 0.01, -0.01, 0.02, -0.02)) -> list[Result]:
    """Five fake seeds: the curves of ``base`` plus a per-seed constant offset."""
    return [_fake(name, {m: [v + j for v in c] for m, c in base.items()}) for j in jitter]


def test_check_kinds():
    """Each claim kind decided over seeds by report.compare: clear wins, clear losses, ties."""
    res = {
        "a": _seeds("a", {"objective": [3.0, 2.0, 1.5, 1.0], "oracle": [0.3, 0.25, 0.249, 0.252]}),
        "b": _seeds("b", {"objective": [3.0, 2.0, 2.0, 2.0]}),
        "c": [_fake("c", {"objective": [3.0, 2.0, v]}) for v in (1.0, 3.0, 1.5, 2.5, 2.0)],  # last vs first: a tie in the noise
    }
    v = lambda c: S.check(c, res)[0].verdict  # noqa: E731
    R, N, I = report.REPRODUCED, report.NOT_REPRODUCED, report.INCONCLUSIVE  # noqa: E741
    assert v(S.Claim("", "falls", "a", "objective")) == R and v(S.Claim("", "rises", "a", "objective")) == N
    assert v(S.Claim("", "falls", "c", "objective")) == I
    assert v(S.Claim("", "monotone", "a", "objective")) == R
    assert v(S.Claim("", "monotone", "b", "objective")) == I  # 2.0 -> 2.0 -> 2.0: no epoch beats the one before
    assert v(S.Claim("", "not_falls", "a", "oracle", tol=0.005)) == R  # 0.25 -> 0.252
    assert v(S.Claim("", "not_falls", "a", "objective", tol=0.005)) == N  # 2.0 -> 1.0 falls
    assert v(S.Claim("", "flat", "b", "objective", tol=0.05)) == R and v(S.Claim("", "flat", "a", "objective", tol=0.05)) == N
    assert v(S.Claim("", "below", "a", "objective", other="b")) == R and v(S.Claim("", "below", "b", "objective", other="a")) == N
    # the paired difference decides, not the means: "c" and "b" end at the same mean 2.0
    assert v(S.Claim("", "below", "c", "objective", other="b")) == I
    np.testing.assert_allclose(S.mean_curve(res["c"], "objective"), [3.0, 2.0, 2.0])


def test_verdict_rule():
    res = {"x": _seeds("x", {"objective": [3.0, 2.0, 1.0], "mse": [1.0, 1.0, 2.0]})}
    base = S.SeedRun("x", "", "", Config(), {}, {})
    mk = lambda *claims: dataclasses.replace(base, claims=claims)  # noqa: E731
    falls, rises = S.Claim("loss falls", "falls", "x", "objective"), S.Claim("mse rises", "rises", "x", "mse")
    assert S.verdict(mk(falls, rises), res) == (report.REPRODUCED, {report.REPRODUCED: 2})
    v, counts = S.verdict(mk(falls, S.Claim("mse falls", "falls", "x", "mse")), res)
    assert v == S.MIXED and counts == {report.REPRODUCED: 1, report.NOT_REPRODUCED: 1}
    assert S.verdict(mk(S.Claim("loss rises", "rises", "x", "objective")), res)[0] == report.NOT_REPRODUCED
    assert S.verdict(mk(), res)[0] == "(control)"
    tie = {"y": [_fake("y", {"objective": [3.0, 2.0, v]}) for v in (1.0, 3.0, 1.5, 2.5, 2.0)]}
    assert S.verdict(dataclasses.replace(base, key="y", claims=(S.Claim("loss falls", "falls", "y", "objective"),)), tie)[0] == report.INCONCLUSIVE
    patch_a = {"A": _seeds("A", {"pred_mse": [0.6, 0.5, 0.3, 0.2, 0.1, 0.05]})}
    table = S.claims_table(patch_a, ["A"])
    assert table.index.tolist() == ["A: MSE falls in every epoch"] and table["verdict"].tolist() == [report.REPRODUCED]
def test_seed_runs_are_consistent():
    """Every claim names known runs and metrics; every run fits its task; the seed's epochs exist."""
    for key, sr in S.ALL_RUNS.items():
        assert sr.config.name == key
        assert (sr.config.task.latent_dim == 16) == sr.ablation
        for metric, by_epoch in sr.seed.items():
            assert metric in METRICS and max(by_epoch) <= sr.config.epochs
        for c in sr.claims:
            assert c.run in S.ALL_RUNS and c.metric in METRICS and c.epoch <= S.ALL_RUNS[c.run].config.epochs
            if c.other is not None:
                assert c.other in S.ALL_RUNS and (c.other_metric or c.metric) in METRICS
                assert c.other_epoch <= S.ALL_RUNS[c.other].config.epochs
    # experiment 9 (3 epochs) is compared with experiment 8 (5 epochs) at equal budgets
    nine_vs_eight = [c for c in S.EXPERIMENTS["9"].claims if c.other == "8"]
    assert nine_vs_eight and all(c.other_epoch == S.EXPERIMENTS["9"].config.epochs for c in nine_vs_eight)


def test_oracle_calibration_orders_references():
    """The ruler: a rotated oracle scores ~0, one exact oscillator < random unit latent < constant latent."""
    rows = S.calibration_table(MAIN_TASK, n_samples=64)["ours"]
    assert rows["rotated oracle"] < 1e-3
    assert rows["rotated oracle"] < rows["one oscillator exact"] < rows["random unit latent"] < rows["constant latent"]
    assert rows["constant latent"] <= np.sqrt(2 / 21) + 1e-4  # the bound for unit rows


# --------------------------------------------------------------------------- the ladder at the quick budget
@pytest.fixture(scope="module")
def cache():
    return StepCache()


@pytest.fixture(scope="module")
def ladder(cache):
    return S.run_all(QUICK, ["A", "C", "E random init", "E zero init"], progress=False, cache=cache)


def test_ladder_compiles_once(ladder, cache):
    assert ladder["A"][0].compile_seconds > 0 and len(cache) == 1
    assert all(r.compile_seconds == 0 for k in ("C", "E random init", "E zero init") for r in ladder[k])


def test_zero_init_starts_as_identity(ladder):
    """Zero output weights: before training, Patch E is exactly Patch C (same seed, same encoder)."""
    for s in range(QUICK.seeds):
        for m in ("objective", "fidelity", "pred_mse", "oracle"):
            np.testing.assert_allclose(ladder["E zero init"][s].history[m][0], ladder["C"][s].history[m][0], rtol=1e-5, atol=1e-6)
        assert ladder["E random init"][s].history["objective"][0] != ladder["C"][s].history["objective"][0]


def test_patch_a_mse_falls_in_every_epoch(ladder):
    """Seed 001 section 13's Patch A claim, as the chapter decides it at the quick budget:
    reproduced over 3 seeds, every epoch's MSE below the one before."""
    comparison, _, _ = S.check(S.PATCHES["A"].claims[0], ladder)
    assert comparison.verdict == report.REPRODUCED, comparison
    for r in ladder["A"]:
        assert np.all(np.diff(r.history["pred_mse"][1:]) < 0), r.history["pred_mse"]


def test_seeds_differ_and_are_independent(ladder, cache):
    """Seeds give different runs; a seed trained alone (its own vmap of one) matches the same
    seed trained with the others, so the vmap does not mix seeds."""
    a = ladder["A"]
    assert len({round(r.history["pred_mse"][-1], 6) for r in a}) == QUICK.seeds
    cfg = S.ALL_RUNS["A"].config
    cfg = QUICK.apply(cfg, ablation=True)
    alone = run_seeds(cfg, [1], cache=cache)[0]
    np.testing.assert_allclose(alone.history["pred_mse"], a[1].history["pred_mse"], rtol=2e-4, atol=1e-6)
    assert alone.config["seed"] == 1 and len(cache) == 2  # one more compile: one seed instead of three


def test_silent_data_trains_finitely(ladder, cache):
    """All-zero input and targets (silent spectra, a zero raw latent) train without NaN or inf
    for every encoder, rotation and dynamics; reuses the compiled step (same shapes)."""
    cfg = QUICK.apply(S.ALL_RUNS["A"].config, ablation=True)
    data = make_data(cfg)
    silent = dataclasses.replace(data, x=0 * data.x, y_next=0 * data.y_next, y_recon=0 * data.y_recon)
    everything = dict(loss="mse+spectral", entropy="magnitude", decorrelation_weight=1.0, oracle_weight=1.0, ortho_weight=0.1, epochs=1)
    for encoder, rotation, dynamics, init in (
        ("euclidean", "velocity", "residual", "zero"),
        ("sphere", "covariance", "manifold", "random"),
        ("sphere_sample", "endpoints", "manifold", "zero"),
        ("sphere", "mean", "tangent", "random"),
    ):
        c = dataclasses.replace(cfg, encoder=encoder, rotation=rotation, dynamics=dynamics, init=init, **everything)
        for r in run_seeds(c, range(QUICK.seeds), data=silent, cache=cache):
            assert r.compile_seconds == 0
            for m in METRICS:
                assert np.all(np.isfinite(r.history[m])) and np.isfinite(r.after[m]), (encoder, rotation, dynamics, m)
    with pytest.raises(ValueError, match="data.x must have shape"):
        run_seeds(cfg, [0], data=data.subset(slice(0, 8)), cache=cache)
    with pytest.raises(ValueError, match="distinct"):
        run_seeds(cfg, [0, 0], cache=cache)


def test_history_is_finite_and_shaped(ladder):
    for key, results in ladder.items():
        assert [r.config["seed"] for r in results] == list(range(QUICK.seeds))
        for r in results:
            assert r.epochs == S.ALL_RUNS[key].config.epochs
            for m in METRICS:
                assert len(r.history[m]) == r.epochs + 1 and np.all(np.isfinite(r.history[m])), (key, m)
            assert set(r.after) == set(METRICS)
            assert r.to_dict()["name"] == key


def test_seeds_together_rows_and_same_arithmetic():
    """Seed 0 trained alone and trained beside others ends at the same loss."""
    from spectral_manifolds.experiments.ladder import ABLATION_TASK, Config, Scale
    from spectral_manifolds.experiments.ladder.throughput import seeds_together

    cfg = Scale(batch=4, n_batches_ablation=2, seq_len_ablation=17).apply(Config(task=ABLATION_TASK, epochs=2), ablation=True)
    rows, alone, together = seeds_together(cfg, n_seeds=3, rounds=2)
    assert [r["seeds trained together"] for r in rows] == [1, 3]
    assert rows[0]["× one seed at a time"] == 1.0 and rows[1]["× one seed at a time"] > 0
    np.testing.assert_allclose(alone[0].history["objective"], together[0].history["objective"], rtol=2e-4)
    assert together[0].history["objective"] != together[1].history["objective"]
    with pytest.raises(ValueError):
        seeds_together(cfg, n_seeds=1)
    with pytest.raises(ValueError):
        seeds_together(cfg, rounds=0)


def test_metrics_compute_their_three_oracle_distances_with_one_svd():
    """The tracked oracle distances (of z, of mu, centred) come from one SVD in the compiled
    program: three concurrent batched LAPACK calls hung CI's 2-core machine (jaxlib 0.10.2)."""
    import re
    from types import SimpleNamespace

    from spectral_manifolds.alignment import oracle_distance
    from spectral_manifolds.experiments.ladder.losses import metrics

    z, mu, o = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 17, 21))
    t = {name: jnp.float32(0.0) for name in METRICS if not name.startswith("oracle")}
    fn = jax.jit(lambda z, mu, o: metrics(SimpleNamespace(z=z, mu=mu), t, o))
    text = fn.lower(z, mu, o).compile().as_text()
    assert len(re.findall(r'custom_call_target="\w*(?:gesdd|gesvd|svd)\w*"', text)) == 1
    got = dict(zip(METRICS, np.asarray(fn(z, mu, o))))
    want = {"oracle": oracle_distance(z, o), "oracle_mu": oracle_distance(mu, o), "oracle_centred": oracle_distance(z, o, centred=True)}
    for name, value in want.items():
        assert got[name] == pytest.approx(float(value), rel=1e-5), name
