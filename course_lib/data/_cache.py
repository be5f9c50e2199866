"""The uint8 array cache: one ``.npz`` per dataset, never a pickle.

Decompressing and verifying 55 MB of IDX on every ``load_mnist()`` call would take most
of a second; the cache makes a repeat load a plain read. It stores the raw uint8 arrays
(normalising and one-hot encoding happen on the fly) plus a BLAKE2b digest of them, so
a truncated or damaged file is noticed and rebuilt instead of feeding bad data to a
lesson (BLAKE2b rather than SHA-256 because it is twice as fast here, and a repeat
load should stay a small fraction of a second).

A digest only proves that a file is what it says it is, not that it is what we want: a
Fashion-MNIST cache renamed to ``mnist.npz`` is perfectly self-consistent. So the cache
also records which dataset it holds and the official SHA-256 of the four IDX files it was
built from, and ``read`` checks those, the dtypes and the shapes against what the caller
expects. It is written through a part file and a rename (see ``_parts``), so a crash
never leaves half a cache behind.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._parts import PartFile


class Arrays(NamedTuple):
    """The four uint8 arrays of a dataset, images as ``(N, rows, cols)``."""

    x_train: np.ndarray
    d_train: np.ndarray
    x_test: np.ndarray
    d_test: np.ndarray


class Expected(NamedTuple):
    """What a cache must hold: the dataset, its source IDX digests, the array shapes."""

    dataset: str
    sources: tuple[str, ...]  # official SHA-256 of the four decompressed IDX files
    shapes: tuple[tuple[int, ...], ...]


def digest(arrays: Arrays) -> str:
    """BLAKE2b over the shapes, dtypes and bytes of the four arrays."""
    h = hashlib.blake2b()
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def read(path: Path, expected: Expected) -> tuple[Arrays | None, str | None]:
    """Return ``(arrays, None)`` from a valid cache, else ``(None, why it was rejected)``.

    A missing file, or one written before caches recorded their dataset, gives
    ``(None, None)``: nothing to complain about, it is simply (re)built.
    """
    if not path.exists():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "dataset" not in npz.files:
                return None, None
            arrays = Arrays(*(npz[key] for key in Arrays._fields))
            stored = str(npz["blake2b"])
            dataset = str(npz["dataset"])
            sources = tuple(str(s) for s in npz["sources"])
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        return None, f"unreadable ({type(exc).__name__}: {exc})"
    if dataset != expected.dataset:
        return None, f"a cache of {dataset!r}, not of {expected.dataset!r}"
    if sources != expected.sources:
        return None, "built from other files than the official release"
    for field, array, shape in zip(Arrays._fields, arrays, expected.shapes, strict=True):
        if array.dtype != np.uint8 or array.shape != shape:
            return None, f"wrong: {field} is {array.dtype} {array.shape}, not uint8 {shape}"
    if digest(arrays) != stored:
        return None, "damaged: its contents do not match the digest stored in it"
    return arrays, None


def write(path: Path, arrays: Arrays, *, dataset: str, sources: Sequence[str]) -> None:
    """Write the cache atomically, recording the dataset and its source IDX digests."""
    with PartFile(path) as part:
        np.savez(
            part.file,
            blake2b=np.array(digest(arrays)),
            dataset=np.array(dataset),
            sources=np.array(list(sources)),
            **arrays._asdict(),
        )
        part.commit()
