"""Time a first load (parse and verify IDX, write the cache) against a repeat load.

Full size: Fashion-MNIST from Debian's dataset-fashion-mnist package (same size and
format as MNIST, and available without the internet). Small: the bundled sample, which
is never cached, so both of its loads parse the IDX files.

Runs in a temporary cache folder, so it neither uses nor disturbs your real cache:

    python benchmarks/bench_cache_load.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import platformdirs

from course_lib.data import _catalog, load_mnist, mnist


def _timed(**kwargs) -> float:
    start = time.perf_counter()
    load_mnist(normalize=True, one_hot_label=True, **kwargs)
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        # Point both cache candidates into the temporary folder.
        mnist.CHECKOUT_DATA_DIR = Path(tmp) / "no-checkout"
        platformdirs.user_cache_dir = lambda *args, **kwargs: tmp
        _catalog.MIRRORS["fashion"] = []  # measure local sources only, never the network

        print("load_mnist(normalize=True, one_hot_label=True), seconds")
        debian = _catalog.SYSTEM_DIRS["fashion"][0]
        if debian.is_dir():
            first = _timed(dataset="fashion")
            second = _timed(dataset="fashion")
            third = _timed(dataset="fashion")
            print(f"  Fashion-MNIST 60k+10k  first (Debian IDX -> cache): {first:6.3f}")
            print(f"  Fashion-MNIST 60k+10k  second (cache):               {second:6.3f}")
            print(f"  Fashion-MNIST 60k+10k  third (cache):                {third:6.3f}")
        else:
            print(
                f"  Fashion-MNIST skipped: {debian} missing (apt-get install dataset-fashion-mnist)"
            )
        first = _timed(source="sample")
        second = _timed(source="sample")
        print(f"  MNIST sample 8k+2k     first:                        {first:6.3f}")
        print(f"  MNIST sample 8k+2k     second:                       {second:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
