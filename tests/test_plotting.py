"""plotting: every figure function draws what it is given, labelled, on small inputs.

Each test checks properties a reader relies on: a ``Figure`` comes back, axes carry
labels (with units), one drawn line (or bar, image, collection) per series passed,
log options set log scales, references and limits are drawn as horizontal or
vertical lines at their values, and multi-panel figures have one panel per item.
"""

from __future__ import annotations

import pathlib
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from spectral_manifolds import plotting  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- helpers
def labelled(ax) -> None:
    assert ax.get_xlabel().strip(), "x axis has no label"
    assert ax.get_ylabel().strip(), "y axis has no label"


def data_lines(ax) -> list:
    """Lines that are not horizontal/vertical reference lines drawn across the axes."""
    return [ln for ln in ax.get_lines() if not _is_axline(ln)]


def _is_axline(line) -> bool:
    # axhline / axvline use an axes-coordinate transform on one axis: data (0, 1) there.
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    return x.size == 2 and ((np.allclose(x, [0, 1]) and y[0] == y[1]) or (np.allclose(y, [0, 1]) and x[0] == x[1]))


def hlines(ax) -> list[float]:
    """y levels of the horizontal reference lines (axhline) of an axes."""
    out = []
    for ln in ax.get_lines():
        x, y = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
        if x.size == 2 and np.allclose(x, [0, 1]) and y[0] == y[1]:
            out.append(float(y[0]))
    return sorted(out)


def vlines(ax) -> list[float]:
    """x positions of the vertical reference lines (axvline) of an axes."""
    out = []
    for ln in ax.get_lines():
        x, y = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
        if y.size == 2 and np.allclose(y, [0, 1]) and x[0] == x[1]:
            out.append(float(x[0]))
    return sorted(out)


def legend_texts(ax) -> list[str]:
    leg = ax.get_legend()
    assert leg is not None, "axes has no legend"
    return [t.get_text() for t in leg.get_texts()]


def panels(fig) -> list:
    """The plotting axes of a figure (colorbars left out)."""
    return [a for a in fig.axes if a.get_label() != "<colorbar>"]


def single_axes(fig):
    assert isinstance(fig, Figure)
    (ax,) = panels(fig)
    return ax


# --------------------------------------------------------------------------- the package
def test_every_plot_function_is_exported_and_the_chapters_imports_resolve():
    names = {n for n in dir(plotting) if n.startswith("plot_")}
    assert names == set(plotting.__all__)
    for name in names:
        assert callable(getattr(plotting, name))
        assert getattr(plotting, name).__module__.startswith("spectral_manifolds.plotting.")
    used = set()
    for md in [*ROOT.glob("book/*.md"), *ROOT.glob("drafts/*.md")]:
        text = md.read_text()
        for paren, line in re.findall(r"from spectral_manifolds\.plotting import (?:\(([^)]*)\)|([\w, ]+))", text):
            used |= {n.strip() for n in re.split(r"[,\s]+", paren or line) if n.strip()}
        used |= set(re.findall(r"\bplotting\.(plot_\w+)", text))
    assert used, "no chapter imports a plotting function: the pattern above is stale"
    assert used <= names, f"chapters use names the package lacks: {sorted(used - names)}"


def test_stamps_detects_the_plotting_calls_the_chapters_make():
    from spectral_manifolds import stamps

    for name in plotting.__all__:
        assert stamps.DRAWS.search(f"fig = {name}(x, y)"), name
        assert stamps.DRAWS.search(f"plotting.{name}(x)"), name
    assert stamps.DRAWS.search("from spectral_manifolds.plotting import plot_xy_curves") is None


