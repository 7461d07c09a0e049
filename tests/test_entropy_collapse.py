"""Issue 10, fact 5 on the seeds' model: the time-mean energy, the DC bin of the seeds'
entropy, the experiment's equality with chapter 7's trainer, and the quick-budget orderings
that chapter 8's collapse section states."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest

from spectral_manifolds import geometry_metric as G
from spectral_manifolds import report, sphere
from spectral_manifolds.experiments import entropy_collapse as E
from spectral_manifolds.experiments import ladder as L
from spectral_manifolds.experiments.ladder.seed_runs import SECTION_14


# --------------------------------------------------------------------------- the measure
def test_time_mean_energy_of_constant_and_rotating_latents():
    t = np.arange(200) * 2 * np.pi / 200  # one whole turn, endpoint excluded
    rot = np.zeros((200, 5))
    rot[:, 1], rot[:, 3] = np.cos(t), np.sin(t)
    const = np.tile(np.array([0.6, 0.0, 0.8, 0.0, 0.0]), (200, 1))
    assert E.time_mean_energy(const) == pytest.approx(1.0, abs=1e-12)
    assert E.time_mean_energy(rot) == pytest.approx(0.0, abs=1e-12)
    # a rotation about a tilted axis: |mean|^2 = cos^2 of the tilt
    tilted = np.concatenate([np.sqrt(0.3) * rot[:, :4], np.full((200, 1), np.sqrt(0.7))], axis=1)
    assert E.time_mean_energy(tilted) == pytest.approx(0.7, abs=1e-12)
    both = E.time_mean_energy(np.stack([const, rot]), per_sample=True)
    np.testing.assert_allclose(both, [1.0, 0.0], atol=1e-12)


def test_time_mean_energy_is_one_minus_the_collapse_monitor_for_unit_rows():
    z = np.asarray(sphere.normalize(jnp.asarray(np.random.default_rng(0).standard_normal((4, 50, 7)) + 0.5)))
    assert E.time_mean_energy(z) == pytest.approx(1.0 - G.centred_variance(z), abs=1e-6)
    with pytest.raises(ValueError):
        E.time_mean_energy(np.ones(5))
    with pytest.raises(ValueError):
        E.time_mean_energy(np.full((3, 4), np.nan))


def test_the_seeds_entropy_falls_with_a_dc_offset_and_the_centred_one_does_not():
    """The mechanism: the power entropy counts bin 0, so an offset that dominates every
    coordinate lowers it towards 0; centred over time, it does not see the offset."""
    t = np.arange(128) * 2 * np.pi / 128
    rng = np.random.default_rng(1)
    wiggle = np.stack([np.cos(3 * t) + 0.3 * np.sin(7 * t), np.sin(5 * t), 0.3 * rng.standard_normal(128)], axis=-1)
    unc, cen = [], []
    for c in (0.0, 0.5, 2.0, 8.0):
        z = jnp.asarray(wiggle + c, jnp.float32)[None]
        unc.append(float(L.latent_entropy(z)))
        cen.append(float(L.latent_entropy(z - jnp.mean(z, axis=1, keepdims=True))))
    assert np.all(np.diff(unc) < 0) and unc[-1] < 0.1 * unc[0]
    np.testing.assert_allclose(cen, cen[0], rtol=1e-4)
    assert cen[0] > unc[-1] + 0.5


def test_pulling_a_white_latent_toward_a_point_lowers_only_the_seeds_entropy():
    """The chapter's mechanism table (entropy_collapse.pull_rows)."""
    rows = E.pull_rows((0.0, 1.0, 3.0, 10.0), n=8, steps=128)
    energy = [r["time-mean energy"] for r in rows]
    seeds = [r["seeds' entropy (nats)"] for r in rows]
    centred = [r["entropy of the centred latent (nats)"] for r in rows]
    assert energy[0] < 0.05 and np.all(np.diff(energy) > 0) and energy[-1] > 0.95
    assert np.all(np.diff(seeds) < 0) and seeds[-1] < 0.05 * seeds[0]
    np.testing.assert_allclose(centred, centred[0], rtol=2e-3)
    assert seeds[0] == pytest.approx(centred[0], rel=1e-2)  # no pull: the DC bin holds about 1/F of the power


