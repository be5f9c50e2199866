"""Silent wrong results, made loud: bad labels, non-finite data, runs that never evaluate,
dead networks, weights that overflow, and settings of the wrong type."""

import numpy as np
import pytest

from course_lib import MultiLayerNet
from course_lib.common import layers
from course_lib.diagnostics import gradient_ratio
from course_lib.history import History
from course_lib.training import train


def _data(n=200, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    d = rng.integers(0, classes, n)
    x = rng.standard_normal((n, 6)).astype(np.float32) + d[:, None]
    return (x[: n // 2], d[: n // 2]), (x[n // 2 :], d[n // 2 :])


def _net(**kw):
    return MultiLayerNet(6, [8], 3, weight_init_std="He", seed=0, **kw)


@pytest.mark.parametrize(
    "labels, words",
    [
        (
            lambda d: np.where(np.arange(len(d)) == 7, -1, d),
            ["training labels", "-1", "position 7"],
        ),
        (lambda d: np.where(np.arange(len(d)) == 3, 3, d), ["training labels", "label 3", "0..2"]),
        (lambda d: np.eye(4)[d], ["width 4", "3 outputs"]),
        (lambda d: d + 0.5, ["whole numbers"]),
    ],
)
def test_bad_labels_are_refused_where_they_enter(labels, words):
    (x, d), test = _data()
    with pytest.raises(ValueError) as info:
        train(_net(), ((x, labels(d)), test), iters_num=10, batch_size=10)
    for word in words:
        assert word in str(info.value)


def test_bad_labels_are_refused_by_loss_accuracy_and_the_layer():
    (x, d), _ = _data()
    net = _net()
    bad = d.copy()
    bad[0] = -1
    for call in (net.loss, net.accuracy, net.gradient):
        with pytest.raises(ValueError, match="-1"):
            call(x, bad)
    with pytest.raises(ValueError, match="width 4"):
        layers.SoftmaxWithLoss().forward(np.zeros((2, 3)), np.eye(4)[:2])


@pytest.mark.parametrize("part, name", [(0, "training images"), (1, "test images")])
def test_non_finite_images_are_named_before_training(part, name):
    data = list(_data())
    x, d = data[part]
    x = x.copy()
    x[2, 3] = np.nan
    x[5, 1] = np.inf
    data[part] = (x, d)
    with pytest.raises(ValueError, match=f"the {name} contain 2 NaN or infinite values"):
        train(_net(), tuple(data), iters_num=10, batch_size=10)


def test_a_run_shorter_than_the_eval_interval_is_evaluated_at_its_end():
    h = train(_net(), _data(), iters_num=5, batch_size=10, eval_interval=10)
    assert h.eval_iters == [5] and np.isfinite(h.final_test_acc)
    h = train(_net(), _data(), iters_num=25, batch_size=10, eval_interval=10)
    assert h.eval_iters == [10, 20, 25]


@pytest.mark.parametrize("lr", [3.0, 10.0, 30.0])
def test_dead_relus_are_detected_and_said(sample_data, lr):
    # relu / 0.01 with a huge step: every ReLU dies, the loss stays finite (not "diverged")
    # and the test accuracy sits at chance.
    net = MultiLayerNet(784, [40, 20], 10, activation="relu", weight_init_std=0.01, seed=0)
    h = train(net, sample_data, iters_num=300, learning_rate=lr, seed=0)
    assert h.status == "completed", h.summary()
    assert "dead ReLUs" in h.message and "smaller learning rate" in h.message
    assert h.dead_since in h.eval_iters and f"iteration {h.dead_since}:" in h.message
    assert History.from_dict(h.to_dict()).dead_since == h.dead_since
    net = MultiLayerNet(784, [40, 20], 10, activation="relu", weight_init_std=0.01, seed=0)
    healthy = train(net, sample_data, iters_num=300, learning_rate=0.1, seed=0)
    assert "dead" not in healthy.message and healthy.dead_since is None


def test_a_std_that_overflows_the_weights_is_refused():
    with pytest.raises(ValueError, match="overflow"):
        MultiLayerNet(6, [8], 3, weight_init_std=1e300)
    with pytest.raises(ValueError, match="too large for float32"):
        MultiLayerNet(6, [8], 3, weight_init_std=1e39)  # finite in float64, not in float32


def test_weights_too_large_for_memory_say_so_in_one_line():
    # NumPy's own MemoryError names the size; the network adds what to do.
    with pytest.raises(MemoryError) as info:
        MultiLayerNet(784, [10_000_000], 10)
    message = str(info.value)
    assert "GiB" in message and "(784, 10000000)" in message
    assert message.endswith("use smaller hidden layers") and "\n" not in message


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"weight_decay_lambda": "a"}, ["weight_decay_lambda", "'a'"]),
        ({"weight_decay_lambda": None}, ["weight_decay_lambda", "None"]),
        ({"hidden_size_list": {8, 4}}, ["hidden_size_list", "list"]),
        ({"hidden_size_list": {8: 1}}, ["hidden_size_list", "list"]),
        ({"dtype": np.float16}, ["float32", "float64"]),
        ({"seed": -1}, ["seed", ">= 0"]),
    ],
)
def test_settings_of_the_wrong_kind_are_named(kwargs, words):
    args = {"input_size": 6, "hidden_size_list": [8], "output_size": 3, **kwargs}
    with pytest.raises(ValueError) as info:
        MultiLayerNet(**args)
    for word in words:
        assert word in str(info.value)


def test_numpy_numbers_are_accepted_like_python_numbers():
    net = MultiLayerNet(6, np.array([8]), 3, weight_init_std=np.float32(0.01))
    assert net.weight_init_std == 0.01 and net.hidden_size_list == [8]


def test_gradient_ratio_of_nothing_says_so():
    with pytest.raises(ValueError, match="at least one layer"):
        gradient_ratio({})
