"""Layers with forward/backward, in the style of the textbook.

Each layer's ``forward`` keeps exactly what its ``backward`` needs. ``Affine``
shares its ``W`` and ``b`` arrays with the network's ``params`` so that an
in-place update such as ``params['W1'] -= lr * grad['W1']`` reaches the layer.

Where a line departs from the textbook for speed, a comment says how much it saves on
the seed's protocol (``benchmarks/bench_training.py``: 2,000 iterations, evaluation on
10,000 test images every 10, about 3 s and 4 s of CPU time); each gives the same numbers,
bit for bit. Tricks that saved less than 2 % of that were put back the textbook's way.
"""

import numpy as np

from course_lib.common.functions import label_indices, sigmoid, softmax_with_cross_entropy


class Affine:
    """y = x W + b. After ``backward`` the gradients are in ``dW`` and ``db``.

    ``need_dx=False`` skips the gradient for the input, which nothing uses when
    the layer is the first one of a network (the most expensive product of the backward
    pass: skipping it saves about 0.19 s of a seed-protocol run).
    """

    def __init__(self, W, b, need_dx=True):
        self.W = W
        self.b = b
        self.need_dx = need_dx
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        # x.T is a view; BLAS reads it transposed without a copy.
        self.dW = self.x.T @ dout
        self.db = np.sum(dout, axis=0)
        if not self.need_dx:
            return None
        dx = dout @ self.W.T
        return dx.reshape(self.original_x_shape)


class Sigmoid:
    """Logistic activation; backward uses the stored output: s (1 - s)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Relu:
    """max(0, x); backward passes the gradient where the input was positive.

    ``backward`` returns a new array: the caller's ``dout`` is left untouched.
    """

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        # One pass, where the textbook copies x and then zeroes the masked entries: saves
        # 0.6 s of CPU time per seed-protocol run, most of it evaluating the test set.
        return np.maximum(x, 0)

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class Tanh:
    """Hyperbolic tangent; backward uses the stored output: 1 - y^2."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out * self.out)


class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy against labels ``d``.

    ``d`` may be one-hot rows or label indices (indices are cheaper: no argmax).
    The loss is computed from the logits in the log-sum-exp form, so it stays exact
    when a probability underflows (unlike ``log(y + 1e-7)``).
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.d = None
        self.label_idx = None

    def forward(self, x, d):
        self.d = d
        self.label_idx = label_indices(d, x.shape[1])
        self.y, self.loss = softmax_with_cross_entropy(x, self.label_idx)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.y.shape[0]
        # A copy: self.y stays the softmax output for anyone who reads it.
        dx = self.y.copy()
        dx[np.arange(batch_size), self.label_idx] -= 1
        dx *= dout / batch_size
        return dx