AX_FUNCTIONS = [
    ("plot_loss_curves", lambda ax: plotting.plot_loss_curves({"a": [1.0, 0.5]}, ax=ax)),
    ("plot_seed_curves", lambda ax: plotting.plot_seed_curves({"a": np.ones((2, 3))}, ax=ax)),
    ("plot_gradient_vs_gap", lambda ax: plotting.plot_gradient_vs_gap([0.1, 1.0], {"a": [1.0, 2.0]}, ax=ax)),
    ("plot_power_law_kernels", lambda ax: plotting.plot_power_law_kernels({"a": [1.0, 0.5]}, ax=ax)),
    ("plot_relative_error", lambda ax: plotting.plot_relative_error([0, 1], {"a": [0.1, 0.2]}, ax=ax)),
    ("plot_timings", lambda ax: plotting.plot_timings([8, 16], {"a": [1e-3, 2e-3]}, ax=ax)),
    ("plot_gap_errors", lambda ax: plotting.plot_gap_errors([1, 2], {"a": [0.1, 0.2]}, ax=ax)),
    ("plot_amplitude_fits", lambda ax: plotting.plot_amplitude_fits([0.1, 0.2], {"a": [1.0, 0.9]}, {}, ax=ax)),
    ("plot_xy_curves", lambda ax: plotting.plot_xy_curves([0, 1], {"a": [1, 2]}, xlabel="x (m)", ylabel="y (s)", ax=ax)),
    ("plot_sync_curves", lambda ax: plotting.plot_sync_curves([1, 2], {"a": [0.1, 0.5]}, {}, ax=ax)),
    ("plot_curves_with_references", lambda ax: plotting.plot_curves_with_references({"a": [1, 2]}, {}, ax=ax)),
    ("plot_gradient_vs_amplitude", lambda ax: plotting.plot_gradient_vs_amplitude([0.1, 1], {"a": [1, 2]}, ax=ax)),
    ("plot_kl_vs_scale", lambda ax: plotting.plot_kl_vs_scale([0.1, 1], {"a": [1, 0.1]}, ax=ax)),
    ("plot_rate_distortion", lambda ax: plotting.plot_rate_distortion([0.1, 1], [1, 0.1], ["x", "y"], ax=ax)),
    ("plot_sync_errors", lambda ax: plotting.plot_sync_errors({"a": ([1, 2], [0.1, 0.01])}, ax=ax)),
]


@pytest.mark.parametrize("name,draw", AX_FUNCTIONS, ids=[n for n, _ in AX_FUNCTIONS])
def test_functions_taking_ax_draw_on_it_and_return_its_figure(name, draw):
    fig, ax = plt.subplots()
    assert draw(ax) is fig
    assert len(fig.axes) == 1
    assert ax.get_lines() or ax.collections
    labelled(ax)


def test_functions_taking_ax_are_all_covered():
    import inspect

    with_ax = {n for n in plotting.__all__ if "ax" in inspect.signature(getattr(plotting, n)).parameters}
    assert with_ax == {n for n, _ in AX_FUNCTIONS}


# --------------------------------------------------------------------------- curves
def test_loss_curves_one_line_per_history_from_step_1_log_y():
    fig = plotting.plot_loss_curves({"torch": [3.0, 2.0, 1.0], "jax": [4.0, 3.0, 2.5, 2.0]}, title="t")
    ax = single_axes(fig)
    labelled(ax)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["torch", "jax"]
    np.testing.assert_array_equal(lines[1].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(lines[0].get_ydata(), [3.0, 2.0, 1.0])
    assert ax.get_yscale() == "log" and ax.get_title() == "t"
    lin = single_axes(plotting.plot_loss_curves({"a": [1, 2]}, xlabel="epoch", ylabel="MSE (units$^2$)", logy=False))
    assert lin.get_yscale() == "linear"
    assert (lin.get_xlabel(), lin.get_ylabel()) == ("epoch", "MSE (units$^2$)")


def test_seed_curves_mean_line_band_per_name_and_reference_levels():
    a = np.array([[4.0, 2.0, 1.0], [2.0, 1.0, 0.5], [3.0, 3.0, 0.6]])
    b = np.array([[1.0, 1.0, 1.0], [3.0, 2.0, 1.0]])
    fig = plotting.plot_seed_curves({"a": a, "b": b}, reference={"floor": 0.2, "ceiling": 5.0})
    ax = single_axes(fig)
    labelled(ax)
    curves = data_lines(ax)
    assert len(curves) == 2 and len(ax.collections) == 2  # one mean line and one band per name
    np.testing.assert_allclose(curves[0].get_ydata(), a.mean(axis=0))
    assert "mean of 3 seeds" in curves[0].get_label() and "mean of 2 seeds" in curves[1].get_label()
    assert hlines(ax) == [0.2, 5.0]
    assert ax.get_yscale() == "log"
    assert single_axes(plotting.plot_seed_curves({"a": a}, logy=False)).get_yscale() == "linear"


def test_seed_curves_accepts_one_seed_as_a_1d_curve():
    ax = single_axes(plotting.plot_seed_curves({"one": [3.0, 2.0, 1.0]}))
    np.testing.assert_allclose(data_lines(ax)[0].get_ydata(), [3.0, 2.0, 1.0])
    assert "mean of 1 seeds" in data_lines(ax)[0].get_label()


def test_xy_curves_use_the_callers_labels_and_log_options():
    x = [1.0, 10.0, 100.0]
    fig = plotting.plot_xy_curves(x, {"a": [1, 2, 3], "b": [2, 3, 4], "c": [5, 6, 7]}, xlabel="width (units)", ylabel="error (%)", logx=True)
    ax = single_axes(fig)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("width (units)", "error (%)")
    assert len(ax.get_lines()) == 3
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "linear")
    ax2 = single_axes(plotting.plot_xy_curves(x, {"a": [1, 2, 3]}, xlabel="x", ylabel="y", logy=True))
    assert (ax2.get_xscale(), ax2.get_yscale()) == ("linear", "log")


