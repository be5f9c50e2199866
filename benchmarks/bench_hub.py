"""How many students can one machine take? N students run notebook 01 at once in a real hub.

Starts a real JupyterHub the way tests/test_hub.py does (deploy/jupyterhub_config.py with
test logins on top, 127.0.0.1 only, offline on the bundled MNIST sample, one BLAS thread
per student as the deploy config sets, or --blas-threads). For each N it starts N
students' servers, opens a kernel for each through the proxy, then runs notebook 01's
code cells in all N kernels at the same moment (everybody presses "Run All") while
sampling, every 0.25 s, the memory of each student's processes (single-user server +
kernel, from /proc via psutil).

Notebook 01 trains on the 10,000-digit sample; a class uses full MNIST. So afterwards each
kernel replaces the notebook's data by full-size data (Fashion-MNIST from Debian's
dataset-fashion-mnist: the same 60,000 + 10,000 images of 28x28 as MNIST) and trains 200
iterations with the seed's evaluation on the 10,000-image test set: that peak is the
memory a student needs in class.

    python benchmarks/bench_hub.py [--students 1,2,4,8] [--target 60] [--blas-threads 1]

Needs what the hub test needs: jupyterhub, psutil, configurable-http-proxy on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hub_support import (  # noqa: E402
    NOTEBOOKS,
    Hub,
    missing_requirements,
    run_notebooks_together,
)

NOTEBOOK = "01_sigmoid_vs_relu.ipynb"
FULL_SIZE_DIR = Path("/usr/share/datasets/fashion-mnist")
MB = 1024 * 1024

# Runs in each kernel after the notebook: full-size data in place of the sample.
FULL_SIZE_PROBE = f"""\
import numpy as _np
from course_lib.data.mnist import load_mnist as _load
from course_lib.multi_layer_net import MultiLayerNet as _Net

(x_train, d_train), (x_test, d_test) = _load(
    normalize=True, one_hot_label=True, dataset="fashion", source="local",
    data_dir={str(FULL_SIZE_DIR)!r},
)
_net = _Net(784, [40, 20], 10, activation="relu", weight_init_std=0.01)
_rng = _np.random.default_rng(0)
for _i in range(200):
    _mask = _rng.choice(len(x_train), 100)
    _grad = _net.gradient(x_train[_mask], d_train[_mask])
    for _key in _grad:
        _net.params[_key] -= 0.1 * _grad[_key]
    if (_i + 1) % 10 == 0:
        _net.accuracy(x_test, d_test)
print(x_train.shape, x_test.shape)
"""


class MemorySampler(threading.Thread):
    """Samples RSS and PSS (bytes) summed over each student's processes, with times."""

    def __init__(self, hub: Hub, users, interval: float = 0.25):
        super().__init__(daemon=True)
        self.hub, self.users, self.interval = hub, list(users), interval
        self.samples = {user: [] for user in self.users}  # (t, rss, pss)
        self._stop_event = threading.Event()
        self._procs = {}

    def _refresh(self) -> None:
        for user in self.users:
            self._procs[user] = self.hub.processes(user)

    def run(self) -> None:
        import psutil

        last_refresh = 0.0
        while not self._stop_event.is_set():
            now = time.monotonic()
            if now - last_refresh > 2.0:  # kernels come and go: look for new ones
                self._refresh()
                last_refresh = now
            for user in self.users:
                rss = pss = 0
                for proc in self._procs.get(user, []):
                    try:
                        info = proc.memory_full_info()
                    except psutil.Error:
                        continue
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
                self.samples[user].append((now, rss, pss))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        """End sampling and wait for the thread."""
        self._stop_event.set()
        self.join()

    def peak(self, user: str, start: float, end: float) -> tuple[int, int]:
        """Highest RSS and PSS of the student between two monotonic times."""
        inside = [(rss, pss) for t, rss, pss in self.samples[user] if start <= t <= end]
        if not inside:
            return 0, 0
        return max(r for r, _ in inside), max(p for _, p in inside)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", default="1,2,4,8", help="comma-separated N values")
    parser.add_argument(
        "--target",
        type=float,
        default=60.0,
        help="acceptable seconds for notebook 01 when everybody runs it at once",
    )
    parser.add_argument(
        "--blas-threads", default="1", help="OPENBLAS/OMP/MKL_NUM_THREADS per student"
    )
    args = parser.parse_args()
    reasons = missing_requirements()
    if reasons:
        print("cannot run: " + "; ".join(reasons), file=sys.stderr)
        return 2
    counts = [int(n) for n in args.students.split(",")]
    full_size = FULL_SIZE_DIR.is_dir()
    cores = os.cpu_count() or 1
    # Offline on the sample, like the test; the thread settings override the deploy file's.
    env = {"COURSE_LIB_MNIST_SOURCE": "sample"}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = args.blas_threads
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as work:
        users = [f"student{i + 1}" for i in range(max(counts))]
        with Hub(Path(work) / "hub", students=users, spawner_environment=env) as hub:
            hub.add_users(users)
            for user in users:
                course = hub.home(user) / "course"
                course.mkdir(parents=True, exist_ok=True)
                (course / NOTEBOOK).write_bytes((NOTEBOOKS / NOTEBOOK).read_bytes())
            paths = {user: f"course/{NOTEBOOK}" for user in users}
            for n in counts:
                rows.append(_measure(hub, users[:n], paths, full_size))
                row = rows[-1]
                print(
                    f"  N={n}: median {row['median']:.1f} s, max {row['max']:.1f} s, "
                    f"load before {row['load']:.1f}",
                    flush=True,
                )
            hub_rss = sum(_rss(p) for p in hub.processes() if _is_hub_side(p))
    _report(rows, cores, args.target, full_size, hub_rss, args.blas_threads)
    return 0


