"""Half-written files: created under a telling name, renamed when complete, swept when stale.

Every file the data layer writes (a download, the array cache, the failure marker) is
first written to ``.<final name>.<host>.<pid>.<random>.part`` in the destination folder
and renamed into place when complete (atomic on one filesystem). A process killed by
SIGTERM or SIGKILL cannot remove its part file, so ``clean_stale`` sweeps them on a later
load, without harming a download that another process is running into the same folder
right now. A part file is left alone while any of these says its writer may be alive:

1. Its writer holds an ``flock`` on it (POSIX). The kernel drops the lock when a process
   dies, however it dies, so this is the surest sign; it covers other containers on the
   same machine too, whose process ids mean nothing here.
2. Its name gives this host and a process id that is still running (covers the moment
   between creating the file and locking it, and filesystems without flock).
3. It was modified less than ``older_than`` seconds ago (covers writers on other hosts
   sharing the folder; a live download writes more often than its deadline allows).

A leftover is removed when none of them holds. On Windows, which has neither flock nor a
safe process probe here, only the age counts; there an open file cannot be deleted anyway.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

SUFFIX = ".part"
HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "host"


class PartFile:
    """A new, locked part file for ``dest``; ``commit`` renames it to ``dest``.

    Use it as a context manager: leaving the block without ``commit`` removes the file.
    Raises OSError if the folder cannot be created or written.
    """

    def __init__(self, dest: Path) -> None:
        self.dest = Path(dest)
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(4)
        self.path = self.dest.parent / f".{self.dest.name}.{HOST}.{os.getpid()}.{token}{SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(self.path, flags, 0o644)  # the data is public; a cache may be shared
        self.file = os.fdopen(fd, "wb")
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pass  # no flock on this filesystem: the name and the age still protect it
        self._committed = False

    def commit(self, dest: Path | None = None) -> Path:
        """Close the file and move it to ``dest`` (by default the one given); return it."""
        dest = self.dest if dest is None else Path(dest)
        self.file.close()
        os.replace(self.path, dest)
        self._committed = True
        return dest

    def __enter__(self) -> PartFile:
        return self

    def __exit__(self, *exc_info) -> None:
        if not self._committed:
            self.file.close()
            self.path.unlink(missing_ok=True)


def clean_stale(folder: Path, *, older_than: float) -> list[Path]:
    """Remove the stale part files in ``folder`` (see the module docstring); return them.

    Never raises: a folder that is missing or read-only is simply left as it is.
    """
    removed = []
    try:
        candidates = [p for p in Path(folder).glob(f".*{SUFFIX}") if p.is_file()]
    except OSError:
        return removed
    for path in candidates:
        try:
            if is_stale(path, older_than=older_than):
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # gone already, or not ours to delete
    return removed


def is_stale(path: Path, *, older_than: float) -> bool:
    """True if no writer can still be working on the part file ``path``."""
    if _locked(path):
        return False
    owner = _owner(path.name)
    if owner is not None and owner[0] == HOST and not _running(owner[1]):
        return True
    return time.time() - path.stat().st_mtime > older_than


def _owner(name: str) -> tuple[str, int] | None:
    """The host and process id written into a part file's name, if it has them."""
    fields = name.split(".")  # "", final name (may hold dots), host, pid, token, "part"
    if len(fields) < 6 or not fields[-3].isdigit():
        return None
    return fields[-4], int(fields[-3])


def _locked(path: Path) -> bool:
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # cannot look: assume someone is at work
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # no flock here: the other signs decide
    finally:
        os.close(fd)
    return False


def _running(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill would terminate it on Windows; let the age decide
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but belongs to someone else
    return True
