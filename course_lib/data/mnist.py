"""Load MNIST (or Fashion-MNIST) as NumPy arrays, with the textbook's ``load_mnist`` API.

The sources, in order (``source="auto"``): ``data_dir`` or ``COURSE_LIB_DATA`` (only read);
the cache (``cache_dir()``: a ``.npz`` of the uint8 arrays, checked against the official
digests on every load, else the ``.gz`` files downloaded before); Debian's
``dataset-fashion-mnist``; the mirrors (``download.py``); for MNIST, the bundled sample,
with one calm line on stdout. A failed download is remembered for ``RETRY_AFTER`` seconds,
so the other notebooks of a class behind a silent proxy do not wait for the mirrors again.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import platformdirs

from course_lib.common.functions import one_hot

from . import catalog, download

SOURCES = ("auto", "local", "download", "sample")
# Seconds a failed download is remembered before source="auto" tries the mirrors again.
RETRY_AFTER = 15 * 60.0
# The checkout's top-level data/ folder (used when it exists next to pyproject.toml).
CHECKOUT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
KEYS = ("x_train", "d_train", "x_test", "d_test")


class DataUnavailableError(FileNotFoundError):
    """No source could provide the requested dataset; the message says how to get it."""


class LoadedData(tuple):
    """What ``load_mnist`` returns: ``((x_train, d_train), (x_test, d_test))``, and its origin.

    ``dataset``: "mnist" or "fashion". ``source``: "data_dir", "cache", "system",
    "download" or "sample". ``description``: for people, e.g. "MNIST (60,000 train /
    10,000 test)" or "MNIST bundled sample (8,000 train / 2,000 test)".
    """

    def __new__(cls, data, dataset: str, source: str, description: str):
        self = super().__new__(cls, data)
        self.dataset = dataset
        self.source = source
        self.description = description
        return self

    def __getnewargs__(self):
        return tuple(self), self.dataset, self.source, self.description


def cache_dir() -> Path:
    """The folder for downloads and the array cache: a writable checkout's ``data/``, else
    the user cache folder that ``platformdirs`` names."""
    checkout = CHECKOUT_DATA_DIR
    if (checkout.parent / "pyproject.toml").is_file() and os.access(checkout, os.W_OK):
        return checkout
    return Path(platformdirs.user_cache_dir("course_lib"))


def _idx_header(shape: tuple[int, ...]) -> bytes:
    """An IDX header: two zero bytes, 0x08 (unsigned bytes), the number of dimensions, the
    size of each as a big-endian 32-bit number."""
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def _parse_idx(data: bytes, path: Path, ndim: int) -> np.ndarray:
    """The uint8 array held in IDX bytes; ValueError naming the file if they hold none."""
    header_size = 4 + 4 * ndim
    if len(data) < header_size or data[:4] != _idx_header((0,) * ndim)[:4]:
        raise ValueError(f"{path}: not an IDX file of {ndim}-D unsigned bytes")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    if len(data) - header_size != np.prod(shape):
        found = len(data) - header_size
        raise ValueError(f"{path}: its header says shape {shape}, but {found} bytes follow")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _read_folder(folder: Path, digests: dict[str, str]) -> tuple[list[np.ndarray], bool]:
    """The four arrays in ``folder``'s IDX ``.gz`` files, and whether all match ``digests``."""
    arrays = []
    official = True
    for name in catalog.FILES:
        path = folder / f"{name}.gz"
        try:
            data = gzip.decompress(path.read_bytes())
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: not a valid gzip file ({exc})") from None
        arrays.append(_parse_idx(data, path, ndim=3 if "images" in name else 1))
        official = official and hashlib.sha256(data).hexdigest() == digests.get(name)
    if len(arrays[0]) != len(arrays[1]) or len(arrays[2]) != len(arrays[3]):
        raise ValueError(f"{folder}: the numbers of images and labels differ")
    return arrays, official


def _missing(folder: Path) -> list[str]:
    return [f"{name}.gz" for name in catalog.FILES if not (folder / f"{name}.gz").is_file()]


def _read_cache(path: Path, dataset: str) -> tuple[list[np.ndarray] | None, str]:
    """The arrays of a cache that holds exactly the official data, else (None, why not)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = [npz[key] for key in KEYS]
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        return None, f"unreadable ({type(exc).__name__})"
    for key, name, array in zip(KEYS, catalog.FILES, arrays, strict=True):
        digest = hashlib.sha256(_idx_header(array.shape))
        digest.update(np.ascontiguousarray(array))
        if array.dtype != np.uint8 or digest.hexdigest() != catalog.SHA256[dataset][name]:
            return None, f"damaged or not {dataset!r}: its {key} is not the official data"
    return arrays, ""


def _write_atomically(path: Path, write) -> None:
    """Write through a temporary file and a rename, so nobody ever sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file = tempfile.NamedTemporaryFile(dir=path.parent, delete=False)
    try:
        with file:
            write(file)
        os.replace(file.name, path)
    except BaseException:
        Path(file.name).unlink(missing_ok=True)
        raise


