"""The evaluation step on two threads changes nothing a student sees, and cleans up."""

import threading

import numpy as np
import pytest
from threadpoolctl import OpenBLASController, threadpool_info, threadpool_limits

from course_lib import MultiLayerNet, evaluation
from course_lib.common.optimizer import SGD, make_optimizer
from course_lib.training import train

# Threads that train() starts: the evaluation's worker, and the helper that sets and
# restores BLAS's threads ("course_lib-blas"). None may outlive train().
WORKER = "course_lib-eval"


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    """The worker's path whatever the machine: it must give the same numbers on any.

    It starts at 8,000 test images; the sample's 2,000 take it here, to keep tests quick.
    """
    monkeypatch.setattr(evaluation, "usable_cores", lambda: 2)
    monkeypatch.setattr(evaluation, "MIN_SPLIT_ROWS", 1000)


@pytest.fixture(params=["worker", "calling thread"])
def either_path(request, monkeypatch):
    """Groups evaluated by the worker, or (a small test set, one core) by the caller."""
    if request.param == "calling thread":
        monkeypatch.setattr(evaluation, "MIN_SPLIT_ROWS", 10**9)
    return request.param


@pytest.fixture
def two_blas_threads():
    """BLAS at two threads (conftest pins one) without this thread holding the setting.

    Inside a ``threadpool_limits`` block the block's thread alone may change OpenBLAS's
    threads, and train()'s own limit is ignored: the user's setting wins.
    """
    limits = threadpool_limits(2, user_api="blas")
    OpenBLASController.clear_controlling_thread()
    yield
    limits.restore_original_limits()


def _workers(prefix=WORKER):
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def _leftover_threads():
    return _workers("course_lib-")


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def _train(
    data, parallel, monkeypatch, seed=0, activation="relu", iters=300, batchnorm=False, **kw
):
    monkeypatch.setattr(evaluation, "PARALLEL", parallel)
    net = MultiLayerNet(
        784,
        [40, 20],
        10,
        activation=activation,
        weight_init_std=0.01,
        seed=seed,
        use_batchnorm=batchnorm,
    )
    return train(net, data, iters_num=iters, learning_rate=0.1, seed=seed, **kw)


def _assert_same_history(a, b, n_test):
    assert a.losses == b.losses
    assert a.eval_iters == b.eval_iters
    assert a.train_acc == b.train_acc
    assert a.grad_norms == b.grad_norms
    assert a.initial_grad_norms == b.initial_grad_norms
    assert (a.status, a.message) == (b.status, b.message)
    # The chunks' products may round a logit one unit in the last place differently
    # from the whole test set's: an image tied to float32 rounding may then flip (none
    # did in 4,800 evaluations of 24 full runs when this was written).
    flips = [abs(x - y) * n_test for x, y in zip(a.test_acc, b.test_acc, strict=True)]
    assert all(f < 1 + 1e-9 for f in flips), flips
    assert sum(f > 0.5 for f in flips) <= 2, flips


@pytest.mark.parametrize(
    "activation, seed, batchnorm",
    [("relu", 0, False), ("sigmoid", 1, False), ("relu", 2, False), ("sigmoid", 0, True)],
)
def test_parallel_path_gives_the_sequential_history(
    sample_data, monkeypatch, activation, seed, batchnorm
):
    n_test = len(sample_data[1][0])
    assert n_test >= evaluation.MIN_SPLIT_ROWS  # the split path really runs
    used_worker = []

    def spy(history):
        used_worker.append(bool(_workers()))

    # With batch normalisation the evaluation also needs the running averages as they are
    # at the evaluation, not as they were when the worker's copy was made.
    parallel = _train(
        sample_data, True, monkeypatch, seed, activation, batchnorm=batchnorm, callback=spy
    )
    sequential = _train(sample_data, False, monkeypatch, seed, activation, batchnorm=batchnorm)
    assert all(used_worker) and len(used_worker) == 30
    _assert_same_history(parallel, sequential, n_test)


def test_small_chunks_count_like_the_whole_test_set(sample_data, monkeypatch):
    monkeypatch.setattr(evaluation, "CHUNK_VALUES", 40 * 300)  # 300-row chunks
    parallel = _train(sample_data, True, monkeypatch, iters=100)
    sequential = _train(sample_data, False, monkeypatch, iters=100)
    _assert_same_history(parallel, sequential, len(sample_data[1][0]))


def test_callbacks_run_in_order_on_the_calling_thread_with_a_consistent_history(
    sample_data, monkeypatch, either_path
):
    seen = []

    def callback(history):
        seen.append((threading.current_thread(), history.eval_iters[-1]))
        n = len(history.eval_iters)
        assert len(history.train_acc) == len(history.test_acc) == n
        assert all(len(v) == n for v in history.grad_norms.values())
        assert len(history.losses) == history.eval_iters[-1]

    _train(sample_data, True, monkeypatch, iters=100, callback=callback)
    assert [it for _, it in seen] == list(range(10, 101, 10))
    assert all(t is threading.current_thread() for t, _ in seen)
    assert not _leftover_threads()


