"""Writing files without losing any: the rules ``run``, ``notebooks`` and ``reproduce`` share.

A file is written whole or not at all (a temporary file renamed into place, or removed
when the disk is full); a file that is there is never overwritten unless this package
wrote it and nobody changed it since; a folder written as a whole (a report) is built
beside its place under a lock and moved in only when complete.
"""

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath

try:
    import fcntl
except ImportError:  # Windows has no flock: two writers of one folder go undetected there
    fcntl = None

MANIFEST = ".course-lib-report.json"


class CannotWrite(OSError):
    """A file could not be written (a full disk or quota, a read-only folder).

    Whoever raises it has left nothing half-written behind; the message says where.
    """


class OutputFolderError(ValueError):
    """The output folder is not one we may write into; the message says why."""


def sha256(path):
    """The SHA-256 of the file at ``path``, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def numbered(path, n):
    """``path`` (a Path) for n == 1, else 'stem (n).suffix': the names tried beside it."""
    return path if n == 1 else path.with_name(f"{path.stem} ({n}){path.suffix}")


def check_writable(folder):
    """Raise CannotWrite unless a file can be written in ``folder``.

    The probe is an unnamed temporary file of its own, so two programs checking the
    same folder at once never meet.
    """
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"x")
            probe.flush()
    except OSError as exc:
        raise CannotWrite(f"cannot write in {folder} ({exc.strerror or exc})") from None


def save_new(path, data):
    """Write ``data`` to ``path``, or to 'name (2).ext' ... if taken; returns the path.

    Each file is created exclusively, so two programs at once never write over each
    other; a write that fails (a full disk) removes its own file and raises CannotWrite.
    """
    n = 1
    while True:
        candidate = numbered(path, n)
        try:
            with open(candidate, "xb") as out:
                try:
                    out.write(data)
                except OSError:
                    candidate.unlink()
                    raise
            return candidate
        except FileExistsError:
            n += 1
        except OSError as exc:
            raise CannotWrite(f"cannot write {candidate} ({exc.strerror or exc})") from None


def write_copy(source, target, replaces=None):
    """Copy the file ``source`` to ``target`` through a temporary file renamed into place.

    ``target`` is never seen half-written; a copy that fails leaves nothing and raises
    CannotWrite. replaces: the SHA-256 that ``target`` must still have just before the
    rename; if it changed (an autosave meanwhile) or is gone, it is left as it is and
    the result is False. Otherwise True.
    """
    target = Path(target)
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
        ) as out:
            temporary = Path(out.name)
            with open(source, "rb") as src:
                shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        if replaces is not None and _digest_or_none(target) != replaces:
            temporary.unlink()
            return False
        os.replace(temporary, target)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise CannotWrite(f"cannot write {target} ({exc.strerror or exc})") from None
    return True


def _digest_or_none(path):
    try:
        return sha256(path)
    except FileNotFoundError:
        return None


def write_new(path, data):
    """Write the bytes ``data`` to ``path``, a new file, whole or not at all.

    A temporary file beside it is linked into place (a link never replaces a file, so two
    writers never meet) and removed; like any temporary file, it is readable by its owner
    only. FileExistsError if ``path`` exists; CannotWrite if it cannot be written (a full
    disk), leaving nothing behind.
    """
    path = Path(path)
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
        ) as out:
            temporary = Path(out.name)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError as exc:
        raise CannotWrite(f"cannot write {path} ({exc.strerror or exc})") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def previous_files(out_dir):
    """{name: SHA-256} of the files written into ``out_dir`` before ({} if new or empty).

    OutputFolderError if it is a file, or a folder with files but no manifest.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputFolderError(f"{out_dir} is a file, not a folder; choose a folder with --out")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return {}
    manifest = out_dir / MANIFEST
    if not manifest.is_file():
        raise OutputFolderError(
            f"{out_dir} is not empty and is not a report made by reproduce; choose a new "
            "or empty folder with --out (nothing was changed)"
        )
    try:
        files = json.loads(manifest.read_text("utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputFolderError(
            f"{manifest} is damaged ({exc}); choose a new folder with --out"
        ) from None
    # An older manifest lists names only: without a digest, every file counts as changed.
    return dict.fromkeys(files) if isinstance(files, list) else files


@contextlib.contextmanager
def workspace(out_dir):
    """Lock ``out_dir`` and yield an empty folder beside it to build its new content in.

    CannotWrite first if that content could not be built there and moved in. The lock
    is an flock, which the system drops when the process ends, however it ends; a
    second writer of the same folder gets OutputFolderError naming the first.
    """
    parent, name = out_dir.resolve().parent, out_dir.resolve().name  # also for --out .
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for folder in (parent, out_dir) if out_dir.is_dir() else (parent,):
            check_writable(folder)
    except OSError as exc:
        raise CannotWrite(f"{exc}; nothing was run") from None
    if out_dir.is_dir() and os.stat(out_dir).st_dev != os.stat(parent).st_dev:
        raise OutputFolderError(
            f"{out_dir} is a mount point: its files cannot be moved in from beside it; "
            "choose a folder inside it with --out"
        )
    lock_path, staging = parent / f".{name}.lock", parent / f".{name}.in-progress"
    with open(lock_path, "a+", encoding="utf-8") as lock:
        try:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # The holder removes the file as it ends: a lock on a removed file is none.
                if not os.path.samestat(os.fstat(lock.fileno()), os.stat(lock_path)):
                    raise BlockingIOError
        except OSError:
            lock.seek(0)
            raise OutputFolderError(
                f"{out_dir} is being written by another reproduce ({lock.read().strip()}); "
                "wait for it to finish or choose another --out"
            ) from None
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        lock.truncate(0)
        lock.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}")
        lock.flush()
        shutil.rmtree(staging, ignore_errors=True)  # left by a run that was killed
        try:
            staging.mkdir()
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            lock_path.unlink(missing_ok=True)  # while still held


