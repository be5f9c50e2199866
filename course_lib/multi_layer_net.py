"""MultiLayerNet: the seed's fully connected network, with checked arguments.

The API is the seed's (``params``, ``layers``, ``predict``, ``loss``,
``accuracy``, ``gradient``), so the seed's training loop runs on it unchanged.
"""

from collections import OrderedDict

import numpy as np

from course_lib.common import layers

ACTIVATIONS = {"sigmoid": layers.Sigmoid, "relu": layers.Relu, "tanh": layers.Tanh}

# Named initialisers: the standard deviation as a function of (n_in, n_out).
# 'xavier' is the 1/n_in form that the textbook (and the seed) call Xavier;
# 'glorot' is Glorot and Bengio's 2/(n_in + n_out).
WEIGHT_INITS = {
    "relu": lambda n_in, n_out: np.sqrt(2.0 / n_in),
    "he": lambda n_in, n_out: np.sqrt(2.0 / n_in),
    "sigmoid": lambda n_in, n_out: np.sqrt(1.0 / n_in),
    "xavier": lambda n_in, n_out: np.sqrt(1.0 / n_in),
    "glorot": lambda n_in, n_out: np.sqrt(2.0 / (n_in + n_out)),
}


def init_scale(weight_init_std, n_in, n_out):
    """Standard deviation of a weight matrix of shape (n_in, n_out).

    ``weight_init_std`` is a positive number or a name (case-insensitive):
    'he'/'relu' sqrt(2/n_in), 'xavier'/'sigmoid' sqrt(1/n_in),
    'glorot' sqrt(2/(n_in+n_out)).
    """
    if isinstance(weight_init_std, str):
        key = weight_init_std.strip().lower()
        if key not in WEIGHT_INITS:
            raise ValueError(
                f"unknown weight_init_std {weight_init_std!r}: use a positive number or one of "
                f"{sorted(WEIGHT_INITS)} (case-insensitive)"
            )
        return float(WEIGHT_INITS[key](n_in, n_out))
    if isinstance(weight_init_std, bool) or not isinstance(weight_init_std, (int, float)):
        raise ValueError(
            f"weight_init_std must be a positive number or one of {sorted(WEIGHT_INITS)}, "
            f"got {weight_init_std!r}"
        )
    if not np.isfinite(weight_init_std) or weight_init_std <= 0:
        raise ValueError(f"weight_init_std must be a positive number, got {weight_init_std!r}")
    return float(weight_init_std)


def check_positive_int(name, value):
    """``value`` as an int if it is a whole number >= 1, else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive whole number (>= 1), got {value!r}")
    return int(value)


def parse_hidden_sizes(text):
    """'40,20' -> [40, 20]: hidden layer sizes typed by a person (CLI, dashboard).

    Raises ValueError saying what is wrong with the text.
    """
    cleaned = str(text).strip().strip("[]()").strip()
    if not cleaned:
        raise ValueError("hidden layers is empty: enter the size of each hidden layer, e.g. 40,20")
    sizes = []
    for part in cleaned.split(","):
        part = part.strip()
        try:
            size = int(part)
        except ValueError:
            raise ValueError(
                f"hidden layers {text!r}: {part!r} is not a whole number; enter sizes such as 40,20"
            ) from None
        if size < 1:
            raise ValueError(
                f"hidden layers {text!r}: each size must be at least 1, got {size} "
                "(whole numbers >= 1, such as 40,20)"
            )
        sizes.append(size)
    return sizes


def network_label(activation, weight_init_std, hidden_size_list):
    """Short description of a network's settings, such as 'relu / He [40,20]'."""
    hidden = ",".join(str(n) for n in hidden_size_list)
    return f"{activation} / {weight_init_std} [{hidden}]"


