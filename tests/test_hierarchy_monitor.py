"""Monitor of seed 004 §8: recorder bookkeeping, probes against closed forms and torch, the
text dashboard, the figure, and every §8.3 alert on its injected fault and on healthy runs."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.optim.swa_utils import AveragedModel  # noqa: E402

from spectral_manifolds.hierarchy import alerts as al  # noqa: E402
from spectral_manifolds.hierarchy import monitor as mon  # noqa: E402
from spectral_manifolds.hierarchy import monitor_dashboard as dash  # noqa: E402
from spectral_manifolds.hierarchy.bands import decompose  # noqa: E402
from spectral_manifolds.hierarchy.cross_attention import topology_mask  # noqa: E402
from spectral_manifolds.hierarchy.per_band import lr_at  # noqa: E402

STEPS, ONSET = 200, 120


def synthetic(seed=0, fault=None, steps=STEPS, onset=ONSET):
    """A seeded 3-band history shaped like §8.2's healthy numbers, with one fault injected from ``onset``."""
    rng = np.random.default_rng(seed)
    h = mon.MonitorHistory(3)
    base_loss, base_grad = np.array([0.0012, 0.0089, 0.0133]), np.array([0.0002, 0.0012, 0.0034])
    for t in range(steps):
        late = t >= onset
        loss = base_loss * (1 + 4 * np.exp(-t / 60)) * rng.lognormal(0, 0.05, 3)
        if fault == "coarse_loss_increasing" and late:
            loss[0] *= 1 + 0.03 * (t - onset)
        grad = base_grad * rng.lognormal(0, 0.3, 3)
        if fault == "fine_grad_exploding" and late:
            grad[2] *= 10 ** ((t - onset) / 5)
        ema = np.array([1e-4, 8e-4, 2.1e-3]) * (1 + t / steps) * rng.lognormal(0, 0.1, 3)
        if fault == "coarse_ema_diverging" and late:
            ema[0] *= math.exp((t - onset) / 5)
        freq = np.eye(3) * 0.8 + 0.1 + rng.uniform(0, 0.02, (3, 3))  # band-limited outputs: own band, always
        err = loss[:, None] * (np.eye(3) * 0.98 + rng.uniform(0, 0.01, (3, 3)))  # each band's loss, split by band
        if fault == "frequency_misrouted" and late:  # the fine band's target holds coarse frequencies
            err[2] = loss[2] * np.array([0.6, 0.05, 0.35])
        usage = rng.dirichlet([300, 350, 350])
        if fault == "traffic_concentrated" and late:
            usage = rng.dirichlet([900, 50, 50])
        entropy = 0.85 + rng.normal(0, 0.02)
        if fault == "routing_entropy_low" and late:
            entropy = 0.1
        att = np.clip(1 - 0.2 * (1 - math.exp(-t / 20)) + rng.normal(0, 0.005, 3), 0, 1)
        if fault == "attention_uniform":
            att = np.full(3, 1.0)
        if fault == "non_finite" and t == onset:
            loss[1] = np.nan
        h.record(t, loss=loss, lr=[lr_at(t, b) for b in ("coarse", "mid", "fine")], grad_norm=grad,
                 ema_divergence=ema, freq_content=freq / freq.sum(1, keepdims=True), error_content=err / err.sum(), usage=usage,
                 routing_entropy=entropy, switch=3 * float((usage ** 2).sum()), attention_entropy=att,
                 attention_weights=np.full((3, 3), 1 / 3), total_loss=float(np.sum(loss)), step_time=0.045)
    return h


FAULTS = [r.name for r in al.DEFAULT_RULES]


# ---- recorder bookkeeping --------------------------------------------------------------------

def test_lengths_shapes_and_band_keys():
    h = synthetic(steps=30)
    a = h.arrays()
    assert len(h) == 30 and a["step"].tolist() == list(range(30))
    assert a["loss"].shape == (30, 3) and a["freq_content"].shape == (30, 3, 3) and a["switch"].shape == (30,)
    assert a["error_content"].shape == (30, 3, 3) and np.allclose(a["error_content"].sum((1, 2)), 1)
    for i, b in enumerate(h.bands):
        steps, v = h.series("loss", b)
        np.testing.assert_array_equal(v, a["loss"][:, i])
        np.testing.assert_array_equal(h.series("grad_norm", i)[1], a["grad_norm"][:, i])
    assert h.bands == ("coarse", "mid", "fine")
    assert mon.monitor_bands(2) == ("coarse", "fine") and mon.monitor_bands(4) == ("coarse", "mid1", "mid2", "fine")


