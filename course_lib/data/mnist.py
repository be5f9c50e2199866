"""Load MNIST (or Fashion-MNIST) as NumPy arrays, with the textbook's ``load_mnist`` API.

The sources, in order: ``data_dir`` or ``COURSE_LIB_DATA`` (only read); the cache
(``cache_dir()``: a ``.npz`` of the arrays, else the ``.gz`` files downloaded into it);
Debian's ``dataset-fashion-mnist``; the mirrors, through pooch, which checks each ``.gz``
before anything decompresses it; for MNIST, the bundled sample, with one calm line.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import logging
import os
import re
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import platformdirs
import pooch
from tqdm.auto import tqdm

from course_lib.common.functions import one_hot
from course_lib.validation import choice

SOURCES = ("auto", "local", "download", "sample")
NAMES = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
# The four IDX files, in the order (train images, train labels, test images, test labels).
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
KEYS = ("x_train", "d_train", "x_test", "d_test")  # the same arrays in the .npz cache


def read_sums(text: str) -> dict[str, str]:
    """``{file name: SHA-256}`` from lines as ``sha256sum`` prints them."""
    return {name: sha for sha, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", text, flags=re.M)}


# The official SHA-256 of each file of a dataset: of its .gz and of its IDX bytes.
SHA256 = {name: read_sums((Path(__file__).parent / f"{name}.sha256").read_text()) for name in NAMES}
# Tried in turn, HTTPS first. Plain HTTP stays as a last resort (for proxies that break
# TLS): the SHA-256, not the transport, is what makes a file trustworthy.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion": [
        "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}
SYSTEM_DIRS = {"mnist": [], "fashion": [Path("/usr/share/datasets/fashion-mnist")]}
# The checkout's top-level data/ folder (used when it exists next to pyproject.toml).
CHECKOUT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
# Seconds a failed download is remembered, so that the other notebooks of a class behind a
# silent proxy do not wait for the mirrors again (source="download" always tries).
RETRY_AFTER = 15 * 60.0
# Seconds without any progress before a mirror is given up (a silent network fails fast),
# and for a whole file (9.9 MB at 33 kB/s), so that a trickle ends too. Tests shrink them.
TIMEOUT = 10.0
DEADLINE = 300.0
MAX_BYTES = 30_000_000  # the largest official .gz is 26.4 MB (Fashion-MNIST's train images)
PROGRESSBAR = True

logger = logging.getLogger("course_lib.data")
# pooch announces every download at INFO on stderr (a pink block in Jupyter); we say ours.
pooch.get_logger().setLevel(logging.WARNING)


class DataUnavailableError(FileNotFoundError):
    """No source could provide the requested dataset; the message says how to get it."""


class DownloadError(Exception):
    """A download failed; ``reached`` says whether some server answered at all."""

    def __init__(self, message: str, *, reached: bool = True) -> None:
        super().__init__(message)
        self.reached = reached


class LoadedData(tuple):
    """What ``load_mnist`` returns: ``((x_train, d_train), (x_test, d_test))``, and its origin."""

    dataset: str  # "mnist" or "fashion"
    source: str  # "data_dir", "cache", "system", "download" or "sample"
    description: str  # for people, e.g. "MNIST bundled sample (8,000 train / 2,000 test)"


def cache_dir() -> Path:
    """Downloads and cache: a writable checkout's ``data/``, else platformdirs' user cache."""
    checkout = CHECKOUT_DATA_DIR
    if (checkout.parent / "pyproject.toml").is_file() and os.access(checkout, os.W_OK):
        return checkout
    return Path(platformdirs.user_cache_dir("course_lib"))


def _idx_digest(array: np.ndarray) -> str:
    """The SHA-256 of ``array`` as an IDX file: its header (see _parse_idx), then its bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    digest = hashlib.sha256(header)
    digest.update(np.ascontiguousarray(array))
    return digest.hexdigest()


