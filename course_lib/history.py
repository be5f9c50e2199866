"""History: what a training run leaves behind, and how it shows itself in a notebook."""

import html
import json
import math
import uuid
from dataclasses import asdict, dataclass, field, fields

from course_lib.config import NETWORK_FIELDS, RunConfig

# The MIME type of a History's own output in a notebook: the executed notebook itself holds
# the runs it made, and ``reproduce`` reads them back from it (frontends show the HTML).
HISTORY_MIME = "application/vnd.course-lib.history+json"

# A run has diverged when its loss is not finite or exceeds this many times the loss of
# guessing uniformly (ln 10 for 10 classes): the one rule for train() and the seed's loop.
DIVERGENCE_FACTOR = 10

# The fields that hold numbers, which may be NaN or infinite in a run that blew up.
_NUMBER_FIELDS = ("losses", "train_acc", "test_acc", "grad_norms", "initial_grad_norms")
_HTML_ROW = "<tr><th style='text-align:left'>{}</th><td style='text-align:left'>{}</td></tr>"


def loss_limit(n_classes=10):
    """The loss above which a run counts as diverged."""
    return DIVERGENCE_FACTOR * math.log(n_classes)


def fmt_acc(value):
    """An accuracy with three decimals, or '-' if there is none (None or NaN)."""
    return "-" if value is None or value != value else f"{value:.3f}"