def test_missing_quantities_are_nan_and_not_recorded():
    h = mon.MonitorHistory(2)
    h.record(0, loss=[1.0, 2.0])
    h.record(5, loss=[0.5, 1.0], lr=[1e-3, 1e-3])
    assert h.recorded("lr").tolist() == [False, True]
    assert np.isnan(h.arrays()["lr"][0]).all()
    steps, lr = h.series("lr")
    assert steps.tolist() == [5] and lr.shape == (1, 2)
    h.record(6, loss=[np.nan, np.inf])  # faults are recorded, not refused
    assert np.isnan(h.arrays()["loss"][2, 0])


@pytest.mark.parametrize("kwargs", [
    {"loss": [1.0, 2.0]},                     # wrong band count
    {"los": [1.0, 2.0, 3.0]},                 # unknown quantity
    {"lr": [-1e-3, 1e-3, 1e-3]},              # negative
    {"usage": [0.5, 0.4, 0.3]},               # does not sum to 1
    {"routing_entropy": 1.5},                 # normalized entropy > 1
    {"freq_content": np.eye(3)[:2]},          # wrong shape
    {"error_content": np.eye(3) / 2},         # does not sum to 1 over both axes
])
def test_bad_input_raises(kwargs):
    h = mon.MonitorHistory(3)
    with pytest.raises(ValueError):
        h.record(0, **kwargs)


def test_bad_steps_bands_and_lookups_raise():
    h = mon.MonitorHistory(3)
    h.record(3, loss=[1.0, 1.0, 1.0])
    for step in (3, 2, 4.0, True):
        with pytest.raises(ValueError):
            h.record(step, loss=[1.0, 1.0, 1.0])
    for bands in (["a", "a"], ["a"], 1, 5):
        with pytest.raises(ValueError):
            mon.MonitorHistory(bands)
    with pytest.raises(ValueError):
        h.series("loss", "middle")
    with pytest.raises(ValueError):
        h.series("switch", "coarse")
    with pytest.raises(ValueError):
        h.recorded("nope")


class _Spy(torch.Tensor):
    """A tensor that logs the host-sync methods called on it."""
    calls: list = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name in ("item", "cpu", "tolist", "numpy", "__bool__", "__float__"):
            cls.calls.append(name)
        return super().__torch_function__(func, types, args, kwargs or {})


def test_tensors_are_not_synced_at_record_and_copied_once_when_read():
    h = mon.MonitorHistory(3)
    _Spy.calls.clear()
    for t in range(5):
        h.record(t, loss=torch.full((3,), 1.0 / (t + 1)).as_subclass(_Spy), switch=torch.tensor(1.0).as_subclass(_Spy))
    assert _Spy.calls == []
    a = h.arrays()
    np.testing.assert_allclose(a["loss"][:, 0], 1 / np.arange(1, 6))
    assert _Spy.calls.count("cpu") == 2  # one host copy per quantity
    g = torch.ones(3)
    h.record(5, grad_norm=g)
    g.mul_(-1)  # an in-place edit after recording does not leak into the history
    assert h.arrays()["grad_norm"][5].tolist() == [1.0, 1.0, 1.0]
    h.record(6, lr=torch.tensor([1e-3, -1.0, 1e-3]))  # tensor values are checked when read
    with pytest.raises(ValueError):
        h.arrays()


# ---- probes --------------------------------------------------------------------------------

def test_routing_stats_uniform_and_collapsed():
    u = mon.routing_stats(torch.full((64, 3), 1 / 3))
    torch.testing.assert_close(u["usage"], torch.full((3,), 1 / 3))
    assert u["routing_entropy"].item() == pytest.approx(1.0) and u["switch"].item() == pytest.approx(1.0)
    c = mon.routing_stats(torch.eye(3)[torch.zeros(8, 4, 4, dtype=torch.long)].movedim(-1, 1), dim=1)
    torch.testing.assert_close(c["usage"], torch.tensor([1.0, 0.0, 0.0]))
    assert c["routing_entropy"].item() == 0.0 and c["switch"].item() == pytest.approx(3.0)


def test_frequency_content_identity_for_hard_bands_and_permutation_when_swapped():
    x = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    b = decompose(x, 3, "hard")  # (B, M, T, N, N)
    torch.testing.assert_close(mon.frequency_content(b, 3, "hard"), torch.eye(3), atol=1e-5, rtol=0)
    swapped = mon.frequency_content(b[:, [2, 1, 0]], 3, "hard")
    torch.testing.assert_close(swapped, torch.eye(3)[[2, 1, 0]], atol=1e-5, rtol=0)
    soft = mon.frequency_content(decompose(x[0], 3), 3)
    torch.testing.assert_close(soft.sum(-1), torch.ones(3))
    with pytest.raises(ValueError):
        mon.frequency_content(b[0, 0])