def test_a_stop_or_a_raising_callback_leaves_no_thread_and_restores_blas(
    sample_data, monkeypatch, two_blas_threads
):
    inside = []

    def stop(history):
        inside.append(_blas_threads())
        return history.eval_iters[-1] < 30

    h = _train(sample_data, True, monkeypatch, iters=100, callback=stop)
    assert h.status == "stopped" and h.eval_iters[-1] == 30 and len(h.losses) == 30
    assert inside == [[1]] * 3
    assert not _leftover_threads() and _blas_threads() == [2]

    def boom(history):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        _train(sample_data, True, monkeypatch, iters=100, callback=boom)
    assert not _leftover_threads() and _blas_threads() == [2]


def test_the_users_own_blas_limit_wins(sample_data, monkeypatch):
    inside = []

    def spy(history):
        inside.append(_blas_threads())

    with threadpool_limits(2, user_api="blas"):
        _train(sample_data, True, monkeypatch, iters=20, callback=spy)
        assert _blas_threads() == [2]
    assert inside == [[2]] * 2


def test_stop_happens_at_the_same_iteration_as_sequentially(sample_data, monkeypatch, either_path):
    # 50 is in the middle of a group of evaluation points (10..80).
    def stop_at_50(history):
        return history.eval_iters[-1] < 50

    runs = [
        _train(sample_data, parallel, monkeypatch, iters=200, callback=stop_at_50)
        for parallel in (True, False)
    ]
    _assert_same_history(*runs, len(sample_data[1][0]))
    assert runs[0].eval_iters[-1] == 50 and len(runs[0].losses) == 50


def test_two_trains_at_once_in_background_threads(sample_data, monkeypatch, two_blas_threads):
    # On two cores train() pins BLAS to one thread; the plain path uses BLAS as it is
    # set, and a second BLAS thread rounds differently: compare on one thread.
    with threadpool_limits(1, user_api="blas"):
        expected = [_train(sample_data, False, monkeypatch, seed=s, iters=150) for s in (0, 1)]
    OpenBLASController.clear_controlling_thread()
    monkeypatch.setattr(evaluation, "PARALLEL", True)
    results, errors = {}, []

    def work(seed):
        try:
            net = MultiLayerNet(784, [40, 20], 10, weight_init_std=0.01, seed=seed)
            results[seed] = train(net, sample_data, iters_num=150, learning_rate=0.1, seed=seed)
        except Exception as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The last train to finish gives BLAS back the threads it had before the first.
    assert _blas_threads() == [2]
    assert not errors
    for seed in (0, 1):
        _assert_same_history(results[seed], expected[seed], len(sample_data[1][0]))
    assert not _leftover_threads()


class _Uncopyable(MultiLayerNet):
    def __deepcopy__(self, memo):
        raise TypeError("cannot copy this model")


def test_a_model_that_cannot_be_copied_is_evaluated_on_the_calling_thread(sample_data):
    net = _Uncopyable(784, [40, 20], 10, weight_init_std=0.01, seed=0)
    workers = []
    h = train(net, sample_data, iters_num=20, seed=0, callback=lambda h: workers.append(_workers()))
    assert h.status == "completed" and workers == [[], []]


def test_by_default_the_samples_test_set_is_evaluated_on_the_calling_thread(
    sample_data, monkeypatch, two_blas_threads
):
    # The dashboard's runs on the bundled sample: no worker, points in groups, BLAS left
    # as the user set it, and the History of the plain path.
    monkeypatch.undo()
    assert len(sample_data[1][0]) < evaluation.MIN_SPLIT_ROWS
    seen = []

    def spy(history):
        seen.append((_workers(), _blas_threads()))

    net = MultiLayerNet(784, [40, 20], 10, weight_init_std=0.01, seed=1)
    grouped = train(net, sample_data, iters_num=200, learning_rate=0.1, seed=1, callback=spy)
    assert seen == [([], [2])] * 20
    plain = _train(sample_data, False, monkeypatch, seed=1, iters=200)
    _assert_same_history(grouped, plain, len(sample_data[1][0]))


