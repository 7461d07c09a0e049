"""Tests of the spectral losses (src/spectral_manifolds/losses.py) and chapter 5's claims.

Oracles: closed forms (|log c|, 1 - cos of a known phase shift, entropy 0 and 1), an
independent numpy re-derivation of the seeds' loss (direct convolution), and exact minimizers.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds.experiments import amplitude_squashing
from spectral_manifolds.fractional import naive_weights, power_law_weights
from spectral_manifolds.losses import (
    SEED_GAMMAS,
    as_batched,
    fractional_fidelity_loss,
    fractional_fidelity_terms,
    fractional_kernel,
    log_magnitude_loss,
    phase_consistency_loss,
    phase_loss_angle,
    seed_fidelity_loss,
    seed_total_loss,
    spectral_entropy,
    spectral_loss,
)

def broadband(seed: int, shape=(2, 96, 3)) -> np.ndarray:
    """White noise from its own seeded generator (every test draws its own: order-free under xdist)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


X = broadband(0)  # broadband: no silent bins; module constants are never mutated
Y = broadband(1)


def on_bin(T=64, k=4, shift=0.0, channels=1):
    t = np.arange(T)
    return np.repeat(np.sin(2 * np.pi * k * t / T + shift)[:, None], channels, axis=1).astype(np.float32)


# --------------------------------------------------------------------- the seeds' loss, independent oracle
def _numpy_seed_fidelity(pred, target, gammas=SEED_GAMMAS, kernel_size=128, eps=1e-8):
    """The §12-14 loss written from its description (DESIGN.md, losses.py docstring) in
    plain numpy/scipy, with a *direct* linear convolution (np.convolve), not an FFT one.

    Kernel: lag l = 0..K-1 weighted (K - l)^(-g) / Gamma(1 - g); spectra of the full
    linear convolution (length T + K - 1); per gamma mean |log(|P|+eps) - log(|Y|+eps)|
    + mean(1 - cos(angle P - angle Y)); averaged over gamma.
    """
    from scipy.special import gamma as gamma_fn

    total = 0.0
    for g in gammas:
        lags = np.arange(kernel_size)
        kernel = (kernel_size - lags) ** (-g) / gamma_fn(1 - g)
        conv = lambda x: np.apply_along_axis(lambda s: np.convolve(s, kernel), 1, x.astype(np.float64))
        P, Y = np.fft.rfft(conv(pred), axis=1), np.fft.rfft(conv(target), axis=1)
        mag = np.mean(np.abs(np.log(np.abs(P) + eps) - np.log(np.abs(Y) + eps)))
        phase = np.mean(1.0 - np.cos(np.angle(P) - np.angle(Y)))
        total += mag + phase
    return total / len(gammas)


def _numpy_power_entropy(z, eps=1e-8):
    """Unnormalized power-based spectral entropy over time, averaged over batch and dims."""
    power = np.abs(np.fft.rfft(z.astype(np.float64), axis=1)) ** 2
    p = power / (power.sum(axis=1, keepdims=True) + eps)
    return float(np.mean(-np.sum(p * np.log(p + eps), axis=1)))


def test_seed_fidelity_matches_an_independent_direct_convolution():
    ours, ref = float(seed_fidelity_loss(X, Y)), _numpy_seed_fidelity(X, Y)
    assert ours == pytest.approx(ref, rel=2e-4)


def test_seed_total_loss_adds_five_hundredths_of_the_entropy():
    z = broadband(2, (2, 96, 21))
    ref = _numpy_seed_fidelity(X, Y) + 0.05 * _numpy_power_entropy(z)
    assert float(seed_total_loss(X, Y, z)) == pytest.approx(ref, rel=2e-4)


