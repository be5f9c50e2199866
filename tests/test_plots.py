"""Figures a student reads: settings named, curves visible, readable without colour."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from course_lib import plots  # noqa: E402
from course_lib.config import RunConfig, common_label, distinct_labels  # noqa: E402
from course_lib.history import History  # noqa: E402


def _history(config, test_acc, train_acc=None, grad_norms=None):
    iters = [10 * (k + 1) for k in range(len(test_acc))]
    return History(
        config=config,
        eval_iters=iters,
        train_acc=train_acc or list(test_acc),
        test_acc=list(test_acc),
        grad_norms=grad_norms or {},
        status="completed",
    )


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_a_run_without_batch_norm_is_called_so_next_to_one_with_it():
    deep = RunConfig(hidden_size_list=(100, 100, 100), weight_init_std=1.0)
    labels = distinct_labels([deep, deep.replace(use_batchnorm=True)])
    assert labels == ["no BN", "BN"]
    assert common_label([deep, deep.replace(use_batchnorm=True)]) == "relu / 1 [100,100,100] lr=0.1"


def test_an_overlay_titles_the_settings_its_runs_share():
    # Edited settings must show in the title: nothing in it may be left from a default.
    deep = RunConfig(hidden_size_list=(100, 100, 100), weight_init_std=1.0, iters_num=30)
    runs = [_history(deep, [0.1, 0.2, 0.3]), _history(deep.replace(use_batchnorm=True), [0.5] * 3)]
    ax = plots.overlay_figure(runs).axes[0]
    assert "[100,100,100]" in ax.get_title() and "relu / 1" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no BN", "BN"]


def test_a_curve_at_full_accuracy_is_inside_the_axes():
    config = RunConfig(iters_num=30)
    ax = plots.accuracy_figure(_history(config, [0.5, 1.0, 1.0])).axes[0]
    assert ax.get_ylim()[1] > 1.0


def test_curves_differ_in_line_style_as_well_as_colour():
    configs = [RunConfig(iters_num=30, seed=s) for s in range(4)]
    fig = plots.overlay_figure([_history(c, [0.2, 0.4, 0.6]) for c in configs])
    lines = fig.axes[0].get_lines()
    assert len({line.get_linestyle() for line in lines}) == 4
    assert len({to_rgb(line.get_color()) for line in lines}) == 4
    train, test = plots.accuracy_figure(_history(configs[0], [0.2, 0.4])).axes[0].get_lines()
    assert train.get_linestyle() != test.get_linestyle()


def test_legends_of_many_lines_stand_outside_the_axes():
    configs = [RunConfig(iters_num=30, seed=s) for s in range(4)]
    fig = plots.overlay_figure([_history(c, [0.9, 0.9, 0.9]) for c in configs])
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1


def test_a_log_axis_over_less_than_two_decades_has_several_labels():
    norms = {"W1": [0.08, 0.2, 0.5], "W2": [0.3, 0.9, 2.5]}
    history = _history(RunConfig(iters_num=30), [0.1] * 3, grad_norms=norms)
    fig = plots.gradient_norms_figure(history)
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    shown = [t for t in ax.yaxis.get_major_ticks() if t.label1.get_text()]
    assert len([t for t in shown if low <= t.get_loc() <= high]) >= 3


def test_long_titles_wrap_so_side_by_side_panels_keep_them_apart():
    config = RunConfig(hidden_size_list=(100,) * 5, weight_init_std="Xavier", activation="tanh")
    history = _history(config, [0.1] * 3, grad_norms={"W1": [1.0] * 3, "W2": [2.0] * 3})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for ax in axes:
        title = "sigmoid and tanh: test accuracy, hidden [100, 100, 100, 100, 100]"
        plots.gradient_norms_figure(history, ax=ax, title=title)
    fig.canvas.draw()
    left, right = (ax.title.get_window_extent() for ax in axes)
    assert left.x1 < right.x0


def test_lines_on_axes_made_elsewhere_get_the_readable_styles_too():
    # A notebook makes its own subplots outside the style context: the styles still apply.
    fig, ax = plt.subplots()
    configs = [RunConfig(iters_num=30, seed=s) for s in range(3)]
    plots.overlay_figure([_history(c, [0.2, 0.4, 0.6]) for c in configs], ax=ax)
    assert len({line.get_linestyle() for line in ax.get_lines()}) == 3
    assert to_rgb(ax.get_lines()[0].get_color()) == to_rgb(plots.LINES.by_key()["color"][0])
