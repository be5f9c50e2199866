"""The instructor dashboard, headless: set widget values, click, wait, look at its state.

Without a frontend nothing is rendered, so the tests read the dashboard's own state
(runs, messages, the table's HTML, the status line) rather than printed output.
Data is the bundled sample (conftest sets COURSE_LIB_MNIST_SOURCE=sample).
"""

import math
import time

import pytest

from course_lib import dashboard as dashboard_module
from course_lib.dashboard import InputError, dashboard, parse_hidden_sizes
from course_lib.experiments import GRID, PRESETS, SEED_RUNS

SHORT = 100  # iterations of a quick run
TIMEOUT = 120  # seconds; generous, the machine may be busy
CUSTOM = dashboard_module.CUSTOM_PRESET


@pytest.fixture
def dash():
    d = dashboard(redraw_every=50, redraw_seconds=math.inf)
    yield d
    d.stop_button.click()
    assert d.wait(TIMEOUT), "a dashboard run did not end"


def quick(d, preset="relu_he", iters=SHORT, **values):
    """Choose a preset, shorten it, set other controls, and press Run (waiting)."""
    d.preset.value = preset
    d.iters.value = iters
    for name, value in values.items():
        getattr(d, name).value = value
    d.run_button.click()
    assert d.wait(TIMEOUT)
    return d


