"""train(): the one training loop, and run(): a RunConfig trained into a History.

The protocol is the seed's: random mini-batches drawn with replacement, an update
rule (SGD by default), and every ``eval_interval`` iterations the accuracy on the
current batch and on the whole test set. The notebooks, the dashboard, the CLI and
the tests all train through this function.
"""

import math
import time

import numpy as np

from course_lib.common.functions import label_indices
from course_lib.common.optimizer import SGD, make_optimizer
from course_lib.config import RunConfig
from course_lib.evaluation import EvaluationStep
from course_lib.history import History, describe_data
from course_lib.validation import SettingError, whole_number

PROGRESS_EVERY = 50

# A run counts as diverged when its loss is not finite or exceeds this many times
# the loss of guessing uniformly (ln 10 for 10 classes). The loss is computed from
# the logits, so it does not saturate the way log(y + 1e-7) does: an exploding
# run shows up as a huge but finite loss before its ReLUs die.
DIVERGENCE_FACTOR = 10


def _check_data(data):
    try:
        (x_train, d_train), (x_test, d_test) = data
    except (TypeError, ValueError):
        raise ValueError(
            "data must be ((x_train, d_train), (x_test, d_test)) as load_mnist() returns it"
        ) from None
    for name, x, d in (("train", x_train, d_train), ("test", x_test, d_test)):
        if len(x) != len(d):
            raise ValueError(
                f"{name} data has {len(x)} images but {len(d)} labels; they must match"
            )
        if len(x) == 0:
            raise ValueError(f"{name} data is empty")
    if np.shape(x_train)[1:] != np.shape(x_test)[1:]:
        raise ValueError(
            f"train images have shape {np.shape(x_train)[1:]} but test images "
            f"{np.shape(x_test)[1:]}; they must match"
        )
    return x_train, d_train, x_test, d_test


def _check_finite(name, x):
    bad = x.size - int(np.count_nonzero(np.isfinite(x)))
    if bad:
        raise ValueError(
            f"the {name} contain {bad:,} NaN or infinite value{'s' if bad > 1 else ''} "
            f"(of {x.size:,}); clean or reload the data before training"
        )


