"""Load MNIST (or Fashion-MNIST) as NumPy arrays, with the textbook's ``load_mnist`` API.

Where the data comes from, in order (``source="auto"``):

1. ``data_dir`` (or the environment variable ``COURSE_LIB_DATA``): a folder holding the
   four standard IDX files (``train-images-idx3-ubyte.gz`` ...), directly or in a
   sub-folder named after the dataset. If given, it is the only place looked at, and
   nothing is ever written into it (it may be read-only).
2. The cache: the checkout's ``data/`` folder when running from a writable checkout,
   else the user cache folder (``platformdirs.user_cache_dir("course_lib")``). It holds
   the downloaded ``.gz`` files and a uint8 ``.npz`` built from them.
3. System packages: Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``).
4. Download from a list of mirrors (HTTPS first), each file checked against its
   official SHA-256 and size while it streams in.
5. MNIST only: the bundled sample (10,000 real MNIST digits), with one calm line on
   stdout that says so and how to get full MNIST.

Every file is checked against the official SHA-256 of its ``.gz`` or of its decompressed
IDX bytes (see ``_catalog.py``); ``verify=False`` lets you load your own files.

A failed download is remembered for ``RETRY_AFTER`` seconds in a small marker file in the
cache folder (``<dataset>-download-failed.json``), so that the next notebooks of a class
behind a silent proxy go straight to step 5 instead of waiting again; ``source="download"``
always tries, and a successful download removes the marker. Part files left by a killed
download are swept on a later load (see ``_parts.py``). Details of each step (which
mirror failed and why) go to the logger ``course_lib.data`` at INFO level, and are also
printed with ``verbose=True``.

``load_mnist`` returns a ``LoadedData``: the textbook's tuple, with ``dataset``,
``source`` and ``description`` attributes that say which data was used.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import platformdirs

from course_lib.common.functions import one_hot

from . import _cache, _catalog, _marker, _messages, _parts
from ._cache import Arrays
from ._download import DownloadError, download
from ._folders import find_files, read_folder, sample_digests
from ._idx import load_blob
from ._loaded import LoadedData

DATASETS = tuple(_catalog.SHA256)
SOURCES = ("auto", "local", "download", "sample")

# Seconds without any progress (connecting, the first byte, any later read) before a
# mirror is given up: short, so that a silent network fails fast. Tests make it shorter.
DOWNLOAD_TIMEOUT = 10.0
# Seconds for a whole file from one mirror (9.9 MB at 33 kB/s), so a trickle ends too.
DOWNLOAD_DEADLINE = 300.0
# Seconds a failed download is remembered before source="auto" tries the mirrors again.
RETRY_AFTER = 15 * 60.0
PROGRESSBAR = True

# The checkout's top-level data/ folder (only used if it exists next to pyproject.toml).
CHECKOUT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"

logger = logging.getLogger("course_lib.data")


class DataUnavailableError(FileNotFoundError):
    """No source could provide the requested dataset; the message says how to get it."""


class _Found(NamedTuple):
    arrays: Arrays
    source: str  # a key of _loaded.SOURCES
    official: bool
    where: Path


def _note(message: str) -> None:
    """Tell the user about a problem worth fixing, in one line on stderr."""
    print(message, file=sys.stderr)


def _detail_printer(verbose: bool):
    """A function for step-by-step detail: logged at INFO, and printed when verbose."""

    def detail(message: str) -> None:
        logger.info(message)
        if verbose:
            print(message)

    return detail


def _is_writable(folder: Path) -> bool:
    """Really try to create a file there: permission bits mislead (e.g. when root)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def cache_dir() -> Path:
    """The folder for downloads and the array cache (see the module docstring)."""
    checkout = CHECKOUT_DATA_DIR
    if (
        checkout.is_dir()
        and (checkout.parent / "pyproject.toml").is_file()
        and _is_writable(checkout)
    ):
        return checkout
    return Path(platformdirs.user_cache_dir("course_lib"))


