"""Panels: the dashboard's figures (live curves, overlay, gradient flow, histograms).

Each panel is an ``Image`` widget fed with PNGs drawn by the plot helpers. Both the
runner's thread and the kernel's main thread draw (a live update, an overlay toggled),
so every drawing holds one lock: a figure is never drawn by two threads at once.
"""

import threading

import ipywidgets as widgets
from matplotlib.figure import Figure

from course_lib import plots
from course_lib.dashboard.liveplot import LivePlot, figure_png

EXTRA_TITLES = ("gradient flow of the last run", "activation histograms of the last run")


def _image():
    return widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))


def _loss_top(losses):
    """A stable upper limit for the loss axis: at least 2.5 (guessing costs ln 10 = 2.3),
    more only when a loss was larger, rounded up to 0.5."""
    return max(2.5, -(-max(losses, default=0.0) * 1.02 // 0.5) * 0.5)


class Panels:
    """The figures of the dashboard and the widgets that show them."""

    def __init__(self):
        self.curves = _image()
        self.overlay = _image()
        self.overlay.layout.display = "none"
        self.extra_images = [_image(), _image()]
        self.extra_notes = [widgets.HTML(), widgets.HTML()]
        panels = zip(self.extra_notes, self.extra_images, strict=True)
        self.extras = widgets.Accordion(
            children=[widgets.VBox([note, image]) for note, image in panels],
            selected_index=None,
        )
        for k, title in enumerate(EXTRA_TITLES):
            self.extras.set_title(k, title)
        self._lock = threading.Lock()
        self._curves_plot = LivePlot(2)
        self._overlay_plot = LivePlot(2)
        self._gradient_plot = LivePlot(2, figsize=(11, 3.8), bottom=0.2, wspace=0.25)
        self._hist_fig = Figure(figsize=(11, 4.4), dpi=80)
        self._extras_source = None  # (history, activation snapshots) of the latest run
        self._extras_drawn = set()
        self.reset_extras()

    def draw_curves(self, history):
        """Accuracy and loss of one run (live or finished)."""
        acc_ax, loss_ax = self._curves_plot.axes
        with self._lock:
            self._curves_plot.clear()
            # The seed's title; the settings are in the status line, the table and the
            # overlay. A title that stays the same lets the next run reuse the background.
            plots.accuracy_figure(history, title="accuracy", ax=acc_ax)
            plots.loss_figure(history, ax=loss_ax)
            # A loss axis from 0 that only grows: live updates keep their background.
            loss_ax.set_ylim(0, _loss_top(history.losses))
            self.curves.value = self._curves_plot.png()

    def draw_overlay(self, histories, labels, show=True):
        """Test and train accuracy of several runs on shared axes (hidden below two runs)."""
        if not show or len(histories) < 2:
            self.overlay.layout.display = "none"
            return
        with self._lock:
            self._overlay_plot.clear()
            for ax, metric in zip(self._overlay_plot.axes, ("test", "train"), strict=True):
                plots.overlay_figure(histories, metric=metric, labels=labels, ax=ax)
            self.overlay.value = self._overlay_plot.png()
        self.overlay.layout.display = None

    def reset_extras(self):
        """No run to look inside: say so instead of an empty (broken) image."""
        self._extras_source = None
        for note, image in zip(self.extra_notes, self.extra_images, strict=True):
            note.value = "<i>no finished run yet</i>"
            image.layout.display = "none"

    def show_extras_of(self, history, snapshots):
        """Make ``history`` the run the extra panels show; draws the open one."""
        self._extras_source = (history, snapshots)
        self._extras_drawn = set()
        self.draw_extras()

    def draw_extras(self):
        """Draw the open extra panel for the latest run (closed panels cost nothing)."""
        panel = self.extras.selected_index
        source = self._extras_source
        if source is None or panel is None or panel in self._extras_drawn:
            return
        history, snapshots = source
        with self._lock:
            if panel == 0:
                flow_ax, norms_ax = self._gradient_plot.axes
                self._gradient_plot.reset()
                plots.gradient_flow_figure(history, ax=flow_ax, title="gradient flow")
                plots.gradient_norms_figure(history, ax=norms_ax, title="gradient norms")
                png = figure_png(self._gradient_plot.fig)
            else:
                activation = history.config.activation if history.config else None
                plots.activation_histograms_figure(
                    snapshots, activation=activation, fig=self._hist_fig
                )
                png = figure_png(self._hist_fig)
        self.extra_images[panel].value = png
        self.extra_images[panel].layout.display = None
        self.extra_notes[panel].value = f"<small>{history.label}</small>"
        self._extras_drawn.add(panel)
