"""The instructor dashboard: change the network live and watch it learn.

``dashboard()`` returns one widget; display it as a cell's value. It wires four parts:
the form (controls <-> RunConfig, ``form.py``), the runner (a background thread that
trains, ``runner.py``), the run log (finished runs behind a lock, ``runlog.py``) and live
plots (``liveplot.py``). Every run goes through ``training.run()`` and every figure
through ``plots``: no second training loop, no second figure style.

Threads: the runner calls this dashboard's listener methods (``loading`` ...
``ended``) from its own thread; the buttons' handlers run on the kernel's main thread.
What both touch is guarded: the run log has its own lock, figures are drawn under
``_draw_lock``, the table is rendered from the log under ``_table_lock``, and the main
thread sees a live run only through ``live``, a snapshot published whole.
"""

import threading
import time
import traceback

import ipywidgets as widgets

from course_lib.config import DATASET_NAMES, settings
from course_lib.dashboard.form import CUSTOM_PRESET, InputError, RunForm
from course_lib.dashboard.panels import Panels
from course_lib.dashboard.runlog import RunLog
from course_lib.dashboard.runner import Runner
from course_lib.dashboard.views import (
    finished_status,
    message_html,
    running_text,
    status_html,
    table_html,
)
from course_lib.data.mnist import load_mnist
from course_lib.experiments import BATCHNORM_RUNS, DEEP_RUNS, GRID, PRESETS, SEED_RUNS
from course_lib.history import History
from course_lib.validation import SettingError

__all__ = ["CUSTOM_PRESET", "Dashboard", "InputError", "dashboard"]

READY = "ready: choose a preset or change the settings, then press Run"


def _preset_options():
    options = [(f"seed {i}: {PRESETS[n].label}", n) for i, n in enumerate(SEED_RUNS, start=1)]
    options += [(f"grid: {PRESETS[n].label}", n) for n in GRID if n not in SEED_RUNS]
    options += [(f"deep: {PRESETS[n].label}", n) for n in DEEP_RUNS]
    options += [(f"batch norm: {PRESETS[n].label}", n) for n in BATCHNORM_RUNS]
    return options


def _load(dataset):
    return load_mnist(normalize=True, one_hot_label=True, dataset=dataset)


