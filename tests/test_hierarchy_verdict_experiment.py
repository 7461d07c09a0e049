"""experiments.hierarchy_verdict at the quick budget: what the chapter "Phased training and the verdict" relies on."""

import copy
import json
import math

import numpy as np
import pytest
import torch

from spectral_manifolds import report
from spectral_manifolds.experiments import hierarchy_verdict as hv
from spectral_manifolds.experiments import hierarchy_verdict_data as hd
from spectral_manifolds.experiments import hierarchy_verdict_tables as ht
from spectral_manifolds.experiments import hierarchy_verdict_train as tr
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel


@pytest.fixture(scope="module")
def result():
    return hv.run(hv.config_for("quick"))


def test_ls_multiplier_exact_on_the_three_speed_field_persistence_not(result):
    """Hard bands: every Fourier mode translates with one velocity, so the per-mode multiplier fitted on each
    context is exact (next frame and 10-step rollout); the field moves, so persistence is not."""
    for metric in ("mse", "rollout_mse"):
        ls = result.values("three_speed", "ls_multiplier", metric)
        pers = result.values("three_speed", "persistence", metric)
        assert (pers > 1e-3).all() and (ls < 1e-9 * pers).all()
    # the real video is no pure translation: the multiplier is not exact there
    assert (result.values("carphone", "ls_multiplier") > 0.1 * result.values("carphone", "persistence")).all()


def test_every_learned_baseline_within_5_percent_of_the_reference(result):
    for ds in result.metrics:
        target = result.values(ds, hv.REFERENCE, "parameters")
        for name in hv.LEARNED_BASELINES:
            assert (np.abs(result.values(ds, name, "parameters") / target - 1) <= 0.05).all(), (ds, name)


def test_equal_training_budget_and_the_seed_count(result):
    cfg = result.config
    assert result.seeds == [0, 1, 2] and len(result.seeds) >= 3
    for ds, hist in result.history.items():
        learned = [lb for lb in result.labels[ds] if lb not in hv.CLASSICAL]
        assert sorted(hist) == sorted(learned)
        assert all(len(h) == cfg["epochs"] for runs in hist.values() for h in runs)
        assert result.steps[ds] == cfg["epochs"] * math.ceil(result.split[ds]["train_windows"] / cfg["batch"])
        assert set(result.labels[ds]) >= {hv.REFERENCE, *hv.BASELINES}
    assert set(result.labels["three_speed"]) >= set(hv.ABLATIONS) | {hv.PHASED, hv.PHASED_RAW}
    assert list(result.metrics) == list(hv.DATASETS) == ["three_speed", "carphone", "gray_scott", "moving_digits"]
    for ds in set(hv.DATASETS) - {result.config["ablation_dataset"]}:
        assert hv.RAW in result.labels[ds]  # the reference's raw weights: scored on every data set
        assert not set(result.labels[ds]) & ((set(hv.ABLATIONS) - {hv.RAW}) | {hv.PHASED, hv.PHASED_RAW})


def test_result_is_json_able(result):
    text = json.dumps(result.to_json(), allow_nan=False)
    back = json.loads(text)
    assert back["metrics"]["three_speed"][hv.REFERENCE]["mse"] == pytest.approx(
        result.metrics["three_speed"][hv.REFERENCE]["mse"])


def test_phases_touch_the_intended_components(result):
    """§9.2 rescaled: phase 1 trains the manifolds only (router and attention unchanged), phase 2 adds the
    router (attention still unchanged), phase 3 and 4 train everything."""
    log = result.phase_log
    assert [p["phase"] for p in log] == ["independent", "routing", "integration", "refinement"]
    assert [p["start"] for p in log] == [p["start"] for p in result.phases]
    assert log[0]["changed"] == {"manifolds": True, "router": False, "attention": False}
    assert log[1]["changed"] == {"manifolds": True, "router": True, "attention": False}
    assert log[2]["changed"]["attention"] and log[3]["changed"]["attention"]
    assert result.phases[-1]["lr_factor"] == 0.1 and result.phases[-1]["end"] is None


def test_per_band_split_is_finite_and_classical_rows_do_not_depend_on_the_seed(result):
    for ds in result.metrics:
        for lb in result.labels[ds]:
            bands = np.array([result.values(ds, lb, f"mse_band_{i}") for i in range(3)])
            assert np.isfinite(bands).all() and (bands >= 0).all()
        for lb in ("persistence", "linear"):
            v = result.values(ds, lb)
            assert np.allclose(v, v[0], rtol=1e-6)


