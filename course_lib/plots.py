"""Figures: one helper per kind of figure, all in the seed's ggplot look.

Each draws into ``ax`` if given (the dashboard redraws its own axes), else into a new
figure, and returns the matplotlib Figure."""

import itertools
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, MaxNLocator

from course_lib.config import common_label, distinct_labels
from course_lib.diagnostics import weight_keys_in_order
from course_lib.validation import choice

STYLE = "ggplot"

# Okabe and Ito's colour-blind-safe colours (their yellow left out: too pale on ggplot's
# grey), each with its own line style, so curves stay apart in grayscale too.
LINES = cycler(
    color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#E69F00", "#56B4E9"],
    linestyle=["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 2))],
)

# Titles longer than this many characters wrap, so side-by-side panels keep theirs apart.
TITLE_WIDTH = 48
# Notes written inside the axes: a diverged run's, and a histogram's share of zeros.
DIVERGED = {"ha": "center", "va": "center", "color": "firebrick", "fontsize": 12}
NOTE_BOX = {"facecolor": "white", "alpha": 0.8, "edgecolor": "none"}
NOTE = {"ha": "right", "va": "top", "fontsize": "small", "bbox": NOTE_BOX}


def _axes(ax):
    """The figure and axes to draw on: ``ax`` if given, else a new figure's."""
    return plt.subplots(layout="constrained") if ax is None else (ax.figure, ax)


def _title(ax, text):
    ax.set_title(textwrap.fill(text, TITLE_WIDTH))


def _legend_outside(ax):
    """The legend right of the axes, where it cannot cover a curve."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")


def _accuracy_axes(ax, extent):
    ax.set_xlabel("iter")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, extent)
    # A little above 1.0: a curve at 100 % would otherwise lie on the edge and vanish.
    ax.set_ylim(0, 1.02)


def _mark_divergence(ax, history):
    if history.status == "diverged":
        text = f"diverged at iteration {history.diverged_at}"
        ax.text(0.5, 0.5, text, transform=ax.transAxes, **DIVERGED)


@plt.style.context(STYLE)  # the seed's look, whatever the notebook's style
def accuracy_figure(history, title=None, ax=None):
    """The seed's figure: training-set and test-set accuracy against iteration (the title
    names the run's settings unless ``title`` is given)."""
    fig, ax = _axes(ax)
    # Colour and line style given here: axes a notebook made elsewhere get them too.
    styles = itertools.cycle(LINES)
    ax.plot(history.eval_iters, history.train_acc, label="training set", **next(styles))
    ax.plot(history.eval_iters, history.test_acc, label="test set", **next(styles))
    ax.legend(loc="best")  # the seed's plt.legend(): out of the curves' way
    _title(ax, title or f"accuracy: {history.label}")
    _accuracy_axes(ax, history.x_extent)
    _mark_divergence(ax, history)
    return fig


@plt.style.context(STYLE)
def overlay_figure(histories, metric="test", title=None, labels=None, ax=None):
    """Several runs' accuracy curves on one axis; metric is 'test' or 'train'.

    The legend shows what differs between the runs' settings unless ``labels`` is given,
    and the default title what they share, so both name the settings that ran.
    """
    if metric not in ("test", "train"):
        raise ValueError(f"metric must be 'test' or 'train', got {metric!r}")
    fig, ax = _axes(ax)
    configs = [h.config for h in histories]
    known = all(c is not None for c in configs)
    if labels is None:
        labels = distinct_labels(configs) if known else [h.label for h in histories]
    for history, label, style in zip(histories, labels, itertools.cycle(LINES), strict=False):
        values = history.test_acc if metric == "test" else history.train_acc
        ax.plot(history.eval_iters, values, label=label, **style)
    _legend_outside(ax)
    shared = common_label(configs) if known else ""
    default = f"{'test' if metric == 'test' else 'training'}-set accuracy"
    _title(ax, title or (f"{default}: {shared}" if shared else default))
    _accuracy_axes(ax, max([h.x_extent for h in histories] + [1]))
    return fig


@plt.style.context(STYLE)
def loss_figure(history, ax=None):
    """Training loss per iteration, with a moving average over 20 iterations."""
    fig, ax = _axes(ax)
    window = 20
    losses = np.asarray(history.losses, dtype=float)
    iters = np.arange(1, len(losses) + 1)
    ax.plot(iters, losses, alpha=0.3, label="loss")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(iters[window - 1 :], smooth, label=f"mean of {window}")
    _title(ax, f"loss: {history.label}")
    ax.set_xlabel("iter")
    ax.set_ylabel("loss")
    ax.set_xlim(0, history.x_extent)
    if len(losses):
        # Where no curve is: a fixed corner hides a run whose loss stays flat near ln 10.
        ax.legend(loc="best")
    _mark_divergence(ax, history)
    return fig


def _norm_axes(ax, title, xlabel):
    """Titles, labels and legend of a gradient-norm figure: call it after drawing.

    Log y axis with minor ticks at 2 and 5 only: norms span many decades, and eight minor
    ticks per decade make shared axes slow to lay out and hard to read. Data within two
    decades gets labels at 1, 2 and 5 of each decade.
    """
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
    low, high = ax.get_ylim()
    if 0 < low and high / low < 100:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(
            LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(np.inf, np.inf))
        )
    _title(ax, title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("gradient norm ‖∂L/∂W‖")
    if ax.lines:
        _legend_outside(ax)


def _positive_points(points):
    """The (x, value) pairs that a log axis can show (finite and > 0), as xs and values."""
    shown = [(x, float(v)) for x, v in points if np.isfinite(v) and v > 0]
    return [x for x, _ in shown], [v for _, v in shown]


def _layer_tick_labels(keys):
    if len(keys) < 2:
        return list(keys)
    return [f"{keys[0]}\n(input)", *keys[1:-1], f"{keys[-1]}\n(output)"]


@plt.style.context(STYLE)
def gradient_flow_compare_figure(norms_by_label, title="gradient flow", ax=None):
    """Gradient norm of each weight matrix (log y) against the layer, one line per entry.

    norms_by_label: {label: {'W1': norm, ...}}. Zero or non-finite norms are left out (a log
    axis cannot show them) and counted in the legend.
    """
    fig, ax = _axes(ax)
    keys = weight_keys_in_order(max(norms_by_label.values(), key=len, default={}))
    for (label, norms), style in zip(norms_by_label.items(), itertools.cycle(LINES), strict=False):
        layer_keys = weight_keys_in_order(norms)
        xs, ys = _positive_points((keys.index(k), norms[k]) for k in layer_keys)
        missing = len(layer_keys) - len(xs)
        if missing:
            label = f"{label} ({missing} zero norm{'s' if missing > 1 else ''} not shown)"
        if xs:
            ax.plot(xs, ys, marker="o", label=label, **style)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(_layer_tick_labels(keys))
    _norm_axes(ax, title, "weight matrix (layer)")
    return fig


@plt.style.context(STYLE)
def gradient_flow_figure(history, ax=None, title=None):
    """Gradient norm per layer (W1 ... W_out, log y) at initialisation, at the evaluation
    nearest to iteration 100 and at the last one: one line per moment."""
    moments = {}
    if history.initial_grad_norms:
        moments["initialisation"] = history.initial_grad_norms
    if history.eval_iters:
        iters = np.asarray(history.eval_iters)
        for index in dict.fromkeys([int(np.argmin(np.abs(iters - 100))), len(iters) - 1]):
            end = " (end)" if index == len(iters) - 1 else ""
            norms = {key: values[index] for key, values in history.grad_norms.items()}
            moments[f"iter {iters[index]}{end}"] = norms
    title = title or f"gradient flow: {history.label}"
    fig = gradient_flow_compare_figure(moments, title=title, ax=ax)
    _mark_divergence(fig.axes[0] if ax is None else ax, history)
    return fig


@plt.style.context(STYLE)
def gradient_norms_figure(history, ax=None, title=None):
    """Gradient norm of each weight matrix against iteration (log y), one line per layer.

    Iteration 0 is the first batch, before any update (``history.initial_grad_norms``).
    """
    fig, ax = _axes(ax)
    keys = weight_keys_in_order(history.grad_norms or history.initial_grad_norms)
    # viridis darkens steadily from input to output layer: readable in grayscale too.
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(len(keys), 1)))
    dashes = (style["linestyle"] for style in itertools.cycle(LINES))
    labels = _layer_tick_labels(keys)
    for color, dash, label, key in zip(colors, dashes, labels, keys, strict=False):
        initial = history.initial_grad_norms
        points = [(0, initial[key])] if key in initial else []
        points += zip(history.eval_iters, history.grad_norms.get(key, []), strict=False)
        xs, ys = _positive_points(points)
        if xs:
            ax.plot(xs, ys, color=color, linestyle=dash, label=label.replace("\n", " "))
    ax.set_xlim(0, history.x_extent)
    _norm_axes(ax, title or f"gradient norms: {history.label}", "iter")
    _mark_divergence(ax, history)
    return fig