def test_curves_with_references_start_at_epoch_0_and_draw_each_level():
    fig = plotting.plot_curves_with_references({"a": [0.3, 0.2, 0.1], "b": [0.31, 0.3, 0.29]}, {"random unit latent": 0.285, "constant": 0.309})
    ax = single_axes(fig)
    labelled(ax)
    curves = data_lines(ax)
    assert len(curves) == 2
    np.testing.assert_array_equal(curves[0].get_xdata(), [0, 1, 2])
    assert hlines(ax) == [0.285, 0.309]
    assert any("(0.285)" in t for t in legend_texts(ax))


def test_relative_error_in_percent_with_a_zero_line():
    fig = plotting.plot_relative_error([1, 2, 3], {"naive": [0.5, 0.4, np.nan], "exact": [0.0, 1e-3, 2e-3]})
    ax = single_axes(fig)
    labelled(ax)
    curves = data_lines(ax)
    assert len(curves) == 2
    np.testing.assert_allclose(curves[0].get_ydata(), [50.0, 40.0, np.nan])
    assert hlines(ax) == [0.0]


def test_timings_log_log_in_ms_with_the_fitted_slope_and_fit_range():
    lengths = np.array([16, 32, 64, 128])
    seconds = {"quadratic": 1e-6 * lengths**2.0, "linear": 1e-5 * lengths}
    ax = single_axes(plotting.plot_timings(lengths, seconds, fit_from=32))
    labelled(ax)
    lines = ax.get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), 1e3 * seconds["quadratic"])
    assert "slope 2.00" in lines[0].get_label() and "slope 1.00" in lines[1].get_label()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.patches) == 1 and any("fit range" in t for t in legend_texts(ax))
    assert len(single_axes(plotting.plot_timings(lengths, seconds)).patches) == 0


def test_seed_vs_ours_one_panel_per_quantity_two_bars_per_label_and_na_marks():
    labels = ["A", "B", "C"]
    fig = plotting.plot_seed_vs_ours(labels, {"loss (nats)": ([1.0, None, 3.0], [1.1, 2.0, 2.9]), "distance (rad)": ([np.nan, np.nan, 1.0], [0.5, 0.4, 0.3])})
    axes = panels(fig)
    assert len(axes) == 2
    assert [a.get_ylabel() for a in axes] == ["loss (nats)", "distance (rad)"]
    for ax, missing in zip(axes, (1, 2)):
        assert len(ax.containers) == 2 and all(len(c) == len(labels) for c in ax.containers)
        assert [t.get_text() for t in ax.get_xticklabels()] == labels
        assert sum(t.get_text() == "n/a" for t in ax.texts) == missing
    ours = [p.get_height() for p in axes[0].containers[1]]
    np.testing.assert_allclose(ours, [1.1, 2.0, 2.9])


# --------------------------------------------------------------------------- sphere
def test_latent_heatmaps_one_image_per_panel_on_a_shared_symmetric_scale():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(8, 4)), 3.0 * rng.normal(size=(8, 4))
    fig = plotting.plot_latent_heatmaps({"oracle": a, "rotated": b, "aligned": a}, title="t")
    axes = panels(fig)
    assert len(axes) == 3 and len(fig.axes) == 4  # three panels and one colorbar
    vmax = float(np.max(np.abs(b)))
    for ax in axes:
        (image,) = ax.get_images()
        assert image.get_clim() == pytest.approx((-vmax, vmax))
        assert ax.get_xlabel()
    assert axes[0].get_ylabel()
    with pytest.raises(ValueError):
        plotting.plot_latent_heatmaps({"flat": np.ones(5)})
    with pytest.raises(ValueError):
        plotting.plot_latent_heatmaps({})