def wait_for_evaluations(d, n, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = d.live_history
        if h is not None and len(h.eval_iters) >= n:
            return h.eval_iters[-1]
        time.sleep(0.01)
    raise AssertionError(f"the run did not reach {n} evaluations in {timeout} s")


def test_parse_hidden_sizes():
    assert parse_hidden_sizes("40,20") == [40, 20]
    assert parse_hidden_sizes(" [60, 30, 10] ") == [60, 30, 10]
    for bad in ("", "40,x", "0", "-5", "40,,20"):
        with pytest.raises(InputError):
            parse_hidden_sizes(bad)


def test_presets_offer_seed_runs_and_grid(dash):
    values = [value for _, value in dash.preset.options]
    for name in SEED_RUNS + GRID:
        assert name in values
    assert len(values) == len(set(values))


def test_default_controls_are_the_seeds_first_run(dash):
    assert dash.preset.value == SEED_RUNS[0]
    assert dash.activation.value == "sigmoid"
    assert dash.weight_init.value == "0.01"
    assert dash.hidden.value == "40,20"
    assert dash.lr.value == pytest.approx(0.1)
    assert dash.lr_slider.value == pytest.approx(0.1)
    assert (dash.iters.value, dash.batch_size.value, dash.eval_interval.value) == (2000, 100, 10)
    assert 'data-state="idle"' in dash.status.value
    assert "no runs yet" in dash.table.value


@pytest.mark.parametrize("name", list(PRESETS))
def test_choosing_a_preset_fills_the_controls(dash, name):
    preset = PRESETS[name]
    dash.preset.value = CUSTOM
    dash.preset.value = name
    settings = dash.read_settings()
    assert settings.activation == preset.activation
    assert str(settings.weight_init_std).lower() == str(preset.weight_init_std).lower()
    assert settings.hidden_size_list == tuple(preset.hidden_size_list)
    assert settings.learning_rate == preset.learning_rate
    assert settings.iters_num == preset.iters_num
    assert preset.observation in dash.preset_note.value


def test_changing_a_control_by_hand_leaves_the_preset(dash):
    dash.preset.value = "relu_he"
    dash.hidden.value = "100,50,20"
    assert dash.preset.value == CUSTOM
    # ... and the settings stay as typed
    assert dash.read_settings().hidden_size_list == (100, 50, 20)
    assert dash.activation.value == "relu"


def test_learning_rate_slider_and_box_follow_each_other(dash):
    dash.lr_slider.value = 0.01
    assert dash.lr.value == pytest.approx(0.01)
    dash.lr.value = 0.5
    assert dash.lr_slider.value == pytest.approx(0.5)


def test_custom_std(dash):
    dash.preset.value = "relu_he"
    dash.weight_init.value = "custom"
    assert not dash.custom_std.disabled
    dash.custom_std.value = 0.05
    assert dash.read_settings().weight_init_std == 0.05


def test_a_run_is_recorded_with_table_status_and_figures(dash):
    quick(dash, "relu_he")
    assert dash.errors == []
    assert dash.message_kind == ""
    (run,) = dash.runs
    h = run.history
    assert h.status == "completed"
    assert h.eval_iters[-1] == SHORT
    assert h.final_test_acc > 0.5  # relu / He learns at once
    assert dash.progress.value == SHORT == dash.progress.max
    assert bytes(dash.curves.value).startswith(b"\x89PNG")
    assert dash.redraws == SHORT // 50 - 1  # the last one is the final drawing
    assert 'data-state="finished"' in dash.status.value
    assert f'data-final-test-acc="{h.final_test_acc:.3f}"' in dash.status.value
    row = dash.table_rows()[0]
    assert row["final test acc"] == f"{h.final_test_acc:.3f}"
    assert row["final train acc"] == f"{h.final_train_acc:.3f}"
    assert row["test > 50 % from iter"] == h.first_iter_above(0.5)
    assert row["settings"] == "relu / He [40,20] lr=0.1"
    assert "relu / He [40,20] lr=0.1" in dash.table.value
    assert 'data-status="completed"' in dash.table.value
    assert not dash.run_button.disabled and dash.stop_button.disabled


def test_runs_accumulate_and_are_overlaid(dash):
    quick(dash, "sigmoid_0.01")
    assert dash.overlay_image.layout.display == "none"  # nothing to compare yet
    quick(dash, "relu_he", lr=0.05)
    assert [r.number for r in dash.runs] == [1, 2]
    assert dash.overlay_image.layout.display is None
    assert bytes(dash.overlay_image.value).startswith(b"\x89PNG")
    assert [r.label for r in dash.runs] == [
        "#1 sigmoid / 0.01 [40,20] lr=0.1",
        "#2 relu / He [40,20] lr=0.05",
    ]
    dash.overlay.value = False
    assert dash.overlay_image.layout.display == "none"


def test_clear_empties_the_session(dash):
    quick(dash, "relu_he")
    quick(dash, "relu_xavier")
    assert len(dash.runs) == 2
    dash.clear_button.click()
    assert dash.runs == []
    assert "no runs yet" in dash.table.value
    assert "cleared 2 runs" in dash.message
    assert dash.overlay_image.layout.display == "none"
    quick(dash, "relu_he")
    assert [r.number for r in dash.runs] == [3]


@pytest.mark.parametrize(
    ("control", "value", "expected"),
    [
        ("hidden", "40,x", "'x' is not a whole number"),
        ("hidden", "", "hidden layers is empty"),
        ("hidden", "0", "at least 1, got 0"),
        ("hidden", "-5", "at least 1, got -5"),
        ("lr", 0.0, "learning rate must be greater than 0"),
        ("lr", -0.1, "learning rate must be greater than 0"),
        ("iters", 0, "iterations must be at least 1"),
        ("batch_size", 0, "batch size must be at least 1"),
        ("eval_interval", 0, "eval every must be at least 1"),
        ("batch_size", 8001, "larger than the training set (8000 images)"),
        ("dataset", "fashion", "could not load Fashion-MNIST"),
    ],
)
def test_bad_input_shows_a_message_and_runs_nothing(dash, control, value, expected):
    dash.preset.value = "relu_he"
    getattr(dash, control).value = value
    dash.run_button.click()
    assert dash.wait(TIMEOUT)
    assert dash.runs == []
    assert dash.message_kind == "error"
    assert expected in dash.message
    assert expected.replace("'", "&#x27;") in dash.message_html.value  # what is displayed
    assert dash.errors == []  # a message for the user, not a crash
    assert not dash.run_button.disabled


def test_custom_std_must_be_positive(dash):
    dash.weight_init.value = "custom"
    dash.custom_std.value = 0.0
    dash.run_button.click()
    assert dash.wait(TIMEOUT)
    assert dash.runs == [] and "custom std must be greater than 0" in dash.message


def test_stop_ends_the_run_within_one_evaluation_and_keeps_it(dash):
    dash.preset.value = "relu_he"
    dash.iters.value = 1_000_000
    dash.run_button.click()
    assert dash.is_running and dash.run_button.disabled and not dash.stop_button.disabled
    seen = wait_for_evaluations(dash, 3)
    dash.stop_button.click()
    assert dash.wait(TIMEOUT)
    (run,) = dash.runs
    h = run.history
    assert h.status == "stopped"
    # One evaluation may finish between reading `seen` and the click; then it stops.
    assert h.eval_iters[-1] <= seen + 2 * h.eval_interval
    assert h.final_test_acc > 0.3  # what it learned is kept
    assert "stopped at iteration" in dash.message
    assert 'data-status="stopped"' in dash.table.value


def test_run_while_running_does_not_start_a_second_run(dash):
    dash.preset.value = "relu_he"
    dash.iters.value = 1_000_000
    dash.run_button.click()
    thread = dash._thread
    wait_for_evaluations(dash, 1)
    dash.run_button.click()
    assert dash._thread is thread
    assert "already going" in dash.message
    dash.stop_button.click()
    assert dash.wait(TIMEOUT)
    assert len(dash.runs) == 1


def test_stop_when_idle_says_so(dash):
    dash.stop_button.click()
    assert dash.message == "nothing is running"


def test_a_diverging_run_says_where_and_draws_no_nan(dash):
    quick(dash, "relu_he", iters=2000, lr=10.0)
    (run,) = dash.runs
    h = run.history
    assert h.status == "diverged"
    assert dash.message_kind == "error"
    assert f"diverged at iteration {h.diverged_at}" in dash.message
    assert f"diverged at iteration {h.diverged_at}" in dash.message_html.value
    assert all(math.isfinite(v) for v in h.losses + h.train_acc + h.test_acc)
    assert f"diverged at {h.diverged_at}" in dash.table.value


def test_an_exception_inside_the_training_callback_is_shown(dash, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom in the loss figure")

    monkeypatch.setattr(dashboard_module.plots, "loss_figure", broken)
    quick(dash, "relu_he")
    assert dash.runs == []
    assert dash.message_kind == "error"
    assert "RuntimeError: boom in the loss figure" in dash.message
    assert "boom in the loss figure" in dash.message_html.value
    assert "traceback" in dash.message_html.value
    assert isinstance(dash.errors[-1], RuntimeError)
    assert 'data-state="error"' in dash.status.value
    assert not dash.run_button.disabled  # the dashboard is usable again
    monkeypatch.undo()
    quick(dash, "relu_he")
    assert len(dash.runs) == 1


def test_an_exception_inside_a_click_handler_is_shown(dash, monkeypatch):
    def broken():
        raise ZeroDivisionError("boom in read_settings")

    monkeypatch.setattr(dash, "read_settings", broken)
    dash.run_button.click()
    assert not dash.is_running
    assert "ZeroDivisionError: boom in read_settings" in dash.message
    assert isinstance(dash.errors[-1], ZeroDivisionError)


def test_data_is_loaded_once_per_dataset():
    from course_lib.data.mnist import load_mnist

    calls = []

    def loader(dataset):
        calls.append(dataset)
        return load_mnist(normalize=True, one_hot_label=True, dataset=dataset)

    d = dashboard(loader=loader)
    quick(d, "relu_he", iters=20)
    quick(d, "sigmoid_he", iters=20)
    assert calls == ["mnist"]
    assert len(d.runs) == 2


def test_live_updates_come_at_least_every_redraw_every_iterations():
    d = dashboard(redraw_every=50, redraw_seconds=math.inf)
    quick(d, "relu_he", iters=150)
    assert d.redraws == 2  # at 50 and 100; then the final drawing at 150
    assert dashboard().redraw_every == 200  # the default


def test_extra_panels_are_drawn_when_opened(dash):
    dash.extras.selected_index = 0  # nothing to draw before a run
    assert bytes(dash.gradient_image.value) == b""
    dash.extras.selected_index = None
    quick(dash, "sigmoid_0.01")
    assert bytes(dash.activation_image.value) == b""  # closed panels cost nothing
    dash.extras.selected_index = 0
    assert bytes(dash.gradient_image.value).startswith(b"\x89PNG")
    dash.extras.selected_index = 1
    assert bytes(dash.activation_image.value).startswith(b"\x89PNG")
    assert dash.errors == []
    # Open while the next run finishes: drawn at its end.
    quick(dash, "relu_he")
    assert dash._extras_source[0] is dash.runs[-1].history
    assert 1 in dash._extras_drawn