def test_error_content_splits_each_band_loss_by_band():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(3, 1, 16, 16, generator=g), torch.randn(3, 1, 16, 16, generator=g)
    pred, target = decompose(x, 3, "hard")[:, :, 0], decompose(y, 3, "hard")[:, :, 0]  # (B, M, N, N)
    e = mon.error_content(pred, target, 3)
    sq = ((pred - target) ** 2).sum(dim=(0, 2, 3))  # each band's summed squared error (M,)
    torch.testing.assert_close(e.sum(-1), sq / sq.sum())  # hard masks: the rows split the losses (Parseval)
    assert float(e.sum() - e.diagonal().sum()) < 1e-5  # prediction and target in the same band: nothing outside
    swapped = mon.error_content(pred, target[:, [2, 1, 0]], 3)  # the misrouting fault: coarse and fine targets swapped
    sq = ((pred - target[:, [2, 1, 0]]) ** 2).sum(dim=(0, 2, 3)).sum()
    torch.testing.assert_close(swapped[0, 2], (target[:, 2] ** 2).sum() / sq)  # the fine target sits in the coarse row
    torch.testing.assert_close(swapped[2, 0], (target[:, 0] ** 2).sum() / sq)
    assert float(swapped[1].sum() - swapped[1, 1]) < 1e-5
    assert torch.isnan(mon.error_content(pred, pred, 3)).all()  # no error: undefined
    for bad in ((pred, target[:, :2]), (pred[0], target[0])):
        with pytest.raises(ValueError):
            mon.error_content(*bad)


def test_ema_divergence_closed_form_and_grad_norms_against_torch():
    torch.manual_seed(0)
    live = [nn.Linear(4, 3), nn.Linear(5, 2)]
    emas = [AveragedModel(m) for m in live]
    torch.testing.assert_close(mon.ema_divergence(live, emas), torch.zeros(2))
    with torch.no_grad():
        theta = torch.cat([p.reshape(-1) for p in live[0].parameters()]).clone()
        for p in live[0].parameters():
            p.add_(0.1)
    expected = 0.1 * math.sqrt(theta.numel()) / torch.linalg.vector_norm(theta + 0.1)
    torch.testing.assert_close(mon.ema_divergence(live, emas)[0], expected)
    assert mon.ema_divergence(live, emas)[1] == 0
    for m in live:
        m(torch.randn(7, m.in_features)).pow(2).sum().backward()
    oracle = torch.stack([nn.utils.clip_grad_norm_(m.parameters(), float("inf")) for m in live])
    torch.testing.assert_close(mon.grad_norms(live), oracle)
    with pytest.raises(ValueError):
        mon.ema_divergence(live, emas[:1])


def test_attention_entropy_uniform_onehot_and_topology():
    torch.testing.assert_close(mon.attention_entropy(torch.full((3, 3), 1 / 3)), torch.ones(3))
    torch.testing.assert_close(mon.attention_entropy(torch.eye(3)), torch.zeros(3))
    mask = topology_mask("hierarchical", 3)
    w = mask.float() / mask.float().sum(-1, keepdim=True)  # uniform over the bands each one sees
    torch.testing.assert_close(mon.attention_entropy(w, mask), torch.ones(3))
    with pytest.raises(ValueError):
        mon.attention_entropy(torch.ones(3))


# ---- dashboard and figure -----------------------------------------------------------------

def test_sparkline_extremes_and_order():
    s = dash.sparkline([3.0, 1.0, 2.0, 5.0, 4.0], width=None)
    assert s[1] == dash.SPARK[0] and s[3] == dash.SPARK[-1] and len(s) == 5
    ramp = dash.sparkline(np.linspace(0, 1, 30), width=12)
    assert len(ramp) == 12 and ramp[0] == dash.SPARK[0] and ramp[-1] == dash.SPARK[-1]
    assert [dash.SPARK.index(c) for c in ramp] == sorted(dash.SPARK.index(c) for c in ramp)
    assert dash.sparkline([2.0] * 4) == dash.SPARK[0] * 4 and dash.sparkline([np.nan]) == ""


