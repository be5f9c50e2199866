"""train()'s grouped evaluation changes nothing a student sees; Ctrl-C keeps what was learned."""

import pytest

from course_lib import MultiLayerNet, training
from course_lib.training import train


def _net(activation="relu", seed=0, batchnorm=False):
    return MultiLayerNet(
        784,
        [40, 20],
        10,
        activation=activation,
        weight_init_std=0.01,
        seed=seed,
        use_batchnorm=batchnorm,
    )


def _assert_same_history(a, b):
    assert a.losses == b.losses
    assert a.eval_iters == b.eval_iters
    assert a.train_acc == b.train_acc
    assert a.test_acc == b.test_acc
    assert a.grad_norms == b.grad_norms
    assert a.initial_grad_norms == b.initial_grad_norms
    assert (a.status, a.message, a.diverged_at, a.dead_since) == (
        b.status,
        b.message,
        b.diverged_at,
        b.dead_since,
    )


def _counting_steps(network):
    """The network, counting its training steps in the list returned with it."""
    steps = []
    step = network.loss_and_gradient

    def counted(x, d):
        steps.append(1)
        return step(x, d)

    network.loss_and_gradient = counted
    return network, steps


@pytest.mark.parametrize(
    "activation, seed, batchnorm",
    [("relu", 0, False), ("sigmoid", 1, False), ("tanh", 2, False), ("sigmoid", 0, True)],
)
def test_groups_give_the_history_of_one_point_at_a_time(
    sample_data, monkeypatch, activation, seed, batchnorm
):
    grouped = train(_net(activation, seed, batchnorm), sample_data, iters_num=300, seed=seed)
    monkeypatch.setattr(training, "GROUP_POINTS", 1)
    alone = train(_net(activation, seed, batchnorm), sample_data, iters_num=300, seed=seed)
    _assert_same_history(grouped, alone)


def test_callbacks_hear_a_group_after_it_with_history_as_it_was_at_each_point(sample_data):
    network, steps = _counting_steps(_net())
    seen = []

    def callback(history):
        n = len(history.eval_iters)
        assert len(history.train_acc) == len(history.test_acc) == n
        assert all(len(norms) == n for norms in history.grad_norms.values())
        seen.append((history.eval_iters[-1], len(history.losses), len(steps)))

    train(network, sample_data, iters_num=100, seed=0, callback=callback)
    # Points 10..80 are heard after step 80, then 90 and 100 (the last) after step 100.
    expected = [(it, it, 80) for it in range(10, 81, 10)] + [(90, 90, 100), (100, 100, 100)]
    assert seen == expected


@pytest.mark.parametrize(
    "eval_interval, group_bytes, points",
    [(10, None, 8), (30, None, 2), (100, None, 1), (10, 1, 1)],
)
def test_a_group_spans_at_most_80_iterations_and_its_memory_bound(
    sample_data, monkeypatch, eval_interval, group_bytes, points
):
    if group_bytes is not None:
        monkeypatch.setattr(training, "GROUP_BYTES", group_bytes)
    network, steps = _counting_steps(_net())
    leads = []
    train(
        network,
        sample_data,
        iters_num=8 * eval_interval,
        eval_interval=eval_interval,
        seed=0,
        callback=lambda h: leads.append(len(steps) - h.eval_iters[-1]),
    )
    assert leads[:points] == [eval_interval * k for k in reversed(range(points))]


class _Wrapped(MultiLayerNet):
    """A model that is not a MultiLayerNet itself: evaluated with its own accuracy()."""

    def accuracy(self, x, d):
        self.calls = getattr(self, "calls", 0) + 1
        return super().accuracy(x, d)


def test_other_models_are_evaluated_point_by_point_with_their_own_accuracy(sample_data):
    model = _Wrapped(784, [40, 20], 10, weight_init_std=0.01, seed=0)
    other = train(model, sample_data, iters_num=100, seed=0)
    assert model.calls == 2 * 10  # the batch and the test set at each point
    _assert_same_history(other, train(_net(), sample_data, iters_num=100, seed=0))


def test_ctrl_c_in_a_callback_keeps_the_group_and_returns_the_history(sample_data, capsys):
    full = train(_net(), sample_data, iters_num=100, seed=0)

    def interrupt(history):
        if history.eval_iters[-1] == 30:
            raise KeyboardInterrupt

    h = train(_net(), sample_data, iters_num=100, seed=0, callback=interrupt)
    assert h.status == "stopped" and h.message == "stopped at iteration 80 (Ctrl-C)"
    # Everything learned until the interrupt: the group's points 10..80, as without it.
    assert h.eval_iters == full.eval_iters[:8] and h.test_acc == full.test_acc[:8]
    assert h.losses == full.losses[:80] and h.iterations_done == 80
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "train(): stopped at iteration 80 (Ctrl-C); what was learned so far is returned"
    ]


def test_ctrl_c_while_training_evaluates_the_waiting_points_and_where_it_stopped(sample_data):
    network, steps = _counting_steps(_net())
    step = network.loss_and_gradient

    def interrupted(x, d):
        if len(steps) == 56:  # Ctrl-C during the 57th step: 56 updates were applied
            raise KeyboardInterrupt
        return step(x, d)

    network.loss_and_gradient = interrupted
    heard = []
    h = train(network, sample_data, iters_num=100, seed=0, callback=heard.append)
    assert heard == []  # the callbacks had not heard the group yet, and are not called now
    assert h.status == "stopped" and "Ctrl-C" in h.message
    assert h.eval_iters == [10, 20, 30, 40, 50, 56]
    assert len(h.losses) == h.iterations_done == 56
    (x_test, d_test) = sample_data[1]
    assert h.test_acc[-1] == network.accuracy(x_test, d_test)
    full = train(_net(), sample_data, iters_num=100, seed=0)
    assert h.test_acc[:5] == full.test_acc[:5] and h.losses == full.losses[:56]
