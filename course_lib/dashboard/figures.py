"""Panel: a figure drawn by the plot helpers, sent as a PNG image with a caption."""

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_lib import plots

# 880 pixels: the output's width at a projector's 1280 x 720 with JupyterLab's file browser
# open. At 110 dpi the helpers' smallest text (legends, 8.3 pt) is 12.7 pixels high.
WIDTH, DPI = 880, 110


class Panel:
    """``ncols`` axes side by side (0: a helper lays out the figure), an image, a caption.

    A figure drawn whole costs ~0.13 s, mostly text, which stays while a run trains: so while
    titles and limits stay, ``show()`` draws only the curves onto the pixels kept from the
    last whole drawing (~0.04 s)."""

    def __init__(self, ncols, height=280):
        with plt.style.context(plots.STYLE):
            self.fig = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI)
            self.axes = list(np.atleast_1d(self.fig.subplots(1, ncols))) if ncols else []
        self.canvas = FigureCanvasAgg(self.fig)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.17, top=0.89, wspace=0.2)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.caption = widgets.HTML()
        self.box = widgets.VBox([self.image, self.caption])
        self._key = None  # the titles and limits of the pixels kept in _background

    def clear(self, whole=False):
        """Remove the helpers' curves, notes and legends; ``whole``: titles, scales too."""
        with plt.style.context(plots.STYLE):
            for ax in self.axes:
                for artist in _drawn(ax):
                    artist.remove()
                if whole:
                    ax.clear()
                    self._key = None
                ax.set_prop_cycle(None)  # the seed's colours start again

    def show(self, caption):
        """Send the figure as drawn now, with ``caption``: what it shows, in words."""
        key = [(ax.get_xlim(), ax.get_ylim(), ax.get_title(), ax.get_yscale()) for ax in self.axes]
        curves = [(ax, artist) for ax in self.axes for artist in _drawn(ax)]
        if key != self._key or not self.axes:
            for _, artist in curves:
                artist.set_visible(False)
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._key = key
            for _, artist in curves:
                artist.set_visible(True)
        self.canvas.restore_region(self._background)
        for ax, artist in curves:
            ax.draw_artist(artist)
        rgb = np.ascontiguousarray(np.asarray(self.canvas.buffer_rgba())[..., :3])
        buf = io.BytesIO()
        PIL.Image.fromarray(rgb).save(buf, format="png", compress_level=1)  # lives seconds
        self.image.value = buf.getvalue()
        self.image.layout.display = None
        self.caption.value = f"<small>{caption}</small>"

    def hide(self, note=""):
        """Show no image (rather than a broken one), only ``note`` if given."""
        self.image.layout.display = "none"
        self.caption.value = note


def _drawn(ax):  # what the plot helpers add to an axes: curves, notes, legend
    legend = ax.get_legend()
    return [*ax.lines, *ax.collections, *ax.texts, *([legend] if legend is not None else [])]
