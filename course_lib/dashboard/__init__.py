"""The instructor dashboard: change the network live and watch it learn.

``dashboard()`` returns one widget; display it as a cell's value. Run trains inside the
Run button's handler, on the kernel's main thread, through ``training.run()``. Between
evaluations it handles the widget events that arrived meanwhile (Stop, a changed control:
``events.py``) and redraws its curves, so every widget update is sent from the main
thread while the request that caused it is busy (Colab shows nothing else). During a run
the kernel is busy, as with any cell that trains: other cells wait until it ends.
Parts: the controls (``form.py``), the figures (``figures.py``), the events (``events.py``).
"""

import html
import math
import time
import traceback
from dataclasses import dataclass

import ipywidgets as widgets

from course_lib import plots
from course_lib.config import DATASET_NAMES, SettingError, distinct_labels, settings
from course_lib.dashboard.events import KernelEvents
from course_lib.dashboard.figures import Panel
from course_lib.dashboard.form import CUSTOM_PRESET, InputError, RunForm
from course_lib.data.mnist import load_mnist
from course_lib.diagnostics import activation_snapshot
from course_lib.experiments import BATCHNORM_RUNS, DEEP_RUNS, GRID, PRESETS, SEED_RUNS
from course_lib.history import History
from course_lib.training import run

__all__ = ["CUSTOM_PRESET", "Dashboard", "InputError", "dashboard"]

READY = "ready: choose a preset or change the settings, then press Run"
SNAPSHOT_IMAGES = 1000  # enough for honest activation histograms, few enough to be cheap
COLOURS = {"error": "#b00020", "warning": "#8a5a00", "info": "#1a5e20"}
NO_RUN = "<i>no finished run yet</i>"


