import warnings

import numpy as np
import pytest

from course_lib.common import functions as F
from course_lib.common.layers import SoftmaxWithLoss


def test_sigmoid_is_stable_and_correct_at_extremes():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would fail the test
        y = F.sigmoid(x)
    assert np.all(np.isfinite(y))
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    np.testing.assert_allclose(y[1:4], 1 / (1 + np.exp(-x[1:4])), rtol=1e-12)


def test_sigmoid_keeps_float32():
    assert F.sigmoid(np.zeros(3, dtype=np.float32)).dtype == np.float32


def test_softmax_rows_sum_to_one_for_huge_inputs():
    x = np.array([[1000.0, 1000.0, -1000.0], [1.0, 2.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.softmax(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    np.testing.assert_allclose(y[0], [0.5, 0.5, 0.0], atol=1e-12)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(y[1], e / e.sum())


@pytest.mark.parametrize("labels", ["index", "one_hot"])
def test_cross_entropy_accepts_both_label_forms(labels):
    y = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    d = np.array([0, 2])
    if labels == "one_hot":
        d = F.one_hot(d, 3)
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    assert F.cross_entropy_error(y, d) == pytest.approx(expected)


def test_cross_entropy_has_no_log_of_zero():
    y = np.array([[1.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.cross_entropy_error(y, np.array([1]))
    assert np.isfinite(loss) and loss > 100


def test_cross_entropy_single_sample():
    y = np.array([0.25, 0.75])
    assert F.cross_entropy_error(y, np.array([0.0, 1.0])) == pytest.approx(-np.log(0.75))
    assert F.cross_entropy_error(y, 1) == pytest.approx(-np.log(0.75))


def test_softmax_with_loss_matches_the_two_step_form_and_survives_big_logits():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 4))
    d = rng.integers(0, 4, 5)
    layer = SoftmaxWithLoss()
    loss = layer.forward(logits, d)
    np.testing.assert_allclose(layer.y, F.softmax(logits), rtol=1e-12)
    assert loss == pytest.approx(F.cross_entropy_error(F.softmax(logits), d), rel=1e-12)
    big = np.array([[1e4, 0.0]])
    assert SoftmaxWithLoss().forward(big, np.array([1])) == pytest.approx(1e4)


def test_relu():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(F.relu(x), [0.0, 0.0, 3.0])
