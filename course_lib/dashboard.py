"""The instructor dashboard: change the network live and watch it learn.

``dashboard()`` returns one widget; display it as a cell's value. Every run goes
through ``training.train()`` and every figure through ``plots``: the dashboard
adds controls, a background thread and bookkeeping, not a second training loop
or a second figure style.

Why a thread: a button's click handler runs on the kernel's main thread, and
while it runs the kernel cannot process the next click. Training in the handler
would make Stop unreachable, so Run starts a thread and returns at once; the
thread's ``train()`` callback checks a stop flag and returns False to end the run.

Why PNG images: figures are drawn with Matplotlib's Agg renderer into figures
that the dashboard keeps (one per panel, axes reused) and sent as ``Image``
widgets. That works from a thread, headless and in any frontend, and costs one
render per update, so live updates are throttled (every ``redraw_every``
iterations, or sooner when a run is slow, see ``redraw_seconds``).
"""

from __future__ import annotations

import html
import io
import math
import threading
import time
import traceback
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from course_lib import experiments, multi_layer_net, plots
from course_lib.data.mnist import load_mnist
from course_lib.diagnostics import activation_snapshot
from course_lib.experiments import GRID, PRESETS, SEED_RUNS
from course_lib.multi_layer_net import ACTIVATIONS, MultiLayerNet, network_label
from course_lib.training import History, train

DATASETS = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
WEIGHT_INITS = ["0.01", "Xavier", "He", "Glorot", "custom"]
CUSTOM_PRESET = ""  # the preset dropdown's value when the controls match no preset

# Enough images for an honest histogram, few enough to stay cheap.
SNAPSHOT_IMAGES = 1000


class InputError(ValueError):
    """A control holds a value that cannot be run; the message says which and why."""