def _nan_for_null(value):
    """JSON's null numbers read back as NaN, in the lists and dicts that hold them."""
    if isinstance(value, dict):
        return {key: _nan_for_null(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_nan_for_null(v) for v in value]
    return math.nan if value is None else value


@dataclass
class History:
    """Everything one training run recorded.

    config: the RunConfig the run was trained with (None if the model is no MultiLayerNet)
    data: what it was trained on: {'description', 'source', 'n_train', 'n_test'}
    losses: training loss of every iteration (the mini-batch's loss)
    eval_iters: the iterations at which the network was evaluated
    train_acc / test_acc: accuracy on the current batch / on the test set there
    grad_norms: {'W1': [...], ...} norm of each weight gradient at each evaluation
    initial_grad_norms: {'W1': ..., ...} the same for the first batch, before any update
    status: 'running', 'completed', 'stopped' (by the callback) or 'diverged'
    message: what went wrong or what to know, in one sentence ('' if nothing)
    dead_since: the evaluation from which every weight gradient was exactly 0 (dead ReLUs), or None
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
    dead_since: int | None = None
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
        """The updates it made (fewer than asked if stopped or diverged): one loss each."""
        return len(self.losses)

    @property
    def x_extent(self):
        """How far an iteration axis should reach: the plan while running, else what ran."""
        planned = self.status in ("running", "completed")
        return max(self.iters_num if planned else self.iterations_done, 1)

    @property
    def final_train_acc(self):
        """Train-batch accuracy at the last evaluation (nan if none)."""
        return self.train_acc[-1] if self.train_acc else math.nan

    @property
    def final_test_acc(self):
        """Test accuracy at the last evaluation (nan if none)."""
        return self.test_acc[-1] if self.test_acc else math.nan

    def first_iter_above(self, threshold=0.5):
        """First evaluated iteration whose test accuracy exceeds threshold, or None."""
        points = zip(self.eval_iters, self.test_acc, strict=False)
        return next((it for it, acc in points if acc > threshold), None)

    def _facts(self):
        """What the run came to, for summary() and the table a notebook shows."""
        first = self.first_iter_above(0.5)
        return {
            "final accuracy": f"train {fmt_acc(self.final_train_acc)}, test "
            f"{fmt_acc(self.final_test_acc)}",
            "test > 50% from iter": "-" if first is None else first,
            "time": f"{self.wall_time:.1f} s",
            "status": self.status + (f" ({self.message})" if self.message else ""),
        }

    def summary(self):
        """One line: settings, final accuracies, first iteration above 50 %, time, status."""
        return f"{self.label}: " + ", ".join(f"{k} {v}" for k, v in self._facts().items())

    def to_dict(self):
        """Plain data of this History, valid strict JSON: NaN and infinities become null."""
        # json writes NaN and infinities (NumPy's too, as floats) as constants, read as null.
        return json.loads(json.dumps(asdict(self), default=float), parse_constant=lambda _: None)

    @classmethod
    def from_dict(cls, data):
        """A History from ``to_dict()``'s output (null numbers are read back as NaN)."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        if values.get("config") is not None:
            values["config"] = RunConfig.from_dict(values["config"])
        for name in _NUMBER_FIELDS:
            if name in values:
                values[name] = _nan_for_null(values[name])
        return cls(**values)

    @classmethod
    def for_training(cls, network, data, optimizer, **training):
        """An empty History for ``network`` about to be trained on ``data`` by train():
        its RunConfig read from the network's settings (None if it has none)."""
        config = None
        if all(hasattr(network, name) for name in NETWORK_FIELDS):
            seed = getattr(network, "seed", None)
            config = RunConfig(
                **{name: getattr(network, name) for name in NETWORK_FIELDS},
                network_seed=None if seed == training.get("seed") else seed,
                optimizer=getattr(optimizer, "name", type(optimizer).__name__.lower()),
                learning_rate=optimizer.lr,
                dataset=getattr(data, "dataset", None),
                **training,
            )
        grad_norms = {key: [] for key in network.params if key.startswith("W")}
        return cls(config=config, data=describe_data(data), grad_norms=grad_norms)

    def mark_diverged(self, iteration, loss, learning_rate):
        """Record that the loss of ``iteration`` blew up: where, how, and what to try."""
        self.status = "diverged"
        self.diverged_at = iteration
        self.message = (
            f"diverged at iteration {iteration} (loss {loss:.4g}, more than "
            f"{DIVERGENCE_FACTOR} times the loss of guessing); "
            f"try a smaller learning rate than {learning_rate:g}"
        )

    def note_dead_relus(self, learning_rate):
        """Set ``dead_since`` and say so if every weight gradient was exactly 0 from some
        evaluation to the end (dead ReLUs: a hidden layer outputs 0 for every image)."""
        self.dead_since = None
        for k, it in enumerate(self.eval_iters):
            dead = bool(self.grad_norms) and not any(n[k] for n in self.grad_norms.values())
            self.dead_since = (self.dead_since or it) if dead else None
        if self.dead_since is None or self.status == "diverged":
            self.dead_since = None
            return
        note = (
            f"stopped learning at iteration {self.dead_since}: every weight gradient is exactly "
            "0 because a hidden layer outputs 0 for every image (dead ReLUs); "
            f"try a smaller learning rate than {learning_rate:g} or another weight init"
        )
        self.message = f"{self.message}; {note}" if self.message else note

    @classmethod
    def from_seed_lists(
        cls, config, losses, train_acc, test_acc, plot_interval, *, data=None, wall_time=0.0
    ):
        """A History from the lists the seed's explicit loop fills, for plots and reports.

        losses, train_acc, test_acc: its train_loss_list, accuracies_train, accuracies_test;
        config: the RunConfig the loop trained; data: what on; wall_time: its seconds. A loss
        that is not finite or above ``loss_limit()`` makes the run 'diverged' there, as in
        train() (the seed's loop itself trains on to the end).
        """
        history = cls(
            config=config,
            data=describe_data(data) if data is not None else {},
            losses=[float(v) for v in losses],
            eval_iters=[plot_interval * (k + 1) for k in range(len(test_acc))],
            train_acc=[float(v) for v in train_acc],
            test_acc=[float(v) for v in test_acc],
            wall_time=float(wall_time),
            status="completed",
        )
        lr = config.learning_rate if config is not None else math.nan
        for i, loss in enumerate(history.losses):
            if not loss <= loss_limit():  # also catches NaN
                history.mark_diverged(i + 1, loss, lr)
                break
        return history

    def _repr_mimebundle_(self, include=None, exclude=None):
        facts = {"run": self.label, "data": self.data.get("description", ""), **self._facts()}
        rows = "".join(
            _HTML_ROW.format(html.escape(k), html.escape(str(v))) for k, v in facts.items()
        )
        return {
            "text/plain": self.summary(),
            "text/html": f"<table class='course-history'>{rows}</table>",
            HISTORY_MIME: self.to_dict(),
        }


def describe_data(data):
    """{'description', 'source', 'n_train', 'n_test'} of data as load_mnist() returns it."""
    (x_train, _), (x_test, _) = data
    sizes = f"{len(x_train):,} train / {len(x_test):,} test images"
    return {
        "description": getattr(data, "description", None) or sizes,
        "source": getattr(data, "source", None),
        "n_train": len(x_train),
        "n_test": len(x_test),
    }
