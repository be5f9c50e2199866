"""Writing files without losing any: the rules ``run``, ``notebooks`` and ``reproduce`` share.

A file is written whole or not at all; a file that is there is never overwritten unless
this package wrote it and nobody changed it since; a folder written as a whole (a report)
is built beside its place under a lock and moved in only when complete.
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
    """A file could not be written (a full disk or quota, a read-only folder); nothing
    half-written is left behind, and the message says where."""


class OutputFolderError(ValueError):
    """The output folder is not one we may write into; the message says why."""


def sha256(path):
    """The SHA-256 of the file at ``path``, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def numbered(path, n):
    """``path`` (a Path) for n == 1, else 'stem (n).suffix': the names tried beside it."""
    return path if n == 1 else path.with_name(f"{path.stem} ({n}){path.suffix}")


def writable_folder(folder):
    """``folder`` as a Path, made if it is not there; ValueError if it is a file,
    CannotWrite unless a file can be written in it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder; choose a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # An unnamed probe: two programs checking the same folder at once never meet.
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"x")
            probe.flush()
    except OSError as exc:
        raise CannotWrite(f"cannot write in {folder} ({exc.strerror or exc})") from None
    return folder


def claim_free_name(path):
    """Create the first free one of path, 'name (2).ext', ... empty and exclusively, so
    two writers at once never take the same; returns it."""
    n = 1
    while True:
        try:
            os.close(os.open(numbered(path, n), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return numbered(path, n)
        except FileExistsError:
            n += 1


def write_file(path, data, replaces=None):
    """Write the bytes ``data`` to ``path`` whole (a temporary file renamed) or not at all.

    Returns the path written: the first free one of path, 'name (2).ext', ... or, given
    ``replaces``, ``path`` if it still has that SHA-256 (else None: an autosave meanwhile
    is kept). CannotWrite if it cannot be written, leaving nothing behind.
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
        if replaces is None:
            path = claim_free_name(path)
        elif not path.is_file() or sha256(path) != replaces:
            return None
        shutil.copymode(path, temporary)  # the permissions of a file made as usual
        os.replace(temporary, path)
        return path
    except OSError as exc:
        raise CannotWrite(f"cannot write {path} ({exc.strerror or exc})") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def _previous_files(out_dir):
    """{name: SHA-256} of the files written into ``out_dir`` before ({} if new or empty);
    OutputFolderError if it is a file, or a folder with files but no manifest."""
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


class FolderContent:
    """The new content of ``out_dir``: built in ``staging`` beside it by ``write()``,
    moved in by ``commit()``. Old files unchanged since written (the manifest keeps their
    SHA-256) are ``ours`` to replace; any other keeps its name, the new one takes 'name (2)'.
    """

    def __init__(self, out_dir, staging):
        self.out_dir = out_dir
        self.staging = staging
        self.ours = set()  # old files that commit() may replace or remove
        self.kept = {}  # {name: the line that says why it is left as the user had it}
        for name, digest in _previous_files(out_dir).items():
            target = (out_dir / name).resolve()
            # Only files inside out_dir: a manifest edited to point elsewhere replaces nothing.
            inside = target.is_relative_to(out_dir.resolve()) and target.is_file()
            if inside and digest is not None and sha256(target) == digest:
                self.ours.add(name)
            elif os.path.lexists(out_dir / name):
                self.kept[name] = f"kept {name} (changed since reproduce wrote it)"

    def write(self, name, data):
        """Write ``data`` (bytes or text) as the file ``name`` (a relative POSIX path);
        returns the name it was given."""
        n = 1
        given = name
        while (self.staging / given).exists() or (
            given not in self.ours and os.path.lexists(self.out_dir / given)
        ):
            n += 1
            given = str(numbered(PurePosixPath(name), n))
        if given != name:
            why = "changed since reproduce wrote it" if name in self.kept else "not ours"
            self.kept[name] = f"kept {name} ({why}; the new one is {given})"
        (self.staging / given).parent.mkdir(parents=True, exist_ok=True)
        (self.staging / given).write_bytes(data.encode() if isinstance(data, str) else data)
        return given

    def commit(self):
        """Move every new file into ``out_dir`` with a manifest of their digests, and
        remove the old files of ours that no new one replaced."""
        made = {
            path.relative_to(self.staging).as_posix(): sha256(path)
            for path in self.staging.rglob("*")
            if path.is_file()
        }
        (self.staging / MANIFEST).write_text(json.dumps({"files": made}, indent=1), "utf-8")
        # Ctrl-C waits for these few renames: the folder is never half old, half new.
        in_main = threading.current_thread() is threading.main_thread()
        received = []
        previous = signal.signal(signal.SIGINT, lambda *_: received.append(1)) if in_main else None
        try:
            for name in made:
                (self.out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.staging / name, self.out_dir / name)
            for name in self.ours - set(made):
                (self.out_dir / name).unlink(missing_ok=True)
            os.replace(self.staging / MANIFEST, self.out_dir / MANIFEST)
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


@contextlib.contextmanager
def folder_content(out_dir):
    """Lock ``out_dir`` and yield its new FolderContent, built beside it.

    CannotWrite if it could not be built there and moved in; OutputFolderError if the
    folder is not ours to write, or a second writer holds its lock (an flock: the system
    drops it when the process ends, however it ends).
    """
    parent, name = out_dir.resolve().parent, out_dir.resolve().name  # also for --out .
    try:
        for folder in (parent, out_dir) if out_dir.is_dir() else (parent,):
            writable_folder(folder)
    except CannotWrite as exc:
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
            yield FolderContent(out_dir, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            lock_path.unlink(missing_ok=True)  # while still held
