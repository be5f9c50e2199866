"""Fetch one IDX file from a list of mirrors, keeping it only if its SHA-256 is official.

Each mirror's bytes stream into a part file in the destination folder (see ``_parts``)
while they are hashed and, if gzip, decompressed on the fly with caps from the file's
official size (see ``_stream``), so a gzip bomb or an endless answer is stopped as soon
as it is larger than the real file. The file is accepted when either its ``.gz`` digest
or its decompressed IDX digest is official (Debian recompresses), and only then renamed
into place; anything else is deleted. One short line per failed mirror names the URL
and the reason, never a temporary path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from ._catalog import Digest, Size, max_download_size
from ._http import FetchError, fetch
from ._parts import PartFile
from ._stream import StreamCheck


class Failure(NamedTuple):
    """One mirror's failure for one file."""

    url: str
    reason: str
    reached: bool  # the server answered (wrong data, HTTP error, too slow ...)


class DownloadError(OSError):
    """A file could not be downloaded; ``kind`` says why, in a word.

    ``"folder"``: the destination folder cannot be written (no mirror was tried to the
    end); ``"unreachable"``: no mirror answered at all (offline, or a silent proxy);
    ``"failed"``: some mirror answered, but none delivered the official file.
    """

    def __init__(self, message: str, *, kind: str, failures: Sequence[Failure] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.failures = list(failures)


def download(
    name: str,
    mirrors: Sequence[str],
    dest_dir: Path,
    digest: Digest,
    size: Size,
    *,
    timeout: float,
    deadline: float,
    progressbar: bool,
    log: Callable[[str], None],
) -> Path:
    """Download ``<name>.gz`` from the first mirror that serves the official bytes.

    Returns the path of the verified file in ``dest_dir``. Each failed mirror is reported
    through ``log`` in one line; if all fail, raises DownloadError.
    """
    failures = []
    for base in mirrors:
        url = base + name + ".gz"
        try:
            return _download_one(url, name, dest_dir, digest, size, timeout, deadline, progressbar)
        except FetchError as exc:
            failure = Failure(url, exc.reason, exc.reached)
        except ValueError as exc:  # the bytes arrived, but are not the official file
            failure = Failure(url, str(exc), True)
        except OSError as exc:  # the folder: no other mirror can help with that
            reason = exc.strerror or str(exc)
            raise DownloadError(
                f"cannot write to the cache folder {dest_dir}: {reason}", kind="folder"
            ) from None
        log(f"course_lib: {failure.url}: {failure.reason}")
        failures.append(failure)
    kind = "failed" if any(f.reached for f in failures) else "unreachable"
    lines = [f"  {f.url}: {f.reason}" for f in failures] or ["  (no mirror is listed)"]
    raise DownloadError(
        f"could not download {name}.gz from any mirror:\n" + "\n".join(lines),
        kind=kind,
        failures=failures,
    )


def _download_one(
    url: str,
    name: str,
    dest_dir: Path,
    digest: Digest,
    size: Size,
    timeout: float,
    deadline: float,
    progressbar: bool,
) -> Path:
    """One mirror: stream, check, and move into place; raises FetchError or ValueError."""
    max_size = max_download_size(size)
    check = StreamCheck(max_size=max_size, max_idx=size.idx)
    with PartFile(dest_dir / f"{name}.gz") as part, _progress(name, size, progressbar) as bar:
        chunks = fetch(url, timeout=timeout, deadline=deadline, max_size=max_size)
        try:
            for chunk in chunks:
                check.update(chunk)
                part.file.write(chunk)
                bar.update(len(chunk))
        finally:
            chunks.close()
        checked = check.finish()
        if not digest.matches(checked.file_sha256, checked.idx_sha256):
            raise ValueError(
                f"SHA-256 mismatch: got {checked.file_sha256}, expected {digest.gz} "
                f"(or {digest.idx} once decompressed)"
            )
        # A server may send the file already decompressed; name it for what it is,
        # and drop the other form so a stale copy cannot shadow this one.
        dest = part.commit(dest_dir / (name + (".gz" if checked.gzipped else "")))
    (dest_dir / (name + ("" if checked.gzipped else ".gz"))).unlink(missing_ok=True)
    return dest


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc_info) -> None:
        pass


def _progress(name: str, size: Size, enabled: bool):
    """A tqdm bar (a widget in Jupyter, text in a terminal), or one that draws nothing."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm  # imported late: only needed for a real download

    return tqdm(
        total=size.gz, unit="B", unit_scale=True, desc=f"{name}.gz", leave=False, miniters=1
    )
