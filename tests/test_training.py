import numpy as np
import pytest

from course_lib import MultiLayerNet
from course_lib.config import RunConfig
from course_lib.training import History, print_progress, train


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


def test_callback_sees_each_evaluation_and_can_stop_the_run():
    seen = []

    def cb(history):
        seen.append(history.eval_iters[-1])
        return False if history.eval_iters[-1] >= 30 else None

    h = train(_net(), _toy_data(), iters_num=100, batch_size=10, callback=cb)
    assert seen == [10, 20, 30]
    assert h.status == "stopped" and len(h.losses) == 30
    assert "30" in h.message


def test_diverging_run_stops_at_once_without_nan():
    net = _net(weight_init_std=1.0)
    h = train(net, _toy_data(), iters_num=500, batch_size=20, learning_rate=1e4, seed=0)
    assert h.status == "diverged"
    assert 1 <= h.diverged_at < 500
    assert "smaller learning rate" in h.message and str(h.diverged_at) in h.message
    assert len(h.losses) == h.diverged_at - 1
    assert all(np.isfinite(h.losses)) and all(np.isfinite(h.test_acc))


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"iters_num": 0}, "iters_num"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 301}, "larger than the training set"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"eval_interval": 0}, "eval_interval"),
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
    with pytest.raises(ValueError, match="must match"):
        train(_net(), ((x, d), (test[0][:, :5], test[1])))
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
    assert h.first_iter_above(0.85, metric="train") == 30
    assert h.first_iter_above(0.95) is None
    s = h.summary()
    assert "relu / He [40,20] lr=0.1" in s and "test 0.800" in s and "from iter 20" in s
