"""The dashboard's figures: PNG images drawn by the plot helpers, each with a caption.

In the spirit of d2l's ``Animator``: clear, draw with the helpers, show. Drawn with
Matplotlib's Agg renderer and shown as PNG, which works headless and in any frontend.
"""

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_lib import plots

# 880 pixels wide, the width of a notebook's output at a projector's 1280 x 720 with the
# file browser open; 110 dpi makes the helpers' smallest text (legends, 8.3 pt) 12.7 px,
# readable from the back of a room.
WIDTH = 880
DPI = 110


def png(fig):
    """Any figure as PNG bytes (fast compression: these images live for seconds)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


class Panel:
    """A figure of ``ncols`` axes side by side (none: a helper makes its own), its Image
    widget and its caption.

    ``show()`` sends the figure. A live update would cost ~0.13 s if drawn whole, mostly
    text and ticks, which do not change while a run trains; so when titles and limits are
    those of the last time, only the curves and legends are drawn onto the pixels kept from
    then (blitting, ~0.05 s).
    """

    def __init__(self, ncols, height=280):
        with plt.style.context(plots.STYLE):
            self.fig = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI)
            self.axes = list(np.atleast_1d(self.fig.subplots(1, ncols))) if ncols else []
        FigureCanvasAgg(self.fig)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.17, top=0.89, wspace=0.2)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.caption = widgets.HTML()
        self.box = widgets.VBox([self.image, self.caption])
        self._background = None
        self._key = None

    def clear(self, whole=False):
        """Remove the helpers' curves, notes and legends; ``whole``: titles, scales too."""
        if whole:
            self._key = None  # draw it all again
        with plt.style.context(plots.STYLE):
            for ax in self.axes:
                if whole:
                    ax.clear()
                    continue
                for artist in _drawn(ax):
                    artist.remove()
                ax.set_prop_cycle(None)  # the seed's colours start again

    def show(self, caption):
        """Send the figure as drawn now, with ``caption`` (what it shows, in words)."""
        if not self.axes:
            self._send(png(self.fig), caption)
            return
        canvas = self.fig.canvas
        key = [(ax.get_xlim(), ax.get_ylim(), ax.get_title(), ax.get_yscale()) for ax in self.axes]
        curves = [(ax, artist) for ax in self.axes for artist in _drawn(ax)]
        if key != self._key:
            for _, artist in curves:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            self._key = key
            for _, artist in curves:
                artist.set_visible(True)
        else:
            canvas.restore_region(self._background)
        for ax, artist in curves:
            ax.draw_artist(artist)
        rgb = np.asarray(canvas.buffer_rgba())[..., :3]
        buf = io.BytesIO()
        PIL.Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="png", compress_level=1)
        self._send(buf.getvalue(), caption)

    def _send(self, data, caption):
        self.image.value = data
        self.image.layout.display = None
        self.caption.value = f'<small class="course-caption">{caption}</small>'

    def hide(self, note=""):
        """Show no image (rather than a broken one), only ``note`` if given."""
        self.image.layout.display = "none"
        self.caption.value = note


def _drawn(ax):
    """What the plot helpers add to an axes: curves, notes, legend."""
    legend = ax.get_legend()
    return [*ax.lines, *ax.collections, *ax.texts, *([legend] if legend is not None else [])]
