"""MultiLayerNet: the textbook's fully connected network, with checked arguments.

The API is the textbook's, so the seed's training loop runs on it unchanged; with
``use_batchnorm=True`` it is the textbook's MultiLayerNetExtend without dropout.
"""

import copy
import numbers
from collections import OrderedDict

import numpy as np

from course_lib.common import layers
from course_lib.common.functions import label_indices
from course_lib.common.gradient import numerical_gradient
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
    elif isinstance(weight_init_std, numbers.Real) and not isinstance(weight_init_std, bool):
        return positive_number(name, weight_init_std)
    names = ", ".join([*WEIGHT_INITS, *WEIGHT_INIT_ALIASES])
    raise SettingError(
        name, f"must be a positive number or one of {names} (any case), got {weight_init_std!r}"
    )


def check_hidden_sizes(hidden_size_list, name="hidden_size_list"):
    """The hidden layer sizes as a list of ints (from a list, tuple, range or 1-D array)."""
    ordered = isinstance(hidden_size_list, (list, tuple, range)) or (
        isinstance(hidden_size_list, np.ndarray) and hidden_size_list.ndim == 1
    )
    if not ordered or len(hidden_size_list) == 0:
        raise SettingError(
            name,
            f"must be a list of one or more positive whole numbers such as [40, 20], "
            f"got {hidden_size_list!r}",
        )
    return [whole_number(f"{name}[{i}]", n) for i, n in enumerate(hidden_size_list)]


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
    seed: None draws the weights from NumPy's global random state, as the textbook
        does (``np.random.seed(0)`` first makes them repeatable); an int draws them
        from a generator of their own, the same weights for the same seed
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
        try:
            self.input_size = whole_number("input_size", input_size)
            self.output_size = whole_number("output_size", output_size)
            self.hidden_size_list = check_hidden_sizes(hidden_size_list)
            self.activation = choice("activation", activation, list(ACTIVATIONS))
            self.weight_init_std = check_weight_init(weight_init_std)
            self.weight_decay_lambda = positive_number(
                "weight_decay_lambda", weight_decay_lambda, allow_zero=True
            )
            if np.dtype(dtype) not in (np.float32, np.float64):
                # float16 works but runs about 150 times slower: no BLAS for it.
                raise SettingError("dtype", f"must be np.float32 or np.float64, got {dtype!r}")
            self.dtype = np.dtype(dtype)
            self.seed = None if seed is None else whole_number("seed", seed, minimum=0)
            self.use_batchnorm = yes_no("use_batchnorm", use_batchnorm)
            self.hidden_layer_num = len(self.hidden_size_list)
            self.params = {}
            self.__init_weight()
        except (SettingError, MemoryError) as exc:
            # The message says it all: no traceback through the checks' own frames.
            raise exc.with_traceback(None) from None

        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{idx}"] = layers.Affine(
                self.params[f"W{idx}"], self.params[f"b{idx}"]
            )
            if self.use_batchnorm:
                self.layers[f"BatchNorm{idx}"] = layers.BatchNormalization(
                    self.params[f"gamma{idx}"], self.params[f"beta{idx}"]
                )
            self.layers[f"Activation_function{idx}"] = ACTIVATIONS[self.activation]()
        idx = self.hidden_layer_num + 1
        self.layers[f"Affine{idx}"] = layers.Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
        self.last_layer = layers.SoftmaxWithLoss()

    def __init_weight(self):
        all_size_list = [self.input_size, *self.hidden_size_list, self.output_size]
        rng = None if self.seed is None else np.random.default_rng(self.seed)
        for idx in range(1, len(all_size_list)):
            n_in, n_out = all_size_list[idx - 1], all_size_list[idx]
            scale = self.weight_init_std
            if isinstance(scale, str):
                scale = WEIGHT_INITS[scale](n_in, n_out)
            try:
                if rng is None:  # the textbook's draw, from NumPy's global random state
                    draw = np.random.randn(n_in, n_out)
                else:
                    draw = rng.standard_normal((n_in, n_out))
                with np.errstate(over="ignore"):  # an overflow is refused just below
                    W = (scale * draw).astype(self.dtype)
            except MemoryError as exc:
                raise MemoryError(f"{exc}; use smaller hidden layers") from None
            if not np.all(np.isfinite(W)):
                raise SettingError(
                    "weight_init_std",
                    f"{self.weight_init_std!r} gives weights too large for {self.dtype.name} "
                    "(they overflow to infinity); use a std such as 0.01, 'Xavier' or 'He'",
                )
            self.params[f"W{idx}"] = W
            self.params[f"b{idx}"] = np.zeros(n_out, dtype=self.dtype)
        if self.use_batchnorm:
            # After all W and b, as in the textbook.
            for idx, size in enumerate(self.hidden_size_list, start=1):
                self.params[f"gamma{idx}"] = np.ones(size, dtype=self.dtype)
                self.params[f"beta{idx}"] = np.zeros(size, dtype=self.dtype)

    def predict(self, x, train_flg=False):
        """Scores (logits) for each row of x.

        With batch normalisation, ``train_flg=True`` normalises with the batch's own
        statistics and moves the running averages; otherwise the running averages are used.
        """
        x = np.asarray(x, dtype=self.dtype)  # one cast keeps every product in one dtype
        for name, layer in self.layers.items():
            if name.startswith("BatchNorm"):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, d, train_flg=False):
        """Cross-entropy loss plus the L2 weight penalty (d: label indices or one-hot)."""
        y = self.predict(x, train_flg)
        weight_decay = 0.0
        if self.weight_decay_lambda:
            for idx in range(1, self.hidden_layer_num + 2):
                W = self.params[f"W{idx}"]
                weight_decay += 0.5 * self.weight_decay_lambda * float(np.sum(W**2))
        return self.last_layer.forward(y, d) + weight_decay

    def accuracy(self, x, d):
        """Fraction of rows whose highest score is the label (d: indices or one-hot)."""
        d = label_indices(d, self.output_size)
        y = np.argmax(self.predict(x), axis=1)
        return float(np.sum(y == d) / x.shape[0])

    def numerical_gradient(self, x, d):
        """The gradients of ``loss(x, d, train_flg=True)`` by central differences, keyed
        like ``params`` (slow: use a float64 network). Running averages stay as they were."""
        network = copy.deepcopy(self)  # every loss in training mode moves running averages

        def loss_W(W):
            return network.loss(x, d, train_flg=True)

        return {key: numerical_gradient(loss_W, param) for key, param in network.params.items()}

    def loss_and_gradient(self, x, d):
        """(``loss(x, d, train_flg=True)``, gradients keyed like ``params``) from one forward
        and one backward pass: a training step's (batch norm's running averages move)."""
        loss = self.loss(x, d, train_flg=True)
        dout = self.last_layer.backward(1)
        stack = list(self.layers.values())
        for layer in reversed(stack[1:]):
            dout = layer.backward(dout)
        stack[0].backward(dout, need_dx=False)  # the images need no gradient (see Affine)

        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            affine = self.layers[f"Affine{idx}"]
            grads[f"W{idx}"] = affine.dW + self.weight_decay_lambda * affine.W
            grads[f"b{idx}"] = affine.db
            if self.use_batchnorm and idx <= self.hidden_layer_num:
                grads[f"gamma{idx}"] = self.layers[f"BatchNorm{idx}"].dgamma
                grads[f"beta{idx}"] = self.layers[f"BatchNorm{idx}"].dbeta
        return loss, grads

    def gradient(self, x, d):
        """The gradients of ``loss(x, d, train_flg=True)`` by backpropagation, keyed like
        ``params``."""
        return self.loss_and_gradient(x, d)[1]
