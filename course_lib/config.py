"""RunConfig: the one description of a training run.

Everything that defines a run lives in one frozen dataclass: the network (activation,
initial weights, hidden layers), the training (optimizer, learning rate, iterations,
batch size, evaluation interval), the seed and the dataset. It checks itself when made,
parses what a person types (``"40,20"``), builds its network and optimizer, and has the
one ``label``. Each field's ``Setting`` says how people see it: the command line makes
a flag of it and the dashboard a control, so a new field appears in both by itself.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from course_lib.common.optimizer import OPTIMIZERS, make_optimizer
from course_lib.data.mnist import load_mnist
from course_lib.multi_layer_net import (
    ACTIVATIONS,
    WEIGHT_INITS,
    MultiLayerNet,
    check_activation,
    check_hidden_sizes,
    check_weight_init,
)
from course_lib.validation import SettingError, choice, positive_number, whole_number, yes_no

DATASET_NAMES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}


@dataclass(frozen=True)
class Setting:
    """How people see one field of RunConfig.

    label: what the dashboard calls it ('hidden layers'); flag: the CLI's ('--hidden');
    help: one line for both; choices: {value: shown name} for a pick list;
    parse: text -> value for what a person types; text: value -> that text again;
    check: (name, value) -> the value made canonical, or SettingError;
    network: True for an argument of MultiLayerNet (kept as its attribute of that name);
    shown: False for a field that only code sets.
    """

    label: str
    flag: str
    help: str
    check: object
    choices: dict | None = None
    parse: object = None
    text: object = str
    network: bool = False
    shown: bool = True


def _optional_seed(name, value):
    return None if value is None else whole_number(name, value, minimum=0)


def parse_hidden_sizes(text):
    """'40,20' -> (40, 20): hidden layer sizes typed by a person (CLI, dashboard).

    Raises SettingError saying what is wrong with the text.
    """
    cleaned = str(text).strip().strip("[]()").strip()
    if not cleaned:
        raise SettingError(
            "hidden_size_list", "is empty: enter the size of each hidden layer, e.g. 40,20"
        )
    sizes = []
    for part in cleaned.split(","):
        part = part.strip()
        try:
            size = int(part)
        except ValueError:
            raise SettingError(
                "hidden_size_list",
                f"{text!r}: {part!r} is not a whole number; enter sizes such as 40,20",
            ) from None
        if size < 1:
            raise SettingError(
                "hidden_size_list",
                f"{text!r}: each size must be at least 1, got {size} (sizes such as 40,20)",
            )
        sizes.append(size)
    return tuple(sizes)


def parse_weight_init(text):
    """'0.01' -> 0.01, 'he' -> 'He': a std or an initialiser's name typed by a person."""
    try:
        return float(text)
    except ValueError:
        return check_weight_init(text)


def _parse_number(kind):
    def parse(text):
        try:
            return kind(str(text).strip())
        except ValueError:
            kind_text = "a whole number" if kind is int else "a number"
            raise ValueError(f"must be {kind_text}, got {text!r}") from None

    return parse


def _init_text(value):
    return value if isinstance(value, str) else f"{value:g}"


def _setting(default, **options):
    return field(default=default, metadata={"setting": Setting(**options)})


