"""Layers with forward/backward, in the style of the textbook.

Each layer's ``forward`` keeps exactly what its ``backward`` needs. ``Affine``
shares its ``W`` and ``b`` arrays with the network's ``params`` so that an
in-place update such as ``params['W1'] -= lr * grad['W1']`` reaches the layer.
"""

import numpy as np

from course_lib.common.functions import _label_indices, sigmoid, softmax, softmax_cross_entropy


class Affine:
    """y = x W + b. After ``backward`` the gradients are in ``dW`` and ``db``.

    ``need_dx=False`` skips the gradient for the input, which nothing uses when
    the layer is the first one of a network (it is the most expensive product).
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
        out = x @ self.W
        out += self.b
        return out

    def backward(self, dout):
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
        return np.maximum(x, 0)

    def backward(self, dout):
        return np.where(self.mask, 0, dout).astype(dout.dtype, copy=False)


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

    ``d`` may be one-hot rows or label indices.
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.d = None

    def forward(self, x, d):
        self.d = d
        self.y = softmax(x)
        self.loss = softmax_cross_entropy(x, d)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), _label_indices(self.d, dx.shape[1])] -= 1
        dx *= dout / batch_size
        return dx
