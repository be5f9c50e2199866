"""The seed's runs as named presets, and one function to run any of them.

Each preset carries the seed's own observation (its 考察) and a check that
says whether our run agrees with it, so the report can put the two side by side.
"""

from dataclasses import dataclass, field

from course_lib.multi_layer_net import MultiLayerNet
from course_lib.training import train


@dataclass(frozen=True)
class Preset:
    """One named run: network settings, training settings and the seed's claim about it."""

    name: str
    activation: str
    weight_init_std: object
    hidden_size_list: tuple = (40, 20)
    iters_num: int = 2000
    batch_size: int = 100
    learning_rate: float = 0.1
    eval_interval: int = 10
    title: str = "accuracy"
    observation: str = ""
    claim: str = ""
    check: object = field(default=None, compare=False, repr=False)

    @property
    def label(self):
        """Short description such as 'relu / 0.01 [40,20]'."""
        hidden = ",".join(str(n) for n in self.hidden_size_list)
        return f"{self.activation} / {self.weight_init_std} [{hidden}]"

    def build_network(self, seed=0, input_size=784, output_size=10):
        """A fresh MultiLayerNet with this preset's settings."""
        return MultiLayerNet(
            input_size=input_size,
            hidden_size_list=list(self.hidden_size_list),
            output_size=output_size,
            activation=self.activation,
            weight_init_std=self.weight_init_std,
            seed=seed,
        )

    def agrees(self, history):
        """True if the run shows what the seed observed (None if there is no claim)."""
        if self.check is None:
            return None
        return bool(self.check(history))


def _last_mean(values, n=10):
    tail = values[-n:]
    return sum(tail) / len(tail) if tail else 0.0


def _reaches_half_by(history, it):
    first = history.first_iter_above(0.5)
    return first is not None and first <= it


_PRESETS = [
    Preset(
        "sigmoid_0.01",
        "sigmoid",
        0.01,
        observation="訓練セットもテストセットも学習を進めても共に精度がほぼ全く上がらなかった。",
        claim="final test accuracy < 0.2",
        check=lambda h: h.final_test_acc < 0.2,
    ),
    Preset(
        "relu_0.01",
        "relu",
        0.01,
        observation="350回辺りから精度が上昇していき、最終的に精度が90%あたりに収束した。",
        claim="final test accuracy >= 0.85",
        check=lambda h: h.final_test_acc >= 0.85,
    ),
    Preset(
        "relu_0.01_30_15",
        "relu",
        0.01,
        hidden_size_list=(30, 15),
        observation="500回目辺りから緩やかに精度が上昇していき、2000回で訓練セット、"
        "テストセット共に90%程度の精度になった。",
        claim="final test accuracy >= 0.85",
        check=lambda h: h.final_test_acc >= 0.85,
    ),
    Preset(
        "relu_0.01_60_30",
        "relu",
        0.01,
        hidden_size_list=(60, 30),
        observation="[40, 20] のときより急に精度が上昇し、2000回で訓練セットは精度がほぼ100%に"
        "なり、テストセットは90%程度の精度になった。",
        claim="mean train-batch accuracy of the last 10 evaluations >= 0.95",
        check=lambda h: _last_mean(h.train_acc) >= 0.95,
    ),
    Preset(
        "sigmoid_xavier",
        "sigmoid",
        "Xavier",
        title="accuracy Xavier",
        observation="重みの初期値を設定することでsigmoidでも学習が全く進まなくなるということは"
        "無くなった。",
        claim="final test accuracy >= 0.8",
        check=lambda h: h.final_test_acc >= 0.8,
    ),
    Preset(
        "relu_he",
        "relu",
        "He",
        title="accuracy He",
        observation="特にHeはかなり早い段階でaccuracyが1.0に近くなる。",
        claim="test accuracy > 0.5 by iteration 100 and >= 0.9 at the end",
        check=lambda h: _reaches_half_by(h, 100) and h.final_test_acc >= 0.9,
    ),
    # The seed's heading asks for these two but never runs them.
    Preset(
        "sigmoid_he",
        "sigmoid",
        "He",
        title="accuracy sigmoid He",
        observation="(シードの見出しが求めているが未実行) 予想: Xavierと同様に学習が進む。",
        claim="final test accuracy >= 0.8",
        check=lambda h: h.final_test_acc >= 0.8,
    ),
    Preset(
        "relu_xavier",
        "relu",
        "Xavier",
        title="accuracy relu Xavier",
        observation="(シードの見出しが求めているが未実行) 予想: Heと同様に早い段階で精度が上がる。",
        claim="test accuracy > 0.5 by iteration 100 and >= 0.9 at the end",
        check=lambda h: _reaches_half_by(h, 100) and h.final_test_acc >= 0.9,
    ),
]

PRESETS = {p.name: p for p in _PRESETS}

# The six runs the seed itself makes, in its order.
SEED_RUNS = [
    "sigmoid_0.01",
    "relu_0.01",
    "relu_0.01_30_15",
    "relu_0.01_60_30",
    "sigmoid_xavier",
    "relu_he",
]

# {sigmoid, relu} x {0.01, Xavier, He} on [40, 20].
GRID = [
    "sigmoid_0.01",
    "sigmoid_xavier",
    "sigmoid_he",
    "relu_0.01",
    "relu_xavier",
    "relu_he",
]


def get_preset(name):
    """The preset called ``name``; ValueError listing the names if there is none."""
    if isinstance(name, Preset):
        return name
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}: choose one of {list(PRESETS)}") from None


def run_preset(name, data, *, seed=0, callback=None, **overrides):
    """Build the preset's network and train it on ``data``; returns the History.

    ``seed`` seeds both the weights and the mini-batch draws. Keyword overrides
    (e.g. ``iters_num=500``) replace the preset's training settings.
    """
    preset = get_preset(name)
    settings = {
        "iters_num": preset.iters_num,
        "batch_size": preset.batch_size,
        "learning_rate": preset.learning_rate,
        "eval_interval": preset.eval_interval,
    }
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ValueError(f"cannot override {sorted(unknown)}: choose from {sorted(settings)}")
    settings.update(overrides)
    x_train = data[0][0]
    network = preset.build_network(seed=seed, input_size=int(x_train[0].size))
    history = train(network, data, seed=seed, callback=callback, **settings)
    history.settings["preset"] = preset.name
    return history
