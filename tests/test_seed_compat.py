"""The seed's own class and loop run against course_lib with only the imports changed."""

import numpy as np
import pytest

from course_lib.data.mnist import load_mnist
from tests.seed.exercise import MultiLayerNet, seed_training_loop


@pytest.fixture(scope="module")
def seed_data():
    # Exactly the seed's call (plus source='sample' so the test stays offline).
    return load_mnist(normalize=True, one_hot_label=True, source="sample")


def _run(data, activation, weight_init_std, iters_num=200):
    (x_train, d_train), (x_test, d_test) = data
    np.random.seed(0)  # the seed draws from NumPy's global generator
    network = MultiLayerNet(
        input_size=784,
        hidden_size_list=[40, 20],
        output_size=10,
        activation=activation,
        weight_init_std=weight_init_std,
    )
    losses, acc_train, acc_test = seed_training_loop(
        network, x_train, d_train, x_test, d_test, iters_num=iters_num
    )
    return network, losses, acc_train, acc_test


def test_seed_sigmoid_with_std_001_stays_near_chance(seed_data, capsys):
    _, losses, acc_train, acc_test = _run(seed_data, "sigmoid", 0.01)
    assert len(acc_test) == 20 and len(losses) == 200
    assert max(acc_test) < 0.2
    out = capsys.readouterr().out
    assert "Generation: 200. 正答率(トレーニング) = " in out


def test_seed_relu_with_he_learns(seed_data):
    network, losses, _, acc_test = _run(seed_data, "relu", "He")
    assert acc_test[-1] > 0.8
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5])
    # The seed's update `network.params[key] -= ...` reached the layers.
    assert network.layers["Affine1"].W is network.params["W1"]


def test_seed_relu_with_std_001_starts_slowly_then_learns(seed_data):
    _, _, _, acc_test = _run(seed_data, "relu", 0.01, iters_num=1500)
    assert acc_test[0] < 0.3 and acc_test[-1] > 0.7
