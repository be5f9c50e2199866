"""MultiLayerNet: the seed's fully connected network, with checked arguments.

The API is the seed's (``params``, ``layers``, ``predict``, ``loss``,
``accuracy``, ``gradient``), so the seed's training loop runs on it unchanged.
``loss_and_gradient`` gives both from one forward pass, for ``train()``.
With ``use_batchnorm=True`` it is the textbook's MultiLayerNetExtend without dropout:
``predict(x, train_flg)`` and ``loss(x, d, train_flg)`` take its ``train_flg``.
"""

import numbers
from collections import OrderedDict

import numpy as np

from course_lib.common import layers
from course_lib.common.functions import label_indices
from course_lib.validation import SettingError, choice, positive_number, whole_number, yes_no

ACTIVATIONS = {"sigmoid": layers.Sigmoid, "relu": layers.Relu, "tanh": layers.Tanh}

# Named initialisers: the standard deviation as a function of (n_in, n_out).
# 'Xavier' is the 1/n_in form that the textbook (and the seed) call Xavier;
# 'Glorot' is Glorot and Bengio's 2/(n_in + n_out).
WEIGHT_INITS = {
    "He": lambda n_in, n_out: np.sqrt(2.0 / n_in),
    "Xavier": lambda n_in, n_out: np.sqrt(1.0 / n_in),
    "Glorot": lambda n_in, n_out: np.sqrt(2.0 / (n_in + n_out)),
}
# The seed also accepts the activation's name for the initialiser that suits it.
WEIGHT_INIT_ALIASES = {"relu": "He", "sigmoid": "Xavier"}

DTYPES = (np.float32, np.float64)

# Rows of random numbers drawn at a time: bounds the float64 temporary of a wide layer
# without changing the numbers (a generator's stream does not depend on the chunking).
_INIT_CHUNK = 1 << 20


def check_weight_init(weight_init_std, name="weight_init_std"):
    """A positive std as a float, or the initialiser's name as written in WEIGHT_INITS.

    Names are accepted in any case ('he', 'HE'), and 'relu' / 'sigmoid' as in the seed.
    """
    if isinstance(weight_init_std, str):
        key = weight_init_std.strip().lower()
        key = WEIGHT_INIT_ALIASES.get(key, key).lower()
        for canonical in WEIGHT_INITS:
            if canonical.lower() == key:
                return canonical
        names = [*WEIGHT_INITS, *WEIGHT_INIT_ALIASES]
        raise SettingError(
            name,
            f"must be a positive number or one of {', '.join(names)} (any case), "
            f"got {weight_init_std!r}",
        )
    if isinstance(weight_init_std, bool) or not isinstance(weight_init_std, numbers.Real):
        raise SettingError(
            name,
            f"must be a positive number or one of {', '.join(WEIGHT_INITS)}, "
            f"got {weight_init_std!r}",
        )
    return positive_number(name, weight_init_std)


def check_activation(activation, name="activation"):
    """The activation's name in lower case, if it is one of ACTIVATIONS."""
    return choice(name, activation, list(ACTIVATIONS))


def check_hidden_sizes(hidden_size_list, name="hidden_size_list"):
    """The hidden layer sizes as a list of ints (from a list, tuple, range or 1-D array)."""
    ordered = isinstance(hidden_size_list, (list, tuple, range)) or (
        isinstance(hidden_size_list, np.ndarray) and hidden_size_list.ndim == 1
    )
    if not ordered:
        raise SettingError(
            name,
            f"must be a list of positive whole numbers such as [40, 20], got {hidden_size_list!r}",
        )
    return [whole_number(f"{name}[{i}]", n) for i, n in enumerate(hidden_size_list)]


def init_scale(weight_init_std, n_in, n_out):
    """Standard deviation of a weight matrix of shape (n_in, n_out).

    ``weight_init_std`` is a positive number or a name (case-insensitive):
    'He'/'relu' sqrt(2/n_in), 'Xavier'/'sigmoid' sqrt(1/n_in),
    'Glorot' sqrt(2/(n_in+n_out)).
    """
    value = check_weight_init(weight_init_std)
    if isinstance(value, str):
        return float(WEIGHT_INITS[value](n_in, n_out))
    return value


