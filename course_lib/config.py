"""RunConfig: the one description of a training run, checked when made.

It reads what a person types (``"40,20"``), builds its network and optimizer, and has
the one ``label``. Each field that people set carries a ``Setting``: the command line
makes a flag of it and the dashboard a control, so a new field appears in both by itself.
"""

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from course_lib.common.optimizer import OPTIMIZERS
from course_lib.multi_layer_net import (
    ACTIVATIONS,
    WEIGHT_INITS,
    MultiLayerNet,
    check_hidden_sizes,
    check_weight_init,
)
from course_lib.validation import SettingError, choice, positive_number, whole_number, yes_no

ACTIVATION_NAMES = {name: name for name in ACTIVATIONS}
DATASET_NAMES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
OPTIMIZER_NAMES = {name: cls.__name__ for name, cls in OPTIMIZERS.items()}
# The fields that are MultiLayerNet's arguments of the same name (and its attributes).
NETWORK_FIELDS = ("activation", "weight_init_std", "hidden_size_list", "use_batchnorm")


def parse_hidden_sizes(text):
    """'40,20' -> (40, 20), or a SettingError saying what is wrong with the typed text."""
    cleaned = str(text).strip().strip("[]()").strip()
    if not cleaned:
        problem = "is empty: enter the size of each hidden layer, e.g. 40,20"
        raise SettingError("hidden_size_list", problem)
    parts = [part.strip() for part in cleaned.split(",")]
    for part in parts:
        if not part.removeprefix("-").isdecimal():
            problem = f"{text!r}: {part!r} is not a whole number; enter sizes such as 40,20"
            raise SettingError("hidden_size_list", problem)
        if int(part) < 1:
            problem = f"{text!r}: each size must be at least 1, got {part} (sizes such as 40,20)"
            raise SettingError("hidden_size_list", problem)
    return tuple(int(part) for part in parts)


class Setting(NamedTuple):
    """How people see a field of RunConfig: its name in the dashboard ('hidden layers'), its
    flag ('--hidden'), one line of help for both, a pick list's choices {value: shown name}."""

    label: str
    flag: str
    help: str
    choices: dict | None = None


def _setting(default, *about):
    return field(default=default, metadata={"setting": Setting(*about)})


