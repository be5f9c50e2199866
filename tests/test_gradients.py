"""Gradient checks in float64: backprop against central differences, rel error < 1e-6."""

import numpy as np
import pytest

from course_lib import MultiLayerNet
from course_lib.common import layers
from course_lib.common.gradient import numerical_gradient, rel_error

TOL = 1e-6


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    g = numerical_gradient(lambda x: float(np.sum(x**3)), x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)


def _check_layer(layer, x, rng):
    """Check dL/dx (and dW, db for Affine) for L = sum(forward(x) * r)."""
    r = rng.standard_normal(layer.forward(x).shape)

    def f(_):
        return float(np.sum(layer.forward(x) * r))

    layer.forward(x)
    dx = layer.backward(r.copy())
    errors = {"x": rel_error(dx, numerical_gradient(f, x))}
    if isinstance(layer, layers.Affine):
        layer.forward(x)
        layer.backward(r.copy())
        dW, db = layer.dW.copy(), layer.db.copy()
        errors["W"] = rel_error(dW, numerical_gradient(f, layer.W))
        errors["b"] = rel_error(db, numerical_gradient(f, layer.b))
    return errors


@pytest.mark.parametrize("name", ["Affine", "Sigmoid", "Relu", "Tanh"])
def test_layer_backward_matches_numerical_gradient(name, rng):
    x = rng.standard_normal((4, 5))
    if name == "Relu":
        x[np.abs(x) < 0.05] = 0.5  # keep clear of the kink, where no derivative exists
    if name == "Affine":
        layer = layers.Affine(rng.standard_normal((5, 3)), rng.standard_normal(3))
    else:
        layer = getattr(layers, name)()
    errors = _check_layer(layer, x, rng)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("train_flg", [True, False])
@pytest.mark.parametrize("shape", [(6, 4), (5, 2, 2, 3)])
def test_batchnorm_backward_matches_numerical_gradient(train_flg, shape, rng):
    n_values = int(np.prod(shape[1:]))
    gamma = rng.standard_normal(n_values)
    beta = rng.standard_normal(n_values)
    layer = layers.BatchNormalization(
        gamma,
        beta,
        running_mean=rng.standard_normal(n_values),
        running_var=rng.uniform(0.5, 2.0, n_values),
    )
    # Columns of different offsets and scales: normalising must undo both.
    x = rng.standard_normal(shape) * 3.0 + 1.5
    r = rng.standard_normal(shape)

    def f(_):
        # The running averages move with each training-mode call, but in training mode
        # the output does not depend on them.
        return float(np.sum(layer.forward(x, train_flg) * r))

    layer.forward(x, train_flg)
    dx = layer.backward(r.copy())
    dgamma, dbeta = layer.dgamma.copy(), layer.dbeta.copy()
    errors = {
        "x": rel_error(dx, numerical_gradient(f, x)),
        "gamma": rel_error(dgamma, numerical_gradient(f, gamma)),
        "beta": rel_error(dbeta, numerical_gradient(f, beta)),
    }
    assert dx.shape == shape
    assert max(errors.values()) < TOL, errors


def test_affine_keeps_the_input_shape_for_dx(rng):
    layer = layers.Affine(rng.standard_normal((12, 3)), np.zeros(3))
    x = rng.standard_normal((2, 1, 3, 4))
    out = layer.forward(x)
    assert out.shape == (2, 3)
    assert layer.backward(np.ones((2, 3))).shape == x.shape


@pytest.mark.parametrize("labels", ["index", "one_hot"])
def test_softmax_with_loss_backward(labels, rng):
    x = rng.standard_normal((6, 4))
    d = rng.integers(0, 4, 6)
    if labels == "one_hot":
        d = np.eye(4)[d]
    layer = layers.SoftmaxWithLoss()
    layer.forward(x, d)
    dx = layer.backward()
    num = numerical_gradient(lambda _: layer.forward(x, d), x)
    assert rel_error(dx, num) < TOL


