"""Read the four IDX files of a dataset from a folder, and tell whether they are official."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from . import _catalog
from ._cache import Arrays
from ._catalog import Digest, Size
from ._idx import load_blob, parse_idx


def find_files(folder: Path) -> tuple[list[Path], list[str]]:
    """Paths of the four IDX files in ``folder`` (``.gz`` or plain), and the names missing."""
    found, missing = [], []
    for name in _catalog.FILES:
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            missing.append(f"{name}.gz")
    return found, missing


@functools.cache
def sample_digests(folder: Path) -> dict[str, Digest]:
    """The bundled sample's SHA-256 values, read from PROVENANCE (their one true home)."""
    text = (folder / "PROVENANCE").read_text(encoding="utf-8")
    by_name = {name: sha for sha, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", text, flags=re.M)}
    return {name: Digest(by_name[f"{name}.gz"], by_name[name]) for name in _catalog.FILES}


def read_folder(
    folder: Path,
    digests: dict[str, Digest] | None,
    sizes: dict[str, Size] | None = None,
) -> tuple[Arrays, bool]:
    """Parse the four IDX files in ``folder``; return the arrays and whether all are official.

    ``digests=None`` skips the comparison. With ``sizes``, a file larger than its official
    size is rejected as soon as that shows, without decompressing the rest. Raises
    FileNotFoundError for missing files and ValueError for corrupt ones.
    """
    paths, missing = find_files(folder)
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)}")
    arrays, all_official = [], True
    for path, name in zip(paths, _catalog.FILES, strict=True):
        blob = load_blob(path, max_idx=None if sizes is None else sizes[name].idx)
        if digests is not None and not digests[name].matches(blob.file_sha256, blob.idx_sha256):
            all_official = False
        arrays.append(parse_idx(blob.idx, str(path), ndim=3 if "images" in name else 1))
    for images, labels, part in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "test")):
        if len(images) != len(labels):
            raise ValueError(
                f"{folder}: the {part} set has {len(images)} images but {len(labels)} labels"
            )
    return Arrays(*arrays), all_official
