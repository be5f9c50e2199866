"""Figures: one helper per kind of figure, all in the seed's ggplot look.

Every helper draws into ``ax`` when given one (the dashboard redraws its own
axes) and otherwise makes a new figure. Each returns the matplotlib Figure.
"""

import functools

import matplotlib.pyplot as plt
import numpy as np

STYLE = "ggplot"


def _axes(ax, figsize=(6.4, 4.8)):
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _styled(func):
    """Draw inside the ggplot style context, so the seed's look holds anywhere."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with plt.style.context(STYLE):
            return func(*args, **kwargs)

    return wrapper


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
def accuracy_figure(history, title="accuracy", ax=None):
    """The seed's figure: training-set and test-set accuracy against iteration."""
    fig, ax = _axes(ax)
    ax.plot(history.eval_iters, history.train_acc, label="training set")
    ax.plot(history.eval_iters, history.test_acc, label="test set")
    ax.legend(loc="lower right")
    ax.set_title(title)
    ax.set_xlabel("iter")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, max(history.iters_num, 1))
    ax.set_ylim(0, 1.0)
    _mark_divergence(ax, history)
    return fig


@_styled
def overlay_figure(histories, metric="test", title=None, labels=None, ax=None):
    """Several runs' accuracy curves on one axis; metric is 'test' or 'train'."""
    if metric not in ("test", "train"):
        raise ValueError(f"metric must be 'test' or 'train', got {metric!r}")
    fig, ax = _axes(ax)
    labels = labels or [h.label for h in histories]
    for history, label in zip(histories, labels, strict=True):
        values = history.test_acc if metric == "test" else history.train_acc
        ax.plot(history.eval_iters, values, label=label)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title or f"accuracy ({'test set' if metric == 'test' else 'training set'})")
    ax.set_xlabel("iter")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, max([h.iters_num for h in histories] + [1]))
    ax.set_ylim(0, 1.0)
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
    ax.set_title("loss")
    ax.set_xlabel("iter")
    ax.set_ylabel("loss")
    ax.set_xlim(0, max(history.iters_num, 1))
    if len(losses):
        ax.legend(loc="upper right")
    _mark_divergence(ax, history)
    return fig
