"""The STFT front end and real-pair twin (cvkan/spectrogram.py) and chapter 17's accuracy runs
(experiments/cvkan_spectrogram.py) at a trimmed quick size."""

import dataclasses

import numpy as np
import pytest
import torch

from spectral_manifolds.cvkan import CVKAN, ComplexLinear, n_parameters
from spectral_manifolds.cvkan.spectrogram import (
    RealPairLinear, SpectrogramFrontEnd, n_bins, n_frames, precompute_tokens, spectrogram_model, stft_tokens,
)
from spectral_manifolds.data.waveforms import make_waveforms
from spectral_manifolds.experiments import cvkan_spectrogram as cs

QUICK = cs.config_for("quick")


def _numpy_stft(x, n_fft, hop):
    """Oracle: reflect-pad n_fft/2, periodic Hann window, rfft, scaled by n_fft^-1/2 (torch.stft's normalized=True)."""
    xp = np.pad(x, n_fft // 2, mode="reflect")
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = np.stack([xp[t * hop : t * hop + n_fft] * w for t in range(1 + len(x) // hop)])
    return np.fft.rfft(frames, axis=-1) / np.sqrt(n_fft)


def test_stft_tokens_match_numpy_and_put_frames_on_the_token_axis():
    x = np.random.default_rng(0).standard_normal((2, 3000))
    s = stft_tokens(torch.from_numpy(x), n_fft=256, hop=100)
    assert s.shape == (2, n_frames(3000, 100), n_bins(256)) == (2, 31, 129)
    for b in range(2):
        np.testing.assert_allclose(s[b].numpy(), _numpy_stft(x[b], 256, 100), atol=1e-10)
    # unbatched and (B, L, 1) inputs
    torch.testing.assert_close(stft_tokens(torch.from_numpy(x[0]), 256, 100), s[0])
    torch.testing.assert_close(stft_tokens(torch.from_numpy(x[..., None]), 256, 100), s)


def test_a_pure_tone_peaks_at_its_bin():
    k, n_fft = 40, 512
    x = torch.cos(2 * torch.pi * k / n_fft * torch.arange(16000, dtype=torch.float64))
    s = stft_tokens(x, n_fft, 256)
    assert torch.all(s.abs()[2:-2].argmax(-1) == k)


def test_precompute_equals_the_stft_of_the_whole_set():
    x = make_waveforms(5, 1, seed=0).x_train
    torch.testing.assert_close(precompute_tokens(x, batch_size=2), stft_tokens(torch.from_numpy(x)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_real_pair_twin_computes_the_complex_layer_and_its_gradients(dtype):
    torch.manual_seed(0)
    lin = ComplexLinear(20, 7)
    with torch.no_grad():
        lin.bias.copy_(torch.randn(7, dtype=torch.complex64))
    twin = RealPairLinear.from_complex(lin)
    cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    lin, twin = lin.to(cdtype), twin.to(dtype)
    z = torch.randn(3, 5, 20, dtype=cdtype)
    y = lin(z)
    yr, yi = twin(z.real.contiguous(), z.imag.contiguous())
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(yr, y.real, atol=tol, rtol=tol)
    torch.testing.assert_close(yi, y.imag, atol=tol, rtol=tol)
    g = torch.randn(2, *y.shape, dtype=dtype)
    (g[0] * y.real + g[1] * y.imag).sum().backward()
    (g[0] * yr + g[1] * yi).sum().backward()
    torch.testing.assert_close(twin.weight_re.grad, lin.weight.grad.real, atol=tol, rtol=tol)
    torch.testing.assert_close(twin.weight_im.grad, lin.weight.grad.imag, atol=tol, rtol=tol)
    torch.testing.assert_close(twin.bias_re.grad, lin.bias.grad.real, atol=tol, rtol=tol)


def test_front_end_on_the_fly_equals_precomputed_and_real_pair_equals_complex():
    x = torch.from_numpy(make_waveforms(4, 1, seed=1).x_train)
    torch.manual_seed(0)
    front = SpectrogramFrontEnd(8)
    pair = SpectrogramFrontEnd(8, arithmetic="real_pair")
    pair.proj = RealPairLinear.from_complex(front.proj)
    otf, pre = front(x), front(precompute_tokens(x))
    assert otf.shape == (4, n_frames(16000, 256), 8) and otf.is_complex()
    torch.testing.assert_close(otf, pre)
    torch.testing.assert_close(pair(x), otf, atol=1e-5, rtol=1e-5)
    assert front(x[0]).shape == (1, 63, 8)


def test_bad_input_raises():
    front = SpectrogramFrontEnd(8)
    for bad in (torch.zeros(2, 10, 100, dtype=torch.complex64), torch.zeros(10, 257, dtype=torch.complex64), torch.zeros(2, 16000, dtype=torch.int64),
                torch.zeros(2, 3, 16000), torch.zeros(2, 100)):
        with pytest.raises(ValueError):
            front(bad)
    with pytest.raises(ValueError):
        SpectrogramFrontEnd(8, n_fft=256, hop=512)
    with pytest.raises(ValueError):
        SpectrogramFrontEnd(8, arithmetic="quaternion")
    with pytest.raises(ValueError):
        RealPairLinear(4, 2)(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError):
        spectrogram_model("not a module", 8)


def test_cvkan_on_frames_is_blind_to_frame_order_and_r_is_not():
    rows = {r["model"]: r for r in cs.order_check(QUICK)}
    assert rows["CVKAN"]["max |logits(shuffled) - logits|"] < 1e-4 * rows["CVKAN"]["std of logits over samples"]
    assert rows["R"]["max |logits(shuffled) - logits|"] > 1e-2 * rows["R"]["std of logits over samples"]


def test_baselines_are_matched_within_5_percent_and_share_the_front_end():
    for cfg in (QUICK, cs.config_for("full")):
        models = {n: b(n_bins(cfg.n_fft), 4) for n, b in cs.builders(cfg).items()}
        target = n_parameters(models["CVKAN"])
        assert all(abs(n_parameters(m) / target - 1) <= 0.05 for m in models.values())
        assert all(isinstance(m[0], SpectrogramFrontEnd) for m in models.values())
        assert len(models["Z0"][1].blocks) == 0 and isinstance(models["CVKAN"][1], CVKAN)


def test_log_magnitude_features_are_cell_means():
    s = torch.randn(2, 6, 10, dtype=torch.complex128)
    f = cs.log_magnitude_features(s, 3, 2, eps=0.0)
    lm = np.log(s.abs().numpy())
    assert f.shape == (2, 6)
    np.testing.assert_allclose(f[:, 0], lm[:, 0:2, 0:5].mean(axis=(1, 2)))
    np.testing.assert_allclose(f[:, 5], lm[:, 4:6, 5:10].mean(axis=(1, 2)))
    with pytest.raises(ValueError):
        cs.log_magnitude_features(s, 7, 2)


def test_config_budgets_and_errors():
    full = cs.config_for("full")
    assert QUICK.n_seeds >= 3 and full.n_seeds >= 5 and full.n_fft == 512
    for bad in (dict(n_seeds=1), dict(hop=1024), dict(epochs=0)):
        with pytest.raises(ValueError):
            dataclasses.replace(QUICK, **bad)


def test_quick_claims_logistic_beats_the_neural_models():
    cfg = dataclasses.replace(QUICK, n_train=160, n_test=80, epochs=2, n_seeds=2)
    res = cs.run(cfg, device="cpu", progress=False)
    acc = {n: np.mean(v) for n, v in res.accuracy.items()}
    assert set(acc) == set(cs.MODELS) | {cs.LOGISTIC}
    assert acc[cs.LOGISTIC] >= 0.9
    assert all(acc[cs.LOGISTIC] > acc[n] for n in cs.MODELS)
    assert all(np.asarray(c).sum() == cfg.n_test * cfg.n_seeds for c in res.confusion.values())
    rows = cs.verdict_rows(res)
    assert [r["verdict"] for r in rows][-1] == "not reproduced"  # CVKAN does not beat the logistic


def test_magnitude_front_end_ignores_the_phases():
    s = precompute_tokens(make_waveforms(3, 1, seed=2).x_train)
    rotated = s * torch.polar(torch.ones(s.shape), 2 * torch.pi * torch.rand(s.shape, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    front = SpectrogramFrontEnd(8, keep_phase=False)
    torch.testing.assert_close(front(rotated), front(s), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(SpectrogramFrontEnd(8)(rotated), SpectrogramFrontEnd(8)(s))
    with pytest.raises(ValueError):
        SpectrogramFrontEnd(8, keep_phase="no")
