"""Tests for spectral_manifolds.data.gaps: gap masks and the linear-interpolation floor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_manifolds.data import gaps, oscillators
from spectral_manifolds.data.gaps import gap_mask, linear_fill, random_gaps


def test_oscillators_reexports_the_gap_functions():
    for name in gaps.__all__:
        assert getattr(oscillators, name) is getattr(gaps, name)
        assert name in oscillators.__all__


def test_gap_mask_marks_exactly_the_gap():
    m = gap_mask(10, 3, 4)
    assert m.dtype == bool and m.shape == (10,)
    assert m.tolist() == [False] * 3 + [True] * 4 + [False] * 3
    assert gap_mask(10, 1, 9).sum() == 9  # a gap may run to the end
    assert not gap_mask(10, 5, 0).any()  # zero-length gap: defined, nothing to impute


@pytest.mark.parametrize("args", [(10, 0, 3), (10, 8, 3), (10, 2, -1), (0, 1, 1), (10, 1, 10)])
def test_gap_mask_rejects_invalid(args):
    with pytest.raises(ValueError):
        gap_mask(*args)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 6),
    seq_len=st.integers(2, 40),
    data=st.data(),
)
def test_random_gaps_properties(n, seq_len, data):
    min_context = data.draw(st.integers(1, seq_len))
    lengths = data.draw(st.lists(st.integers(0, seq_len - min_context), min_size=n, max_size=n))
    m = random_gaps(n, seq_len, lengths, min_context=min_context, seed=data.draw(st.integers(0, 99)))
    assert m.shape == (n, seq_len) and m.dtype == bool
    np.testing.assert_array_equal(m.sum(axis=1), lengths)
    assert not m[:, :min_context].any()
    for row, g in zip(m, lengths):
        if g:  # contiguous: exactly one rising edge
            idx = np.flatnonzero(row)
            assert idx[-1] - idx[0] + 1 == g


def test_random_gaps_rejects_invalid():
    with pytest.raises(ValueError):
        random_gaps(3, 10, 10)  # no room for context
    with pytest.raises(ValueError):
        random_gaps(3, 10, [1, 2])  # wrong count
    with pytest.raises(ValueError):
        random_gaps(3, 10, -1)
    np.testing.assert_array_equal(random_gaps(4, 10, 3, seed=5), random_gaps(4, 10, 3, seed=5))


def test_linear_fill_is_exact_on_lines_and_keeps_observed():
    t = np.arange(20, dtype=np.float32)
    x = np.stack([2 * t + 1, -t], axis=1)  # (T, 2) straight lines
    mask = gap_mask(20, 5, 8)
    corrupted = x.copy()
    corrupted[mask] = 1e6  # values under the mask are ignored
    np.testing.assert_allclose(linear_fill(corrupted, mask), x, atol=1e-4)
    # batched, with a gap reaching the end: holds the last observed value
    xb = np.stack([x, x])
    mb = np.stack([gap_mask(20, 5, 3), gap_mask(20, 15, 5)])
    out = linear_fill(xb, mb)
    np.testing.assert_allclose(out[0], x, atol=1e-4)
    np.testing.assert_allclose(out[1, 15:], np.broadcast_to(x[14], (5, 2)))
    np.testing.assert_array_equal(out[1, :15], x[:15])
    # no gap: unchanged
    np.testing.assert_array_equal(linear_fill(x, np.zeros(20, bool)), x)


def test_linear_fill_rejects_bad_input():
    x = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError):
        linear_fill(x, np.ones(5, bool))  # nothing observed
    with pytest.raises(ValueError):
        linear_fill(np.zeros(5), np.zeros(5, bool))  # wrong rank
    with pytest.raises(ValueError):
        linear_fill(x, np.zeros(4, bool))  # shape mismatch