class FolderNames:
    """Where each new file goes in ``out_dir``, and which old files it replaces.

    previous: {name: SHA-256} of the files written there before. Those nobody changed
    since are ``ours`` to replace; any other file keeps its name, and the new file takes
    a free one: 'name (2).ext', 'name (3).ext' ...
    """

    def __init__(self, out_dir, previous):
        self.out_dir, self.previous, self.moved, self._taken = out_dir, previous, {}, set()
        self.ours = set()
        for name, digest in previous.items():
            target = (out_dir / name).resolve()
            # Only files inside out_dir: a manifest edited to point elsewhere replaces nothing.
            if target.is_relative_to(out_dir.resolve()) and target.is_file():
                if digest is not None and sha256(target) == digest:
                    self.ours.add(name)

    def place(self, name):
        """The name to write the new file ``name`` (a relative POSIX path) under."""
        n, candidate = 1, name
        while candidate in self._taken or (
            candidate not in self.ours and os.path.lexists(self.out_dir / candidate)
        ):
            n += 1
            candidate = str(numbered(PurePosixPath(name), n))
        self._taken.add(candidate)
        if candidate != name:
            self.moved[name] = candidate
        return candidate

    def kept(self):
        """One line for each file left as the user had it."""
        lines = [
            f"kept {name} (changed since reproduce wrote it)"
            for name in sorted(set(self.previous) - self.ours - set(self.moved))
            if os.path.lexists(self.out_dir / name)
        ]
        for name, new in self.moved.items():
            why = "changed since reproduce wrote it" if name in self.previous else "not ours"
            lines.append(f"kept {name} ({why}; the new one is {new})")
        return lines


def commit(staging, out_dir, ours):
    """Move every file of ``staging`` into ``out_dir`` with a manifest of their digests,
    and remove the old files ``ours`` that no new one replaced.

    Ctrl-C waits for these few renames: the folder is never half old, half new. A full
    disk is found before anything moves (CannotWrite).
    """
    try:
        made = {
            path.relative_to(staging).as_posix(): sha256(path)
            for path in staging.rglob("*")
            if path.is_file()
        }
        (staging / MANIFEST).write_text(json.dumps({"files": made}, indent=1), "utf-8")
    except OSError as exc:
        raise CannotWrite(
            f"cannot write the report ({exc.strerror or exc}); the previous report is unchanged"
        ) from None
    in_main = threading.current_thread() is threading.main_thread()
    received = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append(1)) if in_main else None
    try:
        for name in made:
            (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, out_dir / name)
        for name in ours - set(made):
            (out_dir / name).unlink(missing_ok=True)
        os.replace(staging / MANIFEST, out_dir / MANIFEST)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