def test_verdict_tables_cover_every_claim(result):
    rows = ht.strength_rows(result)
    assert {r["claim"].split(":")[0].split(" (")[0] for r in rows} == {s for s, _, _ in ht.STRENGTHS}
    allowed = set(report.VERDICTS) | {"not tested here"}
    for r in rows + ht.ablation_rows(result) + ht.baseline_rows(result, "carphone"):
        assert r["verdict"] in allowed
        timed = r["metric"].startswith("seconds per epoch")  # the seeds train together: epochs are the replicates
        assert r["seeds"] in ((result.config["epochs"] - 1,) if timed else (0, len(result.seeds)))
    assert sum(r["metric"].startswith("seconds per epoch") for r in rows) == len(result.metrics)
    assert len(ht.ablation_rows(result)) == len(hv.ABLATIONS) + 1 and len(ht.phase_rows(result)) == 2
    assert set(ht.CLAIMS) | {"4 bands"} == set(hv.ABLATIONS)
    table = ht.model_table(result, "three_speed")
    assert list(table.index) == result.labels["three_speed"]
    bands = ht.band_table(result, "carphone")
    assert list(bands.index) == result.labels["carphone"]
    # per-band PSNR: 10 log10(range^2 / mse_b) with the range of the overall PSNR
    rng2 = result.values("carphone", "persistence", "mse") * 10 ** (result.values("carphone", "persistence", "psnr") / 10)
    want = 10 * np.log10(rng2 / result.values("carphone", "persistence", "mse_band_2"))
    assert bands.loc["persistence", "fine PSNR (dB)"] == pytest.approx(want.mean(), abs=0.06)
    frames = hv.load_frames(hv.config_for("quick"), "carphone")
    assert rng2[0] == pytest.approx(float(frames.max() - frames.min()) ** 2, rel=1e-5)


def test_param_groups_carry_the_seed_and_the_uniform_rates():
    m = HierarchicalSpectralModel(3, n=16, router="edges", base_dim=4)
    seed = {g["name"]: g["lr"] for g in tr.param_groups(m, tr.Training(), 3e-3)}
    assert seed["coarse_0"] == pytest.approx(3e-4) and seed["mid_1"] == pytest.approx(1.5e-3)
    assert seed["fine_2"] == pytest.approx(3e-3) and seed["routing"] == pytest.approx(9e-4)
    uni = {g["name"]: g["lr"] for g in tr.param_groups(m, tr.Training(lr="uniform"), 3e-3)}
    assert all(v == pytest.approx(3e-3) for v in uni.values()) and set(uni) == set(seed)
    with pytest.raises(ValueError, match="lr"):
        tr.Training(lr="cosine")


def test_scaled_phases_cover_the_run():
    for total in (4, 12, 240, 40000):
        s = tr.scaled_phases(total)
        starts = [p.start for p in s.phases]
        assert starts[0] == 0 and all(b > a for a, b in zip(starts, starts[1:])) and starts[-1] < total
    assert [p.start for p in tr.scaled_phases(40000).phases] == [0, 5000, 15000, 30000]  # §9.2's own steps
    with pytest.raises(ValueError, match="4 steps"):
        tr.scaled_phases(3)


class _Bar:
    def update(self, n):
        pass

    def set_postfix(self, **kw):
        pass


def test_ema_keeps_the_coarse_band_near_its_start():
    """§6.3's coarse decay 0.9999 averages over ~10^4 steps: after 12 steps the EMA coarse weights sit far
    closer to the starting weights than the trained ones do."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 16, 16), torch.randn(16, 16, 16)
    base = HierarchicalSpectralModel(3, n=16, router="none", attention=False, base_dim=4).zero_decoders()
    runs = {}
    for ema in (False, True):
        m = copy.deepcopy(base)
        tr.fit(m, x, y, epochs=6, batch_size=8, lr=3e-3, seed=0, bar=_Bar(), label="m",
               trainings={"m": tr.Training(ema=ema)})
        runs[ema] = torch.cat([p.flatten() for p in m.manifolds[0].parameters()])
    start = torch.cat([p.flatten() for p in base.manifolds[0].parameters()])
    assert (runs[True] - start).norm() < 0.5 * (runs[False] - start).norm()


def _pair(seeds=(0, 1)):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        out.append(HierarchicalSpectralModel(3, n=16, router="edges", attention=True, base_dim=4))
    return out


def _close(m, ref, x):
    """Predictions of ``m`` and ``ref`` agree to 1e-3 of ``ref``'s learned change (float32 rounding)."""
    with torch.no_grad():
        p, q = tr._predict(m, x), tr._predict(ref, x)
    return float((p - q).abs().max()) <= 1e-3 * float((q - x[:, -1]).abs().max())


