"""The evaluation step of train(): accuracies, gradient norms and callbacks, on both cores.

Why (measured on the course's 2-core machine with ``benchmarks/bench_products.py`` and
``benchmarks/bench_training.py``): most of a seed-protocol run is the test-set
evaluation every 10 iterations, whose first product, (10,000 x 784) @ (784 x 40),
takes 10 ms on one core; the rest is the training step, small products and Python.
OpenBLAS's own two threads halve the big product on an idle machine, but leave the
second core idle while the training step runs, and when another process holds a core
their waiting for each other makes even the 100-image products tens of times slower.
So for a large test set train() runs with one BLAS thread (``one_blas_thread``), and
``EvaluationStep`` keeps the second core busy itself: a worker thread evaluates the test
set while the calling thread trains on to the next evaluation point, then evaluates what
is left of the test set and calls the callbacks. For a small test set (the bundled
sample's 2,000 images, as in the dashboard) the evaluation is too short for the worker
to pay: there the step is the plain one, with BLAS as the user has it (measured with
1,000-iteration runs: 2,000 test images 1.10 s plain against 1.31 s on two cores; 6,000
1.37 s against 1.39 s; the seed protocol's 10,000 2.8 s against 3.4 s).

``PARALLEL = False`` selects the plain sequential path: ``network.accuracy`` on the
whole test set on the calling thread, the callbacks at once. Both paths give the same
History for the same seeds (the same losses, gradient norms and batch accuracies, bit
for bit), except that a test image whose two best scores are tied to float32 rounding
may be counted differently: BLAS may round a logit of a chunk of the test set one unit
in the last place differently from the same logit in the whole test set. (None was, in
the 4,800 evaluations of 24 seed-protocol and dashboard runs compared.)
"""

import contextlib
import copy
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from threadpoolctl import threadpool_limits

# False: evaluate the whole test set on the calling thread, as the seed does.
PARALLEL = True

# Below this many test images the worker and the one-thread BLAS limit are not worth
# their keep (see the measurements above).
MIN_SPLIT_ROWS = 8000

# The test set is evaluated in CHUNKS pieces, which the worker and the calling thread
# share out as they come free.
CHUNKS = 8