# --------------------------------------------------------------------- log-magnitude
@settings(max_examples=15, deadline=None)
@given(c=st.floats(1e-3, 1e3), batched=st.booleans())
def test_log_magnitude_of_a_rescaled_copy_is_log_c(c, batched):
    x = X if batched else X[0]
    assert float(log_magnitude_loss(c * x, x)) == pytest.approx(abs(math.log(c)), abs=2e-4)
    assert float(log_magnitude_loss(-c * x, x)) == pytest.approx(abs(math.log(c)), abs=2e-4)  # sign is a phase


def test_unbatched_equals_batch_of_one():
    for fn in (log_magnitude_loss, phase_consistency_loss, spectral_loss, seed_fidelity_loss):
        assert float(fn(X[0], Y[0])) == pytest.approx(float(fn(X[:1], Y[:1])), rel=1e-6)
    assert float(spectral_entropy(X[0])) == pytest.approx(float(spectral_entropy(X[:1])), rel=1e-6)


def test_relative_floor_ignores_round_off_bins():
    """A time shift leaves on-bin magnitudes equal; only float32 round-off bins differ."""
    a, b = on_bin(shift=0.0), on_bin(shift=1.0)
    assert float(log_magnitude_loss(b, a, mag_floor=1e-3)) < 1e-4
    # the mean runs over all 33 bins; above the floor sits the one line: log 2 / 33
    assert float(log_magnitude_loss(2 * a, a, mag_floor=1e-3)) == pytest.approx(math.log(2) / 33, abs=1e-4)


# --------------------------------------------------------------------- phase
@pytest.mark.parametrize("delta", [0.0, 0.3, 1.0, 2.5, 3.1, -3.1, 2 * math.pi - 0.3])
def test_on_bin_phase_shift_gives_one_minus_cos(delta):
    y = on_bin()
    p = on_bin(shift=delta)
    expected = 1 - math.cos(delta)  # wrap-safe: 2 pi - 0.3 scores like -0.3
    assert float(phase_consistency_loss(p, y)) == pytest.approx(expected, abs=1e-4)
    assert float(phase_consistency_loss(p, y)) == pytest.approx(float(phase_consistency_loss(on_bin(shift=-delta), y)), abs=1e-4)


def test_magnitude_weighted_phase_ignores_scale():
    ref = float(phase_consistency_loss(X, Y))
    for c in (0.5, 2.0, 30.0):  # exact while |P_f| >> the floor
        assert float(phase_consistency_loss(c * X, Y)) == pytest.approx(ref, abs=1e-4)
    assert float(phase_consistency_loss(1e-2 * X, Y)) == pytest.approx(ref, abs=2e-2)


def test_phase_blindness_circle_versus_line():
    """Seed 001, §9: the circle (sin, cos) and the line (sin, sin) share magnitude spectra."""
    t = np.arange(64)
    th = 2 * np.pi * 4 * t / 64
    circle = np.stack([np.sin(th), np.cos(th)], 1).astype(np.float32)
    line = np.stack([np.sin(th), np.sin(th)], 1).astype(np.float32)
    assert float(log_magnitude_loss(line, circle, mag_floor=1e-3)) < 1e-5
    assert float(phase_consistency_loss(line, circle)) == pytest.approx(0.5, abs=1e-4)  # channel 2 off by pi/2
    assert float(phase_consistency_loss(circle, circle)) < 1e-5


def test_phase_of_all_zero_target_is_zero_and_silent_prediction_is_chance():
    y = on_bin()
    assert float(phase_consistency_loss(X[0, :64, :1], np.zeros_like(y))) == 0.0
    assert float(phase_consistency_loss(np.zeros_like(y), y)) == pytest.approx(1.0, abs=1e-6)


# --------------------------------------------------------------------- gradients at silent bins
def _grad_norm(fn, pred, target):
    g = jax.jit(jax.grad(fn))(jnp.asarray(pred), jnp.asarray(target))
    return float(jnp.linalg.norm(g)), bool(jnp.all(jnp.isfinite(g)))