def _parse_idx(data: bytes, path: Path, ndim: int) -> np.ndarray:
    """The uint8 array in IDX bytes (0, 0, 0x08, ndim, big-endian sizes, data), or ValueError."""
    header_size = 4 + 4 * ndim
    if len(data) < header_size or data[:4] != bytes([0, 0, 0x08, ndim]):
        raise ValueError(f"{path}: not an IDX file of {ndim}-D unsigned bytes")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    found = len(data) - header_size
    if found != np.prod(shape):
        raise ValueError(f"{path}: its header says shape {shape}, but {found} bytes follow")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _read_folder(folder: Path, digests: dict[str, str], unofficial: str = ""):
    """(the four arrays of ``folder``'s .gz files, whether all match ``digests``): ValueError
    if one is broken, or if they do not match and ``unofficial`` says why."""
    arrays = []
    official = True
    for name in FILES:
        path = folder / f"{name}.gz"
        try:
            data = gzip.decompress(path.read_bytes())
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: not a valid gzip file ({exc})") from None
        arrays.append(_parse_idx(data, path, ndim=3 if "images" in name else 1))
        official = official and hashlib.sha256(data).hexdigest() == digests.get(name)
    if len(arrays[0]) != len(arrays[1]) or len(arrays[2]) != len(arrays[3]):
        raise ValueError(f"{folder}: the numbers of images and labels differ")
    if unofficial and not official:
        raise ValueError(f"{folder}: {unofficial}")
    return arrays, official


def _found(arrays: list[np.ndarray], dataset: str, source: str, label: str = "", note: str = ""):
    """(arrays, source, description), e.g. "MNIST bundled sample (8,000 train / 2,000 test)"."""
    sizes = f"{len(arrays[0]):,} train / {len(arrays[2]):,} test"
    return arrays, source, f"{NAMES[dataset]}{label} ({sizes}{note})"


def _from_data_dir(folder: Path, dataset: str, verify: bool):
    """A user's folder (or its ``mnist/`` or ``fashion/``), never written to."""
    if (folder / dataset).is_dir():
        folder = folder / dataset
    unofficial = f"not the official {dataset!r} release (SHA-256 mismatch); pass verify=False"
    arrays, official = _read_folder(folder, SHA256[dataset], unofficial if verify else "")
    return _found(arrays, dataset, "data_dir", note="" if official else "; not official")


def _from_sample(dataset: str, verify: bool):
    """The bundled sample, checked against the SHA-256 in its PROVENANCE."""
    if dataset != "mnist":
        why = "there is no bundled sample; source='sample' or COURSE_LIB_MNIST_SOURCE=sample"
        return _fall_back(dataset, "sample", f"{why} asks for it")
    sums = read_sums((SAMPLE_DIR / "PROVENANCE").read_text(encoding="utf-8"))
    unofficial = "does not match PROVENANCE; reinstall course_lib or run build_mnist_sample.py"
    arrays, _ = _read_folder(SAMPLE_DIR, sums, unofficial if verify else "")
    return _found(arrays, dataset, "sample", " bundled sample")


def _note(message: str) -> None:
    """One line on stderr about a file that cannot be used or written."""
    print(f"course_lib: {message}", file=sys.stderr)


def _read_cache(path: Path, dataset: str) -> list[np.ndarray] | None:
    """The arrays of the .npz cache if it holds exactly the official data, else None."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = [npz[key] for key in KEYS]
    except (FileNotFoundError, NotADirectoryError):
        return None  # no cache yet
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        arrays = []  # unreadable
    official = [SHA256[dataset][name] for name in FILES]
    # uint8 only: the same bytes as int8 are other numbers.
    if [_idx_digest(array) for array in arrays if array.dtype == np.uint8] == official:
        return arrays
    _note(f"the cache {path} is damaged or not {dataset!r}; rebuilding it")
    return None


def _save_cache(path: Path, arrays: list[np.ndarray]) -> None:
    """Write the .npz through a temporary file and a rename, so nobody sees half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as file:
            try:
                np.savez(file, **dict(zip(KEYS, arrays, strict=True)))
                os.replace(file.name, path)
            finally:
                Path(file.name).unlink(missing_ok=True)  # gone once renamed; else half a file
    except OSError as exc:  # a cache we cannot write only costs time next time
        _note(f"could not write the cache {path}: {exc}")