# The histograms' x range of each activation's outputs (ReLU's: up to this quantile).
ACTIVATION_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
RELU_QUANTILE = 0.99
HISTOGRAM_BINS = 30


@plt.style.context(STYLE)
def activation_histograms_figure(snapshots, activation, fig=None, title=None):
    """Histograms of each hidden layer's outputs: a column per layer, a row per snapshot.

    snapshots: {name: [outputs of layer 1, ...]} (``diagnostics.activation_snapshot``).
    activation: 'sigmoid' ([0, 1]), 'tanh' ([-1, 1]) or 'relu' (0 to the 99th percentile of
    the positive outputs; the share of exact zeros is written in the panel, not drawn).
    Bars are the fraction of all outputs of that layer. Draws into ``fig`` if given.
    """
    if not snapshots:
        raise ValueError("snapshots is empty: pass {name: [layer outputs, ...]}")
    activation = choice("activation", activation, ["sigmoid", "tanh", "relu"])
    n_rows = len(snapshots)
    n_cols = max(len(acts) for acts in snapshots.values())
    if fig is None:
        fig = plt.figure(figsize=(2.6 * n_cols + 0.8, 2.3 * n_rows + 0.6))
    fig.clear()  # a figure given is drawn anew
    # Laid out once when drawn; tight_layout() would draw the whole figure an extra time.
    fig.set_layout_engine("constrained")
    axes = np.asarray(fig.subplots(n_rows, n_cols, sharey=True, squeeze=False))
    for row, (name, acts) in enumerate(snapshots.items()):
        for col in range(n_cols):
            ax = axes[row, col]
            if col >= len(acts):
                ax.set_visible(False)
                continue
            _histogram_panel(ax, acts[col], activation)
            if row == 0:
                ax.set_title(f"layer {col + 1}")
            if row == n_rows - 1:
                ax.set_xlabel(f"{activation} output")
            if col == 0:
                ax.set_ylabel(f"{name}\nfraction")
    fig.suptitle(title or f"activations of the hidden layers ({activation})")
    return fig


def _histogram_panel(ax, outputs, activation):
    """One layer's outputs as bars of the fraction of all its outputs."""
    values = np.asarray(outputs, dtype=np.float64).ravel()
    n_all = values.size
    values = values[np.isfinite(values)]
    if activation == "relu":
        zeros = float(np.mean(values == 0)) if values.size else 0.0
        values = values[values > 0]
        lo, hi = 0.0, float(np.quantile(values, RELU_QUANTILE)) if values.size else 1.0
        note = f"exactly 0: {zeros:.0%}\nrange 0 … {hi:.2g}"
        ax.text(0.97, 0.95, note, transform=ax.transAxes, **NOTE)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    else:
        lo, hi = ACTIVATION_RANGES[activation]
    if n_all and values.size:
        counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(lo, hi))
        ax.stairs(counts / n_all, edges, fill=True, color=LINES.by_key()["color"][0])
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(MaxNLocator(4))
