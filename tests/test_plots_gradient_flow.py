"""The gradient-flow figures and the diagnostics behind them."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plots
from course_lib.config import RunConfig
from course_lib.diagnostics import (
    activation_snapshot,
    gradient_norms,
    gradient_ratio,
    weight_keys_in_order,
)
from course_lib.experiments import PRESETS
from course_lib.history import History
from course_lib.multi_layer_net import MultiLayerNet
from course_lib.training import run

KEYS = ["W1", "W2", "W3", "W4"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _history(iters=200, eval_interval=10, zero=False):
    evals = list(range(eval_interval, iters + 1, eval_interval))
    grad_norms = {k: [10.0 ** (i - 3) * (1 + 0.01 * j) for j in evals] for i, k in enumerate(KEYS)}
    if zero:
        grad_norms["W1"][-1] = 0.0  # e.g. all ReLUs dead: a log axis cannot show it
    config = RunConfig(
        activation="sigmoid",
        weight_init_std=0.01,
        hidden_size_list=(5, 5, 5),
        iters_num=iters,
        eval_interval=eval_interval,
    )
    return History(
        config=config,
        eval_iters=evals,
        train_acc=[0.1] * len(evals),
        test_acc=[0.1] * len(evals),
        grad_norms=grad_norms,
        initial_grad_norms={k: 10.0 ** (i - 3) for i, k in enumerate(KEYS)},
        status="completed",
    )


def _line_data(ax):
    return [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]


def _assert_drawable_on_log(ax):
    assert ax.get_yscale() == "log"
    for ys in _line_data(ax):
        assert ys.size and np.all(np.isfinite(ys)) and np.all(ys > 0)


def test_gradient_flow_default_moments_are_init_100_and_end():
    fig = plots.gradient_flow_figure(_history())
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["initialisation", "iter 100", "iter 200 (end)"]
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == KEYS
    _assert_drawable_on_log(ax)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [1e-3, 1e-2, 1e-1, 1])
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_gradient_flow_shows_the_evaluation_nearest_to_iteration_100():
    ax = plots.gradient_flow_figure(_history(iters=190, eval_interval=30)).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["initialisation", "iter 90", "iter 180 (end)"]
    ax = plots.gradient_flow_figure(_history(iters=40)).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["initialisation", "iter 40 (end)"]  # 100 is past the end: shown once


def test_gradient_flow_leaves_out_zero_norms_and_says_so():
    fig = plots.gradient_flow_figure(_history(zero=True))
    ax = fig.axes[0]
    _assert_drawable_on_log(ax)
    assert [len(line.get_ydata()) for line in ax.get_lines()] == [4, 4, 3]
    assert "not shown" in ax.get_legend().get_texts()[-1].get_text()


def test_gradient_flow_draws_into_a_given_axis():
    fig, (ax_left, ax_right) = plt.subplots(1, 2)
    out = plots.gradient_flow_figure(_history(), ax=ax_right, title="mine")
    assert out is fig and len(ax_right.get_lines()) == 3 and not ax_left.get_lines()
    assert ax_right.get_title() == "mine"


def test_gradient_flow_of_a_diverged_run_has_no_nan():
    h = _history()
    h.status, h.diverged_at = "diverged", 3
    h.eval_iters, h.train_acc, h.test_acc = [], [], []
    h.grad_norms = {k: [] for k in KEYS}
    h.initial_grad_norms = {"W1": math.nan, "W2": math.inf, "W3": 1.0, "W4": 2.0}
    fig = plots.gradient_flow_figure(h)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 1
    _assert_drawable_on_log(ax)
    assert any("diverged" in t.get_text() for t in ax.texts)


def test_compare_figure_one_line_per_entry():
    norms = {"a": {"W1": 1e-8, "W2": 1e-4, "W3": 1.0}, "b": {"W1": 1e-6, "W2": 1e-6, "W3": 1e-6}}
    fig = plots.gradient_flow_compare_figure(norms, title="at initialisation")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2
    _assert_drawable_on_log(ax)
    assert ax.get_title() == "at initialisation"


def test_gradient_norms_figure_one_line_per_layer_from_iteration_0():
    h = _history(zero=True)
    fig = plots.gradient_norms_figure(h)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == len(KEYS)
    _assert_drawable_on_log(ax)
    xs = ax.get_lines()[1].get_xdata()
    assert xs[0] == 0 and xs[-1] == 200 and len(xs) == 21
    assert len(ax.get_lines()[0].get_xdata()) == 20  # the zero left out
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "W1 (input)"
    assert ax.get_xlabel() == "iter" and ax.get_ylabel()


def _panels(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def _bar_heights(ax):
    heights = [np.asarray(p.get_data().values) for p in ax.patches]
    return np.concatenate(heights) if heights else np.array([])


@pytest.mark.parametrize(("activation", "limits"), [("sigmoid", (0.0, 1.0)), ("tanh", (-1.0, 1.0))])
def test_histograms_one_panel_per_layer_and_snapshot(activation, limits):
    net = MultiLayerNet(20, [8, 8, 8], 3, activation=activation, weight_init_std="xavier", seed=0)
    x = np.random.default_rng(0).standard_normal((50, 20))
    snap = activation_snapshot(net, x)
    fig = plots.activation_histograms_figure({"initialisation": snap, "later": snap}, activation)
    panels = _panels(fig)
    assert len(panels) == 6
    assert panels[0].get_title() == "layer 1"
    assert "initialisation" in panels[0].get_ylabel() and "later" in panels[3].get_ylabel()
    for ax in panels:
        assert ax.get_xlim() == limits
        heights = _bar_heights(ax)
        assert np.all(np.isfinite(heights))
        assert heights.sum() == pytest.approx(1.0)  # every output falls in the range
    # Figure.get_suptitle() is matplotlib 3.8+; 3.7 (the oldest supported) keeps it here.
    assert activation in fig._suptitle.get_text()


def test_relu_histograms_count_exact_zeros_and_fit_the_range():
    rng = np.random.default_rng(0)
    acts = [np.maximum(rng.standard_normal((40, 10)) * scale, 0) for scale in (1.0, 1e-6)]
    acts[1][:, :3] = 0.0  # extra dead units in layer 2
    acts[1][0, 5] = np.nan  # a diverged value must not reach the plot
    fig = plots.activation_histograms_figure({"init": acts}, "relu")
    panels = _panels(fig)
    assert len(panels) == 2
    notes = [" ".join(t.get_text() for t in ax.texts) for ax in panels]
    assert all("exactly 0" in n for n in notes)
    zeros_2 = np.mean(acts[1][np.isfinite(acts[1])] == 0)
    assert f"{zeros_2:.0%}" in notes[1]
    assert panels[1].get_xlim()[1] < 1e-5  # the tiny layer gets its own range
    for ax in panels:
        assert ax.get_xlim()[0] == 0
        assert np.all(np.isfinite(_bar_heights(ax)))


def test_histograms_reuse_a_given_figure_and_refuse_what_they_cannot_draw():
    fig = plt.figure()
    acts = [np.linspace(-0.5, 0.5, 30).reshape(3, 10)]
    out = plots.activation_histograms_figure({"a": acts, "b": acts}, "tanh", fig=fig)
    assert out is fig and len(_panels(fig)) == 2
    assert _panels(fig)[0].get_xlim() == (-1.0, 1.0)
    plots.activation_histograms_figure({"a": acts}, "sigmoid", fig=fig)
    assert len(_panels(fig)) == 1  # drawn anew
    with pytest.raises(ValueError, match="activation"):
        plots.activation_histograms_figure({"a": acts}, activation="softplus")
    with pytest.raises(ValueError, match="empty"):
        plots.activation_histograms_figure({}, "relu")


def test_diagnostics_measure_without_changing_the_network():
    net = MultiLayerNet(12, [6, 5], 3, activation="relu", weight_init_std="he", seed=1)
    before = {k: v.copy() for k, v in net.params.items()}
    rng = np.random.default_rng(0)
    x, d = rng.standard_normal((10, 12)), np.eye(3)[rng.integers(0, 3, 10)]
    norms = gradient_norms(net, x, d)
    assert list(norms) == ["W1", "W2", "W3"] and all(v > 0 for v in norms.values())
    grad = net.gradient(x, d)
    assert norms["W2"] == pytest.approx(float(np.linalg.norm(grad["W2"])))
    assert gradient_ratio(norms) == pytest.approx(norms["W1"] / norms["W3"])
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, before[k])
    snap = activation_snapshot(net, x)
    assert [a.shape for a in snap] == [(10, 6), (10, 5)] and snap[0].dtype == np.float64
    assert weight_keys_in_order({"W10": 1, "W2": 1, "W1": 1}) == ["W1", "W2", "W10"]
    assert math.isnan(gradient_ratio({"W1": 1.0, "W2": 0.0}))


def test_run_trains_the_network_it_is_given(sample_data):
    config = PRESETS["deep_relu_he"].config.replace(seed=0, iters_num=20)
    network = config.build_network()
    w1 = network.params["W1"].copy()
    h = run(config, sample_data, network=network)
    assert h.status == "completed" and h.initial_grad_norms
    assert not np.array_equal(network.params["W1"], w1)
    reference = run(config, sample_data)
    assert reference.losses == h.losses
    other = PRESETS["deep_sigmoid_0.01"].config.replace(iters_num=1)
    with pytest.raises(ValueError, match="was not built from sigmoid / 0.01"):
        run(other, sample_data, network=network)
