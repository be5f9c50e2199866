"""History: runs that blew up are 'diverged' wherever they were made, and JSON stays valid."""

import json
import math

import numpy as np

from course_lib.config import RunConfig
from course_lib.history import History
from course_lib.training import train
from tests.seed.exercise import MultiLayerNet, seed_training_loop

SEED_CONFIG = RunConfig(seed=None)


def _seed_history(losses, n_evals=None):
    n_evals = len(losses) // 10 if n_evals is None else n_evals
    accuracies = [0.1] * n_evals
    return History.from_seed_lists(SEED_CONFIG, losses, accuracies, accuracies, plot_interval=10)


def test_a_seed_loop_whose_loss_becomes_nan_is_diverged_where_it_did():
    losses = [2.3] * 40 + [math.nan] * 60
    h = _seed_history(losses)
    assert h.status == "diverged" and h.diverged_at == 41
    assert "diverged at iteration 41" in h.message
    assert h.iterations_done == 100  # the seed's loop went on updating to the end


def test_a_seed_loop_whose_loss_explodes_is_diverged():
    # learning_rate = 50 in notebook 01: finite losses that peak far above guessing (ln 10).
    losses = [2.3] * 80 + [50.0, 1641.0, 900.0] + [2.3] * 17
    h = _seed_history(losses)
    assert h.status == "diverged" and h.diverged_at == 81
    assert "loss 50" in h.message


def test_a_healthy_seed_loop_is_completed():
    h = _seed_history([2.3] * 50 + [0.5] * 50)
    assert h.status == "completed" and h.diverged_at is None and h.message == ""


def test_the_seed_class_with_huge_weights_is_diverged(sample_data):
    (x_train, d_train), (x_test, d_test) = sample_data
    np.random.seed(0)
    network = MultiLayerNet(784, [40, 20], 10, activation="relu", weight_init_std=1e200)
    with np.errstate(all="ignore"):  # the seed's code overflows, as it does for students
        lists = seed_training_loop(network, x_train, d_train, x_test, d_test, iters_num=20)
    h = History.from_seed_lists(RunConfig(weight_init_std=1e200, seed=None), *lists, 10)
    assert h.status == "diverged" and h.diverged_at == 1


def test_non_finite_values_are_json_null_and_read_back():
    h = _seed_history([2.3, math.nan, math.inf, -math.inf] + [2.3] * 6)
    h.grad_norms = {"W1": [np.float32("inf"), 1.0]}
    h.initial_grad_norms = {"W1": math.nan}
    text = json.dumps(h.to_dict(), allow_nan=False)  # strict JSON: no NaN tokens
    assert '"losses": [2.3, null, null, null, 2.3' in text
    back = History.from_dict(json.loads(text))
    assert back.losses[0] == 2.3 and all(math.isnan(v) for v in back.losses[1:4])
    assert math.isnan(back.grad_norms["W1"][0]) and back.grad_norms["W1"][1] == 1.0
    assert math.isnan(back.initial_grad_norms["W1"])
    assert back.status == "diverged" and back.diverged_at == 2
    assert json.dumps(back.to_dict(), allow_nan=False) == text


def test_iterations_done_counts_the_updates(sample_data):
    (x_train, d_train), test = sample_data
    data = ((x_train[:500], d_train[:500]), test)
    config = RunConfig(weight_init_std="He", learning_rate=50.0, iters_num=300, seed=0)
    network = config.build_network()
    h = train(network, data, iters_num=300, learning_rate=50.0, seed=0)
    assert h.status == "diverged"
    # The loss at diverged_at came from the forward pass before that update, which
    # was not made.
    assert h.iterations_done == h.diverged_at - 1 == len(h.losses)
    stopped = train(config.build_network(), data, iters_num=300, callback=lambda h: False)
    # A stop ends the run at the end of its group of evaluation points.
    assert stopped.status == "stopped"
    assert stopped.iterations_done == stopped.eval_iters[-1] == len(stopped.losses) < 300