def test_text_dashboard_one_row_per_band():
    for fault in (None, "frequency_misrouted"):
        text = dash.dashboard(synthetic(fault=fault))
        lines = text.splitlines()
        for b in ("coarse", "mid", "fine"):
            assert sum(line.startswith(b + " ") for line in lines) == 1
        fine = next(line for line in lines if line.startswith("fine "))
        assert fine.endswith("✗" if fault else "✓")
        assert "ROUTING HEALTH" in text and "ATTENTION STATS" in text and "STEP: 199" in text
    h = synthetic(fault="traffic_concentrated")
    text = dash.dashboard(h, al.check_all(h))
    assert "ALERTS:" in text and f"traffic_concentrated (coarse) steps {ONSET + 4}-{STEPS - 1}: Check routing init" in text
    assert "learning" in next(line for line in dash.dashboard(synthetic(steps=40)).splitlines() if line.startswith("coarse"))


def test_figure_has_the_expected_panels_and_alert_spans():
    h = synthetic(fault="fine_grad_exploding")
    fig = dash.plot_dashboard(h, al.check_all(h), al.DEFAULT_RULES)
    try:
        axes = {ax.get_title(): ax for ax in fig.axes}
        assert list(axes) == [p[0] for p in dash.PANELS]
        assert len(axes["per-band loss"].get_lines()) == 3 and len(axes["Switch balance"].get_lines()) == 1
        usage = axes["routing usage"].get_lines()  # 3 bands + the §8.3 80 % threshold
        assert len(usage) == 4 and list(usage[-1].get_ydata()) == [0.8, 0.8]
        assert len(axes["gradient norm"].get_lines()) == 3  # a ratio threshold is not drawn
        assert len(axes["gradient norm"].patches) == 1 and len(axes["per-band loss"].patches) == 0
        assert axes["gradient norm"].get_yscale() == "log"
    finally:
        plt.close(fig)


# ---- alerts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_healthy_histories_raise_no_alert(seed):
    assert al.check_all(synthetic(seed)) == []


@pytest.mark.parametrize("fault", FAULTS)
def test_each_alert_fires_on_its_fault_alone_and_after_onset(fault):
    alerts = al.check_all(synthetic(1, fault))
    assert {a.rule for a in alerts} == {fault}
    if fault != "attention_uniform":  # injected from step 0
        assert min(a.start for a in alerts) >= ONSET
    assert all(a.action for a in alerts)


def test_alert_details_name_the_band_and_threshold():
    (a,) = al.TrafficConcentrated().check(synthetic(2, "traffic_concentrated"))
    assert a.band == "coarse" and a.threshold == 0.8 and a.start == ONSET + 4 and a.end == STEPS - 1  # window 5
    h = synthetic(2, "frequency_misrouted")
    (m,) = al.FrequencyMisrouted().check(h)
    steps, e = h.series("error_content")
    off = e[steps == m.start][0, 2].sum() - e[steps == m.start][0, 2, 2]  # fine loss outside fine, over the total
    assert m.band == "fine" and m.start == ONSET + 4 and m.value == pytest.approx(off) and m.value > m.threshold
    assert al.FrequencyMisrouted(threshold=0.99).check(h) == []
    table = al.alert_table(al.check_all(synthetic(2, "coarse_ema_diverging")))
    assert table["rule"].tolist() == ["coarse_ema_diverging"] and table["band"].tolist() == ["coarse"]


def test_seed_entropy_rule_fires_on_confident_balanced_routing_marginal_does_not():
    h = mon.MonitorHistory(3)
    for t in range(10):  # one-hot gates, each band a third of the tokens
        s = mon.routing_stats(torch.eye(3)[torch.arange(30) % 3])
        h.record(t, usage=s["usage"], routing_entropy=s["routing_entropy"])
    assert len(al.RoutingEntropyLow().check(h)) == 1
    assert al.RoutingEntropyLow(which="marginal").check(h) == []


def test_misrouting_reads_the_loss_not_the_band_limited_output():
    """Constructed histories: a target swap leaves each band's output in its band (freq_content) and
    moves its loss out of it (error_content); the rule fires only on the second, only after the swap."""
    rng = np.random.default_rng(4)
    h, healthy = mon.MonitorHistory(3), mon.MonitorHistory(3)
    for t in range(40):
        energy = rng.uniform(0.5, 1.5, 3)  # each band's target energy
        err = np.diag(0.1 * energy) + rng.uniform(0, 1e-3, (3, 3))  # each band's error within its band
        out = np.eye(3) + rng.uniform(0, 0.01, (3, 3))
        kw = dict(freq_content=out / out.sum(1, keepdims=True))
        healthy.record(t, error_content=err / err.sum(), **kw)
        if t >= 20:  # coarse trained on the fine target, fine on the coarse one: unreachable, in the other band
            err[0, 2] += energy[2]
            err[2, 0] += energy[0]
        h.record(t, error_content=err / err.sum(), **kw)
    assert al.FrequencyMisrouted().check(healthy) == []
    alerts = al.FrequencyMisrouted().check(h)
    assert {a.band for a in alerts} == {"coarse", "fine"} and min(a.start for a in alerts) >= 20
    own = np.diagonal(h.series("freq_content")[1], axis1=1, axis2=2)
    assert own.min() > 0.9  # what the seed's measurement reads did not move


