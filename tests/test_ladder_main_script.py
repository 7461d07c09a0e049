"""Tests of the seeds' main-script switches (issue 7, §6): kuramoto, conv_memory, the ladder
config/model/trainer, and experiments/ladder/main_script.py at a tiny size."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from spectral_manifolds import kuramoto as ku
from spectral_manifolds import ode, report, sphere
from spectral_manifolds.conv_memory import DepthwiseConvMemory, depthwise_memory, numpy_reference
from spectral_manifolds.experiments.ladder import MAIN_TASK, METRICS, Config, LadderModel, Scale, StepCache, make_data, run_seeds
from spectral_manifolds.experiments.ladder import main_script as MS
from spectral_manifolds.experiments.ladder.config import (
    MAIN_SCRIPT_OFF,
    MAIN_SCRIPT_ON,
    MAIN_SCRIPT_SWITCHES,
    RUNTIME_FIELDS,
    MainScriptConfig,
    main_script_config,
)
from spectral_manifolds.fractional import PowerLawMemory
from spectral_manifolds.manifold_field import ManifoldField


def _z(shape, seed=0):
    return sphere.normalize(jax.random.normal(jax.random.key(seed), shape))


def _seed_layer(seed=0, **kw):
    return ku.KuramotoAttention(6, form="seed", zero_init=False, alpha_init=0.3, rngs=nnx.Rngs(seed), **kw)


# --------------------------------------------------------------------------- KuramotoAttention
def test_switches_off_are_the_default_layer():
    z = _z((2, 9, 6))
    a, b = _seed_layer(), _seed_layer(projections=True, reduce="mean")
    np.testing.assert_array_equal(np.asarray(a(z)), np.asarray(b(z)))
    np.testing.assert_array_equal(np.asarray(a(z, keys=None)), np.asarray(a(z)))


def test_default_seed_layer_is_the_published_formula():
    """The book's seed form, written out: F_t = W_out mean_{s<=t} sin(<q^_t, k^_s> + alpha) k^_s."""
    z = _z((2, 9, 6))
    layer = _seed_layer()
    zh = sphere.normalize(z)
    qh, kh = sphere.normalize(layer.query(zh)), sphere.normalize(layer.key(zh))
    s = jnp.sin(jnp.einsum("bti,bsi->bts", qh, kh) + layer.alpha[...]) * jnp.tril(jnp.ones((9, 9)))
    want = layer.out((s / jnp.arange(1, 10)[:, None]) @ kh)
    np.testing.assert_allclose(np.asarray(layer(z)), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_no_projections_equals_identity_projections():
    z = _z((3, 8, 6), 1)
    free = _seed_layer(projections=False)
    assert not hasattr(free, "query") and not hasattr(free, "key")
    eye = _seed_layer()
    eye.query.kernel[...] = jnp.eye(6)
    eye.key.kernel[...] = jnp.eye(6)
    eye.out.kernel[...] = free.out.kernel[...]
    np.testing.assert_allclose(np.asarray(free(z)), np.asarray(eye(z)), rtol=1e-5, atol=1e-6)
    # fewer parameters: no W_q, W_k
    n = lambda m: sum(x.size for x in jax.tree.leaves(nnx.state(m, nnx.Param)))
    assert n(eye) - n(free) == 2 * 36


@pytest.mark.parametrize("mask", [None, "mask"])
def test_sum_is_mean_times_the_number_of_allowed_keys(mask):
    z = _z((2, 10, 6), 2)
    m = None if mask is None else jnp.asarray(np.random.default_rng(0).random((2, 10)) > 0.3)
    mean, total = _seed_layer(), _seed_layer(reduce="sum")
    allowed = np.tril(np.ones((10, 10), bool))[None] & (np.ones((2, 1, 10), bool) if m is None else np.asarray(m)[:, None, :])
    n = allowed.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(total(z, m)), np.asarray(mean(z, m)) * np.maximum(n, 1), rtol=2e-5, atol=1e-5)