class MultiLayerNet:
    """Fully connected network: (Affine -> activation) x hidden layers -> Affine -> softmax.

    input_size: nodes of the input layer (784 for MNIST)
    hidden_size_list: nodes of each hidden layer, e.g. [40, 20]
    output_size: nodes of the output layer (10 classes)
    activation: 'sigmoid', 'relu' or 'tanh'
    weight_init_std: a positive std, or 'he'/'relu', 'xavier'/'sigmoid', 'glorot'
    weight_decay_lambda: strength of the L2 penalty 0.5 * lambda * sum(W**2)
    dtype: float dtype of the weights (float32 for speed, float64 for gradient checks)
    seed: seed of the weight initialisation; the same seed gives the same weights
    """

    def __init__(
        self,
        input_size,
        hidden_size_list,
        output_size,
        activation="relu",
        weight_init_std="relu",
        weight_decay_lambda=0,
        dtype=np.float32,
        seed=None,
    ):
        self.input_size = check_positive_int("input_size", input_size)
        self.output_size = check_positive_int("output_size", output_size)
        if isinstance(hidden_size_list, (str, bytes)) or not hasattr(hidden_size_list, "__iter__"):
            raise ValueError(
                f"hidden_size_list must be a list of positive whole numbers such as [40, 20], "
                f"got {hidden_size_list!r}"
            )
        self.hidden_size_list = [
            check_positive_int(f"hidden_size_list[{i}]", n) for i, n in enumerate(hidden_size_list)
        ]
        if not isinstance(activation, str) or activation.lower() not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}: choose one of {sorted(ACTIVATIONS)}"
            )
        self.activation = activation.lower()
        self.weight_init_std = weight_init_std
        if not np.isfinite(weight_decay_lambda) or weight_decay_lambda < 0:
            raise ValueError(f"weight_decay_lambda must be >= 0, got {weight_decay_lambda!r}")
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"dtype must be a float dtype such as np.float32, got {dtype!r}")
        self.hidden_layer_num = len(self.hidden_size_list)
        self.seed = seed
        self.params = {}
        self._init_weight(weight_init_std, np.random.default_rng(seed))

        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{idx}"] = layers.Affine(
                self.params[f"W{idx}"], self.params[f"b{idx}"], need_dx=idx > 1
            )
            self.layers[f"Activation_function{idx}"] = ACTIVATIONS[self.activation]()
        idx = self.hidden_layer_num + 1
        self.layers[f"Affine{idx}"] = layers.Affine(
            self.params[f"W{idx}"], self.params[f"b{idx}"], need_dx=idx > 1
        )
        self.last_layer = layers.SoftmaxWithLoss()

    @property
    def sizes(self):
        """All layer sizes, input to output."""
        return [self.input_size, *self.hidden_size_list, self.output_size]

    @property
    def weight_keys(self):
        """Names of the weight matrices, input to output: ['W1', 'W2', ...]."""
        return [f"W{i}" for i in range(1, self.hidden_layer_num + 2)]

    def _init_weight(self, weight_init_std, rng):
        sizes = self.sizes
        for idx in range(1, len(sizes)):
            n_in, n_out = sizes[idx - 1], sizes[idx]
            scale = init_scale(weight_init_std, n_in, n_out)
            self.params[f"W{idx}"] = (scale * rng.standard_normal((n_in, n_out))).astype(self.dtype)
            self.params[f"b{idx}"] = np.zeros(n_out, dtype=self.dtype)

    def _as_input(self, x):
        # One cast up front keeps every product in the network's dtype.
        return np.asarray(x, dtype=self.dtype)

    def predict(self, x):
        """Scores (logits) for each row of x."""
        x = self._as_input(x)
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def hidden_activations(self, x):
        """Outputs of each hidden layer's activation for input x, input side first."""
        x = self._as_input(x)
        outs = []
        for name, layer in self.layers.items():
            x = layer.forward(x)
            if name.startswith("Activation_function"):
                outs.append(x)
        return outs

    def weight_penalty(self):
        """The L2 term 0.5 * lambda * sum of squared weights (0 without weight decay)."""
        if not self.weight_decay_lambda:
            return 0.0
        total = sum(
            float(np.sum(np.square(self.params[k], dtype=np.float64))) for k in self.weight_keys
        )
        return 0.5 * self.weight_decay_lambda * total

    def loss(self, x, d):
        """Cross-entropy loss plus the L2 weight penalty."""
        y = self.predict(x)
        return self.last_layer.forward(y, d) + self.weight_penalty()

    def accuracy(self, x, d):
        """Fraction of rows whose highest score is the label (d: indices or one-hot)."""
        # The argmax of the logits is that of the softmax: no softmax is needed here.
        y = np.argmax(self.predict(x), axis=1)
        d = np.asarray(d)
        if d.ndim != 1:
            d = np.argmax(d, axis=1)
        return float(np.count_nonzero(y == d) / x.shape[0])

    def gradient(self, x, d):
        """Gradients of ``loss`` by backpropagation, as a dict keyed like ``params``."""
        self.loss(x, d)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)

        grad = {}
        for idx in range(1, self.hidden_layer_num + 2):
            affine = self.layers[f"Affine{idx}"]
            grad[f"W{idx}"] = affine.dW
            if self.weight_decay_lambda:
                grad[f"W{idx}"] = affine.dW + self.weight_decay_lambda * affine.W
            grad[f"b{idx}"] = affine.db
        return grad

    def __repr__(self):
        return (
            f"MultiLayerNet(sizes={self.sizes}, activation={self.activation!r}, "
            f"weight_init_std={self.weight_init_std!r}, dtype={self.dtype.name}, "
            f"seed={self.seed!r})"
        )