def _from_mirrors(root: Path, dataset: str, source: str, verbose: bool):
    """Download what the cache folder lacks; if that fails, the sample (MNIST only)."""
    marker = root / f"{dataset}-download-failed"  # empty: its time is what counts
    try:
        age = time.time() - marker.stat().st_mtime
    except OSError:
        age = RETRY_AFTER  # no note: try
    if source == "auto" and 0 <= age < RETRY_AFTER:
        why = f"a try less than {RETRY_AFTER / 60:.0f} min ago failed"
        return _fall_back(dataset, source, f"{why}; source='download' tries again now")
    folder = root / dataset
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            _fetch(f"{name}.gz", MIRRORS[dataset], folder, SHA256[dataset][f"{name}.gz"], verbose)
    except DownloadError as exc:
        with contextlib.suppress(OSError):  # then the next load simply tries again
            marker.touch()
        if not exc.reached:
            return _fall_back(dataset, source, "offline: no mirror could be reached")
        hint = "" if verbose else "; verbose=True shows why"
        return _fall_back(dataset, source, f"no mirror delivered the official files{hint}")
    except OSError as exc:  # the folder cannot be written (pooch re-raises in its own words)
        exc = exc.__cause__ or exc
        why = f"cannot write to the cache folder {folder}: {exc.strerror or exc}; make it writable"
        return _fall_back(dataset, source, why)
    marker.unlink(missing_ok=True)
    arrays, _ = _read_folder(folder, SHA256[dataset])
    _save_cache(root / f"{dataset}.npz", arrays)
    return _found(arrays, dataset, "download")


def _fetch(name: str, mirrors: list[str], folder: Path, sha256: str, verbose: bool) -> None:
    """Put the official file ``name`` into ``folder`` from the first mirror that has it."""
    reached = False
    for base in mirrors:
        url = base + name
        try:
            pooch.retrieve(url, f"sha256:{sha256}", name, folder, downloader=_urllib_download)
            return
        except DownloadError as exc:
            reason = str(exc)
            reached = reached or exc.reached
        except ValueError:  # pooch's checksum test: the bytes came, but not the official ones
            reason = "SHA-256 mismatch: not the official file"
            reached = True
        line = f"course_lib: {url}: {reason}"
        logger.info(line)
        if verbose:
            print(line)
    raise DownloadError(f"could not download {name} from any mirror", reached=reached)


