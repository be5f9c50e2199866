"""The evaluation step of train(): accuracies, gradient norms and callbacks, on both cores.

Why (measured on the course's 2-core machine with ``benchmarks/bench_products.py`` and
``benchmarks/bench_training.py``): most of a seed-protocol run is the test-set
evaluation every 10 iterations, whose first product, (10,000 x 784) @ (784 x 40),
takes about 10 ms on one core; the rest is the training step, small products and Python.

- **One BLAS thread while the worker runs** (for test sets of at least MIN_SPLIT_ROWS
  images). OpenBLAS's second thread would compete with the worker for the second core,
  and in the loop it gains nothing: it has to be woken for each 100-image product, and
  when another process holds a core the waiting makes those products many times slower.
  Smaller test sets leave BLAS as the user set it: a second BLAS thread rounds the
  training products differently, and the runs on the bundled sample stay the ones they
  have always been on the same machine.
- **Evaluation points in groups.** Up to WIDE points are evaluated together: the first
  product of the group is one product with the group's W1 side by side,
  (n x 784) @ (784 x 8*40), which costs each point about 60 % of its own product (a
  wider right-hand side suits the sgemm kernel better); the rest of the network runs
  point by point, from a copy of the weights taken at that point.
- **A worker thread.** It evaluates a group while the calling thread trains on through
  the next one; at the end of that one the calling thread takes over the rows the
  worker has not reached, then calls the callbacks of the finished group in order.
  The callbacks see the History as it was at their point (the losses trained ahead are
  held back); if one of them stops the run, the weights and the optimizer's state are
  put back as they were there, so the run stops at the same iteration with the same
  network as it would have without training ahead.

``PARALLEL = False`` selects the plain path, the seed's: after each evaluation point,
``network.accuracy`` on the whole test set and the callbacks at once. Both paths give
the same History for the same seeds (the same losses, gradient norms and batch
accuracies, bit for bit), except that a test image whose two best scores are tied to
float32 rounding may be counted differently: a group's wide product and a chunk of rows
may round a logit one unit in the last place differently from ``network.accuracy``.
"""

import contextlib
import copy
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from threadpoolctl import threadpool_limits

from course_lib.multi_layer_net import MultiLayerNet

# False: evaluate the whole test set at each point on the calling thread, as the seed does.
PARALLEL = True

# Test sets smaller than this are evaluated on the calling thread alone. On the bundled
# sample's 2,000 images the worker saved only about 5 % of a dashboard run (1.77 s
# against 1.87 s, medians of 6), not worth a second busy core per student on a hub.
MIN_SPLIT_ROWS = 8000

# At most this many evaluation points share one wide first product...
WIDE = 8
# ...and a group spans at most this many iterations, so that the callbacks (the
# dashboard's live curves, a stop button) hear each point within two groups of it.
GROUP_ITERATIONS = 80

# The copies of the weights (and of the optimizer's state) that a group holds stay under
# GROUP_BYTES: a network with very wide layers is evaluated in smaller groups.
GROUP_BYTES = 1 << 26

# With a worker the test set is evaluated in CHUNKS pieces of rows, which the worker and
# the calling thread share out as they come free. Few pieces: every piece is a pass of
# Python through the layers for each point, and the two threads queue for the GIL to
# run it (8 pieces were 10 % slower than 4 on the seed protocol).
CHUNKS = 4

# A chunk's activations are held CHUNK_VALUES values at a time at most (64 MB of float32):
# very wide hidden layers do not need one array of n_test x width.
CHUNK_VALUES = 1 << 24


