"""Chapter "Bands and routing", routers and collapse (experiments/hierarchy_routing.py,
hierarchy_collapse.py): closed forms, and the chapter's orderings on a trimmed configuration."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from spectral_manifolds.experiments import hierarchy_collapse as hc
from spectral_manifolds.experiments import hierarchy_routing as hr

QUICK = hr.config_for("quick")
SMALL = dataclasses.replace(QUICK, n=32, sequences=4, frames=6, batch=8, steps=80, collapse_steps=60, n_seeds=2,
                            regularizers=("none", "entropy", "mutual information"))


def test_config_budgets_and_errors():
    full = hr.config_for("full")
    assert QUICK.n_seeds >= 3 and full.n_seeds >= 5
    assert full.true_cutoff == 0.2 and full.init_cutoff == 0.1 and full.lr_multiplier == 100
    for bad in (dict(n_seeds=1), dict(init_cutoff=0.0), dict(velocities=((0.5, 0.0), (1.0, 0.0))), dict(regularizers=("entropy",)),
                dict(regularizers=("none", "bogus")), dict(sequences=1), dict(collapse_velocities=((0.0, 1.0),))):
        with pytest.raises(ValueError):
            dataclasses.replace(QUICK, **bad)
    with pytest.raises(ValueError):
        hr.BandPredictor(16, (0.1,), "nope")


def test_white_amplitudes_give_a_flat_spectrum():
    a = hr.white_amplitudes(64, (0.2,))
    assert len(a) == 2 and a[0] ** 2 + a[1] ** 2 == pytest.approx(1.0)
    f, task = hr.make_task(64, (0.2,), QUICK.velocities, 4, 3, seed=0)
    p = torch.fft.fft2(f.x.double()).abs().pow(2).mean(dim=(0, 1))
    low, high = p[3, 0], p[20, 0]  # one mode in each band: similar power
    assert 0.05 < float(low / high) < 20
    assert task.train_x.shape[1:] == (1, 64, 64) and task.train_y.shape[1:] == (64, 64)


def _shift_kernels(model, velocities):
    with torch.no_grad():
        model.kernels.zero_()
        for b, (vy, vx) in enumerate(velocities):
            model.kernels[b, 0, int(1 - vy), int(1 - vx)] = 1.0


def test_exact_assignment_with_shift_kernels_predicts_exactly_and_the_seed_edge_does_not():
    _, task = hr.make_task(32, (0.2,), QUICK.velocities, 3, 4, seed=1)
    errs = {}
    for router, cut in (("exact", (0.2,)), ("fixed", (0.1,))):
        model = hr.BandPredictor(32, cut, router)
        _shift_kernels(model, QUICK.velocities)
        errs[router] = hr.rel_error(model(task.test_x)[0], task.test_y)
    assert errs["exact"] < 1e-5 < 0.02 < errs["fixed"]


def test_probe_boundary_and_best_edge():
    for router, cut, want in (("fixed", (0.1,), 0.1), ("exact", (0.2,), 0.2), ("edges", (0.15,), 0.15)):
        pb = hr.probe_boundary(hr.BandPredictor(64, cut, router))
        assert pb["boundary"] == pytest.approx(want, abs=0.02), router
        assert pb["share"][0] > 0.99 and pb["share"][-1] < 0.01
    f, _ = hr.make_task(64, (0.2,), QUICK.velocities, 2, 2, seed=0)
    best = hr.best_edge(QUICK, f.x)
    assert best["best"] == pytest.approx(0.2, abs=0.02)
    assert best["error"].min() < best["error"][np.argmin(np.abs(best["grid"] - 0.1))]


def test_seed_gate_is_a_gain_on_fixed_bands():
    model = hr.BandPredictor(16, (0.1, 0.3), "seed gate", router_dim=4)
    x = torch.randn(2, 1, 16, 16)
    routed, g, z = model.split(x)
    assert g.shape == (2, 3, 1, 16, 16) and torch.allclose(g.sum(1), torch.ones(2, 1, 16, 16))
    assert torch.allclose(routed, hr.decompose(x, masks=model.fixed_masks) * g)
    assert hr.reg_loss("none", g, z) == 0 and torch.isfinite(hr.reg_loss("z-loss", g, z))
    assert hr.reg_loss("entropy", g, z) < 0 < hr.reg_loss("Switch", g, z)


@pytest.fixture(scope="module")
def boundary():
    cfg = dataclasses.replace(SMALL, n=64)
    return hr.run_boundary(cfg, routers=("fixed", "seed gate", "edges"), progress=False)


def test_boundary_claims(boundary):
    json.dumps(boundary.to_dict())
    b = {k: np.array(v) for k, v in boundary.boundary.items()}
    e = {k: np.array(v) for k, v in boundary.test_error.items()}
    assert np.all(np.abs(b["fixed"] - 0.1) < 0.02)
    assert np.all(np.abs(b["seed gate"] - 0.1) < 0.04)  # it can only shift weight inside the masks' overlap
    assert np.all(np.abs(b["edges"] - 0.2) < np.abs(b["fixed"] - 0.2))  # the learnable edge moves towards c*
    assert np.all(e["edges"] < e["fixed"]) and np.all(e["spectral AR(1)"] < 1e-4) and np.all(e["persistence"] > 0.5)
    assert len(boundary.edges[0]) == len(boundary.steps) and boundary.edges[0][0] == pytest.approx(0.1, abs=1e-6)


@pytest.fixture(scope="module")
def collapse():
    return hc.run_collapse(SMALL, progress=False)


def test_collapse_claims_and_switch_identity(collapse):
    json.dumps(collapse.to_dict())
    assert collapse.runs == [hc.NORMAL] + [hc.run_name(r) for r in SMALL.regularizers]
    none, ent, mi = (hc.run_name(r) for r in SMALL.regularizers)
    assert collapse.values(none, "max_usage").mean() > collapse.values(hc.NORMAL, "max_usage").mean()
    assert np.all(collapse.values(ent, "entropy") > collapse.values(none, "entropy"))  # pushed towards uniform
    assert np.all(collapse.values(mi, "mi") > collapse.values(none, "mi"))  # confident and balanced
    assert np.all(collapse.values(mi, "entropy") < collapse.values(ent, "entropy"))
    for row in hc.identity_rows(collapse):
        assert row["max |difference|"] < 1e-5  # soft Switch = 1 + M^2 Var_pop(P)
    m = len(SMALL.collapse_cutoffs) + 1
    for run in collapse.runs:
        s = collapse.values(run, "soft_switch")
        assert np.all((s >= 1 - 1e-6) & (s <= m + 1e-6))
        assert collapse.curve(run).shape == (SMALL.n_seeds, len(collapse.steps), m)
    rows = hc.collapse_rows(collapse)
    assert rows[0]["claim"] == "lr x100 collapses the seed's router" and len(rows) == 1 + 3 * 2 + len(collapse.runs) + 3
    alert = {r["claim"]: r["verdict"] for r in rows if "alert" in r["claim"]}
    assert len(alert) == len(collapse.runs)
    contrast = {r["claim"]: r for r in hc.contrast_rows(collapse)}
    assert set(contrast) == {"entropy: pixels more uniform than with mutual information",
                             "mutual information: more confident, balanced routing than entropy"}  # Switch and variance not run here
    assert all(r["verdict"] != "not reproduced" for r in contrast.values())
    assert len(hc.summary_rows(collapse)) == len(collapse.runs)
