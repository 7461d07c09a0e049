"""report: the verdict rule on constructed inputs, summaries and tables."""

import numpy as np
import pytest
from scipy import stats

from spectral_manifolds import report


def test_clear_win_is_reproduced():
    a = [0.10, 0.11, 0.09, 0.10, 0.12]          # A: lower loss on every seed
    b = [0.20, 0.22, 0.19, 0.21, 0.20]
    assert report.compare(a, b).verdict == report.REPRODUCED


def test_clear_loss_is_not_reproduced():
    a = [0.20, 0.22, 0.19, 0.21, 0.20]
    b = [0.10, 0.11, 0.09, 0.10, 0.12]
    assert report.compare(a, b).verdict == report.NOT_REPRODUCED


def test_tie_inside_the_noise_is_inconclusive():
    rng = np.random.default_rng(0)
    shared = rng.normal(1.0, 0.2, 5)             # the seeds' spread (0.2) dwarfs the effect
    a = shared + rng.normal(0.0, 0.1, 5)
    b = shared + rng.normal(0.0, 0.1, 5)
    assert report.compare(a, b).verdict == report.INCONCLUSIVE


def test_pairing_removes_shared_seed_noise():
    """Unpaired, these overlap; paired by seed, A wins on every seed by 0.01."""
    base = np.array([1.0, 1.5, 0.7, 1.2, 0.9])
    cmp = report.compare(base, base + 0.01 + np.array([0.001, -0.001, 0.0, 0.002, -0.002]))
    assert cmp.verdict == report.REPRODUCED
    assert abs(cmp.a.mean - cmp.b.mean) < cmp.a.std  # inside the unpaired spread


def test_higher_is_better_flips_the_sign():
    acc_a, acc_b = [0.9, 0.91, 0.92], [0.5, 0.52, 0.49]
    assert report.compare(acc_a, acc_b, lower_is_better=False).verdict == report.REPRODUCED
    assert report.compare(acc_a, acc_b, lower_is_better=True).verdict == report.NOT_REPRODUCED


def test_margin_turns_a_tiny_win_inconclusive():
    a, b = [1.0, 1.0, 1.0], [1.001, 1.0011, 1.0009]
    assert report.compare(a, b).verdict == report.REPRODUCED
    assert report.compare(a, b, margin=0.01).verdict == report.INCONCLUSIVE


def test_interval_matches_scipy_t_interval():
    a = np.array([0.3, 0.5, 0.2, 0.6, 0.4])
    b = np.array([0.5, 0.6, 0.5, 0.7, 0.4])
    cmp = report.compare(a, b)
    d = b - a
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert cmp.low == pytest.approx(low) and cmp.high == pytest.approx(high)


@pytest.mark.parametrize("bad", [dict(a=[1.0], b=[2.0]), dict(a=[1.0, 2.0], b=[1.0]), dict(a=[1.0, np.nan], b=[1.0, 2.0])])
def test_bad_inputs_raise(bad):
    with pytest.raises(ValueError):
        report.compare(bad["a"], bad["b"])


def test_negative_margin_raises():
    with pytest.raises(ValueError):
        report.compare([1.0, 2.0], [1.0, 2.0], margin=-1)


def test_summary_is_sample_std():
    s = report.summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.std == pytest.approx(np.std([1, 2, 3, 4], ddof=1)) and s.n == 4


def test_mean_std_shows_float_rounding_as_no_spread():
    """Five runs of a deterministic method differ only in the last bits: not 12 decimals."""
    values = [0.057547390763 * (1 + k * 1e-16) for k in range(5)]
    assert report.summarize(values).std > 0
    assert report.mean_std(values) == "0.0575"
    assert report.mean_std([2.0, 2.0, 2.0]) == "2.00"
    assert "±" in report.mean_std([1.0, 1.0 + 1e-6])  # a real (small) spread is shown


def test_mean_std_text_rounds_to_the_spread():
    assert report.mean_std([1.0, 1.2, 1.1]) == "1.10 ± 0.10"
    assert report.mean_std([0.01234, 0.01334]) == "0.01284 ± 0.00071"


def test_run_seeds_passes_each_seed():
    assert report.run_seeds(lambda s: s * 10, [3, 4, 5], progress=False) == [30, 40, 50]
    with pytest.raises(ValueError):
        report.seeds_for(1)


def test_tables_are_dataframes():
    import pandas as pd

    cmp = report.compare([0.1, 0.1, 0.11], [0.2, 0.21, 0.2])
    df = report.verdict_table([report.verdict_row("A beats B", cmp, seed_figure=0.03, a_name="one step", b_name="four")])
    assert isinstance(df, pd.DataFrame) and df.loc["A beats B", "verdict"] == report.REPRODUCED
    assert "<table" in df.to_html()
    summ = report.summary_table({"x": [1.0, 2.0], "y": [3.0, 3.5]}, metric="MSE")
    assert list(summ.index) == ["x", "y"] and summ.loc["x", "seeds"] == 2


def test_table_rounds_floats_to_significant_figures_only():
    """Floats to 4 significant figures by default (a cost table printed 0.057547390763);
    ints, bools, strings untouched; sig=None keeps every digit; a bad sig is an error."""
    rows = [{"name": "a", "n": 123456789, "ok": True, "ms": 10.5437219, "tiny": 1.23456e-7, "nan": float("nan")}]
    df = report.table(rows)
    assert df.loc[0, "ms"] == 10.54 and df.loc[0, "tiny"] == 1.235e-7 and np.isnan(df.loc[0, "nan"])
    assert df.loc[0, "n"] == 123456789 and df["ok"].dtype == bool and df.loc[0, "name"] == "a"
    assert report.table(rows, sig=None).loc[0, "ms"] == 10.5437219
    assert report.table([{"x": np.float32(0.333333)}], sig=2).loc[0, "x"] == 0.33
    with pytest.raises(ValueError):
        report.table(rows, sig=0)


def test_interval_text():
    cmp = report.compare([1.0, 2.0, 3.0], [1.5, 2.4, 3.7])
    assert cmp.interval.startswith("[") and ", " in cmp.interval
    same = report.compare([1.0, 2.0], [1.0, 2.0])
    assert same.interval == "[+0]" and same.verdict == report.INCONCLUSIVE
