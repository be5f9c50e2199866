"""The instructor dashboard, headless: set widget values, click, wait, look at its state.

Without a frontend nothing is rendered, so the tests read the dashboard's own state
(run log, messages, the table's HTML, the status line) rather than printed output.
Data is the bundled sample (conftest sets COURSE_LIB_MNIST_SOURCE=sample).
"""

import html
import math
import threading
import time

import pytest

from course_lib import plots
from course_lib.config import RunConfig, settings
from course_lib.dashboard import CUSTOM_PRESET, dashboard
from course_lib.dashboard.runlog import RunLog
from course_lib.dashboard.runner import Runner
from course_lib.data.mnist import load_mnist
from course_lib.experiments import GRID, PRESETS, SEED_RUNS

SHORT = 100  # iterations of a quick run
TIMEOUT = 120  # seconds; generous, the machine may be busy


@pytest.fixture
def dash():
    d = dashboard(redraw_every=50, redraw_seconds=math.inf)
    yield d
    d.stop_button.click()
    assert d.wait(TIMEOUT), "a dashboard run did not end"


def quick(d, preset="relu_he", iters=SHORT, **values):
    """Choose a preset, shorten it, set other settings, and press Run (waiting)."""
    d.form.preset.value = preset
    d.form.widget("iters_num").value = iters
    for name, value in values.items():
        d.form.widget(name).value = value
    d.run_button.click()
    assert d.wait(TIMEOUT)
    return d


