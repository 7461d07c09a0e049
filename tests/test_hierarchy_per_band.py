"""hierarchy.per_band: §6.1 param groups and lr decay, §6.2 weight decay, §6.3 EMA, clipping, §9.2 phases."""

import pytest
import torch
from torch import nn

from spectral_manifolds.hierarchy import manifold as M
from spectral_manifolds.hierarchy import per_band as P


def _bands(n=3):
    torch.manual_seed(0)
    return [M.SpectralManifold.for_band(i, n) for i in range(n)]


def _all(router=True, attention=True):
    torch.manual_seed(1)
    return _bands(), nn.Linear(4, 3) if router else None, nn.Linear(3, 3) if attention else None


# §6.1 and §6.2 in the order coarse, mid, fine, routing, attention (written out, not read from P)
LRS = [1e-4, 5e-4, 1e-3, 3e-4, 5e-4]
DECAYS = [0.999, 0.995, 0.99, 0.997, 0.995]
WDS = [0.01, 0.001, 0.0001, 0.0, 0.0]


def test_param_groups_cover_every_parameter_once_with_table_values():
    bands, router, attn = _all()
    groups = P.band_param_groups(bands, 1e-3, router=router, attention=attn)
    assert [g["name"] for g in groups] == ["coarse_0", "mid_1", "fine_2", "routing", "attention"]
    everything = [p for m in (*bands, router, attn) for p in m.parameters()]
    grouped = [p for g in groups for p in g["params"]]
    assert len(grouped) == len(everything) == len({id(p) for p in grouped})
    assert {id(p) for p in grouped} == {id(p) for p in everything}
    for g, m in zip(groups, (*bands, router, attn)):
        assert {id(p) for p in g["params"]} == {id(p) for p in m.parameters()}
    assert [g["lr"] for g in groups] == pytest.approx(LRS)
    assert [g["weight_decay"] for g in groups] == pytest.approx(WDS)
    opt = torch.optim.AdamW(groups)  # torch accepts the groups as they are
    assert [g["weight_decay"] for g in opt.param_groups] == pytest.approx(WDS)


def test_base_lr_scales_the_table_and_band_names():
    groups = P.band_param_groups(_bands(), 2e-3)
    assert [g["lr"] for g in groups] == pytest.approx([2e-4, 1e-3, 2e-3])
    assert P.band_names(2) == ("coarse", "fine")
    assert P.band_names(4) == ("coarse", "mid", "mid", "fine")
    assert len(P.band_param_groups(_bands(2))) == 2


def test_param_groups_reject_bad_input():
    with pytest.raises(ValueError):
        P.band_param_groups(_bands(), 0.0)
    with pytest.raises(ValueError):
        P.band_param_groups(_bands(), float("nan"))
    with pytest.raises(ValueError):
        P.band_param_groups(_bands()[:1])
    b = _bands()
    with pytest.raises(ValueError, match="shares"):
        P.band_param_groups(b, router=b[0])


def test_scheduler_lr_equals_closed_form():
    bands, router, attn = _all()
    opt = torch.optim.SGD(P.band_param_groups(bands, router=router, attention=attn), lr=1.0)
    sched = P.band_lr_scheduler(opt)
    checkpoints = {0, 1, 7, 100, 254}
    for step in range(255):
        if step in checkpoints:
            want = [lr * d ** step for lr, d in zip(LRS, DECAYS)]
            assert [g["lr"] for g in opt.param_groups] == pytest.approx(want, rel=1e-9)
            assert [P.lr_at(step, r) for r in ("coarse", "mid", "fine", "routing", "attention")] == pytest.approx(want)
        opt.step()
        sched.step()


def test_lr_order_reverses_at_the_closed_form_crossover():
    s = P.lr_crossover_step()
    assert s == pytest.approx(254.43, abs=0.01)
    assert P.lr_at(254, "fine") > P.lr_at(254, "coarse") and P.lr_at(255, "fine") < P.lr_at(255, "coarse")
    table = P.lr_schedule_table()
    assert table.loc["fine", 5000] < 1e-24  # §6.1 decays vs §9.2's 5000-step phase 1


def test_scheduler_with_phases_reduces_lr_in_refinement():
    opt = torch.optim.SGD(P.band_param_groups(_bands(2), table={"coarse": (1e-4, 1.0), "fine": (1e-3, 1.0)}), lr=1.0)
    sched = P.band_lr_scheduler(opt, P.PhaseScheduler())
    assert sched.lr_lambdas[0](29999) == 1.0 and sched.lr_lambdas[0](30000) == pytest.approx(0.1)


