"""Chapter 16 (what the phases encode): tasks, interventions, statistics against closed forms, claims at quick."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan.models import CVKAN, n_parameters
from spectral_manifolds.data.polarization import make_polarization
from spectral_manifolds.experiments import cvkan_phases as cp
from spectral_manifolds.experiments import cvkan_phases_tables as cpt


# --------------------------------------------------------------------------- tasks
def test_phase_tasks_are_the_polarization_task():
    for task, common in (("seed", False), ("common_phase", True)):
        a, b = cp.make_task(task, 40, 20, seed=3), make_polarization(40, 20, common_phase=common, seed=3)
        assert np.array_equal(a.z_train, b.z_train) and np.array_equal(a.y_test, b.y_test)


def test_magnitude_task_puts_the_label_in_the_magnitudes_only():
    base, data = make_polarization(2000, 10, seed=1), cp.make_task("magnitude", 2000, 10, log_gain=1.0, log_sd=0.5, seed=1)
    assert np.array_equal(data.y_train, base.y_train) and np.array_equal(data.signal_train, base.signal_train)
    log_r, phi = np.log(np.abs(data.z_train)), np.angle(data.z_train)
    sig = data.signal_train
    assert abs(log_r[sig].mean() - 1.0) < 0.02 and abs(log_r[~sig].mean()) < 0.01 and abs(log_r[~sig].std() - 0.5) < 0.01
    # phases: uniform whatever the class (mean resultant length ~ 1/sqrt(n))
    for c in (0, 1):
        assert np.abs(np.exp(1j * phi[data.y_train == c]).mean()) < 0.01


def test_bad_task_arguments_raise():
    with pytest.raises(ValueError):
        cp.make_task("phase", 10, 10)
    with pytest.raises(ValueError):
        cp.make_task("magnitude", 10, 10, log_sd=-1.0)


def test_signal_first_moves_signal_tokens_to_the_front():
    data = make_polarization(50, 10, seed=0)
    pos = data.y_train == 1
    z = cp.signal_first(data.z_train[pos], data.signal_train[pos])
    # the signal phases ~ N(0, 0.5): the first 4 tokens now hold them
    assert np.abs(np.angle(z[:, :4])).mean() < 0.5 < np.abs(np.angle(z[:, 4:])).mean()
    assert np.allclose(np.sort(z.ravel()), np.sort(data.z_train[pos].ravel()))
    with pytest.raises(ValueError):
        cp.signal_first(data.z_train, data.signal_train[:, :3])


# --------------------------------------------------------------------------- interventions and exact identities
def test_shuffle_keeps_the_other_part_entry_by_entry_and_the_multiset():
    g = torch.Generator().manual_seed(0)
    z = torch.polar(torch.rand(6, 5, 4, generator=g) + 0.1, torch.rand(6, 5, 4, generator=g) * 6 - 3)
    zp, zm = cp.shuffle(z, "phase", 1), cp.shuffle(z, "magnitude", 1)
    torch.testing.assert_close(zp.abs(), z.abs())
    torch.testing.assert_close(torch.angle(zm), torch.angle(z))
    torch.testing.assert_close(torch.sort(torch.angle(zp).ravel()).values, torch.sort(torch.angle(z).ravel()).values)
    torch.testing.assert_close(torch.sort(zm.abs().ravel()).values, torch.sort(z.abs().ravel()).values)
    assert not torch.allclose(zp, z)
    with pytest.raises(ValueError):
        cp.shuffle(z.abs(), "phase")
    with pytest.raises(ValueError):
        cp.shuffle(z, "both")


def test_forward_from_and_permutation_equivariance_are_exact():
    torch.manual_seed(0)
    net = CVKAN(8, 2, n_blocks=3, hidden=16)
    z = torch.from_numpy(make_polarization(32, 2, d=8, seed=0).z_train)
    checks = cp.exact_checks(net, z)
    assert checks["forward_from vs forward"] < 1e-5 and checks["permuted tokens vs permuted states"] < 1e-5
    with pytest.raises(ValueError):
        cp.forward_from(net, z, 4)
    with pytest.raises(ValueError):
        cp.forward_from(CVKAN(8, 2, hierarchy="per_level", n_tokens=16, hidden=8), z, 0)


# --------------------------------------------------------------------------- statistics against closed forms
def test_circular_linear_is_the_r2_of_x_on_cos_sin():
    rng = np.random.default_rng(0)
    x, theta = rng.normal(size=300), rng.uniform(-np.pi, np.pi, size=(300, 3))
    theta[:, 0] = 0.3 * x + rng.normal(0, 0.5, 300)
    r = cp.circular_linear(x, theta)
    for c in range(3):
        a = np.column_stack([np.ones(300), np.cos(theta[:, c]), np.sin(theta[:, c])])
        resid = x - a @ np.linalg.lstsq(a, x, rcond=None)[0]
        assert r[c] == pytest.approx(np.sqrt(1 - resid.var() / x.var()), abs=1e-9)
    assert r[0] > 0.3 > max(r[1:])


def test_circular_linear_null_matches_the_chi_square_mean():
    rng = np.random.default_rng(1)
    m = 400
    r = cp.circular_linear(rng.normal(size=m), rng.uniform(0, 2 * np.pi, size=(m, 2000)))
    assert r.mean() == pytest.approx(cp.null_correlation(m), rel=0.05)
    with pytest.raises(ValueError):
        cp.circular_linear(np.zeros(10), np.zeros((10, 2)))


def test_resultant_length_edges_and_null():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 500)
    p = np.exp(1j * np.where(y[:, None] == 1, 0.7, rng.uniform(0, 2 * np.pi, size=(1000, 3000))))
    r = cp.resultant_length(p * 3.0, y)
    assert r[1] == pytest.approx(1.0) and r[0] == pytest.approx(cp.null_resultant(500), rel=0.05)
    with pytest.raises(ValueError):
        cp.resultant_length(p[:, 0], y)


def test_probe_features_and_probe():
    rng = np.random.default_rng(3)
    p = np.exp(rng.normal(size=(400, 3)) + 1j * rng.uniform(0, 6, size=(400, 3)))
    assert cp.probe_features(p, "phase").shape == (400, 6) and np.allclose(cp.probe_features(p, "magnitude"), np.log(np.abs(p)))
    y = (np.abs(p[:, 0]) > 1).astype(int)
    assert cp.probe(cp.probe_features(p[:200], "magnitude"), y[:200], cp.probe_features(p[200:], "magnitude"), y[200:]) > 0.95
    assert cp.probe(cp.probe_features(p[:200], "phase"), y[:200], cp.probe_features(p[200:], "phase"), y[200:]) < 0.7


# --------------------------------------------------------------------------- configs
def test_configs():
    full, quick = cp.config_for("full"), cp.config_for("quick")
    assert full.n_seeds >= 5 and quick.n_seeds >= 3
    assert set(full.tasks) == set(quick.tasks) == set(cp.TASKS) and set(full.models) == set(cp.MODELS)
    assert (full.n_train, full.d, full.n_tokens, full.n_signal, full.sigma) == (5000, 32, 16, 4, 0.5)
    with pytest.raises(ValueError):
        cp.config_for("medium")
    for kwargs in (dict(n_seeds=1), dict(models=("polar",)), dict(tasks=("bogus",)), dict(epochs=0)):
        with pytest.raises(ValueError):
            cp.PhasesConfig(**kwargs)


def test_every_model_is_within_5_percent_of_the_cvkan():
    cfg = cp.config_for("quick")
    target = n_parameters(cp.build_model("cvkan", cfg))
    assert target == 173_989
    for m in cp.MODELS:
        assert abs(n_parameters(cp.build_model(m, cfg)) / target - 1) <= 0.05


# --------------------------------------------------------------------------- the chapter's claims at quick
@pytest.fixture(scope="module")
def result():
    cfg = dataclasses.replace(cp.config_for("quick"), tasks=("seed", "magnitude"), models=("cvkan", "polar", "cartesian"),
                              n_test=240, n_probe=300, digits_epochs=2)
    return cp.run(cfg, progress=False)


def test_result_is_json_and_tables_render(result):
    json.dumps(result.to_dict())
    for fn in (cpt.accuracy_rows, cpt.twin_verdicts, cpt.intervention_rows, cpt.intervention_verdicts, cpt.probe_rows,
               cpt.probe_verdicts, cpt.position_rows, cpt.position_verdicts):
        rows = fn(result)
        assert rows and all(isinstance(r, dict) for r in rows)
    k, series = cpt.state_series(result.task("seed"))
    assert list(k) == [0, 1, 2, 3] and set(series) == {"phases shuffled", "magnitudes shuffled", "clean"}
    with pytest.raises(ValueError):
        result.task("common_phase")


def test_interventions_at_the_input_do_what_the_tasks_predict(result):
    seed, mag = result.task("seed"), result.task("magnitude")
    for m in ("cvkan", "polar", "cartesian"):
        # seed's task: every |z| = 1, so the magnitude shuffle is the identity; the phases carry the label
        assert seed.shuffled[m]["magnitude"] == pytest.approx(seed.acc[m], abs=1e-6)
        assert max(seed.shuffled[m]["phase"]) < 0.65
        # magnitude task: the label is in the magnitudes
        assert max(mag.shuffled[m]["magnitude"]) < 0.65
    # the iid uniform phases of the magnitude task: shuffling them changes little
    assert np.mean(mag.acc["cvkan"]) - np.mean(mag.shuffled["cvkan"]["phase"]) < 0.05
    assert all(s[0] == pytest.approx(a, abs=0.02) for s, a in zip(seed.shuffled_states["magnitude"], seed.acc["cvkan"]))


def test_phase_probe_at_the_input_and_position(result):
    seed, mag = result.task("seed"), result.task("magnitude")
    assert min(s[0] for s in seed.probes["phase"]) > 0.9  # the phase of mean(Z) separates the classes
    assert max(s[0] for s in mag.probes["phase"]) < 0.65  # phases independent of the label
    for t in (seed, mag):
        null = t.nulls["position r"]
        # random positions: the trained stack's phases carry no more position than an iid sample (x 1.5)
        assert max(max(s) for s in t.position["trained, random"]) < 1.5 * null
    assert min(s[0] for s in seed.position["trained, fixed"]) > 5 * seed.nulls["position r"]


def test_polar_twin_beats_cartesian_twin_on_the_magnitude_task(result):
    mag = result.task("magnitude")
    assert np.mean(mag.acc["polar"]) > np.mean(mag.acc["cartesian"]) + 0.1


def test_digits_interventions_run_and_shuffling_the_embedded_phases_hurts(result):
    d = result.extra["digits"]
    assert d is not None and len(d["acc"]) == 3 and len(d["shuffled"]["phase"][0]) == 4
    assert d["logistic"][0] > 0.9  # the pixel logistic on sklearn digits
    rows = cpt.digits_rows(result) + cpt.digits_verdicts(result)
    assert rows
    # ten classes: after two epochs the CV-KAN is above chance, and shuffling its embedded phases takes it towards 10 %
    assert np.mean(d["acc"]) > 0.15 and np.mean([s[0] for s in d["shuffled"]["phase"]]) < np.mean(d["acc"])


def test_baselines_r_and_c_take_the_tasks_tokens():
    cfg = cp.config_for("quick")
    z = torch.from_numpy(cp.make_task("magnitude", 8, 2, seed=0).z_train)
    for m in ("R", "C"):
        net = cp.build_model(m, cfg)
        assert net(z).shape == (8, 2) and (m == "C") == any(p.is_complex() for p in net.parameters())


def test_twin_verdicts_hold_r_and_c_and_follow_the_ordering():
    """A hand-made result (no training): the CV-KAN 10 points above R on every seed, level with C."""
    acc = {"cvkan": [0.90, 0.92, 0.91], "R": [0.80, 0.82, 0.81], "C": [0.91, 0.91, 0.92]}
    t = cp.TaskResult("seed", [0, 1, 2], {}, acc, {"reim": [0.5] * 3, "abs": [0.6] * 3}, {}, {}, {}, {}, {}, {}, {})
    rows = {r["claim"]: r["verdict"] for r in cpt.twin_verdicts(cp.PhasesResult([t], {}, 0.0))}
    assert rows["seed: CV-KAN beats the R (real Transformer)"] == "reproduced"
    assert rows["seed: CV-KAN beats the C (complex Transformer)"] == "inconclusive"
    assert rows["seed: CV-KAN beats the best logistic on mean(Z)"] == "reproduced" and len(rows) == 3
