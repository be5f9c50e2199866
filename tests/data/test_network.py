"""A network that never answers, an offline start, and the note that remembers a failure.

The silent server accepts TCP connections and never says a word (like a proxy that
swallows requests); it counts the connections, so a test can tell whether a load
contacted it at all.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings

import pytest

from course_lib.data import DataUnavailableError, _catalog, load_arrays, load_mnist, mnist
from tests.data.support import (
    SilentServer,
    assert_equal_to,
    closed_port_url,
)

OFFLINE_LINE = (
    "course_lib: full MNIST could not be downloaded (offline: no mirror could be reached), "
    "so this uses the bundled sample: 8,000 train / 2,000 test real MNIST digits. To get full "
    "MNIST, connect to the internet once, or set COURSE_LIB_DATA (or pass data_dir=) to a "
    "folder with the four MNIST .gz files."
)


def _marker(isolated):
    return isolated.user_cache / "mnist-download-failed.json"


def test_defaults_fail_fast_yet_let_a_slow_download_finish(monkeypatch):
    monkeypatch.undo()  # the shipped values, not the test's
    assert 5 <= mnist.DOWNLOAD_TIMEOUT <= 10  # a silent network: 3 mirrors in 30 s at most
    assert mnist.DOWNLOAD_DEADLINE >= 120  # 9.9 MB on a slow school network
    assert 10 * 60 <= mnist.RETRY_AFTER <= 30 * 60


def test_silent_server_fails_fast_and_is_remembered(monkeypatch, isolated, capsys):
    monkeypatch.setattr(mnist, "DOWNLOAD_TIMEOUT", 0.5)
    with SilentServer() as silent:
        monkeypatch.setitem(_catalog.MIRRORS, "mnist", [silent.url])
        start = time.monotonic()
        (x, _), _ = load_mnist()
        assert time.monotonic() - start < 5  # the short timeout, not the whole deadline
        assert x.shape == (8000, 784) and len(silent.connections) == 1
        assert capsys.readouterr().out == OFFLINE_LINE + "\n"

        # Within the time-to-live: straight to the sample, no connection at all.
        load_mnist()
        assert len(silent.connections) == 1
        out = capsys.readouterr().out
        assert out.startswith(
            "course_lib: full MNIST could not be downloaded less than a minute ago "
            "(offline: no mirror could be reached; next try in 15 min, "
            "or now with source='download'), so this uses the bundled sample"
        )

        # After it: tried again.
        monkeypatch.setattr(mnist, "RETRY_AFTER", 0.0)
        load_mnist()
        assert len(silent.connections) == 2


def test_source_download_always_tries_and_clears_the_note(
    monkeypatch, server, fake_official, isolated
):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [closed_port_url()])
    load_mnist()
    assert _marker(isolated).is_file()
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    load_mnist()  # still remembered: no request
    assert server.hits == []
    assert_equal_to(load_mnist(normalize=False, source="download"), fake_official.arrays)
    assert len(server.hits) == 4 and not _marker(isolated).exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"[1, 2]",
        b'{"failed_at": "yesterday", "cause": "x"}',
        b'{"failed_at": NaN, "cause": "x"}',
        json.dumps({"failed_at": time.time() + 86400, "cause": "from the future"}).encode(),
        b"\xff\xfe garbage",
    ],
)
def test_damaged_note_is_ignored(monkeypatch, server, fake_official, isolated, content):
    _marker(isolated).parent.mkdir(parents=True)
    _marker(isolated).write_bytes(content)
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert len(server.hits) == 4 and not _marker(isolated).exists()


def test_note_is_written_whole_or_not_at_all(monkeypatch, isolated):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [closed_port_url()])

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", no_rename)
        load_mnist()  # the note cannot be put in place: the load still ends with the sample
    assert [p for p in isolated.user_cache.rglob("*") if p.is_file()] == []

    load_mnist()
    note = json.loads(_marker(isolated).read_text())
    assert note["cause"] == "offline: no mirror could be reached" and note["failed_at"] > 0
    left = [p.name for p in isolated.user_cache.rglob("*") if p.is_file()]
    assert left == [_marker(isolated).name]  # and no part file


def test_offline_start_is_one_calm_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [closed_port_url() for _ in range(3)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (x, _), _ = load_mnist()
    assert x.shape == (8000, 784)
    captured = capsys.readouterr()
    assert captured.out == OFFLINE_LINE + "\n"  # stdout: not a pink block in Jupyter
    assert captured.err == "" and caught == []
    assert str(tmp_path) not in captured.out


def test_verbose_and_logging_show_each_mirror(monkeypatch, caplog, capsys):
    urls = [closed_port_url(), closed_port_url()]
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", urls)
    with caplog.at_level(logging.INFO, logger="course_lib.data"):
        load_mnist()
    logged = [r.getMessage() for r in caplog.records if r.name == "course_lib.data"]
    for url in urls:
        assert f"course_lib: {url}train-images-idx3-ubyte.gz: connection refused" in logged
    assert len(capsys.readouterr().out.splitlines()) == 1

    monkeypatch.setattr(mnist, "RETRY_AFTER", 0.0)
    load_arrays(verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"course_lib: {url}train-images-idx3-ubyte.gz: connection refused" for url in urls
    ] + [OFFLINE_LINE]


def test_fashion_offline_is_one_error_line(monkeypatch):
    monkeypatch.setitem(_catalog.MIRRORS, "fashion", [closed_port_url()])
    with pytest.raises(DataUnavailableError) as caught:
        load_mnist(dataset="fashion")
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(
        "could not download Fashion-MNIST (offline: no mirror could be reached). To get it, "
    )


def test_env_sample_with_fashion_names_the_variable(monkeypatch):
    monkeypatch.setenv("COURSE_LIB_MNIST_SOURCE", "sample")
    with pytest.raises(DataUnavailableError) as caught:
        load_mnist(dataset="fashion")
    message = str(caught.value)
    assert "COURSE_LIB_MNIST_SOURCE=sample" in message and "unset" in message
    assert "apt-get" not in message  # installing the package would not help