LOSSES = {
    "log_magnitude": log_magnitude_loss,
    "phase_magnitude": phase_consistency_loss,
    "phase_uniform": lambda p, y: phase_consistency_loss(p, y, weighting="uniform"),
    "spectral": spectral_loss,
    "seed_fidelity": seed_fidelity_loss,
    "fidelity_product_weighted": lambda p, y: fractional_fidelity_loss(p, y, kernel="product", weighting="magnitude"),
    "seed_total": lambda p, y: seed_total_loss(p, y, p),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_finite_gradients_at_silent_bins(name):
    value_and_grad = jax.jit(jax.value_and_grad(LOSSES[name]))  # one compile for all pairs
    zero, sine = np.zeros((64, 2), np.float32), on_bin(channels=2)
    for pred, target in ((zero, sine), (sine, zero), (zero, zero), (sine, sine), (sine, on_bin(shift=0.5, channels=2))):
        value, grad = value_and_grad(jnp.asarray(pred), jnp.asarray(target))
        assert bool(jnp.isfinite(value)) and bool(jnp.all(jnp.isfinite(grad))), (name, pred.max(), target.max())


@pytest.mark.parametrize("kind", ["power", "magnitude"])
def test_entropy_gradients_finite_at_silent_latents(kind):
    grad = jax.jit(jax.grad(lambda z_: spectral_entropy(z_, kind=kind)))
    for z in (np.zeros((32, 3), np.float32), on_bin(T=32, channels=3), np.ones((32, 3), np.float32)):
        g = grad(jnp.asarray(z))
        assert bool(jnp.all(jnp.isfinite(g)))
        assert bool(jnp.isfinite(spectral_entropy(z, kind=kind)))


def test_weighted_phase_gradient_stays_bounded_where_uniform_blows_up():
    y = on_bin()
    noise = X[0, :64, :1]
    grad_w = jax.jit(jax.grad(phase_consistency_loss))
    grad_u = jax.jit(jax.grad(lambda p, t: phase_consistency_loss(p, t, weighting="uniform")))
    weighted, uniform = [], []
    for scale in (1e-1, 1e-3, 1e-5):
        weighted.append(float(jnp.linalg.norm(grad_w(scale * noise, y))))
        uniform.append(float(jnp.linalg.norm(grad_u(scale * noise, y))))
    assert uniform[-1] > 1e3 * uniform[0]  # grows like 1 / scale
    assert max(weighted) < 1e2 * weighted[0]  # capped by the floor
    # the seeds' literal jnp.angle form has a NaN gradient at an exactly zero bin
    assert not _grad_norm(phase_loss_angle, np.zeros_like(y), y)[1]


# --------------------------------------------------------------------- entropy
def test_entropy_of_on_bin_sine_is_zero_and_flat_spectrum_is_one():
    sine = on_bin(T=128, k=5, channels=2)
    assert float(spectral_entropy(sine, kind="power")) < 1e-6
    assert float(spectral_entropy(sine, kind="magnitude")) < 1e-2
    impulse = np.zeros((128, 2), np.float32)
    impulse[0] = 1.0  # |Z_f| = 1 at every bin
    for kind in ("power", "magnitude"):
        assert float(spectral_entropy(impulse, kind=kind)) == pytest.approx(1.0, abs=1e-5)
        assert float(spectral_entropy(impulse, kind=kind, normalize=False)) == pytest.approx(math.log(65), rel=1e-5)
    assert float(spectral_entropy(np.zeros((128, 2), np.float32))) == 0.0


def test_entropy_is_scale_invariant_and_ordered():
    noisy = on_bin(T=128, k=5) + 0.1 * broadband(3, (128, 1))
    for kind in ("power", "magnitude"):
        h = float(spectral_entropy(noisy, kind=kind))
        assert float(spectral_entropy(1e-3 * noisy, kind=kind)) == pytest.approx(h, abs=1e-5)
        assert 0.0 < h < 1.0
    # a noise floor counts for more under magnitudes than under powers
    assert float(spectral_entropy(noisy, kind="magnitude")) > float(spectral_entropy(noisy, kind="power"))


# --------------------------------------------------------------------- the fractional bank
def test_fractional_kernels():
    np.testing.assert_allclose(fractional_kernel(0.3, 16, "seed"), np.asarray(naive_weights(16, 0.3))[::-1])
    np.testing.assert_allclose(fractional_kernel(0.3, 16, "naive")[1:], naive_weights(16, 0.3))
    np.testing.assert_allclose(fractional_kernel(0.3, 16, "product")[1:], power_law_weights(16, 0.3))
    assert float(fractional_kernel(0.3, 16, "product")[0]) == 0.0


@pytest.mark.parametrize("kernel", ["seed", "naive", "product"])
def test_bank_kernels_cancel(kernel):
    """Pred and target share the filter: every gamma gives the kernel-free loss on padded spectra."""
    terms = fractional_fidelity_terms(X, Y, kernel=kernel)
    n = X.shape[1] + fractional_kernel(0.5, 128, kernel).shape[0] - 1
    plain_mag = float(log_magnitude_loss(X, Y, n_fft=n))
    plain_phase = float(phase_consistency_loss(X, Y, n_fft=n, weighting="uniform"))
    np.testing.assert_allclose(terms["magnitude"], plain_mag, rtol=1e-4)
    np.testing.assert_allclose(terms["phase"], plain_phase, rtol=1e-4)


# --------------------------------------------------------------------- validation
def test_shape_validation():
    with pytest.raises(ValueError, match=r"\(B, T, C\) or \(T, C\)"):
        as_batched(np.ones(5))
    with pytest.raises(ValueError, match=r"\(B, T, C\) or \(T, C\)"):
        log_magnitude_loss(np.ones((1, 2, 3, 4)), np.ones((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="same shape"):
        spectral_loss(np.ones((8, 2)), np.ones((8, 3)))
    with pytest.raises(ValueError, match="time step"):
        as_batched(np.ones((2, 0, 3)))


def test_option_validation():
    with pytest.raises(ValueError):
        phase_consistency_loss(X, Y, weighting="energy")
    with pytest.raises(ValueError):
        fractional_kernel(0.5, 8, "reversed")
    with pytest.raises(ValueError):
        fractional_kernel(1.0, 8, "seed")
    with pytest.raises(ValueError):
        spectral_entropy(X, kind="log")
    with pytest.raises(ValueError):
        fractional_fidelity_terms(X, Y, gammas=())
    with pytest.raises(ValueError):
        spectral_entropy(np.ones((1, 3)))


# --------------------------------------------------------------------- amplitude squashing
def test_squashing_mse_shrinks_log_magnitude_keeps_from_either_side():
    """Started below (0.2) and above (3) the true amplitude 1, for 3 phase-noise seeds."""
    cfg = amplitude_squashing.SquashConfig(
        sigmas=(0.0, 1.0, 2.0), n_targets=16, T=64, steps=300, a_inits=(0.2, 3.0), seeds=(0, 1, 2),
        losses=("mse", "log_magnitude"),
    )
    res = amplitude_squashing.run(cfg)
    mse, logmag = np.asarray(res.fitted["mse"]), np.asarray(res.fitted["log_magnitude"])  # (seeds, inits, sigmas)
    assert mse.shape == logmag.shape == (3, 2, 3)
    opt = np.asarray(res.mse_optimum)[:, None, :]  # (seeds, 1, sigmas): the exact quadratic minimizer
    np.testing.assert_allclose(mse, np.broadcast_to(opt, mse.shape), atol=0.02)
    np.testing.assert_allclose(logmag, 1.0, atol=0.01)
    np.testing.assert_allclose(mse[:, :, 0], 1.0, atol=0.01)  # no phase uncertainty, no squashing
    assert np.all(mse[:, :, 2] < 0.4)  # about exp(-2) under sigma = 2
    assert np.asarray(res.histories["mse"]).shape == (3, 2, 3, cfg.steps)
    verdict = amplitude_squashing.verdicts(res)
    assert set(verdict) == {"log_magnitude"} and all(c.verdict == "reproduced" for c in verdict["log_magnitude"].values())


@pytest.mark.parametrize("kwargs", [dict(sigmas=()), dict(sigmas=(-1.0,)), dict(T=2), dict(losses=("l1",)), dict(lr=0.0),
                                    dict(a_inits=()), dict(a_inits=(0.0,)), dict(seeds=())])
def test_squash_config_validation(kwargs):
    with pytest.raises(ValueError):
        amplitude_squashing.SquashConfig(**kwargs)


# --------------------------------------------------------------------- magnitude-weighted log-magnitude
def test_magnitude_weighted_log_magnitude_of_rescaled_copy():
    for c in (0.1, 0.5, 3.0):
        assert float(log_magnitude_loss(c * X, X, weighting="magnitude")) == pytest.approx(abs(math.log(c)), abs=2e-4)
    for c in (0.5, 3.0):  # the floors bend it only for bins near -60 dB
        assert float(spectral_loss(c * X, X)) == pytest.approx(abs(math.log(c)), abs=5e-3)


def test_floor_alone_makes_silence_cheap_magnitude_weights_restore_order():
    """A clean on-bin target: silence vs a noisy copy under the floored losses."""
    target = np.concatenate([on_bin(T=128, k=3), 0.5 * on_bin(T=128, k=7)], axis=1)
    noisy = target + 0.05 * broadband(4, target.shape)
    zeros = np.zeros_like(target)
    uniform = lambda p: float(spectral_loss(p, target, weighting="uniform"))  # noqa: E731
    weighted = lambda p: float(spectral_loss(p, target))  # noqa: E731
    assert uniform(zeros) < uniform(noisy)  # the loophole: silence beats a nearly right guess
    assert weighted(zeros) > weighted(noisy)  # repaired
    assert float(seed_fidelity_loss(zeros, target)) > float(seed_fidelity_loss(noisy, target))


# --------------------------------------------------------------------- repairs of issue 7
def _inflatable(T=128):
    """A target of three lines; a prediction with its first line right and the other two at wrong bins."""
    t = np.arange(T)
    line = lambda k, a=1.0: (a * np.sin(2 * np.pi * k * t / T))[:, None].astype(np.float32)  # noqa: E731
    target = line(3) + line(7, 0.5) + line(11, 0.25)
    return jnp.asarray(target), jnp.asarray(line(3)), jnp.asarray(line(9, 0.5) + line(13, 0.25))


@pytest.mark.parametrize("loss", ["log_magnitude", "spectral"])
def test_weights_carry_no_gradient_inflating_a_matched_line_is_pushed_back(loss):
    """With other bins wrong, inflating the one matched line lowers the re-weighted *value*
    (the weights re-normalize); the gradient, which sees the weights frozen, points back."""
    fn = {"log_magnitude": lambda p, y: log_magnitude_loss(p, y, weighting="magnitude", mag_floor=1e-3),
          "spectral": spectral_loss}[loss]
    target, matched, wrong = _inflatable()
    value = lambda c: fn(c * matched + wrong, target)  # noqa: E731
    assert float(value(1.5)) < float(value(1.0))  # the value still dips: documented in chapter 5
    for c in (1.1, 1.5, 2.0):
        assert float(jax.grad(value)(c)) > 0  # d loss / d c > 0: a gradient step shrinks c back towards 1
    for c in (0.5, 0.8):
        assert float(jax.grad(value)(c)) < 0  # and grows a deflated line back


def test_perfect_prediction_scores_exactly_zero():
    target, matched, wrong = _inflatable()
    for y in (target, jnp.asarray(X), jnp.asarray(on_bin(channels=2))):
        assert abs(float(phase_consistency_loss(y, y))) < 1e-6  # was 4e-4 with the sqrt(|.|^2 + d^2) softening
        assert abs(float(phase_consistency_loss(y, y, weighting="uniform"))) < 1e-6
        assert abs(float(spectral_loss(y, y))) < 1e-6


def test_both_silent_bins_agree_in_the_uniform_phase():
    zeros = np.zeros((64, 2), np.float32)
    assert float(phase_consistency_loss(zeros, zeros, weighting="uniform")) == 0.0  # was 1: 'chance' on silence
    # silent where the target is not: chance (1) on those bins
    y = broadband(5, (64, 1))
    assert float(phase_consistency_loss(np.zeros_like(y), y, weighting="uniform")) == pytest.approx(1.0, abs=1e-6)


def test_magnitude_weighted_log_magnitude_grows_with_a_line_the_target_lacks():
    """Issue 7, §4: energy where the target has none counts by its size."""
    target = np.concatenate([on_bin(T=128, k=3), 0.5 * on_bin(T=128, k=7)], axis=1)
    spurious = np.repeat(on_bin(T=128, k=20), 2, axis=1)
    values = [float(log_magnitude_loss(target + a * spurious, target, weighting="magnitude", mag_floor=1e-3))
              for a in (0.0, 0.01, 0.05, 0.2, 0.5, 1.0, 2.0)]
    assert values[0] < 1e-4
    assert all(b > a for a, b in zip(values, values[1:])), values


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), sparsity=st.floats(0.0, 0.95), spread=st.floats(0.0, 6.0))
def test_magnitude_entropy_is_at_least_power_entropy(seed, sparsity, spread):
    """Theorem (chapter 5): p ~ |Z|^2 is the escort of q ~ |Z|; H(q^b / sum q^b) falls with b."""
    rng = np.random.default_rng(seed)
    T = 64
    mags = np.exp(spread * rng.standard_normal(T // 2 + 1)) * (rng.random(T // 2 + 1) > sparsity)
    mags[0] = mags[0] + 1e-3  # never all zero
    spec = mags * np.exp(2j * np.pi * rng.random(mags.size))
    spec[0], spec[-1] = spec[0].real, spec[-1].real
    z = np.fft.irfft(spec, n=T)[:, None].astype(np.float32)
    h_mag = float(spectral_entropy(z, kind="magnitude"))
    h_pow = float(spectral_entropy(z, kind="power"))
    assert h_mag >= h_pow - 1e-5, (h_mag, h_pow)


def test_bank_cancels_only_under_its_conditions():
    """Full convolution + uniform weights: every gamma gives one number. A truncated causal
    convolution or magnitude weights: the kernel's spectrum no longer cancels."""
    full = np.asarray(fractional_fidelity_terms(X, Y)["magnitude"])
    causal = np.asarray(fractional_fidelity_terms(X, Y, convolution="causal")["magnitude"])
    weighted = np.asarray(fractional_fidelity_terms(X, Y, weighting="magnitude", mag_floor=1e-3)["magnitude"])
    spread = lambda v: float(np.ptp(v) / np.mean(v))  # noqa: E731
    assert spread(full) < 1e-4
    assert spread(causal) > 1e-2 and spread(weighted) > 1e-2
    # oracle for the causal term: numpy's direct convolution, first T outputs, length-T spectra
    from scipy.special import gamma as gamma_fn

    T, K = X.shape[1], 128
    for i, g in enumerate(SEED_GAMMAS):
        kernel = (K - np.arange(K)) ** (-g) / gamma_fn(1 - g)
        conv = lambda x: np.apply_along_axis(lambda v: np.convolve(v, kernel)[:T], 1, x.astype(np.float64))  # noqa: E731
        P, Q = np.fft.rfft(conv(X), axis=1), np.fft.rfft(conv(Y), axis=1)
        ref = np.mean(np.abs(np.log(np.abs(P) + 1e-8) - np.log(np.abs(Q) + 1e-8)))
        assert causal[i] == pytest.approx(ref, rel=2e-4)
    with pytest.raises(ValueError):
        fractional_fidelity_terms(X, Y, convolution="circular")
