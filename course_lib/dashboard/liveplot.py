"""LivePlot: a figure kept for the session and sent as PNG, redrawn cheaply while a run trains.

In the spirit of d2l's ``Animator``: clear, draw with the plot helpers, show. Figures are
drawn with Matplotlib's Agg renderer and shown as PNG, which works from a thread, headless
and in any frontend.
"""

import io

import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from course_lib import plots


def figure_png(fig):
    """Any figure as PNG bytes (fast compression: these images live for seconds)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def _drawn_artists(ax):
    """What the plot helpers add to an axes (curves, notes, legend), not the axes itself."""
    legend = ax.get_legend()
    return [*ax.lines, *ax.collections, *ax.texts, *([legend] if legend is not None else [])]


class LivePlot:
    """One or more axes side by side, drawn by the plot helpers and rendered to PNG.

    A full render costs ~0.1-0.2 s, mostly text and ticks, which do not change while a
    run trains. So ``png()`` renders the axes without the helpers' curves once, keeps
    that background, and afterwards pastes it back and draws only the curves on top
    (blitting); when a limit or a title changes, the background is rendered again.
    """

    def __init__(self, ncols, figsize=(11, 3.4), dpi=80, bottom=0.16, wspace=0.18):
        # The axes take their face colour and grid from the style when they are made.
        with plt.style.context(plots.STYLE):
            self.fig = Figure(figsize=figsize, dpi=dpi)
            self.canvas = FigureCanvasAgg(self.fig)
            self.axes = list(np.atleast_1d(self.fig.subplots(1, ncols)))
        self.fig.subplots_adjust(left=0.06, right=0.98, bottom=bottom, top=0.9, wspace=wspace)
        self._background = None
        self._key = None
        self._legends = {}

    def clear(self):
        """Remove the helpers' curves, notes and legends; keep axes, ticks and background.

        The helpers set titles, labels and limits every time they draw, and png()
        renders the background again when one of those differs.
        """
        with plt.style.context(plots.STYLE):
            for ax in self.axes:
                for artist in _drawn_artists(ax):
                    artist.remove()
                # Inside the style context: the seed's colours start again.
                ax.set_prop_cycle(None)

    def reset(self):
        """Empty the axes completely (titles, limits, scales) for a figure drawn once."""
        with plt.style.context(plots.STYLE):
            for ax in self.axes:
                ax.clear()
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