# The evaluation's activations are held CHUNK_VALUES values at a time at most (64 MB of
# float32 for the widest layer): very wide hidden layers do not need one array of
# n_test x width. For the course's networks the CHUNKS pieces are smaller anyway.
CHUNK_VALUES = 1 << 24


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _BlasLimit:
    """One BLAS thread while at least one train() runs, then the settings as they were.

    OpenBLAS has one thread count for the whole process, and threadpoolctl lets only the
    thread that set a limit restore it (other threads' calls are ignored while it holds
    it). Two trains running at once in two threads therefore share one limit, set and
    restored by one helper thread that lives only while a train() runs; the user's own
    ``threadpool_limits`` block around train() still wins over it.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._helper = None
        self._limits = None

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            if self._users == 0:
                self._helper = ThreadPoolExecutor(1, thread_name_prefix="course_lib-blas")
                self._limits = self._helper.submit(threadpool_limits, 1, "blas").result()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._helper.submit(self._limits.restore_original_limits).result()
                    self._helper.shutdown()
                    self._helper = self._limits = None


one_blas_thread = _BlasLimit()


class EvaluationStep:
    """train()'s evaluation step: record an evaluation in History and call the callbacks.

    ``record(it, grad, x_batch, d_batch)`` at each evaluation point, ``finish()`` before
    train() stops for any other reason; both return True when a callback stopped the run.

    With PARALLEL true, on two or more cores and a test set of at least MIN_SPLIT_ROWS
    images, the test set is evaluated in chunks by a worker thread, with a replica of the
    network holding a copy of the weights, while the calling thread trains on to the
    next evaluation point; there the calling thread evaluates the chunks the worker has
    not reached, then calls the callbacks. They see the History as it was at the
    evaluation (the losses trained ahead are held back), and if one of them stops the
    run, the weights and the optimizer's state are put back as they were then: the run
    stops at the same iteration with the same network as sequentially. Leaving the
    context shuts the worker down, whatever happened.
    """

    def __init__(self, network, optimizer, x_test, d_test, history, callbacks, start):
        self.network = network
        self.optimizer = optimizer
        self.x_test = x_test
        self.d_test = d_test
        self.history = history
        self.callbacks = callbacks
        self.start = start
        self.weight_keys = list(history.grad_norms)
        self.dead_since = None
        self._pending = None
        self._pool = None
        self._replicas = None
        n = len(x_test)
        if PARALLEL and _cores() >= 2 and n >= MIN_SPLIT_ROWS:
            replicas = [_replica(network), _replica(network)]  # the worker's, the caller's
            if None not in replicas:
                self._replicas = replicas
        rows = min(max(1, -(-n // CHUNKS)), _chunk_rows(network.params))
        self._chunks = [(a, min(a + rows, n)) for a in range(0, n, rows)]
        # Training ahead needs the optimizer's state to be restorable (plain attributes).
        self._ahead = self._replicas is not None and hasattr(optimizer, "__dict__")

    def __enter__(self):
        self._blas = contextlib.ExitStack()
        if self._replicas is not None:
            self._blas.enter_context(one_blas_thread())
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="course_lib-eval")
        return self

    def __exit__(self, *exc_info):
        if self._pool is not None:
            if self._pending is not None:
                self._pending["next"] = len(self._chunks)  # the worker takes no more chunks
            self._pool.shutdown(wait=True)  # no thread outlives train()
            self._pool = None
        self._blas.close()
        return False

    def record(self, it, grad, x_batch, d_batch):
        """Evaluate the network after iteration ``it`` (its last batch and gradient)."""
        if self.finish():
            return True
        pending = {
            "it": it,
            "norms": {key: float(np.linalg.norm(grad[key])) for key in self.weight_keys},
            "train_acc": self.network.accuracy(x_batch, d_batch),
        }
        if self._replicas is None:
            pending["test_acc"] = self.network.accuracy(self.x_test, self.d_test)
        else:
            state = model_state(self.network)
            for replica in self._replicas:
                copy_state(state, replica)
            pending.update(lock=threading.Lock(), next=0, correct=0)
            if self._ahead and self.callbacks:
                pending["optimizer"] = copy.deepcopy(vars(self.optimizer))
            pending["worker"] = self._pool.submit(self._evaluate, pending, self._replicas[0])
        self._pending = pending
        return False if self._ahead else self.finish()

    def _evaluate(self, pending, model):
        """Evaluate chunks of the test set until none is left (on either thread)."""
        while True:
            with pending["lock"]:
                j = pending["next"]
                pending["next"] += 1
            if j >= len(self._chunks):
                return
            a, b = self._chunks[j]
            correct = round(model.accuracy(self.x_test[a:b], self.d_test[a:b]) * (b - a))
            with pending["lock"]:
                pending["correct"] += correct

    def finish(self):
        """Record the pending evaluation and call the callbacks; True if one stopped the run."""
        pending, self._pending = self._pending, None
        if pending is None:
            return False
        history = self.history
        if "worker" in pending:
            try:
                self._evaluate(pending, self._replicas[1])
            finally:
                pending["next"] = len(self._chunks)
                wait([pending["worker"]])  # no work is left running behind the caller
            pending["worker"].result()
            pending["test_acc"] = pending["correct"] / len(self.x_test)
        it = pending["it"]
        ahead = history.losses[it:]
        del history.losses[it:]
        history.eval_iters.append(it)
        history.train_acc.append(pending["train_acc"])
        history.test_acc.append(pending["test_acc"])
        norms = pending["norms"]
        for key, norm in norms.items():
            history.grad_norms[key].append(norm)
        # All weight gradients exactly 0: a hidden layer outputs 0 for every image
        # (dead ReLUs), and no later update can change that.
        dead = bool(norms) and not any(norms.values())
        self.dead_since = (self.dead_since or it) if dead else None
        history.wall_time = time.perf_counter() - self.start
        # Every callback hears every evaluation, even when an earlier one stops.
        answers = [cb(history) for cb in self.callbacks]
        if any(answer is False for answer in answers):
            history.status = "stopped"
            history.message = f"stopped at iteration {it}"
            if ahead:  # put the network back as it was at the evaluation
                copy_state(model_state(self._replicas[1]), self.network)
                vars(self.optimizer).clear()
                vars(self.optimizer).update(pending["optimizer"])
            return True
        history.losses.extend(ahead)
        return False


def _chunk_rows(params):
    widest = max((p.shape[-1] for p in params.values() if np.ndim(p) == 2), default=1)
    return max(1, CHUNK_VALUES // widest)


def model_state(model):
    """The arrays that decide what a model computes: ``model.state()`` if it has one
    (MultiLayerNet adds batch normalisation's running averages), else its params."""
    return model.state() if hasattr(model, "state") else model.params


def copy_state(state, model):
    """Copy the arrays of ``state`` into ``model``'s own, in place (its layers share them)."""
    target = model_state(model)
    for key, value in state.items():
        np.copyto(target[key], value)


def _replica(network):
    """A copy of network whose layers share its own params (None if it cannot be copied)."""
    try:
        replica = copy.deepcopy(network)
    except Exception:  # a model that cannot be copied is evaluated on one thread
        return None
    params = getattr(replica, "params", None)
    same_keys = (
        isinstance(params, dict) and model_state(replica).keys() == model_state(network).keys()
    )
    return replica if same_keys else None
