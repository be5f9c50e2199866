"""Pure math used by the layers: activations, softmax, cross-entropy; each keeps x's dtype."""

import numpy as np


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), with no overflow warning for large |x|."""
    x = np.asarray(x)
    # The textbook's formula. For x << 0, exp(-x) overflows to inf and 1 / (1 + inf) is the
    # correct 0: the warning is silenced rather than a second branch added (two more passes).
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def relu(x):
    """max(0, x), element-wise."""
    return np.maximum(x, 0)


def softmax(x):
    """Softmax over the last axis, stable for large inputs."""
    x = np.asarray(x)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def label_indices(d, n_classes, where="labels"):
    """Class indices of one-hot rows or whole-number labels in ``[0, n_classes)``.

    Anything else raises ValueError naming ``where`` and the bad value: a label of -1
    would otherwise index class 9, and a one-hot row of the wrong width be flattened.
    """
    d = np.asarray(d)
    if d.ndim == 2:
        if d.shape[1] != n_classes:
            raise ValueError(
                f"{where}: one-hot rows of width {d.shape[1]}, but the network has "
                f"{n_classes} outputs; use rows of width {n_classes} or label indices"
            )
        return np.argmax(d, axis=1)
    if d.ndim != 1:
        raise ValueError(
            f"{where}: labels of shape {d.shape}; use one label per row (shape (N,)) "
            f"or one-hot rows (shape (N, {n_classes}))"
        )
    if d.dtype.kind not in "iu":
        if d.dtype.kind != "f" or not np.all(np.isfinite(d)) or np.any(d != np.round(d)):
            raise ValueError(f"{where}: labels must be whole numbers, got dtype {d.dtype}")
    if d.size:
        low, high = d.min(), d.max()
        if low < 0 or high >= n_classes:
            bad = low if low < 0 else high
            position = int(np.flatnonzero(d == bad)[0])
            raise ValueError(
                f"{where}: label {bad:g} at position {position} is outside 0..{n_classes - 1} "
                f"(the network has {n_classes} outputs)"
            )
    return d.astype(np.intp, copy=False)


def cross_entropy_error(y, d):
    """Mean cross-entropy of probabilities y against labels d (one-hot or indices).

    Clipped away from log(0), so the loss is finite when the network is certain and wrong.
    """
    y = np.asarray(y)
    d = np.asarray(d)
    if y.ndim == 1:
        # One sample: d is either its one-hot row or its label index.
        y = y.reshape(1, -1)
        d = d.reshape(1, -1) if d.size == y.shape[1] else d.reshape(1)
    idx = label_indices(d, y.shape[1])
    p = y[np.arange(y.shape[0]), idx]
    tiny = np.finfo(y.dtype if np.issubdtype(y.dtype, np.floating) else np.float64).tiny
    return float(-np.mean(np.log(np.maximum(p, tiny))))


def one_hot(d, n_classes=10, dtype=np.float32):
    """Label indices -> one-hot rows (labels outside 0..n_classes-1 raise ValueError)."""
    idx = label_indices(np.asarray(d).reshape(-1), n_classes)
    out = np.zeros((idx.size, n_classes), dtype=dtype)
    out[np.arange(idx.size), idx] = 1
    return out
