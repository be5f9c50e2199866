"""Part files of interrupted downloads are swept; a download running right now is not.

Real processes do the downloading here: a child runs ``load_mnist(source='download')``
against a local server whose /gate/ mirror sends half a file and then waits, so the
child is caught mid-download with its part file on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from course_lib.data import DataUnavailableError, _parts, load_mnist
from tests.data.support import (
    assert_equal_to,
    start_child_download,
    wait_for,
    write_files,
)

HOUR = 3600.0


def _parts_in(folder):
    return sorted(folder.glob(f".*{_parts.SUFFIX}")) if folder.is_dir() else []


def _child_mid_download(server, isolated, fake):
    """A child process stuck halfway through train-images, and its part file."""
    child = start_child_download(isolated.user_cache, [server.url("gate")], fake)
    folder = isolated.user_cache / "mnist"
    if not wait_for(lambda: _parts_in(folder) and _parts_in(folder)[0].stat().st_size > 0):
        child.kill()
        pytest.fail(f"the child never started downloading: {child.communicate()}")
    return child, _parts_in(folder)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["KILL", "TERM"])
def test_part_left_by_a_killed_download_is_swept(server, fake_official, isolated, sig):
    child, parts = _child_mid_download(server, isolated, fake_official)
    child.send_signal(sig)
    child.communicate(timeout=20)
    assert _parts_in(isolated.user_cache / "mnist") == parts  # the killed process left it

    write_files(isolated.user_cache / "mnist", fake_official.files)
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert _parts_in(isolated.user_cache / "mnist") == []


def test_download_in_progress_elsewhere_is_left_alone(server, fake_official, isolated):
    # This process loads from files already there while another one re-downloads them.
    write_files(isolated.user_cache / "mnist", fake_official.files)
    child, parts = _child_mid_download(server, isolated, fake_official)
    try:
        assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
        with pytest.raises(DataUnavailableError):
            load_mnist(source="local", dataset="fashion")  # sweeps the cache folder again
        assert _parts_in(isolated.user_cache / "mnist") == parts
        server.gate.set()
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "child done" in out
    assert _parts_in(isolated.user_cache / "mnist") == []


def _part(folder, name, *, host=_parts.HOST, pid=None, age=0.0):
    folder.mkdir(parents=True, exist_ok=True)
    pid = os.getpid() if pid is None else pid
    path = folder / f".{name}.{host}.{pid}.0a1b2c3d{_parts.SUFFIX}"
    path.write_bytes(b"half a file")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_and_live_parts_are_told_apart(isolated):
    root = isolated.user_cache
    folder = root / "mnist"
    stale = [
        _part(folder, "a.gz", pid=_dead_pid()),  # this host, its process is gone
        _part(folder, "b.gz", host="other-host", age=HOUR),  # another host, long quiet
        _part(root, "mnist.npz", pid=_dead_pid()),  # an interrupted cache write
        _part(root, "mnist-download-failed.json", host="other-host", age=HOUR),
        # Its pid runs (pid 1 always does), but no download stays quiet that long and
        # holds no lock: the number was reused.
        _part(folder, "e.gz", pid=1, age=HOUR),
    ]
    legacy = folder / ".t10k-labels-idx1-ubyte.k2j4_9x.part"  # an older course_lib's name
    legacy.write_bytes(b"x")
    os.utime(legacy, (time.time() - HOUR, time.time() - HOUR))
    live = [
        _part(folder, "c.gz"),  # this process: running
        _part(folder, "d.gz", host="other-host"),  # another host, written just now
    ]
    with pytest.raises(DataUnavailableError):
        load_mnist(source="local")
    assert all(p.exists() for p in live)
    assert not any(p.exists() for p in [*stale, legacy])


def test_locked_part_is_kept_even_when_old(isolated):
    # A lock proves a live writer, whatever the name or the clock says (containers
    # sharing a folder have unrelated process ids).
    folder = isolated.user_cache / "mnist"
    with _parts.PartFile(folder / "x.gz") as part:
        old = time.time() - HOUR
        os.utime(part.path, (old, old))
        renamed = part.path.with_name(f".x.gz.{_parts.HOST}.{_dead_pid()}.00{_parts.SUFFIX}")
        part.path.rename(renamed)
        part.path = renamed
        assert _parts.clean_stale(folder, older_than=60) == []
        assert renamed.exists()
    assert not renamed.exists()  # removed by its own writer on the way out


def test_interrupted_cache_write_leaves_nothing(monkeypatch, fake_official, isolated, capsys):
    write_files(isolated.user_cache / "mnist", fake_official.files)

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("numpy.savez", crash)
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert "could not write the cache" in capsys.readouterr().err
    assert _parts_in(isolated.user_cache) == [] and not (isolated.user_cache / "mnist.npz").exists()


def test_sweeping_a_read_only_or_missing_folder_is_harmless(tmp_path):
    assert _parts.clean_stale(tmp_path / "missing", older_than=0) == []
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return  # root may delete anything; the permission check cannot be observed
    part = _part(tmp_path / "ro", "x.gz", pid=_dead_pid())
    (tmp_path / "ro").chmod(0o555)
    try:
        assert _parts.clean_stale(tmp_path / "ro", older_than=0) == []
        assert part.exists()
    finally:
        (tmp_path / "ro").chmod(0o755)