def usable_cores():
    """How many cores this process may run on (its CPU affinity where the OS tells it)."""
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
    """train()'s evaluation step: record evaluations in History and call the callbacks.

    ``record(it, grad, x_batch, d_batch)`` at each evaluation point, ``finish()`` before
    train() stops for any other reason; both return True when a callback stopped the
    run. Leaving the context shuts the worker down, whatever happened, and gives BLAS
    back its threads. See the module's docstring for how and why.
    """

    def __init__(
        self, network, optimizer, x_test, d_test, history, callbacks, start, eval_interval=1
    ):
        self.network = network
        self.optimizer = optimizer
        self.x_test = x_test
        self.d_test = d_test
        self.history = history
        self.callbacks = callbacks
        self.start = start
        self.weight_keys = list(history.grad_norms)
        self.dead_since = None
        self._group = []  # points recorded, not yet handed out
        self._job = None  # the group being evaluated
        self._pool = None
        n = len(x_test)
        # Training ahead means putting the optimizer back on a stop: its state must be
        # plain attributes (no callback, no stop: nothing to put back).
        ahead = not callbacks or hasattr(optimizer, "__dict__")
        self._plain = not PARALLEL
        # A point keeps a copy of the network, and of the optimizer (up to twice its size,
        # Adam) when a callback may stop the run.
        point_bytes = sum(v.nbytes for v in model_state(network).values()) * (3 if callbacks else 1)
        size = min(WIDE, GROUP_ITERATIONS // eval_interval, GROUP_BYTES // max(1, point_bytes))
        self._size = max(1, size) if ahead else 1
        self._replicas = None
        if not self._plain:
            replicas = [_replica(network)]
            if ahead and usable_cores() >= 2 and n >= MIN_SPLIT_ROWS:
                replicas.insert(0, _replica(network))  # the worker's, then the caller's
            if None in replicas:  # a model that cannot be copied: the plain path
                self._plain = True
            else:
                self._replicas = replicas
        self._wide = isinstance(network, MultiLayerNet) and not self._plain
        # With a worker the calling thread trains on while a group is evaluated.
        self._pipelined = ahead and self._replicas is not None and len(self._replicas) == 2
        widest = max((p.shape[-1] for p in network.params.values() if np.ndim(p) == 2), default=1)
        # Pieces to share out only with a worker: each piece costs a pass through the layers.
        pieces = CHUNKS if self._pipelined else 1
        rows = min(max(1, -(-n // pieces)), max(1, CHUNK_VALUES // (widest * self._size)))
        self._chunks = [(a, min(a + rows, n)) for a in range(0, n, rows)]

    def __enter__(self):
        self._blas = contextlib.ExitStack()
        if self._pipelined:
            self._blas.enter_context(one_blas_thread())
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="course_lib-eval")
        return self

    def __exit__(self, *exc_info):
        if self._pool is not None:
            if self._job is not None:
                self._job["next"] = len(self._chunks)  # the worker takes no more chunks
            self._pool.shutdown(wait=True)  # no thread outlives train()
            self._pool = None
        self._blas.close()
        return False

    def record(self, it, grad, x_batch, d_batch):
        """Evaluate the network after iteration ``it`` (its last batch and gradient)."""
        point = {
            "it": it,
            "norms": {key: float(np.linalg.norm(grad[key])) for key in self.weight_keys},
            "train_acc": self.network.accuracy(x_batch, d_batch),
        }
        if self._plain:
            point["test_acc"] = self.network.accuracy(self.x_test, self.d_test)
            return self._deliver([point])
        point["state"] = {k: v.copy() for k, v in model_state(self.network).items()}
        if self.callbacks and (self._size > 1 or self._pipelined):  # it may train ahead
            point["optimizer"] = copy.deepcopy(vars(self.optimizer))
        self._group.append(point)
        if len(self._group) < self._size:
            return False
        # The group is complete: the previous one's results are due, then this one is
        # handed to the worker while the calling thread trains on.
        if self._collect():
            return True
        self._submit()
        return False if self._pipelined else self._collect()

    def finish(self):
        """Evaluate and record every pending point; True if a callback stopped the run."""
        if self._collect():
            return True
        if not self._group:
            return False
        self._submit()
        return self._collect()

    def _submit(self):
        points, self._group = self._group, []
        job = {"points": points, "lock": threading.Lock(), "next": 0}
        job["correct"] = np.zeros(len(points), dtype=np.int64)
        if self._wide:
            job["W1"] = np.concatenate([p["state"]["W1"] for p in points], axis=1)
        if self._pool is not None:
            job["worker"] = self._pool.submit(self._evaluate, job, self._replicas[0])
        self._job = job

    def _collect(self):
        """Finish the job in hand (helping the worker), then deliver its points."""
        job, self._job = self._job, None
        if job is None:
            return False
        try:
            self._evaluate(job, self._replicas[-1])
        finally:
            job["next"] = len(self._chunks)
            if "worker" in job:
                wait([job["worker"]])  # no work is left running behind the caller
        if "worker" in job:
            job["worker"].result()
        for point, correct in zip(job["points"], job["correct"], strict=True):
            point["test_acc"] = int(correct) / len(self.x_test)
        return self._deliver(job["points"])

    def _evaluate(self, job, model):
        """Evaluate chunks of the test set for every point of ``job`` until none is left."""
        points = job["points"]
        while True:
            with job["lock"]:
                j = job["next"]
                job["next"] += 1
            if j >= len(self._chunks):
                return
            a, b = self._chunks[j]
            x, d = self.x_test[a:b], self.d_test[a:b]
            first = x @ job["W1"] if self._wide else None
            counts = []
            for k, point in enumerate(points):
                copy_state(point["state"], model)
                if first is None:
                    counts.append(round(model.accuracy(x, d) * (b - a)))
                    continue
                width = point["state"]["W1"].shape[1]
                scores = first[:, k * width : (k + 1) * width] + point["state"]["b1"]
                y = model.predict(scores, train_flg=False, after="Affine1")
                counts.append(np.count_nonzero(np.argmax(y, axis=1) == d))
            with job["lock"]:
                job["correct"] += counts

    def _deliver(self, points):
        """Record the points in History and call the callbacks, in order; True on a stop."""
        history = self.history
        for point in points:
            it = point["it"]
            ahead = history.losses[it:]
            del history.losses[it:]
            history.eval_iters.append(it)
            history.train_acc.append(point["train_acc"])
            history.test_acc.append(point["test_acc"])
            norms = point["norms"]
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
                if ahead:  # put the network back as it was at this point
                    copy_state(point["state"], self.network)
                    vars(self.optimizer).clear()
                    vars(self.optimizer).update(point["optimizer"])
                self._group = []
                return True
            history.losses.extend(ahead)
        return False


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