class MultiLayerNet:
    """Fully connected network: (Affine -> activation) x hidden layers -> Affine -> softmax.

    With ``use_batchnorm`` each hidden layer is Affine -> BatchNorm -> activation.

    input_size: nodes of the input layer (784 for MNIST)
    hidden_size_list: nodes of each hidden layer, e.g. [40, 20]
    output_size: nodes of the output layer (10 classes)
    activation: 'sigmoid', 'relu' or 'tanh'
    weight_init_std: a positive std, or 'He'/'relu', 'Xavier'/'sigmoid', 'Glorot'
    weight_decay_lambda: strength of the L2 penalty 0.5 * lambda * sum(W**2)
    dtype: np.float32 (fast) or np.float64 (for gradient checks)
    seed: seed of the weight initialisation; the same seed gives the same weights
    use_batchnorm: normalise each hidden layer's input to its activation over the batch
        (layers 'BatchNorm1', ...; parameters 'gamma1', 'beta1', ... start at 1 and 0)
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
        use_batchnorm=False,
    ):
        self.input_size = whole_number("input_size", input_size)
        self.output_size = whole_number("output_size", output_size)
        self.hidden_size_list = check_hidden_sizes(hidden_size_list)
        self.activation = check_activation(activation)
        self.weight_init_std = check_weight_init(weight_init_std)
        self.weight_decay_lambda = positive_number(
            "weight_decay_lambda", weight_decay_lambda, allow_zero=True
        )
        if np.dtype(dtype) not in [np.dtype(t) for t in DTYPES]:
            # float16 works but runs about 150 times slower: no BLAS for it.
            raise SettingError("dtype", f"must be np.float32 or np.float64, got {dtype!r}")
        self.dtype = np.dtype(dtype)
        self.seed = None if seed is None else whole_number("seed", seed, minimum=0)
        self.use_batchnorm = yes_no("use_batchnorm", use_batchnorm)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.params = {}
        self._init_weight(np.random.default_rng(self.seed))
        if self.use_batchnorm:
            # After all W and b, as in the textbook: the weights' keys keep their order.
            for idx, size in enumerate(self.hidden_size_list, start=1):
                self.params[f"gamma{idx}"] = np.ones(size, dtype=self.dtype)
                self.params[f"beta{idx}"] = np.zeros(size, dtype=self.dtype)

        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{idx}"] = self._affine(idx)
            if self.use_batchnorm:
                self.layers[f"BatchNorm{idx}"] = layers.BatchNormalization(
                    self.params[f"gamma{idx}"], self.params[f"beta{idx}"]
                )
            self.layers[f"Activation_function{idx}"] = ACTIVATIONS[self.activation]()
        idx = self.hidden_layer_num + 1
        self.layers[f"Affine{idx}"] = self._affine(idx)
        self.last_layer = layers.SoftmaxWithLoss()

    def _affine(self, idx):
        # Nothing uses the gradient of the input images: the first layer skips that
        # product, the largest of the backward pass.
        return layers.Affine(self.params[f"W{idx}"], self.params[f"b{idx}"], need_dx=idx > 1)

    @property
    def sizes(self):
        """All layer sizes, input to output."""
        return [self.input_size, *self.hidden_size_list, self.output_size]

    @property
    def weight_keys(self):
        """Names of the weight matrices, input to output: ['W1', 'W2', ...]."""
        return [f"W{i}" for i in range(1, self.hidden_layer_num + 2)]

    def state(self):
        """Every array that decides what the network computes, by name: the params and,
        with batch normalisation, the running averages ('BatchNorm1.running_mean', ...).

        The arrays themselves, not copies: copying into them changes the network.
        """
        state = dict(self.params)
        for name, layer in self.layers.items():
            if isinstance(layer, layers.BatchNormalization):
                state[f"{name}.running_mean"] = layer.running_mean
                state[f"{name}.running_var"] = layer.running_var
        return state

    def _init_weight(self, rng):
        sizes = self.sizes
        shapes = [(sizes[i - 1], sizes[i]) for i in range(1, len(sizes))]
        _check_memory(shapes, self.dtype)
        for idx, (n_in, n_out) in enumerate(shapes, start=1):
            scale = init_scale(self.weight_init_std, n_in, n_out)
            W = np.empty((n_in, n_out), dtype=self.dtype)
            rows = max(1, _INIT_CHUNK // n_out)
            for start in range(0, n_in, rows):
                part = rng.standard_normal((min(rows, n_in - start), n_out))
                with np.errstate(over="ignore"):  # an overflow is refused just below
                    W[start : start + rows] = scale * part
            if not np.all(np.isfinite(W)):
                raise SettingError(
                    "weight_init_std",
                    f"{self.weight_init_std!r} gives weights too large for {self.dtype.name} "
                    "(they overflow to infinity); use a std such as 0.01, 'Xavier' or 'He'",
                )
            self.params[f"W{idx}"] = W
            self.params[f"b{idx}"] = np.zeros(n_out, dtype=self.dtype)

    def _as_input(self, x):
        # One cast up front keeps every product in the network's dtype.
        return np.asarray(x, dtype=self.dtype)

    @staticmethod
    def _forward(layer, x, train_flg, update_running_stats):
        # Only batch normalisation has a training mode; the others take x alone, as the
        # seed's layers do.
        if isinstance(layer, layers.BatchNormalization):
            return layer.forward(x, train_flg, update_running_stats)
        return layer.forward(x)

    def predict(self, x, train_flg=False, update_running_stats=True, *, after=None):
        """Scores (logits) for each row of x.

        With batch normalisation, ``train_flg=True`` normalises with the batch's own
        statistics and moves the running averages (unless ``update_running_stats=False``);
        otherwise the running averages are used.
        after: the name of a layer (e.g. 'Affine1') whose output x already is; only the
        layers after it are applied (train() computes the first product of several
        snapshots of the weights at once, then finishes each with this).
        """
        x = self._as_input(x)
        layers = self.layers.values()
        if after is not None:
            names = list(self.layers)
            if after not in self.layers:
                raise ValueError(f"after={after!r} is not a layer of this network: {names}")
            layers = [self.layers[name] for name in names[names.index(after) + 1 :]]
        for layer in layers:
            x = self._forward(layer, x, train_flg, update_running_stats)
        return x

    def hidden_activations(self, x, train_flg=True):
        """Outputs of each hidden layer's activation for input x, input side first.

        With batch normalisation, x is normalised by its own statistics by default, as in
        training: these are the activations the gradients come from, and at
        initialisation the running averages (0 and 1) would show the network as if it
        had no batch normalisation. The running averages are never changed, so looking
        leaves the network as it was; ``train_flg=False`` shows what evaluation uses.
        """
        x = self._as_input(x)
        outs = []
        for name, layer in self.layers.items():
            x = self._forward(layer, x, train_flg, update_running_stats=False)
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

    def loss(self, x, d, train_flg=False, update_running_stats=True):
        """Cross-entropy loss plus the L2 weight penalty (d: label indices or one-hot)."""
        y = self.predict(x, train_flg, update_running_stats)
        return self.last_layer.forward(y, d) + self.weight_penalty()

    def accuracy(self, x, d):
        """Fraction of rows whose highest score is the label (d: indices or one-hot)."""
        d = label_indices(d, self.output_size)
        # The argmax of the logits is that of the softmax: no softmax is needed here.
        y = np.argmax(self.predict(x, train_flg=False), axis=1)
        return float(np.count_nonzero(y == d) / y.shape[0])

    def loss_and_gradient(self, x, d, update_running_stats=True):
        """(loss, gradients) of one batch from one forward and one backward pass.

        The gradients are a dict keyed like ``params``. Batch normalisation uses the
        batch's statistics (the loss is ``loss(x, d, train_flg=True)``) and moves its
        running averages, unless ``update_running_stats=False`` (for measuring).
        """
        loss = self.loss(x, d, True, update_running_stats)
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
            if self.use_batchnorm and idx <= self.hidden_layer_num:
                norm = self.layers[f"BatchNorm{idx}"]
                grad[f"gamma{idx}"] = norm.dgamma
                grad[f"beta{idx}"] = norm.dbeta
        return loss, grad

    def gradient(self, x, d, update_running_stats=True):
        """Gradients of ``loss`` by backpropagation, as a dict keyed like ``params``.

        With batch normalisation: those of ``loss(x, d, train_flg=True)``.
        """
        return self.loss_and_gradient(x, d, update_running_stats)[1]

    def __repr__(self):
        batchnorm = ", use_batchnorm=True" if self.use_batchnorm else ""
        return (
            f"MultiLayerNet(sizes={self.sizes}, activation={self.activation!r}, "
            f"weight_init_std={self.weight_init_std!r}, dtype={self.dtype.name}, "
            f"seed={self.seed!r}{batchnorm})"
        )


def _check_memory(shapes, dtype):
    """MemoryError naming the size, before allocating weights that cannot fit."""
    needed = sum((n_in + 1) * n_out for n_in, n_out in shapes) * dtype.itemsize
    available = _available_memory()
    if available is not None and needed > available:
        layout = " + ".join(f"{n_in}x{n_out}" for n_in, n_out in shapes)
        raise MemoryError(
            f"the network's {dtype.name} weights ({layout}) need {needed / 1e9:.1f} GB, "
            f"but only {available / 1e9:.1f} GB of memory is free; use smaller hidden layers"
        )


def _available_memory():
    """Bytes of memory available now (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