def _load_data_dir(folder: Path, dataset: str, verify: bool) -> _Found:
    """Load a user-given folder; with verify=True its files must be the official release."""
    if (folder / dataset).is_dir() and not find_files(folder / dataset)[1]:
        folder = folder / dataset
    missing = find_files(folder)[1]
    if missing:
        raise FileNotFoundError(
            f"data_dir {folder} lacks {', '.join(missing)} "
            f"(expected the four standard IDX files of {dataset!r})"
        )
    sizes = _catalog.SIZES[dataset] if verify else None
    arrays, is_official = read_folder(folder, _catalog.SHA256[dataset], sizes)
    if verify and not is_official:
        raise ValueError(
            f"the files in {folder} are not the official {dataset!r} release "
            "(SHA-256 mismatch); pass verify=False to load them anyway"
        )
    return _Found(arrays, "data_dir", is_official, folder)


def _load_sample(dataset: str, verify: bool, *, from_env: bool = False) -> _Found:
    if dataset != "mnist":
        if from_env:
            raise DataUnavailableError(
                f"there is no bundled sample of {dataset!r}, and COURSE_LIB_MNIST_SOURCE=sample "
                "asks for it; unset COURSE_LIB_MNIST_SOURCE (or set it to auto) to load "
                f"{dataset!r}"
            )
        raise DataUnavailableError(
            f"there is no bundled sample of {dataset!r}; to get it, " + _catalog.HOW_TO_GET[dataset]
        )
    arrays, is_official = read_folder(SAMPLE_DIR, sample_digests(SAMPLE_DIR))
    if verify and not is_official:
        raise ValueError(
            f"the bundled sample in {SAMPLE_DIR} does not match its PROVENANCE checksums; "
            "reinstall course_lib or rebuild it with scripts/build_mnist_sample.py"
        )
    return _Found(arrays, "sample", True, SAMPLE_DIR)


def _try_folder(folder: Path, dataset: str, verify: bool) -> tuple[Arrays, bool] | None:
    """Load ``folder`` if it has usable files, else explain in one line and return None."""
    if not folder.is_dir() or find_files(folder)[1]:
        return None
    sizes = _catalog.SIZES[dataset] if verify else None
    try:
        arrays, is_official = read_folder(folder, _catalog.SHA256[dataset], sizes)
    except (OSError, ValueError) as exc:
        _note(f"course_lib: skipping {folder}: {exc}")
        return None
    if verify and not is_official:
        _note(f"course_lib: skipping {folder}: not the official {dataset!r} files (SHA-256)")
        return None
    return arrays, is_official


def _expected(dataset: str) -> _cache.Expected:
    digests, sizes = _catalog.SHA256[dataset], _catalog.SIZES[dataset]
    return _cache.Expected(
        dataset,
        tuple(digests[name].idx for name in _catalog.FILES),
        tuple(_catalog.idx_shape(name, sizes[name].idx) for name in _catalog.FILES),
    )


def _save_cache(path: Path, arrays: Arrays, dataset: str) -> None:
    try:
        _cache.write(path, arrays, dataset=dataset, sources=_expected(dataset).sources)
    except OSError as exc:  # a cache we cannot write only costs speed next time
        _note(f"course_lib: could not write the cache {path}: {exc}")


def _from_cache_folder(root: Path, dataset: str, verify: bool) -> _Found | None:
    """The .npz cache, else verified files in the cache folder or a system package."""
    cache_file = root / f"{dataset}.npz"
    arrays, why = _cache.read(cache_file, _expected(dataset))
    if arrays is not None:
        return _Found(arrays, "cache", True, cache_file)
    if why:
        _note(f"course_lib: the cache {cache_file} is {why}; rebuilding it")
    places = [(root / dataset, "cache")]
    places += [(Path(folder), "system") for folder in _catalog.SYSTEM_DIRS[dataset]]
    for folder, key in places:
        found = _try_folder(folder, dataset, verify)
        if found is not None:
            arrays, is_official = found
            if is_official:  # only the official release may be cached under its name
                _save_cache(cache_file, arrays, dataset)
            return _Found(arrays, key, is_official, folder)
    return None


