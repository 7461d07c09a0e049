"""cvkan.hierarchy: hierarchical polarization, its four variants and the seed's counts (issue 8)."""

from __future__ import annotations

import pytest
import torch

from spectral_manifolds.cvkan.hierarchy import HIERARCHY_VARIANTS, HierarchicalPolarization
from spectral_manifolds.cvkan.layers import double_precision

BLOCK = 57_953  # one block at d = 32, hidden = 128 (tested in test_cvkan_block.py)
HEAD = 130  # the seed's head


def tokens(*shape, seed=0, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def finite(t):
    return bool(torch.isfinite(torch.view_as_real(t) if t.is_complex() else t).all())


def tiny(variant, d=3, n=8, hidden=4, **kw):
    torch.manual_seed(0)
    return double_precision(HierarchicalPolarization(d, n, variant, hidden=hidden, **kw))


def test_seed_parameter_counts_with_ten_allocated_levels():
    shared = HierarchicalPolarization(32, 16, "shared", allocated_levels=10)
    assert shared.n_parameters() == BLOCK and shared.n_parameters() + HEAD == 58_083
    for variant in ("per_level", "magnitude", "top_down"):
        model = HierarchicalPolarization(32, 16, variant, allocated_levels=10)
        assert model.n_parameters() == 10 * BLOCK and model.n_parameters() + HEAD == 579_660
        assert model.max_levels == 4  # log2 16: "only ~4 levels are active"
        assert model.n_used_parameters() == 4 * BLOCK
    assert shared.n_used_parameters() == BLOCK


def test_default_levels_and_schedules():
    for n, levels in [(2, 1), (16, 4), (64, 6)]:
        model = HierarchicalPolarization(2, n, "per_level", hidden=2)
        assert model.max_levels == levels and len(model.blocks) == levels
    assert HierarchicalPolarization(2, 16, "top_down", hidden=2).schedule() == [0, 1, 2, 3, 3, 2, 1, 0]
    assert HierarchicalPolarization(2, 16, "shared", hidden=2, max_levels=2).schedule() == [0, 1]


def test_unused_allocated_blocks_get_no_gradient():
    model = HierarchicalPolarization(3, 8, "per_level", hidden=4, allocated_levels=6)
    model(tokens(2, 8, 3, dtype=torch.complex64)).abs().sum().backward()
    used = [all(p.grad is not None for p in b.parameters()) for b in model.blocks]
    assert used == [True] * 3 + [False] * 3


def test_shared_uses_one_block_at_every_level():
    model = HierarchicalPolarization(3, 8, "shared", hidden=4, allocated_levels=5)
    assert len(model.blocks) == 1
    assert all(model.block_for(level) is model.blocks[0] for level in model.schedule())


@pytest.mark.parametrize("variant", ["per_level", "magnitude"])
def test_level_follows_its_equation(variant):
    model = tiny(variant)
    z = tokens(2, 8, 3, seed=1)
    for level in range(3):
        g = 2 ** (level + 1)
        expected = z.clone()
        for start in range(0, 8, g):
            group = z[:, start : start + g]  # (B, g, d)
            if variant == "magnitude":
                w = group.abs().mean(-1, keepdim=True)
                a = (w * group).sum(1, keepdim=True) / w.sum(1, keepdim=True)
            else:
                a = group.mean(1, keepdim=True)
            expected[:, start : start + g] = group + model.blocks[level].update(a)
        assert torch.allclose(model.level(z, level), expected, atol=1e-12)


@pytest.mark.parametrize("variant", HIERARCHY_VARIANTS)
def test_forward_runs_the_schedule(variant):
    model = tiny(variant)
    z = tokens(2, 8, 3, seed=2)
    expected = z
    for level in model.schedule():
        expected = model.level(expected, level)
    assert torch.allclose(model(z), expected, atol=0, rtol=0)


@pytest.mark.parametrize("variant", HIERARCHY_VARIANTS)
def test_pair_differences_are_preserved_through_every_level(variant):
    """Each level broadcasts within groups of >= 2 consecutive tokens, so z_2k - z_2k+1 is kept."""
    model = tiny(variant)
    z = tokens(2, 8, 3, seed=3)
    out = model(z)
    assert torch.allclose(out[:, 0::2] - out[:, 1::2], z[:, 0::2] - z[:, 1::2], atol=1e-12)
    # tokens 0 and 4 share a group only at the last level: their difference changes
    assert not torch.allclose(out[:, 0] - out[:, 4], z[:, 0] - z[:, 4], atol=1e-3)


def test_one_level_is_local_to_its_groups():
    model = tiny("per_level", max_levels=1)
    z = tokens(1, 8, 3, seed=4)
    moved = z.clone()
    moved[:, 5] *= 4.0
    changed = (model(moved) != model(z)).any(-1)[0]
    assert changed.tolist() == [False] * 4 + [True, True] + [False] * 2


@pytest.mark.parametrize("variant", HIERARCHY_VARIANTS)
def test_shapes_batched_and_unbatched(variant):
    model = HierarchicalPolarization(4, 8, variant, hidden=6)
    z = tokens(3, 8, 4, seed=5, dtype=torch.complex64)
    out = model(z)
    assert out.shape == z.shape and out.dtype == z.dtype
    assert model(z[0]).shape == (8, 4)
    assert torch.allclose(model(z[2]), out[2], atol=1e-5)


@pytest.mark.parametrize("variant", HIERARCHY_VARIANTS)
def test_gradcheck_complex128(variant):
    model = tiny(variant, d=2, n=4, hidden=3)
    z = tokens(1, 4, 2, seed=6).requires_grad_(True)
    assert torch.autograd.gradcheck(model, (z,))


@pytest.mark.parametrize("variant", HIERARCHY_VARIANTS)
def test_all_zero_input_is_finite(variant):
    model = HierarchicalPolarization(3, 8, variant, hidden=4)
    z = torch.zeros(2, 8, 3, dtype=torch.complex64, requires_grad=True)
    out = model(z)
    out.abs().sum().backward()
    assert finite(out) and finite(z.grad)
    assert all(finite(p.grad) for p in model.parameters())


@pytest.mark.parametrize("n", [0, 1, 3, 12, 24])
def test_n_tokens_must_be_a_power_of_two(n):
    with pytest.raises(ValueError, match="n_tokens"):
        HierarchicalPolarization(3, n)


def test_rejects_bad_options_and_input():
    with pytest.raises(ValueError, match="variant"):
        HierarchicalPolarization(3, 8, "bottom_up")
    with pytest.raises(ValueError, match="max_levels"):
        HierarchicalPolarization(3, 8, max_levels=4)  # log2 8 = 3
    with pytest.raises(ValueError, match="allocated_levels"):
        HierarchicalPolarization(3, 8, "per_level", max_levels=3, allocated_levels=2)
    with pytest.raises(ValueError, match="aggregation"):
        HierarchicalPolarization(3, 8, aggregation="attention")
    model = HierarchicalPolarization(3, 8, hidden=4)
    with pytest.raises(ValueError, match="N=8"):
        model(tokens(2, 16, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="complex"):
        model(torch.ones(8, 3))
    with pytest.raises(ValueError, match="must have shape"):
        model(torch.ones(1, 1, 8, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="last axis"):
        model(torch.ones(8, 5, dtype=torch.complex64))
