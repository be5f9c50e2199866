"""Update rules: in place, the textbook's formulas, every key updated."""

import numpy as np
import pytest

from course_lib.common.optimizer import OPTIMIZERS, SGD, AdaGrad, Adam, Momentum
from course_lib.config import RunConfig


def _problem():
    params = {"W1": np.array([[1.0, -2.0]], dtype=np.float32), "b1": np.array([0.5], np.float32)}
    grads = {"W1": np.array([[0.5, 0.25]], dtype=np.float32), "b1": np.array([-1.0], np.float32)}
    return params, grads


def test_sgd_is_w_minus_lr_times_grad_in_place():
    params, grads = _problem()
    w1 = params["W1"]
    SGD(lr=0.1).update(params, grads)
    assert params["W1"] is w1  # in place: layers sharing the array see it
    np.testing.assert_array_equal(w1, np.float32([[1.0, -2.0]]) - np.float32(0.1) * grads["W1"])
    assert w1.dtype == np.float32
    np.testing.assert_allclose(params["b1"], [0.6])


def test_momentum_accumulates_velocity():
    params, grads = _problem()
    opt = Momentum(lr=0.1, momentum=0.9)
    opt.update(params, grads)
    opt.update(params, grads)
    # v1 = -0.1 g; v2 = 0.9 v1 - 0.1 g = -0.19 g; w = w0 - 0.29 g
    np.testing.assert_allclose(params["b1"], 0.5 + 0.29, rtol=1e-6)


def test_adagrad_and_adam_first_steps():
    params, grads = _problem()
    AdaGrad(lr=0.1).update(params, grads)
    # First step: g / sqrt(g^2) = sign(g)
    np.testing.assert_allclose(params["W1"], [[0.9, -2.1]], rtol=1e-5)
    params, grads = _problem()
    Adam(lr=0.01).update(params, grads)
    # Adam's first bias-corrected step is lr * sign(g).
    np.testing.assert_allclose(params["W1"], [[0.99, -2.01]], rtol=1e-4)


@pytest.mark.parametrize(
    "name, lr", [("sgd", 0.1), ("momentum", 0.05), ("adagrad", 1.0), ("adam", 0.1)]
)
def test_every_optimizer_reduces_a_quadratic(name, lr):
    assert name in OPTIMIZERS
    params = {"W": np.array([3.0, -4.0])}
    opt = OPTIMIZERS[name](lr=lr)
    for _ in range(200):
        opt.update(params, {"W": 2 * params["W"]})
    assert np.linalg.norm(params["W"]) < 1.0


def test_bad_settings():
    with pytest.raises(ValueError, match="learning_rate"):
        SGD(lr=0)
    with pytest.raises(ValueError, match="sgd"):
        RunConfig(optimizer="rmsprop")