def fmt(value):
    """An accuracy with three decimals, or a dash if there is none."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _attributes(attrs):
    return " ".join(f'{k}="{html.escape(str(v))}"' for k, v in attrs.items())


@dataclass(frozen=True)
class Run:
    """A run of the session: its number, its History and how long it took (so far)."""

    number: int
    history: History
    seconds: float

    @property
    def label(self):
        return f"#{self.number} {self.history.label}"

    def row(self):
        """The run as the table shows it."""
        h = self.history
        first = h.first_iter_above(0.5)
        status = f"diverged at {h.diverged_at}" if h.status == "diverged" else h.status
        return {
            "run": f"#{self.number}",
            "settings": h.label,
            "data": h.data.get("description", ""),
            "status": status + (" (dead ReLUs)" if h.dead_since is not None else ""),
            "iterations": h.iterations_done,
            "final train acc": fmt(h.final_train_acc),
            "final test acc": fmt(h.final_test_acc),
            "test > 50 % from iter": first if first is not None else "–",
            "time (s)": f"{self.seconds:.1f}",
        }


def table_html(runs):
    """The runs table, one row per run."""
    if not runs:
        return '<p class="course-runs-empty"><i>no runs yet</i></p>'
    rows = [run.row() for run in runs]
    header = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = ""
    for run_, row in zip(runs, rows, strict=True):
        attrs = {"data-run": run_.number, "data-status": run_.history.status}
        attrs["data-final-test-acc"] = row["final test acc"]
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values())
        body += f"<tr {_attributes(attrs)}>{cells}</tr>"
    return (
        '<table class="course-runs" border="1" cellpadding="4" style="border-collapse:collapse">'
        f"<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
    )


def _preset_options():
    options = [(f"seed {i}: {PRESETS[n].label}", n) for i, n in enumerate(SEED_RUNS, start=1)]
    options += [(f"grid: {PRESETS[n].label}", n) for n in GRID if n not in SEED_RUNS]
    options += [(f"deep: {PRESETS[n].label}", n) for n in DEEP_RUNS]
    options += [(f"batch norm: {PRESETS[n].label}", n) for n in BATCHNORM_RUNS]
    return options


def _load(dataset):
    return load_mnist(normalize=True, one_hot_label=True, dataset=dataset)


def _loss_top(losses):
    """A loss axis from 0 to at least 2.5 (guessing costs ln 10 = 2.3), rounded up to 0.5."""
    return max(2.5, -(-max(losses, default=0.0) * 1.02 // 0.5) * 0.5)


class Dashboard(widgets.VBox):
    """The dashboard widget, carrying its state.

    For code and tests: ``form`` (its controls: ``form.widget('iters_num')``), ``runs``
    (finished runs, oldest first), ``running``, ``message`` and ``message_kind``,
    ``errors`` (exceptions caught), ``redraws`` (live figure updates of the last run),
    ``curves``, ``overlay``, ``gradients``, ``histograms`` (the figures' panels).
    """

    def __init__(self, *, redraw_every=200, loader=None, events=None):
        self.redraw_every = redraw_every
        self._load = loader or _load
        self._events = events  # heard between evaluations; default: the kernel's
        self.form = RunForm(PRESETS, _preset_options())
        self.runs = []
        self.errors = []
        self.message = self.message_kind = ""
        self.running = False
        self.redraws = 0
        self._count = 0  # runs finished in this session: Clear does not renumber
        self._data = {}
        self._stop = False
        self._hear = None
        self._last = None  # (Run, activation snapshots) that the extra panels show
        self._build()
        self.form.preset.value = SEED_RUNS[0]  # fills the controls
        self._show_idle()

    def _build(self):
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.clear_button = widgets.Button(description="Clear", icon="trash")
        self.overlay_box = widgets.Checkbox(value=True, description="overlay finished runs")
        self.progress = widgets.IntProgress(value=0, min=0, max=1)
        self.status, self.message_box, self.table = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.curves, self.overlay, self.gradients = Panel(2), Panel(2), Panel(2, height=300)
        self.histograms = Panel(0, height=360)
        self.extras = widgets.Accordion([self.gradients.box, self.histograms.box])
        self.extras.selected_index = None
        for k, title in enumerate(("gradient flow", "activation histograms")):
            self.extras.set_title(k, f"{title} of the last run")
        for name in ("run", "stop", "clear"):
            button = getattr(self, f"{name}_button")
            button.on_click(self._guarded(getattr(self, f"_on_{name}")))
        for name in ("run_button", "stop_button", "clear_button", "overlay_box"):
            getattr(self, name).add_class(f"course-{name.replace('_', '-')}")
        self.status.add_class("course-status-line")
        self.message_box.add_class("course-message-box")
        self.table.add_class("course-table")
        self.overlay_box.observe(self._guarded(self._draw_overlay), "value")
        self.extras.observe(self._guarded(self._draw_extras), "selected_index")
        buttons = [self.run_button, self.stop_button, self.clear_button, self.overlay_box]
        super().__init__(
            [
                self.form.box,
                widgets.HBox([*buttons, self.progress]),
                self.status,
                self.message_box,
                self.curves.box,
                self.overlay.box,
                self.table,
                self.extras,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("course-dashboard")

    # ------------------------------------------------------------ messages

    def _guarded(self, handler):
        """A widget callback whose exception is shown in the dashboard, not only logged."""

        def wrapper(*args):
            try:
                handler(*args)
            except Exception as exc:
                self.errors.append(exc)
                detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                self._say(f"error: {type(exc).__name__}: {exc}", "error", detail)
                self._status("error", "not run: see the message below")

        return wrapper

    def _say(self, text, kind="info", detail=None):
        self.message, self.message_kind = text, (kind if text else "")
        body = f'<b style="color:{COLOURS[kind]}">{html.escape(text)}</b>' if text else ""
        if detail:
            body += f"<details><summary>traceback</summary><pre>{html.escape(detail)}</pre>"
            body += "</details>"
        self.message_box.value = f'<div class="course-message" data-kind="{kind}">{body}</div>'

    def _status(self, state, text, **attrs):
        attrs = {"data-state": state, "data-runs": len(self.runs), **attrs}
        self.status.value = (
            f'<span class="course-status" {_attributes(attrs)}>{html.escape(text)}</span>'
        )

    def _fail(self, text):
        self._say(text, "error")
        self._status("error", "not run: see the message below")

    def _show_idle(self):
        self.progress.value = 0
        self._status("idle", READY)
        self.table.value = table_html(self.runs)
        try:
            self._draw_curves(History(config=self.form.read()))
        except InputError:
            pass  # the empty axes stay as they were
        self.gradients.hide(NO_RUN)
        self.histograms.hide(NO_RUN)
        self._draw_overlay()

    # ------------------------------------------------------------ the buttons

    def _on_run(self, _button=None):
        if self.running:
            self._say("a run is going: wait for it or press Stop before the next", "warning")
            return
        try:
            config = self.form.read()
        except InputError as exc:
            self._say(str(exc), "error")
            return
        self._say("")
        self._hear = self._events or KernelEvents()
        self.running, self._stop = True, False
        self.run_button.disabled, self.stop_button.disabled = True, False
        try:
            self._train(config)
        finally:
            self.running = False
            self.run_button.disabled, self.stop_button.disabled = False, True
            if hasattr(self._hear, "close"):
                self._hear.close()

    def _on_stop(self, _button=None):
        if not self.running:
            self._say("nothing is running", "info")
            return
        self._stop = True
        self.stop_button.disabled = True
        self._say("stopping at the next evaluation…", "info")

    def _on_clear(self, _button=None):
        count = len(self.runs)
        self.runs.clear()
        if self.running:
            self.table.value = table_html(self.runs)
            self._draw_overlay()
        else:
            self._last = None
            self._show_idle()
        self._say(f"cleared {count} run{'s' if count != 1 else ''}", "info")

    def run(self):
        """Press Run from code; returns when the run has ended."""
        self.run_button.click()
        return self

    # ------------------------------------------------------------ a run

    def _train(self, config):
        started = time.perf_counter()
        name = DATASET_NAMES.get(config.dataset, config.dataset)
        self.progress.value, self.redraws = 0, 0
        self._status("loading", f"loading {name}…")
        try:
            if config.dataset not in self._data:
                self._data[config.dataset] = self._load(config.dataset)
        except Exception as exc:  # the user's to read: no network, a dataset not here
            self._fail(f"could not load {name}: {exc}")
            return
        data = self._data[config.dataset]
        images = data[1][0][:SNAPSHOT_IMAGES]
        described = getattr(data, "description", None) or name
        try:
            network = config.build_network_for(data)
            snapshots = {"initialisation": activation_snapshot(network, images)}
            self.progress.max = config.iters_num
            self._status("running", f"running {config.label} on {described}…")
            self._drawn_at, self._shown_at, self._started = 0, 0.0, started
            history = run(config, data, network=network, callback=self._evaluated)
        except SettingError as exc:  # batch larger than the training set ...
            self._fail(exc.named(settings(all_fields=True)[exc.name].label))
            return
        except (MemoryError, ValueError) as exc:  # a network too large, data that does not fit
            self._fail(f"not run: {exc}")
            return
        if history.status != "diverged":
            after = f"after {history.iterations_done} iterations"
            snapshots[after] = activation_snapshot(network, images)
        self._finished(history, time.perf_counter() - started, snapshots)

    def _evaluated(self, history):
        """train()'s callback: hear the widget events, show the progress, go on or stop."""
        self._hear()
        it = history.eval_iters[-1]
        interval = history.config.eval_interval if history.config else 1
        due = it + interval - self._drawn_at > self.redraw_every
        if due and it < history.iters_num and not self._stop:
            self._draw_curves(history)
            live = Run(self._count + 1, history, time.perf_counter() - self._started)
            self.table.value = table_html([*self.runs, live])
            self.redraws += 1
            self._drawn_at = it
        if time.perf_counter() - self._shown_at >= 0.1:
            self.progress.value = it
            seconds = time.perf_counter() - self._started
            text = f"run #{self._count + 1} at iteration {it} / {history.iters_num}: "
            text += f"test accuracy {fmt(history.test_acc[-1])}, {seconds:.1f} s "
            self._status("running", text + f"({history.data.get('description', '')})")
            self._shown_at = time.perf_counter()
        return not self._stop

    def _finished(self, history, seconds, snapshots):
        self._count += 1
        run_ = Run(self._count, history, seconds)
        self.runs.append(run_)
        self.progress.value = history.iterations_done
        self._draw_curves(history)
        self._draw_overlay()
        self._last = (run_, snapshots, set())
        self._draw_extras()
        self.table.value = table_html(self.runs)
        if history.status == "diverged":
            self._say(history.message, "error")
        elif history.status == "stopped":
            done = f"stopped at iteration {history.iterations_done}: kept as run #{run_.number}"
            self._say(f"{done} with what it learned so far", "info")
        elif history.message:
            self._say(history.message, "info")
        text = f"run #{run_.number} {history.status}: final test accuracy "
        text += f"{fmt(history.final_test_acc)}, train {fmt(history.final_train_acc)}, "
        text += f"{seconds:.1f} s, on {history.data.get('description', 'the data')}"
        attrs = {"data-final-test-acc": fmt(history.final_test_acc)}
        attrs["data-run-status"] = history.status
        attrs["data-source"] = history.data.get("source") or ""
        self._status("finished", text, **attrs)

    # ------------------------------------------------------------ figures

    def _draw_curves(self, history):
        number = self._count + (0 if history.status != "running" else 1)
        self.curves.clear()
        acc, loss = self.curves.axes
        title = f"run #{number}: accuracy" if history.eval_iters else "accuracy"
        plots.accuracy_figure(history, title=title, ax=acc)
        plots.loss_figure(history, ax=loss)
        loss.set_ylim(0, _loss_top(history.losses))  # grows only: live updates stay cheap
        if not history.eval_iters:
            self.curves.show(f"No run yet: the axes of {html.escape(history.label)}.")
            return
        it = history.eval_iters[-1]
        caption = f"Run #{number} ({html.escape(history.label)}): training-set and test-set "
        caption += f"accuracy (left) and training loss (right) up to iteration {it}; "
        self.curves.show(caption + f"test accuracy {fmt(history.test_acc[-1])}.")

    def _draw_overlay(self, _change=None):
        if not self.overlay_box.value or len(self.runs) < 2:
            self.overlay.hide()
            return
        self.overlay.clear()
        histories = [run_.history for run_ in self.runs]
        short = distinct_labels([h.config for h in histories])
        labels = [f"#{r.number} {label}" for r, label in zip(self.runs, short, strict=True)]
        for ax, metric in zip(self.overlay.axes, ("test", "train"), strict=True):
            plots.overlay_figure(histories, metric=metric, labels=labels, ax=ax)
        caption = "Test-set (left) and training-set (right) accuracy of the finished runs: "
        self.overlay.show(caption + html.escape("; ".join(r.label for r in self.runs)) + ".")

    def _draw_extras(self, _change=None):
        """Draw the open extra panel for the last run (closed panels cost nothing)."""
        panel = self.extras.selected_index
        if self._last is None or panel is None or panel in self._last[2]:
            return
        run_, snapshots, drawn = self._last
        history = run_.history
        if panel == 0:
            self.gradients.clear(whole=True)
            flow, norms = self.gradients.axes
            plots.gradient_flow_figure(history, ax=flow, title="gradient flow")
            plots.gradient_norms_figure(history, ax=norms, title="gradient norms")
            what = "gradient norm of each layer's weights at moments of training (left) and "
            self.gradients.show(f"Run {html.escape(run_.label)}: {what}against iteration (right).")
        else:
            activation = history.config.activation
            plots.activation_histograms_figure(snapshots, activation, fig=self.histograms.fig)
            what = "histograms of each hidden layer's outputs at initialisation and at the end."
            self.histograms.show(f"Run {html.escape(run_.label)}: {what}")
        drawn.add(panel)


def dashboard(**options):
    """The instructor dashboard as one widget; display it as the cell's value.

    Options (mostly for tests): ``redraw_every`` iterations at most between live figure
    updates (200); ``loader`` a function dataset -> load_mnist()-style data; ``events`` a
    function called between evaluations instead of hearing the kernel's widget events.
    """
    return Dashboard(**options)
