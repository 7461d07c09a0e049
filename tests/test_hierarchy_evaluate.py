"""hierarchy.baselines and hierarchy.evaluate: exact classical predictors, matched sizes, the public entry point."""

import math

import numpy as np
import pytest
import torch

from spectral_manifolds.hierarchy import baselines as BL
from spectral_manifolds.hierarchy import evaluate as EV
from spectral_manifolds.hierarchy import fields as F
from spectral_manifolds.hierarchy.bands import smooth_field
from spectral_manifolds.hierarchy.model import HierarchicalSpectralModel


def _translating(t=40, n=12, v=(1, 2), seed=0):
    """A smooth random field rolled by v pixels per frame (periodic): (T, N, N) float64."""
    f0 = smooth_field(1, n, 1.0, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)[0]
    return torch.stack([torch.roll(f0, (v[0] * s, v[1] * s), (0, 1)) for s in range(t)])


def test_ls_multiplier_exact_on_plane_waves():
    f = F.plane_waves(3, 9, 32, seed=1, dtype=torch.float64)
    hist, nxt = f.x[:, :8], f.x[:, 8]
    assert torch.allclose(BL.ls_multiplier(hist), nxt, atol=1e-9)
    assert (BL.persistence(hist) - nxt).abs().max() > 1e-2  # the waves move: persistence is not exact


def test_ls_multiplier_exact_on_translations_and_k_steps():
    x = _translating(t=12)
    assert torch.allclose(BL.ls_multiplier(x[:6]), x[6], atol=1e-9)
    assert torch.allclose(BL.ls_multiplier(x[:6], steps=4), x[9], atol=1e-9)
    r = EV.rollout(BL.ls_multiplier, x[None, :6], 5)  # fed back, still exact
    assert torch.allclose(r[0], x[6:11], atol=1e-8)


def test_persistence_exact_on_constant_and_linear_on_ramps():
    c = torch.full((5, 8, 8), 3.25, dtype=torch.float64)
    assert torch.equal(BL.persistence(c), c[0])
    assert torch.equal(EV.rollout(BL.persistence, c[None], 3)[0], c[:3])
    base = torch.randn(8, 8, dtype=torch.float64)
    ramp = torch.stack([base * (1 + 0.5 * s) for s in range(6)])
    assert torch.allclose(BL.CLASSICAL["linear"](ramp[:5]), ramp[5], atol=1e-12)


@pytest.mark.parametrize("kind", BL.LEARNED)
@pytest.mark.parametrize("target", [10000, 20000, 90000])
def test_parameter_matching_within_5_percent(kind, target):
    m = BL.matched(kind, target, 4)
    assert abs(sum(p.numel() for p in m.parameters()) / target - 1) <= 0.05


def test_single_band_matched_to_the_hierarchical_model():
    target = HierarchicalSpectralModel(base_dim=8).n_parameters
    m = EV._single_band(target)
    assert m.single_band and abs(m.n_parameters / target - 1) <= 0.05


