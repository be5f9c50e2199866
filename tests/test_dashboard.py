"""The instructor dashboard, headless: set widget values, click, look at its state.

A run trains inside the Run click, so ``run_button.click()`` returns when the run has
ended. What a frontend would send during a run (Stop, a changed control) is scripted with
``during_run``: it stands in for the kernel's widget events, which the dashboard hears at
every evaluation. Data is the bundled sample (conftest sets COURSE_LIB_MNIST_SOURCE).
"""

import html
import math
import re

import pytest

from course_lib import plots
from course_lib.config import settings
from course_lib.dashboard import CUSTOM_PRESET, dashboard
from course_lib.dashboard.figures import DPI
from course_lib.data.mnist import load_mnist
from course_lib.experiments import GRID, PRESETS, SEED_RUNS

SHORT = "100"  # iterations of a quick run


@pytest.fixture
def dash():
    return dashboard(redraw_every=50)


@pytest.fixture
def during_run(monkeypatch):
    """during_run(at, action): at the at-th evaluation of each later run, do action()."""
    plan = {}

    class ScriptedEvents:
        def __init__(self):
            self.heard = 0

        def __call__(self):
            self.heard += 1
            for action in plan.get(self.heard, []):
                action()

        def close(self):
            pass

    monkeypatch.setattr("course_lib.dashboard.KernelEvents", ScriptedEvents)
    return lambda at, action: plan.setdefault(at, []).append(action)


def quick(d, preset="relu_he", iters=SHORT, **values):
    """Choose a preset, shorten it, set other controls as typed, and press Run."""
    d.form.preset.value = preset
    d.form.controls["iters_num"].value = iters
    for name, value in values.items():
        d.form.controls[name].value = value
    d.run_button.click()
    return d


def drawn_iterations(d):
    """The iterations the live curves will be drawn at, read from their caption."""
    drawn = []
    d.curves.caption.observe(
        lambda c: drawn.append(int(re.search(r"to iteration (\d+)", c["new"]).group(1))), "value"
    )
    return drawn


def test_there_is_a_control_for_every_setting(dash):
    for name, setting in settings().items():
        assert dash.form.controls[name].description == setting.label


def test_presets_offer_seed_runs_and_grid(dash):
    values = [value for _, value in dash.form.preset.options]
    for name in SEED_RUNS + GRID:
        assert name in values
    assert len(values) == len(set(values))


def test_default_controls_are_the_seeds_first_run(dash):
    assert dash.form.preset.value == SEED_RUNS[0]
    assert dash.form.read() == PRESETS[SEED_RUNS[0]].config
    assert 'data-state="idle"' in dash.status.value
    assert "no runs yet" in dash.table.value
    assert dash.curves.image.layout.display == "none"  # no empty image before a run


@pytest.mark.parametrize("name", list(PRESETS))
def test_choosing_a_preset_fills_the_controls(dash, name):
    dash.form.preset.value = CUSTOM_PRESET
    dash.form.preset.value = name
    assert dash.form.read() == PRESETS[name].config
    assert html.escape(PRESETS[name].observation) in dash.form.note.value


def test_changing_a_control_by_hand_leaves_the_preset(dash):
    dash.form.preset.value = "relu_he"
    dash.form.controls["hidden_size_list"].value = "100,50,20"
    assert dash.form.preset.value == CUSTOM_PRESET
    assert dash.form.note.value == ""  # the preset's observation no longer applies
    assert dash.form.read().hidden_size_list == (100, 50, 20)
    assert dash.form.controls["activation"].value == "relu"
    # The seed is not part of an experiment: changing it keeps the preset, and a preset
    # keeps the seed.
    dash.form.preset.value = "relu_he"
    dash.form.controls["seed"].value = "3"
    assert dash.form.preset.value == "relu_he"
    dash.form.preset.value = "sigmoid_0.01"
    assert dash.form.read().seed == 3


@pytest.mark.parametrize(
    ("typed", "expected"), [("0.05", 0.05), ("he", "He"), ("Xavier", "Xavier")]
)
def test_weight_init_takes_a_std_or_a_name(dash, typed, expected):
    dash.form.controls["weight_init_std"].value = typed
    assert dash.form.read().weight_init_std == expected


def test_a_run_is_recorded_with_table_status_and_figures(dash):
    quick(dash, "relu_he")
    assert dash.errors == [] and dash.message_kind == ""
    ((number, h, _),) = dash.runs
    assert number == 1 and h.status == "completed" and h.eval_iters[-1] == 100
    assert h.final_test_acc > 0.5  # relu / He learns at once
    assert bytes(dash.curves.image.value).startswith(b"\x89PNG")
    assert "Run #1 (relu / He [40,20] lr=0.1)" in dash.curves.caption.value
    assert dash.redraws == 1  # at 50; the end is drawn once it has ended
    assert 'data-state="finished"' in dash.status.value
    assert f'data-final-test-acc="{h.final_test_acc:.3f}"' in dash.status.value
    assert "relu / He [40,20] lr=0.1" in dash.table.value
    assert f"<td>{h.final_test_acc:.3f}</td>" in dash.table.value
    assert 'data-status="completed"' in dash.table.value
    assert not dash.run_button.disabled and dash.stop_button.disabled


