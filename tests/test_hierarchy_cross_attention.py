"""hierarchy.cross_attention: §7.3 topology masks, §7.2 low-passed matching, a naive oracle,
equality with the seed's all-tokens attention, symmetries, and the N^2 vs N^4 cost."""

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from spectral_manifolds.experiments.hierarchy_cost import METHODS, cost_table, growth_exponents
from spectral_manifolds.hierarchy.bands import lowpass, radius
from spectral_manifolds.hierarchy.cross_attention import (
    ALL_TOPOLOGIES, ATTENTION_MODES, TOPOLOGIES, CrossManifoldAttention, SeedCrossAttention, score_entries, seed_score_entries,
    topology_mask,
)

CASES = [(t, m) for t in ALL_TOPOLOGIES for m in ATTENTION_MODES]


def _x(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _module(topology="hierarchical", mode="position", bands=3, channels=4, heads=2, pool=2, seed=0, **kw):
    torch.manual_seed(seed)
    m = CrossManifoldAttention(bands, channels, topology, mode=mode, heads=heads, pool=pool, **kw).double()
    if isinstance(m.norm, torch.nn.LayerNorm):  # non-trivial affine LayerNorm, so the oracle checks it
        with torch.no_grad():
            m.norm.weight.copy_(1 + 0.3 * _x(channels, seed + 1))
            m.norm.bias.copy_(0.3 * _x(channels, seed + 2))
    return m


# ----------------------------------------------------------------------------- topology masks
def test_topology_masks_as_defined():
    for m in (1, 2, 3, 4, 5):
        full, hier, star = (topology_mask(t, m) for t in ("full", "hierarchical", "star"))
        assert full.all()
        for i in range(m):
            for j in range(m):
                assert hier[i, j] == (abs(i - j) <= 1)
                assert star[i, j] == (i == j or i == m // 2 or j == m // 2)
        for a in (full, hier, star):
            assert a.diagonal().all() and torch.equal(a, a.T)
    # §7.3's options A and C are one graph for three bands, different from four on
    assert torch.equal(topology_mask("hierarchical", 3), topology_mask("star", 3))
    assert torch.equal(topology_mask("self", 4), torch.eye(4, dtype=torch.bool))  # the control: no exchange
    assert not torch.equal(topology_mask("hierarchical", 4), topology_mask("star", 4))
    assert topology_mask("star", 4, hub=1)[1].all() and not topology_mask("star", 4, hub=1)[0, 2]


@pytest.mark.parametrize("topology,mode", CASES)
def test_unseen_bands_do_not_reach_a_band(topology, mode):
    m = _module(topology, mode, bands=4)
    x = _x((2, 4, 4, 8, 8))
    y = m(x)
    mask = topology_mask(topology, 4)
    for j in range(4):
        xp = x.clone()
        xp[:, j] += 3 * _x((2, 4, 8, 8), seed=10 + j)
        yp = m(xp)
        for i in range(4):
            if i == j:
                continue
            same = torch.allclose(yp[:, i], y[:, i], atol=1e-12, rtol=0)
            assert same == (not bool(mask[i, j])), (topology, mode, i, j)


@pytest.mark.parametrize("topology,mode", CASES)
def test_band_weights_respect_the_mask_and_sum_to_one(topology, mode):
    m = _module(topology, mode, bands=4)
    m(_x((2, 4, 4, 8, 8)))
    w, mask = m.last_band_weights, topology_mask(topology, 4)
    assert torch.allclose(w.sum(1), torch.ones(4, dtype=w.dtype))
    assert (w[~mask] == 0).all() and (w[mask] > 0).all()


# ----------------------------------------------------------------------------- naive oracle
def _oracle(m, x):
    """Plain loops over batch, band, pixel and head: §7.2 with Q and K low-passed after projection."""
    B, M, C, n, _ = x.shape
    h, dh = m.heads, C // m.heads
    mask = topology_mask(m.topology, M)
    out = x.clone()
    for b in range(B):
        maps = {}
        for i in range(M):
            xi = x[b, i]  # (C, n, n)
            if isinstance(m.norm, torch.nn.LayerNorm):
                mu = xi.mean(0, keepdim=True)
                var = ((xi - mu) ** 2).mean(0, keepdim=True)
                xi = (xi - mu) / torch.sqrt(var + m.norm.eps) * m.norm.weight[:, None, None] + m.norm.bias[:, None, None]
            for name, w, bias in (("q", m.w_q, m.b_q), ("k", m.w_k, m.b_k), ("v", m.w_v, m.b_v)):
                f = torch.einsum("dc,cyx->dyx", w[i], xi) + bias[i][:, None, None]
                if name != "v" and m.cutoff is not None:
                    f = torch.fft.ifft2(torch.fft.fft2(f) * lowpass(radius(n, dtype=torch.float64), m.cutoff)).real
                maps[name, i] = f
        s = n // m.pool
        for i in range(M):
            for yy in range(n):
                for xx in range(n):
                    heads_out = []
                    for hd in range(h):
                        ch = slice(hd * dh, (hd + 1) * dh)
                        q = maps["q", i][ch, yy, xx]
                        keys, vals = [], []
                        for j in range(M):
                            if not mask[i, j]:
                                continue
                            if m.mode == "position":
                                keys.append(maps["k", j][ch, yy, xx])
                                vals.append(maps["v", j][ch, yy, xx])
                            else:
                                for u in range(m.pool):
                                    for w_ in range(m.pool):
                                        block = (ch, slice(u * s, (u + 1) * s), slice(w_ * s, (w_ + 1) * s))
                                        keys.append(maps["k", j][block].mean((1, 2)))
                                        vals.append(maps["v", j][block].mean((1, 2)))
                        logits = torch.stack([torch.dot(q, k) / math.sqrt(dh) for k in keys])
                        e = torch.exp(logits - logits.max())
                        heads_out.append(sum(wt * v for wt, v in zip(e / e.sum(), vals)))
                    o = torch.cat(heads_out)
                    out[b, i, :, yy, xx] += m.w_o[i] @ o + m.b_o[i]
    return out


@pytest.mark.parametrize("topology,mode", [("hierarchical", "position"), ("full", "position"),
                                           ("star", "pooled"), ("full", "pooled")])
def test_matches_a_naive_loop(topology, mode):
    m = _module(topology, mode, bands=3, channels=4, heads=2, pool=2)
    x = _x((2, 3, 4, 4, 4), seed=3)
    with torch.no_grad():
        assert torch.allclose(m(x), _oracle(m, x), atol=1e-10, rtol=1e-10)


def test_matches_a_naive_loop_without_norm_or_lowpass():
    m = _module("star", "position", bands=4, channels=4, heads=1, norm=False, cutoff=None)
    x = _x((1, 4, 4, 4, 4), seed=4)
    with torch.no_grad():
        assert torch.allclose(m(x), _oracle(m, x), atol=1e-10, rtol=1e-10)


def test_pooled_full_resolution_equals_the_seeds_all_tokens_attention():
    """pool = N, full topology, no low-pass, no norm: the seed's attention plus the residual."""
    M, C, n = 3, 8, 4
    torch.manual_seed(0)
    seed = SeedCrossAttention([C] * M, n_heads=2).double()
    m = _module("full", "pooled", bands=M, channels=C, heads=2, pool=n, cutoff=None, norm=False)
    a = seed.cross_attn
    wq, wk, wv = a.in_proj_weight.chunk(3)
    bq, bk, bv = a.in_proj_bias.chunk(3)
    with torch.no_grad():
        for i in range(M):
            P, p = seed.projections[i].weight[:, :, 0, 0], seed.projections[i].bias
            U, u = seed.unprojections[i].weight[:, :, 0, 0], seed.unprojections[i].bias
            for w, b, W, bb in ((m.w_q, m.b_q, wq, bq), (m.w_k, m.b_k, wk, bk), (m.w_v, m.b_v, wv, bv)):
                w[i], b[i] = W @ P, W @ p + bb
            m.w_o[i], m.b_o[i] = U @ a.out_proj.weight, U @ a.out_proj.bias + u
        x = _x((2, M, C, n, n), seed=5)
        ours = m(x) - x
        theirs = torch.stack(seed(list(x.unbind(1))), dim=1)
    assert torch.allclose(ours, theirs, atol=1e-10, rtol=1e-10)


# ----------------------------------------------------------------------------- symmetries
@pytest.mark.parametrize("mode", ATTENTION_MODES)
def test_circular_translation_equivariance(mode):
    m = _module("full", mode, pool=2)
    x = _x((2, 3, 4, 8, 8), seed=6)
    shifts = (3, 5) if mode == "position" else (4, 4)  # pooled: shifts by whole pooling blocks
    with torch.no_grad():
        assert torch.allclose(m(x.roll(shifts, (-2, -1))), m(x).roll(shifts, (-2, -1)), atol=1e-10)


def test_position_mode_without_lowpass_is_per_pixel():
    m = _module("hierarchical", "position", cutoff=None)
    x = _x((1, 3, 4, 6, 6), seed=7)
    perm = torch.randperm(36, generator=torch.Generator().manual_seed(0))
    permute = lambda t: t.flatten(-2)[..., perm].unflatten(-1, (6, 6))  # noqa: E731
    with torch.no_grad():
        assert torch.allclose(m(permute(x)), permute(m(x)), atol=1e-12)


def test_seed_attention_cannot_tell_where_a_token_is():
    """No position encoding: one pixel permutation of every band permutes the seed's output."""
    torch.manual_seed(0)
    seed = SeedCrossAttention([4, 8, 8], n_heads=2).double()
    x = [_x((2, d, 4, 4), seed=d) for d in (4, 8, 8)]
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    permute = lambda t: t.flatten(-2)[..., perm].unflatten(-1, (4, 4))  # noqa: E731
    with torch.no_grad():
        for a, b in zip(seed([permute(t) for t in x]), seed(x)):
            assert torch.allclose(a, permute(b), atol=1e-12)


@pytest.mark.parametrize("topology,mode", CASES)
def test_reversing_bands_and_their_weights_reverses_the_output(topology, mode):
    """All three masks (hub = mid band of 3) are symmetric under coarse <-> fine."""
    m, r = _module(topology, mode, seed=1), _module(topology, mode, seed=2)
    with torch.no_grad():
        for name in ("w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o"):
            getattr(r, name).copy_(getattr(m, name).flip(0))
        r.norm.load_state_dict(m.norm.state_dict())
        x = _x((2, 3, 4, 4, 4), seed=8)
        assert torch.allclose(r(x.flip(1)), m(x).flip(1), atol=1e-12)


# ----------------------------------------------------------------------------- shapes, grads, edges
@pytest.mark.parametrize("topology,mode", CASES)
def test_shapes_batched_unbatched_and_lists(topology, mode):
    m = _module(topology, mode)
    x = _x((2, 3, 4, 8, 8))
    y = m(x)
    assert y.shape == x.shape
    assert torch.allclose(m(x[1]), y[1], atol=1e-12)
    ys = m(list(x.unbind(1)))
    assert isinstance(ys, list) and len(ys) == 3 and all(torch.allclose(a, y[:, i]) for i, a in enumerate(ys))
    assert [t.shape for t in m(list(x[0].unbind(0)))] == [(4, 8, 8)] * 3


@pytest.mark.parametrize("topology,mode", CASES)
def test_gradients_finite_and_reach_every_parameter(topology, mode):
    m = CrossManifoldAttention(3, 8, topology, mode=mode, heads=4, pool=2)
    x = (100 * torch.randn(2, 3, 8, 8, 8)).requires_grad_()
    y = m(x)
    y.square().mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    # self-only at each position: a softmax over one key is 1, so the matching (q, k) gets no
    # gradient; that is 2 x M x (C^2 + C) of the module's parameters doing nothing
    dead = {"w_q", "b_q", "w_k", "b_k"} if (topology, mode) == ("self", "position") else set()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert (p.grad.abs().sum() == 0) == (name in dead), name


def test_bad_input_and_options():
    m = CrossManifoldAttention(3, 4, heads=2)
    for bad in (torch.zeros(2, 2, 4, 8, 8), torch.zeros(2, 3, 5, 8, 8), torch.zeros(2, 3, 4, 8, 7),
                torch.zeros(3, 4, 8), torch.zeros(1, 2, 3, 4, 8, 8), torch.zeros(2, 3, 4, 8, 8, dtype=torch.long),
                [torch.zeros(2, 4, 8, 8)] * 2, [torch.zeros(2, 4, 8, 8), torch.zeros(2, 4, 4, 4), torch.zeros(2, 4, 8, 8)],
                "x"):
        with pytest.raises(ValueError):
            m(bad)
    with pytest.raises(ValueError, match="pool"):
        CrossManifoldAttention(3, 4, heads=2, mode="pooled", pool=8)(torch.zeros(3, 4, 4, 4))
    for kw in ({"topology": "ring"}, {"mode": "global"}, {"heads": 3}, {"cutoff": 0.0}, {"cutoff": math.nan},
               {"pool": 0}, {"topology": "star", "hub": 3}):
        with pytest.raises(ValueError):
            CrossManifoldAttention(3, 4, **{"heads": 2, **kw})
    with pytest.raises(ValueError):
        topology_mask("hierarchical", 0)


# ----------------------------------------------------------------------------- cost, structurally
def _meta_flops(module, x):
    module = module.to("meta")
    with FlopCounterMode(display=False) as counter:
        module([t.to("meta") for t in x] if isinstance(x, list) else x.to("meta"))
    return counter.get_total_flops()


@pytest.mark.parametrize("mode", ATTENTION_MODES)
def test_our_cost_grows_as_n_squared(mode):
    entries, flops = [], []
    for n in (8, 16, 32, 64):
        m = CrossManifoldAttention(3, 16, "hierarchical", mode=mode, heads=4, pool=4)
        flops.append(_meta_flops(m, torch.zeros(2, 3, 16, n, n)))
        entries.append(m.last_score_entries)
        assert entries[-1] == score_entries(3, n, 2, 4, mode, 4)
    assert all(b == 4 * a for a, b in zip(entries, entries[1:]))  # exactly N^2
    if mode == "position":
        assert all(b == 4 * a for a, b in zip(flops, flops[1:]))
    else:  # + the projections of the M pool^2 pooled keys and values, constant in N
        assert all(3.5 * a < b < 4 * a for a, b in zip(flops, flops[1:]))


def test_seed_cost_grows_as_n_to_the_fourth():
    flops = [_meta_flops(SeedCrossAttention([8, 16, 32]), [torch.zeros(2, d, n, n) for d in (8, 16, 32)])
             for n in (8, 16, 32, 64)]
    exps = [math.log2(b / a) for a, b in zip(flops, flops[1:])]
    assert all(e > 3.5 for e in exps) and exps[-1] > 3.95 and all(b > a for a, b in zip(exps, exps[1:]))
    assert seed_score_entries(3, 16, 8) == 8 * 4 * (3 * 256) ** 2
    _, w = SeedCrossAttention([4, 4, 4], n_heads=2).cross_attn(*[torch.zeros(3 * 16, 2, 4)] * 3)
    assert w.shape == (2, 3 * 16, 3 * 16)  # the (B, L, L) weights it builds and throws away


def test_cost_table_rows_at_a_tiny_size():
    df = cost_table(ns=(4, 8), batch=1, dims=(4, 4, 8), pool=2, heads=2, seed_max_n=4, warmup=0, repeats=1,
                    device="cpu")
    assert list(df.columns) == ["n", "method", "score_entries", "gflop_fwd", "ms", "ms_ratio", "score_ratio",
                                "device", "threads"]
    assert list(zip(df.n, df.method)) == [(n, mth) for n in (4, 8) for mth in METHODS]
    seed8 = df[(df.n == 8) & (df.method == "seed all-tokens")].iloc[0]
    assert math.isnan(seed8.ms) and seed8.score_entries == seed_score_entries(3, 8, 1, 2)
    ref = df[df.method == "ours position"]
    assert (ref.ms_ratio == 1).all() and (ref.score_ratio == 1).all() and (ref.ms > 0).all()
    assert list(ref.score_entries) == [score_entries(3, n, 1, 2) for n in (4, 8)]
    assert (df.gflop_fwd > 0).all()
    exps = growth_exponents(df, "score_entries")
    assert exps["seed all-tokens"] == pytest.approx(4) and exps["ours position"] == pytest.approx(2)
