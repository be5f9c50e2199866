"""A seed-faithful baseline: the seed's MultiLayerNet and training loop, as the seed runs them.

This file exists only so that ``bench_training.py`` has something honest to compare
against. It reproduces the seed's costs on purpose and must never be imported by
``course_lib``:

- layers in the textbook's style (written here, not copied): ``Affine`` always computes
  the gradient for its input, ``SoftmaxWithLoss`` computes softmax and then the
  cross-entropy as ``-log(y + 1e-7)``, labels are one-hot rows turned back into indices
  with ``argmax`` wherever they are needed;
- float64 weights drawn with ``np.random.randn``, multiplied by float32 images (so NumPy
  upcasts every image batch, and the whole test set at every evaluation, to float64);
- the seed's loop: one gradient, an out-of-place update ``params[key] -= lr * grad[key]``,
  an extra ``network.loss(x_batch, d_batch)`` per iteration, and every ``plot_interval``
  iterations ``accuracy`` on the full test set and on the current batch.
"""

from collections import OrderedDict

import numpy as np

# ---------------------------------------------------------------- functions, textbook style


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    # Shift by the row maximum so exp cannot overflow, as the textbook does.
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy_error(y, d):
    if y.ndim == 1:
        y = y.reshape(1, y.size)
        d = d.reshape(1, d.size)
    # One-hot labels are turned back into indices on every call.
    if d.size == y.size:
        d = d.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), d] + 1e-7)) / batch_size


# ------------------------------------------------------------------- layers, textbook style


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
        # dx is computed for every layer, the first one included.
        dx = np.dot(dout, self.W.T)
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
        # The textbook writes into the caller's array; kept for a faithful cost.
        dout[self.mask] = 0
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
        if self.d.size == self.y.size:
            return (self.y - self.d) / batch_size
        dx = self.y.copy()
        dx[np.arange(batch_size), self.d] -= 1
        return dx / batch_size


# ---------------------------------------------------------------------- the seed's network


class MultiLayerNet:
    """The seed's network: hidden (Affine -> activation) layers, Affine, softmax loss."""

    def __init__(
        self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu"
    ):
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        self.params = {}
        self._init_weight(weight_init_std)

        activation_layer = {"sigmoid": Sigmoid, "relu": Relu}
        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{idx}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            self.layers[f"Activation_function{idx}"] = activation_layer[activation]()
        idx = self.hidden_layer_num + 1
        self.layers[f"Affine{idx}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
        self.last_layer = SoftmaxWithLoss()

    def _init_weight(self, weight_init_std):
        all_size_list = [self.input_size, *self.hidden_size_list, self.output_size]
        for idx in range(1, len(all_size_list)):
            scale = weight_init_std
            if str(weight_init_std).lower() in ("relu", "he"):
                scale = np.sqrt(2.0 / all_size_list[idx - 1])
            elif str(weight_init_std).lower() in ("sigmoid", "xavier"):
                scale = np.sqrt(1.0 / all_size_list[idx - 1])
            # float64, from the global random state, as in the seed.
            self.params[f"W{idx}"] = scale * np.random.randn(
                all_size_list[idx - 1], all_size_list[idx]
            )
            self.params[f"b{idx}"] = np.zeros(all_size_list[idx])

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, d):
        y = self.predict(x)
        return self.last_layer.forward(y, d)

    def accuracy(self, x, d):
        y = np.argmax(self.predict(x), axis=1)
        if d.ndim != 1:
            d = np.argmax(d, axis=1)
        return np.sum(y == d) / float(x.shape[0])

    def gradient(self, x, d):
        self.loss(x, d)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grad = {}
        for idx in range(1, self.hidden_layer_num + 2):
            grad[f"W{idx}"] = self.layers[f"Affine{idx}"].dW
            grad[f"b{idx}"] = self.layers[f"Affine{idx}"].db
        return grad


# ------------------------------------------------------------------------ the seed's loop


def run_seed_loop(
    network,
    x_train,
    d_train,
    x_test,
    d_test,
    iters_num=2000,
    batch_size=100,
    learning_rate=0.1,
    plot_interval=10,
):
    """The seed's training cell; returns (train_loss_list, accuracies_train, accuracies_test)."""
    train_size = x_train.shape[0]
    train_loss_list = []
    accuracies_train = []
    accuracies_test = []
    keys = [f"{p}{i}" for p in "Wb" for i in range(1, network.hidden_layer_num + 2)]

    for i in range(iters_num):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        d_batch = d_train[batch_mask]

        grad = network.gradient(x_batch, d_batch)
        for key in keys:
            network.params[key] -= learning_rate * grad[key]

        # The seed computes the loss a second time, after the update.
        loss = network.loss(x_batch, d_batch)
        train_loss_list.append(loss)

        if (i + 1) % plot_interval == 0:
            accuracies_test.append(network.accuracy(x_test, d_test))
            accuracies_train.append(network.accuracy(x_batch, d_batch))

    return train_loss_list, accuracies_train, accuracies_test
