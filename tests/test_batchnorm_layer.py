"""The BatchNormalization layer: statistics, running averages, dtype, shapes, bad input."""

import warnings

import numpy as np
import pytest

from course_lib.common.layers import BATCHNORM_EPS, BatchNormalization


def _layer(n_values, dtype=np.float64, **kw):
    return BatchNormalization(np.ones(n_values, dtype=dtype), np.zeros(n_values, dtype=dtype), **kw)


def _batch(rng, shape=(50, 4)):
    # Columns with their own offsets and scales, as a hidden layer's inputs have.
    return rng.standard_normal(shape) * [0.1, 1.0, 5.0, 30.0] + [3.0, -1.0, 0.0, 100.0]


def test_training_normalises_each_column_by_the_batch(rng):
    x = _batch(rng)
    layer = BatchNormalization(np.full(4, 2.0), np.full(4, 3.0))
    out = layer.forward(x)
    np.testing.assert_allclose(out.mean(axis=0), 3.0, atol=1e-9)
    # sqrt(var / (var + eps)) of 2: the smallest column (std 0.1) shows the eps.
    np.testing.assert_allclose(out.std(axis=0), 2.0, rtol=1e-4)


def test_running_averages_follow_the_batch_with_momentum(rng):
    x = _batch(rng)
    layer = _layer(4, momentum=0.8)
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, 0.2 * x.mean(axis=0))
    np.testing.assert_allclose(layer.running_var, 0.8 + 0.2 * x.var(axis=0))
    # Evaluation normalises with the running averages, and leaves them alone.
    mean, var = layer.running_mean.copy(), layer.running_var.copy()
    out = layer.forward(x, train_flg=False)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + BATCHNORM_EPS))
    np.testing.assert_array_equal(layer.running_mean, mean)
    np.testing.assert_array_equal(layer.running_var, var)


def test_running_averages_passed_in_are_the_ones_that_move(rng):
    running_mean, running_var = np.zeros(4), np.ones(4)
    layer = _layer(4, running_mean=running_mean, running_var=running_var)
    layer.forward(_batch(rng))
    assert layer.running_mean is running_mean and running_mean.any()
    assert layer.running_var is running_var and not np.all(running_var == 1)


def test_a_fresh_layer_evaluates_as_gamma_x_plus_beta(rng):
    # The running variance starts at 1 (the textbook's 0 would multiply x by 1000).
    x = _batch(rng)
    layer = BatchNormalization(np.full(4, 2.0), np.full(4, 0.5))
    np.testing.assert_array_equal(layer.running_mean, np.zeros(4))
    np.testing.assert_array_equal(layer.running_var, np.ones(4))
    np.testing.assert_allclose(
        layer.forward(x, train_flg=False), 2.0 * x + 0.5, rtol=1e-6, atol=1e-6
    )


def test_float32_stays_float32(rng):
    x = _batch(rng).astype(np.float32)
    layer = _layer(4, dtype=np.float32)
    for train_flg in (True, False):
        out = layer.forward(x, train_flg)
        dx = layer.backward(np.ones_like(out))
        assert out.dtype == dx.dtype == np.float32
        assert layer.dgamma.dtype == layer.dbeta.dtype == np.float32
        assert layer.running_mean.dtype == layer.running_var.dtype == np.float32


def test_in_place_updates_of_gamma_and_beta_reach_the_layer(rng):
    x = _batch(rng)
    gamma, beta = np.ones(4), np.zeros(4)
    layer = BatchNormalization(gamma, beta)
    before = layer.forward(x)
    gamma *= 3.0
    beta += 1.0
    np.testing.assert_allclose(layer.forward(x), 3.0 * before + 1.0)


def test_four_dimensional_input_normalises_each_value_like_flattened_rows(rng):
    x = rng.standard_normal((8, 2, 3, 3)) * 4.0 + 1.0
    out = _layer(18).forward(x)
    flat = _layer(18).forward(x.reshape(8, 18))
    assert out.shape == x.shape
    np.testing.assert_array_equal(out.reshape(8, 18), flat)


@pytest.mark.parametrize("train_flg", [True, False])
def test_wrong_input_shape_says_what_is_wrong(train_flg):
    layer = _layer(4)
    with pytest.raises(ValueError, match="rows of 5 values, but gamma has 4"):
        layer.forward(np.ones((3, 5)), train_flg)
    with pytest.raises(ValueError, match=r"reshape\(1, -1\)"):
        layer.forward(np.ones(4), train_flg)


@pytest.mark.parametrize("momentum", [-0.1, 1.5])
def test_momentum_outside_0_1_is_refused(momentum):
    with pytest.raises(ValueError, match="momentum"):
        _layer(4, momentum=momentum)


def test_one_row_while_training_gives_the_textbooks_degenerate_result_with_a_warning():
    # One row is its own mean: the output is beta and every gradient but dbeta is 0, as
    # in the textbook; the layer says so instead of refusing.
    layer = BatchNormalization(np.full(4, 2.0), np.array([0.5, -1.0, 0.0, 3.0]))
    with pytest.warns(RuntimeWarning, match="1-row batch while training"):
        out = layer.forward(np.arange(4.0).reshape(1, 4))
    np.testing.assert_array_equal(out, [[0.5, -1.0, 0.0, 3.0]])
    dout = np.array([[1.0, -2.0, 0.5, 4.0]])
    np.testing.assert_array_equal(layer.backward(dout), np.zeros((1, 4)))
    np.testing.assert_array_equal(layer.dgamma, np.zeros(4))
    np.testing.assert_array_equal(layer.dbeta, dout[0])
    # Evaluating one row uses the running averages: no warning, a real gradient.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.forward(np.arange(4.0).reshape(1, 4), train_flg=False)
    assert np.abs(layer.backward(dout)).min() > 0
    # Two rows are enough for a real gradient in training mode.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.forward(np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 2.5, 0.0]]))
    assert np.abs(layer.backward(np.array([[1.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 3.0]]))).max() > 0


def test_evaluation_mode_backward_is_gamma_dout_over_std(rng):
    x = _batch(rng)
    layer = BatchNormalization(
        np.array([2.0, 0.5, 1.0, 3.0]), np.zeros(4), running_var=np.array([4.0, 1.0, 0.25, 9.0])
    )
    layer.forward(x, train_flg=False)
    dout = rng.standard_normal(x.shape)
    std = np.sqrt(np.array([4.0, 1.0, 0.25, 9.0]) + BATCHNORM_EPS)
    np.testing.assert_allclose(layer.backward(dout), layer.gamma * dout / std, rtol=1e-12)
