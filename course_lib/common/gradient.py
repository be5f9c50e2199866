"""Numerical gradients and the relative error used to check backpropagation."""

import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of the scalar function ``f(x)`` w.r.t. the array ``x``.

    As in the textbook, ``x`` is changed in place, one element at a time, and restored,
    so ``f`` may also ignore its argument and read ``x`` through another reference
    (``lambda W: network.loss(x, d)`` for a network's ``params['W1']``).
    Use float64 arrays: in float32 the differences drown in rounding.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f(x)
        x[i] = old - h
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a, b):
    """Relative error ||a - b|| / (||a|| + ||b||); 0 when both are zero."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    if denom == 0:
        return 0.0
    return float(np.linalg.norm(a - b) / denom)
