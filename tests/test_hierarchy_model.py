"""hierarchy.model: shapes per band count and switch, the zero-decoder identity, identity-initialized attention."""

import pytest
import torch

from spectral_manifolds.hierarchy import bands as B
from spectral_manifolds.hierarchy import per_band
from spectral_manifolds.hierarchy.cross_attention import TOPOLOGIES
from spectral_manifolds.hierarchy.model import ROUTERS, HierarchicalSpectralModel

N = 12


def _model(**kw):
    torch.manual_seed(0)
    kw.setdefault("base_dim", 4)
    if kw.get("router") in ("edges", "modes"):
        kw.setdefault("n", N)
    return HierarchicalSpectralModel(**kw).double()


def _x(shape=(2, 3, N, N), seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("n_bands", [2, 3, 4])
@pytest.mark.parametrize("router", ROUTERS)
@pytest.mark.parametrize("attention", [True, False])
def test_shapes_per_band_count_and_switch(n_bands, router, attention):
    model = _model(n_bands=n_bands, router=router, attention=attention)
    x = _x()
    y, info = model(x)
    assert y.shape == (2, N, N) and info["bands"].shape == (2, n_bands, N, N)
    assert torch.allclose(info["bands"].sum(1), y, atol=1e-12)  # synthesis is the sum of the bands
    assert info["usage"].shape == (n_bands,) and torch.isfinite(info["switch"])
    assert 0 <= float(info["routing_entropy"]) <= 1 + 1e-9
    assert ("attention_weights" in info) == attention and ("edges" in info) == (router == "edges")
    if attention:
        assert info["attention_weights"].shape == (n_bands, n_bands)
    y1, info1 = model(x[1])  # unbatched
    assert y1.shape == (N, N) and info1["bands"].shape == (n_bands, N, N)
    assert torch.allclose(y1, y[1], atol=1e-10)


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("mode", ["position", "pooled"])
def test_topologies_and_modes_run(topology, mode):
    y, info = _model(n_bands=4, topology=topology, attention_mode=mode)(_x())
    assert y.shape == (2, N, N) and torch.isfinite(y).all()


def test_single_band_baseline():
    model = _model(single_band=True, dim=8, kernel_size=3)
    assert len(model.manifolds) == 1 and model.router is None and model.attention is None
    y, info = model(_x())
    assert y.shape == (2, N, N) and info["bands"].shape == (2, 1, N, N)
    assert model.n_parameters == model.manifolds[0].n_parameters


@pytest.mark.parametrize("router", ROUTERS)
@pytest.mark.parametrize("attention", [True, False])
def test_zeroed_decoders_predict_zero_bands(router, attention):
    model = _model(router=router, attention=attention, residual=False)
    model.zero_decoders()
    y, info = model(_x())
    assert torch.count_nonzero(info["bands"]) == 0 and torch.count_nonzero(y) == 0


@pytest.mark.parametrize("router", ["none", "edges", "modes"])
@pytest.mark.parametrize("n_bands", [2, 3, 4])
def test_zeroed_residual_decoders_predict_persistence(router, n_bands):
    """Partition-of-unity bands sum to the input: the zeroed residual model is persistence."""
    model = _model(router=router, n_bands=n_bands)
    model.zero_decoders()
    x = _x()
    y, info = model(x)
    assert torch.allclose(y, x[:, -1], atol=1e-10)
    assert torch.allclose(info["bands"], model.decompose(x)[:, :, -1], atol=1e-12)


def test_zeroed_residual_seed_router_predicts_gated_last_frame():
    """The seed's gates are a gain on the bands: zeroed, the model predicts sum_i g_i band_i (not x)."""
    model = _model(router="seed")
    model.zero_decoders()
    x = _x()
    y, _ = model(x)
    gates = model.router(x)[:, :, -1]
    want = (gates * B.decompose(x)[:, :, -1]).sum(1)
    assert torch.allclose(y, want, atol=1e-10)
    assert (y - x[:, -1]).abs().max() > 1e-3


@pytest.mark.parametrize("router", ROUTERS)
def test_attention_starts_as_identity(router):
    """§9.1.3: the attention's output projections start at zero, so the model equals the one without it."""
    model = _model(router=router)
    x = _x()
    y_att, _ = model(x)
    att, model.attention = model.attention, None
    y_plain, _ = model(x)
    model.attention = att
    assert torch.allclose(y_att, y_plain, atol=1e-12)


def test_gradients_reach_router_and_attention():
    for router in ("seed", "edges", "modes"):
        model = _model(router=router)
        y, _ = model(_x())
        (y ** 2).mean().backward()
        grads = [p.grad for p in model.router.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)
        out = [p.grad for p in model.attention.proj_out.parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in out)


def test_band_targets_partition_and_param_groups():
    model = _model(router="edges")
    y = _x((2, N, N))
    t = model.band_targets(y)
    assert t.shape == (2, 3, N, N) and torch.allclose(t.sum(1), y, atol=1e-12)
    assert model.band_targets(y[0]).shape == (3, N, N)
    groups = per_band.band_param_groups(model.manifolds, router=model.router, attention=model.attention)
    assert sum(p.numel() for g in groups for p in g["params"]) == model.n_parameters


def test_capacities_follow_the_seed():
    model = _model(base_dim=8, attention=False)
    assert [m.dim for m in model.manifolds] == [8, 16, 32]
    assert [m.kernel_size for m in model.manifolds] == [7, 5, 3]


def test_bad_input():
    model = _model()
    with pytest.raises(ValueError, match="shape"):
        model(_x((N, N)))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((1, 3, N, N), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="needs the grid size"):
        HierarchicalSpectralModel(router="edges")
    with pytest.raises(ValueError, match="router"):
        HierarchicalSpectralModel(router="magic")
    with pytest.raises(ValueError, match="built for n"):
        _model(router="modes")(_x((1, 3, 16, 16)))
    with pytest.raises(ValueError):
        HierarchicalSpectralModel(n_bands=5)


@pytest.mark.parametrize("attention", [True, False])
def test_undetached_bands_are_the_same_bands_and_carry_the_gradient(attention):
    """``detach=False`` (for §9.3's per-band losses) changes nothing but the graph: a loss on one
    band's prediction reaches that band's decoder."""
    model = _model(router="modes", attention=attention)
    for p in model.parameters():  # move off the zero-initialized start, so attention and decoders matter
        torch.nn.init.normal_(p, std=0.1)
    x = _x()
    y, info = model(x)
    y2, info2 = model(x, detach=False)
    assert not info["bands"].requires_grad and info2["bands"].requires_grad
    assert torch.equal(y, y2) and torch.equal(info["bands"], info2["bands"].detach())
    info2["bands"][:, 0].pow(2).sum().backward()
    assert model.manifolds[0].decoder[-1].bias.grad.abs().sum() > 0  # d(output)/d(bias) = 1


@pytest.mark.parametrize("router", ["none", "edges"])
def test_band_limited_changes_stay_in_their_band(router):
    """With ``band_limited`` (default) band i's predicted change has no energy where mask i is zero
    (hard / cosine masks have zeros; the mode router's softmax has none); without it the decoders
    write every frequency (seed §11.1)."""
    x = _x()
    for limited in (True, False):
        model = _model(router=router, masks="hard" if router == "none" else "cosine", band_limited=limited)
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.1)
        _, info = model(x)
        change_hat = torch.fft.rfft2(info["bands"] - model.decompose(x)[:, :, -1])
        outside = (model.output_masks(x) == 0).to(change_hat.real.dtype)
        assert outside.sum() > 0
        leak = (change_hat.abs() * outside).pow(2).sum() / change_hat.abs().pow(2).sum()
        assert (leak < 1e-20) if limited else (leak > 1e-3)


def test_band_limit_is_the_diagonal_of_decompose():
    m = B.masks(N, 3, "cosine", half=True, dtype=torch.float64)
    f = _x((2, 3, N, N))
    full = B.decompose(f, masks=m)  # (B, M, 3 fields, N, N): field j split into every band
    diag = torch.stack([full[:, i, i] for i in range(3)], 1)
    assert torch.allclose(B.band_limit(f, m), diag, atol=1e-12)
    with pytest.raises(ValueError):
        B.band_limit(f[:, :2], m)
