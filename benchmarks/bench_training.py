"""Wall time of the seed's training protocol: a seed-faithful baseline against course_lib.

Both run, in one process and on the same data, the protocol of the seed's ReLU cell:
2,000 iterations of SGD on random mini-batches of 100 drawn with replacement, a
784-40-20-10 ReLU network with weights of std 0.01, learning rate 0.1, and every 10
iterations the accuracy on the current batch and on a 10,000-image test set.

- baseline: ``seed_baseline.py``, the seed's MultiLayerNet class and explicit loop;
- course_lib: ``course_lib.MultiLayerNet(..., seed=s)`` and ``course_lib.training.train``;
- torch (when PyTorch is installed): the same protocol written in PyTorch on the CPU,
  float32, with as many threads as course_lib uses (two: its own and the evaluation's
  worker), the same initial weights and the same batches as course_lib. It runs in a
  child process, so that its OpenMP threads and MKL do not share this process with the
  others; the child times only the protocol, after a warm-up, like the others.

Runs rotate the order of the sides from seed to seed so that a busy machine slows all
alike; each reports the median over ``--runs`` seeds. The final test accuracies (mean
over the same seeds) show that all learn alike.

Usage: python benchmarks/bench_training.py [--runs N] [--iters N] [--no-torch]
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
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


TORCH_THREADS = 2  # course_lib's: the calling thread and the evaluation's worker


def run_torch_protocol(data, iters, seed, threads=TORCH_THREADS):
    """The protocol in PyTorch (CPU, float32): (seconds, final test accuracy).

    The same network (784-40-20-10 ReLU, course_lib's initial weights for this seed), the
    same batches (course_lib's draws: ``default_rng(seed).integers``), SGD at the same
    rate, and every EVAL_INTERVAL iterations what train() records: the weight gradients'
    norms and the accuracy on the batch and on the whole test set.
    """
    import torch

    torch.set_num_threads(threads)
    (x_train, d_train), (x_test, d_test) = data
    start = time.perf_counter()
    init = course_lib.MultiLayerNet(
        SIZES[0], HIDDEN, SIZES[-1], activation="relu", weight_init_std=WEIGHT_INIT_STD, seed=seed
    )
    layers = []
    for i in range(1, len(SIZES)):
        linear = torch.nn.Linear(SIZES[i - 1], SIZES[i])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(init.params[f"W{i}"].T.copy()))
            linear.bias.copy_(torch.from_numpy(init.params[f"b{i}"]))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    xs = torch.from_numpy(np.asarray(x_train, dtype=np.float32).reshape(len(x_train), -1))
    ds = torch.from_numpy(np.argmax(d_train, axis=1))
    xt = torch.from_numpy(np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1))
    dt = torch.from_numpy(np.argmax(d_test, axis=1))
    rng = np.random.default_rng(seed)
    losses, test_acc = [], []
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    for i in range(iters):
        idx = torch.from_numpy(rng.integers(0, len(xs), BATCH_SIZE))
        x_batch, d_batch = xs[idx], ds[idx]
        loss = torch.nn.functional.cross_entropy(model(x_batch), d_batch)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if (i + 1) % EVAL_INTERVAL == 0 or i + 1 == iters:
            with torch.inference_mode():
                [float(torch.linalg.vector_norm(w.grad)) for w in weights]
                (model(x_batch).argmax(1) == d_batch).float().mean().item()
                test_acc.append((model(xt).argmax(1) == dt).float().mean().item())
    return time.perf_counter() - start, test_acc[-1] if test_acc else float("nan")


def torch_version():
    """PyTorch's version when it is installed, else None (without importing it here)."""
    if importlib.util.find_spec("torch") is None:
        return None
    from importlib.metadata import version

    return version("torch")


def run_torch(data, iters, seed):
    """run_torch_protocol in a child process (see the module's docstring)."""
    del data  # the child loads the same data itself
    out = subprocess.run(
        [sys.executable, __file__, "--torch-child", f"--iters={iters}", f"--seed={seed}"],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["seconds"], result["test_acc"]


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
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.iters < 1:
        parser.error("--runs and --iters must be >= 1")

    data = load_data()
    if args.torch_child:
        run_torch_protocol(data, min(args.iters, 20), args.seed)  # warm-up
        seconds, acc = run_torch_protocol(data, args.iters, args.seed)
        print(json.dumps({"seconds": seconds, "test_acc": acc}))
        return
    torch = None if args.no_torch else torch_version()
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
    if torch:
        print(f"torch: PyTorch {torch} on the CPU, {TORCH_THREADS} threads, in a child process")

    # Warm both paths up (imports, BLAS threads, allocator) before timing anything.
    run_baseline(data, min(args.iters, 20), seed=0)
    run_course_lib(data, min(args.iters, 20), seed=0)

    runners = {"baseline": run_baseline, "course_lib": run_course_lib}
    if torch:
        runners["torch"] = run_torch
    results = {name: [] for name in runners}
    for seed in range(args.runs):
        names = list(runners)
        order = names[seed % len(names) :] + names[: seed % len(names)]
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
    print(
        f"{'':12s} {'median s':>9s} {'GFLOP/s':>9s} {'executed':>9s} {'of sgemm':>9s} "
        f"{'test acc':>9s}"
    )
    for name in results:
        executed = needed + (seed_extra if name == "baseline" else 0)
        rate = needed / medians[name] / 1e9
        print(
            f"{name:12s} {medians[name]:9.2f} {rate:9.1f} "
            f"{executed / medians[name] / 1e9:9.1f} {rate / large:9.1%} {accs[name]:9.4f}"
        )
    ratio = medians["baseline"] / medians["course_lib"]
    diff = accs["course_lib"] - accs["baseline"]
    print(f"ratio baseline / course_lib: {ratio:.2f}x")
    if torch:
        print(f"ratio torch / course_lib: {medians['torch'] / medians['course_lib']:.2f}x")
    print(
        f"mean final test accuracy: baseline {accs['baseline']:.4f}, course_lib "
        f"{accs['course_lib']:.4f}, difference {100 * diff:+.2f} points "
        f"({'within' if abs(diff) <= ACCURACY_TOLERANCE else 'NOT within'} "
        f"{100 * ACCURACY_TOLERANCE:.1f})"
    )
    print(
        f"for scale, float32 matrix products on this machine (OpenBLAS, its default threads): "
        f"2000x2000 @ 2000x2000 {large:.1f} GFLOP/s ('of sgemm' above is a run's rate "
        f"against it); {TEST_ROWS}x{SIZES[0]} @ {SIZES[0]}x{SIZES[1]} (the test set's "
        f"first layer) {test_product:.1f} GFLOP/s"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
