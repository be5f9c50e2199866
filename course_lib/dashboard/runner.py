"""Runner: trains one RunConfig at a time in a background thread. No widgets.

Why a thread: a button's click handler runs on the kernel's main thread, and while it
runs the kernel cannot process the next click. Training in the handler would make Stop
unreachable, so ``start`` begins a thread and returns at once; the thread's ``train()``
callback checks a stop flag and returns False to end the run.

The runner tells what happens through a listener's methods, called from its thread:
``loading(config)``, ``started(config, data)``, ``evaluated(history)`` (at every
evaluation, with the live History), ``finished(history, seconds, snapshots)``,
``failed(exc, config, loading)`` (loading: True if the data could not be loaded),
``cancelled(config)``, and last ``ended()``. Any of them may be missing.
"""

import threading
import time

from course_lib.diagnostics import activation_snapshot
from course_lib.training import run

# Enough images for an honest activation histogram, few enough to stay cheap.
SNAPSHOT_IMAGES = 1000


class Cancelled(Exception):
    """Stop was pressed while the data was still loading."""


class DataCache:
    """Each dataset loaded once per session, in a thread of its own.

    A run waits for its data but can give up waiting (Stop): the load goes on and its
    result is kept for the next run, so a slow network is paid once.
    """

    def __init__(self, load):
        self._load = load
        self._lock = threading.Lock()
        self._done = {}  # dataset -> threading.Event
        self._result = {}  # dataset -> (data, exception)

    def get(self, dataset, cancel):
        """The dataset's data; raises Cancelled if ``cancel`` is set while waiting."""
        with self._lock:
            done = self._done.get(dataset)
            if done is None:
                done = self._done[dataset] = threading.Event()
                threading.Thread(
                    target=self._fetch, args=(dataset, done), name="course-data", daemon=True
                ).start()
        while not done.wait(0.05):
            if cancel.is_set():
                raise Cancelled
        data, error = self._result[dataset]
        if error is not None:
            with self._lock:  # a failed load is tried again by the next run
                self._done.pop(dataset, None)
            raise error
        return data

    def _fetch(self, dataset, done):
        try:
            self._result[dataset] = (self._load(dataset), None)
        except Exception as exc:  # handed to the waiting run
            self._result[dataset] = (None, exc)
        finally:
            done.set()


class Runner:
    """Runs RunConfigs one at a time in a background thread and reports to a listener."""

    def __init__(self, load, listener):
        self.data = DataCache(load)
        self._listener = listener
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    @property
    def is_running(self):
        """True while a run (or the loading of its data) is in progress."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self):
        """True if Stop was asked for the run in progress."""
        return self.is_running and self._stop.is_set()

    def start(self, config):
        """Begin training ``config``; False (and nothing started) if a run is going."""
        with self._lock:
            if self.is_running:
                return False
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._work, args=(config,), name="course-dashboard-run", daemon=True
            )
            self._thread.start()
            return True

    def stop(self):
        """Ask the run to stop at its next evaluation (or stop waiting for its data)."""
        self._stop.set()

    def wait(self, timeout=None):
        """Block until the run in progress (if any) has ended; True if none is left."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.is_running

    def _tell(self, event, *args):
        handler = getattr(self._listener, event, None)
        return handler(*args) if handler is not None else None

    def _work(self, config):
        start = time.perf_counter()
        loading = True
        try:
            self._tell("loading", config)
            try:
                data = self.data.get(config.dataset, self._stop)
            except Cancelled:
                self._tell("cancelled", config)
                return
            loading = False
            x_test = data[1][0]
            network = config.build_network_for(data)
            snapshots = {"initialisation": activation_snapshot(network, x_test[:SNAPSHOT_IMAGES])}
            self._tell("started", config, data)
            history = run(config, data, network=network, callback=self._evaluated)
            if history.status != "diverged":
                snapshots[f"after {history.iterations_done} iterations"] = activation_snapshot(
                    network, x_test[:SNAPSHOT_IMAGES]
                )
            self._tell("finished", history, time.perf_counter() - start, snapshots)
        except Exception as exc:  # the listener shows it; the session goes on
            self._tell("failed", exc, config, loading)
        finally:
            self._tell("ended")

    def _evaluated(self, history):
        if self._stop.is_set():
            return False
        self._tell("evaluated", history)
        return not self._stop.is_set()