def _urllib_download(url: str, output_file: str, pooch_object=None) -> None:
    """A pooch downloader (urllib) with the DEADLINE and MAX_BYTES that pooch's own lacks."""
    request = urllib.request.Request(url, headers={"User-Agent": "course_lib (urllib)"})
    deadline = time.monotonic() + DEADLINE
    reached = False
    try:
        # A new opener reads the proxy settings now (urlopen keeps those of its first call).
        with urllib.request.build_opener().open(request, timeout=TIMEOUT) as response:
            reached = True
            name = url.rsplit("/", 1)[-1]
            progress = {"total": response.length, "desc": name, "disable": not PROGRESSBAR}
            # wrapattr counts every byte written as progress (total from Content-Length).
            with open(output_file, "wb") as file, tqdm.wrapattr(file, "write", **progress) as out:
                # read1 returns whatever has arrived, so a trickle still meets both checks.
                while chunk := response.read1(1 << 16):
                    if out.tell() + len(chunk) > MAX_BYTES:
                        raise DownloadError(f"larger than any official file ({MAX_BYTES:,} bytes)")
                    if time.monotonic() > deadline:
                        raise DownloadError(f"did not finish within {DEADLINE:g} s")
                    out.write(chunk)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DownloadError(f"HTTP {exc.code} {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        cause = getattr(exc, "reason", exc)  # a URLError wraps the socket's error
        reason = " ".join(str(getattr(cause, "strerror", None) or cause).split())
        if isinstance(cause, TimeoutError):
            reason = f"no data for {TIMEOUT:g} s" if reached else f"no answer within {TIMEOUT:g} s"
        raise DownloadError(reason or type(cause).__name__, reached=reached) from None


def _fall_back(dataset: str, source: str, why: str):
    """The bundled sample with one calm line saying why the full data is missing; the error
    instead if there is no sample or the user asked for a source other than "auto"."""
    name = NAMES[dataset]
    debian = "install Debian's dataset-fashion-mnist, " if dataset == "fashion" else ""
    files = f"set COURSE_LIB_DATA (or pass data_dir=) to a folder with the four {name} .gz files"
    how = f"{debian}connect to the internet once, or {files}"
    if source != "auto" or dataset != "mnist":
        raise DataUnavailableError(f"{name} is not available ({why}). To get it, {how}.")
    found = _from_sample(dataset, verify=True)
    sizes = f"{len(found[0][0]):,} train / {len(found[0][2]):,} test"
    # stdout, not a warning: in Jupyter anything on stderr shows as an alarming pink block.
    print(
        f"course_lib: full {name} could not be downloaded ({why}), so this uses the bundled "
        f"sample: {sizes} real {name} digits. To get full {name}, {how}."
    )
    return found


def _load(dataset: str, data_dir, source: str, verify: bool, verbose: bool):
    """(arrays, source, description), from the sources in the order of the module docstring."""
    source = choice("source", source, SOURCES)
    if source == "auto":
        source = os.environ.get("COURSE_LIB_MNIST_SOURCE", "").strip() or "auto"
        source = choice("COURSE_LIB_MNIST_SOURCE", source, SOURCES)
    if source == "sample":
        return _from_sample(dataset, verify)
    data_dir = data_dir or os.environ.get("COURSE_LIB_DATA")
    if data_dir and source != "download":
        return _from_data_dir(Path(data_dir).expanduser(), dataset, verify)
    root = cache_dir()
    if source == "download":  # asked for: print what fails
        return _from_mirrors(root, dataset, source, verbose=True)
    cache = root / f"{dataset}.npz"
    arrays = _read_cache(cache, dataset)
    if arrays is not None:
        return _found(arrays, dataset, "cache")
    places = [(root / dataset, "cache")] + [(p, "system") for p in SYSTEM_DIRS[dataset]]
    for folder, found_in in places:
        try:
            arrays, _ = _read_folder(folder, SHA256[dataset], "not the official files")
        except (FileNotFoundError, NotADirectoryError):
            continue  # not all four files there: not a source
        except ValueError as exc:
            _note(f"skipping {exc}")
            continue
        _save_cache(cache, arrays)
        return _found(arrays, dataset, found_in)
    if source == "local":
        return _fall_back(dataset, source, f"source='local' and no copy in {root}")
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
      ``"download"`` (ignore ``data_dir`` and a remembered failure, print each mirror's
      failure) or ``"sample"``; ``COURSE_LIB_MNIST_SOURCE`` overrides ``"auto"``.
    - ``verify``: require your files to match the official SHA-256; False accepts any.
    - ``verbose``: print each mirror's failure (always logged to ``course_lib.data``).
    """
    dataset = choice("dataset", dataset, list(NAMES))
    arrays, found_in, description = _load(dataset, data_dir, source, verify, verbose)
    data = []
    for images, labels in (arrays[:2], arrays[2:]):
        x = images.reshape(len(images), -1) if flatten else images[:, np.newaxis]
        if normalize:
            # One pass straight into float32: no float64 or uint8->float32 temporary.
            x = np.divide(x, np.float32(255.0), dtype=np.float32)
        data.append((x, one_hot(labels) if one_hot_label else labels))
    result = LoadedData(data)
    result.dataset, result.source, result.description = dataset, found_in, description
    return result
