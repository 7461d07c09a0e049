"""hierarchy.routing and hierarchy.routing_losses: closed forms, NaN-free Gumbel, band edges."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from spectral_manifolds.hierarchy import bands as B
from spectral_manifolds.hierarchy import routing as R
from spectral_manifolds.hierarchy import routing_losses as L


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _x(shape, seed=0, dtype=torch.float64):
    return torch.randn(shape, generator=_gen(seed), dtype=dtype)


def _gates(tokens, m, seed=0, scale=2.0):
    return torch.softmax(scale * _x((tokens, m), seed), -1)


def _onehot(assign, m):
    return F.one_hot(torch.as_tensor(assign), m).double()


# ---------------------------------------------------------------- regularizers: closed forms

@pytest.mark.parametrize("m", [2, 3, 5])
def test_switch_loss_is_one_at_uniform_and_m_at_collapse(m):
    uniform = torch.full((7, m), 1.0 / m, dtype=torch.float64)
    assert L.switch_loss(uniform).item() == pytest.approx(1.0, abs=1e-12)
    assert L.switch_loss(uniform, soft=True).item() == pytest.approx(1.0, abs=1e-12)
    # any f with a uniform P: tokens one-hot over the experts in equal numbers
    balanced = _onehot([i % m for i in range(4 * m)], m)
    assert L.switch_loss(balanced).item() == pytest.approx(1.0, abs=1e-12)
    collapsed = _onehot([0] * 9, m)
    assert L.switch_loss(collapsed).item() == pytest.approx(m, abs=1e-12)


@pytest.mark.parametrize("m", [2, 3, 4, 6])
def test_soft_switch_equals_one_plus_m2_population_variance(m):
    g = _gates(50, m, seed=m, scale=3.0)
    p = g.mean(0)
    soft = L.switch_loss(g, soft=True)
    assert soft.item() == pytest.approx(1 + m ** 2 * torch.var(p, unbiased=False).item(), abs=1e-12)
    assert soft.item() == pytest.approx(1 + m * (m - 1) * torch.var(p, unbiased=True).item(), abs=1e-12)
    assert L.usage_variance(g).item() == pytest.approx(torch.var(p, unbiased=False).item(), abs=1e-15)
    assert soft.item() == pytest.approx(1 + m ** 2 * L.usage_variance(g).item(), abs=1e-12)
    # the two regularizers have proportional gradients on the simplex (same minimizers):
    # in ambient coordinates they differ by a multiple of (1, ..., 1), which a softmax ignores
    z = (3.0 * torch.log(g)).requires_grad_()
    (ga,) = torch.autograd.grad(L.switch_loss(torch.softmax(z, -1), soft=True), z)
    (gb,) = torch.autograd.grad(L.usage_variance(torch.softmax(z, -1)), z)
    assert torch.allclose(ga, m ** 2 * gb, atol=1e-12)


def test_dim_argument_matches_experts_last():
    g = torch.softmax(_x((2, 3, 4, 5, 5), 1), dim=1)  # (B, M, T, N, N)
    last = g.movedim(1, -1)
    for f in (L.entropy, L.switch_loss, L.usage_variance, L.mutual_information, L.z_loss):
        assert f(g, dim=1).item() == pytest.approx(f(last).item(), abs=1e-12)
        assert f(g, dim=-4).item() == pytest.approx(f(last).item(), abs=1e-12)
    assert torch.allclose(L.usage(g, dim=1), last.reshape(-1, 3).mean(0))


@pytest.mark.parametrize("m", [2, 3, 5])
def test_mutual_information_closed_forms(m):
    same = _gates(1, m, seed=3).expand(20, m)
    assert L.mutual_information(same).item() == pytest.approx(0.0, abs=1e-12)
    balanced = _onehot([i % m for i in range(3 * m)], m)
    assert L.mutual_information(balanced).item() == pytest.approx(math.log(m), abs=1e-12)
    g = _gates(40, m, seed=4)
    assert 0 <= L.mutual_information(g).item() <= math.log(m)


@pytest.mark.parametrize("m", [2, 3, 7])
def test_entropy_is_maximal_at_uniform(m):
    uniform = torch.full((4, m), 1.0 / m, dtype=torch.float64)
    assert L.entropy(uniform).item() == pytest.approx(math.log(m), abs=1e-12)
    for s in range(5):
        assert L.entropy(_gates(30, m, seed=s)).item() < math.log(m)
    assert L.entropy(_onehot([0, 1], m)).item() == pytest.approx(0.0, abs=1e-15)
    assert L.entropy_loss(uniform, lam=0.1).item() == pytest.approx(-0.1 * math.log(m), abs=1e-12)


def _step(loss_fn, logits, lr=0.1):
    z = logits.clone().requires_grad_()
    (grad,) = torch.autograd.grad(loss_fn(torch.softmax(z, -1)), z)
    return torch.softmax(logits - lr * grad, -1)


def test_entropy_gradient_pushes_confident_tokens_to_mix_but_mi_does_not():
    m = 3
    assign = [i % m for i in range(6)]
    logits = 5.0 * _onehot(assign, m)  # confident, balanced routing
    before = torch.softmax(logits, -1).amax(-1)
    after_entropy = _step(lambda g: L.entropy_loss(g, lam=1.0), logits).amax(-1)
    after_mi = _step(lambda g: -L.mutual_information(g), logits).amax(-1)
    assert (after_entropy < before - 1e-6).all()  # every token moves toward uniform (the pitfall)
    assert (after_mi > before + 1e-6).all()  # MI sharpens each token, keeps the balance
    assert L.switch_loss(_step(lambda g: -L.mutual_information(g), logits)).item() == pytest.approx(1.0, abs=1e-9)
    # at a one-hot gate itself the entropy gradient is finite and favours the empty experts
    g = _onehot([0], m).requires_grad_()
    (grad,) = torch.autograd.grad(L.entropy(g), g)
    assert torch.isfinite(grad).all() and (grad[0, 1:] > grad[0, 0]).all()


def test_z_loss_matches_direct_logsumexp():
    z = 4 * _x((2, 5, 3), 7)
    direct = torch.log(torch.exp(z).sum(-1)).pow(2).mean()
    assert L.z_loss(z).item() == pytest.approx(direct.item(), rel=1e-12)
    assert L.z_loss(z).item() == pytest.approx(torch.logsumexp(z, -1).pow(2).mean().item(), rel=1e-12)
    big = torch.tensor([[1e4, 0.0, -1e4]])
    assert L.z_loss(big).item() == pytest.approx(1e8, rel=1e-6)  # no overflow
    assert L.z_loss(torch.zeros(3, 4)).item() == pytest.approx(math.log(4) ** 2, rel=1e-6)


@pytest.mark.parametrize("make", [lambda: _onehot([0, 2, 2, 1], 3), lambda: torch.zeros(4, 3, dtype=torch.float64),
                                  lambda: _onehot([1, 1, 1, 1], 3).float()])
def test_all_regularizers_finite_at_onehot_and_zero_gates(make):
    for f in (L.entropy, L.entropy_loss, L.switch_loss, lambda g: L.switch_loss(g, soft=True),
              L.usage_variance, L.mutual_information, L.z_loss):
        g = make().requires_grad_()
        v = f(g)
        (grad,) = torch.autograd.grad(v, g)
        assert torch.isfinite(v) and torch.isfinite(grad).all()


def test_mean_frequency_of_a_plane_wave_and_frequency_loss():
    n, k = 16, 3
    xs = torch.arange(n, dtype=torch.float64)
    wave = torch.cos(2 * math.pi * k * xs / n)[None, :].expand(n, n)
    assert L.mean_frequency(wave).item() == pytest.approx(2 * k / n, abs=1e-12)  # units of Nyquist
    waves = torch.stack([torch.cos(2 * math.pi * q * xs / n)[None, :].expand(2, n, n) for q in (1, 2, 5)])  # (M, T, N, N)
    targets = torch.tensor([2 / n, 4 / n, 10 / n], dtype=torch.float64)
    assert L.frequency_loss(waves, targets).item() == pytest.approx(0.0, abs=1e-12)
    assert L.frequency_loss(waves[None].expand(3, -1, -1, -1, -1), targets).item() == pytest.approx(0.0, abs=1e-12)
    assert L.frequency_loss(waves, targets + 0.1).item() == pytest.approx(0.3, abs=1e-12)
    assert torch.allclose(L.target_frequencies(3), torch.tensor([0.05, 0.2, 0.65]))
    zero = torch.zeros(3, 2, n, n, dtype=torch.float64, requires_grad=True)
    v = L.frequency_loss(zero)
    (grad,) = torch.autograd.grad(v, zero)
    assert torch.isfinite(v) and torch.isfinite(grad).all()


@pytest.mark.parametrize("bad, kw", [
    (torch.ones(()), {}), (torch.ones(4, 1), {}), (torch.ones(4, 3), {"dim": 2}), (torch.ones(4, 3), {"dim": True}),
    (torch.tensor([[0.5, float("nan")]]), {}), ([[0.5, 0.5]], {}), (torch.ones(2, 3, dtype=torch.int64), {}),
    (torch.ones(0, 3), {}),
])
def test_regularizers_reject_bad_gates(bad, kw):
    for f in (L.entropy, L.switch_loss, L.usage_variance, L.mutual_information, L.z_loss):
        with pytest.raises(ValueError):
            f(bad, **kw)


def test_frequency_loss_rejects_bad_input():
    with pytest.raises(ValueError):
        L.frequency_loss(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError):
        L.frequency_loss(torch.zeros(3, 2, 8, 6))
    with pytest.raises(ValueError):
        L.frequency_loss(torch.zeros(3, 2, 8, 8), torch.zeros(2))
    with pytest.raises(ValueError):
        L.mean_frequency(torch.zeros(8))


# ---------------------------------------------------------------- safe Gumbel-softmax

@pytest.mark.parametrize("u", [0.0, 1.0, "mixed"])
def test_gumbel_softmax_never_nan_on_forced_uniform_edges(monkeypatch, u):
    real_rand = torch.rand

    def forced(shape, *a, **k):
        out = real_rand(shape, *a, **k)
        if u == "mixed":
            return torch.where(torch.arange(out.numel()).reshape(out.shape) % 2 == 0, 0.0, 1.0).to(out)
        return torch.full_like(out, u)

    monkeypatch.setattr(torch, "rand", forced)
    logits = _x((5, 4), 2, torch.float32).requires_grad_()
    for hard in (False, True):
        y = R.gumbel_softmax(logits, tau=0.5, hard=hard)
        (grad,) = torch.autograd.grad((y * torch.arange(4.0)).sum(), logits)
        assert torch.isfinite(y).all() and torch.isfinite(grad).all()
        assert torch.allclose(y.sum(-1), torch.ones(5))


def test_torch_gumbel_softmax_nan_trap_and_ours_on_the_same_edge(monkeypatch):
    """DESIGN.md trap: an exponential sample of 0 (forced here) or tau = 0 gives NaN in torch."""
    logits = torch.zeros(2, 3)
    assert torch.isnan(F.gumbel_softmax(logits, tau=0.0)).any()
    monkeypatch.setattr(torch.Tensor, "exponential_", lambda self, *a, **k: self.zero_())
    assert torch.isnan(F.gumbel_softmax(logits, tau=1.0)).all()
    assert torch.isfinite(R.gumbel_softmax(logits, tau=1.0)).all()
    with pytest.raises(ValueError):
        R.gumbel_softmax(logits, tau=0.0)


def test_gumbel_softmax_finite_at_tiny_tau_and_extreme_logits():
    logits = torch.tensor([[1e6, 0.0, -1e6], [3e30, -3e30, 0.0], [0.0, 0.0, 0.0]]).requires_grad_()
    for tau in (1e-8, 1e-30, torch.tensor([1e-20])):
        for hard in (False, True):
            y = R.gumbel_softmax(logits, tau=tau, hard=hard, generator=_gen(1))
            (grad,) = torch.autograd.grad((y * torch.tensor([1.0, 2.0, 3.0])).sum(), logits)
            assert torch.isfinite(y).all() and torch.isfinite(grad).all()
            assert ((y == 0) | (y == 1)).all() or not hard


@pytest.mark.parametrize("tau", [0, 0.0, -1.0, float("nan"), float("inf"), True, "1", torch.tensor([0.0]),
                                 torch.tensor([1.0, -1.0]), torch.tensor([])])
def test_gumbel_softmax_rejects_bad_tau(tau):
    with pytest.raises(ValueError):
        R.gumbel_softmax(torch.zeros(2, 3), tau=tau)


def test_gumbel_softmax_rejects_bad_logits():
    for bad, kw in [(torch.tensor([[0.0, float("nan")]]), {}), (torch.zeros(2, 3), {"dim": 2}),
                    (torch.zeros(()), {}), (torch.zeros(2, 3, dtype=torch.int64), {}), ([0.0, 1.0], {})]:
        with pytest.raises(ValueError):
            R.gumbel_softmax(bad, **kw)


def test_gumbel_softmax_matches_torch_semantics():
    logits = torch.tensor([1.0, 0.0, -0.5, 2.0]).log_softmax(0)
    x = logits.expand(2, 3, 4).movedim(-1, 1).contiguous()  # categories on dim=1: (2, 4, 3)
    ours, theirs = R.gumbel_softmax(x, dim=1, generator=_gen(0)), F.gumbel_softmax(x, dim=1)
    assert ours.shape == theirs.shape == x.shape and torch.allclose(ours.sum(1), torch.ones(2, 3))
    hard = R.gumbel_softmax(x, hard=True, dim=1, generator=_gen(0))
    assert torch.equal(hard.sum(1), torch.ones(2, 3)) and ((hard == 0) | (hard == 1)).all()
    # straight-through: the hard sample's gradient is the soft sample's (same noise)
    z1, z2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    w = _x((2, 4, 3), 5, torch.float32)
    (g_hard,) = torch.autograd.grad((w * R.gumbel_softmax(z1, 0.7, True, 1, generator=_gen(3))).sum(), z1)
    (g_soft,) = torch.autograd.grad((w * R.gumbel_softmax(z2, 0.7, False, 1, generator=_gen(3))).sum(), z2)
    assert torch.allclose(g_hard, g_soft)
    # distribution: argmax frequencies follow softmax(logits) (Gumbel-max); soft means agree with torch's
    many = logits.expand(40000, 4)
    torch.manual_seed(0)
    y_ours, y_torch = R.gumbel_softmax(many, tau=0.5, generator=_gen(1)), F.gumbel_softmax(many, tau=0.5)
    p = logits.exp()
    freq_ours = F.one_hot(y_ours.argmax(-1), 4).float().mean(0)
    freq_torch = F.one_hot(y_torch.argmax(-1), 4).float().mean(0)
    assert torch.allclose(freq_ours, p, atol=0.01) and torch.allclose(freq_torch, p, atol=0.01)
    assert torch.allclose(y_ours.mean(0), y_torch.mean(0), atol=0.01)


# ---------------------------------------------------------------- the seed's router

class _SeedLearnedRouter(nn.Module):
    """Seed 004 §11.1 ``LearnedRouter``, copied verbatim (soft path)."""

    def __init__(self, n_manifolds, dim):
        super().__init__()
        self.n_manifolds = n_manifolds
        self.router = nn.Sequential(nn.Conv2d(1, dim, 3, padding=1), nn.ReLU(), nn.Conv2d(dim, n_manifolds, 1))
        self.temperature = nn.Parameter(torch.ones(1))

    def forward(self, x, hard=False):
        logits = self.router(x)
        if hard and self.training:
            return F.gumbel_softmax(logits, tau=self.temperature, hard=True, dim=1)
        return F.softmax(logits / self.temperature, dim=1)


def test_seed_router_matches_the_seed_code_and_accepts_both_layouts():
    torch.manual_seed(0)
    ours, seed = R.SeedRouter(3, dim=8), _SeedLearnedRouter(3, 8)
    seed.load_state_dict(ours.state_dict())
    with torch.no_grad():
        ours.temperature.fill_(0.7)
        seed.temperature.fill_(0.7)
    x = _x((2, 4, 8, 8), 0, torch.float32)
    g = ours(x)
    assert g.shape == (2, 3, 4, 8, 8)
    ref = seed(x.reshape(8, 1, 8, 8)).reshape(2, 4, 3, 8, 8).transpose(1, 2)
    assert torch.allclose(g, ref, atol=1e-6)
    assert torch.allclose(ours(x[1]), g[1], atol=1e-6)  # (T, N, N) -> (M, T, N, N)
    assert torch.allclose(g.sum(1), torch.ones(2, 4, 8, 8), atol=1e-6)
    ours.eval()
    assert torch.allclose(ours(x, hard=True), g, atol=1e-6)  # the seed: hard only in training
    ours.train()
    h = ours(x, hard=True, generator=_gen(0))
    assert ((h == 0) | (h == 1)).all() and torch.equal(h.sum(1), torch.ones(2, 4, 8, 8))
    h.sum().backward()
    assert torch.isfinite(ours.router[0].weight.grad).all()


def test_seed_router_temperature_is_clamped_not_nan():
    r = R.SeedRouter(3, dim=4, min_temperature=0.05)
    with torch.no_grad():
        r.temperature.fill_(-1.0)  # where an optimizer may drive the seed's parameter
    x = _x((3, 8, 8), 1, torch.float32)
    for hard in (False, True):
        g = r(x, hard=hard)
        assert torch.isfinite(g).all() and r.tau().item() == pytest.approx(0.05)


@pytest.mark.parametrize("bad", [torch.zeros(8, 8), torch.zeros(2, 3, 8, 6), torch.zeros(1, 2, 3, 8, 8),
                                 torch.full((2, 8, 8), float("nan")), torch.zeros(2, 3, 3)])
def test_seed_router_rejects_bad_fields(bad):
    with pytest.raises(ValueError):
        R.SeedRouter(3, dim=4)(bad)


def test_seed_router_rejects_bad_options():
    for kw in ({"n_manifolds": 1}, {"n_manifolds": 2.0}, {"dim": 0}, {"min_temperature": 0.0}):
        with pytest.raises(ValueError):
            R.SeedRouter(**{"n_manifolds": 3, "dim": 4, **kw})


# ---------------------------------------------------------------- spatial gating cannot move a boundary

def test_spatial_gate_cannot_move_a_band_boundary():
    n = 16
    x = _x((2, 3, n, n), 0)
    m = B.masks(n, 3, "cosine", half=True, dtype=torch.float64)
    r = R.SeedRouter(3, dim=4).double()
    for gates in (torch.rand((2, 3, 3, n, n), generator=_gen(1), dtype=torch.float64) * 10,  # any gain field
                  r(_x((2, 3, n, n), 9)).detach(), r(_x((2, 1, n, n), 8)).detach()):     # the seed's gates
        base = R.spatial_gate(B.decompose(x, masks=m), gates)
        for i in range(3):
            outside = (m[i] == 0).double()  # modes band i cannot see
            assert outside.sum() > 0
            delta = torch.fft.irfft2(torch.fft.rfft2(_x((2, 3, n, n), 10 + i)) * outside, s=(n, n))
            moved = R.spatial_gate(B.decompose(x + 5 * delta, masks=m), gates)
            assert torch.allclose(moved[:, i], base[:, i], atol=1e-10)  # unchanged, whatever the gate
            assert not torch.allclose(moved[:, (i + 1) % 3] + moved[:, (i + 2) % 3],
                                      base[:, (i + 1) % 3] + base[:, (i + 2) % 3], atol=1e-3)
    # honest caveat: a non-constant gate modulates the band, spreading its spectrum
    b0 = B.decompose(x, masks=m)[:, 0]
    spread = torch.fft.rfft2(b0 * torch.rand((2, 3, n, n), generator=_gen(2), dtype=torch.float64)).abs() ** 2
    assert (spread * (m[0] == 0)).sum() > 0.01 * spread.sum()


def test_spatial_gate_shapes():
    b = torch.zeros(3, 4, 8, 8)
    assert R.spatial_gate(b, torch.ones(3, 1, 8, 8)).shape == b.shape
    assert R.spatial_gate(b[None].expand(2, -1, -1, -1, -1), torch.ones(2, 3, 1, 8, 8)).shape == (2, 3, 4, 8, 8)
    for g in (torch.ones(2, 1, 8, 8), torch.ones(3, 2, 8, 8), torch.ones(3, 4, 8), torch.ones(1, 3, 4, 8, 8)):
        with pytest.raises(ValueError):
            R.spatial_gate(b, g)
    with pytest.raises(ValueError):
        R.spatial_gate(b.numpy(), torch.ones(3, 1, 8, 8))


# ---------------------------------------------------------------- routers that move boundaries

@pytest.mark.parametrize("kind", ["cosine", "logistic"])
@pytest.mark.parametrize("bands", [2, 3, 4])
def test_learnable_edges_partition_of_unity_for_random_parameters(kind, bands):
    r = R.LearnableBandEdges(16, bands, kind)
    assert torch.allclose(r.edges().detach(), torch.tensor(B.CUTOFFS[bands]), atol=1e-6)  # §5.3 init bias
    for s in range(4):
        with torch.no_grad():
            r.raw.copy_(3 * _x(r.raw.shape, s, torch.float32))
        c = r.edges()
        assert (c > 0).all() and (torch.diff(c) > 0).all()
        for half in (True, False):
            m = r.masks(half=half, dtype=torch.float64)
            assert torch.allclose(m.sum(0), torch.ones_like(m[0]), atol=1e-12)
            assert (m >= -1e-12).all() and (m <= 1 + 1e-12).all()
        x = _x((2, 3, 16, 16), s)
        assert torch.allclose(B.synthesize(r(x)), x, atol=1e-10)


def test_learnable_edges_get_gradients_and_moving_an_edge_moves_energy():
    n = 32
    r = R.LearnableBandEdges(n, 3)
    x = _x((4, n, n), 3)
    e = B.band_energy(r(x))  # (M,)
    (e * torch.tensor([1.0, 2.0, 3.0], dtype=e.dtype)).sum().backward()
    assert torch.isfinite(r.raw.grad).all() and (r.raw.grad.abs() > 1e-6).all()
    before = B.band_energy(r(x)).detach()
    r.set_edges([0.2, 0.3])
    after = B.band_energy(r(x)).detach()
    assert after[0] > 1.5 * before[0] and after[1] < before[1]
    assert after[2].item() == pytest.approx(before[2].item(), rel=1e-6)  # its edge did not move
    assert torch.allclose(B.synthesize(r(x)), x, atol=1e-10)
    # a learned edge moves under gradient descent toward a band-0 energy target
    opt = torch.optim.SGD(r.parameters(), lr=0.05)
    target = 0.5 * B.band_energy(x[:, None].expand(-1, 1, -1, -1).reshape(1, 4, n, n)).sum()
    c0 = r.edges()[0].item()
    for _ in range(5):
        opt.zero_grad()
        ((B.band_energy(r(x))[0] - target) / target).pow(2).backward()
        opt.step()
    assert r.edges()[0].item() > c0


def test_learnable_edges_and_mode_router_reject_bad_options_and_fields():
    for kw in ({"kind": "hard"}, {"kind": "seed"}, {"width": 1.0}, {"min_gap": 0.2}, {"min_gap": -1.0},
               {"bands": [0.3, 0.1]}, {"bands": 5}, {"n": 0}):
        with pytest.raises(ValueError):
            R.LearnableBandEdges(**{"n": 16, **kw})
    r = R.LearnableBandEdges(16)
    with pytest.raises(ValueError):
        r.set_edges([0.1, 0.2, 0.3])
    for bad in (torch.zeros(2, 8, 8), torch.zeros(16, 16), torch.full((2, 16, 16), float("nan"))):
        with pytest.raises(ValueError):
            r(bad)
        with pytest.raises(ValueError):
            R.ModeRouter(16)(bad)
    for kw in ({"bias": -1.0}, {"floor": 0.0}, {"kind": "nope"}):
        with pytest.raises(ValueError):
            R.ModeRouter(16, **kw)


def test_mode_router_starts_at_the_bands_and_stays_a_partition():
    n = 16
    r = R.ModeRouter(n, 3)
    m = B.masks(n, 3, half=True, dtype=torch.float64)
    assert torch.allclose(r.masks(dtype=torch.float64), m, atol=3e-3)  # bias 1: the fixed bands, to the floor
    with torch.no_grad():
        r.logits.copy_(5 * _x(r.logits.shape, 1, torch.float32))
    g = r.masks(dtype=torch.float64)
    assert torch.allclose(g.sum(0), torch.ones_like(g[0]), atol=1e-12)
    x = _x((2, 3, n, n), 2)
    out = r(x)
    assert out.shape == (2, 3, 3, n, n) and r(x[0]).shape == (3, 3, n, n)
    assert torch.allclose(B.synthesize(out), x, atol=1e-10)
    B.band_energy(out)[:, 0].sum().backward()
    assert torch.isfinite(r.logits.grad).all() and r.logits.grad.abs().sum() > 0