def wait_for(predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError("condition not reached in time")


def test_there_is_a_control_for_every_setting(dash):
    for name, setting in settings().items():
        assert dash.form.widget(name).description in (setting.label, "exact lr")


def test_presets_offer_seed_runs_and_grid(dash):
    values = [value for _, value in dash.form.preset.options]
    for name in SEED_RUNS + GRID:
        assert name in values
    assert len(values) == len(set(values))


def test_default_controls_are_the_seeds_first_run(dash):
    assert dash.form.preset.value == SEED_RUNS[0]
    assert dash.form.read() == PRESETS[SEED_RUNS[0]].config
    assert dash.form.controls["learning_rate"].slider.value == pytest.approx(0.1)
    assert 'data-state="idle"' in dash.status.value
    assert "no runs yet" in dash.table.value


@pytest.mark.parametrize("name", list(PRESETS))
def test_choosing_a_preset_fills_the_controls(dash, name):
    dash.form.preset.value = CUSTOM_PRESET
    dash.form.preset.value = name
    assert dash.form.read() == PRESETS[name].config
    assert PRESETS[name].observation in dash.form.note.value


def test_changing_a_control_by_hand_leaves_the_preset(dash):
    dash.form.preset.value = "relu_he"
    dash.form.widget("hidden_size_list").value = "100,50,20"
    assert dash.form.preset.value == CUSTOM_PRESET
    assert dash.form.read().hidden_size_list == (100, 50, 20)
    assert dash.form.widget("activation").value == "relu"
    # The seed is not part of a preset: changing it keeps the preset.
    dash.form.preset.value = "relu_he"
    dash.form.widget("seed").value = 3
    assert dash.form.preset.value == "relu_he"


def test_learning_rate_slider_and_box_follow_each_other(dash):
    control = dash.form.controls["learning_rate"]
    control.slider.value = 0.01
    assert control.input.value == pytest.approx(0.01)
    control.input.value = 0.5
    assert control.slider.value == pytest.approx(0.5)


def test_custom_std(dash):
    dash.form.preset.value = "relu_he"
    control = dash.form.controls["weight_init_std"]
    control.input.value = "custom"
    assert not control.custom.disabled
    control.custom.value = 0.05
    assert dash.form.read().weight_init_std == 0.05


def test_a_run_is_recorded_with_table_status_and_figures(dash):
    quick(dash, "relu_he")
    assert dash.errors == []
    assert dash.message_kind == ""
    (run,) = dash.run_log.runs()
    h = run.history
    assert h.status == "completed" and h.eval_iters[-1] == SHORT
    assert h.final_test_acc > 0.5  # relu / He learns at once
    assert dash.progress.value == SHORT == dash.progress.max
    assert bytes(dash.panels.curves.value).startswith(b"\x89PNG")
    assert dash.redraws == SHORT // 50 - 1  # the last one is the final drawing
    assert 'data-state="finished"' in dash.status.value
    assert f'data-final-test-acc="{h.final_test_acc:.3f}"' in dash.status.value
    row = run.row()
    assert row["final test acc"] == f"{h.final_test_acc:.3f}"
    assert row["settings"] == "relu / He [40,20] lr=0.1"
    assert "relu / He [40,20] lr=0.1" in dash.table.value
    assert 'data-status="completed"' in dash.table.value
    assert not dash.run_button.disabled and dash.stop_button.disabled


def test_the_data_a_run_used_is_shown(dash):
    quick(dash, "relu_he", iters=20)
    (run,) = dash.run_log.runs()
    described = run.history.data["description"]
    assert "2,000" in described or "sample" in described
    assert described in dash.status.value and described in dash.table.value


def test_runs_accumulate_and_are_overlaid(dash):
    quick(dash, "sigmoid_0.01")
    assert dash.panels.overlay.layout.display == "none"  # nothing to compare yet
    quick(dash, "relu_he", learning_rate=0.05)
    assert [r.number for r in dash.run_log.runs()] == [1, 2]
    assert dash.panels.overlay.layout.display is None
    assert bytes(dash.panels.overlay.value).startswith(b"\x89PNG")
    assert [r.label for r in dash.run_log.runs()] == [
        "#1 sigmoid / 0.01 [40,20] lr=0.1",
        "#2 relu / He [40,20] lr=0.05",
    ]
    dash.overlay.value = False
    assert dash.panels.overlay.layout.display == "none"


def test_clear_empties_the_session(dash):
    quick(dash, "relu_he")
    dash.panels.extras.selected_index = 0
    quick(dash, "relu_xavier")
    assert len(dash.run_log) == 2
    dash.clear_button.click()
    assert dash.run_log.runs() == []
    assert "no runs yet" in dash.table.value
    assert "cleared 2 runs" in dash.message
    assert dash.panels.overlay.layout.display == "none"
    # No broken image: the open panel says there is nothing to show.
    assert dash.panels.extra_images[0].layout.display == "none"
    assert "no finished run yet" in dash.panels.extra_notes[0].value
    quick(dash, "relu_he")
    assert [r.number for r in dash.run_log.runs()] == [3]


@pytest.mark.parametrize(
    ("control", "value", "expected"),
    [
        ("hidden_size_list", "40,x", "'x' is not a whole number"),
        ("hidden_size_list", "", "hidden layers is empty"),
        ("hidden_size_list", "0", "at least 1, got 0"),
        ("hidden_size_list", "-5", "at least 1, got -5"),
        ("learning_rate", 0.0, "learning rate must be a positive number"),
        ("learning_rate", -0.1, "learning rate must be a positive number"),
        ("iters_num", 0, "iterations must be a positive whole number"),
        ("batch_size", 0, "batch size must be a positive whole number"),
        ("eval_interval", 0, "eval every must be a positive whole number"),
        ("seed", -1, "seed must be a whole number >= 0"),
        ("batch_size", 8001, "larger than the training set (8000 images)"),
        ("dataset", "fashion", "could not load Fashion-MNIST"),
        ("hidden_size_list", "10000000", "GiB"),
    ],
)
def test_bad_input_shows_a_message_and_runs_nothing(dash, control, value, expected):
    dash.form.preset.value = "relu_he"
    dash.form.widget(control).value = value
    dash.run_button.click()
    assert dash.wait(TIMEOUT)
    assert dash.run_log.runs() == []
    assert dash.message_kind == "error"
    assert expected in dash.message
    assert html.escape(expected) in dash.message_box.value  # what is displayed
    assert "traceback" not in dash.message_box.value
    assert dash.errors == []  # a message for the user, not a crash
    assert not dash.run_button.disabled


def test_custom_std_must_be_positive(dash):
    control = dash.form.controls["weight_init_std"]
    control.input.value = "custom"
    control.custom.value = 0.0
    dash.run_button.click()
    assert dash.wait(TIMEOUT)
    assert dash.run_log.runs() == [] and "weight init must be a positive number" in dash.message


def test_stop_ends_the_run_within_one_evaluation_and_keeps_it(dash):
    dash.form.preset.value = "relu_he"
    dash.form.widget("iters_num").value = 1_000_000
    dash.run_button.click()
    assert dash.is_running and dash.run_button.disabled and not dash.stop_button.disabled
    wait_for(lambda: dash.live is not None and len(dash.live.eval_iters) >= 3)
    dash.stop_button.click()
    assert dash.wait(TIMEOUT)
    (run,) = dash.run_log.runs()
    h = run.history
    assert h.status == "stopped"
    assert h.final_test_acc > 0.3  # what it learned is kept
    assert "stopped at iteration" in dash.message
    assert 'data-status="stopped"' in dash.table.value
    # The axes follow what ran, not the million iterations asked for.
    assert h.x_extent == h.iterations_done < 1_000_000


def test_run_while_running_does_not_start_a_second_run(dash):
    dash.form.preset.value = "relu_he"
    dash.form.widget("iters_num").value = 1_000_000
    dash.run_button.click()
    thread = dash.runner._thread
    wait_for(lambda: dash.live is not None)
    dash.run_button.click()
    assert dash.runner._thread is thread
    assert "already going" in dash.message
    dash.stop_button.click()
    assert dash.wait(TIMEOUT)
    assert len(dash.run_log) == 1


def test_run_stop_clear_run_in_quick_succession_loses_and_duplicates_nothing(dash):
    dash.form.preset.value = "relu_he"
    dash.form.widget("iters_num").value = 200_000
    for _ in range(5):
        dash.run_button.click()
        wait_for(lambda: dash.is_running)
        dash.stop_button.click()
        dash.clear_button.click()
        dash.run_button.click()  # while the first may still be stopping
        dash.stop_button.click()
    assert dash.wait(TIMEOUT)
    numbers = [run.number for run in dash.run_log.runs()]
    assert len(numbers) == len(set(numbers))
    # Every run started is either in the log or was cleared; none is listed twice.
    assert dash.table.value.count("<tr data-run=") == len(numbers)
    for number in numbers:
        assert f'data-run="{number}"' in dash.table.value
    assert dash.errors == []


def test_toggling_the_overlay_during_a_run_sees_only_consistent_runs():
    d = dashboard(redraw_every=10, redraw_seconds=math.inf)
    quick(d, "sigmoid_0.01", iters=50)
    d.form.preset.value = "relu_he"
    d.form.widget("iters_num").value = 1_000_000
    d.run_button.click()
    wait_for(lambda: d.live is not None)
    for _ in range(40):
        d.overlay.value = not d.overlay.value
    d.stop_button.click()
    assert d.wait(TIMEOUT)
    assert d.errors == [] and d.message_kind != "error"


def test_loading_is_shown_and_stop_cancels_it():
    release = threading.Event()

    def slow_loader(dataset):
        release.wait(TIMEOUT)
        return load_mnist(normalize=True, one_hot_label=True, dataset=dataset)

    d = dashboard(loader=slow_loader)
    d.run_button.click()
    wait_for(lambda: 'data-state="loading"' in d.status.value)
    assert "loading MNIST" in d.status.value and not d.stop_button.disabled
    d.stop_button.click()
    assert d.wait(5), "Stop did not end the wait for the data"
    assert not d.run_button.disabled and d.run_log.runs() == []
    release.set()
    d.form.widget("iters_num").value = 20
    d.run(wait=True, timeout=TIMEOUT)  # the data loaded meanwhile is used
    assert len(d.run_log) == 1


def test_a_diverging_run_says_where_and_draws_no_nan(dash):
    quick(dash, "relu_he", iters=2000, learning_rate=10.0)
    (run,) = dash.run_log.runs()
    h = run.history
    assert h.status == "diverged"
    assert dash.message_kind == "error"
    assert f"diverged at iteration {h.diverged_at}" in dash.message
    assert all(math.isfinite(v) for v in h.losses + h.train_acc + h.test_acc)
    row = run.row()
    assert row["status"] == f"diverged at {h.diverged_at}"
    assert row["iterations"] == h.diverged_at  # not 0


def test_dead_relus_are_said(dash):
    quick(dash, "relu_0.01", iters=300, learning_rate=10.0)
    (run,) = dash.run_log.runs()
    assert "dead ReLUs" in dash.message and "(dead ReLUs)" in run.row()["status"]


def test_an_exception_inside_the_training_callback_is_shown(dash, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom in the loss figure")

    monkeypatch.setattr(plots, "loss_figure", broken)
    quick(dash, "relu_he")
    assert dash.run_log.runs() == []
    assert "RuntimeError: boom in the loss figure" in dash.message
    assert "traceback" in dash.message_box.value
    assert isinstance(dash.errors[-1], RuntimeError)
    assert 'data-state="error"' in dash.status.value
    assert not dash.run_button.disabled  # the dashboard is usable again
    monkeypatch.undo()
    quick(dash, "relu_he")
    assert len(dash.run_log) == 1


def test_an_exception_inside_a_click_handler_is_shown(dash, monkeypatch):
    def broken():
        raise ZeroDivisionError("boom in read")

    monkeypatch.setattr(dash.form, "read", broken)
    dash.run_button.click()
    assert not dash.is_running
    assert "ZeroDivisionError: boom in read" in dash.message
    assert isinstance(dash.errors[-1], ZeroDivisionError)


def test_data_is_loaded_once_per_dataset():
    calls = []

    def loader(dataset):
        calls.append(dataset)
        return load_mnist(normalize=True, one_hot_label=True, dataset=dataset)

    d = dashboard(loader=loader)
    quick(d, "relu_he", iters=20)
    quick(d, "sigmoid_he", iters=20)
    assert calls == ["mnist"] and len(d.run_log) == 2


def test_live_updates_come_at_least_every_redraw_every_iterations():
    d = dashboard(redraw_every=50, redraw_seconds=math.inf)
    quick(d, "relu_he", iters=150)
    assert d.redraws == 2  # at 50 and 100; then the final drawing at 150
    assert dashboard().redraw_every == 200  # the default


def test_extra_panels_are_drawn_when_opened(dash):
    dash.panels.extras.selected_index = 0  # nothing to draw before a run
    assert dash.panels.extra_images[0].layout.display == "none"
    dash.panels.extras.selected_index = None
    quick(dash, "sigmoid_0.01")
    assert bytes(dash.panels.extra_images[1].value) == b""  # closed panels cost nothing
    dash.panels.extras.selected_index = 0
    assert bytes(dash.panels.extra_images[0].value).startswith(b"\x89PNG")
    dash.panels.extras.selected_index = 1
    assert bytes(dash.panels.extra_images[1].value).startswith(b"\x89PNG")
    assert "sigmoid / 0.01" in dash.panels.extra_notes[1].value
    assert dash.errors == []


def test_runner_and_run_log_work_without_widgets(sample_data):
    events = []

    class Listener:
        def started(self, config, data):
            events.append("started")

        def evaluated(self, history):
            events.append(history.eval_iters[-1])

        def finished(self, history, seconds, snapshots):
            events.append(history.status)
            log.add(history, seconds)

    log = RunLog()
    runner = Runner(lambda dataset: sample_data, Listener())
    assert runner.start(RunConfig(iters_num=30))
    assert runner.wait(TIMEOUT)
    assert events == ["started", 10, 20, 30, "completed"]
    (run,) = log.runs()
    assert run.number == 1 and run.row()["iterations"] == 30