def test_a_group_of_evaluation_points_counts_like_each_point_alone(sample_data):
    # The first product of a group is one product with the group's W1 side by side;
    # predict(after="Affine1") finishes each point: the same scores as predict().
    x = np.asarray(sample_data[1][0][:500], dtype=np.float32).reshape(500, -1)
    nets = [
        MultiLayerNet(784, [40, 20], 10, activation=a, seed=s, use_batchnorm=bn)
        for a, s, bn in (("relu", 0, False), ("sigmoid", 1, True), ("tanh", 2, False))
    ]
    first = x @ np.concatenate([n.params["W1"] for n in nets], axis=1)
    for k, net in enumerate(nets):
        scores = first[:, 40 * k : 40 * (k + 1)] + net.params["b1"]
        wide = net.predict(scores, after="Affine1")
        np.testing.assert_allclose(wide, net.predict(x), rtol=1e-5, atol=1e-6)
        assert np.array_equal(np.argmax(wide, axis=1), np.argmax(net.predict(x), axis=1))
    with pytest.raises(ValueError, match="not a layer of this network"):
        nets[0].predict(x, after="Affine9")


def test_small_test_sets_stay_on_the_calling_thread(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.random((200, 784), dtype=np.float32)
    d = rng.integers(0, 10, 200)
    workers = []
    net = MultiLayerNet(784, [40, 20], 10, seed=0)
    train(
        net, ((x, d), (x[:50], d[:50])), iters_num=10, callback=lambda h: workers.append(_workers())
    )
    assert workers == [[]]


@pytest.mark.parametrize(
    "optimizer, batchnorm", [("sgd", False), ("momentum", False), ("adam", False), ("sgd", True)]
)
def test_a_stop_puts_back_the_network_and_optimizer_trained_ahead(
    sample_data, monkeypatch, optimizer, batchnorm
):
    def stop_at_40(history):
        return history.eval_iters[-1] < 40

    nets, opts, runs = [], [], []
    for parallel in (True, False):
        monkeypatch.setattr(evaluation, "PARALLEL", parallel)
        net = MultiLayerNet(
            784, [40, 20], 10, weight_init_std=0.01, seed=3, use_batchnorm=batchnorm
        )
        opt = make_optimizer(optimizer, 0.01)
        runs.append(
            train(net, sample_data, iters_num=100, optimizer=opt, seed=3, callback=stop_at_40)
        )
        nets.append(net)
        opts.append(opt)
    _assert_same_history(*runs, len(sample_data[1][0]))
    assert runs[0].status == "stopped" and len(runs[0].losses) == 40
    # Every array that decides what the network computes, running averages included.
    for key, value in nets[1].state().items():
        assert np.array_equal(nets[0].state()[key], value), key
    state = [vars(opt) for opt in opts]
    assert state[0].keys() == state[1].keys()
    for name, value in state[1].items():
        if isinstance(value, dict):
            for key in value:
                assert np.array_equal(state[0][name][key], value[key]), (name, key)
        else:
            assert state[0][name] == value, name


class _BlowsUpAt25(SGD):
    """SGD that scales the weights up 1,000 times at its 25th update: the loss explodes."""

    def update(self, params, grads):
        super().update(params, grads)
        self.updates = getattr(self, "updates", 0) + 1
        if self.updates == 25:
            for key in params:
                params[key] *= 1000


def test_a_run_diverging_while_trained_ahead_still_hears_the_last_evaluation(
    sample_data, monkeypatch
):
    runs, seen = [], []
    for parallel in (True, False):
        seen.append([])
        monkeypatch.setattr(evaluation, "PARALLEL", parallel)
        net = MultiLayerNet(784, [40, 20], 10, weight_init_std="he", seed=0)

        def callback(history, seen=seen[-1]):
            seen.append((history.eval_iters[-1], len(history.losses)))

        runs.append(
            train(
                net,
                sample_data,
                iters_num=100,
                optimizer=_BlowsUpAt25(0.1),
                seed=0,
                callback=callback,
            )
        )
    assert runs[0].status == "diverged" and runs[0].diverged_at == 26
    _assert_same_history(*runs, len(sample_data[1][0]))
    assert seen[0] == seen[1] == [(10, 10), (20, 20)]


@pytest.mark.parametrize("group_bytes, lead", [(None, 70), (1, 0)])
def test_groups_train_ahead_only_as_far_as_their_memory_bound_allows(
    sample_data, monkeypatch, group_bytes, lead
):
    # The callbacks hear a group's points after the caller has trained through the group
    # (here on the calling thread: no worker); a network too big to copy eight times
    # (GROUP_BYTES=1) is evaluated one point at a time.
    monkeypatch.setattr(evaluation, "MIN_SPLIT_ROWS", 10**9)
    if group_bytes is not None:
        monkeypatch.setattr(evaluation, "GROUP_BYTES", group_bytes)
    net = MultiLayerNet(784, [40, 20], 10, weight_init_std=0.01, seed=0)
    steps, leads = [], []
    step = net.loss_and_gradient

    def counted(*args, **kwargs):
        steps.append(1)
        return step(*args, **kwargs)

    net.loss_and_gradient = counted
    train(
        net,
        sample_data,
        iters_num=80,
        seed=0,
        callback=lambda h: leads.append(len(steps) - h.eval_iters[-1]),
    )
    assert len(leads) == 8 and leads[0] == lead and leads[-1] == 0, leads
