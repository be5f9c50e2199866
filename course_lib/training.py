"""train(): the one training loop, and History, what a run leaves behind.

The protocol is the seed's: random mini-batches drawn with replacement, an update
rule (SGD by default), and every ``eval_interval`` iterations the accuracy on the
current batch and on the whole test set. The notebooks, the dashboard, the CLI and
the tests all train through this function.
"""

import html
import math
import time
import uuid
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from course_lib.common.functions import label_indices
from course_lib.common.optimizer import SGD, make_optimizer
from course_lib.config import RunConfig
from course_lib.evaluation import EvaluationStep, one_blas_thread
from course_lib.validation import SettingError, whole_number

PROGRESS_EVERY = 50

# A run counts as diverged when its loss is not finite or exceeds this many times
# the loss of guessing uniformly (ln 10 for 10 classes). The loss is computed from
# the logits, so it does not saturate the way log(y + 1e-7) does: an exploding
# run shows up as a huge but finite loss before its ReLUs die.
DIVERGENCE_FACTOR = 10

# The MIME type of a History's own output in a notebook: ``reproduce`` reads the runs a
# notebook made back from the executed notebook by it.
HISTORY_MIME = "application/vnd.course-lib.history+json"


@dataclass
class History:
    """Everything one training run recorded.

    config: the RunConfig the run was trained with (None for a model that is not a
        MultiLayerNet)
    data: what it was trained on: {'description', 'source', 'n_train', 'n_test'}
    losses: training loss of every iteration (the mini-batch's loss)
    eval_iters: the iterations at which the network was evaluated
    train_acc / test_acc: accuracy on the current batch / on the test set there
    grad_norms: {'W1': [...], ...} norm of each weight gradient at each evaluation
    initial_grad_norms: {'W1': ..., ...} the same for the first batch, before any update
    status: 'running', 'completed', 'stopped' (by the callback) or 'diverged'
    message: what went wrong or what to know, in one sentence ('' if nothing)
    run_id: tells two runs apart even when their settings are the same
    """

    config: RunConfig | None = None
    data: dict = field(default_factory=dict)
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
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def label(self):
        """Short description of the run's settings, for legends and tables."""
        return self.config.label if self.config is not None else "run"

    @property
    def iters_num(self):
        """The iterations the run was asked for."""
        return self.config.iters_num if self.config is not None else len(self.losses)

    @property
    def iterations_done(self):
        """The iterations it actually trained (fewer if stopped or diverged)."""
        return self.diverged_at or (self.eval_iters[-1] if self.eval_iters else len(self.losses))

    @property
    def x_extent(self):
        """How far an iteration axis should reach: the plan while running, else what ran."""
        if self.status in ("running", "completed"):
            return max(self.iters_num, 1)
        return max(self.iterations_done, 1)

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
        for it, acc in zip(self.eval_iters, values, strict=False):
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

    def snapshot(self):
        """A copy whose lists later evaluations do not change (for another thread)."""
        copy = History(**{f.name: getattr(self, f.name) for f in fields(self)})
        for name in ("losses", "eval_iters", "train_acc", "test_acc"):
            setattr(copy, name, list(getattr(self, name)))
        copy.grad_norms = {k: list(v) for k, v in self.grad_norms.items()}
        return copy

    def to_dict(self):
        """Plain data (JSON-ready) of this History."""
        data = asdict(self)
        data["config"] = self.config.to_dict() if self.config is not None else None
        return data

    @classmethod
    def from_dict(cls, data):
        """A History from ``to_dict()``'s output."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if values.get("config") is not None:
            values["config"] = RunConfig.from_dict(values["config"])
        return cls(**values)

    @classmethod
    def from_seed_lists(
        cls, config, train_loss_list, accuracies_train, accuracies_test, plot_interval, data=None
    ):
        """A History from the lists the seed's explicit loop fills, for plots and reports.

        config: the RunConfig of the network the loop trained; data: what it trained on.
        """
        n_evals = len(accuracies_test)
        return cls(
            config=config,
            data=describe_data(data) if data is not None else {},
            losses=[float(v) for v in train_loss_list],
            eval_iters=[plot_interval * (k + 1) for k in range(n_evals)],
            train_acc=[float(v) for v in accuracies_train],
            test_acc=[float(v) for v in accuracies_test],
            status="completed",
        )

    def _repr_html_(self):
        first = self.first_iter_above(0.5)
        rows = {
            "run": self.label,
            "data": self.data.get("description", ""),
            "final accuracy": f"train {self.final_train_acc:.3f}, test {self.final_test_acc:.3f}",
            "test > 50 % from iter": first if first is not None else "-",
            "status": self.status + (f": {self.message}" if self.message else ""),
            "time": f"{self.wall_time:.1f} s",
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows.items()
        )
        return f"<table class='course-history'>{body}</table>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The JSON rides along with what people see, so the executed notebook itself
        # holds the runs it made; frontends show the HTML and ignore the rest.
        return {
            "text/plain": self.summary(),
            "text/html": self._repr_html_(),
            HISTORY_MIME: self.to_dict(),
        }


def describe_data(data):
    """{'description', 'source', 'n_train', 'n_test'} of data as load_mnist() returns it."""
    (x_train, _), (x_test, _) = data
    n_train, n_test = len(x_train), len(x_test)
    sizes = f"{n_train:,} train / {n_test:,} test images"
    return {
        "description": getattr(data, "description", None) or sizes,
        "source": getattr(data, "source", None),
        "n_train": n_train,
        "n_test": n_test,
    }


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
      - ``input_size``, ``output_size`` and ``dtype`` (the images are cast to it once).
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
    # Overflow in a diverging run is expected and reported through History. One BLAS
    # thread: a second gains little on this loop's products and, when another process
    # holds a core, waits for it. The evaluation step, most of a run's time, keeps the
    # second core busy itself while this thread trains on (see evaluation.py).
    with (
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
        one_blas_thread(),
        EvaluationStep(network, optimizer, x_test, d_test, history, callbacks, start) as evaluation,
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
    dead_since = evaluation.dead_since
    if dead_since is not None and history.status != "diverged":
        note = (
            f"stopped learning at iteration {dead_since}: every weight gradient is exactly 0 "
            "because a hidden layer outputs 0 for every image (dead ReLUs); try a smaller "
            f"learning rate than {optimizer.lr:g} or another weight init"
        )
        history.message = f"{history.message}; {note}" if history.message else note
    history.wall_time = time.perf_counter() - start
    return history


def run(config, data, *, callback=None, network=None):
    """Train ``config``'s network on ``data``: the one way a RunConfig becomes a History.

    network: train this one instead of a fresh ``config.build_network()`` (to look
    inside it afterwards); it must have been built from ``config``.
    """
    (x_train, d_train), _ = data
    loaded = getattr(data, "dataset", None)
    if loaded is not None and config.dataset is not None and loaded != config.dataset:
        raise ValueError(f"the config asks for {config.dataset!r} but the data is {loaded!r}")
    if network is None:
        d = np.asarray(d_train)
        network = config.build_network(
            input_size=int(np.prod(np.shape(x_train)[1:])),
            output_size=d.shape[1] if d.ndim == 2 else 10,
        )
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
