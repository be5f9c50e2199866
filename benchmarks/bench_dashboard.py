"""Time of the dashboard's default run, from pressing Run to the finished table.

The default run is the dashboard's first preset as it opens: sigmoid / 0.01, [40, 20],
2,000 iterations, evaluation every 10, on the bundled sample, with the live redraws (at
least every 200 iterations) and the final figures. Each repetition makes a fresh
dashboard with the data already loaded, runs once (nothing to overlay) and once more
(the first run overlaid); ``train()`` alone on the same settings is the floor. Run and
``train()`` happen on the calling thread, so CPU time (``time.process_time``) is what a
run costs; pin to one core for steady figures:

    OPENBLAS_NUM_THREADS=1 taskset -c 0 python benchmarks/bench_dashboard.py [--runs N]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("COURSE_LIB_MNIST_SOURCE", "sample")
os.environ.setdefault("MPLBACKEND", "Agg")

from course_lib.dashboard import dashboard  # noqa: E402
from course_lib.data.mnist import load_mnist  # noqa: E402
from course_lib.training import run  # noqa: E402


def _seconds(action):
    """(CPU seconds, wall seconds) that ``action()`` took."""
    cpu, wall = time.process_time(), time.perf_counter()
    action()
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions (>= 1)")
    args = parser.parse_args(argv)
    data = load_mnist(normalize=True, one_hot_label=True)
    times = {"first run": [], "second run, overlaid": [], "train() alone": []}
    for _ in range(args.runs):
        board = dashboard(loader=lambda dataset: data)
        times["first run"].append(_seconds(board.run_button.click))
        times["second run, overlaid"].append(_seconds(board.run_button.click))
        config = board.form.read()
        times["train() alone"].append(_seconds(lambda: run(config, data)))  # noqa: B023
    floor = statistics.median(cpu for cpu, _ in times["train() alone"])
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.runs} (s):")
    for name, pairs in times.items():
        cpu = statistics.median(c for c, _ in pairs)
        wall = statistics.median(w for _, w in pairs)
        print(f"  {name:22s} CPU {cpu:5.2f} ({cpu / floor:4.2f}x train()), wall {wall:5.2f}")


if __name__ == "__main__":
    main()