def test_kl_vs_scale_log_log_limits_in_the_curves_colour_and_marks():
    sigmas = [0.01, 0.1, 1.0, 10.0]
    kls = {"d = 3": [5.0, 3.0, 1.0, -0.01], "d = 21": [40.0, 20.0, 5.0, 1.0]}
    ax = single_axes(plotting.plot_kl_vs_scale(sigmas, kls, {"d = 3": 0.5}, marks={"init": 0.3}))
    labelled(ax)
    curves = data_lines(ax)
    assert len(curves) == 2
    assert len(curves[0].get_xdata()) == 3  # the non-positive Monte-Carlo value is left out
    assert hlines(ax) == [0.5] and vlines(ax) == [0.3]
    (limit,) = [ln for ln in ax.get_lines() if _is_axline(ln) and ln.get_xdata()[0] == 0]
    assert limit.get_color() == curves[0].get_color()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert any(t.get_text().strip() == "init" for t in ax.texts)


def test_reconstructions_one_panel_per_channel_with_each_series():
    t = np.arange(10.0)
    rng = np.random.default_rng(1)
    noisy, clean = rng.normal(size=(10, 5)), rng.normal(size=(10, 5))
    recons = {"model": clean + 0.1, "baseline": clean * 0.0}
    fig = plotting.plot_reconstructions(t, noisy, clean, recons, channels=(0, 2, 4))
    axes = panels(fig)
    assert len(axes) == 3
    for ax, c in zip(axes, (0, 2, 4)):
        assert len(ax.get_lines()) == 2 + len(recons)
        np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), clean[:, c])
        assert ax.get_ylabel()
    assert axes[-1].get_xlabel()
    assert len(panels(plotting.plot_reconstructions(t, noisy, clean, recons, channels=(1,)))) == 1


def test_latent_path_3d_projection_time_panel_and_captured_share():
    t = np.linspace(0, 2 * np.pi, 40)
    path = np.stack([np.cos(t), np.sin(t), np.zeros_like(t), np.zeros_like(t)], axis=1)  # a great circle
    fig = plotting.plot_latent_path(t, path, title="circle")
    axes = panels(fig)
    assert len(axes) == 2 and len(fig.axes) == 3  # 3-D panel, time panel, colorbar
    three_d = [a for a in axes if a.name == "3d"]
    assert len(three_d) == 1 and three_d[0].get_zlabel()
    (flat,) = [a for a in axes if a.name != "3d"]
    labelled(flat)
    assert len(flat.get_lines()) == 3
    assert "100%" in fig._suptitle.get_text() and "circle" in fig._suptitle.get_text()
    rng = np.random.default_rng(2)
    z = rng.normal(size=(50, 8))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    share = float(re.search(r"hold (\d+)%", plotting.plot_latent_path(np.arange(50), z)._suptitle.get_text()).group(1))
    assert 0 < share < 100


def test_rate_distortion_one_labelled_point_per_run_and_reference_lines():
    kl, mse, labels = [0.1, 1.0, 10.0], [1.0, 0.1, 0.01], ["beta 1", "beta 0.1", "beta 0.01"]
    ax = single_axes(plotting.plot_rate_distortion(kl, mse, labels, {"noisy input": 0.05}))
    labelled(ax)
    assert len(ax.collections) == 1 and len(ax.collections[0].get_offsets()) == 3
    texts = [t.get_text() for t in ax.texts]
    assert all(lab in texts for lab in labels) and "noisy input" in texts
    assert hlines(ax) == [0.05]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


# --------------------------------------------------------------------------- memory
def test_power_law_kernels_lags_from_1_dashed_names_and_log_option():
    w = 1.0 / np.arange(1, 6) ** 0.5
    ax = single_axes(plotting.plot_power_law_kernels({"g = 0.5": w, "reference": w * 2}, dashed=("reference",)))
    labelled(ax)
    lines = ax.get_lines()
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3, 4, 5])
    assert (lines[0].get_linestyle(), lines[1].get_linestyle()) == ("-", "--")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    lin = single_axes(plotting.plot_power_law_kernels({"a": w}, loglog=False))
    assert (lin.get_xscale(), lin.get_yscale()) == ("linear", "linear")