class Dashboard(widgets.VBox):
    """The dashboard widget, carrying its state.

    For code and tests: ``form`` (its controls: ``form.widget('iters_num')``),
    ``panels`` (the figures), ``run_log`` (finished runs), ``runner``, ``live``
    (snapshot of the run in progress), ``message`` and ``message_kind``, ``errors``
    (exceptions caught), ``redraws`` and ``redraw_time`` (live figure updates of the
    last run) and ``last_run_seconds`` (from Run to the table).
    """

    def __init__(self, *, redraw_every=200, redraw_seconds=2.0, loader=None):
        self.redraw_every = redraw_every
        self.redraw_seconds = redraw_seconds
        self.form = RunForm(PRESETS, _preset_options())
        self.run_log = RunLog()
        self.runner = Runner(loader or _load, listener=self)
        self.errors = []
        self.message = ""
        self.message_kind = ""
        self.live = None
        self.redraws = 0
        self.redraw_time = 0.0
        self.last_run_seconds = None
        self._draw_lock = threading.Lock()
        self._table_lock = threading.Lock()
        self._pressed = None
        self._build()
        self.form.preset.value = SEED_RUNS[0]  # fills the controls
        self._render_table()
        self._set_status("idle", READY)
        # Empty axes now: the first run then only draws its curves onto them.
        self.panels.draw_curves(History(config=self.form.read()))

    # ----------------------------------------------------------------- layout

    def _build(self):
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.clear_button = widgets.Button(description="Clear", icon="trash")
        for name, button in (("run", self.run_button), ("stop", self.stop_button)):
            button.add_class(f"course-{name}-button")
        self.clear_button.add_class("course-clear-button")
        self.overlay = widgets.Checkbox(value=True, description="overlay finished runs")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress")
        self.progress.add_class("course-progress")
        self.status = widgets.HTML()
        self.status.add_class("course-dashboard-status")
        self.message_box = widgets.HTML()
        self.message_box.add_class("course-dashboard-message")
        self.panels = Panels()
        self.table = widgets.HTML()
        self.table.add_class("course-runs-table")

        self.run_button.on_click(self._guarded(self._on_run))
        self.stop_button.on_click(self._guarded(self._on_stop))
        self.clear_button.on_click(self._guarded(self._on_clear))
        self.overlay.observe(self._guarded(lambda change: self._draw_overlay()), names="value")
        self.panels.extras.observe(
            self._guarded(lambda change: self.panels.draw_extras()), "selected_index"
        )

        buttons = widgets.HBox([self.run_button, self.stop_button, self.clear_button, self.overlay])
        super().__init__(
            children=[
                widgets.HTML("<h3>Vanishing gradients: instructor dashboard</h3>"),
                self.form.box,
                self.form.note,
                buttons,
                widgets.HBox([self.progress, self.status]),
                self.message_box,
                self.panels.curves,
                self.panels.overlay,
                self.panels.extras,
                self.table,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("course-dashboard")

    # ------------------------------------------------------------ messages

    def _guarded(self, handler):
        """Wrap a widget callback so that an exception is shown, not only logged."""

        def wrapper(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except Exception as exc:
                self._show_exception(exc)

        return wrapper

    def _show_exception(self, exc):
        self.errors.append(exc)
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self._set_message(f"error: {type(exc).__name__}: {exc}", "error", detail=detail)

    def _set_message(self, text, kind="info", detail=None):
        self.message = text
        self.message_kind = kind if text else ""
        self.message_box.value = message_html(text, kind, detail)

    def _set_status(self, state, text, **attrs):
        self.status.value = status_html(state, text, len(self.run_log), **attrs)

    def _set_running(self, running):
        self.run_button.disabled = running
        self.stop_button.disabled = not running

    # ------------------------------------------------------------ the buttons

    @property
    def is_running(self):
        """True while a run (or the loading of its data) is in progress."""
        return self.runner.is_running

    def _on_run(self, _button=None):
        if self.runner.stopping:
            self.runner.wait(10)  # Stop is heard at the next evaluation: moments away
        if self.runner.is_running:
            self._set_message(
                "a run is already going: wait for it or press Stop before starting another",
                "warning",
            )
            return
        try:
            config = self.form.read()
        except InputError as exc:
            self._set_message(str(exc), "error")
            return
        self._set_message("")
        self._pressed = time.perf_counter()
        self._set_running(True)
        if not self.runner.start(config):
            self._set_message("a run is already going", "warning")

    def _on_stop(self, _button=None):
        if not self.runner.is_running:
            self._set_message("nothing is running", "info")
            return
        self.runner.stop()
        self._set_message("stopping at the next evaluation…", "info")

    def _on_clear(self, _button=None):
        count = self.run_log.clear()
        self._render_table()
        self._draw_overlay()
        if not self.runner.is_running:
            self.panels.draw_curves(History(config=self._config_or_none()))
            self.panels.reset_extras()
            self.progress.value = 0
            self._set_status("idle", READY)
        self._set_message(f"cleared {count} run{'s' if count != 1 else ''}", "info")

    def _config_or_none(self):
        try:
            return self.form.read()
        except InputError:
            return None

    def run(self, wait=True, timeout=None):
        """Press Run from code; with wait=True return when the run has ended."""
        self.run_button.click()
        if wait:
            self.wait(timeout)
        return self

    def wait(self, timeout=None):
        """Block until the current run (if any) has ended; True if none is left running."""
        return self.runner.wait(timeout)

    # ---------------------------------------- the runner's listener (its thread)

    def loading(self, config):
        self.live = None
        self.redraws = 0
        self.redraw_time = 0.0
        self.progress.value = 0
        self._set_running(True)
        self._set_status("loading", f"loading {DATASET_NAMES.get(config.dataset)}…")

    def started(self, config, data):
        self.progress.max = config.iters_num
        description = getattr(data, "description", None) or DATASET_NAMES[config.dataset]
        self._set_status("running", f"running {config.label} on {description}…")
        self._last_redraw = (0, time.perf_counter())
        self._last_progress = 0.0

    def evaluated(self, history):
        it = history.eval_iters[-1]
        now = time.perf_counter()
        last_it, last_time = self._last_redraw
        due = it - last_it >= self.redraw_every or now - last_time >= self.redraw_seconds
        if due and it < history.iters_num:  # the end is drawn once the run returns
            self.live = history.snapshot()  # published whole: the main thread reads it
            self.panels.draw_curves(self.live)
            if self.overlay.value and len(self.run_log):
                self._draw_overlay()
            self.redraws += 1
            self._last_redraw = (it, time.perf_counter())
            self.redraw_time += self._last_redraw[1] - now
        if now - self._last_progress >= 0.1:
            self.progress.value = it
            self._set_status("running", running_text(history))
            self._last_progress = now

    def finished(self, history, seconds, snapshots):
        run = self.run_log.add(history, seconds)
        self.live = None
        self.progress.value = history.iterations_done
        self.panels.draw_curves(history)
        self._draw_overlay()
        self.panels.show_extras_of(history, snapshots)
        self._render_table()
        if history.status == "diverged":
            self._set_message(history.message, "error")
        elif history.message:
            kept = f": kept as run #{run.number} with what it learned so far"
            stopped = history.status == "stopped"
            self._set_message(history.message + (kept if stopped else ""), "info")
        if self._pressed is not None:
            self.last_run_seconds = time.perf_counter() - self._pressed
        self.status.value = finished_status(run, len(self.run_log))

    def failed(self, exc, config, loading):
        self.live = None
        if loading:
            dataset = DATASET_NAMES.get(config.dataset)
            self._set_message(f"could not load {dataset}: {exc}", "error")
        elif isinstance(exc, SettingError):
            self._set_message(exc.named(settings(all_fields=True)[exc.name].label), "error")
        elif isinstance(exc, (MemoryError, OSError, ValueError)):
            # The user's to read (too large a network, data that cannot be loaded).
            self._set_message(f"not run: {exc}", "error")
        else:
            self._show_exception(exc)
        self._set_status("error", "not run: see the message below")

    def cancelled(self, config):
        self._set_status("idle", f"stopped while loading {DATASET_NAMES.get(config.dataset)}")
        self._set_message("stopped before training began; the data goes on loading", "info")

    def ended(self):
        self.live = None
        self._set_running(False)

    def _draw_overlay(self):
        runs = self.run_log.runs()
        histories = [run.history for run in runs]
        labels = [run.label for run in runs]
        live = self.live
        if live is not None:
            histories.append(live)
            labels.append(f"(running) {live.label}")
        self.panels.draw_overlay(histories, labels, show=self.overlay.value)

    def _render_table(self):
        # Read the log and show it in one step: the last render shows the latest log.
        with self._table_lock:
            self.table.value = table_html(self.run_log.runs())


def dashboard(**options):
    """The instructor dashboard as one widget; display it as the cell's value.

    Options (mostly for tests): ``redraw_every`` iterations between live figure
    updates (200), ``redraw_seconds`` to redraw sooner when a run is slow (2.0),
    ``loader`` a function dataset -> load_mnist()-style data.
    """
    return Dashboard(**options)
