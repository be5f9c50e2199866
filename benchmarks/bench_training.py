"""Time of the seed's training protocol: the seed's own code, course_lib and PyTorch.

All three run, in one session and on the same data, the protocol of the seed's ReLU
cell: 2,000 iterations of SGD on random mini-batches of 100 drawn with replacement, a
784-40-20-10 ReLU network with weights of std 0.01, learning rate 0.1, and every 10
iterations the accuracy on the current batch and on a 10,000-image test set (the
bundled sample's 2,000 test images, five times over).

- seed: the seed's MultiLayerNet class and training loop, ``tests/seed/exercise.py``
  (the copy the seed-contract test runs), on layers in the textbook's style
  (``textbook_layers.py``), as the seed runs on the textbook's: float64 weights from
  ``np.random.randn`` times float32 images, and the loop's second loss pass after every
  update; the same yardstick whichever course_lib is benchmarked;
- course_lib: ``MultiLayerNet(..., seed=s)`` and ``train(..., seed=s)``;
- torch (when PyTorch is importable): the same protocol in PyTorch on the CPU, float32,
  course_lib's initial weights and batches, in a child process of its own.

Each side runs ``--runs`` times (seeds 0, 1, ...), the order of the sides rotating from
seed to seed so that a busy machine slows all alike; the table shows the median wall
time and CPU time of each side and the ratios of the medians.

Run from the repository's root:
    python -m benchmarks.bench_training              # all cores (default thread counts)
    python -m benchmarks.bench_training --one-core   # re-runs itself as
        OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 python -m ...
    python -m benchmarks.bench_training --course-lib /path/to/other/checkout
        # benchmarks the course_lib of another checkout (such as the session's base)
Options: --runs N (default 3), --iters N (default 2000), --no-torch.
"""

