"""The uint8 array cache: one ``.npz`` per dataset, never a pickle.

Decompressing and verifying 55 MB of IDX on every ``load_mnist()`` call would take most
of a second; the cache makes a repeat load a plain read. It stores the raw uint8 arrays
(normalising and one-hot encoding happen on the fly) plus a BLAKE2b digest of them, so
a truncated or damaged file is noticed and rebuilt instead of feeding bad data to a
lesson (BLAKE2b rather than SHA-256 because it is twice as fast here, and a repeat
load should stay a small fraction of a second). It is written through a part file and
a rename (see ``_parts``), so a crash never leaves half a cache behind.
"""

from __future__ import annotations

import hashlib
import zipfile
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


def digest(arrays: Arrays) -> str:
    """BLAKE2b over the shapes, dtypes and bytes of the four arrays."""
    h = hashlib.blake2b()
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def read(path: Path) -> tuple[Arrays | None, str | None]:
    """Return ``(arrays, None)`` from a valid cache, else ``(None, why it was rejected)``.

    A missing file gives ``(None, None)``: nothing to complain about.
    """
    if not path.exists():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = Arrays(*(npz[key] for key in Arrays._fields))
            stored = str(npz["blake2b"])
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        return None, f"unreadable ({type(exc).__name__}: {exc})"
    if digest(arrays) != stored:
        return None, "its contents do not match the digest stored in it"
    return arrays, None


def write(path: Path, arrays: Arrays) -> None:
    """Write the cache atomically: a part file in the same folder, then a rename."""
    with PartFile(path) as part:
        np.savez(part.file, blake2b=np.array(digest(arrays)), **arrays._asdict())
        part.commit()
