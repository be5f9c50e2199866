"""Layers with forward/backward, in the style of the textbook.

Each layer's ``forward`` keeps exactly what its ``backward`` needs. ``Affine``
shares its ``W`` and ``b`` arrays, and ``BatchNormalization`` its ``gamma`` and
``beta``, with the network's ``params`` so that an in-place update such as
``params['W1'] -= lr * grad['W1']`` reaches the layer.

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


# Added to the variance before its square root: keeps a column that is constant over
# the batch finite. The textbook's value (it writes 10e-7).
BATCHNORM_EPS = 1e-6


class BatchNormalization:
    """Batch normalisation: y = gamma * (x - mean) / sqrt(var + eps) + beta, per column.

    With ``train_flg=True`` the mean and variance are the batch's own, and
    ``running_mean`` / ``running_var`` follow them (each step keeps ``momentum`` of the
    old value); with ``train_flg=False`` the running averages are used instead. After
    ``backward`` the gradients are in ``dgamma`` and ``dbeta``.

    Input of more dimensions, such as (N, C, H, W), is flattened to (N, C*H*W) as in the
    textbook: each of the C*H*W values is normalised on its own (not per channel), so
    gamma and beta have C*H*W entries. Training needs at least 2 rows per batch.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be between 0 and 1, got {momentum!r}")
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        # A running variance of 1, not the textbook's 0: until the first training step
        # the layer is then gamma * x + beta, where 0 would divide by sqrt(eps) and
        # multiply every input by 1000, saturating the activation that follows.
        self.running_mean = np.zeros_like(gamma) if running_mean is None else running_mean
        self.running_var = np.ones_like(gamma) if running_var is None else running_var
        self.input_shape = None
        self.xn = None
        self.std = None
        self.batch_stats = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True, update_running_stats=True):
        """Normalised x; ``update_running_stats=False`` leaves the running averages alone."""
        self.input_shape = x.shape
        x = self._as_rows(x)
        if train_flg:
            if x.shape[0] < 2:
                # One row is its own mean: it would normalise to 0, every output would be
                # beta and every gradient but dbeta exactly 0, without any sign of it.
                raise ValueError(
                    f"batch normalisation needs at least 2 rows per batch while training, "
                    f"got {x.shape[0]}: it normalises each batch by its own mean and "
                    "variance. Train with batches of 2 or more rows (batch_size >= 2), or "
                    "use train_flg=False to normalise with the running averages."
                )
            # Means as sums / N: the ufunc's own reduce skips np.mean's Python-level code,
            # which costs more than the arithmetic on a batch of 100 rows.
            n = x.shape[0]
            mean = np.add.reduce(x, axis=0) / n
            xc = x - mean
            var = np.add.reduce(xc * xc, axis=0) / n
            if update_running_stats:
                self._follow(mean, var)
        else:
            xc = x - self.running_mean
            var = self.running_var
        self.std = np.sqrt(var + BATCHNORM_EPS)
        self.xn = xc / self.std
        self.batch_stats = train_flg
        out = self.xn * self.gamma
        out += self.beta
        return out.reshape(self.input_shape)

    def backward(self, dout):
        dout = dout.reshape(self.xn.shape)
        self.dbeta = np.add.reduce(dout, axis=0)
        self.dgamma = np.add.reduce(dout * self.xn, axis=0)
        if self.batch_stats:
            # The batch's mean and variance depend on every row, and normalising by them
            # undoes a shift of a column and (up to eps) a rescaling of it: the gradient
            # loses its mean (dbeta / N) and its component along xn (xn * dgamma / N).
            n = dout.shape[0]
            dout = dout - self.dbeta / n - self.xn * (self.dgamma / n)
        dx = dout * (self.gamma / self.std)
        return dx.reshape(self.input_shape)

    def _as_rows(self, x):
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
        return x

    def _follow(self, mean, var):
        # In place, so running averages passed in by the caller are the ones that move.
        m = self.momentum
        self.running_mean *= m
        self.running_mean += (1 - m) * mean
        self.running_var *= m
        self.running_var += (1 - m) * var
