import traceback

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from course_lib import MultiLayerNet
from course_lib.common.optimizer import SGD
from course_lib.config import RunConfig
from course_lib.training import History, print_progress, train
from course_lib.validation import SettingError


def _toy_data(n_train=300, n_test=100, seed=0):
    """Two well separated classes in 6 dimensions: any working loop learns them."""
    rng = np.random.default_rng(seed)

    def make(n):
        d = rng.integers(0, 2, n)
        x = rng.standard_normal((n, 6)).astype(np.float32) + 2.5 * d[:, None]
        return x, np.eye(2, dtype=np.float32)[d]

    return make(n_train), make(n_test)


def _net(seed=0, **kw):
    return MultiLayerNet(
        6, [8], 2, weight_init_std=kw.pop("weight_init_std", "he"), seed=seed, **kw
    )


def test_train_records_the_seed_protocol():
    h = train(_net(), _toy_data(), iters_num=200, batch_size=20, learning_rate=0.1, seed=0)
    assert isinstance(h, History)
    assert h.status == "completed"
    assert len(h.losses) == 200
    assert h.eval_iters == list(range(10, 201, 10))
    assert len(h.train_acc) == len(h.test_acc) == 20
    assert set(h.grad_norms) == {"W1", "W2"} and len(h.grad_norms["W1"]) == 20
    assert all(g > 0 for g in h.grad_norms["W1"])
    assert h.final_test_acc > 0.9  # the toy problem is easy
    assert np.mean(h.losses[-20:]) < np.mean(h.losses[:20])
    assert h.wall_time > 0


def test_same_seeds_same_run_other_seed_other_run():
    data = _toy_data()
    a = train(_net(1), data, iters_num=50, batch_size=10, seed=5)
    b = train(_net(1), data, iters_num=50, batch_size=10, seed=5)
    c = train(_net(1), data, iters_num=50, batch_size=10, seed=6)
    assert a.losses == b.losses and a.test_acc == b.test_acc
    assert a.losses != c.losses


def test_callback_hears_each_evaluation_and_a_stop_ends_the_run_with_its_group():
    seen = []

    def cb(history):
        seen.append((history.eval_iters[-1], len(history.losses)))
        return False if history.eval_iters[-1] >= 30 else None

    h = train(_net(), _toy_data(), iters_num=200, batch_size=10, callback=cb)
    # Points 10..80 are one group: the stop asked for at 30 ends the run at 80, and
    # History holds everything the network learned until then.
    assert seen == [(it, it) for it in range(10, 81, 10)]
    assert h.status == "stopped" and h.message == "stopped at iteration 80"
    assert h.eval_iters[-1] == len(h.losses) == h.iterations_done == 80


class _BlowsUpAt25(SGD):
    """SGD that scales the weights up 1,000 times at its 25th update: the loss explodes."""

    def update(self, params, grads):
        super().update(params, grads)
        self.updates = getattr(self, "updates", 0) + 1
        if self.updates == 25:
            for key in params:
                params[key] *= 1000


def test_diverging_run_stops_at_once_without_nan():
    heard = []
    h = train(
        _net(),
        _toy_data(),
        iters_num=500,
        batch_size=20,
        optimizer=_BlowsUpAt25(lr=0.1),
        seed=0,
        callback=lambda h: heard.append((h.eval_iters[-1], len(h.losses))),
    )
    assert h.status == "diverged"
    assert "smaller learning rate" in h.message and "diverged at iteration 26 " in h.message
    # The 26th iteration's loss blew up, so its update was not made: 25 were.
    assert h.diverged_at == 26 and len(h.losses) == h.iterations_done == 25
    assert all(np.isfinite(h.losses)) and all(np.isfinite(h.test_acc))
    # The points of the unfinished group were evaluated and heard before it stopped.
    assert heard == [(10, 10), (20, 20)] and h.eval_iters == [10, 20]


