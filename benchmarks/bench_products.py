"""Each matrix product of the seed's protocol with one and two BLAS threads, and split.

For every product shape that a run of train() executes (the training step's forward and
backward products on a 100-image batch, the evaluation's products on the test set), the
time with one BLAS thread, with two, and split in two halves of rows computed at once
by two Python threads with one BLAS thread each. The variants of one shape alternate
within each round, so that a busy machine slows them alike; the table shows the
minimum (what the machine can do) and the median (what a run meets) over the rounds.

This is the measurement behind the choices in ``course_lib/evaluation.py``. After a
two-thread call OpenBLAS's idle thread keeps spinning on the other core for a while
(about 0.1 s): the script waits SPIN_SECONDS before the next variant.

Usage: python benchmarks/bench_products.py [--rounds N] [--hidden 40,20] [--test-rows N]
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

BATCH = 100
SPIN_SECONDS = 0.3


def shapes(sizes, test_rows):
    """(name, A's shape, B's shape, transpose A) of each product one run executes."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    out = []
    for i, (n_in, n_out) in enumerate(pairs, start=1):
        out.append((f"train fwd  x{i} @ W{i}", (BATCH, n_in), (n_in, n_out), False))
    for i, (n_in, n_out) in enumerate(pairs, start=1):
        out.append((f"train dW{i}  x{i}.T @ dout", (BATCH, n_in), (BATCH, n_out), True))
        if i > 1:
            out.append((f"train dx{i}  dout @ W{i}.T", (BATCH, n_out), (n_in, n_out), "T"))
    for i, (n_in, n_out) in enumerate(pairs, start=1):
        out.append((f"test  fwd  x{i} @ W{i}", (test_rows, n_in), (n_in, n_out), False))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--hidden", default="40,20", help="hidden sizes, e.g. 40,20")
    parser.add_argument("--test-rows", type=int, default=10_000)
    args = parser.parse_args(argv)
    sizes = [784, *(int(v) for v in args.hidden.split(",")), 10]
    rng = np.random.default_rng(0)
    pool = ThreadPoolExecutor(max_workers=1)
    print(f"sizes {sizes}, test set {args.test_rows} rows, load average {os.getloadavg()[0]:.2f}")
    print(
        f"{'product':28s} {'shape':>22s} | {'1 thread':>17s} | {'2 threads':>17s} | "
        f"{'split, 2 x 1':>17s}   (microseconds: min / median)"
    )
    for name, a_shape, b_shape, transpose in shapes(sizes, args.test_rows):
        a = rng.random(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        if transpose is True:
            a = a.T
        elif transpose == "T":
            b = b.T
        half = a.shape[0] // 2

        # No out= argument: as in the layers (and matmul with out= may not run two at once).
        def whole(a=a, b=b):
            return a @ b

        def split(a=a, b=b, half=half):
            second = pool.submit(np.matmul, a[half:], b)
            first = a[:half] @ b
            return first, second.result()

        variants = {"1": (1, whole), "2": (2, whole), "split": (1, split)}
        # Many repeats per round for the microsecond products, a few for the large ones.
        repeats = max(1, int(2e6 // (2 * a.shape[0] * a.shape[1] * b.shape[1]) + 1))
        repeats = min(repeats, 200)
        times = {k: [] for k in variants}
        for _ in range(args.rounds):
            for key, (threads, fn) in variants.items():
                with threadpool_limits(threads, user_api="blas"):
                    fn()
                    start = time.perf_counter()
                    for _ in range(repeats):
                        fn()
                    times[key].append((time.perf_counter() - start) / repeats)
                if threads > 1:
                    # OpenBLAS's idle threads spin for a while after a call: let them
                    # sleep, or they take the core the next variant's second thread needs.
                    time.sleep(SPIN_SECONDS)
        cells = [f"{min(v) * 1e6:8.1f} /{statistics.median(v) * 1e6:8.1f}" for v in times.values()]
        shape = f"{a.shape[0]}x{a.shape[1]} @ {b.shape[0]}x{b.shape[1]}"
        print(f"{name:28s} {shape:>22s} | " + " | ".join(cells))
    pool.shutdown()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