def parse_hidden_sizes(text):
    """'40,20' -> [40, 20]. Raises InputError saying what is wrong."""
    try:
        return multi_layer_net.parse_hidden_sizes(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


@dataclass(frozen=True)
class RunSettings:
    """Everything one run needs, read from the controls and checked."""

    activation: str
    weight_init_std: object
    hidden_size_list: tuple
    learning_rate: float
    iters_num: int
    batch_size: int
    seed: int
    dataset: str
    eval_interval: int

    @property
    def label(self):
        text = network_label(self.activation, self.weight_init_std, self.hidden_size_list)
        text += f" lr={self.learning_rate:g}"
        if self.dataset != "mnist":
            text += f" {DATASETS[self.dataset]}"
        return text


@dataclass
class Run:
    """A finished run kept in the session: its History and how it was made."""

    number: int
    settings: RunSettings
    history: object
    seconds: float

    @property
    def label(self):
        return f"#{self.number} {self.settings.label}"


def _fmt_acc(value):
    return "–" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _init_choice(weight_init_std):
    """(dropdown value, custom std) for a preset's weight_init_std."""
    if isinstance(weight_init_std, str):
        for choice in WEIGHT_INITS:
            if choice.lower() == weight_init_std.lower():
                return choice, None
        return "custom", None
    if float(weight_init_std) == 0.01:
        return "0.01", None
    return "custom", float(weight_init_std)


def _preset_options():
    options = [("(custom settings)", CUSTOM_PRESET)]
    for i, name in enumerate(SEED_RUNS, start=1):
        options.append((f"seed {i}: {PRESETS[name].label}", name))
    for name in GRID:
        if name not in SEED_RUNS:
            options.append((f"grid: {PRESETS[name].label}", name))
    # The gradient-flow lab's five-layer networks, where there are any.
    for name in getattr(experiments, "DEEP_RUNS", []):
        options.append((f"deep: {PRESETS[name].label}", name))
    return options


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def _drawn_artists(ax):
    """What the plot helpers add to an axes (curves, notes, legend), not the axes itself."""
    legend = ax.get_legend()
    return [*ax.lines, *ax.collections, *ax.texts, *([legend] if legend is not None else [])]


def _loss_top(losses):
    """A stable upper limit for the loss axis: at least 2.5 (guessing costs ln 10 = 2.3),
    more only when a loss was larger, rounded up to 0.5."""
    return max(2.5, math.ceil(max(losses, default=0.0) * 1.02 / 0.5) * 0.5)


class _Panel:
    """A figure kept for the session and sent as PNG, drawn by the plot helpers.

    A full render of a figure costs ~0.1-0.2 s, mostly text and ticks, which do not
    change while a run trains. So a live update renders the axes once without the
    helpers' curves, keeps that background, and afterwards only pastes it back and
    draws the curves on top (blitting); when the axes' limits or titles change the
    background is rendered again.
    """

    def __init__(self, ncols, figsize=(11, 3.4), dpi=80, bottom=0.16, wspace=0.18):
        # The axes take their face colour and grid from the style when they are made.
        with plt.style.context(plots.STYLE):
            self.fig = Figure(figsize=figsize, dpi=dpi)
            self.canvas = FigureCanvasAgg(self.fig)
            self.axes = list(self.fig.subplots(1, ncols)) if ncols > 1 else [self.fig.subplots()]
        self.fig.subplots_adjust(left=0.06, right=0.98, bottom=bottom, top=0.9, wspace=wspace)
        self._background = None
        self._key = None
        self._legends = {}

    def clear(self, live=False):
        """Empty the axes for the helpers; live=True keeps axes, ticks and background.

        The helpers set titles, labels and limits every time, so between runs only
        their curves, notes and legends have to go; png() renders the background
        again when a title or a limit differs.
        """
        with plt.style.context(plots.STYLE):
            for ax in self.axes:
                if live:
                    for artist in _drawn_artists(ax):
                        artist.remove()
                    # Inside the style context: the seed's colours start again.
                    ax.set_prop_cycle(None)
                else:
                    ax.clear()
        if not live:
            self._background = None

    def png(self):
        """The figure as PNG bytes, blitting the curves onto the cached background."""
        key = [(ax.get_xlim(), ax.get_ylim(), ax.get_title()) for ax in self.axes]
        dynamic = [(ax, artist) for ax in self.axes for artist in _drawn_artists(ax)]
        if self._background is None or key != self._key:
            for _, artist in dynamic:
                artist.set_visible(False)
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._key = key
            for _, artist in dynamic:
                artist.set_visible(True)
            self._legends = {}
        else:
            self.canvas.restore_region(self._background)
        renderer = self.canvas.get_renderer()
        for ax, artist in dynamic:
            if not isinstance(artist, Legend):
                ax.draw_artist(artist)
                continue
            # A legend's text is the costliest thing drawn, and it does not change while
            # a run trains: paste the pixels of the same legend at the same place instead.
            box = artist.get_window_extent(renderer).padded(2)
            legend_key = (tuple(t.get_text() for t in artist.get_texts()), tuple(box.bounds))
            pixels = self._legends.get(legend_key)
            if pixels is None:
                ax.draw_artist(artist)
                self._legends[legend_key] = self.canvas.copy_from_bbox(box)
            else:
                self.canvas.restore_region(pixels)
        buf = io.BytesIO()
        rgb = np.asarray(self.canvas.buffer_rgba())[..., :3]  # opaque figure: no alpha
        PIL.Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="png", compress_level=1)
        return buf.getvalue()


