"""The evaluation step of train(): the test-set accuracy, using both cores.

Why this exists (measured on the course's 2-core machine, ``benchmarks/bench_products.py``
and ``benchmarks/bench_training.py``): most of a seed-protocol run is the full test-set
evaluation every 10 iterations, and its big product, (10,000 x 784) @ (784 x 40), is
too skinny for OpenBLAS's own two threads: the second core mostly waits, and on a busy
machine waiting for it makes the run several times slower. So train() runs with one
BLAS thread (``one_blas_thread``; the training step's 100-image products gain nothing
from a second one either) and ``TestSetEvaluation`` evaluates the two halves of the
test set at once, on the calling thread and on one worker thread.

``PARALLEL = False`` selects the plain sequential path: ``network.accuracy`` on the
whole test set on the calling thread. Both paths give the same History for the same
seeds (the same losses, gradient norms and batch accuracies, bit for bit), except that
a test image whose two best scores are tied to float32 rounding may be counted
differently: BLAS rounds a few logits of a half differently, by one unit in the last
place, from those of the whole test set.
"""

import contextlib
import copy
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from threadpoolctl import threadpool_limits

# False: evaluate the whole test set on the calling thread, as the seed does.
PARALLEL = True

# Below this many test images, handing half of them to another thread costs more than
# it saves (a hand-off takes about 0.1 ms; 1,000 images at 784 x 40 about 1 ms).
MIN_SPLIT_ROWS = 1000

# The evaluation's activations are held CHUNK_VALUES values at a time at most (64 MB of
# float32 for the widest layer): very wide hidden layers do not need one array of
# n_test x width. For the course's [40, 20] networks one chunk is the whole half.
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


def _count_correct(model, x, d, chunk_rows):
    """Images of x that model classifies right, evaluated chunk_rows rows at a time."""
    correct = 0
    for start in range(0, len(x), chunk_rows):
        rows = x[start : start + chunk_rows]
        # accuracy() is a fraction of the rows: times their number, it is the count.
        correct += round(model.accuracy(rows, d[start : start + chunk_rows]) * len(rows))
    return correct


class TestSetEvaluation:
    """``accuracy()``: the network's accuracy on the test set with its current weights.

    A context manager: inside it (on two or more cores, for a test set of at least
    MIN_SPLIT_ROWS images, with PARALLEL true) one worker thread evaluates the second
    half of the test set while the calling thread evaluates the first half, and
    ``accuracy()`` returns when both are done. The worker uses a replica of the network
    (layers keep what their forward pass saw, so two threads cannot share them) whose
    weights are copied from ``network.params`` before each evaluation (40 K values for
    784-40-20-10). Leaving the context shuts the worker down, whatever happened.
    """

    def __init__(self, network, x_test, d_test, parallel=None):
        self.network = network
        self.x_test = x_test
        self.d_test = d_test
        self.parallel = PARALLEL if parallel is None else parallel
        self._replica = None
        self._pool = None

    def __enter__(self):
        if self.parallel and _cores() >= 2 and len(self.x_test) >= MIN_SPLIT_ROWS:
            self._replica = _replica(self.network)
        if self._replica is not None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="course_lib-eval")
        return self

    def __exit__(self, *exc_info):
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # no thread outlives train()
            self._pool = None
        return False

    def accuracy(self):
        """Fraction of the test images classified right (what ``network.accuracy`` gives)."""
        if self._pool is None:
            return self.network.accuracy(self.x_test, self.d_test)
        for key, value in self.network.params.items():
            np.copyto(self._replica.params[key], value)
        n = len(self.x_test)
        half = n // 2
        chunk = _chunk_rows(self.network.params)
        second = self._pool.submit(
            _count_correct, self._replica, self.x_test[half:], self.d_test[half:], chunk
        )
        try:
            first = _count_correct(self.network, self.x_test[:half], self.d_test[:half], chunk)
        except BaseException:
            wait([second])  # no work is left running behind the caller
            raise
        return (first + second.result()) / n


def _chunk_rows(params):
    widest = max((p.shape[-1] for p in params.values() if np.ndim(p) == 2), default=1)
    return max(1, CHUNK_VALUES // widest)


def _replica(network):
    """A copy of network whose layers share its own params (None if it cannot be copied)."""
    try:
        replica = copy.deepcopy(network)
    except Exception:  # a model that cannot be copied is evaluated on one thread
        return None
    params = getattr(replica, "params", None)
    same_keys = isinstance(params, dict) and params.keys() == network.params.keys()
    return replica if same_keys else None