def test_relu_backward_leaves_its_argument_alone(rng):
    layer = layers.Relu()
    layer.forward(np.array([[-1.0, 2.0, -3.0]]))
    dout = np.array([[5.0, 6.0, 7.0]])
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dout, [[5.0, 6.0, 7.0]])
    np.testing.assert_array_equal(dx, [[0.0, 6.0, 0.0]])


def _net(activation, weight_decay_lambda, use_batchnorm=False):
    """A small float64 network for the gradient checks."""
    return MultiLayerNet(
        input_size=8,
        hidden_size_list=[6, 5, 4],
        output_size=3,
        activation=activation,
        weight_init_std=0.7,
        weight_decay_lambda=weight_decay_lambda,
        dtype=np.float64,
        seed=3,
        use_batchnorm=use_batchnorm,
    )


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("weight_decay_lambda", [0.0, 0.1])
def test_network_gradient_matches_numerical_gradient(activation, weight_decay_lambda, rng):
    net = _net(activation, weight_decay_lambda)
    x = rng.standard_normal((10, 8))
    d = np.eye(3)[rng.integers(0, 3, 10)]
    grad = {k: v.copy() for k, v in net.gradient(x, d).items()}
    for key, param in net.params.items():
        num = numerical_gradient(lambda W: net.loss(x, d), param)
        err = rel_error(grad[key], num)
        assert err < TOL, f"{activation} lambda={weight_decay_lambda} {key}: {err:.2e}"
    if weight_decay_lambda:
        # The penalty really is part of the loss (the seed's loop computed nothing).
        plain = net.last_layer.forward(net.predict(x), d)
        assert net.loss(x, d) > plain + 1e-3


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("weight_decay_lambda", [0.0, 0.1])
def test_batchnorm_network_gradient_matches_numerical_gradient(
    activation, weight_decay_lambda, rng
):
    net = _net(activation, weight_decay_lambda, use_batchnorm=True)
    # gamma and beta away from 1 and 0, so their gradients are checked at a general point.
    for idx in (1, 2, 3):
        net.params[f"gamma{idx}"][...] = rng.uniform(0.5, 1.5, net.params[f"gamma{idx}"].size)
        net.params[f"beta{idx}"][...] = rng.uniform(-0.5, 0.5, net.params[f"beta{idx}"].size)
    x = rng.standard_normal((10, 8))
    d = np.eye(3)[rng.integers(0, 3, 10)]
    grad = {k: v.copy() for k, v in net.gradient(x, d).items()}
    assert set(grad) == set(net.params)

    def f(W):
        return net.loss(x, d, train_flg=True)

    for key, param in net.params.items():
        num = numerical_gradient(f, param)
        if key in ("b1", "b2", "b3"):
            # Batch normalisation subtracts the batch mean right after these biases: the
            # loss does not depend on them, and both gradients are 0 up to rounding (a
            # relative error of two such zeros means nothing).
            assert np.abs(grad[key]).max() < 1e-12 and np.abs(num).max() < 1e-8, key
            continue
        err = rel_error(grad[key], num)
        assert err < TOL, f"{activation} lambda={weight_decay_lambda} {key}: {err:.2e}"
    assert "b4" in grad and np.abs(grad["b4"]).max() > 1e-3  # the output bias still counts


def test_affine_without_the_input_gradient_gives_the_same_weight_gradients():
    rng = np.random.default_rng(3)
    W, b = rng.standard_normal((6, 4)), rng.standard_normal(4)
    x, dout = rng.standard_normal((5, 6)), rng.standard_normal((5, 4))
    full, first = layers.Affine(W, b), layers.Affine(W, b)
    full.forward(x)
    first.forward(x)
    assert full.backward(dout).shape == x.shape
    assert first.backward(dout, need_dx=False) is None
    np.testing.assert_array_equal(full.dW, first.dW)
    np.testing.assert_array_equal(full.db, first.db)