def test_keys_argument_moves_only_the_keys():
    z, y = _z((2, 7, 6), 3), _z((2, 7, 6), 4)
    layer = _seed_layer()
    yh, zh = sphere.normalize(y), sphere.normalize(z)
    qh, kh = sphere.normalize(layer.query(yh)), sphere.normalize(layer.key(zh))
    s = jnp.sin(jnp.einsum("bti,bsi->bts", qh, kh) + layer.alpha[...]) * jnp.tril(jnp.ones((7, 7)))
    want = layer.out((s / jnp.arange(1, 8)[:, None]) @ kh)
    np.testing.assert_allclose(np.asarray(layer(y, keys=z)), np.asarray(want), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="keys must have the shape"):
        layer(y, keys=z[:, :5])


def test_switch_validation():
    for kw in (dict(reduce="max"), dict(projections="no"), dict(projections=False, d_qk=4)):
        with pytest.raises(ValueError):
            _seed_layer(**kw)
    for kw in (dict(reduce="sum"), dict(projections=False)):
        with pytest.raises(ValueError, match="form='seed'"):
            ku.KuramotoAttention(6, form="sakaguchi", rngs=nnx.Rngs(0), **kw)
    with pytest.raises(ValueError, match="memory_kind"):
        ManifoldField(6, memory_kind="lstm", rngs=nnx.Rngs(0))
    field = ManifoldField(6, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="freeze_keys"):
        field.step(_z((5, 6)), freeze_keys="yes")
    with pytest.raises(ValueError):
        DepthwiseConvMemory(6, 4, init="zeros", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="kernel must have shape"):
        depthwise_memory(_z((5, 6)), jnp.ones((4, 5)))


# --------------------------------------------------------------------------- ManifoldField
def _random_field(seed=0, **kw):
    f = ManifoldField(6, form="seed", memory_len=8, zero_init=False, alpha_init=0.2, rngs=nnx.Rngs(seed), **kw)
    return f


def test_freeze_keys_off_is_the_default_step():
    z = _z((2, 8, 6), 5)
    f = _random_field()
    np.testing.assert_array_equal(np.asarray(f.step(z)), np.asarray(f.step(z, freeze_keys=False)))


def test_freeze_keys_does_nothing_without_coupling():
    """With W_out = 0 the field is memory only, and the memory is already held fixed."""
    z = _z((2, 8, 6), 6)
    f = _random_field()
    f.coupling.out.kernel[...] = jnp.zeros_like(f.coupling.out.kernel[...])
    for n in (1, 2):
        a, b = f.step(z, n_substeps=n), f.step(z, n_substeps=n, freeze_keys=True)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-7)
        assert float(jnp.max(jnp.abs(a - z))) > 1e-3  # the memory moves z


def test_freeze_keys_is_rk4_with_keys_at_the_input():
    z = _z((1, 5, 6), 7)
    f = _random_field()
    forcing = f.forcing(z)

    def field(y):  # queries at the stage state y, keys (and values) from the input z
        return sphere.project(sphere.normalize(y), forcing + f.coupling(y, keys=z))

    h = 1.0
    k1 = field(z)
    k2 = field(z + 0.5 * h * k1)
    k3 = field(z + 0.5 * h * k2)
    k4 = field(z + h * k3)
    want = sphere.normalize(z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4))
    got = f.step(z, h=h, freeze_keys=True)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    moving = f.step(z, h=h)
    assert float(jnp.max(jnp.abs(moving - got))) > 1e-4  # the keys do matter


