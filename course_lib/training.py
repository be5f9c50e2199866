"""train(): the one training loop, and run(): a RunConfig trained into a History.

The protocol is the seed's: random mini-batches drawn with replacement, an update rule
(SGD by default), and every ``eval_interval`` iterations the accuracy on the current
batch and on the whole test set. Everything that trains goes through ``train()``.

One speed trick earns its place (20 % of a run of the seed's protocol, measured): up to 8
evaluation points are kept as copies of the network and evaluated together, their first
products sharing one wide product ``x_test @ [W1 | W1 | ...]``; so the callbacks hear a
group's points in order, a little later.
"""

import copy
import time

import numpy as np
from threadpoolctl import threadpool_limits

from course_lib.common.optimizer import SGD
from course_lib.history import History, loss_limit
from course_lib.multi_layer_net import MultiLayerNet
from course_lib.validation import SettingError, check_data, whole_number

# A group: at most GROUP_POINTS points within GROUP_ITERATIONS iterations (a callback,
# such as a Stop button, hears each point soon) and about GROUP_BYTES of copies.
GROUP_POINTS = 8
GROUP_ITERATIONS = 80
GROUP_BYTES = 1 << 26
# The test set is evaluated CHUNK_ROWS images at a time: products of the whole test set
# cost more in page faults (0.6 s per run, measured) than the width saves.
CHUNK_ROWS = 1000


def train(
    network,
    data,
    *,
    iters_num=2000,
    batch_size=100,
    learning_rate=None,
    optimizer=None,
    eval_interval=10,
    seed=None,
    callback=None,
):
    """Train ``network`` on ``data`` with the seed's protocol and return a History.

    The model needs ``params`` (arrays the update changes in place), ``input_size``,
    ``output_size``, ``dtype``, ``loss_and_gradient(x, d)`` -> (loss, gradients keyed
    like params) and ``accuracy(x, d)``, as MultiLayerNet has. data is
    ((x_train, d_train), (x_test, d_test)), as load_mnist() returns it.
    learning_rate: shorthand for ``optimizer=SGD(lr=learning_rate)`` (default 0.1).
    eval_interval: the accuracies are measured every eval_interval iterations and
        after the last one.
    seed: seed of the mini-batch draws; None draws them with ``np.random.choice`` from
        NumPy's global state, as the seed's loop does.
    callback: a function or a list of them, called as ``callback(history)`` after each
        evaluation; False from one stops the run at the end of that group of points.
    A loss that becomes NaN, infinite or larger than ``history.loss_limit()`` ends the
    run ('diverged'); Ctrl-C ends it and returns what was learned so far.
    """
    try:
        x_train, d_train, x_test, d_test = check_data(
            data, network.input_size, network.output_size, network.dtype
        )
        settings = _check_settings(len(x_train), iters_num, batch_size, eval_interval, seed)
        if optimizer is None:
            optimizer = SGD(lr=0.1 if learning_rate is None else learning_rate)
        elif learning_rate is not None or not hasattr(optimizer, "update"):
            raise ValueError(
                "give either learning_rate= or optimizer=, an object with update(params, "
                f"grads) such as SGD(lr=0.1), not both; got {optimizer=}, {learning_rate=}"
            )
    except ValueError as exc:
        # The message says what to change: no traceback through the checks' own frames.
        raise exc.with_traceback(None) from None
    callbacks = callback if isinstance(callback, (list, tuple)) else [callback]
    callbacks = [cb for cb in callbacks if cb is not None]
    history = History.for_training(network, data, optimizer, **settings)
    evaluate = _Evaluation(network, history, x_test, d_test, callbacks, eval_interval)
    try:
        # Overflow in a diverging run is expected and reported through History. One BLAS
        # thread: the same numbers on every machine, and no slower per core (measured).
        with np.errstate(over="ignore", invalid="ignore"), threadpool_limits(1, "blas"):
            _loop(network, (x_train, d_train), optimizer, evaluate, **settings)
    except KeyboardInterrupt:
        evaluate.interrupted(network)
    return evaluate.finish(optimizer.lr)


def _loop(network, train_data, optimizer, evaluate, iters_num, batch_size, eval_interval, seed):
    """The seed's loop: a mini-batch, its gradient, an update; an evaluation every so often."""
    x_train, d_train = train_data
    history = evaluate.history
    rng = np.random if seed is None else np.random.default_rng(seed)
    limit = loss_limit(network.output_size)
    for i in range(iters_num):
        batch_mask = rng.choice(len(x_train), batch_size)
        x_batch = x_train[batch_mask]
        d_batch = d_train[batch_mask]

        loss, grad = network.loss_and_gradient(x_batch, d_batch)
        if not loss <= limit:  # also catches NaN
            evaluate.group()
            history.mark_diverged(i + 1, loss, optimizer.lr)  # its update was not made
            return
        if i == 0:  # the gradient at initialisation, free to keep
            history.initial_grad_norms = _norms(grad)
        optimizer.update(network.params, grad)
        evaluate.losses.append(loss)
        evaluate.last = (i + 1, grad, x_batch, d_batch)

        if (i + 1) % eval_interval == 0 or i + 1 == iters_num:
            full = evaluate.add(network, *evaluate.last) or i + 1 == iters_num
            if full and evaluate.group():
                history.status = "stopped"
                history.message = f"stopped at iteration {i + 1}"
                return
    history.status = "completed"