def test_the_data_a_run_used_is_shown(dash):
    quick(dash, "relu_he", iters="20")
    described = dash.runs[0][1].data["description"]
    assert "sample" in described
    assert described in dash.status.value and described in dash.table.value


def test_runs_accumulate_and_are_overlaid_each_told_apart_by_its_number(dash):
    quick(dash, "sigmoid_0.01")
    assert dash.overlay.image.layout.display == "none"  # nothing to compare yet
    quick(dash, "relu_he")
    quick(dash, "relu_he")  # the same settings again: its own curve, its own label
    assert [n for n, _, _ in dash.runs] == [1, 2, 3]
    assert bytes(dash.overlay.image.value).startswith(b"\x89PNG")
    for ax in dash.overlay.axes:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["#1 sigmoid / 0.01", "#2 relu / He", "#3 relu / He"]
    assert "#3 relu / He [40,20] lr=0.1" in dash.overlay.caption.value
    assert [f'data-run="{n}"' in dash.table.value for n in (1, 2, 3)] == [True] * 3


def test_legends_are_at_least_12_pixels_high(dash):
    quick(dash, "sigmoid_0.01", iters="20")
    quick(dash, "relu_he", iters="20")
    legends = [ax.get_legend() for ax in dash.curves.axes + dash.overlay.axes]
    sizes = [text.get_fontsize() * DPI / 72 for legend in legends for text in legend.get_texts()]
    assert min(sizes) >= 12


def test_clear_empties_the_session_and_numbers_go_on(dash):
    quick(dash, "relu_he")
    quick(dash, "relu_xavier")
    dash.extras.selected_index = 0
    dash.clear_button.click()
    assert dash.runs == [] and "no runs yet" in dash.table.value
    assert "cleared 2 runs" in dash.message
    assert dash.overlay.image.layout.display == "none"
    assert dash.gradients.image.layout.display == "none"  # no broken image
    quick(dash, "relu_he")
    assert [n for n, _, _ in dash.runs] == [3]


@pytest.mark.parametrize(
    ("control", "value", "expected"),
    [
        ("hidden_size_list", "40,x", "'x' is not a whole number"),
        ("hidden_size_list", "", "hidden layers is empty"),
        ("hidden_size_list", "0", "at least 1, got 0"),
        ("learning_rate", "0", "learning rate must be a positive number"),
        ("learning_rate", "-0.1", "learning rate must be a positive number"),
        ("iters_num", "0", "iterations must be a positive whole number"),
        ("iters_num", "many", "iterations must be a positive whole number (>= 1), got 'many'"),
        ("batch_size", "0", "batch size must be a positive whole number"),
        ("eval_interval", "0", "eval every must be a positive whole number"),
        ("seed", "-1", "seed must be a whole number >= 0"),
        ("weight_init_std", "0", "weight init must be a positive number"),
        ("weight_init_std", "big", "weight init must be a positive number or one of"),
        ("batch_size", "8001", "larger than the training set (8000 images)"),
        ("dataset", "fashion", "could not load Fashion-MNIST"),
        ("hidden_size_list", "10000000", "GiB"),
    ],
)
def test_bad_input_says_what_is_wrong_in_one_line_and_runs_nothing(dash, control, value, expected):
    dash.form.preset.value = "relu_he"
    dash.form.controls[control].value = value
    dash.run_button.click()
    assert dash.runs == []
    assert dash.message_kind == "error" and 'data-state="error"' in dash.status.value
    assert re.search(re.escape(expected).replace("GB", "Gi?B"), dash.message)
    assert html.escape(dash.message) in dash.status.value  # what is displayed
    assert "\n" not in dash.message and dash.errors == []  # a message, not a crash
    assert not dash.run_button.disabled


def test_stop_during_a_run_ends_it_and_keeps_what_it_learned(dash, during_run):
    seen = []
    during_run(1, lambda: seen.append((dash.run_button.disabled, dash.stop_button.disabled)))
    during_run(1, lambda: seen.append(dash.clear_button.disabled))
    during_run(5, dash.stop_button.click)
    during_run(5, lambda: seen.append(dash.message))
    quick(dash, "relu_he", iters="1000000")
    assert seen == [(True, False), True, "stopping at the next evaluation…"]
    ((_, h, _),) = dash.runs
    assert h.status == "stopped" and 50 <= h.iterations_done < 1_000_000
    assert h.final_test_acc > 0.3  # what it learned is kept
    assert "stopped at iteration" in dash.message and "kept" in dash.message
    assert 'data-status="stopped"' in dash.table.value
    assert h.x_extent == h.iterations_done  # the axes follow what ran
    assert not dash.run_button.disabled and dash.stop_button.disabled