def test_memory_responses_one_panel_per_input_with_input_and_responses():
    t = np.arange(6.0)
    fig = plotting.plot_memory_responses({
        "step": (t, np.ones(6), {"g = 0.3": t, "g = 0.7": 2 * t}),
        "ramp": (t, t, {"g = 0.3": t**2}),
    }, title="memories")
    axes = panels(fig)
    assert len(axes) == 2
    assert [len(a.get_lines()) for a in axes] == [3, 2]
    assert [a.get_title() for a in axes] == ["step", "ramp"]
    for ax in axes:
        labelled(ax)
        assert ax.get_lines()[0].get_linestyle() == "--"  # the input, dashed


# --------------------------------------------------------------------------- dynamics
def test_coupling_functions_one_panel_per_mapping_axes_in_units_of_pi():
    d = np.linspace(-np.pi, np.pi, 9)
    fig = plotting.plot_coupling_functions(d, {"sin": {"sin": np.sin(d), "cos": np.cos(d)}, "dot": {"dot": np.cos(d)}}, ylabels=["H (1/s)", "G (1/s)"])
    axes = panels(fig)
    assert len(axes) == 2
    assert [a.get_ylabel() for a in axes] == ["H (1/s)", "G (1/s)"]
    assert [len(data_lines(a)) for a in axes] == [2, 1]
    np.testing.assert_allclose(data_lines(axes[0])[0].get_xdata(), d / np.pi)
    for ax in axes:
        assert ax.get_xlabel() and hlines(ax) == [0.0] and vlines(ax) == [0.0]
    default = panels(plotting.plot_coupling_functions(d, {"a": {"a": d}}))[0]
    assert default.get_ylabel()


def test_sync_curves_markers_for_simulations_lines_for_theory_shared_colours():
    k = [0.5, 1.0, 2.0]
    fig = plotting.plot_sync_curves(k, {"lag 0 | sim": [0.1, 0.4, 0.8], "lag 1 | sim": [0.0, 0.2, 0.6]},
                                    {"lag 0 | theory": (np.linspace(0, 2, 5), np.linspace(0, 0.9, 5))})
    ax = single_axes(fig)
    labelled(ax)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"lag 0 | sim", "lag 1 | sim", "lag 0 | theory"}
    assert lines["lag 0 | sim"].get_linestyle() == "None" and lines["lag 0 | theory"].get_linestyle() == "-"
    assert lines["lag 0 | sim"].get_color() == lines["lag 0 | theory"].get_color() != lines["lag 1 | sim"].get_color()
    assert ax.get_ylim() == pytest.approx((-0.02, 1.02))


def test_sync_errors_log_y_group_colours_and_floor_and_threshold_lines():
    series = {"lag 0 | mean field": ([1.5, 2.0], [0.1, 0.0]), "lag 0 | rotor": ([1.5, 2.0], [0.2, 0.05]), "lag 1 | mean field": ([1.5, 2.0], [0.3, 0.1])}
    ax = single_axes(plotting.plot_sync_errors(series, floor=0.03, threshold=1.2))
    labelled(ax)
    curves = {ln.get_label(): ln for ln in data_lines(ax)}
    assert len(curves) == 3
    assert curves["lag 0 | mean field"].get_color() == curves["lag 0 | rotor"].get_color() != curves["lag 1 | mean field"].get_color()
    assert curves["lag 0 | mean field"].get_linestyle() == "-" and curves["lag 0 | rotor"].get_linestyle() == "--"
    assert np.min(curves["lag 0 | mean field"].get_ydata()) == pytest.approx(1e-6)  # a zero error stays on the log axis
    assert hlines(ax) == [0.03] and vlines(ax) == [1.2]
    assert ax.get_yscale() == "log"
    bare = single_axes(plotting.plot_sync_errors(series))
    assert hlines(bare) == [] and vlines(bare) == []


def test_sphere_portraits_one_3d_panel_per_run_with_n_show_paths_and_the_mean_field():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(7, 5, 3))
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    run = {"trajectories": z, "mean_field": z.mean(axis=1)}
    fig = plotting.plot_sphere_portraits({"K = 0": run, "K = 2": run, "K = 4": run}, n_show=2)
    axes = panels(fig)
    assert len(axes) == 3 and all(a.name == "3d" for a in axes)
    for ax in axes:
        assert len(ax.get_lines()) == 2 + 1  # n_show oscillators and the mean field
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_zlabel()
    capped = panels(plotting.plot_sphere_portraits({"a": run}, n_show=50))[0]
    assert len(capped.get_lines()) == 5 + 1  # never more paths than oscillators