def _number(default, label, flag, help):
    """A field for a positive number: a whole one if the default is an int."""
    kind = int if isinstance(default, int) else float
    check = whole_number if kind is int else positive_number
    return _setting(
        default, label=label, flag=flag, help=help, check=check, parse=_parse_number(kind)
    )


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run; checked when made.

    The defaults are the seed's ReLU run: [40, 20], std 0.01, SGD at 0.1, 2000
    iterations of batches of 100, accuracy every 10 iterations, on MNIST.
    ``seed`` seeds the weights and the mini-batch draws (``network_seed``, if set,
    seeds the weights instead).
    """

    activation: str = _setting(
        "relu",
        label="activation",
        flag="--activation",
        help="activation of the hidden layers",
        check=lambda name, value: check_activation(value, name),
        network=True,
        choices={name: name for name in ACTIVATIONS},
    )
    weight_init_std: object = _setting(
        0.01,
        label="weight init",
        flag="--weight-init",
        help=f"std of the initial weights such as 0.01, or {', '.join(WEIGHT_INITS)}",
        check=lambda name, value: check_weight_init(value, name),
        network=True,
        parse=parse_weight_init,
        text=_init_text,
    )
    hidden_size_list: tuple = _setting(
        (40, 20),
        label="hidden layers",
        flag="--hidden",
        help="nodes of each hidden layer, e.g. 40,20",
        check=lambda name, value: tuple(check_hidden_sizes(value, name)),
        network=True,
        parse=parse_hidden_sizes,
        text=lambda sizes: ",".join(str(n) for n in sizes),
    )
    use_batchnorm: bool = _setting(
        False,
        label="batch norm",
        flag="--batchnorm",
        help="normalise each hidden layer over the batch (Affine -> BatchNorm -> activation)",
        check=yes_no,
        network=True,
    )
    optimizer: str = _setting(
        "sgd",
        label="optimizer",
        flag="--optimizer",
        help="update rule",
        check=lambda name, value: choice(name, value, list(OPTIMIZERS)),
        choices={name: cls.__name__ for name, cls in OPTIMIZERS.items()},
    )
    learning_rate: float = _number(0.1, "learning rate", "--lr", "learning rate")
    iters_num: int = _number(2000, "iterations", "--iters", "training iterations")
    batch_size: int = _number(100, "batch size", "--batch-size", "images per mini-batch")
    eval_interval: int = _number(
        10,
        "eval every",
        "--eval-interval",
        "iterations between two measurements of the accuracy (the seed's plot_interval)",
    )
    seed: int | None = _setting(
        0,
        label="seed",
        flag="--seed",
        help="seed of the initial weights and the mini-batches",
        check=_optional_seed,
        parse=_parse_number(int),
    )
    dataset: str = _setting(
        "mnist",
        label="dataset",
        flag="--dataset",
        help="data set",
        check=lambda name, value: None if value is None else choice(name, value, [*DATASET_NAMES]),
        choices=DATASET_NAMES,
    )
    network_seed: int | None = _setting(
        None,
        label="network seed",
        flag="--network-seed",
        help="seed of the initial weights, if not the same as seed",
        check=_optional_seed,
        shown=False,
    )

    def __post_init__(self):
        for name, setting in settings(all_fields=True).items():
            object.__setattr__(self, name, setting.check(name, getattr(self, name)))

    # ------------------------------------------------------------ made from ...

    @classmethod
    def from_text(cls, **texts):
        """A RunConfig from typed text per field, e.g. from_text(hidden_size_list='40,20')."""
        values = {}
        for name, text in texts.items():
            setting = settings(all_fields=True).get(name)
            if setting is None:
                raise TypeError(f"RunConfig has no field {name!r}")
            if setting.parse is None or not isinstance(text, str):
                values[name] = text
                continue
            try:
                values[name] = setting.parse(text)
            except SettingError:
                raise
            except ValueError as exc:
                raise SettingError(name, str(exc)) from None
        return cls(**values)

    @classmethod
    def from_dict(cls, data):
        """A RunConfig from ``to_dict()``'s output (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def describe(cls, network, **training):
        """The RunConfig of ``network`` trained with ``training`` (train()'s arguments).

        The network's own settings are read from its attributes; None if it has none
        (a model that is not a MultiLayerNet).
        """
        names = [name for name, s in settings(all_fields=True).items() if s.network]
        if not all(hasattr(network, name) for name in names):
            return None
        made = {name: getattr(network, name) for name in names}
        network_seed = getattr(network, "seed", None)
        if network_seed != training.get("seed"):
            made["network_seed"] = network_seed
        return cls(**made, **training)

    def network_matches(self, network):
        """True if ``network`` has this config's network settings (activation, ...)."""
        own = RunConfig.describe(network)
        names = [name for name, s in settings(all_fields=True).items() if s.network]
        return own is not None and all(getattr(own, n) == getattr(self, n) for n in names)

    # ------------------------------------------------------------ uses

    def replace(self, **changes):
        """A copy with some fields changed (checked like a new RunConfig)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """Plain JSON-ready data."""
        data = dataclasses.asdict(self)
        data["hidden_size_list"] = list(self.hidden_size_list)
        return data

    def without_seeds(self):
        """The same run with the seeds cleared: equal for two seeds of one experiment."""
        return self.replace(seed=None, network_seed=None)

    def build_network(self, input_size=784, output_size=10, dtype=np.float32):
        """A fresh MultiLayerNet with this run's settings and initial weights."""
        network_settings = {
            name: getattr(self, name) for name, s in settings(all_fields=True).items() if s.network
        }
        return MultiLayerNet(
            input_size=input_size,
            output_size=output_size,
            dtype=dtype,
            seed=self.seed if self.network_seed is None else self.network_seed,
            **network_settings,
        )

    def build_network_for(self, data):
        """A fresh network sized for ``data``: its images' values in, its classes out.

        Labels as one-hot rows give the number of classes; label indices mean MNIST's 10.
        """
        (x_train, d_train), _ = data
        d = np.asarray(d_train)
        return self.build_network(
            input_size=int(np.prod(np.shape(x_train)[1:])),
            output_size=d.shape[1] if d.ndim == 2 else 10,
        )

    def build_optimizer(self):
        """A fresh optimizer with this run's update rule and learning rate."""
        return make_optimizer(self.optimizer, self.learning_rate)

    def load_data(self, **options):
        """This run's dataset as the seed loads it (normalised, one-hot labels).

        options: load_mnist()'s keywords, such as source='sample'.
        """
        return load_mnist(normalize=True, one_hot_label=True, dataset=self.dataset, **options)

    def text(self, name):
        """Field ``name`` as a person would type it (the inverse of from_text)."""
        return settings(all_fields=True)[name].text(getattr(self, name))

    @property
    def label(self):
        """Short description such as 'relu / He [40,20] lr=0.1'."""
        return " ".join(part for part in _label_parts(self).values() if part)