def test_learned_baselines_shapes_and_residual_identity():
    x = torch.randn(2, 4, 10, 10)
    for m in (BL.ConvLSTM(3), BL.UNet(4, 3), BL.UNet(4, 3, inner=5)):
        assert m(x).shape == (2, 10, 10) and m(x[0]).shape == (10, 10)
        last = m.readout if isinstance(m, BL.ConvLSTM) else m.dec[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        assert torch.equal(m(x), x[:, -1])  # zeroed readout: persistence
    assert BL.UNet(4, 3)(torch.randn(2, 4, 9, 9)).shape == (2, 9, 9)  # odd N
    with pytest.raises(ValueError, match="stacks 4 frames"):
        BL.UNet(4, 3)(torch.randn(2, 5, 10, 10))


def test_split_is_chronological_and_sized():
    n_train, n_test = EV.split_frames(40, 4, 5)
    assert (n_train, n_test) == (30, 10)
    assert EV.split_frames(2 * 4 + 5 + 1, 4, 5) == (5, 9)  # the smallest video: one training window
    with pytest.raises(ValueError, match="too few frames"):
        EV.split_frames(2 * 4 + 5, 4, 5)


def test_evaluate_next_frame_on_a_translating_field():
    clean = _translating(t=36, n=12).numpy()
    frames = (clean + 1e-3 * np.random.default_rng(0).normal(size=clean.shape)).astype(np.float32)  # a "video": noisy
    models = ["persistence", "linear", "ls_multiplier", "spectral_ar1", "convlstm", "unet", "single_band", "hierarchical"]
    df = EV.evaluate_next_frame(frames, models=models, context=4, k=4, epochs=1, seed=0, progress=False, device="cpu")
    assert tuple(df.columns) == EV.COLUMNS and list(df["model"]) == models
    num = df.drop(columns="model").to_numpy(dtype=float)
    assert np.isfinite(num).all()
    row = df.set_index("model")
    assert row.loc["ls_multiplier", "mse"] < 0.1 * row.loc["persistence", "mse"]
    assert row.loc["ls_multiplier", "rollout_mse"] < 0.1 * row.loc["persistence", "rollout_mse"]
    # PSNR is 10 log10(range^2 / mse) in the frames' units
    rng = float(frames.max() - frames.min())
    assert math.isclose(row.loc["persistence", "psnr"], 10 * math.log10(rng ** 2 / row.loc["persistence", "mse"]), rel_tol=1e-6)
    # persistence's error recomputed by hand on the test segment
    n_train = df.attrs["split"]["train_frames"]
    test = frames[n_train:].astype(np.float64)
    want = np.mean([(test[s + 4] - test[s + 3]) ** 2 for s in range(len(test) - 4)])
    assert math.isclose(row.loc["persistence", "mse"], want, rel_tol=1e-4)
    target = row.loc["hierarchical", "parameters"]
    for name in ("convlstm", "unet", "single_band"):
        assert abs(row.loc[name, "parameters"] / target - 1) <= 0.05 and row.loc[name, "epochs"] == 1
    assert set(df.attrs["history"]) == {"convlstm", "unet", "single_band", "hierarchical"}


def test_evaluate_ablation_dict_and_seed_reproducible():
    frames = _translating(t=24, n=8).float().numpy()
    models = {"full": "hierarchical", "no attention": ("hierarchical", {"attention": False, "n_bands": 2})}
    a = EV.evaluate_next_frame(frames, models=models, context=3, k=2, epochs=1, seed=3, progress=False, device="cpu")
    b = EV.evaluate_next_frame(frames, models=models, context=3, k=2, epochs=1, seed=3, progress=False, device="cpu")
    assert list(a["model"]) == ["full", "no attention"]
    assert np.allclose(a["mse"], b["mse"], rtol=1e-5)
    assert a.loc[1, "parameters"] < a.loc[0, "parameters"]


@pytest.mark.parametrize("bad, match", [
    (np.zeros((10, 8)), "shape"),
    (np.zeros((2, 10, 8, 8)), "shape"),
    (np.zeros((30, 8, 6)), "square"),
    (np.zeros((30, 2, 2)), "square"),
    (np.full((30, 8, 8), np.nan), "NaN"),
    (np.where(np.arange(30 * 64).reshape(30, 8, 8) == 5, np.inf, 1.0), "NaN or infinite"),
    (np.random.default_rng(0).normal(size=(11, 8, 8)), "too few frames"),
    (np.zeros((30, 8, 8), dtype=complex), "real"),
])
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        EV.evaluate_next_frame(bad, models=["persistence"], context=3, k=5, progress=False)


def test_bad_options():
    frames = np.random.default_rng(0).normal(size=(30, 8, 8))
    with pytest.raises(ValueError, match="model"):
        EV.evaluate_next_frame(frames, models=["oracle"], context=3, k=2, progress=False)
    with pytest.raises(ValueError, match="context"):
        EV.evaluate_next_frame(frames, models=["persistence"], context=1, k=2, progress=False)
    with pytest.raises(ValueError, match="budget"):
        EV.evaluate_next_frame(frames, models=["persistence"], context=3, k=2, budget="huge", progress=False)
    with pytest.raises(ValueError, match="data_range"):
        EV.evaluate_next_frame(np.ones((30, 8, 8)), models=["persistence"], context=3, k=2, progress=False)
    with pytest.raises(ValueError, match="unique"):
        EV.evaluate_next_frame(frames, models=["persistence", "persistence"], context=3, k=2, progress=False)
    with pytest.raises(ValueError, match="params"):
        EV.evaluate_next_frame(frames, models=["unet"], context=3, k=2, progress=False)


def test_band_masks_split_the_error_and_hard_masks_add_up():
    """band_masks adds mse_band_i columns; hard masks are orthogonal projections, so the band MSEs sum
    to the next-frame MSE (Parseval) for every model."""
    from spectral_manifolds.hierarchy.bands import masks as band_masks

    frames = (_translating(t=30, n=12) + 0.05 * torch.randn(30, 12, 12, dtype=torch.float64)).float().numpy()
    m = band_masks(12, 3, "hard", half=True)
    df = EV.evaluate_next_frame(frames, models=["persistence", "linear", "ls_multiplier", "fno"], context=3, k=2,
                                epochs=1, params=3000, band_masks=m, progress=False, device="cpu")
    assert list(df.columns) == list(EV.COLUMNS) + ["mse_band_0", "mse_band_1", "mse_band_2"]
    total = df[["mse_band_0", "mse_band_1", "mse_band_2"]].sum(axis=1)
    assert np.allclose(total, df["mse"], rtol=1e-4)
    assert (df[["mse_band_0", "mse_band_1", "mse_band_2"]].to_numpy() >= 0).all()


def test_trainer_hook_replaces_the_loop_for_learned_models_only():
    frames = _translating(t=24, n=8).float().numpy()
    calls = []

    def trainer(module, x, y, *, epochs, batch_size, lr, seed, bar, label):
        calls.append((label, tuple(x.shape), tuple(y.shape), epochs, batch_size, lr, seed))
        return [0.0] * epochs

    models = {"p": "persistence", "h": ("hierarchical", {"n_bands": 2, "base_dim": 4}), "u": "unet"}
    df = EV.evaluate_next_frame(frames, models=models, context=3, k=2, epochs=2, lr=5e-4, seed=7,
                                trainer=trainer, progress=False, device="cpu")
    assert [c[0] for c in calls] == ["h", "u"]
    assert calls[0][1][1:] == (3, 8, 8) and calls[0][2][1:] == (8, 8) and calls[0][3:] == (2, 16, 5e-4, 7)
    assert df.attrs["history"]["h"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="trainer"):
        EV.evaluate_next_frame(frames, models=["persistence"], context=3, k=2, trainer="adam", progress=False)
    with pytest.raises(ValueError, match="band_masks"):
        EV.evaluate_next_frame(frames, models=["persistence"], context=3, k=2, band_masks=torch.ones(3, 8, 4),
                               progress=False)
