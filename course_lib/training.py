"""train(): the one training loop, and History, what a run leaves behind.

The protocol is the seed's: random mini-batches drawn with replacement, plain
SGD, and every ``eval_interval`` iterations the accuracy on the current batch
and on the whole test set. The notebooks, the dashboard, the CLI and the tests
all train through this function.
"""

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from course_lib.common.functions import _label_indices
from course_lib.multi_layer_net import check_positive_int, network_label

PROGRESS_EVERY = 50

# A run counts as diverged when its loss is not finite or exceeds this many times
# the loss of guessing uniformly (ln 10 for 10 classes). The loss is computed from
# the logits, so it does not saturate the way log(y + 1e-7) does: an exploding
# run shows up as a huge but finite loss before its ReLUs die.
DIVERGENCE_FACTOR = 10


@dataclass
class History:
    """Everything one training run recorded.

    losses: training loss of every iteration (the mini-batch's loss)
    eval_iters: the iterations at which the network was evaluated
    train_acc / test_acc: accuracy on the current batch / on the test set there
    grad_norms: {'W1': [...], ...} norm of each weight gradient at each evaluation
    initial_grad_norms: {'W1': ..., ...} the same for the first batch, before any update
    status: 'running', 'completed', 'stopped' (by the callback) or 'diverged'
    """

    settings: dict = field(default_factory=dict)
    iters_num: int = 0
    eval_interval: int = 10
    losses: list = field(default_factory=list)
    eval_iters: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    grad_norms: dict = field(default_factory=dict)
    initial_grad_norms: dict = field(default_factory=dict)
    wall_time: float = 0.0
    status: str = "running"
    message: str = ""
    diverged_at: int | None = None

    @property
    def label(self):
        """Short description of the run's settings, for legends and tables."""
        s = self.settings
        if not s:
            return "run"
        return network_label(
            s.get("activation"), s.get("weight_init_std"), s.get("hidden_size_list", [])
        )

    @property
    def final_train_acc(self):
        """Train-batch accuracy at the last evaluation (nan if none)."""
        return self.train_acc[-1] if self.train_acc else math.nan

    @property
    def final_test_acc(self):
        """Test accuracy at the last evaluation (nan if none)."""
        return self.test_acc[-1] if self.test_acc else math.nan

    def first_iter_above(self, threshold=0.5, metric="test"):
        """First evaluated iteration whose accuracy exceeds threshold, or None."""
        values = self.test_acc if metric == "test" else self.train_acc
        for it, acc in zip(self.eval_iters, values, strict=True):
            if acc > threshold:
                return it
        return None

    def summary(self):
        """One line: settings, final accuracies, first iteration above 50 %, time."""
        first = self.first_iter_above(0.5)
        line = (
            f"{self.label}: train {self.final_train_acc:.3f}, test {self.final_test_acc:.3f}, "
            f"test > 50% from iter {first if first is not None else '-'}, "
            f"{self.wall_time:.1f} s, {self.status}"
        )
        if self.message:
            line += f" ({self.message})"
        return line

    def figure(self, title="accuracy", ax=None):
        """The seed's accuracy figure for this run."""
        from course_lib.plots import accuracy_figure

        return accuracy_figure(self, title=title, ax=ax)

    def to_dict(self):
        """Plain data (JSON-ready) of this History."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """A History from ``to_dict()``'s output."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_seed_lists(
        cls, settings, train_loss_list, accuracies_train, accuracies_test, plot_interval
    ):
        """A History from the lists the seed's explicit loop fills, for plots and reports."""
        n_evals = len(accuracies_test)
        return cls(
            settings=dict(settings),
            iters_num=len(train_loss_list),
            eval_interval=plot_interval,
            losses=[float(v) for v in train_loss_list],
            eval_iters=[plot_interval * (k + 1) for k in range(n_evals)],
            train_acc=[float(v) for v in accuracies_train],
            test_acc=[float(v) for v in accuracies_test],
            status="completed",
        )


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


