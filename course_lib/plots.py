"""Figures: one helper per kind of figure, all in the seed's ggplot look.

Every helper draws into ``ax`` when given one (the dashboard redraws its own
axes) and otherwise makes a new figure. Each returns the matplotlib Figure.
"""

import functools
import itertools
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, MaxNLocator

from course_lib.config import common_label, distinct_labels
from course_lib.diagnostics import weight_keys_in_order

STYLE = "ggplot"

# Okabe and Ito's colour-blind-safe colours (their yellow left out: too pale on ggplot's
# grey), each with its own line style, so curves stay apart in grayscale too.
LINES = cycler(
    color=["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#E69F00", "#56B4E9"],
    linestyle=["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 2))],
)

# Titles longer than this many characters wrap, so side-by-side panels keep theirs apart.
TITLE_WIDTH = 48


def _axes(ax, figsize=(6.4, 4.8)):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _styled(func):
    """Draw inside the ggplot style context, so the seed's look holds anywhere."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with plt.style.context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def _line_styles():
    """Colour and line style for each next line, also on axes a caller made elsewhere."""
    return itertools.cycle(LINES)


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
        ax.text(
            0.5,
            0.5,
            f"diverged at iteration {history.diverged_at}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="firebrick",
            fontsize=12,
        )


@_styled
def accuracy_figure(history, title=None, ax=None):
    """The seed's figure: training-set and test-set accuracy against iteration.

    The title names the run's settings unless ``title`` is given.
    """
    fig, ax = _axes(ax)
    styles = _line_styles()
    ax.plot(history.eval_iters, history.train_acc, label="training set", **next(styles))
    ax.plot(history.eval_iters, history.test_acc, label="test set", **next(styles))
    ax.legend(loc="best")  # the seed's plt.legend(): out of the curves' way
    _title(ax, title or f"accuracy: {history.label}")
    _accuracy_axes(ax, history.x_extent)
    _mark_divergence(ax, history)
    return fig


@_styled
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
    for history, label, style in zip(histories, labels, _line_styles(), strict=False):
        values = history.test_acc if metric == "test" else history.train_acc
        ax.plot(history.eval_iters, values, label=label, **style)
    _legend_outside(ax)
    shared = common_label(configs) if known else ""
    default = f"{'test' if metric == 'test' else 'training'}-set accuracy"
    _title(ax, title or (f"{default}: {shared}" if shared else default))
    _accuracy_axes(ax, max([h.x_extent for h in histories] + [1]))
    return fig


@_styled
def loss_figure(history, ax=None, window=20):
    """Training loss per iteration, with a moving average over ``window`` iterations."""
    fig, ax = _axes(ax)
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


# --- Gradient flow -------------------------------------------------------------------------


def _log_y(ax):
    """Log y axis with minor ticks at 2 and 5 only: norms span many decades, and eight
    minor ticks per decade make shared axes slow to lay out and hard to read. Call it
    after drawing: data within two decades gets labels at 1, 2 and 5 of each decade."""
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
    low, high = ax.get_ylim()
    if 0 < low and high / low < 100:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(
            LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(np.inf, np.inf))
        )


def _positive_points(xs, values):
    """The (x, value) pairs that a log axis can show: finite and > 0."""
    points = [(x, float(v)) for x, v in zip(xs, values, strict=True) if np.isfinite(v) and v > 0]
    return [p[0] for p in points], [p[1] for p in points]


def _layer_tick_labels(keys):
    labels = list(keys)
    if len(labels) > 1:
        labels[0] += "\n(input)"
        labels[-1] += "\n(output)"
    return labels


@_styled
def gradient_flow_compare_figure(norms_by_label, title="gradient flow", ax=None):
    """Gradient norm of each weight matrix (log y) against the layer, one line per entry.

    norms_by_label: {label: {'W1': norm, 'W2': norm, ...}}, e.g. several runs at
    initialisation. Zero or non-finite norms are left out (a log axis cannot show them)
    and counted in the legend.
    """
    fig, ax = _axes(ax)
    keys = []
    for norms in norms_by_label.values():
        if len(norms) > len(keys):
            keys = weight_keys_in_order(norms)
    positions = {key: i for i, key in enumerate(keys)}
    drawn = False
    for (label, norms), style in zip(norms_by_label.items(), _line_styles(), strict=False):
        layer_keys = weight_keys_in_order(norms)
        xs, ys = _positive_points(
            [positions[k] for k in layer_keys], [norms[k] for k in layer_keys]
        )
        missing = len(layer_keys) - len(xs)
        if missing:
            label = f"{label} ({missing} zero norm{'s' if missing > 1 else ''} not shown)"
        if xs:
            ax.plot(xs, ys, marker="o", label=label, **style)
            drawn = True
    _log_y(ax)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(_layer_tick_labels(keys))
    ax.set_xlabel("weight matrix (layer)")
    ax.set_ylabel("gradient norm ‖∂L/∂W‖")
    _title(ax, title)
    if drawn:
        _legend_outside(ax)
    return fig


def _nearest_eval(history, iteration):
    """Index of the evaluation nearest to ``iteration`` (None if there is none)."""
    if not history.eval_iters:
        return None
    iters = np.asarray(history.eval_iters)
    return int(np.argmin(np.abs(iters - iteration)))


def gradient_flow_moments(history, moments=None):
    """{label: {'W1': norm, ...}} for the moments of a run that gradient_flow_figure draws.

    moments: iterations; 0 means initialisation (``history.initial_grad_norms``), others
    the nearest evaluation. Default: initialisation, ~100 iterations and the end.
    """
    if moments is None:
        moments = [0, 100]
        if history.eval_iters:
            moments.append(history.eval_iters[-1])
    result = {}
    last = history.eval_iters[-1] if history.eval_iters else None
    for moment in moments:
        if moment <= 0:
            if history.initial_grad_norms:
                result["initialisation"] = dict(history.initial_grad_norms)
            continue
        index = _nearest_eval(history, moment)
        if index is None:
            continue
        it = history.eval_iters[index]
        label = f"iter {it}" + (" (end)" if it == last else "")
        result[label] = {key: values[index] for key, values in history.grad_norms.items()}
    return result


@_styled
def gradient_flow_figure(history, moments=None, ax=None, title=None):
    """Gradient norm per layer (W1 ... W_out, log y), one line per moment of training.

    moments: iterations to show; 0 is initialisation, others use the nearest evaluation.
    Default: at initialisation, after ~100 iterations and at the end of the run.
    """
    fig = gradient_flow_compare_figure(
        gradient_flow_moments(history, moments),
        title=title or f"gradient flow: {history.label}",
        ax=ax,
    )
    _mark_divergence(fig.axes[0] if ax is None else ax, history)
    return fig


@_styled
def gradient_norms_figure(history, ax=None, title=None):
    """Gradient norm of each weight matrix against iteration (log y), one line per layer.

    Iteration 0 is the first batch, before any update (``history.initial_grad_norms``).
    """
    fig, ax = _axes(ax)
    keys = weight_keys_in_order(history.grad_norms or history.initial_grad_norms)
    # viridis darkens steadily from input to output layer: readable in grayscale too.
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(len(keys), 1)))
    dashes = (style["linestyle"] for style in _line_styles())
    labels = _layer_tick_labels(keys)
    for color, dash, label, key in zip(colors, dashes, labels, keys, strict=False):
        iters = list(history.eval_iters)
        values = list(history.grad_norms.get(key, []))
        if key in history.initial_grad_norms:
            iters.insert(0, 0)
            values.insert(0, history.initial_grad_norms[key])
        xs, ys = _positive_points(iters, values)
        if xs:
            ax.plot(xs, ys, color=color, linestyle=dash, label=label.replace("\n", " "))
    _log_y(ax)
    _title(ax, title or f"gradient norms: {history.label}")
    ax.set_xlabel("iter")
    ax.set_ylabel("gradient norm ‖∂L/∂W‖")
    ax.set_xlim(0, history.x_extent)
    if ax.lines:
        _legend_outside(ax)
    _mark_divergence(ax, history)
    return fig


# --- Activation histograms -----------------------------------------------------------------

ACTIVATION_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
RELU_QUANTILE = 0.99


def _guess_activation(snapshots):
    values = [np.asarray(a) for acts in snapshots.values() for a in acts]
    finite = [v[np.isfinite(v)] for v in values]
    if any(v.size and v.min() < 0 for v in finite):
        return "tanh"
    if any(v.size and (v.max() > 1 or np.mean(v == 0) > 0.01) for v in finite):
        return "relu"
    return "sigmoid"


@_styled
def activation_histograms_figure(snapshots, activation=None, fig=None, bins=30, title=None):
    """Histograms of each hidden layer's outputs: a column per layer, a row per snapshot.

    snapshots: {name: [outputs of layer 1, layer 2, ...]}, e.g. {"initialisation": ...,
    "after training": ...} from ``diagnostics.activation_snapshot``.
    activation: 'sigmoid' (range [0, 1]), 'tanh' ([-1, 1]) or 'relu' ([0, the 99th
    percentile of the positive outputs]; the share of outputs that are exactly 0 is
    written in the panel and left out of the bars). None guesses it from the values.
    Bars are the fraction of all outputs of that layer. Draws into ``fig`` if given.
    """
    if not snapshots:
        raise ValueError("snapshots is empty: pass {name: [layer outputs, ...]}")
    activation = (activation or _guess_activation(snapshots)).lower()
    if activation not in ("sigmoid", "tanh", "relu"):
        raise ValueError(f"activation must be 'sigmoid', 'tanh' or 'relu', got {activation!r}")
    n_rows = len(snapshots)
    n_cols = max(len(acts) for acts in snapshots.values())
    if fig is None:
        fig = plt.figure(figsize=(2.6 * n_cols + 0.8, 2.3 * n_rows + 0.6))
    else:
        fig.clear()
    # Laid out once when drawn; tight_layout() would draw the whole figure an extra time.
    fig.set_layout_engine("constrained")
    axes = np.asarray(fig.subplots(n_rows, n_cols, sharey=True, squeeze=False))
    for row, (name, acts) in enumerate(snapshots.items()):
        for col in range(n_cols):
            ax = axes[row, col]
            if col >= len(acts):
                ax.set_visible(False)
                continue
            _histogram_panel(ax, acts[col], activation, bins)
            if row == 0:
                ax.set_title(f"layer {col + 1}")
            if row == n_rows - 1:
                ax.set_xlabel(f"{activation} output")
            if col == 0:
                ax.set_ylabel(f"{name}\nfraction")
    fig.suptitle(title or f"activations of the hidden layers ({activation})")
    return fig


def _histogram_panel(ax, outputs, activation, bins):
    """One layer's outputs as bars of the fraction of all its outputs."""
    values = np.asarray(outputs, dtype=np.float64).ravel()
    n_all = values.size
    values = values[np.isfinite(values)]
    note = []
    if activation == "relu":
        zeros = float(np.mean(values == 0)) if values.size else 0.0
        values = values[values > 0]
        upper = float(np.quantile(values, RELU_QUANTILE)) if values.size else 1.0
        lo, hi = 0.0, upper if upper > 0 else 1.0
        note = [f"exactly 0: {zeros:.0%}", f"range 0 … {hi:.2g}"]
    else:
        lo, hi = ACTIVATION_RANGES[activation]
    if n_all and values.size:
        counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
        ax.stairs(counts / n_all, edges, fill=True, color=LINES.by_key()["color"][0])
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    if activation == "relu":
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    if note:
        ax.text(
            0.97,
            0.95,
            "\n".join(note),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize="small",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
