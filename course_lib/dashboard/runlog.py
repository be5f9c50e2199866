"""RunLog: the finished runs of a dashboard session, as plain data behind a lock.

The worker thread adds runs while the kernel's main thread may clear them or read them
(to draw the overlay or the table), so every access takes the lock and readers get
copies.
"""

import math
import threading
from dataclasses import dataclass


def fmt_acc(value):
    """An accuracy with three decimals, or a dash if there is none."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.3f}"


@dataclass(frozen=True)
class Run:
    """A finished run kept in the session: its number, its History and how long it took."""

    number: int
    history: object
    seconds: float

    @property
    def label(self):
        return f"#{self.number} {self.history.label}"

    def row(self):
        """The run as a table row (what the dashboard's table shows)."""
        h = self.history
        first = h.first_iter_above(0.5)
        status = f"diverged at {h.diverged_at}" if h.status == "diverged" else h.status
        if h.dead_since is not None:
            status += " (dead ReLUs)"
        return {
            "run": self.number,
            "settings": h.label,
            "data": h.data.get("description", ""),
            "status": status,
            "iterations": h.iterations_done,
            "final train acc": fmt_acc(h.final_train_acc),
            "final test acc": fmt_acc(h.final_test_acc),
            "test > 50 % from iter": first if first is not None else "–",
            "time (s)": f"{self.seconds:.1f}",
        }


class RunLog:
    """Finished runs, oldest first, numbered 1, 2, ... for the whole session."""

    def __init__(self):
        self._lock = threading.Lock()
        self._runs = []
        self._count = 0

    def add(self, history, seconds):
        """Keep a finished run; returns its Run (with its number)."""
        with self._lock:
            self._count += 1
            run = Run(self._count, history, seconds)
            self._runs.append(run)
            return run

    def clear(self):
        """Forget every run (the numbering goes on); returns how many there were."""
        with self._lock:
            count = len(self._runs)
            self._runs.clear()
            return count

    def runs(self):
        """A copy of the runs, oldest first."""
        with self._lock:
            return list(self._runs)

    def __len__(self):
        with self._lock:
            return len(self._runs)
