"""The seed's runs as named presets, and one function to run any of them.

Each preset carries the seed's own observation (its 考察) and a check that
says whether our run agrees with it, so the report can put the two side by side.
"""

from dataclasses import dataclass, field

from course_lib.diagnostics import gradient_ratio
from course_lib.multi_layer_net import MultiLayerNet, network_label
from course_lib.report import record
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
        return network_label(self.activation, self.weight_init_std, self.hidden_size_list)

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


# --- Deep networks: the gradient-flow lab (notebook 04) ---------------------------------------
# The seed's networks have two hidden layers; the vanishing gradient shows plainly with five.
# The claims are about the gradient at initialisation (History.initial_grad_norms: the first
# batch, before any update) and hold for the notebook's shorter runs as for 2000 iterations.

DEEP_HIDDEN = (100, 100, 100, 100, 100)


def _initial_ratio(history):
    """|dW1| / |dW_out| of the first batch, before any update."""
    norms = history.initial_grad_norms
    return gradient_ratio(norms) if norms else float("nan")


def _all_initial_below(history, bound):
    norms = history.initial_grad_norms
    return bool(norms) and all(v < bound for v in norms.values())


def _learns(history):
    return _reaches_half_by(history, 100) and history.final_test_acc >= 0.9


_DEEP_PRESETS = [
    Preset(
        "deep_sigmoid_0.01",
        "sigmoid",
        0.01,
        hidden_size_list=DEEP_HIDDEN,
        title="accuracy deep sigmoid 0.01",
        observation="(演習にない5層の実験) 予想: 入力側の層ほど勾配が何桁も小さくなり、"
        "2層のとき以上に学習が進まない。",
        claim="at initialisation |dW1|/|dW6| < 1e-6, and final test accuracy < 0.2",
        check=lambda h: _initial_ratio(h) < 1e-6 and h.final_test_acc < 0.2,
    ),
    Preset(
        "deep_sigmoid_xavier",
        "sigmoid",
        "Xavier",
        hidden_size_list=DEEP_HIDDEN,
        title="accuracy deep sigmoid Xavier",
        observation="(演習にない5層の実験) 予想: Xavierで勾配の縮みは大きく減るが、sigmoidの"
        "微分は最大0.25なので入力側ではまだ小さい。",
        claim="at initialisation 1e-5 < |dW1|/|dW6| < 1e-2 "
        "(far less vanishing than with 0.01, but still vanishing)",
        check=lambda h: 1e-5 < _initial_ratio(h) < 1e-2,
    ),
    Preset(
        "deep_sigmoid_he",
        "sigmoid",
        "He",
        hidden_size_list=DEEP_HIDDEN,
        title="accuracy deep sigmoid He",
        observation="(演習にない5層の実験) 予想: Xavierと同じく、勾配の縮みは減るが残る。",
        claim="at initialisation 1e-5 < |dW1|/|dW6| < 1e-2",
        check=lambda h: 1e-5 < _initial_ratio(h) < 1e-2,
    ),
    Preset(
        "deep_relu_0.01",
        "relu",
        0.01,
        hidden_size_list=DEEP_HIDDEN,
        title="accuracy deep relu 0.01",
        observation="(演習にない5層の実験) 予想: 2層では350回辺りから学習したが、5層では順伝播の"
        "信号そのものが層ごとに縮み、どの層の勾配も小さくなって学習が進まない。",
        claim="at initialisation every weight gradient norm < 1e-4, and final test accuracy < 0.2",
        check=lambda h: _all_initial_below(h, 1e-4) and h.final_test_acc < 0.2,
    ),
    Preset(
        "deep_relu_xavier",
        "relu",
        "Xavier",
        hidden_size_list=DEEP_HIDDEN,
        title="accuracy deep relu Xavier",
        observation="(演習にない5層の実験) 予想: 勾配はどの層にも届き、早い段階で精度が上がる。",
        claim="at initialisation 0.1 < |dW1|/|dW6| < 10; test accuracy > 0.5 by iteration 100 "
        "and >= 0.9 at the end",
        check=lambda h: 0.1 < _initial_ratio(h) < 10 and _learns(h),
    ),
    Preset(
        "deep_relu_he",
        "relu",
        "He",
        hidden_size_list=DEEP_HIDDEN,
        title="accuracy deep relu He",
        observation="(演習にない5層の実験) 予想: 5層でもHeはかなり早い段階で精度が上がる。",
        claim="at initialisation 0.1 < |dW1|/|dW6| < 10; test accuracy > 0.5 by iteration 100 "
        "and >= 0.9 at the end",
        check=lambda h: 0.1 < _initial_ratio(h) < 10 and _learns(h),
    ),
    Preset(
        "deep_tanh_xavier",
        "tanh",
        "Xavier",
        hidden_size_list=DEEP_HIDDEN,
        title="accuracy deep tanh Xavier",
        observation="(演習にない5層の実験) 予想: tanhは0の周りで微分が1なので、Xavierなら勾配が"
        "縮まずに届く。",
        claim="at initialisation 0.1 < |dW1|/|dW6| < 10; test accuracy > 0.5 by iteration 100 "
        "and >= 0.9 at the end",
        check=lambda h: 0.1 < _initial_ratio(h) < 10 and _learns(h),
    ),
]

PRESETS.update({p.name: p for p in _DEEP_PRESETS})

# The gradient-flow lab's seven 5 x 100 networks.
DEEP_RUNS = [p.name for p in _DEEP_PRESETS]


def get_preset(name):
    """The preset called ``name``; ValueError listing the names if there is none."""
    if isinstance(name, Preset):
        return name
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}: choose one of {list(PRESETS)}") from None


def run_preset(name, data, *, seed=0, callback=None, network=None, **overrides):
    """Build the preset's network and train it on ``data``; returns the History.

    ``seed`` seeds both the weights and the mini-batch draws. Keyword overrides
    (e.g. ``iters_num=500``) replace the preset's training settings. The run is
    recorded for ``python -m course_lib reproduce`` (see ``report.record``).
    ``network``: train this network instead of building one, to look inside it
    afterwards; pass ``preset.build_network(seed)`` so the run stays the preset's.
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
    if network is None:
        network = preset.build_network(seed=seed, input_size=int(x_train[0].size))
    elif (network.activation, tuple(network.hidden_size_list)) != (
        preset.activation,
        tuple(preset.hidden_size_list),
    ):
        raise ValueError(
            f"network {network!r} does not match preset {preset.name!r} ({preset.label}); "
            f"build it with get_preset({preset.name!r}).build_network(seed)"
        )
    history = train(network, data, seed=seed, callback=callback, **settings)
    history.settings["preset"] = preset.name
    record(preset.name, history)
    return history
