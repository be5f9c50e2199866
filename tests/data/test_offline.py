"""Offline, behind a silent proxy, with a folder that cannot be written, after a kill.

The silent server accepts TCP connections and never says a word (like a proxy that
swallows requests); it counts the connections, so a test can tell whether a load
contacted it at all.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from pathlib import Path

import platformdirs
import pytest

from course_lib.data import DataUnavailableError, load_mnist, mnist
from tests.data.support import (
    SilentServer,
    assert_equal_to,
    closed_port_url,
    files_in,
    start_child_download,
    write_files,
)

OFFLINE_LINE = (
    "course_lib: full MNIST could not be downloaded (offline: no mirror could be reached), "
    "so this uses the bundled sample: 8,000 train / 2,000 test real MNIST digits. To get full "
    "MNIST, connect to the internet once, or set COURSE_LIB_DATA (or pass data_dir=) to a "
    "folder with the four MNIST .gz files."
)


def _marker(isolated):
    return isolated.user_cache / "mnist-download-failed"


def test_offline_start_is_one_calm_line(monkeypatch, tmp_path, capsys, caplog):
    mirrors = [closed_port_url() for _ in range(3)]
    monkeypatch.setitem(mnist.MIRRORS, "mnist", mirrors)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO):
        warnings.simplefilter("always")
        data = load_mnist()
    logged = [r.getMessage() for r in caplog.records if r.name == "course_lib.data"]
    name = "train-images-idx3-ubyte.gz"
    assert logged == [f"course_lib: {url}{name}: Connection refused" for url in mirrors]
    assert data.source == "sample" and data[0][0].shape == (8000, 784)
    captured = capsys.readouterr()
    assert captured.out == OFFLINE_LINE + "\n"  # stdout: not a pink block in Jupyter
    assert captured.err == "" and caught == []
    assert str(tmp_path) not in captured.out


def test_silent_server_fails_fast_and_is_remembered(monkeypatch, isolated, capsys):
    monkeypatch.setattr(mnist, "TIMEOUT", 0.5)
    with SilentServer() as silent:
        monkeypatch.setitem(mnist.MIRRORS, "mnist", [silent.url])
        start = time.monotonic()
        assert load_mnist().source == "sample"
        assert time.monotonic() - start < 5  # the short timeout, not the whole deadline
        assert len(silent.connections) == 1
        assert capsys.readouterr().out == OFFLINE_LINE + "\n"

        # Within RETRY_AFTER: straight to the sample, no connection at all.
        load_mnist()
        assert len(silent.connections) == 1
        assert capsys.readouterr().out.startswith(
            "course_lib: full MNIST could not be downloaded (a try less than 15 min ago "
            "failed; source='download' tries again now), so this uses the bundled sample"
        )

        # After it: tried again.
        monkeypatch.setattr(mnist, "RETRY_AFTER", 0.0)
        load_mnist()
        assert len(silent.connections) == 2


def test_a_mirror_that_answers_wrongly_is_not_offline(monkeypatch, server, capsys):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("404")])
    assert load_mnist().source == "sample"
    assert capsys.readouterr().out.startswith(
        "course_lib: full MNIST could not be downloaded (no mirror delivered the official "
        "files; verbose=True shows why), so this uses the bundled sample"
    )


def test_source_download_always_tries_and_clears_the_note(
    monkeypatch, server, fake_official, isolated
):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [closed_port_url()])
    load_mnist()
    assert _marker(isolated).exists()
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    load_mnist()  # still remembered: no request
    assert server.hits == []
    assert_equal_to(load_mnist(normalize=False, source="download"), fake_official.arrays)
    assert len(server.hits) == 4 and not _marker(isolated).exists()


@pytest.mark.parametrize("age", [-86400, mnist.RETRY_AFTER + 1], ids=["future", "old"])
def test_note_from_the_future_or_old_is_ignored(monkeypatch, server, fake_official, isolated, age):
    # From the future: another host's clock, on a shared folder.
    write_files(isolated.user_cache, {_marker(isolated).name: b""})
    then = time.time() - age
    os.utime(_marker(isolated), (then, then))
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert len(server.hits) == 4 and not _marker(isolated).exists()


def test_note_that_cannot_be_written_does_not_stop_the_load(monkeypatch, isolated):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [closed_port_url()])

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(Path, "touch", disk_full)
        assert load_mnist().source == "sample"  # no note: the load still ends with the sample
    assert files_in(isolated.user_cache) == []
    load_mnist()
    assert files_in(isolated.user_cache) == ["mnist-download-failed"]


def test_fashion_offline_is_one_error_line(monkeypatch):
    monkeypatch.setitem(mnist.MIRRORS, "fashion", [closed_port_url()])
    with pytest.raises(DataUnavailableError) as caught:
        load_mnist(dataset="fashion")
    assert str(caught.value) == (
        "Fashion-MNIST is not available (offline: no mirror could be reached). To get it, "
        "install Debian's dataset-fashion-mnist, connect to the internet once, or set "
        "COURSE_LIB_DATA (or pass data_dir=) to a folder with the four Fashion-MNIST .gz files."
    )


def test_env_sample_with_fashion_names_the_variable(monkeypatch):
    monkeypatch.setenv("COURSE_LIB_MNIST_SOURCE", "sample")
    with pytest.raises(DataUnavailableError, match="COURSE_LIB_MNIST_SOURCE=sample asks for it"):
        load_mnist(dataset="fashion")


def test_no_writable_cache_still_gives_the_sample(monkeypatch, tmp_path, server, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # nothing, not even root, can create a folder inside a file
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda *a, **k: str(blocker / "cache"))
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    assert load_mnist().source == "sample"
    out, err = capsys.readouterr()
    assert f"(cannot write to the cache folder {blocker / 'cache' / 'mnist'}: " in out
    assert "; make it writable)" in out and len(out.splitlines()) == 1 and err == ""
    with pytest.raises(DataUnavailableError, match="cannot write to the cache folder"):
        load_mnist(source="download")  # asked for full data: an error, not the sample
    assert server.hits == []


def test_a_download_running_elsewhere_is_left_alone(server, fake_official, isolated):
    # This process loads from files already there while another one downloads into the folder.
    child = start_child_download(isolated.user_cache, [server.url("gate")], fake_official)
    try:
        assert server.half_sent.wait(20), child.communicate()
        write_files(isolated.user_cache / "mnist", fake_official.files)
        assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
        server.gate.set()
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 0 and "child done" in out, err
    assert files_in(isolated.user_cache) == ["mnist.npz"] + [
        f"mnist/{name}" for name in sorted(fake_official.files)
    ]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["KILL", "TERM"])
def test_a_killed_download_does_not_stop_the_next_load(
    monkeypatch, server, fake_official, isolated, sig
):
    child = start_child_download(isolated.user_cache, [server.url("gate")], fake_official)
    try:
        assert server.half_sent.wait(20), child.communicate()
        child.send_signal(sig)
        child.communicate(timeout=20)
    finally:
        child.kill()
    # At most pooch's temporary file with half a download is left: nothing reads it.
    assert all(name.startswith("mnist/tmp") for name in files_in(isolated.user_cache))
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    data = load_mnist(normalize=False)
    assert_equal_to(data, fake_official.arrays)
    assert data.source == "download"
