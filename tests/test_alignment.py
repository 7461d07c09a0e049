"""Tests for spectral_manifolds.alignment and experiments.alignment_* (chapter 6).

Oracles: scipy.linalg.orthogonal_procrustes (reflections allowed), scipy.spatial.procrustes
(centred and scaled: another quantity), closed forms (brute-force Gram matrices),
invariances, and the oracle-distance scale DESIGN.md records from the seeds. The Cayley
rotations (spectral_manifolds.rotations) are tested in tests/test_rotations.py.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.spatial
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds.alignment import (
    gram_loss,
    nuclear_norm,
    oracle_distance,
    oracle_distances,
    procrustes_distance,
    procrustes_rotation,
    procrustes_sq,
    svd_procrustes_loss,
)
from spectral_manifolds.data.oscillators import SeedTaskConfig, seed_task
from spectral_manifolds.experiments import alignment_calibration as cal
from spectral_manifolds.experiments import alignment_fits as fits
from spectral_manifolds.experiments import alignment_svd as svdx
from spectral_manifolds.rotations import CONTEXTS

SETTINGS = dict(max_examples=10, deadline=None)
# A few shapes only: eager JAX compiles every primitive once per new shape.
T_ = st.sampled_from([2, 9, 33])
D_ = st.sampled_from([1, 3, 7])
D2_ = st.sampled_from([2, 3, 7])
B_ = st.sampled_from([1, 3])


def _orth(d, rng, det=None):
    q = cal.random_orthogonal(d, rng, det=det if det is not None else int(rng.choice([-1, 1])))
    return q


def _traj(rng, t, d, unit=False):
    x = rng.standard_normal((t, d))
    if unit:
        x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def task():
    return seed_task(SeedTaskConfig(n_samples=64))


# --------------------------------------------------------------------------- Procrustes vs scipy
@settings(**SETTINGS)
@given(t=T_, d=D_, seed=st.integers(0, 10_000))
def test_procrustes_sq_matches_scipy_orthogonal_procrustes(t, d, seed):
    rng = np.random.default_rng(seed)
    a, b = _traj(rng, t, d), _traj(rng, t, d)
    r, _ = scipy.linalg.orthogonal_procrustes(a.astype(np.float64), b.astype(np.float64))
    expected = np.sum((a @ r - b) ** 2)
    got = float(procrustes_sq(a, b))
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-4 * float(np.sum(a**2) + np.sum(b**2)))


def test_zero_padding_lets_a_rotation_absorb_a_reflection():
    data = fits.fit_data(fits.RotationFitConfig(n_train=64, n_test=64))
    padded = float(jnp.mean(procrustes_sq(data["z_ref_test"], data["o_test"], reflections=False)))
    unpadded = float(jnp.mean(procrustes_sq(data["z_ref6_test"], data["o6_test"], reflections=False)))
    assert padded < 1e-3 < 1.0 < unpadded
    assert float(jnp.mean(procrustes_sq(data["z_ref6_test"], data["o6_test"]))) < 1e-3


def test_reflections_are_allowed_like_scipy():
    rng = np.random.default_rng(0)
    a = _traj(rng, 50, 5)
    flip = np.diag([-1.0, 1, 1, 1, 1]).astype(np.float32)
    b = a @ flip
    r, _ = scipy.linalg.orthogonal_procrustes(a, b)
    assert np.linalg.det(r) == pytest.approx(-1.0, abs=1e-5)  # scipy reflects
    assert float(procrustes_distance(a, b)) < 1e-3 * np.linalg.norm(a)  # so do we
    # restricted to rotations, the reflection costs exactly 4 * s_min of a^T b
    s = np.linalg.svd(a.T.astype(np.float64) @ b, compute_uv=False)
    assert float(procrustes_sq(a, b, reflections=False)) == pytest.approx(4 * s.min(), rel=1e-3)


@settings(**SETTINGS)
@given(t=st.sampled_from([3, 9, 33]), d=D2_, seed=st.integers(0, 10_000))
def test_rotation_only_distance_is_kabsch(t, d, seed):
    rng = np.random.default_rng(seed)
    a, b = _traj(rng, t, d).astype(np.float64), _traj(rng, t, d).astype(np.float64)
    u, _, vt = np.linalg.svd(a.T @ b)
    fix = np.eye(d)
    fix[-1, -1] = np.sign(np.linalg.det(u @ vt))
    r_kabsch = u @ fix @ vt  # the best rotation, det +1
    expected = np.sum((a @ r_kabsch - b) ** 2)
    scale = float(np.sum(a**2) + np.sum(b**2))
    got_so = float(procrustes_sq(a.astype(np.float32), b.astype(np.float32), reflections=False))
    got_o = float(procrustes_sq(a.astype(np.float32), b.astype(np.float32)))
    assert got_so == pytest.approx(expected, abs=1e-4 * scale)
    assert got_so >= got_o - 1e-4 * scale
    # no random rotation does better than the Kabsch optimum
    for _ in range(20):
        q = cal.random_orthogonal(d, rng, det=1)
        assert np.sum((a @ q - b) ** 2) >= expected - 1e-6 * scale


def test_procrustes_rotation_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = _traj(rng, 60, 6), _traj(rng, 60, 6)
    r_scipy, _ = scipy.linalg.orthogonal_procrustes(a, b)
    np.testing.assert_allclose(np.asarray(procrustes_rotation(a, b)), r_scipy, atol=1e-4)
    batched = procrustes_rotation(np.stack([a, b]), np.stack([b, a]))
    assert batched.shape == (2, 6, 6)


def test_scipy_spatial_procrustes_is_another_quantity():
    """scipy.spatial.procrustes centres, scales both to unit norm, and also scales the fit."""
    rng = np.random.default_rng(2)
    a, b = _traj(rng, 40, 4).astype(np.float64), _traj(rng, 40, 4).astype(np.float64)
    _, _, disparity = scipy.spatial.procrustes(a, b)
    ac, bc = a - a.mean(0), b - b.mean(0)
    ac, bc = ac / np.linalg.norm(ac), bc / np.linalg.norm(bc)
    sq = float(procrustes_sq(ac.astype(np.float32), bc.astype(np.float32)))
    # disparity = 1 - |ac^T bc|_*^2 and our sq = 2 - 2 |ac^T bc|_*  =>  disparity = 1 - (1 - sq/2)^2
    assert disparity == pytest.approx(1 - (1 - sq / 2) ** 2, abs=1e-5)
    ours = float(procrustes_sq(a.astype(np.float32), b.astype(np.float32)))
    assert abs(ours - disparity) > 0.1  # not interchangeable


# --------------------------------------------------------------------------- invariances, bounds, edges
@settings(**SETTINGS)
@given(b=B_, t=T_, d=D2_, seed=st.integers(0, 10_000), centred=st.booleans())
def test_distance_invariant_to_rotating_either_trajectory(b, t, d, seed, centred):
    rng = np.random.default_rng(seed)
    z = np.stack([_traj(rng, t, d, unit=True) for _ in range(b)])
    o = np.stack([_traj(rng, t, d, unit=True) for _ in range(b)])
    q = np.stack([_orth(d, rng) for _ in range(b)])  # per sample, reflections included
    p = np.stack([_orth(d, rng) for _ in range(b)])
    zq = np.einsum("btd,bde->bte", z, q).astype(np.float32)
    op = np.einsum("btd,bde->bte", o, p).astype(np.float32)
    base = float(oracle_distance(z, o, centred=centred))
    assert float(oracle_distance(zq, o, centred=centred)) == pytest.approx(base, abs=2e-4)
    assert float(oracle_distance(z, op, centred=centred)) == pytest.approx(base, abs=2e-4)
    assert float(oracle_distance(zq, op, centred=centred)) == pytest.approx(base, abs=2e-4)
    g = float(gram_loss(z, o))
    assert float(gram_loss(zq, op)) == pytest.approx(g, rel=1e-3, abs=1e-5)


@settings(**SETTINGS)
@given(t=T_, d=D_, seed=st.integers(0, 10_000))
def test_oracle_distance_bounds_for_unit_rows(t, d, seed):
    rng = np.random.default_rng(seed)
    z, o = _traj(rng, t, d, unit=True), _traj(rng, t, d, unit=True)
    value = float(oracle_distance(z, o))
    assert 0.0 <= value <= math.sqrt(2.0 / d) + 1e-5
    assert float(oracle_distance(o @ _orth(d, rng).astype(np.float32), o)) < 1e-3


def test_rmse_definition_and_unbatched_agrees_with_batched():
    rng = np.random.default_rng(3)
    z, o = _traj(rng, 30, 5, unit=True), _traj(rng, 30, 5, unit=True)
    r, _ = scipy.linalg.orthogonal_procrustes(z, o)
    rmse = np.sqrt(np.mean((z @ r - o) ** 2))  # over all T x d entries
    assert float(oracle_distance(z, o)) == pytest.approx(rmse, abs=1e-5)
    zz, oo = np.stack([z, o]), np.stack([o, z])
    assert float(oracle_distance(zz, oo)) == pytest.approx(rmse, abs=1e-5)  # mean of two equal samples
    assert procrustes_sq(z, o).shape == ()
    assert procrustes_sq(zz, oo).shape == (2,)


def test_oracle_distance_is_the_mean_of_per_sample_rmses():
    """A batch of unequal samples: the distance is the mean over samples of each sample's RMSE
    after its own best orthogonal map (scipy.linalg.orthogonal_procrustes), not the RMSE of
    the pooled entries and not one map for the whole batch."""
    rng = np.random.default_rng(11)
    t, d = 40, 6
    o = np.stack([_traj(rng, t, d, unit=True) for _ in range(3)])
    z = np.stack([
        o[0] @ _orth(d, rng).astype(np.float32),                 # a rotated copy: RMSE 0
        _traj(rng, t, d, unit=True),                              # unrelated
        0.5 * o[2] + 0.5 * _traj(rng, t, d, unit=True),            # half-way, not unit rows
    ]).astype(np.float32)
    per_sample = []
    for zi, oi in zip(z, o):
        r, _ = scipy.linalg.orthogonal_procrustes(zi.astype(np.float64), oi.astype(np.float64))
        per_sample.append(np.sqrt(np.mean((zi @ r - oi) ** 2)))
    per_sample = np.asarray(per_sample)
    assert len(set(np.round(per_sample, 3))) == 3  # unequal samples
    assert float(oracle_distance(z, o)) == pytest.approx(per_sample.mean(), abs=3e-4)  # float32: sqrt of a rounded 0 is ~1e-4
    pooled = np.sqrt(np.mean(per_sample**2))
    assert abs(pooled - per_sample.mean()) > 1e-2  # the two definitions differ here


def test_zero_distance_and_zero_latent_have_finite_gradients(task):
    o = jnp.asarray(task.oracle[:2])
    q = jnp.asarray(cal.random_orthogonal(21, np.random.default_rng(4)), jnp.float32)
    for fn in (oracle_distance, lambda z, o: jnp.sum(procrustes_distance(z, o)), gram_loss):
        g = jax.grad(fn)(o @ q, o)  # distance 0: sqrt at 0
        assert bool(jnp.all(jnp.isfinite(g)))
        g0 = jax.grad(fn)(jnp.zeros_like(o), o)  # all-zero latent: M = 0
        assert bool(jnp.all(jnp.isfinite(g0)))
    # the zero latent's distance is |o| / sqrt(T d) = sqrt(1/d) for unit rows
    assert float(oracle_distance(jnp.zeros_like(o), o)) == pytest.approx(math.sqrt(1 / 21), abs=1e-5)


def test_centring_changes_the_quantity(task):
    o = task.oracle[:8]
    const = np.broadcast_to(o[:, :1], o.shape).astype(np.float32)  # frozen at the first step
    centred = float(oracle_distance(const, o, centred=True))
    # a constant centres to zero, so the centred distance is |o - mean o| / sqrt(T d)
    oc = o - o.mean(axis=1, keepdims=True)
    expected = np.mean(np.sqrt(np.sum(oc**2, axis=(1, 2)) / (o.shape[1] * o.shape[2])))
    assert centred == pytest.approx(expected, abs=1e-5)
    assert float(oracle_distance(const, o)) > centred + 0.05


@pytest.mark.parametrize("bad", [np.zeros(5), np.zeros((2, 3, 4, 5))])
def test_wrong_ranks_and_shapes_are_rejected(bad):
    good = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"\(B, T, d\) or \(T, d\)"):
        oracle_distance(bad, bad)
    with pytest.raises(ValueError, match="same shape"):
        oracle_distance(good, np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="same shape"):
        procrustes_sq(good, good[None])


# --------------------------------------------------------------------------- Gram loss
def test_gram_loss_matches_the_seed_formula():
    rng = np.random.default_rng(5)
    z, o = np.stack([_traj(rng, 20, 4) for _ in range(3)]), np.stack([_traj(rng, 20, 4) for _ in range(3)])
    brute = np.mean([np.sum((zi @ zi.T - oi @ oi.T) ** 2) for zi, oi in zip(z.astype(np.float64), o.astype(np.float64))]) / 20**2
    assert float(gram_loss(z, o)) == pytest.approx(brute, rel=1e-4)
    assert float(gram_loss(o[0] @ _orth(4, rng).astype(np.float32), o[0])) < 1e-6


# --------------------------------------------------------------------------- SVD gradients
def test_svd_loss_equals_singular_value_form_in_value(task):
    rng = np.random.default_rng(6)
    z = np.stack([_traj(rng, task.seq_len, 21, unit=True) for _ in range(4)])
    o = task.oracle[:4]
    t, d = o.shape[1:]
    assert float(svd_procrustes_loss(z, o)) == pytest.approx(float(jnp.mean(procrustes_sq(z, o))) / (t * d), rel=1e-4)


def test_gradients_through_u_and_v_break_at_repeated_singular_values():
    rows = svdx.svd_gradient_table(svdx.SvdGradientConfig())
    by_gap = {r["gap"]: r for r in rows}
    exact = by_gap[0.0]
    assert math.isnan(exact["grad_uv"]) and math.isnan(exact["grad_u"]) and math.isinf(exact["max_F"])
    assert math.isfinite(exact["grad_sv"])
    for r in rows:
        assert math.isfinite(r["grad_sv"])
        if r["gap"] > 0:  # near a repeat the seed loss survives only by cancellation; values agree
            assert r["rel_diff"] < 1e-4
    # a quantity of U alone blows up like 1 / gap
    ratio = by_gap[1e-5]["grad_u"] / by_gap[1e-3]["grad_u"]
    assert 50 < ratio < 200
    assert by_gap[1e-7]["grad_u"] > 1e5


def test_seed_case_rank_deficient_oracle_gives_nan_only_through_u_v(task):
    out = svdx.seed_case_gradients(task, sample=0)
    assert out["n_zero"] >= 21 - 6  # the oracle fills 6 of 21 coordinates
    assert not out["grad_uv_finite"]
    assert out["grad_sv_finite"] and out["grad_sv_norm"] > 0
    assert out["loss_uv"] == pytest.approx(out["loss_sv"], rel=1e-4)


def test_nuclear_norm_matches_numpy():
    m = np.random.default_rng(7).standard_normal((3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(nuclear_norm(m)), np.linalg.norm(m.astype(np.float64), ord="nuc", axis=(-2, -1)), rtol=1e-5)


# --------------------------------------------------------------------------- the chapter's claims
def test_calibration_reproduces_the_seeds_scale():
    result = cal.calibrate(cal.CalibrationConfig())
    for case, value in cal.SEED_CALIBRATION.items():
        assert result.row(case)["uncentred"] == pytest.approx(value, abs=0.01), case
    assert result.row("reflected oracle")["uncentred"] < 0.01
    assert result.row("oracle")["gram"] < 1e-6 and result.row("rotated oracle")["gram"] < 1e-5
    # centring flatters a collapsed latent: constant beats random when centred, not uncentred
    assert result.row("constant latent")["centred"] < result.row("random unit latent")["centred"]
    assert result.row("constant latent")["uncentred"] > result.row("random unit latent")["uncentred"]


def test_rotation_fits_quick_budget():
    result = fits.run(fits.RotationFitConfig())
    runs = result.runs
    for run in runs.values():
        assert all(math.isfinite(v) for v in run.losses)
        assert run.orthogonality < 1e-8 and abs(run.min_det - 1) < 1e-3 and abs(run.max_det - 1) < 1e-3
        assert run.oracle_distance < 1e-3  # a rotated oracle stays at distance 0
    # a static Cayley rotation undoes a global rotation
    assert runs["static: rotation"].frame_rmse < 0.02 * runs["static: rotation"].frame_rmse_before
    # without padding it cannot undo a reflection: it stops at the best rotation's misfit
    r6 = runs["static: reflection, d=6"]
    assert r6.best_rmse > 0.2 and abs(r6.frame_rmse - r6.best_rmse) < 0.02
    # on the seeds' oracles (phase 0, whole cycles) the endpoints context sees the rotation;
    # the mean and the velocity barely do: the chapter's "decided by construction"
    ends = runs["dynamic: endpoints"].frame_rmse
    for ctx in ("mean", "velocity"):
        assert ends < 0.25 * runs[f"dynamic: {ctx}"].frame_rmse


def test_fit_contexts_are_decided_by_construction_on_the_seeds_oracles():
    """Phase 0 and whole cycles: the mean context of z = o Q is zero and every oracle starts at
    the same point. With random phases over 200 steps neither holds."""
    from spectral_manifolds.rotations import rotation_context

    seeds_data = fits.fit_data(fits.RotationFitConfig())
    o = seeds_data["o_train"]
    assert np.max(np.abs(np.asarray(rotation_context(jnp.asarray(seeds_data["z_dyn_train"]), "mean")))) < 1e-5
    np.testing.assert_allclose(o[:, 0], np.broadcast_to(o[0, 0], o[:, 0].shape), atol=1e-6)
    rand = fits.fit_data(fits.RotationFitConfig(phases="random"))
    assert rand["o_train"].shape[1] == 200
    np.testing.assert_allclose(np.linalg.norm(rand["o_train"], axis=-1), 1.0, atol=1e-5)
    mean_ctx = np.linalg.norm(np.asarray(rotation_context(jnp.asarray(rand["z_dyn_train"]), "mean")), axis=-1)
    assert np.median(mean_ctx) > 0.01
    assert np.std(rand["o_train"][:, 0], axis=0).max() > 0.1  # the first states differ between samples
    with pytest.raises(ValueError, match="phases"):
        fits.RotationFitConfig(phases="shifted")


def test_rotation_fit_seeds_reuse_the_compiled_steps():
    cfg = fits.RotationFitConfig(steps=5, phases="random")
    out = fits.run_seeds(cfg, [0, 1])
    assert [r.config["seed"] for r in out] == [0, 1]
    assert all(r.compile_seconds > 0 for r in out[0].runs.values())
    assert all(r.compile_seconds == 0 for r in out[1].runs.values())
    assert set(out[0].runs) == {f"dynamic: {c}" for c in CONTEXTS}
    assert out[0].runs["dynamic: mean"].frame_rmse != out[1].runs["dynamic: mean"].frame_rmse


def _svd_calls(fn, *args) -> int:
    """How many SVD custom calls the compiled program of ``fn`` holds (LAPACK on CPU,
    cuSOLVER on GPU); counted after compilation, when shared functions are inlined."""
    import re

    text = jax.jit(fn).lower(*args).compile().as_text()
    return len(re.findall(r'custom_call_target="\w*(?:gesdd|gesvd|svd)\w*"', text))


def test_oracle_distances_match_separate_calls_with_one_svd():
    """Several distances from one SVD equal the separate ones; the lowered program has one SVD
    (two concurrent batched LAPACK calls can hang jaxlib on a 2-core CPU)."""
    key = jax.random.split(jax.random.PRNGKey(3), 3)
    z, mu, o = (jax.random.normal(k, (5, 12, 6)) for k in key)
    centre = lambda x: x - x.mean(axis=1, keepdims=True)
    got = oracle_distances([z, mu, centre(z)], [o, o, centre(o)])
    want = [oracle_distance(z, o), oracle_distance(mu, o), oracle_distance(z, o, centred=True)]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5)
    assert _svd_calls(lambda a, b, c: oracle_distances([a, b], [c, c]), z, mu, o) == 1
    assert _svd_calls(lambda a, b, c: oracle_distance(a, c) + oracle_distance(b, c), z, mu, o) == 2  # what it avoids
    with pytest.raises(ValueError, match="equal length"):
        oracle_distances([z], [o, o])
    with pytest.raises(ValueError, match="same shape"):
        oracle_distances([z, z[:, :6]], [o, o[:, :6]])


def test_rotation_only_distance_orders_slogdet_after_the_svd():
    """``reflections=False`` needs an SVD and a determinant of the same matrix; the
    determinant's input passes an optimization barrier with the singular values, so the two
    LAPACK calls cannot run at once."""
    z, o = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 10, 3))
    text = jax.jit(lambda a, b: procrustes_sq(a, b, reflections=False)).lower(z, o).as_text()
    assert "optimization_barrier" in text