def train(
    network,
    data,
    *,
    iters_num=2000,
    batch_size=100,
    learning_rate=0.1,
    eval_interval=10,
    seed=None,
    callback=None,
):
    """Train ``network`` on ``data`` with the seed's protocol and return a History.

    data: ((x_train, d_train), (x_test, d_test)), as load_mnist() returns it.
    seed: seed of the mini-batch draws; the same network seed and run seed
        give the same run.
    callback: a function, or a list of functions, called as ``callback(history)``
        after each evaluation; returning False stops the run (status 'stopped').
    A run whose loss becomes NaN, infinite, or more than DIVERGENCE_FACTOR times
    the loss of guessing stops at once (status 'diverged').
    """
    x_train, d_train, x_test, d_test = _check_data(data)
    iters_num = check_positive_int("iters_num", iters_num)
    batch_size = check_positive_int("batch_size", batch_size)
    eval_interval = check_positive_int("eval_interval", eval_interval)
    train_size = len(x_train)
    if batch_size > train_size:
        raise ValueError(
            f"batch_size {batch_size} is larger than the training set ({train_size} images)"
        )
    if not isinstance(learning_rate, (int, float, np.floating)) or not learning_rate > 0:
        raise ValueError(f"learning_rate must be a number > 0, got {learning_rate!r}")
    if not math.isfinite(learning_rate):
        raise ValueError(f"learning_rate must be finite, got {learning_rate!r}")
    if np.prod(np.shape(x_train)[1:]) != network.input_size:
        raise ValueError(
            f"the images have {int(np.prod(np.shape(x_train)[1:]))} values each but the network "
            f"expects input_size={network.input_size}"
        )
    if callback is None:
        callbacks = []
    elif isinstance(callback, (list, tuple)):
        callbacks = list(callback)
    else:
        callbacks = [callback]

    # Cast and flatten once here, not in every forward pass, and turn one-hot labels
    # into label indices once: the loss and the accuracy then need no argmax per call.
    x_train = np.asarray(x_train, dtype=network.dtype).reshape(train_size, -1)
    x_test = np.asarray(x_test, dtype=network.dtype).reshape(len(x_test), -1)
    d_train = _label_indices(d_train, network.output_size)
    d_test = _label_indices(d_test, network.output_size)
    lr = network.dtype.type(learning_rate)
    # Scratch space for lr * grad, so the update allocates nothing and leaves the
    # gradients (the layers' dW, db) as they are for the gradient norms.
    step = {key: np.empty_like(value) for key, value in network.params.items()}
    rng = np.random.default_rng(seed)
    weight_keys = network.weight_keys
    params = network.params

    history = History(
        settings={
            "activation": network.activation,
            "weight_init_std": network.weight_init_std,
            "hidden_size_list": list(network.hidden_size_list),
            "iters_num": iters_num,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "eval_interval": eval_interval,
            "network_seed": network.seed,
            "seed": seed,
        },
        iters_num=iters_num,
        eval_interval=eval_interval,
        grad_norms={k: [] for k in weight_keys},
    )
    loss_limit = DIVERGENCE_FACTOR * math.log(network.output_size)
    start = time.perf_counter()
    # Overflow in a diverging run is expected and reported through History.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i in range(iters_num):
            batch_mask = rng.integers(0, train_size, batch_size)
            x_batch = x_train[batch_mask]
            d_batch = d_train[batch_mask]

            grad = network.gradient(x_batch, d_batch)
            loss = network.last_layer.loss + network.weight_penalty()
            if not loss <= loss_limit:  # also catches NaN
                history.status = "diverged"
                history.diverged_at = i + 1
                history.message = (
                    f"diverged at iteration {i + 1} (loss {loss:.4g}, more than "
                    f"{DIVERGENCE_FACTOR} times the loss of guessing); "
                    f"try a smaller learning rate than {learning_rate:g}"
                )
                break
            history.losses.append(loss)
            if i == 0:
                # The first gradient is the one at initialisation: free to keep.
                history.initial_grad_norms = {
                    key: float(np.linalg.norm(grad[key])) for key in weight_keys
                }
            for key in params:
                params[key] -= np.multiply(grad[key], lr, out=step[key])

            if (i + 1) % eval_interval == 0:
                history.eval_iters.append(i + 1)
                history.train_acc.append(network.accuracy(x_batch, d_batch))
                history.test_acc.append(network.accuracy(x_test, d_test))
                for key in weight_keys:
                    history.grad_norms[key].append(float(np.linalg.norm(grad[key])))
                history.wall_time = time.perf_counter() - start
                # Every callback hears every evaluation, even when an earlier one stops.
                answers = [cb(history) for cb in callbacks]
                if any(answer is False for answer in answers):
                    history.status = "stopped"
                    history.message = f"stopped at iteration {i + 1}"
                    break
        else:
            history.status = "completed"
    history.wall_time = time.perf_counter() - start
    return history


def print_progress(every=PROGRESS_EVERY):
    """A callback that prints the seed's two progress lines every ``every`` iterations."""

    def callback(history):
        it = history.eval_iters[-1]
        if it % every == 0:
            print(f"Generation: {it}. 正答率(トレーニング) = {history.train_acc[-1]}")
            print(f"                : {it}. 正答率(テスト) = {history.test_acc[-1]}")

    return callback
