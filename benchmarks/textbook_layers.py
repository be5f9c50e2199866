"""Layers in the textbook's style, for the benchmark's seed-faithful baseline only.

The seed imports the textbook's ``common/layers.py``; its class and loop
(``tests/seed/exercise.py``) run on these in ``bench_training.py``, so the baseline pays
the seed's costs, not course_lib's: ``Affine`` always computes the gradient of its input,
``SoftmaxWithLoss`` computes the softmax and then ``-log(y + 1e-7)``, and one-hot labels
are turned back into indices wherever they are needed. Written here in that style (not
copied); never imported by course_lib.
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    shifted = x - np.max(x, axis=-1, keepdims=True)  # no overflow, as the textbook does
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy_error(y, d):
    if d.size == y.size:  # one-hot rows back to indices, on every call
        d = d.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), d] + 1e-7)) / batch_size


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)  # for every layer, the first one included
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # the textbook writes into the caller's array
        return dout


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None
        self.d = None

    def forward(self, x, d):
        self.d = d
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.d)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.d.shape[0]
        return (self.y - self.d) / batch_size  # one-hot labels, as the seed loads them