def test_seeds_trained_together_equal_one_at_a_time():
    """fit_seeds stacks the S models and vmaps one step over them: each seed ends where it would alone (its
    own init and batch order), up to float32 rounding, phases and EMA included; the looped fallback too."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 16, 16), torch.randn(16, 16, 16)
    kw = dict(epochs=2, batch_size=8, lr=3e-3, training=tr.Training(phased=True))
    together, looped = _pair(), _pair()
    out = tr.fit_seeds(together, x, y, seeds=[0, 1], **kw)
    out_loop = tr.fit_seeds(looped, x, y, seeds=[0, 1], vectorize=False, **kw)
    assert [p["phase"] for p in out["phase_log"]] == ["independent", "routing", "integration", "refinement"]
    assert len(out["epoch_seconds"]) == 2 and len(out["history"]) == 2
    for s in (0, 1):
        alone = _pair()[s]
        h = tr.fit_seeds([alone], x, y, seeds=[s], **kw)["history"][0]
        assert np.allclose(out["history"][s], h, rtol=1e-4) and np.allclose(out_loop["history"][s], h, rtol=1e-4)
        assert _close(together[s], alone, x) and _close(looped[s], alone, x)
    assert not _close(together[0], together[1], x)  # the seeds differ
    with pytest.raises(ValueError, match="one module per seed"):
        tr.fit_seeds(_pair(), x, y, seeds=[0], epochs=1, batch_size=8, lr=1e-3)


def test_no_ema_is_the_reference_run_before_the_ema_swap():
    """The EMA never feeds back into training, so the reference's raw weights ("raw") are what a separate
    run without EMA ends with: same history, same weights (what "no EMA" reuses instead of training again)."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 16, 16), torch.randn(16, 16, 16)
    (ref,), (fresh,) = _pair((0,)), _pair((0,))
    kw = dict(seeds=[0], epochs=2, batch_size=8, lr=3e-3)
    out = tr.fit_seeds([ref], x, y, training=tr.Training(), **kw)
    h_fresh = tr.fit_seeds([fresh], x, y, training=tr.Training(ema=False), **kw)["history"]
    assert out["history"] == h_fresh
    raw = out["raw"][0]
    assert all(torch.allclose(raw[k], v, rtol=1e-6, atol=1e-8) for k, v in fresh.state_dict().items())
    assert not all(torch.equal(raw[k], v) for k, v in ref.state_dict().items())  # ref holds the EMA weights
    with pytest.raises(ValueError, match="reuse"):
        tr.Training(reuse="ref")


def test_trainer_hook_refuses_other_windows():
    runs = {"windows": torch.zeros(4, 3, 16, 16), "m": {"states": [{}], "history": [[1.0]]}}
    with pytest.raises(RuntimeError, match="windows differ"):
        hv._trained(None, torch.ones(4, 3, 16, 16), None, epochs=1, batch_size=4, lr=1e-3, seed=0, bar=_Bar(),
                    label="m", runs=runs, seeds=[0])


def test_no_ema_row_reports_the_reference_training_time(result):
    for ds in result.metrics:
        assert np.array_equal(result.values(ds, hv.RAW, "fit_seconds"), result.values(ds, hv.REFERENCE, "fit_seconds"))
        assert result.history[ds][hv.RAW] == result.history[ds][hv.REFERENCE]
    ds = result.config["ablation_dataset"]
    assert result.history[ds][hv.PHASED_RAW] == result.history[ds][hv.PHASED]


def test_raw_weight_rows_compare_the_intended_runs(result):
    """The raw-weight verdicts pair the runs they name: phased raw vs reference raw; no-EMA model vs baselines."""
    rows = ht.phase_rows(result, raw=True)
    assert [r["A (ours)"].split(":")[0] for r in rows] == [hv.PHASED_RAW] * 2
    assert [r["B (ours)"].split(":")[0] for r in rows] == [hv.RAW] * 2
    base = ht.baseline_rows(result, "carphone", reference=hv.RAW)
    assert len(base) == len(hv.BASELINES) and all(r["A (ours)"].startswith(hv.RAW) for r in base)


def test_bad_config():
    with pytest.raises(ValueError, match="n_seeds"):
        hv.VerdictConfig(n_seeds=1)
    with pytest.raises(ValueError, match="datasets"):
        hv.VerdictConfig(datasets=("mnist",))
    with pytest.raises(ValueError, match="fno_modes"):
        hv.VerdictConfig(n=8, fno_modes=8)
    for name in ("field_frames", "video_frames", "gs_frames", "digits_frames"):
        with pytest.raises(ValueError, match="too few frames"):
            hv.VerdictConfig(**{name: 10})
    with pytest.raises(ValueError, match="dataset"):
        hv.load_frames(hv.config_for("quick"), "mnist")