# --------------------------------------------------------------------------- the configs
def test_configs_validate_and_follow_the_seeds():
    for bad in (dict(seeds=1), dict(epochs=0), dict(batch=-1), dict(test_seed=SECTION_14.config.task.seed), dict(n_test=2.5)):
        with pytest.raises(ValueError):
            E.Config(**bad)
    full, quick = E.default_config("full"), E.default_config("quick")
    assert full.seeds >= 5 and quick.seeds >= 3
    assert (full.batch, full.n_batches, full.seq_len) == (64, 10, 256) and full.epochs >= E.SEEDS_EPOCHS
    lc = full.ladder_config()
    assert (lc.loss, lc.entropy, lc.init, lc.encoder, lc.dynamics, lc.rotation) == ("spectral+entropy", "power", "zero", "sphere_sample", "manifold", "none")
    assert E.VARIANTS[E.SEEDS_LOSS] == (lc.entropy_weight, False) == (0.05, False)
    assert E.VARIANTS[E.CENTRED] == (0.05, True) and E.VARIANTS[E.FIDELITY][0] == 0.0


TINY = E.Config(seeds=2, epochs=2, n_batches=2, batch=2, seq_len=16, n_test=4)


def test_training_equals_chapter_7s_trainer():
    """The seeds' loss and fidelity alone, run here, train exactly as ladder.run_seeds
    trains section 14's configuration (and with entropy weight 0), seed by seed."""
    res = E.run(TINY, progress=False)
    cache = L.StepCache()
    for variant, weight in ((E.SEEDS_LOSS, 0.05), (E.FIDELITY, 0.0)):
        lc = dataclasses.replace(TINY.ladder_config(), entropy_weight=weight)
        ref = L.run_seeds(lc, [0, 1], cache=cache)
        for s, r in enumerate(ref):
            for m in ("fidelity", "entropy"):
                np.testing.assert_allclose(res.history[variant][m][s], r.history[m], rtol=2e-4, err_msg=f"{variant} {m}")
    json.dumps(res.to_dict())
    assert E.checkpoints(res) == [2]
    assert len(E.verdict_rows(res)) == 3 and len(E.summary_rows(res)) == 3 * 2


# --------------------------------------------------------------------------- quick claims
@pytest.fixture(scope="module")
def quick():
    return E.run(E.default_config("quick"), progress=False)


def test_quick_orderings_of_the_chapter(quick):
    """What the chapter's collapse section states at the quick budget (measured first)."""
    e = E.checkpoints(quick)[-1]
    energy = {v: np.asarray(quick.at(v, "time_mean_energy", e)) for v in E.VARIANTS}
    before = np.asarray(quick.at(E.SEEDS_LOSS, "time_mean_energy", 0))
    # every variant of a seed starts from the same model
    for v in E.VARIANTS:
        np.testing.assert_allclose(quick.at(v, "time_mean_energy", 0), before, atol=1e-12)
    # the seeds' loss raises the time-mean energy, in every seed, above fidelity alone and the centred entropy
    assert np.all(energy[E.SEEDS_LOSS] > before)
    assert np.all(energy[E.SEEDS_LOSS] > energy[E.FIDELITY])
    assert np.all(energy[E.SEEDS_LOSS] > energy[E.CENTRED])
    # (no verdict is asserted: with 3 seeds the paired interval is wide, and the full run finds the
    # seeds' loss against fidelity alone inconclusive; the per-seed orderings above are the quick claim)
    # ... and lowers its own (uncentred) entropy more than the fidelity alone does
    assert np.all(np.asarray(quick.at(E.SEEDS_LOSS, "entropy", e)) < np.asarray(quick.at(E.FIDELITY, "entropy", e)))
    # the distance ends higher on average, below the constant latent's ceiling
    dist = {v: np.asarray(quick.at(v, "oracle_distance", e)) for v in E.VARIANTS}
    assert dist[E.SEEDS_LOSS].mean() > dist[E.FIDELITY].mean()
    assert np.all(dist[E.SEEDS_LOSS] < quick.references["constant latent"])
    # the centred share is one minus the time-mean energy (unit rows)
    np.testing.assert_allclose(quick.at(E.SEEDS_LOSS, "centred_share", e), 1.0 - energy[E.SEEDS_LOSS], atol=1e-5)


def test_plot_has_three_labelled_panels(quick):
    import matplotlib.pyplot as plt

    fig = E.plot(quick)
    axes = fig.axes
    assert len(axes) == 3 and all(ax.get_xlabel() == "epoch" and ax.get_ylabel() for ax in axes)
    plt.close(fig)