def test_ema_equals_closed_form_geometric_average():
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    d = 0.9
    ema = P.band_ema([net, nn.Linear(1, 1)], decays={"coarse": d, "fine": 0.5})[0]
    seq = [torch.randn(2, 3, dtype=torch.float64) for _ in range(6)]
    for w in seq:
        with torch.no_grad():
            net.weight.copy_(w)
        ema.update_parameters(net)
    k = len(seq)
    oracle = d ** (k - 1) * seq[0]
    for j in range(2, k + 1):
        oracle = oracle + (1 - d) * d ** (k - j) * seq[j - 1]
    got = ema.module.weight.detach().double()
    assert torch.allclose(got, oracle, atol=1e-6)
    # and the plain recursion, for good measure
    r = seq[0]
    for w in seq[1:]:
        r = d * r + (1 - d) * w
    assert torch.allclose(got, r, atol=1e-6)


def test_ema_uses_section_6_3_decays():
    emas = P.band_ema(_bands())
    assert len(emas) == 3
    assert P.EMA_DECAY == {"coarse": 0.9999, "mid": 0.999, "fine": 0.99}
    assert P.seed_ema_decays(3) == pytest.approx([0.999, 0.990, 0.981])


def test_seed_update_ema_raises_type_error():
    with pytest.raises(TypeError, match="buffer"):
        P.SeedEMAModule().update_ema()
    assert P.seed_update_ema_error().startswith("TypeError")


def test_clipping_directions():
    ours, seed = P.clip_norms(3), P.seed_clip_norms(3)
    assert ours == pytest.approx([0.1, 0.5, 1.0])
    assert ours[0] < ours[1] < ours[2]  # coarse stricter
    assert seed == pytest.approx([100.0, 10.0, 1.0])
    assert seed[0] > seed[1] > seed[2]  # the seed's: coarse loosest
    assert P.seed_lr_scales(3)[-1] / P.seed_lr_scales(3)[0] == pytest.approx(100.0)
    assert LRS[2] / LRS[0] == pytest.approx(10.0)
    with pytest.raises(ValueError):
        P.clip_norms(3, base=-1.0)


def test_clip_band_grads_caps_each_band():
    bands = [nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)]
    for m in bands:
        (m(torch.ones(2, 4)).sum() * 100).backward()
    norms = P.clip_band_grads(bands, P.clip_norms(3))
    for m, cap, before in zip(bands, P.clip_norms(3), norms):
        after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in m.parameters()]))
        assert before > cap and float(after) == pytest.approx(cap, rel=1e-4)
    with pytest.raises(ValueError):
        P.clip_band_grads(bands, [1.0])


def test_phase_boundaries_match_section_9_2():
    ps = P.PhaseScheduler()
    assert ps.boundaries == [5000, 15000, 30000]
    names = {0: "independent", 4999: "independent", 5000: "routing", 14999: "routing",
             15000: "integration", 29999: "integration", 30000: "refinement", 10**6: "refinement"}
    assert {s: ps.phase(s).name for s in names} == names
    p1, p2, p3, p4 = ps.phases
    assert p1.routing == "fixed" and not p1.attention and p1.frozen == {"router", "attention"}
    assert "reconstruction" not in p1.losses and "manifold" in p1.losses
    assert p2.routing == "learned" and not p2.attention and p2.frozen == {"attention"}
    assert p3.frozen == frozenset() and p3.attention and p3.lr_factor == 1.0
    assert p4.lr_factor < 1.0 and p4.monitor_collapse
    assert p1.manifold_weights == {"coarse": 1.0, "mid": 0.5, "fine": 0.3}
    assert list(ps.table()["start"]) == [0, 5000, 15000, 30000]
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            ps.phase(bad)
    with pytest.raises(ValueError):
        ps.apply(0, {"decoder": nn.Linear(1, 1)})
    with pytest.raises(ValueError):
        P.PhaseScheduler(P.PHASES[1:])


def test_freezing_sets_requires_grad_and_gives_zero_updates():
    torch.manual_seed(0)
    parts = {"manifolds": nn.Linear(3, 3), "router": nn.Linear(3, 3), "attention": nn.Linear(3, 3)}
    groups = P.band_param_groups([parts["manifolds"], nn.Linear(1, 1)], router=parts["router"],
                                 attention=parts["attention"])
    opt = torch.optim.AdamW(groups)
    ps = P.PhaseScheduler()
    for step, frozen in ((0, {"router", "attention"}), (5000, {"attention"}), (15000, set())):
        phase = ps.apply(step, parts)
        assert phase.frozen == frozen
        for name, m in parts.items():
            assert all(p.requires_grad == (name not in frozen) for p in m.parameters())
        before = {n: [p.detach().clone() for p in m.parameters()] for n, m in parts.items()}
        opt.zero_grad()
        x = torch.randn(4, 3)
        loss = parts["attention"](parts["router"](parts["manifolds"](x))).pow(2).sum()
        loss.backward()
        opt.step()
        for name, m in parts.items():
            same = all(torch.equal(a, b) for a, b in zip(before[name], m.parameters()))
            assert same == (name in frozen), (step, name)