def _found(arrays: list[np.ndarray], dataset: str, source: str, label: str = "", note: str = ""):
    """(arrays, source, description), e.g. "MNIST bundled sample (8,000 train / 2,000 test)"."""
    sizes = f"{len(arrays[0]):,} train / {len(arrays[2]):,} test"
    return arrays, source, f"{catalog.NAMES[dataset]}{label} ({sizes}{note})"


def _from_data_dir(folder: Path, dataset: str, verify: bool):
    """A user's folder, never written to; with verify=True it must hold the official files."""
    if not _missing(folder / dataset):
        folder = folder / dataset
    if _missing(folder):
        raise FileNotFoundError(f"data_dir {folder} lacks {', '.join(_missing(folder))}")
    arrays, official = _read_folder(folder, catalog.SHA256[dataset])
    if official:
        return _found(arrays, dataset, "data_dir")
    if verify:
        raise ValueError(
            f"the files in {folder} are not the official {dataset!r} release "
            "(SHA-256 mismatch); pass verify=False to load them anyway"
        )
    return _found(arrays, dataset, "data_dir", f"-format files in {folder}", "; not official")


def _from_sample(dataset: str, verify: bool):
    """The bundled sample, checked against the SHA-256 in its PROVENANCE."""
    if dataset != "mnist":
        raise DataUnavailableError(
            f"there is no bundled sample of {dataset!r} (source='sample' or "
            f"COURSE_LIB_MNIST_SOURCE=sample asks for it); to get it, {_how_to_get(dataset)}"
        )
    sums = catalog.read_sums((SAMPLE_DIR / "PROVENANCE").read_text(encoding="utf-8"))
    arrays, official = _read_folder(SAMPLE_DIR, sums)
    if verify and not official:
        raise ValueError(
            f"the bundled sample in {SAMPLE_DIR} does not match its PROVENANCE checksums; "
            "reinstall course_lib or rebuild it with scripts/build_mnist_sample.py"
        )
    return _found(arrays, dataset, "sample", " bundled sample")


def _from_cache(root: Path, dataset: str):
    """The .npz cache, else the official files in the cache folder or a system package."""
    cache = root / f"{dataset}.npz"
    arrays, why = _read_cache(cache, dataset)
    if arrays is not None:
        return _found(arrays, dataset, "cache")
    if why:
        print(f"course_lib: the cache {cache} is {why}; rebuilding it", file=sys.stderr)
    places = [(root / dataset, "cache")] + [(p, "system") for p in catalog.SYSTEM_DIRS[dataset]]
    for folder, source in places:
        if _missing(folder):
            continue
        try:
            arrays, official = _read_folder(folder, catalog.SHA256[dataset])
        except ValueError as exc:
            official, why = False, str(exc)
        if official:
            _save_cache(cache, arrays)
            return _found(arrays, dataset, source)
        print(f"course_lib: skipping {folder}: {why or 'not the official files'}", file=sys.stderr)
    return None


def _save_cache(path: Path, arrays: list[np.ndarray]) -> None:
    try:
        _write_atomically(path, lambda file: np.savez(file, **dict(zip(KEYS, arrays, strict=True))))
    except OSError as exc:  # a cache we cannot write only costs time next time
        print(f"course_lib: could not write the cache {path}: {exc}", file=sys.stderr)


def _from_mirrors(root: Path, dataset: str, source: str, verbose: bool):
    """Download what the cache folder lacks; if that fails, the sample (MNIST only)."""
    marker = root / f"{dataset}-download-failed"
    remembered = _remembered_failure(marker) if source == "auto" else None
    if remembered is not None:
        age, cause = remembered
        retry = f"next try in {_minutes(RETRY_AFTER - age)}, or now with source='download'"
        return _fall_back(dataset, f"{cause}; {retry}", when=f" {_minutes(age)} ago")
    folder = root / dataset
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in catalog.FILES:
            sha256 = catalog.SHA256[dataset][f"{name}.gz"]
            download.fetch(f"{name}.gz", catalog.MIRRORS[dataset], folder, sha256, verbose)
    except download.DownloadError as exc:
        cause = (
            "no mirror delivered the official files"
            if exc.reached
            else "offline: no mirror could be reached"
        )
        try:
            _write_atomically(marker, lambda file: file.write(cause.encode()))
        except OSError:
            pass  # then the next load simply tries again
        if source == "download":
            raise DataUnavailableError(f"{exc}\nTo get it, {_how_to_get(dataset)}.") from None
        return _fall_back(dataset, cause + ("; verbose=True shows why" if exc.reached else ""))
    except OSError as exc:  # the folder cannot be written (pooch re-raises in its own words)
        exc = exc.__cause__ or exc
        reason = f"cannot write to the cache folder {folder}: {exc.strerror or exc}"
        if source == "download":
            raise DataUnavailableError(
                f"{reason}; {_how_to_get(dataset, writable=False)}"
            ) from None
        return _fall_back(dataset, reason, writable=False)
    marker.unlink(missing_ok=True)
    arrays, _ = _read_folder(folder, catalog.SHA256[dataset])
    _save_cache(root / f"{dataset}.npz", arrays)
    return _found(arrays, dataset, "download")


