"""Fetch one IDX file from a list of mirrors, keeping it only if its SHA-256 is official.

pooch's ``HTTPDownloader`` does the transfer (requests with a timeout, tqdm progress
bar). We do not use ``pooch.retrieve`` because it can only check the digest of the
downloaded bytes, while we accept a file when either its ``.gz`` digest or its
decompressed IDX digest is official; and because we want one clear line per failed
mirror and nothing left behind when a mirror serves bad bytes. So each mirror's bytes go
to a temporary file in the destination folder, are verified, and only then renamed into
place with ``os.replace`` (atomic on one filesystem).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ._catalog import Digest
from ._idx import load_blob


class DownloadError(OSError):
    """Every mirror failed for a file; the message lists each mirror and why."""


def official(file_sha256: str, idx_sha256: str, digest: Digest) -> bool:
    """True if the file (as stored, or once decompressed) is the official release."""
    return file_sha256 == digest.gz or idx_sha256 == digest.idx


def _reason(exc: BaseException, timeout: float) -> str:
    """Describe a failure in one short line."""
    import requests  # pooch depends on requests; imported late to keep import fast

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.ConnectionError) and "timed out" in str(exc).lower():
        return f"no answer within {timeout:g} s"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def download(
    name: str,
    mirrors: Sequence[str],
    dest_dir: Path,
    digest: Digest,
    *,
    timeout: float,
    progressbar: bool,
    log: Callable[[str], None],
) -> Path:
    """Download ``<name>.gz`` from the first mirror that serves the official bytes.

    Returns the path of the verified file in ``dest_dir``. Each failed mirror is reported
    through ``log`` in one line; if all fail, raises DownloadError.
    """
    from pooch import HTTPDownloader  # imported late: only needed when downloading

    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the download folder {dest_dir}: {exc}") from exc
    failures = []
    for base in mirrors:
        url = base + name + ".gz"
        fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                os.chmod(tmp_name, 0o644)  # mkstemp makes it private; the data is public
                HTTPDownloader(timeout=timeout, progressbar=progressbar)(url, out, None)
            blob = load_blob(tmp)
            if not official(blob.file_sha256, blob.idx_sha256, digest):
                raise ValueError(
                    f"SHA-256 mismatch: got {blob.file_sha256}, expected {digest.gz} "
                    f"(or {digest.idx} once decompressed)"
                )
            # A server may send the file already decompressed; name it for what it is,
            # and drop the other form so a stale copy cannot shadow this one.
            gzipped = blob.file_sha256 != blob.idx_sha256
            dest = dest_dir / (name + (".gz" if gzipped else ""))
            os.replace(tmp, dest)
            (dest_dir / (name + ("" if gzipped else ".gz"))).unlink(missing_ok=True)
            return dest
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors too
            reason = _reason(exc, timeout)
            log(f"course_lib: mirror {base} failed for {name}.gz: {reason}")
            failures.append(f"  {url}: {reason}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DownloadError(f"could not download {name}.gz from any mirror:\n" + "\n".join(failures))