class Dashboard(widgets.VBox):
    """The dashboard widget, carrying its state.

    State for code and tests: ``runs`` (finished runs, oldest first), ``message``
    and ``message_kind`` ('info', 'error' or ''), ``errors`` (exceptions caught in
    callbacks), ``is_running``, ``live_history`` (the run in progress), ``redraws``
    (live figure updates of the last run), ``redraw_time`` (seconds they took) and
    ``last_run_seconds`` (from Run to the finished table).
    """

    def __init__(self, *, redraw_every=200, redraw_seconds=2.0, loader=None):
        self.redraw_every = redraw_every
        self.redraw_seconds = redraw_seconds
        self._loader = loader or (
            lambda dataset: load_mnist(normalize=True, one_hot_label=True, dataset=dataset)
        )
        self._data_cache = {}
        self._draw_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._filling = False
        self.runs = []
        self.errors = []
        self.message = ""
        self.message_kind = ""
        self.live_history = None
        self.redraws = 0
        self.redraw_time = 0.0
        self.last_run_seconds = None
        self.run_count = 0

        self._build_controls()
        self._build_output()
        super().__init__(
            children=[
                self.title,
                widgets.HBox([self._left, self._right]),
                self.preset_note,
                widgets.HBox([self.run_button, self.stop_button, self.clear_button, self.overlay]),
                widgets.HBox([self.progress, self.status]),
                self.message_html,
                self.curves,
                self.overlay_image,
                self.extras,
                self.table,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.add_class("course-dashboard")
        self.preset.value = SEED_RUNS[0]  # fills the controls
        self._update_table()
        self._update_status("idle")
        # Empty axes now: the first run then only draws its curves onto them.
        self._draw_curves(History(iters_num=self.iters.value))

    # ----------------------------------------------------------------- building

    def _build_controls(self):
        style = {"description_width": "9em"}
        wide = widgets.Layout(width="26em")
        self.title = widgets.HTML("<h3>Vanishing gradients: instructor dashboard</h3>")
        self.preset = widgets.Dropdown(
            options=_preset_options(), description="preset", style=style, layout=wide
        )
        self.preset.add_class("course-preset")
        self.activation = widgets.Dropdown(
            options=sorted(ACTIVATIONS), description="activation", style=style, layout=wide
        )
        self.weight_init = widgets.Dropdown(
            options=WEIGHT_INITS, description="weight init", style=style, layout=wide
        )
        self.custom_std = widgets.FloatText(
            value=0.01, description="custom std", style=style, layout=wide, disabled=True
        )
        self.hidden = widgets.Text(
            value="40,20", description="hidden layers", placeholder="e.g. 40,20", style=style
        )
        self.hidden.layout = wide
        self.lr_slider = widgets.FloatLogSlider(
            value=0.1,
            base=10,
            min=-4,
            max=1,
            step=0.05,
            description="learning rate",
            readout_format=".3g",
            style=style,
            layout=wide,
        )
        self.lr = widgets.FloatText(value=0.1, description="exact lr", style=style, layout=wide)
        self.iters = widgets.IntText(value=2000, description="iterations", style=style)
        self.batch_size = widgets.IntText(value=100, description="batch size", style=style)
        self.seed = widgets.IntText(value=0, description="seed", style=style)
        self.dataset = widgets.Dropdown(
            options=[(label, key) for key, label in DATASETS.items()],
            description="dataset",
            style=style,
        )
        self.eval_interval = widgets.IntText(value=10, description="eval every", style=style)
        for control in (self.iters, self.batch_size, self.seed, self.dataset, self.eval_interval):
            control.layout = wide

        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.clear_button = widgets.Button(description="Clear", icon="trash")
        self.run_button.add_class("course-run-button")
        self.stop_button.add_class("course-stop-button")
        self.clear_button.add_class("course-clear-button")
        self.overlay = widgets.Checkbox(value=True, description="overlay finished runs")

        self._left = widgets.VBox(
            [
                self.preset,
                self.activation,
                self.weight_init,
                self.custom_std,
                self.hidden,
                self.lr_slider,
                self.lr,
            ]
        )
        self._right = widgets.VBox(
            [self.iters, self.batch_size, self.eval_interval, self.seed, self.dataset]
        )

        self.run_button.on_click(self._guarded(self._on_run))
        self.stop_button.on_click(self._guarded(self._on_stop))
        self.clear_button.on_click(self._guarded(self._on_clear))
        self.preset.observe(self._guarded(self._on_preset), names="value")
        self.weight_init.observe(self._guarded(self._on_weight_init), names="value")
        self.lr_slider.observe(self._guarded(self._on_lr_slider), names="value")
        self.lr.observe(self._guarded(self._on_lr_text), names="value")
        self.overlay.observe(self._guarded(lambda change: self._draw_overlay()), names="value")
        for control in (
            self.activation,
            self.weight_init,
            self.custom_std,
            self.hidden,
            self.lr,
            self.iters,
            self.batch_size,
            self.eval_interval,
        ):
            control.observe(self._guarded(self._on_setting_changed), names="value")

    def _build_output(self):
        self.preset_note = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress")
        self.progress.add_class("course-progress")
        self.status = widgets.HTML()
        self.status.add_class("course-dashboard-status")
        self.message_html = widgets.HTML()
        self.message_html.add_class("course-dashboard-message")
        image_layout = {"max_width": "100%", "height": "auto"}
        self.curves = widgets.Image(format="png", layout=image_layout)
        self.overlay_image = widgets.Image(format="png", layout=image_layout)
        self.overlay_image.layout.display = "none"
        self.gradient_image = widgets.Image(format="png", layout=image_layout)
        self.activation_image = widgets.Image(format="png", layout=image_layout)
        self.extras = widgets.Accordion(children=[self.gradient_image, self.activation_image])
        self.extras.set_title(0, "gradient flow of the last run (open to draw)")
        self.extras.set_title(1, "activation histograms of the last run (open to draw)")
        self.extras.observe(self._guarded(self._on_extras_opened), names="selected_index")
        self._extras_source = None  # (history, activation snapshots) of the latest run
        self._extras_drawn = set()
        self.table = widgets.HTML()
        self.table.add_class("course-runs-table")

        # One figure per panel, kept for the session: axes (and their ticks) are reused.
        self._curves_panel = _Panel(2)
        self._overlay_panel = _Panel(2)
        self._gradient_panel = _Panel(2, figsize=(11, 3.8), bottom=0.2, wspace=0.25)
        self._hist_fig = Figure(figsize=(11, 4.4), dpi=80)

    # ------------------------------------------------------------ error display

    def _guarded(self, handler):
        """Wrap a widget callback so that an exception is shown, not only logged."""

        def wrapper(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except Exception as exc:
                self._show_exception(exc)

        wrapper.__name__ = getattr(handler, "__name__", "handler")
        return wrapper

    def _show_exception(self, exc):
        self.errors.append(exc)
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self._set_message(f"error: {type(exc).__name__}: {exc}", "error", detail=detail)

    def _set_message(self, text, kind="info", detail=None):
        self.message = text
        self.message_kind = kind if text else ""
        if not text:
            self.message_html.value = ""
            return
        colour = {"error": "#b00020", "warning": "#8a5a00"}.get(kind, "#1a5e20")
        body = f'<b style="color:{colour}">{html.escape(text)}</b>'
        if detail:
            body += (
                f"<details><summary>traceback</summary><pre>{html.escape(detail)}</pre></details>"
            )
        self.message_html.value = f'<div class="course-message" data-kind="{kind}">{body}</div>'

    # ------------------------------------------------------------ control logic

    def _fill_from_preset(self, name):
        preset = PRESETS[name]
        self._filling = True
        try:
            self.activation.value = preset.activation
            choice, std = _init_choice(preset.weight_init_std)
            self.weight_init.value = choice
            if std is not None:
                self.custom_std.value = std
            self.hidden.value = ",".join(str(n) for n in preset.hidden_size_list)
            self.lr.value = preset.learning_rate
            self.iters.value = preset.iters_num
            self.batch_size.value = preset.batch_size
            self.eval_interval.value = preset.eval_interval
        finally:
            self._filling = False
        self.preset_note.value = (
            f"<small>シードの考察: {html.escape(preset.observation)} "
            f"(checked: {html.escape(preset.claim)})</small>"
        )

    def _on_preset(self, change):
        if change["new"] == CUSTOM_PRESET:
            self.preset_note.value = ""
            return
        self._fill_from_preset(change["new"])

    def _on_setting_changed(self, change):
        """A control changed by hand: the preset no longer describes the settings."""
        if self._filling or self.preset.value == CUSTOM_PRESET:
            return
        preset = PRESETS[self.preset.value]
        try:
            settings = self.read_settings()
        except InputError:
            settings = None
        if (
            settings is None
            or settings.activation != preset.activation
            or _init_choice(preset.weight_init_std)[0] != self.weight_init.value
            or settings.hidden_size_list != tuple(preset.hidden_size_list)
            or settings.learning_rate != preset.learning_rate
            or settings.iters_num != preset.iters_num
            or settings.batch_size != preset.batch_size
            or settings.eval_interval != preset.eval_interval
        ):
            self.preset.value = CUSTOM_PRESET

    def _on_weight_init(self, change):
        self.custom_std.disabled = change["new"] != "custom"

    def _on_lr_slider(self, change):
        if self._syncing_lr:
            return
        self._syncing_lr = True
        try:
            self.lr.value = float(f"{change['new']:.4g}")
        finally:
            self._syncing_lr = False

    def _on_lr_text(self, change):
        # The box is the exact value; the slider follows when it can show it.
        if self._syncing_lr or not change["new"] > 0:
            return
        self._syncing_lr = True
        try:
            self.lr_slider.value = change["new"]
        finally:
            self._syncing_lr = False

    _syncing_lr = False

    def read_settings(self):
        """The controls' values as RunSettings; InputError if one cannot be run."""
        hidden = parse_hidden_sizes(self.hidden.value)
        lr = self.lr.value
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise InputError(f"learning rate must be greater than 0, got {lr:g}")
        for name, control in (
            ("iterations", self.iters),
            ("batch size", self.batch_size),
            ("eval every", self.eval_interval),
        ):
            if control.value < 1:
                raise InputError(f"{name} must be at least 1, got {control.value}")
        if self.eval_interval.value > self.iters.value:
            raise InputError(
                f"eval every ({self.eval_interval.value}) is larger than iterations "
                f"({self.iters.value}): the run would never be evaluated"
            )
        if self.weight_init.value == "custom":
            std = self.custom_std.value
            if not (math.isfinite(std) and std > 0):
                raise InputError(f"custom std must be greater than 0, got {std:g}")
            weight_init_std = float(std)
        elif self.weight_init.value == "0.01":
            weight_init_std = 0.01
        else:
            weight_init_std = self.weight_init.value
        return RunSettings(
            activation=self.activation.value,
            weight_init_std=weight_init_std,
            hidden_size_list=tuple(hidden),
            learning_rate=float(lr),
            iters_num=int(self.iters.value),
            batch_size=int(self.batch_size.value),
            seed=int(self.seed.value),
            dataset=self.dataset.value,
            eval_interval=int(self.eval_interval.value),
        )

    # --------------------------------------------------------------- the buttons

    @property
    def is_running(self):
        return self._thread is not None and self._thread.is_alive()

    def _on_run(self, _button=None):
        if self.is_running:
            self._set_message(
                "a run is already going: wait for it or press Stop before starting another",
                "warning",
            )
            return
        try:
            settings = self.read_settings()
        except InputError as exc:
            self._set_message(str(exc), "error")
            return
        self._stop.clear()
        self._set_message("")
        self._set_running(True)
        self._thread = threading.Thread(
            target=self._run_in_thread, args=(settings,), name="course-dashboard-run", daemon=True
        )
        self._thread.start()

    def _on_stop(self, _button=None):
        if not self.is_running:
            self._set_message("nothing is running", "info")
            return
        self._stop.set()
        self._set_message("stopping at the next evaluation…", "info")

    def _on_clear(self, _button=None):
        count = len(self.runs)
        self.runs.clear()
        self._update_table()
        self._draw_overlay()
        if not self.is_running:
            self._draw_curves(History(iters_num=self.iters.value))
            self.gradient_image.value = b""
            self.activation_image.value = b""
            self._extras_source = None
            self.progress.value = 0
            self._update_status("idle")
        self._set_message(f"cleared {count} run{'s' if count != 1 else ''}", "info")

    def run(self, wait=True, timeout=None):
        """Press Run from code; with wait=True return when the run has ended."""
        self.run_button.click()
        if wait:
            self.wait(timeout)
        return self

    def wait(self, timeout=None):
        """Block until the current run (if any) has ended; True if none is left running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.is_running

    # ------------------------------------------------------------- the run itself

    def _set_running(self, running):
        self.run_button.disabled = running
        self.stop_button.disabled = not running

    def data(self, dataset):
        """The dataset's arrays, loaded once per session."""
        if dataset not in self._data_cache:
            self._data_cache[dataset] = self._loader(dataset)
        return self._data_cache[dataset]

    def _run_in_thread(self, settings):
        start = time.perf_counter()
        self.live_history = None
        self.redraws = 0
        self.redraw_time = 0.0
        try:
            try:
                data = self.data(settings.dataset)
            except Exception as exc:  # any loader failure is the user's to read
                self._set_message(f"could not load {DATASETS[settings.dataset]}: {exc}", "error")
                self._update_status("error")
                return
            train_size = len(data[0][0])
            if settings.batch_size > train_size:
                self._set_message(
                    f"batch size {settings.batch_size} is larger than the training set "
                    f"({train_size} images): choose at most {train_size}",
                    "error",
                )
                self._update_status("error")
                return
            network = MultiLayerNet(
                input_size=int(data[0][0][0].size),
                hidden_size_list=list(settings.hidden_size_list),
                output_size=int(data[0][1].shape[1]),
                activation=settings.activation,
                weight_init_std=settings.weight_init_std,
                seed=settings.seed,
            )
            x_snap = data[1][0][:SNAPSHOT_IMAGES]
            snapshots = {"initialisation": activation_snapshot(network, x_snap)}
            self.progress.max = settings.iters_num
            self.progress.value = 0
            self._update_status("running", settings=settings)
            self._last_redraw = (0, time.perf_counter())
            self._last_progress = 0.0
            history = train(
                network,
                data,
                iters_num=settings.iters_num,
                batch_size=settings.batch_size,
                learning_rate=settings.learning_rate,
                eval_interval=settings.eval_interval,
                seed=settings.seed,
                callback=lambda h: self._on_evaluation(h, settings),
            )
            history.settings["dataset"] = settings.dataset
            if history.status != "diverged":
                done = history.eval_iters[-1] if history.eval_iters else 0
                snapshots[f"after {done} iterations"] = activation_snapshot(network, x_snap)
            self.run_count += 1
            run = Run(self.run_count, settings, history, time.perf_counter() - start)
            self.live_history = None
            self.runs.append(run)
            self.progress.value = history.eval_iters[-1] if history.eval_iters else 0
            self._draw_curves(history)
            self._draw_overlay()
            self._extras_source = (history, snapshots)
            self._extras_drawn = set()
            self._draw_extras()
            self._update_table()
            if history.status == "diverged":
                self._set_message(history.message, "error")
            elif history.status == "stopped":
                self._set_message(
                    f"{history.message}: kept as run #{run.number} with what it learned so far",
                    "info",
                )
            self.last_run_seconds = time.perf_counter() - start
            self._update_status("finished", run=run)
        except Exception as exc:
            self._show_exception(exc)
            self._update_status("error")
        finally:
            self.live_history = None
            self._set_running(False)

    def _on_evaluation(self, history, settings):
        """train()'s callback: stop if asked, move the progress bar, redraw now and then."""
        if self._stop.is_set():
            return False
        self.live_history = history
        it = history.eval_iters[-1]
        now = time.perf_counter()
        last_it, last_time = self._last_redraw
        due = it - last_it >= self.redraw_every or now - last_time >= self.redraw_seconds
        if due and it < settings.iters_num:  # the end is drawn once the run returns
            self._draw_curves(history)
            if self.overlay.value and self.runs:
                self._draw_overlay()
            self.redraws += 1
            self._last_redraw = (it, time.perf_counter())
            self.redraw_time += self._last_redraw[1] - now
        if now - self._last_progress >= 0.1 or it == settings.iters_num:
            self.progress.value = it
            self._update_status("running", settings=settings, history=history)
            self._last_progress = now
        return not self._stop.is_set()

    # --------------------------------------------------------------- drawing

    def _draw_curves(self, history):
        panel = self._curves_panel
        acc_ax, loss_ax = panel.axes
        with self._draw_lock:
            panel.clear(live=True)
            # The seed's title; the settings are in the status line, the table and the
            # overlay. A title that stays the same lets the next run reuse the background.
            plots.accuracy_figure(history, title="accuracy", ax=acc_ax)
            plots.loss_figure(history, ax=loss_ax)
            # A loss axis from 0 that only grows: live updates keep their background.
            loss_ax.set_ylim(0, _loss_top(history.losses))
            self.curves.value = panel.png()

    def _draw_overlay(self):
        histories = [run.history for run in self.runs]
        labels = [run.label for run in self.runs]
        current = self.live_history
        if current is not None:
            histories.append(current)
            labels.append(f"(running) {current.label}")
        if not self.overlay.value or len(histories) < 2:
            self.overlay_image.layout.display = "none"
            return
        panel = self._overlay_panel
        with self._draw_lock:
            panel.clear(live=True)
            for ax, metric in zip(panel.axes, ("test", "train"), strict=True):
                plots.overlay_figure(histories, metric=metric, labels=labels, ax=ax)
            self.overlay_image.value = panel.png()
        self.overlay_image.layout.display = None

    def _on_extras_opened(self, change):
        self._draw_extras()

    def _draw_extras(self):
        """Draw the open extra panel for the latest run (closed panels cost nothing)."""
        if self._extras_source is None:
            return
        history, snapshots = self._extras_source
        panel = self.extras.selected_index
        if panel is None or panel in self._extras_drawn:
            return
        with self._draw_lock:
            if panel == 0:
                flow_ax, norms_ax = self._gradient_panel.axes
                self._gradient_panel.clear()
                plots.gradient_flow_figure(history, ax=flow_ax, title="gradient flow")
                plots.gradient_norms_figure(history, ax=norms_ax, title="gradient norms")
                self.gradient_image.value = self._gradient_panel.png()
            else:
                plots.activation_histograms_figure(
                    snapshots, activation=history.settings.get("activation"), fig=self._hist_fig
                )
                self.activation_image.value = _png(self._hist_fig)
        self._extras_drawn.add(panel)

    # ------------------------------------------------------------- status, table

    def _update_status(self, state, settings=None, history=None, run=None):
        attrs = {"data-state": state, "data-runs": str(len(self.runs))}
        if state == "idle":
            text = "ready: choose a preset or change the settings, then press Run"
        elif state == "running" and history is None:
            text = f"running {settings.label} …"
        elif state == "running":
            text = (
                f"iteration {history.eval_iters[-1]} / {settings.iters_num}: "
                f"test accuracy {_fmt_acc(history.test_acc[-1])}, {history.wall_time:.1f} s"
            )
        elif state == "finished":
            h = run.history
            attrs["data-final-test-acc"] = _fmt_acc(h.final_test_acc)
            attrs["data-final-train-acc"] = _fmt_acc(h.final_train_acc)
            attrs["data-run-status"] = h.status
            text = (
                f"run #{run.number} {h.status}: final test accuracy {_fmt_acc(h.final_test_acc)}"
                f", train {_fmt_acc(h.final_train_acc)}, {run.seconds:.1f} s"
            )
        else:
            text = "not run: see the message below"
        attr_text = " ".join(f'{k}="{html.escape(v)}"' for k, v in attrs.items())
        self.status.value = f'<span class="course-status" {attr_text}>{html.escape(text)}</span>'

    def table_rows(self):
        """The runs table as plain rows (what the HTML table shows)."""
        rows = []
        for run in self.runs:
            h = run.history
            first = h.first_iter_above(0.5)
            rows.append(
                {
                    "run": run.number,
                    "settings": run.settings.label,
                    "status": h.status
                    if h.status != "diverged"
                    else f"diverged at {h.diverged_at}",
                    "iterations": h.eval_iters[-1] if h.eval_iters else 0,
                    "final train acc": _fmt_acc(h.final_train_acc),
                    "final test acc": _fmt_acc(h.final_test_acc),
                    "test > 50 % from iter": first if first is not None else "–",
                    "time (s)": f"{run.seconds:.1f}",
                }
            )
        return rows

    def _update_table(self):
        rows = self.table_rows()
        if not rows:
            self.table.value = '<p class="course-runs-empty"><i>no runs yet</i></p>'
            return
        header = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
        body = []
        for row, run in zip(rows, self.runs, strict=True):
            cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values())
            body.append(
                f'<tr data-run="{run.number}" data-status="{run.history.status}" '
                f'data-final-test-acc="{row["final test acc"]}">{cells}</tr>'
            )
        self.table.value = (
            '<table class="course-runs" style="border-collapse:collapse" border="1" '
            f'cellpadding="4"><thead><tr>{header}</tr></thead><tbody>{"".join(body)}'
            "</tbody></table>"
        )


def dashboard(**options):
    """The instructor dashboard as one widget; display it as the cell's value.

    Options (mostly for tests): ``redraw_every`` iterations between live figure
    updates (200), ``redraw_seconds`` to redraw sooner when a run is slow (2.0),
    ``loader`` a function dataset -> load_mnist()-style data.
    """
    return Dashboard(**options)
