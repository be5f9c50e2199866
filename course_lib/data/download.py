"""Download one official file through pooch, from the first mirror that has it.

pooch checks the SHA-256 of the ``.gz`` before anything reads it (so a tampered file or a
gzip bomb never reaches gzip) and moves it into place only when it matches. The transfer
is ``urllib_download``, because pooch's own downloader has no whole-file deadline and no
size cap.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pooch
from tqdm.auto import tqdm

# Seconds without any progress (connecting, the first byte, any later read) before a
# mirror is given up: short, so that a silent network fails fast. Tests make it shorter.
TIMEOUT = 10.0
# Seconds for a whole file from one mirror (9.9 MB at 33 kB/s), so a trickle ends too.
DEADLINE = 300.0
# The largest official .gz is 26.4 MB (Fashion-MNIST's training images).
MAX_BYTES = 30_000_000
PROGRESSBAR = True
# The temporary files of pooch and of the array cache (Python's tempfile names them so).
TEMPORARY_NAME = re.compile(r"tmp[a-z0-9_]{8}")

logger = logging.getLogger("course_lib.data")
# pooch announces every download at INFO on stderr (a pink block in Jupyter); we say ours.
pooch.get_logger().setLevel(logging.WARNING)


class DownloadError(OSError):
    """A download failed; ``reached`` says whether some server answered at all."""

    def __init__(self, message: str, *, reached: bool) -> None:
        super().__init__(message)
        self.reached = reached


def fetch(name: str, mirrors: list[str], folder: Path, sha256: str, verbose: bool) -> None:
    """Put the official file ``name`` into ``folder`` (kept if already there), trying the mirrors.

    Each failed mirror is logged in one line (printed too if ``verbose``); if all fail,
    raises DownloadError listing them. Any other OSError means ``folder`` is not writable.
    """
    failures = []
    reached = False
    for base in mirrors:
        url = base + name
        try:
            pooch.retrieve(url, f"sha256:{sha256}", name, folder, downloader=urllib_download)
            return
        except DownloadError as exc:
            reason = str(exc)
            reached = reached or exc.reached
        except ValueError:  # pooch's checksum test: the bytes came, but not the official ones
            reason = "SHA-256 mismatch: not the official file"
            reached = True
        failures.append(f"course_lib: {url}: {reason}")
        logger.info(failures[-1])
        if verbose:
            print(failures[-1])
    lines = "\n".join(failures) or "(no mirror is listed)"
    raise DownloadError(f"could not download {name} from any mirror:\n{lines}", reached=reached)


def urllib_download(url: str, output_file: str, pooch_object=None) -> None:
    """A pooch downloader: urllib (proxies from the environment), TIMEOUT, DEADLINE, MAX_BYTES.

    Raises DownloadError with one short line saying what went wrong.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "course_lib (urllib)"})
    deadline = time.monotonic() + DEADLINE
    reached = False
    try:
        # A new opener reads the proxy settings now (urlopen keeps those of its first call).
        with urllib.request.build_opener().open(request, timeout=TIMEOUT) as response:
            reached = True
            bar = tqdm(
                total=response.length,  # from Content-Length, or None
                desc=url.rsplit("/", 1)[-1],
                unit="B",
                unit_scale=True,
                leave=False,
                disable=not PROGRESSBAR,
            )
            with open(output_file, "wb") as out, bar:
                # read1 returns whatever has arrived, so a trickle still meets both checks.
                while chunk := response.read1(1 << 16):
                    if out.tell() + len(chunk) > MAX_BYTES:
                        raise DownloadError(
                            f"larger than any official file ({MAX_BYTES:,} bytes)", reached=True
                        )
                    if time.monotonic() > deadline:
                        raise DownloadError(f"did not finish within {DEADLINE:g} s", reached=True)
                    out.write(chunk)
                    bar.update(len(chunk))
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DownloadError(f"HTTP {exc.code} {exc.reason}", reached=True) from None
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, OSError):
            exc = exc.reason
        if isinstance(exc, TimeoutError):
            reason = f"no data for {TIMEOUT:g} s" if reached else f"no answer within {TIMEOUT:g} s"
        else:
            reason = " ".join(str(getattr(exc, "strerror", None) or exc).split())
        raise DownloadError(reason or type(exc).__name__, reached=reached) from None


def sweep_stale(folder: Path) -> None:
    """Remove the temporary files that a killed download or cache write left in ``folder``.

    A live download writes more often than that and ends within DEADLINE, so one untouched
    for longer is an orphan. A missing or read-only folder is left as it is.
    """
    cutoff = time.time() - (DEADLINE + TIMEOUT)
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            if TEMPORARY_NAME.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                path.unlink()