def _label_parts(config):
    return {
        "network": f"{config.activation} / {_init_text(config.weight_init_std)}",
        "hidden": f"[{config.text('hidden_size_list')}]",
        "batchnorm": "BN" if config.use_batchnorm else "",
        "learning_rate": f"lr={config.learning_rate:g}",
        "optimizer": "" if config.optimizer == "sgd" else DISPLAY_OPTIMIZER[config.optimizer],
        "dataset": "" if config.dataset in ("mnist", None) else DATASET_NAMES[config.dataset],
    }


DISPLAY_OPTIMIZER = {name: cls.__name__ for name, cls in OPTIMIZERS.items()}


# What a label part says when a run lacks it, where runs differ in it: "no BN", not nothing.
_ABSENT = {"batchnorm": "no BN", "optimizer": "SGD", "dataset": "MNIST"}


def distinct_labels(configs):
    """Labels that show only what differs between the configs (legends of a comparison).

    Runs that differ in nothing shown get their full labels (and their seeds if those
    differ).
    """
    parts = [_label_parts(c) for c in configs]
    differ = [key for key in parts[0] if len({p[key] for p in parts}) > 1] if parts else []
    if not differ:
        labels = [c.label for c in configs]
        if len({c.seed for c in configs}) > 1:
            labels = [f"{label} seed={c.seed}" for label, c in zip(labels, configs, strict=True)]
        return labels
    return [" ".join(p[key] or _ABSENT[key] for key in differ) for p in parts]


def common_label(configs):
    """The settings every config shares, as in ``label`` ('' if they share none)."""
    parts = [_label_parts(c) for c in configs]
    if not parts:
        return ""
    same = [key for key in parts[0] if len({p[key] for p in parts}) == 1]
    return " ".join(parts[0][key] for key in same if parts[0][key])


def settings(all_fields=False):
    """{field name: Setting} of RunConfig, in order; only those shown unless all_fields."""
    return {
        f.name: f.metadata["setting"]
        for f in dataclasses.fields(RunConfig)
        if all_fields or f.metadata["setting"].shown
    }
