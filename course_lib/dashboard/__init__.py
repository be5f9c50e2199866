"""The instructor dashboard: change the network live and watch it learn.

Run trains in its button's handler through ``training.run()``, hearing the widget events
that came meanwhile at every evaluation (``events.py``): every widget update leaves the
kernel's main thread while the request that caused it is busy, as Colab needs."""

import functools
import html
import math
import time
import traceback

import ipywidgets as widgets

from course_lib import plots
from course_lib.config import DATASET_NAMES, SettingError, distinct_labels, settings
from course_lib.dashboard.events import KernelEvents
from course_lib.dashboard.figures import Panel
from course_lib.dashboard.form import CUSTOM_PRESET, InputError, RunForm
from course_lib.data.mnist import load_mnist
from course_lib.diagnostics import activation_snapshot
from course_lib.experiments import BATCHNORM_RUNS, DEEP_RUNS, GRID, PRESETS, SEED_RUNS
from course_lib.history import fmt_acc
from course_lib.training import run

__all__ = ["CUSTOM_PRESET", "Dashboard", "InputError", "dashboard"]

READY = "ready: choose a preset or change the settings, then press Run"
SNAPSHOT_IMAGES = 1000  # enough for honest activation histograms, few enough to be cheap
COLOURS = {"error": "#b00020", "info": "#1a5e20", "": "black"}
COLUMNS = ("run", "settings", "data", "status", "iterations", "final train acc")
COLUMNS += ("final test acc", "test > 50 % from iter", "time (s)")


def _tag(name, text, **attrs):  # data-* attributes let code and browser tests read the state
    pairs = [f' {k.strip("_").replace("_", "-")}="{html.escape(str(v))}"' for k, v in attrs.items()]
    return f"<{name}{''.join(pairs)}>{text}</{name}>"


def table_html(runs):
    """The table of runs given as (number, History, seconds so far)."""
    rows = ""
    for number, h, seconds in runs:
        status = f"diverged at {h.diverged_at}" if h.status == "diverged" else h.status
        status += " (dead ReLUs)" if h.dead_since is not None else ""
        first = h.first_iter_above(0.5) or "-"
        values = (f"#{number}", h.label, h.data.get("description"), status, h.iterations_done)
        values += (
            fmt_acc(h.final_train_acc),
            fmt_acc(h.final_test_acc),
            first,
            f"{seconds:.1f}",
        )
        cells = "".join(_tag("td", html.escape(str(v))) for v in values)
        rows += _tag("tr", cells, data_run=number, data_status=h.status)
    header = "".join(_tag("th", html.escape(column)) for column in COLUMNS)
    table = _tag("thead", _tag("tr", header)) + _tag("tbody", rows)
    return _tag("table", table, class_="course-runs", border=1) if rows else "<i>no runs yet</i>"


def _preset_options():
    label = {name: preset.config.label for name, preset in PRESETS.items()}
    options = [(f"seed {i}: {label[n]}", n) for i, n in enumerate(SEED_RUNS, start=1)]
    options += [(f"grid: {label[n]}", n) for n in GRID if n not in SEED_RUNS]
    options += [(f"deep: {label[n]}", n) for n in DEEP_RUNS]
    return options + [(f"batch norm: {label[n]}", n) for n in BATCHNORM_RUNS]


_load = functools.partial(load_mnist, normalize=True, one_hot_label=True)