def test_a_loss_too_large_from_the_start_diverges_at_iteration_1():
    h = train(_net(weight_init_std=1e3), _toy_data(), iters_num=50, batch_size=20)
    assert h.status == "diverged" and h.diverged_at == 1 and h.losses == []
    assert h.iterations_done == 0 and "iteration 1 " in h.message


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"iters_num": 0}, "iters_num"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 301}, "larger than the training set"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"eval_interval": 0}, "eval_interval"),
        ({"optimizer": "adam"}, "update"),
        ({"optimizer": SGD(lr=0.1), "learning_rate": 0.1}, "either learning_rate= or"),
    ],
)
def test_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        train(_net(), _toy_data(), **kwargs)


def test_mismatched_data():
    (x, d), test = _toy_data()
    with pytest.raises(ValueError, match="labels"):
        train(_net(), ((x, d[:-1]), test))
    with pytest.raises(ValueError, match="input_size"):
        train(_net(), ((x[:, :5], d), (test[0][:, :5], test[1])))
    with pytest.raises(ValueError, match="the test images have 5 values each"):
        train(_net(), ((x, d), (test[0][:, :5], test[1])))
    with pytest.raises(ValueError, match="the test data has 0 images"):
        train(_net(), ((x, d), (test[0][:0], test[1][:0])))
    with pytest.raises(ValueError, match="load_mnist"):
        train(_net(), (x, d))


def test_print_progress_prints_the_seed_lines(capsys):
    train(_net(), _toy_data(), iters_num=100, batch_size=10, callback=print_progress())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("Generation: 50. 正答率(トレーニング) = ")
    assert lines[1].startswith("                : 50. 正答率(テスト) = ")
    assert lines[2].startswith("Generation: 100.")


def test_summary_and_first_iter_above():
    h = History(
        config=RunConfig(activation="relu", weight_init_std="he", iters_num=30),
        eval_iters=[10, 20, 30],
        train_acc=[0.3, 0.6, 0.9],
        test_acc=[0.2, 0.55, 0.8],
        status="completed",
    )
    assert h.first_iter_above(0.5) == 20
    assert h.first_iter_above(0.75) == 30  # the test accuracy: 0.8 at iteration 30
    assert h.first_iter_above(0.95) is None
    s = h.summary()
    assert "relu / He [40,20] lr=0.1" in s and "test 0.800" in s and "from iter 20" in s


def test_a_bad_setting_is_raised_from_train_alone():
    # The student sees their cell and train()'s line, not the checks' own frames.
    with pytest.raises(SettingError) as info:
        train(_net(), _toy_data(), iters_num=0)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert [f.name for f in frames][-1] == "train" and len(frames) == 2, frames


def test_without_a_seed_the_batches_come_from_numpys_global_state():
    data = _toy_data()
    runs = []
    for global_seed in (0, 0, 1):
        np.random.seed(global_seed)
        network = MultiLayerNet(6, [8], 2)  # its weights: the global state too
        runs.append(train(network, data, iters_num=60, batch_size=10))
    assert runs[0].losses == runs[1].losses and runs[0].test_acc == runs[1].test_acc
    assert runs[0].losses != runs[2].losses
    assert runs[0].config.seed is None
    # The draws are the seed loop's np.random.choice(train_size, batch_size).
    np.random.seed(5)
    network = MultiLayerNet(6, [8], 2, seed=0)
    batches = []
    step = network.loss_and_gradient
    network.loss_and_gradient = lambda x, d: batches.append(x.copy()) or step(x, d)
    train(network, data, iters_num=3, batch_size=10)
    np.random.seed(5)
    for x in batches:
        np.testing.assert_array_equal(x, data[0][0][np.random.choice(300, 10)].astype(np.float32))


def test_training_runs_with_one_blas_thread_and_gives_them_back():
    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    inside = []
    with threadpool_limits(2, "blas"):
        train(
            _net(),
            _toy_data(),
            iters_num=20,
            batch_size=10,
            callback=lambda h: inside.append(blas_threads()),
        )
        assert blas_threads() == [2]
    assert inside == [[1], [1]]