def _download_all(dataset: str, folder: Path, *, keep_verified: bool, detail) -> None:
    """Download the four files into ``folder``; with keep_verified, reuse official ones."""
    digests, sizes = _catalog.SHA256[dataset], _catalog.SIZES[dataset]
    for name in _catalog.FILES:
        present = folder / f"{name}.gz"
        if keep_verified and present.is_file():
            try:
                blob = load_blob(present, max_idx=sizes[name].idx)
            except (OSError, ValueError):
                blob = None  # corrupt or unreadable: download it again
            if blob and digests[name].matches(blob.file_sha256, blob.idx_sha256):
                continue
        download(
            name,
            _catalog.MIRRORS[dataset],
            folder,
            digests[name],
            sizes[name],
            timeout=DOWNLOAD_TIMEOUT,
            deadline=DOWNLOAD_DEADLINE,
            progressbar=PROGRESSBAR,
            log=detail,
        )


def _download(root: Path, dataset: str, source: str, detail) -> _Found:
    """Steps 4 and 5 of the module docstring: the mirrors, else the sample (MNIST only)."""
    marker = root / f"{dataset}-download-failed.json"
    if source == "auto":
        failed = _marker.read(marker, ttl=RETRY_AFTER)
        if failed is not None:
            wait = _messages.minutes(RETRY_AFTER - failed.age)
            retry = f"next try in {wait}, or now with source='download'"
            when = f" {_messages.minutes(failed.age)} ago"
            return _fall_back(dataset, f"{failed.cause}; {retry}", when=when)
    try:
        _download_all(dataset, root / dataset, keep_verified=source != "download", detail=detail)
    except DownloadError as exc:
        if exc.kind != "folder":  # a folder we cannot write cannot hold the note either
            try:
                _marker.write(marker, _messages.cause(exc.kind, str(exc)))
            except OSError:
                pass  # then the next load simply tries again
        if source == "download":
            raise DataUnavailableError(
                f"{exc}\nTo get {dataset!r}, " + _catalog.HOW_TO_GET[dataset]
            ) from None
        return _fall_back(dataset, _messages.cause(exc.kind, str(exc), now=True), kind=exc.kind)
    _marker.clear(marker)
    arrays, _ = read_folder(root / dataset, _catalog.SHA256[dataset], _catalog.SIZES[dataset])
    _save_cache(root / f"{dataset}.npz", arrays, dataset)
    return _Found(arrays, "download", True, root / dataset)


def _fall_back(dataset: str, why: str, *, when: str = "", kind: str = "") -> _Found:
    """The bundled sample, with one calm line saying why; for other datasets, an error."""
    if dataset != "mnist":
        raise DataUnavailableError(
            _messages.unavailable(dataset, why, sample=None, when=when, kind=kind)
        )
    found = _load_sample(dataset, verify=True)
    sample = (len(found.arrays.x_train), len(found.arrays.x_test))
    # stdout, not a warning: in Jupyter anything on stderr shows as an alarming pink block.
    print(_messages.unavailable(dataset, why, sample=sample, when=when, kind=kind))
    return found


