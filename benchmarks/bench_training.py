"""Wall time of the seed's training protocol: a seed-faithful baseline against course_lib.

Both run, in one process and on the same data, the protocol of the seed's ReLU cell:
2,000 iterations of SGD on random mini-batches of 100 drawn with replacement, a
784-40-20-10 ReLU network with weights of std 0.01, learning rate 0.1, and every 10
iterations the accuracy on the current batch and on a 10,000-image test set.

- baseline: ``seed_baseline.py``, the seed's MultiLayerNet class and explicit loop;
- course_lib: ``course_lib.MultiLayerNet(..., seed=s)`` and ``course_lib.training.train``.

Runs alternate between the two (baseline first on even runs, course_lib first on odd
ones) so that a busy machine slows both alike; each reports the median over ``--runs``
seeds. The final test accuracies (mean over the same seeds) show that both learn alike.

Usage: python benchmarks/bench_training.py [--runs N] [--iters N]
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# The baseline lives next to this file and is never part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed_baseline  # noqa: E402

import course_lib  # noqa: E402
from course_lib.data.mnist import load_mnist  # noqa: E402
from course_lib.training import train  # noqa: E402

SIZES = [784, 40, 20, 10]
HIDDEN = SIZES[1:-1]
BATCH_SIZE = 100
LEARNING_RATE = 0.1
EVAL_INTERVAL = 10
WEIGHT_INIT_STD = 0.01
TEST_ROWS = 10_000
ACCURACY_TOLERANCE = 0.015  # 1.5 points


def load_data():
    """The bundled MNIST sample, one-hot as in the seed, test set tiled to 10,000 rows."""
    (x_train, d_train), (x_test, d_test) = load_mnist(
        normalize=True, one_hot_label=True, source="sample"
    )
    reps = -(-TEST_ROWS // len(x_test))  # ceiling division
    x_test = np.concatenate([x_test] * reps)[:TEST_ROWS]
    d_test = np.concatenate([d_test] * reps)[:TEST_ROWS]
    return (x_train, d_train), (x_test, d_test)


def run_baseline(data, iters, seed):
    (x_train, d_train), (x_test, d_test) = data
    np.random.seed(seed)  # the seed draws weights and batches from the global state
    start = time.perf_counter()
    network = seed_baseline.MultiLayerNet(
        input_size=SIZES[0],
        hidden_size_list=HIDDEN,
        output_size=SIZES[-1],
        activation="relu",
        weight_init_std=WEIGHT_INIT_STD,
    )
    _, _, accuracies_test = seed_baseline.run_seed_loop(
        network,
        x_train,
        d_train,
        x_test,
        d_test,
        iters_num=iters,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        plot_interval=EVAL_INTERVAL,
    )
    elapsed = time.perf_counter() - start
    return elapsed, float(accuracies_test[-1]) if accuracies_test else float("nan")


def run_course_lib(data, iters, seed):
    start = time.perf_counter()
    network = course_lib.MultiLayerNet(
        input_size=SIZES[0],
        hidden_size_list=HIDDEN,
        output_size=SIZES[-1],
        activation="relu",
        weight_init_std=WEIGHT_INIT_STD,
        seed=seed,
    )
    history = train(
        network,
        data,
        iters_num=iters,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        eval_interval=EVAL_INTERVAL,
        seed=seed,
    )
    elapsed = time.perf_counter() - start
    return elapsed, history.final_test_acc


def protocol_flops(iters, test_rows):
    """FLOPs of the matrix products the protocol needs, and those the seed's loop adds.

    A product (m x k) @ (k x n) counts 2 m k n. Element-wise work (bias, activations,
    softmax) is O(rows x width), under 1 % of the products here, and is not counted.
    """
    pairs = list(zip(SIZES[:-1], SIZES[1:], strict=True))
    forward_per_row = sum(2 * n_in * n_out for n_in, n_out in pairs)
    # Backward: dW of every layer (as large as the forward), and dx of every layer but
    # the first (nothing uses the gradient of the images).
    backward_per_row = forward_per_row + sum(2 * n_in * n_out for n_in, n_out in pairs[1:])
    evals = iters // EVAL_INTERVAL
    needed = (
        iters * BATCH_SIZE * (forward_per_row + backward_per_row)
        # each evaluation: a forward pass of the current batch and of the test set
        + evals * (BATCH_SIZE + test_rows) * forward_per_row
    )
    # The seed's loop also computes dx of the first layer and a second loss (a forward
    # pass of the batch) after every update.
    seed_extra = iters * BATCH_SIZE * (2 * SIZES[0] * SIZES[1] + forward_per_row)
    return needed, seed_extra


def best_time(fn, repeats):
    fn()  # warm-up: page in the operands, start the BLAS threads
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops():
    """GFLOP/s of a large float32 product, and of the protocol's largest product shape."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 2000), dtype=np.float32)
    b = rng.standard_normal((2000, 2000), dtype=np.float32)
    large = 2 * 2000**3 / best_time(lambda: a @ b, 5) / 1e9
    x = rng.random((TEST_ROWS, SIZES[0]), dtype=np.float32)
    w = rng.standard_normal((SIZES[0], SIZES[1]), dtype=np.float32)
    test_product = 2 * TEST_ROWS * SIZES[0] * SIZES[1] / best_time(lambda: x @ w, 20) / 1e9
    return large, test_product


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (seeds) per side, >= 1")
    parser.add_argument("--iters", type=int, default=2000, help="iterations per run")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.iters < 1:
        parser.error("--runs and --iters must be >= 1")

    data = load_data()
    (x_train, _), (x_test, _) = data
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"NumPy {np.__version__}, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"data: bundled MNIST sample, {len(x_train)} train images, test set tiled to "
        f"{len(x_test)} images"
    )
    print(
        f"protocol: {args.iters} iterations, batch {BATCH_SIZE}, {HIDDEN} ReLU, "
        f"std {WEIGHT_INIT_STD}, lr {LEARNING_RATE}, evaluation every {EVAL_INTERVAL}, "
        f"{args.runs} runs (seeds 0..{args.runs - 1})"
    )

    # Warm both paths up (imports, BLAS threads, allocator) before timing anything.
    run_baseline(data, min(args.iters, 20), seed=0)
    run_course_lib(data, min(args.iters, 20), seed=0)

    results = {"baseline": [], "course_lib": []}
    runners = {"baseline": run_baseline, "course_lib": run_course_lib}
    for seed in range(args.runs):
        order = ["baseline", "course_lib"] if seed % 2 == 0 else ["course_lib", "baseline"]
        for name in order:
            elapsed, acc = runners[name](data, args.iters, seed)
            results[name].append((elapsed, acc))
            print(f"  run {seed}: {name:10s} {elapsed:7.2f} s, final test accuracy {acc:.4f}")

    needed, seed_extra = protocol_flops(args.iters, len(x_test))
    large, test_product = matmul_gflops()
    medians = {name: statistics.median(t for t, _ in runs) for name, runs in results.items()}
    accs = {name: statistics.fmean(a for _, a in runs) for name, runs in results.items()}

    print()
    print(
        f"FLOPs counted: matrix products of the forward passes, the backward passes (dW of "
        f"each layer, dx of layers 2..3) and the evaluations (batch + test set): "
        f"{needed / 1e9:.1f} GFLOP per run. The baseline also executes "
        f"{seed_extra / 1e9:.1f} GFLOP more (dx of layer 1, the second loss); its "
        f"'executed' rate includes them."
    )
    print(f"{'':12s} {'median s':>9s} {'GFLOP/s':>9s} {'executed':>9s} {'test acc':>9s}")
    for name in results:
        executed = needed + (seed_extra if name == "baseline" else 0)
        print(
            f"{name:12s} {medians[name]:9.2f} {needed / medians[name] / 1e9:9.1f} "
            f"{executed / medians[name] / 1e9:9.1f} {accs[name]:9.4f}"
        )
    ratio = medians["baseline"] / medians["course_lib"]
    diff = accs["course_lib"] - accs["baseline"]
    print(f"ratio baseline / course_lib: {ratio:.2f}x")
    print(
        f"mean final test accuracy: baseline {accs['baseline']:.4f}, course_lib "
        f"{accs['course_lib']:.4f}, difference {100 * diff:+.2f} points "
        f"({'within' if abs(diff) <= ACCURACY_TOLERANCE else 'NOT within'} "
        f"{100 * ACCURACY_TOLERANCE:.1f})"
    )
    print(
        f"for scale, float32 matrix products on this machine: 2000x2000 @ 2000x2000 "
        f"{large:.1f} GFLOP/s; {TEST_ROWS}x{SIZES[0]} @ {SIZES[0]}x{SIZES[1]} (the test "
        f"set's first layer) {test_product:.1f} GFLOP/s"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