def test_rule_validation():
    with pytest.raises(ValueError):
        al.CoarseEmaDiverging(window=0)
    with pytest.raises(ValueError):
        al.CoarseLossIncreasing(threshold=float("nan"))
    with pytest.raises(ValueError):
        al.CoarseLossIncreasing().check({"loss": [1.0]})
    with pytest.raises(ValueError):
        al.CoarseLossIncreasing(band="mid").check(mon.MonitorHistory(2))
    with pytest.raises(ValueError):
        al.check_all(synthetic(steps=5), [al.NonFinite(), al.NonFinite()])
    assert al.check_all(mon.MonitorHistory(3)) == []  # nothing recorded: nothing to alert on


def test_score_counts_correct_missed_and_false():
    labelled = [(f"healthy {s}", synthetic(10 + s), None) for s in range(3)]
    labelled += [(f, synthetic(20, f), f) for f in FAULTS]
    score = al.score_alerts(labelled)
    assert (score.correct, score.missed, score.false) == (len(FAULTS), 0, 0)
    assert len(score.table) == 3 + len(FAULTS)
    wrong = al.score_alerts([("mislabelled", synthetic(3, "traffic_concentrated"), "fine_grad_exploding")])
    assert (wrong.correct, wrong.missed, wrong.false) == (0, 1, 1)
    with pytest.raises(ValueError):
        al.score_alerts([("x", synthetic(steps=5), "no_such_rule")])


def test_a_rule_firing_before_the_fault_does_not_detect_it():
    """Labelled with the fault's step: the same firing is a detection when the fault comes
    first, and a missed fault plus a false alert when the rule was firing before it."""
    h = synthetic(3, "traffic_concentrated")
    start = min(a.start for a in al.check_all(h) if a.rule == "traffic_concentrated")
    early = al.score_alerts([("fault later", h, "traffic_concentrated", start + 1)])
    assert (early.correct, early.missed, early.false) == (0, 1, 1)
    on_time = al.score_alerts([("fault first", h, "traffic_concentrated", start)])
    assert (on_time.correct, on_time.missed, on_time.false) == (1, 0, 0)


def test_a_real_loop_feeds_the_monitor_through_the_probes():
    from spectral_manifolds.hierarchy.cross_attention import CrossManifoldAttention
    from spectral_manifolds.hierarchy.per_band import band_ema

    torch.manual_seed(0)
    bands = [nn.Conv2d(4, 4, 3, padding=1) for _ in range(3)]
    attn, router = CrossManifoldAttention(3, 4, heads=2), nn.Conv2d(4, 3, 1)
    emas = band_ema(bands)
    opt = torch.optim.Adam([p for m in bands + [attn, router] for p in m.parameters()], lr=1e-3)
    x = torch.randn(2, 4, 8, 8)
    h = mon.MonitorHistory(3)
    for t in range(6):
        gates = router(x).softmax(1)  # (B, M, N, N)
        y = attn(torch.stack([m(x) for m in bands], 1))  # (B, M, C, N, N)
        losses = (y - x[:, None]).pow(2).mean(dim=(0, 2, 3, 4))
        opt.zero_grad()
        (losses.sum() + gates.var()).backward()
        grads = mon.grad_norms(bands)
        opt.step()
        for e, m in zip(emas, bands):
            e.update_parameters(m)
        h.record(t, loss=losses, grad_norm=grads, ema_divergence=mon.ema_divergence(bands, emas),
                 attention_weights=attn.last_band_weights, attention_entropy=mon.attention_entropy(attn.last_band_weights, attn.mask),
                 **mon.routing_stats(gates, dim=1))
    a = h.arrays()
    assert np.all(a["ema_divergence"][0] == 0) and np.all(a["ema_divergence"][1:] > 0)
    assert np.all((a["attention_entropy"] > 0) & (a["attention_entropy"] <= 1))
    assert np.all((a["switch"] >= 0) & (a["switch"] <= 3)) and len(dash.dashboard(h).splitlines()) >= 8
