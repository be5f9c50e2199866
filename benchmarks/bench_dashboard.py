"""Wall time of the dashboard's default run, from pressing Run to the finished table.

The default run is the dashboard's first preset as it opens: sigmoid / 0.01, [40, 20],
2,000 iterations, evaluation every 10, on the bundled sample, with the live redraws (at
least every 200 iterations) and the final figures. Each repetition makes a fresh
dashboard with the data already loaded, runs once (nothing to overlay) and once more
(the first run overlaid live); ``train()`` alone on the same settings is the floor.

Usage: python benchmarks/bench_dashboard.py [--runs N]
"""

import argparse
import os
import statistics

os.environ.setdefault("COURSE_LIB_MNIST_SOURCE", "sample")
os.environ.setdefault("MPLBACKEND", "Agg")

from course_lib.dashboard import dashboard  # noqa: E402
from course_lib.training import run  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions (>= 1)")
    args = parser.parse_args(argv)
    first, second, alone = [], [], []
    for _ in range(args.runs):
        board = dashboard()
        data = board.runner.data.get("mnist", cancel=_never())
        board.run(wait=True)
        first.append(board.last_run_seconds)
        board.run(wait=True)
        second.append(board.last_run_seconds)
        alone.append(run(board.form.read(), data).wall_time)
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.runs} (s):")
    for name, times in (("first run", first), ("second run, overlaid", second)):
        print(
            f"  {name:22s} {statistics.median(times):5.2f}  ({' '.join(f'{t:.2f}' for t in times)})"
        )
    print(f"  {'train() alone':22s} {statistics.median(alone):5.2f}")


def _never():
    import threading

    return threading.Event()


if __name__ == "__main__":
    main()