def test_freeze_keys_substeps_keep_the_input_keys():
    z = _z((1, 5, 6), 8)
    f = _random_field()
    forcing = f.forcing(z)
    y = z
    for _ in range(2):
        y = ode.rk4_substeps(lambda t, u: sphere.project(sphere.normalize(u), forcing + f.coupling(u, keys=z)), 0.0, y, 0.5, 1, retract=sphere.normalize)
    np.testing.assert_allclose(np.asarray(f.step(z, n_substeps=2, freeze_keys=True)), np.asarray(y), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- depthwise memory
def test_depthwise_memory_equals_numpy_convolution():
    rng = np.random.default_rng(0)
    for T, n in ((20, 7), (9, 12), (16, 15)):  # kernel shorter and longer than the series
        z = rng.normal(size=(T, 5)).astype(np.float32)
        kernel = rng.normal(size=(n, 5)).astype(np.float32)
        np.testing.assert_allclose(np.asarray(depthwise_memory(z, kernel)), numpy_reference(z, kernel), rtol=1e-4, atol=1e-5)
    zb = rng.normal(size=(3, 11, 5)).astype(np.float32)
    out = depthwise_memory(zb, kernel)
    assert out.shape == zb.shape
    np.testing.assert_allclose(np.asarray(out[1]), numpy_reference(zb[1], kernel), rtol=1e-4, atol=1e-5)


def test_depthwise_memory_is_causal():
    m = DepthwiseConvMemory(4, 10, rngs=nnx.Rngs(0))
    z = np.random.default_rng(1).normal(size=(2, 16, 4)).astype(np.float32)
    t = 9
    z2 = z.copy()
    z2[:, t:] += 5.0  # perturb the present and the future
    a, b = np.asarray(m(z)), np.asarray(m(z2))
    # M[t] uses z[:t] only: the past is unchanged up to the FFT's float32 rounding (~1e-7
    # of the perturbation), the future moves by the perturbation times the kernel
    np.testing.assert_allclose(a[:, : t + 1], b[:, : t + 1], rtol=0, atol=5e-6)
    assert np.max(np.abs(a[:, t + 1 :] - b[:, t + 1 :])) > 1e-1
    np.testing.assert_allclose(a[:, 0], 0.0, atol=5e-6)


def test_depthwise_memory_init():
    m = DepthwiseConvMemory(21, 255, rngs=nnx.Rngs(0))
    k = np.asarray(m.kernel[...])
    assert k.shape == (255, 21) and abs(k.var() * 255 - 1.0) < 0.15  # lecun normal, fan_in = taps
    p = DepthwiseConvMemory(3, 12, init="power_law", gamma=0.3, rngs=nnx.Rngs(0))
    z = np.random.default_rng(2).normal(size=(2, 15, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(p(z)), np.asarray(PowerLawMemory(0.3, 12)(z)), rtol=1e-5, atol=1e-6)


def test_field_with_depthwise_memory():
    f = ManifoldField(6, memory_len=8, memory_kind="depthwise_conv", rngs=nnx.Rngs(0))
    assert isinstance(f.memory, DepthwiseConvMemory) and isinstance(f.memory.kernel, nnx.Param)
    z = _z((2, 8, 6), 9)
    np.testing.assert_allclose(np.asarray(f.step(z)), np.asarray(z), rtol=0, atol=1e-6)  # zero init: identity (up to the retraction)
    g = nnx.grad(lambda m: jnp.sum(m.step(z, freeze_keys=True) ** 2 * jnp.arange(6)))(f)
    assert float(jnp.abs(g.w_style.kernel[...]).max()) > 0


# --------------------------------------------------------------------------- ladder config
def test_main_script_config_and_compile_key():
    base = Config(name="x", task=MAIN_TASK, n_batches=10, init="zero")
    off = MainScriptConfig(**{f.name: getattr(base, f.name) for f in dataclasses.fields(Config)})
    assert off.dynamics_options() == MAIN_SCRIPT_OFF == base.dynamics_options()
    assert not off.logs_after_update and off.switched() == ()
    full = main_script_config(base)
    assert full.dynamics_options() == MAIN_SCRIPT_ON and full.logs_after_update and full.switched() == MAIN_SCRIPT_SWITCHES
    assert main_script_config().task == MAIN_TASK and main_script_config().init == "zero"
    keys = {off.compile_key()}
    for s in MAIN_SCRIPT_SWITCHES:
        one = main_script_config(base, only=s)
        assert one.switched() == (s,) and s not in RUNTIME_FIELDS
        keys.add(one.compile_key())
    assert len(keys) == 1 + len(MAIN_SCRIPT_SWITCHES)  # each switch is part of the compile key
    assert dataclasses.replace(full, name="y", seed=2).compile_key() == full.compile_key()
    for kw in (dict(reduce="max"), dict(memory_kind="gru"), dict(freeze_keys=1), dict(form="sakaguchi", reduce="sum")):
        with pytest.raises(ValueError):
            MainScriptConfig(**kw)
    with pytest.raises(ValueError):
        main_script_config(base, only="alpha")


def test_model_options_reach_the_field():
    cfg = main_script_config(Config(task=dataclasses.replace(MAIN_TASK, seq_len=9)))
    m = LadderModel(cfg.task, **cfg.dynamics_options(), rngs=nnx.Rngs(0))
    assert m.freeze_keys and not m.field.coupling.projections and m.field.coupling.reduce == "sum"
    assert isinstance(m.field.memory, DepthwiseConvMemory)


# --------------------------------------------------------------------------- trainer
SMALL = Scale(batch=4, n_batches_main=2, seq_len_main=13, seeds=2, epochs=2)


@pytest.fixture(scope="module")
def cache():
    return StepCache()


def test_all_switches_off_trains_exactly_as_config(cache):
    cfg = SMALL.apply(Config(task=MAIN_TASK, init="random"), ablation=False)
    off = MainScriptConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(Config)})
    a, b = run_seeds(cfg, [0, 1], cache=cache), run_seeds(off, [0, 1], cache=cache)
    for ra, rb in zip(a, b):
        assert ra.history == rb.history and ra.after == rb.after