import argparse
import contextlib
import importlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HIDDEN = [40, 20]
BATCH_SIZE = 100
LEARNING_RATE = 0.1
EVAL_INTERVAL = 10
WEIGHT_INIT_STD = 0.01
TEST_ROWS = 10_000
ONE_CORE_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def load_data():
    """The bundled MNIST sample, one-hot as in the seed, test set tiled to 10,000 rows."""
    from course_lib.data.mnist import load_mnist

    (x_train, d_train), (x_test, d_test) = load_mnist(
        normalize=True, one_hot_label=True, source="sample"
    )
    reps = -(-TEST_ROWS // len(x_test))  # ceiling division
    x_test = np.concatenate([x_test] * reps)[:TEST_ROWS]
    d_test = np.concatenate([d_test] * reps)[:TEST_ROWS]
    return (x_train, d_train), (x_test, d_test)


def run_seed(data, iters, seed):
    """The seed's class and loop: (wall s, CPU s, final test accuracy)."""
    from benchmarks import textbook_layers
    from tests.seed import exercise
    from tests.seed.exercise import MultiLayerNet, seed_training_loop

    exercise.layers = textbook_layers  # the seed's own import is the textbook's layers

    (x_train, d_train), (x_test, d_test) = data
    np.random.seed(seed)  # the seed draws weights and batches from the global state
    wall, cpu = time.perf_counter(), time.process_time()
    network = MultiLayerNet(
        input_size=784,
        hidden_size_list=HIDDEN,
        output_size=10,
        activation="relu",
        weight_init_std=WEIGHT_INIT_STD,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # its progress lines, not timed apart
        _, _, accuracies_test = seed_training_loop(
            network, x_train, d_train, x_test, d_test, iters_num=iters
        )
    return time.perf_counter() - wall, time.process_time() - cpu, float(accuracies_test[-1])


def run_course_lib(data, iters, seed):
    """course_lib's network and train(): (wall s, CPU s, final test accuracy)."""
    from course_lib import MultiLayerNet
    from course_lib.training import train

    wall, cpu = time.perf_counter(), time.process_time()
    network = MultiLayerNet(
        784, HIDDEN, 10, activation="relu", weight_init_std=WEIGHT_INIT_STD, seed=seed
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
    return time.perf_counter() - wall, time.process_time() - cpu, history.final_test_acc


def run_torch_protocol(data, iters, seed, threads):
    """The protocol in PyTorch (CPU, float32): (wall s, CPU s, final test accuracy).

    The same network and initial weights as course_lib for this seed, the same batches
    (``default_rng(seed).choice``), SGD at the same rate, and every EVAL_INTERVAL
    iterations what train() records: the weight gradients' norms and the accuracy on
    the batch and on the whole test set.
    """
    import torch

    from course_lib import MultiLayerNet

    torch.set_num_threads(threads)
    (x_train, d_train), (x_test, d_test) = data
    wall, cpu = time.perf_counter(), time.process_time()
    init = MultiLayerNet(784, HIDDEN, 10, weight_init_std=WEIGHT_INIT_STD, seed=seed)
    sizes = [784, *HIDDEN, 10]
    modules = []
    for i in range(1, len(sizes)):
        linear = torch.nn.Linear(sizes[i - 1], sizes[i])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(init.params[f"W{i}"].T.copy()))
            linear.bias.copy_(torch.from_numpy(init.params[f"b{i}"]))
        modules += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*modules[:-1])
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    xs = torch.from_numpy(np.asarray(x_train, dtype=np.float32).reshape(len(x_train), -1))
    ds = torch.from_numpy(np.argmax(d_train, axis=1))
    xt = torch.from_numpy(np.asarray(x_test, dtype=np.float32).reshape(len(x_test), -1))
    dt = torch.from_numpy(np.argmax(d_test, axis=1))
    rng = np.random.default_rng(seed)
    test_acc = float("nan")
    for i in range(iters):
        idx = torch.from_numpy(rng.choice(len(xs), BATCH_SIZE))
        x_batch, d_batch = xs[idx], ds[idx]
        loss = torch.nn.functional.cross_entropy(model(x_batch), d_batch)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()
        loss.item()
        if (i + 1) % EVAL_INTERVAL == 0 or i + 1 == iters:
            with torch.inference_mode():
                [float(torch.linalg.vector_norm(w.grad)) for w in weights]
                (model(x_batch).argmax(1) == d_batch).float().mean().item()
                test_acc = (model(xt).argmax(1) == dt).float().mean().item()
    return time.perf_counter() - wall, time.process_time() - cpu, test_acc


def run_torch(args, seed):
    """run_torch_protocol in a child process, so its threads do not share this one."""
    command = [sys.executable, "-m", "benchmarks.bench_training", "--torch-child"]
    command += [f"--iters={args.iters}", f"--seed={seed}", f"--threads={args.threads}"]
    if args.course_lib:
        command.append(f"--course-lib={args.course_lib}")
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def torch_version():
    """PyTorch's version if it can be imported here, else None."""
    try:
        from importlib.metadata import version

        importlib.import_module("torch")
        return version("torch")
    except ImportError:
        return None


def blas_description():
    from threadpoolctl import threadpool_info

    libs = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    return ", ".join(
        f"{lib['internal_api']} {lib['version']} ({lib.get('architecture')}, "
        f"{lib['num_threads']} threads)"
        for lib in libs
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (seeds) per side, >= 1")
    parser.add_argument("--iters", type=int, default=2000, help="iterations per run")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument(
        "--one-core", action="store_true", help="run on core 0 with one thread everywhere"
    )
    parser.add_argument(
        "--course-lib", default=None, help="a folder holding the course_lib to benchmark"
    )
    parser.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.iters < 1:
        parser.error("--runs and --iters must be >= 1")
    if args.threads is None:
        args.threads = 1 if args.one_core else os.cpu_count()
    return args


def reexec_on_one_core(argv):
    """Run this benchmark again under taskset on core 0, one thread for every library."""
    if os.environ.get("COURSE_LIB_BENCH_ONE_CORE") == "1":
        return
    if shutil.which("taskset") is None:
        sys.exit("--one-core needs taskset (util-linux)")
    env = dict(os.environ, COURSE_LIB_BENCH_ONE_CORE="1", **ONE_CORE_ENV)
    command = ["taskset", "-c", "0", sys.executable, "-m", "benchmarks.bench_training", *argv]
    sys.exit(subprocess.run(command, env=env).returncode)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.one_core:
        reexec_on_one_core(argv)
    if args.course_lib:
        sys.path.insert(0, os.path.abspath(args.course_lib))
    import course_lib

    data = load_data()
    if args.torch_child:
        run_torch_protocol(data, min(args.iters, 20), args.seed, args.threads)  # warm-up
        print(json.dumps(run_torch_protocol(data, args.iters, args.seed, args.threads)))
        return
    torch = None if args.no_torch else torch_version()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, affinity "
        f"{sorted(os.sched_getaffinity(0))}, NumPy {np.__version__} ({blas_description()}), "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"course_lib: {os.path.dirname(course_lib.__file__)}")
    print(
        f"protocol: {args.iters} iterations, batch {BATCH_SIZE}, {HIDDEN} ReLU, std "
        f"{WEIGHT_INIT_STD}, lr {LEARNING_RATE}, evaluation every {EVAL_INTERVAL} on "
        f"{TEST_ROWS} test images, {args.runs} runs (seeds 0..{args.runs - 1})"
    )
    print(f"torch: {f'PyTorch {torch}, {args.threads} threads' if torch else 'not importable'}")

    runners = {
        "seed": lambda seed: run_seed(data, args.iters, seed),
        "course_lib": lambda seed: run_course_lib(data, args.iters, seed),
    }
    if torch:
        runners["torch"] = lambda seed: run_torch(args, seed)
    run_seed(data, min(args.iters, 20), 0)  # warm-up: imports, BLAS threads, pages
    run_course_lib(data, min(args.iters, 20), 0)
    results = {name: [] for name in runners}
    for seed in range(args.runs):
        names = list(runners)
        for name in names[seed % len(names) :] + names[: seed % len(names)]:
            results[name].append(runners[name](seed))
            wall, cpu, acc = results[name][-1]
            print(f"  run {seed}: {name:10s} {wall:6.2f} s ({cpu:6.2f} s CPU), test {acc:.4f}")
    report(results)


def report(results):
    median = {
        name: [statistics.median(r[k] for r in runs) for k in range(3)]
        for name, runs in results.items()
    }
    print(f"\n{'':12s} {'wall s':>7s} {'CPU s':>7s} {'test acc':>9s}  (medians)")
    for name, (wall, cpu, acc) in median.items():
        print(f"{name:12s} {wall:7.2f} {cpu:7.2f} {acc:9.4f}")
    ours = median["course_lib"]
    for other in [name for name in median if name != "course_lib"]:
        print(
            f"{other} / course_lib: {median[other][0] / ours[0]:.2f}x wall, "
            f"{median[other][1] / ours[1]:.2f}x CPU"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