def _resolve_source(source: str) -> tuple[str, bool]:
    """The source to use, and whether it came from COURSE_LIB_MNIST_SOURCE."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(map(repr, SOURCES))}; got {source!r}")
    if source == "auto":
        env = os.environ.get("COURSE_LIB_MNIST_SOURCE", "").strip()
        if env:
            if env not in SOURCES:
                raise ValueError(
                    f"COURSE_LIB_MNIST_SOURCE must be one of {', '.join(SOURCES)}; got {env!r}"
                )
            return env, True
    return source, False


def _load(dataset, data_dir, source, verify, verbose) -> _Found:
    """Search the sources in the order of the module docstring."""
    if dataset not in DATASETS:
        raise ValueError(
            f"dataset must be one of {', '.join(map(repr, DATASETS))}; got {dataset!r}"
        )
    source, from_env = _resolve_source(source)
    if source == "sample":
        return _load_sample(dataset, verify, from_env=from_env)

    if data_dir is None:
        data_dir = os.environ.get("COURSE_LIB_DATA") or None
    if data_dir is not None and source != "download":
        return _load_data_dir(Path(data_dir).expanduser(), dataset, verify)

    root = cache_dir()
    stale_after = DOWNLOAD_DEADLINE + DOWNLOAD_TIMEOUT + 60.0
    for folder in (root, root / dataset):
        for path in _parts.clean_stale(folder, older_than=stale_after):
            logger.info("course_lib: removed %s, left half-written by a stopped process", path)
    if source != "download":
        found = _from_cache_folder(root, dataset, verify)
        if found is not None:
            return found
        if source == "local":
            raise DataUnavailableError(
                f"no local copy of {dataset!r} in {root / dataset}; to get it, "
                + _catalog.HOW_TO_GET[dataset]
            )
    return _download(root, dataset, source, _detail_printer(verbose))


def load_arrays(
    dataset: str = "mnist",
    *,
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    verify: bool = True,
    verbose: bool = False,
) -> Arrays:
    """Return the dataset's raw uint8 arrays (images ``(N, 28, 28)``), from the best source.

    See ``load_mnist`` for the arguments; this is the same search without any reshaping.
    """
    return _load(dataset, data_dir, source, verify, verbose).arrays


def _format(images: np.ndarray, labels: np.ndarray, normalize, flatten, one_hot_label):
    n = len(images)
    x = images.reshape(n, -1) if flatten else images.reshape(n, 1, *images.shape[1:])
    if normalize:
        # One pass straight into float32: no float64 or uint8->float32 temporary.
        x = np.divide(x, np.float32(255.0), dtype=np.float32)
    d = one_hot(labels) if one_hot_label else labels
    return x, d


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    dataset: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    verify: bool = True,
    verbose: bool = False,
) -> LoadedData:
    """Load MNIST as ``((x_train, d_train), (x_test, d_test))``, like the textbook's loader.

    - ``normalize``: images as float32 in [0, 1]; if False, uint8 in 0..255.
    - ``flatten``: images as ``(N, 784)``; if False, ``(N, 1, 28, 28)``.
    - ``one_hot_label``: labels as float32 ``(N, 10)`` one-hot rows; if False, uint8 digits.
    - ``dataset``: ``"mnist"`` or ``"fashion"`` (Fashion-MNIST, same format).
    - ``data_dir``: a folder with the four IDX ``.gz`` files to use instead of the cache.
    - ``source``: ``"auto"`` (search as in the module docstring), ``"local"`` (no
      network), ``"download"`` (fetch again from the mirrors into the cache; ignores
      ``data_dir``) or ``"sample"`` (the bundled
      10,000-digit sample). The environment variable ``COURSE_LIB_MNIST_SOURCE`` overrides
      ``"auto"``, e.g. ``COURSE_LIB_MNIST_SOURCE=sample`` in CI.
    - ``verify``: require files to match the official SHA-256; False accepts your own files.
    - ``verbose``: print each step (which mirror failed and why); they are always logged
      to the logger ``course_lib.data`` at INFO level.

    The result is a ``LoadedData``: it unpacks like the tuple above, and its ``dataset``,
    ``source`` and ``description`` attributes say which data this is.
    """
    found = _load(dataset, data_dir, source, verify, verbose)
    counts = (len(found.arrays.x_train), len(found.arrays.x_test))
    description = _messages.describe(dataset, found.source, found.official, found.where, counts)
    _detail_printer(verbose)(f"course_lib: using {description} ({found.source}: {found.where})")
    arrays = found.arrays
    train = _format(arrays.x_train, arrays.d_train, normalize, flatten, one_hot_label)
    test = _format(arrays.x_test, arrays.d_test, normalize, flatten, one_hot_label)
    return LoadedData((train, test), dataset=dataset, source=found.source, description=description)
