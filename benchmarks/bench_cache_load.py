"""CPU time of load_mnist() from the cache, in a fresh process, as a notebook's first cell sees it.

Fashion-MNIST from Debian's dataset-fashion-mnist package (the size and format of MNIST,
available without the internet): the first load reads Debian's files and writes the .npz
cache, every later one reads the cache. The baseline in the same run is the floor: the
same .npz read with a bare ``np.load`` and normalised, with no checks at all. With
``--against SRC`` an older source tree (say, a ``git worktree`` of an earlier commit) is
measured too, interleaved with this one, each in its own cache folder:

    taskset -c 0 env OPENBLAS_NUM_THREADS=1 python benchmarks/bench_cache_load.py --against ../old
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEBIAN = Path("/usr/share/datasets/fashion-mnist")

# Runs in the child, a fresh process: with course_lib from ``src``, one load from ``cache``
# ("load"), or the floor ("floor"); prints its CPU seconds.
CHILD = """
import sys, time
from pathlib import Path
src, cache, what = sys.argv[1:]
sys.path.insert(0, src)
import numpy as np
import platformdirs
from course_lib.common.functions import one_hot
from course_lib.data import mnist
mnist.CHECKOUT_DATA_DIR = Path(cache) / "no-checkout"  # never the checkout's data/ folder
platformdirs.user_cache_dir = lambda *args, **kwargs: cache
start = time.process_time()
if what == "load":
    data = mnist.load_mnist(normalize=True, one_hot_label=True, dataset="fashion", source="local")
else:
    with np.load(Path(cache) / "fashion.npz") as npz:
        images = [npz["x_train"], npz["x_test"]]
        labels = [npz["d_train"], npz["d_test"]]
    data = [np.divide(x.reshape(len(x), -1), np.float32(255), dtype=np.float32) for x in images]
    data += [one_hot(d) for d in labels]
print(time.process_time() - start)
"""


def _cpu_seconds(src: Path, cache: Path, what: str = "load") -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(src), str(cache), what],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.splitlines()[-1])


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f}, min {min(values):.3f} of {len(values)}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="loads from the cache per tree")
    parser.add_argument("--against", type=Path, help="an older source tree to compare with")
    args = parser.parse_args(argv)
    if not DEBIAN.is_dir():
        print(f"skipped: {DEBIAN} is missing (apt-get install dataset-fashion-mnist)")
        return 0
    trees = {"this tree": ROOT} | ({"--against": args.against.resolve()} if args.against else {})
    times = {name: [] for name in [*trees, "floor"]}
    with tempfile.TemporaryDirectory() as tmp:
        caches = {name: Path(tmp) / str(i) for i, name in enumerate(trees)}
        print("load_mnist(normalize=True, one_hot_label=True, dataset='fashion'), CPU seconds")
        for name, src in trees.items():
            first = _cpu_seconds(src, caches[name])
            print(f"  {name:10s} first load (Debian's files -> .npz cache): {first:.3f}")
        for _ in range(args.repeats):  # interleaved, so a busy machine slows all alike
            for name, src in trees.items():
                times[name].append(_cpu_seconds(src, caches[name]))
            times["floor"].append(_cpu_seconds(ROOT, caches["this tree"], "floor"))
    # The median, and the minimum: noise from other processes only ever adds time.
    floor = times.pop("floor")
    print(f"  floor (a bare np.load of the same .npz, normalised): {_summary(floor)}")
    for name, values in times.items():
        ratio = min(values) / min(floor)
        print(f"  {name:10s} from the cache: {_summary(values)}; {ratio:.2f}x the floor (min)")
    if args.against:
        ratio = min(times["this tree"]) / min(times["--against"])
        print(f"  this tree / --against: {ratio:.2f} (min), ", end="")
        ratio = statistics.median(times["this tree"]) / statistics.median(times["--against"])
        print(f"{ratio:.2f} (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