@pytest.mark.parametrize("budget", ["quick", "full"])
def test_every_data_set_loads_at_the_configured_size(budget):
    """(T, n, n) float32 at the config's n and frame counts; every clip but the three-speed field lies in
    [0, 1] (Gray-Scott min-max scaled onto exactly [0, 1], digits 0 off the digits and 1 on their strokes)."""
    cfg = hv.config_for(budget)
    for ds in hv.DATASETS:
        f = hv.load_frames(cfg, ds)
        t = getattr(cfg, hd.FRAMES[ds])
        assert f.shape == (t, cfg.n, cfg.n) and f.dtype == np.float32 and np.isfinite(f).all(), ds
        if ds != "three_speed":  # the three-speed bands drift slightly out of the texture's [0, 1]
            assert f.min() >= 0 and f.max() <= 1, ds
    for ds in ("gray_scott", "moving_digits"):
        f = hv.load_frames(cfg, ds)
        assert f.min() == 0 and f.max() == pytest.approx(1, abs=1e-6), ds


def _rms(a):
    return np.sqrt((np.asarray(a, dtype=np.float64) ** 2).mean(axis=(-2, -1)))


@pytest.mark.parametrize("n", [16, 32])
def test_gray_scott_changes_between_frames_but_smoothly(n):
    """The verdict's Gray-Scott settings: every frame differs from the last (RMS change above 10 % of the
    frame's spread: persistence is not exact), the second difference is smaller than the first (the change is
    predictable from the last two frames), and the statistics of the first and last quarters agree (a
    chronological split trains and tests on the same dynamics)."""
    f = hd.gray_scott_frames(64, n).astype(np.float64)
    d1, d2 = _rms(np.diff(f, axis=0)), _rms(np.diff(f, 2, axis=0))
    spread = f.std(axis=(1, 2))
    assert (d1 > 0.1 * spread[1:]).all()
    assert d2.mean() < 0.8 * d1.mean()
    q = len(f) // 4
    assert abs(f[:q].mean() - f[-q:].mean()) < 0.1 and abs(f[:q].std() - f[-q:].std()) < 0.1
    assert np.allclose(hd.gray_scott_frames(64, n), f)  # deterministic


def test_moving_digits_are_sharp_and_bounce():
    """Digits of the verdict: a stroke pixel is 1 or a fraction of sklearn's 0..16 levels, whole-pixel motion
    (each frame's values are one of the 17 levels) and at least one reversal of a digit's velocity (a wall)."""
    cfg = hv.config_for("full")
    f = hv.load_frames(cfg, "moving_digits")
    assert np.allclose(f * 16, np.round(f * 16), atol=1e-5)  # no sub-pixel blur: sharp edges
    from spectral_manifolds.hierarchy.datasets import moving_digits
    s = max(1, cfg.n // 16)
    clip = moving_digits(cfg.digits_frames, cfg.n, scale=s, max_speed=s, **hd.DIGITS_VERDICT)
    assert np.array_equal(clip.frames, f)
    corner = np.array([[np.argwhere(layer.sum(1) > 0)[0, 0] for layer in d] for d in clip.parts])  # (D, T) top row
    steps = np.diff(corner, axis=1)
    assert (np.diff(np.sign(steps[steps != 0])) != 0).any()


def test_classical_predictors_on_the_new_data_sets(result):
    """Gray-Scott changes smoothly: linear extrapolation beats persistence on the next frame; no per-mode
    multiplier is exact (not a translation). Moving digits: sharp edges, so extrapolating them doubles each edge
    and linear extrapolation is worse than persistence, while a per-mode multiplier (a rigid shift is one in
    Fourier space) beats persistence without being exact (two velocities, reflections, the max)."""
    pers = {ds: result.values(ds, "persistence") for ds in ("gray_scott", "moving_digits")}
    assert (result.values("gray_scott", "linear") < 0.5 * pers["gray_scott"]).all()
    assert (result.values("moving_digits", "linear") > pers["moving_digits"]).all()
    assert (result.values("moving_digits", "spectral_ar1") < pers["moving_digits"]).all()
    for ds in ("gray_scott", "moving_digits"):
        for name in ("ls_multiplier", "spectral_ar1"):
            assert (result.values(ds, name) > 0.1 * pers[ds]).all(), (ds, name)


def test_convlstm_beats_persistence_on_gray_scott(result):
    """A learned model picks up the reaction-diffusion step at the quick budget: ConvLSTM beats persistence by
    more than the seed-to-seed spread (the report rule), on the next frame and the 10-step rollout."""
    for metric in ("mse", "rollout_mse"):
        c = report.compare(result.values("gray_scott", "convlstm", metric),
                           result.values("gray_scott", "persistence", metric))
        assert c.verdict == report.REPRODUCED, metric