class Dashboard(widgets.VBox):
    """The dashboard as one widget (the cell's value); ``runs`` holds (number, History,
    seconds), oldest first. For tests: ``redraw_every`` (iterations), ``loader(dataset)``."""

    def __init__(self, *, redraw_every=200, loader=None):
        self.redraw_every = redraw_every
        self._load = functools.lru_cache(loader or _load)  # each dataset once (not failures)
        self.form = RunForm(PRESETS, _preset_options())
        self.runs, self.errors = [], []
        self.message = self.message_kind = ""
        self.running = False
        self.redraws = 0
        self._count = 0  # runs finished: a run's number, which Clear does not reset
        self._snapshots = None  # hidden layers' outputs in the last run, for the histograms
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.clear_button = widgets.Button(description="Clear", icon="trash")
        self.status, self.table = widgets.HTML(), widgets.HTML()
        self.curves, self.overlay, self.gradients = Panel(2), Panel(2), Panel(2, height=300)
        self.histograms = Panel(0, height=360)
        self.extras = widgets.Accordion([self.gradients.box, self.histograms.box])
        self.extras.selected_index = None
        self.extras.set_title(0, "gradient flow of the last run")
        self.extras.set_title(1, "activation histograms of the last run")
        buttons = [self.run_button, self.stop_button, self.clear_button]
        for widget, name in zip(buttons, ("run", "stop", "clear"), strict=True):
            widget.add_class(f"course-{name}-button")
        self.status.add_class("course-status-line")
        self.table.add_class("course-table")
        self.run_button.on_click(self._guarded(self._on_run))
        self.stop_button.on_click(self._guarded(self._on_stop))
        self.clear_button.on_click(self._guarded(self._on_clear))
        self.extras.observe(self._guarded(self._draw_extras), "selected_index")
        parts = [self.form.box, widgets.HBox(buttons), self.status]
        super().__init__([*parts, self.curves.box, self.overlay.box, self.table, self.extras])
        self.add_class("course-dashboard")
        self.form.preset.value = SEED_RUNS[0]  # fills the controls
        self._on_clear()

    def _guarded(self, handler):  # an exception in a handler is shown, not only logged
        def wrapper(*args):
            try:
                handler(*args)
            except Exception as exc:  # a bug of ours: said, and the dashboard goes on
                self.errors.append(exc)
                self._say("error", f"error: {type(exc).__name__}: {exc}", "error")
                traceback.print_exc()  # into the kernel's log, for whoever fixes it

        return wrapper

    def _say(self, state, text, kind="", **attrs):
        """The status line: ``state`` (idle, loading, running, finished, error), ``text``."""
        self.message, self.message_kind = text, kind
        attrs.update(data_state=state, data_runs=len(self.runs), data_kind=kind)
        attrs["style"] = f"color:{COLOURS[kind]}; font-weight:{'bold' if kind else 'normal'}"
        self.status.value = _tag("span", html.escape(text), class_="course-status", **attrs)

    def _on_run(self, _button=None):
        if self.running:  # Run is disabled then; a click from code starts nothing
            return
        try:
            config = self.form.read()
        except InputError as exc:
            return self._say("error", str(exc), "error")
        self._hear = KernelEvents()
        self._stop = False
        self._set_running(True)
        try:
            self._train(config)
        finally:
            self._set_running(False)
            self._hear.close()  # the requests that came meanwhile

    def _set_running(self, running):
        self.running = self.run_button.disabled = self.clear_button.disabled = running
        self.stop_button.disabled = not running

    def _on_stop(self, _button=None):
        if self.running:
            self._stop = self.stop_button.disabled = True
            self._say("running", "stopping at the next evaluation…", "info")

    def _on_clear(self, _button=None):
        if self.running:  # Clear is disabled then; a click that was on its way does nothing
            return
        cleared = f"cleared {len(self.runs)} runs; " if self.runs else ""
        self.runs.clear()
        self._say("idle", cleared + READY)
        self.table.value = table_html(self.runs)
        for panel in (self.curves, self.overlay, self.gradients, self.histograms):
            panel.hide("<i>no run yet</i>" if panel is not self.overlay else "")

    def _train(self, config):
        self._started = time.perf_counter()
        self.redraws = self._drawn_at = self._shown_at = 0
        name = DATASET_NAMES.get(config.dataset, config.dataset)
        self._say("loading", f"loading {name}…")
        try:
            data = self._load(dataset=config.dataset)
        except Exception as exc:  # the user's to read: no network, a dataset not here
            return self._say("error", f"could not load {name}: {exc}", "error")
        images = data[1][0][:SNAPSHOT_IMAGES]
        try:
            network = config.build_network(data)
            snapshots = {"initialisation": activation_snapshot(network, images)}
            history = run(config, data, network=network, callback=self._evaluated)
        except (MemoryError, ValueError) as exc:  # too large a network or batch for the data
            named = isinstance(exc, SettingError)
            text = exc.named(settings()[exc.name].label) if named else f"not run: {exc}"
            return self._say("error", text, "error")
        if history.status != "diverged":
            after = f"after {history.iterations_done} iterations"
            snapshots[after] = activation_snapshot(network, images)
        self._count += 1
        self.runs.append((self._count, history, time.perf_counter() - self._started))
        self._snapshots = snapshots
        self._finished(*self.runs[-1])

    def _evaluated(self, history):
        """train()'s callback: hear the widget events, show the progress, go on or stop."""
        self._hear()
        it = history.eval_iters[-1]
        live = (self._count + 1, history, time.perf_counter() - self._started)
        # Drawn so that the next evaluation would be more than redraw_every iterations on.
        due = it + history.config.eval_interval - self._drawn_at > self.redraw_every
        if due and it < history.iters_num and not self._stop:  # the end is drawn at the end
            self._draw_curves(live[0], history)
            self.table.value = table_html([*self.runs, live])
            self.redraws += 1
            self._drawn_at = it
        if live[2] - self._shown_at >= 0.1 and not self._stop:
            text = f"run #{live[0]} at iteration {it} / {history.iters_num}: test accuracy "
            text += f"{fmt_acc(history.test_acc[-1])}, {live[2]:.1f} s, on "
            self._say("running", text + history.data.get("description", ""))
            self._shown_at = live[2]
        return not self._stop

    def _finished(self, number, h, seconds):
        self._draw_curves(number, h)
        self._draw_overlay()
        self._draw_extras()
        self.table.value = table_html(self.runs)
        text = f"run #{number} {h.status} on {h.data.get('description')}: final test accuracy "
        text += f"{fmt_acc(h.final_test_acc)}, train {fmt_acc(h.final_train_acc)}, {seconds:.1f} s"
        if h.status == "stopped":
            text += f"; stopped at iteration {h.iterations_done}, kept with what it learned"
        kind = "error" if h.status == "diverged" else "info" if h.message else ""
        message = f"; {h.message}" if h.message and h.status != "stopped" else ""
        self._say("finished", text + message, kind, data_final_test_acc=fmt_acc(h.final_test_acc))

    def _draw_curves(self, number, history):
        self.curves.clear()
        acc, loss = self.curves.axes
        plots.accuracy_figure(history, title=f"run #{number}: accuracy", ax=acc)
        plots.loss_figure(history, ax=loss)
        # From 0 to at least 2.5 (guessing costs ln 10), growing only: live updates are cheap.
        loss.set_ylim(0, max(2.5, math.ceil(max(history.losses, default=0) * 2.04) / 2))
        text = f"Run #{number} ({html.escape(history.label)}): training-set and test-set "
        text += f"accuracy (left) and training loss (right) to iteration {history.iterations_done}"
        self.curves.show(f"{text}; test accuracy {fmt_acc(history.final_test_acc)}.")

    def _draw_overlay(self):
        if len(self.runs) < 2:  # nothing to compare yet
            return self.overlay.hide()
        self.overlay.clear()
        histories = [h for _, h, _ in self.runs]
        short = distinct_labels([h.config for h in histories])
        labels = [f"#{n} {label}" for (n, _, _), label in zip(self.runs, short, strict=True)]
        for ax, metric in zip(self.overlay.axes, ("test", "train"), strict=True):
            plots.overlay_figure(histories, metric=metric, labels=labels, ax=ax)
        runs = html.escape(", ".join(f"#{n} {h.label}" for n, h, _ in self.runs))
        self.overlay.show(f"Test-set (left) and training-set (right) accuracy of runs {runs}.")

    def _draw_extras(self, _change=None):  # the open one only: closed panels cost nothing
        if not self.runs or self.extras.selected_index is None:
            return
        number, h, _ = self.runs[-1]
        about = f"Run #{number} ({html.escape(h.label)}):"
        if self.extras.selected_index == 0:
            self.gradients.clear(whole=True)
            plots.gradient_flow_figure(h, ax=self.gradients.axes[0], title="gradient flow")
            plots.gradient_norms_figure(h, ax=self.gradients.axes[1], title="gradient norms")
            what = "weight gradient norm of each layer at moments of training (left), by iteration"
            self.gradients.show(f"{about} {what} (right).")
        else:
            figure = self.histograms.fig
            plots.activation_histograms_figure(self._snapshots, h.config.activation, fig=figure)
            self.histograms.show(f"{about} each hidden layer's outputs, first and last.")


dashboard = Dashboard  # what the notebooks call: ``dashboard()`` as the cell's value