def _rss(proc) -> int:
    try:
        return proc.memory_info().rss
    except Exception:
        return 0


def _is_hub_side(proc) -> bool:
    try:
        return "JUPYTERHUB_USER" not in proc.environ()
    except Exception:
        return False


def _measure(hub: Hub, users, paths, full_size) -> dict:
    load = os.getloadavg()[0]
    server_seconds = hub.start_servers(users, timeout=300)
    sampler = MemorySampler(hub, users)
    sampler.start()
    round_start = time.monotonic()
    after = [FULL_SIZE_PROBE] if full_size else []
    try:
        results = asyncio.run(
            run_notebooks_together(hub, {u: paths[u] for u in users}, after=after, cell_timeout=900)
        )
    finally:
        sampler.stop()
        hub.stop_servers(users)
    for result in results.values():
        if result.run.error:
            raise RuntimeError(result.run.describe_error())
        for cell in result.after:
            if cell.error:
                raise RuntimeError(f"{result.user}: full-size probe failed: {cell.error}")
    runs = [results[u].run for u in users]
    times = [run.seconds for run in runs]
    wall = max(run.finished for run in runs) - min(run.started for run in runs)
    nb_peaks = [sampler.peak(u, round_start, results[u].run.finished) for u in users]
    full_peaks = [
        sampler.peak(u, cell.started, cell.started + cell.seconds)
        for u in users
        for cell in results[u].after
    ] or [(0, 0)]
    return {
        "n": len(users),
        "load": load,
        "server_start": max(server_seconds.values()),
        "kernel_start": max(results[u].kernel_start for u in users),
        "median": statistics.median(times),
        "max": max(times),
        "wall": wall,
        "per_min": len(users) / wall * 60,
        "rss": max(r for r, _ in nb_peaks) / MB,
        "pss": max(p for _, p in nb_peaks) / MB,
        "full_rss": max(r for r, _ in full_peaks) / MB,
        "full_pss": max(p for _, p in full_peaks) / MB,
    }


def _report(rows, cores, target, full_size, hub_rss, blas_threads) -> None:
    print()
    print(
        f"notebook {NOTEBOOK}, {cores} cores, BLAS threads per student: {blas_threads}; "
        "times are the notebook's cells (kernel already running); memory is the peak of one "
        "student's server + kernel (the largest over the N students)"
    )
    header = (
        "| N | notebook median s | max s | notebooks/min | peak RSS MB (sample) "
        "| peak RSS MB (full size) | peak PSS MB (full size) | server start s | kernel start s "
        "| load before |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        full_rss = f"{r['full_rss']:.0f}" if full_size else "n/a"
        full_pss = f"{r['full_pss']:.0f}" if full_size else "n/a"
        print(
            f"| {r['n']} | {r['median']:.1f} | {r['max']:.1f} | {r['per_min']:.1f} "
            f"| {r['rss']:.0f} | {full_rss} | {full_pss} | {r['server_start']:.1f} "
            f"| {r['kernel_start']:.1f} | {r['load']:.1f} |"
        )
    alone = rows[0]["median"] if rows[0]["n"] == 1 else None
    busiest = max(rows, key=lambda r: r["n"])
    throughput = busiest["per_min"] / 60  # notebooks per second, the machine saturated
    # Everybody presses Run All at once: S students finish after about S / throughput s.
    per_core = target * throughput / cores
    print()
    print("Sizing rule (all students run notebook 01 at the same moment):")
    if alone:
        print(f"  one student alone: {alone:.1f} s per notebook")
    print(
        f"  saturated machine: {busiest['per_min']:.1f} notebooks/min on {cores} cores "
        f"= {busiest['per_min'] / cores:.1f} per core per minute"
    )
    if per_core >= 1:
        print(
            f"  for at most {target:.0f} s per notebook: {math.floor(per_core)} students per "
            f"core ({math.floor(per_core) * cores} on this machine)"
        )
    else:
        print(f"  for at most {target:.0f} s per notebook: fewer than one student per core")
    peak = max(r["full_rss"] if full_size else r["rss"] for r in rows)
    limit = math.ceil(peak * 1.5 / 256) * 256
    print(
        f"  memory: peak {peak:.0f} MB per student (server + kernel, RSS"
        f"{', full-size data' if full_size else ', sample data only'}); "
        f"mem_limit {limit} MB leaves room for a second kernel's imports"
    )
    print(f"  hub + proxy: {hub_rss / MB:.0f} MB resident")


if __name__ == "__main__":
    sys.exit(main())