def _check_settings(train_size, iters_num, batch_size, eval_interval, seed):
    """The loop's settings, checked: SettingError says which one is wrong and why."""
    batch_size = whole_number("batch_size", batch_size)
    if batch_size > train_size:
        raise SettingError(
            "batch_size",
            f"is {batch_size}, larger than the training set ({train_size} images): "
            f"choose at most {train_size}",
        )
    return {
        "iters_num": whole_number("iters_num", iters_num),
        "batch_size": batch_size,
        "eval_interval": whole_number("eval_interval", eval_interval),
        "seed": None if seed is None else whole_number("seed", seed, minimum=0),
    }


def _norms(grad):
    return {key: float(np.linalg.norm(g)) for key, g in grad.items() if key.startswith("W")}


class _Evaluation:
    """Evaluation points waiting for their test accuracy, and the losses held back with
    them, so that each callback sees History as it was at its point."""

    def __init__(self, network, history, x_test, d_test, callbacks, eval_interval):
        self.history = history
        self.x_test = x_test
        self.d_test = d_test
        self.callbacks = callbacks
        self.losses = []
        self.points = []
        self.last = None  # (iteration, gradient, batch images, batch labels) of the last update
        self.start = time.perf_counter()
        self.size = 1  # points per group: grouped only for MultiLayerNet, in a memory bound
        if type(network) is MultiLayerNet:
            point_bytes = sum(param.nbytes for param in network.params.values())
            point_bytes += CHUNK_ROWS * network.params["W1"].shape[1] * network.dtype.itemsize
            sizes = (GROUP_POINTS, GROUP_ITERATIONS // eval_interval, GROUP_BYTES // point_bytes)
            self.size = max(1, min(sizes))

    def add(self, network, it, grad, x_batch, d_batch):
        """Keep the point after iteration ``it``; True when its group is full."""
        self.points.append(
            {
                "it": it,
                "norms": _norms(grad),
                "train_acc": network.accuracy(x_batch, d_batch),
                "model": copy.deepcopy(network) if self.size > 1 else network,
            }
        )
        return len(self.points) == self.size

    def group(self):
        """Record the waiting points in order, each heard by the callbacks; True on a stop."""
        history = self.history
        for point, accuracy in zip(self.points, self._test_accuracies(), strict=True):
            point["test_acc"] = accuracy
        stop = False
        while self.points:
            point = self.points.pop(0)
            history.losses.extend(self.losses[len(history.losses) : point["it"]])
            history.eval_iters.append(point["it"])
            history.train_acc.append(point["train_acc"])
            history.test_acc.append(point["test_acc"])
            for key, norm in point["norms"].items():
                history.grad_norms[key].append(norm)
            history.wall_time = time.perf_counter() - self.start
            answers = [cb(history) for cb in self.callbacks]
            stop = stop or any(answer is False for answer in answers)
        return stop

    def _test_accuracies(self):
        models = [point["model"] for point in self.points]
        if len(models) < 2 or type(models[0]) is not MultiLayerNet:
            return [model.accuracy(self.x_test, self.d_test) for model in models]
        W1 = np.concatenate([model.params["W1"] for model in models], axis=1)
        width = models[0].params["W1"].shape[1]
        correct = [0] * len(models)
        for start in range(0, len(self.x_test), CHUNK_ROWS):
            wide = self.x_test[start : start + CHUNK_ROWS] @ W1
            d = self.d_test[start : start + CHUNK_ROWS]
            for k, model in enumerate(models):
                y = wide[:, k * width : (k + 1) * width] + model.params["b1"]
                for name, layer in list(model.layers.items())[1:]:  # predict() after Affine1
                    y = (
                        layer.forward(y, False)
                        if name.startswith("BatchNorm")
                        else layer.forward(y)
                    )
                correct[k] += np.sum(np.argmax(y, axis=1) == d)
        return [float(count / len(self.d_test)) for count in correct]

    def interrupted(self, network):
        """Ctrl-C: record what was learned up to the last update, without callbacks."""
        self.callbacks = []
        reached = self.points[-1]["it"] if self.points else (self.history.eval_iters or [0])[-1]
        if self.last is not None and self.last[0] > reached:
            self.add(network, *self.last)
        self.group()
        self.history.status = "stopped"
        self.history.message = f"stopped at iteration {len(self.losses)} (Ctrl-C)"
        print(f"train(): {self.history.message}; what was learned so far is returned")

    def finish(self, learning_rate):
        """The losses held back into History, and the note on dead ReLUs where it applies."""
        history = self.history
        history.losses.extend(self.losses[len(history.losses) :])
        history.note_dead_relus(learning_rate)
        history.wall_time = time.perf_counter() - self.start
        return history


def run(config, data, *, callback=None, network=None):
    """Train ``config``'s network on ``data``: the one way a RunConfig becomes a History.

    network: train this one instead of a fresh ``config.build_network()`` (to look
    inside it afterwards); it must have been built from ``config``.
    """
    loaded = getattr(data, "dataset", None)
    if loaded is not None and config.dataset is not None and loaded != config.dataset:
        raise ValueError(f"the config asks for {config.dataset!r} but the data is {loaded!r}")
    if network is None:
        network = config.build_network(data)
    elif not config.network_matches(network):
        raise ValueError(f"the network given was not built from {config.label}")
    loop = {name: getattr(config, name) for name in ("iters_num", "batch_size", "eval_interval")}
    optimizer = config.build_optimizer()
    history = train(network, data, optimizer=optimizer, seed=config.seed, callback=callback, **loop)
    # The config as asked, also for a model that cannot describe itself.
    history.config = config
    return history


def print_progress(every=50):
    """A callback that prints the seed's two progress lines every ``every`` iterations."""

    def callback(history):
        it = history.eval_iters[-1]
        if it % every == 0:
            print(f"Generation: {it}. 正答率(トレーニング) = {history.train_acc[-1]}")
            print(f"                : {it}. 正答率(テスト) = {history.test_acc[-1]}")

    return callback