def test_run_stop_clear_run_in_quick_succession_loses_and_duplicates_nothing(dash, during_run):
    for click in ("run", "clear", "stop", "stop", "run", "clear"):
        during_run(2, getattr(dash, f"{click}_button").click)
    for _ in range(3):
        quick(dash, "relu_he", iters="200000")
        dash.clear_button.click()
        quick(dash, "relu_he", iters="200000")
    numbers = [n for n, _, _ in dash.runs]
    assert numbers == [6]  # each Run started one run; each Clear between runs cleared it
    assert all(h.status == "stopped" for _, h, _ in dash.runs)
    assert dash.table.value.count("<tr data-run=") == 1 and dash.errors == []


def test_controls_changed_during_a_run_update_and_the_run_keeps_its_settings(dash, during_run):
    during_run(2, lambda: setattr(dash.form.preset, "value", "sigmoid_0.01"))
    during_run(4, dash.stop_button.click)
    quick(dash, "relu_he", iters="100000")
    assert dash.form.controls["activation"].value == "sigmoid"
    assert dash.runs[0][1].config.activation == "relu"


def test_live_updates_come_at_least_every_redraw_every_iterations(dash):
    drawn = drawn_iterations(dash)
    quick(dash, "relu_he", iters="150")
    assert drawn == [50, 100, 150] and dash.redraws == 2  # the last drawing is the end's
    drawn.clear()
    quick(dash, "relu_he", iters="200", eval_interval="30")
    gaps = [b - a for a, b in zip([0, *drawn], drawn, strict=False)]
    assert drawn[-1] == 200 and max(gaps) <= 50
    assert dashboard().redraw_every == 200  # the default


def test_the_table_shows_a_run_while_it_trains(dash, during_run):
    during_run(9, lambda: seen.append(dash.table.value))
    seen = []
    quick(dash, "relu_he", iters="200")
    assert 'data-status="running"' in seen[0] and "<td>#1</td>" in seen[0]


def test_loading_is_shown_and_a_dataset_that_cannot_be_loaded_is_said():
    seen = []

    def loader(dataset):
        seen.append(d.status.value)
        if dataset == "fashion":
            raise OSError("no network and no local copy")
        return load_mnist(normalize=True, one_hot_label=True, dataset=dataset)

    d = dashboard(loader=loader)
    quick(d, "relu_he", iters="20", dataset="fashion")
    assert 'data-state="loading"' in seen[0] and "loading Fashion-MNIST" in seen[0]
    assert d.message == "could not load Fashion-MNIST: no network and no local copy"
    quick(d, "relu_he", iters="20", dataset="mnist")
    quick(d, "relu_he", iters="20", dataset="mnist")
    assert len(seen) == 2 and len(d.runs) == 2  # each dataset loaded once


def test_a_diverging_run_says_where_and_draws_no_nan(dash):
    quick(dash, "relu_he", iters="2000", learning_rate="10")
    ((_, h, _),) = dash.runs
    assert h.status == "diverged" and dash.message_kind == "error"
    assert f"diverged at iteration {h.diverged_at}" in dash.message
    assert all(math.isfinite(v) for v in h.losses + h.train_acc + h.test_acc)
    assert f"<td>diverged at {h.diverged_at}</td>" in dash.table.value


def test_dead_relus_are_said(dash):
    quick(dash, "relu_0.01", iters="300", learning_rate="10")
    assert "dead ReLUs" in dash.message and "(dead ReLUs)" in dash.table.value


def test_an_exception_inside_the_training_callback_is_shown(dash, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom in the loss figure")

    monkeypatch.setattr(plots, "loss_figure", broken)
    quick(dash, "relu_he")
    assert dash.runs == [] and "RuntimeError: boom in the loss figure" in dash.message
    assert isinstance(dash.errors[-1], RuntimeError)
    assert 'data-state="error"' in dash.status.value
    assert not dash.run_button.disabled  # the dashboard is usable again
    monkeypatch.undo()
    quick(dash, "relu_he")
    assert len(dash.runs) == 1


def test_an_exception_inside_a_click_handler_is_shown(dash, monkeypatch):
    def broken():
        raise ZeroDivisionError("boom in read")

    monkeypatch.setattr(dash.form, "read", broken)
    dash.run_button.click()
    assert not dash.running and "ZeroDivisionError: boom in read" in dash.message
    assert isinstance(dash.errors[-1], ZeroDivisionError)


def test_extra_panels_are_drawn_when_opened(dash):
    dash.extras.selected_index = 0  # nothing to draw before a run
    assert dash.gradients.image.layout.display == "none"
    dash.extras.selected_index = None
    quick(dash, "sigmoid_0.01")
    assert bytes(dash.histograms.image.value) == b""  # closed panels cost nothing
    dash.extras.selected_index = 0
    assert bytes(dash.gradients.image.value).startswith(b"\x89PNG")
    assert "Run #1 (sigmoid / 0.01" in dash.gradients.caption.value
    dash.extras.selected_index = 1
    assert bytes(dash.histograms.image.value).startswith(b"\x89PNG")
    assert "hidden layer" in dash.histograms.caption.value and dash.errors == []
