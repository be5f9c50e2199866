import numpy as np
import pytest

from course_lib import MultiLayerNet


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


def test_hidden_activations_have_one_array_per_hidden_layer():
    net = MultiLayerNet(4, [3, 5], 2, activation="tanh", seed=0)
    acts = net.hidden_activations(np.ones((7, 4)))
    assert [a.shape for a in acts] == [(7, 3), (7, 5)]
    assert all(np.all(np.abs(a) <= 1) for a in acts)
