"""data.domains: the offline real data sets of chapter 15, checked against their sources
(scikit-learn, aeon, numpy oracles) and for their documented shapes and errors."""

import numpy as np
import pytest

from spectral_manifolds.data import domains as dm


@pytest.fixture(scope="module")
def digits():
    return dm.load_digits_tokens()


def test_digits_shapes_split_and_range(digits):
    x_tr, y_tr, x_te, y_te = digits
    assert x_tr.shape == (1347, 16, 4) and x_te.shape == (450, 16, 4)
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert 0.0 <= x_tr.min() and x_tr.max() <= 1.0
    assert set(y_tr.tolist()) == set(range(10)) == set(y_te.tolist())
    # stratified: every class holds about a quarter of its images in the test split
    counts_tr, counts_te = np.bincount(y_tr), np.bincount(y_te)
    assert np.all(np.abs(counts_te / (counts_tr + counts_te) - 0.25) < 0.02)


def test_digits_split_is_fixed_and_disjoint(digits):
    from sklearn.datasets import load_digits

    again = dm.load_digits_tokens()
    for a, b in zip(digits, again):
        np.testing.assert_array_equal(a, b)
    flat = (load_digits().images / 16.0).reshape(-1, 64).astype(np.float32)
    # every token array (patch = 1: 64 tokens of one pixel) is an image of the data set,
    # and no image (as bytes; duplicate images count once) is in both splits
    train1, _, test1, _ = dm.load_digits_tokens(1)
    assert train1.shape == (1347, 64, 1)
    rows = {r.tobytes(): i for i, r in enumerate(flat)}
    i_tr = {rows[r.ravel().tobytes()] for r in train1}
    i_te = {rows[r.ravel().tobytes()] for r in test1}
    assert len(i_tr) + len(i_te) == len(set(rows.values())) and not (i_tr & i_te)


@pytest.mark.parametrize("patch", [1, 2, 4, 8])
def test_patches_tile_the_image_in_reading_order(patch, digits):
    from sklearn.datasets import load_digits

    x_tr, *_ = dm.load_digits_tokens(patch)
    g = 8 // patch
    assert x_tr.shape[1:] == (g * g, patch * patch)
    img1 = dm.load_digits_tokens(1)[0][:5, :, 0].reshape(5, 8, 8)  # pixels in reading order
    for t in range(g * g):
        r, c = divmod(t, g)
        block = img1[:, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch].reshape(5, -1)
        np.testing.assert_array_equal(x_tr[:5, t], block)
    assert load_digits().images.shape == (1797, 8, 8)


@pytest.mark.parametrize("bad", [3, 0, 16, 2.0, True, "2"])
def test_digits_rejects_bad_patch(bad):
    with pytest.raises(ValueError, match="patch"):
        dm.load_digits_tokens(bad)
    with pytest.raises(ValueError, match="test_fraction"):
        dm.load_digits_tokens(2, test_fraction=1.0)


def test_resample_is_exact_on_a_linear_ramp_and_keeps_the_ends():
    t = np.linspace(0, 1, 11)
    s = np.stack([3 * t + 1, -t])  # (C=2, T=11)
    out = dm.resample(s, 7)
    np.testing.assert_allclose(out, np.stack([3 * np.linspace(0, 1, 7) + 1, -np.linspace(0, 1, 7)], 1), atol=1e-12)
    wiggly = np.random.default_rng(0).normal(size=(3, 9))
    r = dm.resample(wiggly, 20)
    np.testing.assert_allclose(r[0], wiggly[:, 0]) and np.testing.assert_allclose(r[-1], wiggly[:, -1])
    np.testing.assert_allclose(dm.resample(wiggly, 9), wiggly.T)  # same grid: unchanged
    assert dm.resample(np.ones((2, 1)), 4).shape == (4, 2)
    with pytest.raises(ValueError):
        dm.resample(np.ones(5), 4)
    with pytest.raises(ValueError):
        dm.resample(np.ones((2, 5)), 0)


def test_japanese_vowels_keeps_aeons_split_and_standardizes_with_training_statistics():
    from aeon.datasets import load_japanese_vowels

    x_tr, y_tr, x_te, y_te = dm.load_japanese_vowels(length=16)
    assert x_tr.shape == (270, 16, 12) and x_te.shape == (370, 16, 12)
    assert set(y_tr.tolist()) == set(range(9)) and y_te.max() == 8
    np.testing.assert_allclose(x_tr.mean((0, 1)), 0, atol=1e-5)
    np.testing.assert_allclose(x_tr.std((0, 1)), 1, atol=1e-4)
    raw, labels = load_japanese_vowels(split="train")
    np.testing.assert_array_equal(y_tr, labels.astype(int) - 1)  # classes '1'..'9' in order
    # undo the standardization with the training statistics of the resampled data
    res = np.stack([dm.resample(r, 16) for r in raw])
    mu, sd = res.mean((0, 1)), res.std((0, 1))
    np.testing.assert_allclose(x_tr * sd + mu, res, atol=1e-4)
    assert dm.load_japanese_vowels(length=8)[0].shape == (270, 8, 12)


def test_basic_motions_as_documented():
    from aeon.datasets import load_basic_motions

    x_tr, y_tr, x_te, y_te = dm.load_basic_motions()
    assert x_tr.shape == (40, 100, 6) and x_te.shape == (40, 100, 6)
    assert np.bincount(y_tr).tolist() == [10] * 4 == np.bincount(y_te).tolist()
    raw, _ = load_basic_motions(split="test")
    tr_raw, _ = load_basic_motions(split="train")
    mu, sd = tr_raw.mean((0, 2)), tr_raw.std((0, 2))
    np.testing.assert_allclose(x_te, ((raw.transpose(0, 2, 1) - mu) / sd), atol=1e-4)


def test_summary_features_match_numpy():
    x = np.random.default_rng(1).normal(size=(4, 9, 3))
    f = dm.summary_features(x)
    assert f.shape == (4, 15)
    slope = np.array([[np.polyfit(np.arange(9), x[n, :, c], 1)[0] for c in range(3)] for n in range(4)])
    np.testing.assert_allclose(f[:, 12:], slope, atol=1e-12)
    np.testing.assert_allclose(f[:, :3], x.mean(1)) and np.testing.assert_allclose(f[:, 9:12], x.max(1))
    assert dm.flatten(x).shape == (4, 27)
    with pytest.raises(ValueError):
        dm.summary_features(x[:, :1])
    with pytest.raises(ValueError):
        dm.flatten(x[0])


def test_series_have_no_gaps_and_their_documented_sizes():
    sizes = {"sunspots": (2820, 132), "co2": (2284, 52), "airline": (144, 12)}
    for name, (n, season) in sizes.items():
        s = dm.load_series(name)
        assert s.values.shape == (n,) and s.season == season and np.all(np.isfinite(s.values))
    from spectral_manifolds.data import real_series

    raw = real_series.load_co2().values
    filled = dm.load_series("co2")
    assert filled.n_filled == 59
    gaps = np.flatnonzero(np.isnan(raw))
    np.testing.assert_array_equal(filled.values[~np.isnan(raw)], raw[~np.isnan(raw)])
    for i in gaps:  # linear fill lies between the nearest observed neighbours
        lo = raw[:i][~np.isnan(raw[:i])][-1]
        hi = raw[i:][~np.isnan(raw[i:])][0]
        assert min(lo, hi) - 1e-9 <= filled.values[i] <= max(lo, hi) + 1e-9
    with pytest.raises(ValueError, match="name"):
        dm.load_series("etth1")