def _optional_seed(name, value):
    return None if value is None else whole_number(name, value, minimum=0)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run; the defaults are the seed's ReLU run.

    ``seed`` seeds the weights and the mini-batch draws (``network_seed``, if set, seeds
    the weights instead: only code sets it, for a network built with a seed of its own).
    """

    activation: str = _setting(
        "relu", "activation", "--activation", "activation of the hidden layers", ACTIVATION_NAMES
    )
    weight_init_std: object = _setting(
        0.01, "weight init", "--weight-init", f"std such as 0.01, or {', '.join(WEIGHT_INITS)}"
    )
    hidden_size_list: tuple = _setting((40, 20), "hidden layers", "--hidden", "sizes, e.g. 40,20")
    use_batchnorm: bool = _setting(
        False, "batch norm", "--batchnorm", "Affine -> BatchNorm -> activation in each layer"
    )
    optimizer: str = _setting("sgd", "optimizer", "--optimizer", "update rule", OPTIMIZER_NAMES)
    learning_rate: float = _setting(0.1, "learning rate", "--lr", "learning rate")
    iters_num: int = _setting(2000, "iterations", "--iters", "training iterations")
    batch_size: int = _setting(100, "batch size", "--batch-size", "images per mini-batch")
    eval_interval: int = _setting(
        10, "eval every", "--eval-interval", "iterations between accuracies (plot_interval)"
    )
    seed: int | None = _setting(0, "seed", "--seed", "seed of the weights and mini-batches")
    dataset: str = _setting("mnist", "dataset", "--dataset", "data set", DATASET_NAMES)
    network_seed: int | None = None

    def __post_init__(self):
        dataset = self.dataset
        checked = {
            "activation": choice("activation", self.activation, list(ACTIVATIONS)),
            "weight_init_std": check_weight_init(self.weight_init_std),
            "hidden_size_list": tuple(check_hidden_sizes(self.hidden_size_list)),
            "use_batchnorm": yes_no("use_batchnorm", self.use_batchnorm),
            "optimizer": choice("optimizer", self.optimizer, list(OPTIMIZERS)),
            "learning_rate": positive_number("learning_rate", self.learning_rate),
            "iters_num": whole_number("iters_num", self.iters_num),
            "batch_size": whole_number("batch_size", self.batch_size),
            "eval_interval": whole_number("eval_interval", self.eval_interval),
            "seed": _optional_seed("seed", self.seed),
            # None: data that does not say which set it is (see History.for_training).
            "dataset": None if dataset is None else choice("dataset", dataset, [*DATASET_NAMES]),
            "network_seed": _optional_seed("network_seed", self.network_seed),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_text(cls, **texts):
        """A RunConfig from typed text per field, e.g. from_text(hidden_size_list='40,20'): text
        is read as a number where the field's default is one, values that are not text (a pick
        list's, a check box's) as they are."""
        kinds = {f.name: type(f.default) for f in dataclasses.fields(cls)}
        values = dict(texts)
        for name, text in texts.items():
            if name == "hidden_size_list" and isinstance(text, str):
                values[name] = parse_hidden_sizes(text)
            elif isinstance(text, str) and kinds.get(name) in (int, float):
                # Text that is not a number stays as it is: the field's check says what is wrong.
                with contextlib.suppress(ValueError):
                    values[name] = kinds[name](text.strip())
        return cls(**values)

    @classmethod
    def from_dict(cls, data):
        """A RunConfig from ``dataclasses.asdict()``'s output (unknown keys are ignored)."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    def network_matches(self, network):
        """True if ``network`` has this config's network settings (activation, ...)."""
        own = {name: getattr(network, name, None) for name in NETWORK_FIELDS}
        return None not in own.values() and self.replace(**own) == self

    def replace(self, **changes):
        """A copy with some fields changed (checked like a new RunConfig)."""
        return dataclasses.replace(self, **changes)

    def build_network(self, data=None):
        """A fresh MultiLayerNet with this run's settings and initial weights, sized for
        ``data``: its images' values in, its classes out (one-hot labels give their
        number; label indices mean MNIST's 10). Without data: sized for MNIST."""
        sizes = {"input_size": 784, "output_size": 10}
        if data is not None:
            (x_train, d_train), _ = data
            d = np.asarray(d_train)
            sizes["input_size"] = int(np.prod(np.shape(x_train)[1:]))
            sizes["output_size"] = d.shape[1] if d.ndim == 2 else 10
        return MultiLayerNet(
            **sizes,
            seed=self.seed if self.network_seed is None else self.network_seed,
            **{name: getattr(self, name) for name in NETWORK_FIELDS},
        )

    def build_optimizer(self):
        """A fresh optimizer with this run's update rule and learning rate."""
        return OPTIMIZERS[self.optimizer](lr=self.learning_rate)

    def text(self, name):
        """Field ``name`` as a person would type it (the inverse of from_text), e.g. '40,20'."""
        value = getattr(self, name)
        return ",".join(str(n) for n in value) if isinstance(value, tuple) else str(value)

    @property
    def label(self):
        """Short description such as 'relu / He [40,20] lr=0.1'."""
        return common_label([self])


def _label_parts(config):
    init = config.weight_init_std
    init_text = init if isinstance(init, str) else f"{init:g}"
    return {
        "network": f"{config.activation} / {init_text}",
        "hidden": f"[{config.text('hidden_size_list')}]",
        "batchnorm": "BN" if config.use_batchnorm else "no BN",
        "learning_rate": f"lr={config.learning_rate:g}",
        "optimizer": OPTIMIZER_NAMES[config.optimizer],
        "dataset": DATASET_NAMES.get(config.dataset, "MNIST"),
    }


# The parts a label leaves out, unless runs differ in them: the seed's own settings.
_UNSAID = {"no BN", "SGD", "MNIST"}


def distinct_labels(configs):
    """Labels that show only what differs between the configs (legends of a comparison);
    runs that differ in nothing shown get their full labels, and their seeds if those differ."""
    parts = [_label_parts(c) for c in configs]
    differ = [key for key in parts[0] if len({p[key] for p in parts}) > 1] if parts else []
    if differ:
        return [" ".join(p[key] for key in differ) for p in parts]
    labels = [c.label for c in configs]
    if len({c.seed for c in configs}) > 1:
        labels = [f"{label} seed={c.seed}" for label, c in zip(labels, configs, strict=True)]
    return labels


def common_label(configs):
    """The settings every config shares, as in ``label`` ('' if they share none)."""
    parts = [_label_parts(c) for c in configs] or [{}]
    shared = [part for key, part in parts[0].items() if len({p[key] for p in parts}) == 1]
    return " ".join(part for part in shared if part not in _UNSAID)


def settings():
    """{field name: Setting} of the fields people set, in order (not ``network_seed``)."""
    return {f.name: f.metadata["setting"] for f in dataclasses.fields(RunConfig) if f.metadata}