def test_orbits_and_spectra_two_panels_one_orbit_and_two_spectra_per_signal():
    t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    fig = plotting.plot_orbits_and_spectra({"circle": circle, "ellipse": circle * [2.0, 1.0]})
    axes = panels(fig)
    assert len(axes) == 2
    left, right = axes
    labelled(left)
    labelled(right)
    assert len(left.get_lines()) == 2 and len(right.get_lines()) == 4
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), np.abs(np.fft.rfft(circle[:, 0])))
    with pytest.raises(ValueError):
        plotting.plot_orbits_and_spectra({"three channels": np.ones((8, 3))})


# --------------------------------------------------------------------------- imputation
def test_gap_errors_log_log_one_line_per_imputer():
    ax = single_axes(plotting.plot_gap_errors([1, 2, 4, 8], {"linear": [0.1, 0.2, 0.4, 0.8], "model": [0.05, 0.1, 0.2, 0.3]}))
    labelled(ax)
    assert [ln.get_label() for ln in ax.get_lines()] == ["linear", "model"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert single_axes(plotting.plot_gap_errors([1, 2], {"a": [1, 2]}, ylabel="gap MAE (units)")).get_ylabel() == "gap MAE (units)"


def test_imputation_example_one_panel_per_channel_fills_placed_in_the_gap():
    t = np.arange(20.0)
    rng = np.random.default_rng(4)
    truth = rng.normal(size=(20, 3))
    observed = truth.copy()
    observed[8:12] = np.nan
    fills = {"linear": np.zeros((4, 3)), "model": truth[8:12]}
    fig = plotting.plot_imputation_example(t, truth, observed, 8, fills, channels=(0, 1, 2))
    axes = panels(fig)
    assert len(axes) == 3
    for ax in axes:
        assert len(ax.get_lines()) == 2 + len(fills)
        np.testing.assert_array_equal(ax.get_lines()[2].get_xdata(), t[8:12])
        assert ax.get_ylabel() and len(ax.patches) == 1  # the shaded gap
    assert axes[-1].get_xlabel()
    assert len(panels(plotting.plot_imputation_example(t, truth, observed, 8, fills, channels=(2,)))) == 1


# --------------------------------------------------------------------------- gradients
def test_gradient_vs_gap_log_log_drops_undrawable_points_and_counts_nans():
    gaps = [0.0, 1e-3, 1e-2, 1e-1]
    fig = plotting.plot_gradient_vs_gap(gaps, {"svd": [5.0, np.nan, 100.0, 10.0], "ours": [1.0, 1.0, 1.0, 1.0]})
    ax = single_axes(fig)
    labelled(ax)
    svd, ours = ax.get_lines()
    np.testing.assert_array_equal(svd.get_xdata(), [1e-2, 1e-1])
    assert len(ours.get_xdata()) == 3
    assert "NaN/inf at 1 gap" in svd.get_label() and ours.get_label() == "ours"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_gradient_vs_amplitude_log_log_reports_the_value_at_zero():
    ax = single_axes(plotting.plot_gradient_vs_amplitude([0.0, 0.1, 1.0, 10.0], {"mse": [0.0, 0.2, 2.0, 20.0], "log": [np.nan, 10.0, 1.0, 0.1]}))
    labelled(ax)
    mse, log = ax.get_lines()
    assert len(mse.get_xdata()) == 3 and len(log.get_xdata()) == 3
    assert "at 0: 0" in mse.get_label() and "at 0: nan" in log.get_label()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    no_zero = single_axes(plotting.plot_gradient_vs_amplitude([0.1, 1.0], {"mse": [1.0, 2.0]}))
    assert no_zero.get_lines()[0].get_label() == "mse"


def test_amplitude_fits_markers_per_loss_dashed_references_and_the_true_amplitude():
    sigmas = [0.0, 0.5, 1.0]
    fig = plotting.plot_amplitude_fits(sigmas, {"mse": [1.0, 0.88, 0.6], "phase": [1.0, 1.0, 0.99]}, {"exp(-s^2/2)": np.exp(-np.square(sigmas) / 2)})
    ax = single_axes(fig)
    labelled(ax)
    curves = data_lines(ax)
    assert len(curves) == 3
    assert [ln.get_linestyle() for ln in curves] == ["None", "None", "--"]
    assert hlines(ax) == [1.0]
