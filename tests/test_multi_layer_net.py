import copy
import traceback

import numpy as np
import pytest

from course_lib import MultiLayerNet
from course_lib.common.gradient import rel_error
from course_lib.diagnostics import activation_snapshot
from course_lib.validation import SettingError


def test_shapes_params_and_layer_names():
    net = MultiLayerNet(784, [40, 20], 10, activation="sigmoid", weight_init_std=0.01, seed=0)
    assert sorted(net.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert net.params["W1"].shape == (784, 40) and net.params["W3"].shape == (20, 10)
    assert net.params["W1"].dtype == np.float32
    assert list(net.layers) == [
        "Affine1",
        "Activation_function1",
        "Affine2",
        "Activation_function2",
        "Affine3",
    ]


def test_in_place_update_of_params_reaches_the_layers():
    net = MultiLayerNet(4, [3], 2, seed=0)
    net.params["W1"] -= 1.0
    np.testing.assert_array_equal(net.layers["Affine1"].W, net.params["W1"])
    assert net.layers["Affine1"].W is net.params["W1"]


@pytest.mark.parametrize(
    "init, expected",
    [
        (0.01, lambda n_in, n_out: 0.01),
        ("He", lambda n_in, n_out: np.sqrt(2 / n_in)),
        ("relu", lambda n_in, n_out: np.sqrt(2 / n_in)),
        ("XAVIER", lambda n_in, n_out: np.sqrt(1 / n_in)),
        ("sigmoid", lambda n_in, n_out: np.sqrt(1 / n_in)),
        ("Glorot", lambda n_in, n_out: np.sqrt(2 / (n_in + n_out))),
    ],
)
def test_weight_init_scales(init, expected):
    net = MultiLayerNet(2000, [1000], 10, weight_init_std=init, dtype=np.float64, seed=1)
    for key, (n_in, n_out) in {"W1": (2000, 1000), "W2": (1000, 10)}.items():
        assert net.params[key].std() == pytest.approx(expected(n_in, n_out), rel=0.05)
    assert not net.params["b1"].any()


def test_same_seed_same_weights_other_seed_other_weights():
    a = MultiLayerNet(20, [5], 3, seed=7)
    b = MultiLayerNet(20, [5], 3, seed=7)
    c = MultiLayerNet(20, [5], 3, seed=8)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"activation": "softplus"}, ["softplus", "relu", "sigmoid", "tanh"]),
        ({"weight_init_std": "kaiming"}, ["kaiming", "He", "Xavier", "Glorot"]),
        ({"weight_init_std": -0.1}, ["positive"]),
        ({"weight_init_std": 0}, ["positive"]),
        ({"hidden_size_list": [40, 0]}, ["hidden_size_list[1]", "positive"]),
        ({"hidden_size_list": [40, -5]}, ["hidden_size_list[1]"]),
        ({"hidden_size_list": "40,20"}, ["list"]),
        ({"input_size": 0}, ["input_size"]),
        ({"weight_decay_lambda": -1}, ["weight_decay_lambda"]),
        ({"use_batchnorm": "yes"}, ["use_batchnorm", "True or False"]),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_choices(kwargs, words):
    args = {"input_size": 784, "hidden_size_list": [40, 20], "output_size": 10, **kwargs}
    with pytest.raises(ValueError) as info:
        MultiLayerNet(**args)
    for word in words:
        assert word in str(info.value)


def test_float32_network_casts_float64_input_once():
    net = MultiLayerNet(4, [3], 2, seed=0)
    y = net.predict(np.ones((2, 4), dtype=np.float64))
    assert y.dtype == np.float32


def test_accuracy_with_index_and_one_hot_labels():
    net = MultiLayerNet(4, [3], 2, seed=0)
    x = np.random.default_rng(0).standard_normal((6, 4))
    d = np.argmax(net.predict(x), axis=1)
    assert net.accuracy(x, d) == 1.0
    assert net.accuracy(x, np.eye(2)[1 - d]) == 0.0


def test_activation_snapshot_has_one_array_per_hidden_layer():
    net = MultiLayerNet(4, [3, 5], 2, activation="tanh", seed=0)
    acts = activation_snapshot(net, np.ones((7, 4)))
    assert [a.shape for a in acts] == [(7, 3), (7, 5)]
    assert all(a.dtype == np.float64 and np.all(np.abs(a) <= 1) for a in acts)


def test_without_a_seed_the_weights_come_from_numpys_global_state():
    # As the textbook draws them: scale * np.random.randn(n_in, n_out), then the dtype.
    np.random.seed(0)
    net = MultiLayerNet(784, [40, 20], 10, weight_init_std=0.01)
    np.random.seed(0)
    expected = [0.01 * np.random.randn(n_in, n_out) for n_in, n_out in ((784, 40), (40, 20))]
    for key, W in zip(("W1", "W2"), expected, strict=True):
        np.testing.assert_array_equal(net.params[key], W.astype(np.float32))
    np.random.seed(0)
    again = MultiLayerNet(784, [40, 20], 10, weight_init_std=0.01)
    for key, value in net.params.items():
        np.testing.assert_array_equal(again.params[key], value)
    # A seed of its own ignores the global state.
    np.random.seed(1)
    a = MultiLayerNet(784, [40, 20], 10, seed=3)
    np.random.seed(2)
    b = MultiLayerNet(784, [40, 20], 10, seed=3)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])


@pytest.mark.parametrize("hidden", [[], (), np.array([], dtype=int)])
def test_no_hidden_layer_is_refused(hidden):
    with pytest.raises(SettingError, match="one or more positive whole numbers"):
        MultiLayerNet(784, hidden, 10)


def test_a_bad_argument_is_raised_from_the_constructor_alone():
    # The student sees their cell and MultiLayerNet's line, not the checks' own frames.
    with pytest.raises(SettingError) as info:
        MultiLayerNet(784, [40, 0], 10)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert [f.name for f in frames][-1] == "__init__" and len(frames) == 2, frames
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("use_batchnorm", [False, True])
def test_numerical_gradient_of_the_network_matches_backpropagation(activation, use_batchnorm):
    net = MultiLayerNet(
        6,
        [5, 4],
        3,
        activation=activation,
        weight_init_std=0.8,
        weight_decay_lambda=0.05,
        dtype=np.float64,
        seed=2,
        use_batchnorm=use_batchnorm,
    )
    rng = np.random.default_rng(1)
    x, d = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    before = copy.deepcopy(net)
    num = net.numerical_gradient(x, d)
    # The network is left as it was: its params and running averages.
    for key, value in before.params.items():
        np.testing.assert_array_equal(net.params[key], value)
    if use_batchnorm:
        layer, old = net.layers["BatchNorm1"], before.layers["BatchNorm1"]
        np.testing.assert_array_equal(layer.running_mean, old.running_mean)
    grad = net.gradient(x, d)
    assert num.keys() == grad.keys() == net.params.keys()
    for key in grad:
        if use_batchnorm and key in ("b1", "b2"):  # batch norm cancels these: both ~0
            assert np.abs(num[key]).max() < 1e-8 and np.abs(grad[key]).max() < 1e-12
            continue
        assert rel_error(grad[key], num[key]) < 1e-6, key