def _remembered_failure(marker: Path) -> tuple[float, str] | None:
    """(seconds ago, cause) of a download that failed less than RETRY_AFTER ago, else None."""
    try:
        age = time.time() - marker.stat().st_mtime
        cause = " ".join(marker.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return None  # none, or unreadable: as if none
    return (age, cause) if cause and 0 <= age < RETRY_AFTER else None


def _minutes(seconds: float) -> str:
    return "less than a minute" if seconds < 60 else f"{seconds / 60:.0f} min"


def _how_to_get(dataset: str, writable: bool = True) -> str:
    """What a user can do to get the full dataset."""
    name = catalog.NAMES[dataset]
    files = f"set COURSE_LIB_DATA (or pass data_dir=) to a folder with the four {name} .gz files"
    if not writable:
        return f"make that folder writable, or {files}"
    if dataset == "fashion":
        return f"install Debian's dataset-fashion-mnist, connect to the internet once, or {files}"
    return f"connect to the internet once, or {files}"


def _fall_back(dataset: str, why: str, *, when: str = "", writable: bool = True):
    """The bundled sample, with one calm line saying why; for other datasets, an error."""
    name = catalog.NAMES[dataset]
    how = _how_to_get(dataset, writable)
    if dataset != "mnist":
        raise DataUnavailableError(f"could not download {name}{when} ({why}). To get it, {how}.")
    found = _from_sample(dataset, verify=True)
    sizes = f"{len(found[0][0]):,} train / {len(found[0][2]):,} test"
    # stdout, not a warning: in Jupyter anything on stderr shows as an alarming pink block.
    print(
        f"course_lib: full {name} could not be downloaded{when} ({why}), so this uses the "
        f"bundled sample: {sizes} real {name} digits. To get full {name}, {how}."
    )
    return found


def _check_choice(what: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _load(dataset: str, data_dir, source: str, verify: bool, verbose: bool):
    """(arrays, source, description), from the sources in the order of the module docstring."""
    _check_choice("dataset", dataset, catalog.NAMES)
    _check_choice("source", source, SOURCES)
    if source == "auto":
        source = os.environ.get("COURSE_LIB_MNIST_SOURCE", "").strip() or "auto"
        _check_choice("COURSE_LIB_MNIST_SOURCE", source, SOURCES)
    if source == "sample":
        return _from_sample(dataset, verify)
    data_dir = data_dir or os.environ.get("COURSE_LIB_DATA")
    if data_dir and source != "download":
        return _from_data_dir(Path(data_dir).expanduser(), dataset, verify)
    root = cache_dir()
    download.sweep_stale(root)
    download.sweep_stale(root / dataset)
    found = _from_cache(root, dataset) if source != "download" else None
    if found is not None:
        return found
    if source == "local":
        how = _how_to_get(dataset)
        raise DataUnavailableError(f"no local copy of {dataset!r} in {root}; to get it, {how}")
    return _from_mirrors(root, dataset, source, verbose)


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
    - ``source``: ``"auto"`` (the order in the module docstring), ``"local"`` (no network),
      ``"download"`` (ignore ``data_dir`` and a remembered failure; fetch what the cache
      lacks) or ``"sample"``. ``COURSE_LIB_MNIST_SOURCE`` overrides ``"auto"``.
    - ``verify``: require your files to match the official SHA-256; False accepts any.
    - ``verbose``: print each mirror's failure (always logged to ``course_lib.data``).

    The result unpacks like the tuple above; its ``dataset``, ``source`` and
    ``description`` say which data this is.
    """
    arrays, found_in, description = _load(dataset, data_dir, source, verify, verbose)
    data = []
    for images, labels in (arrays[:2], arrays[2:]):
        x = images.reshape(len(images), -1) if flatten else images[:, np.newaxis]
        if normalize:
            # One pass straight into float32: no float64 or uint8->float32 temporary.
            x = np.divide(x, np.float32(255.0), dtype=np.float32)
        data.append((x, one_hot(labels) if one_hot_label else labels))
    return LoadedData(data, dataset, found_in, description)