def _resolve_optimizer(optimizer, learning_rate):
    if optimizer is None or isinstance(optimizer, str):
        lr = 0.1 if learning_rate is None else learning_rate
        return SGD(lr=lr) if optimizer is None else make_optimizer(optimizer, lr)
    if learning_rate is not None:
        raise ValueError(
            "pass the learning rate either as learning_rate= or inside optimizer=, not both"
        )
    if not hasattr(optimizer, "update"):
        raise ValueError(f"optimizer must have update(params, grads), got {optimizer!r}")
    return optimizer


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

    What a model must provide (MultiLayerNet does):
      - ``params``: dict of arrays, changed in place by the update rule;
      - ``loss_and_gradient(x, d)`` -> (loss of the batch, gradients keyed like params);
      - ``accuracy(x, d)`` -> fraction of rows classified right (evaluation mode);
      - ``input_size``, ``output_size`` and ``dtype`` (the images are cast to it once);
      - optionally ``state()``: every array that decides what it computes, if that is more
        than ``params`` (batch normalisation's running averages): the evaluation step
        copies it to evaluate on another thread.
    Gradient norms are recorded for the parameters whose names start with 'W'.

    data: ((x_train, d_train), (x_test, d_test)), as load_mnist() returns it; labels
        as indices or one-hot rows, checked against ``output_size``.
    learning_rate: shorthand for ``optimizer=SGD(lr=learning_rate)`` (default 0.1);
        optimizer may also be a name ('sgd', 'momentum', 'adagrad', 'adam').
    eval_interval: the accuracies are measured every eval_interval iterations and
        after the last one.
    seed: seed of the mini-batch draws; the same network seed and run seed
        give the same run.
    callback: a function, or a list of functions, called as ``callback(history)``
        after each evaluation; returning False stops the run (status 'stopped').
    A run whose loss becomes NaN, infinite, or more than DIVERGENCE_FACTOR times
    the loss of guessing stops at once (status 'diverged').
    """
    x_train, d_train, x_test, d_test = _check_data(data)
    iters_num = whole_number("iters_num", iters_num)
    batch_size = whole_number("batch_size", batch_size)
    eval_interval = whole_number("eval_interval", eval_interval)
    seed = None if seed is None else whole_number("seed", seed, minimum=0)
    train_size = len(x_train)
    if batch_size > train_size:
        raise SettingError(
            "batch_size",
            f"is {batch_size}, larger than the training set ({train_size} images): "
            f"choose at most {train_size}",
        )
    optimizer = _resolve_optimizer(optimizer, learning_rate)
    n_values = int(np.prod(np.shape(x_train)[1:]))
    if n_values != network.input_size:
        raise ValueError(
            f"the images have {n_values} values each but the network "
            f"expects input_size={network.input_size}"
        )
    callbacks = list(callback) if isinstance(callback, (list, tuple)) else [callback]
    callbacks = [cb for cb in callbacks if cb is not None]

    # Cast and flatten once here, not in every forward pass, and turn one-hot labels
    # into label indices once: the loss and the accuracy then need no argmax per call.
    x_train = np.asarray(x_train, dtype=network.dtype).reshape(train_size, -1)
    x_test = np.asarray(x_test, dtype=network.dtype).reshape(len(x_test), -1)
    _check_finite("training images", x_train)
    _check_finite("test images", x_test)
    d_train = label_indices(d_train, network.output_size, "training labels")
    d_test = label_indices(d_test, network.output_size, "test labels")
    rng = np.random.default_rng(seed)
    params = network.params
    weight_keys = [key for key in params if key.startswith("W")]

    history = History(
        config=RunConfig.describe(
            network,
            iters_num=iters_num,
            batch_size=batch_size,
            optimizer=getattr(optimizer, "name", type(optimizer).__name__.lower()),
            learning_rate=optimizer.lr,
            eval_interval=eval_interval,
            seed=seed,
            dataset=getattr(data, "dataset", None),
        ),
        data=describe_data(data),
        grad_norms={k: [] for k in weight_keys},
    )
    loss_limit = DIVERGENCE_FACTOR * math.log(network.output_size)
    start = time.perf_counter()
    # Overflow in a diverging run is expected and reported through History. The
    # evaluation step runs with one BLAS thread and evaluates points in groups, on both
    # cores for a large test set (see evaluation.py for why).
    with (
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        EvaluationStep(
            network, optimizer, x_test, d_test, history, callbacks, start, eval_interval
        ) as evaluation,
    ):
        for i in range(iters_num):
            batch_mask = rng.integers(0, train_size, batch_size)
            x_batch = x_train[batch_mask]
            d_batch = d_train[batch_mask]

            loss, grad = network.loss_and_gradient(x_batch, d_batch)
            if not loss <= loss_limit:  # also catches NaN
                if evaluation.finish():  # a callback stopped the run before this iteration
                    break
                history.status = "diverged"
                history.diverged_at = i + 1
                history.message = (
                    f"diverged at iteration {i + 1} (loss {loss:.4g}, more than "
                    f"{DIVERGENCE_FACTOR} times the loss of guessing); "
                    f"try a smaller learning rate than {optimizer.lr:g}"
                )
                break
            history.losses.append(loss)
            if i == 0:
                # The first gradient is the one at initialisation: free to keep.
                history.initial_grad_norms = {
                    key: float(np.linalg.norm(grad[key])) for key in weight_keys
                }
            optimizer.update(params, grad)

            if (i + 1) % eval_interval == 0 or i + 1 == iters_num:
                # Accuracies and gradient norms into History, then the callbacks: False
                # from one of them stops the run here.
                if evaluation.record(i + 1, grad, x_batch, d_batch):
                    break
        else:
            if not evaluation.finish():
                history.status = "completed"
    if evaluation.dead_since is not None and history.status != "diverged":
        history.dead_since = evaluation.dead_since
        note = (
            f"stopped learning at iteration {history.dead_since}: every weight gradient "
            "is exactly 0 because a hidden layer outputs 0 for every image (dead ReLUs); "
            f"try a smaller learning rate than {optimizer.lr:g} or another weight init"
        )
        history.message = f"{history.message}; {note}" if history.message else note
    history.wall_time = time.perf_counter() - start
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
        network = config.build_network_for(data)
    elif not config.network_matches(network):
        raise ValueError(f"{network!r} was not built from {config.label}")
    history = train(
        network,
        data,
        iters_num=config.iters_num,
        batch_size=config.batch_size,
        optimizer=config.build_optimizer(),
        eval_interval=config.eval_interval,
        seed=config.seed,
        callback=callback,
    )
    # The config as asked, also for a model that cannot describe itself.
    history.config = config
    return history


def print_progress(every=PROGRESS_EVERY):
    """A callback that prints the seed's two progress lines every ``every`` iterations."""

    def callback(history):
        it = history.eval_iters[-1]
        if it % every == 0:
            print(f"Generation: {it}. 正答率(トレーニング) = {history.train_acc[-1]}")
            print(f"                : {it}. 正答率(テスト) = {history.test_acc[-1]}")

    return callback