def test_metrics_after_update_only_changes_the_logged_epochs(cache):
    cfg = SMALL.apply(Config(task=MAIN_TASK, init="random"), ablation=False)
    before = run_seeds(cfg, [0, 1], cache=cache)
    after = run_seeds(main_script_config(cfg, only="metrics_after_update"), [0, 1], cache=cache)
    for rb, ra in zip(before, after):
        for m in ("objective", "pred_mse", "fidelity"):
            assert ra.history[m][0] == pytest.approx(rb.history[m][0], rel=1e-6)  # before any update
            assert ra.after[m] == pytest.approx(rb.after[m], rel=2e-5)  # same training, same parameters
        assert ra.history["objective"][1] != pytest.approx(rb.history["objective"][1], rel=1e-6)


# --------------------------------------------------------------------------- the experiment
def test_force_scale_is_the_number_of_keys():
    f = MS.force_scale(SMALL.apply(Config(task=MAIN_TASK), ablation=False), n_samples=4)
    assert f["steps"] == 12 and f["n_keys"] == list(range(1, 13))
    assert f["max_rel_error"] < 1e-4 and f["ratio_last"] == pytest.approx(12, rel=1e-4)
    np.testing.assert_allclose(f["sum_norm"], np.asarray(f["mean_norm"]) * np.arange(1, 13), rtol=1e-4)
    assert f["sum_max"] >= f["mean_max"] > 0


def test_experiment_runs_tiny_and_returns_documented_keys():
    tiny = Scale(batch=2, n_batches_main=1, seq_len_main=9, seeds=2, epochs=1)
    all_names = list(MS.variants())
    assert all_names[0] == MS.BOOK and all_names[1] == MS.MAIN_SCRIPT and len(all_names) == 2 + len(MAIN_SCRIPT_SWITCHES)
    assert [n for n in all_names[2:]] == [MS.LABELS[s] for s in MAIN_SCRIPT_SWITCHES]
    switches = MS.switch_table()
    assert switches.loc[MS.BOOK].tolist() == [True, "mean", False, "power_law", False]
    assert switches.loc[MS.MAIN_SCRIPT].tolist() == [False, "sum", True, "depthwise_conv", True]
    # two of the seven (one compile each); the chapter's quick run trains all seven
    out = MS.run(MS.Experiment(scale=tiny, force_samples=2, only=(MS.MAIN_SCRIPT,)), progress=False)
    names = [MS.BOOK, MS.MAIN_SCRIPT]
    assert set(out.values) == set(names) and out.seeds == [0, 1]
    for v in names:
        assert set(out.values[v]) == set(MS.METRICS)
        assert all(len(x) == 2 and np.all(np.isfinite(x)) for x in out.values[v].values())
    assert len(out.rows) == len(names) * len(MS.METRICS)
    for r in out.rows:
        assert np.isfinite(r["mean"]) and np.isfinite(r["std"])
        assert (r["verdict"] is None) == (r["variant"] == MS.BOOK)
        assert r["verdict"] is None or r["verdict"] in report.VERDICTS
    assert out.table("oracle").shape[0] == len(names) and out.wide_table().shape == (2, 2 * len(MS.METRICS))
    assert out.configs[MS.MAIN_SCRIPT]["reduce"] == "sum" and "reduce" not in out.configs[MS.BOOK]
    assert set(out.force) >= {"ratio", "ratio_last", "max_rel_error"} and out.to_dict()["seeds"] == [0, 1]
    with pytest.raises(ValueError):
        MS.Experiment(scale=dataclasses.replace(tiny, seeds=1))
    with pytest.raises(ValueError, match="unknown variants"):
        MS.Experiment(only=("(6) something else",))
