"""Downloads through pooch from the mirrors in turn; every fault ends with one line.

Mirrors are a local http.server on 127.0.0.1 (tests/data/support.py) that sends wrong
bytes, HTTP errors, nothing, a trickle, an endless stream or a gzip bomb. Each failure
leaves nothing in the cache but the (empty) note that remembers it. Time limits are shrunk
(TIMEOUT 0.3 s, DEADLINE 1 to 5 s) and checked only as "it ends", with generous margins.
"""

from __future__ import annotations

import logging
import time
import tracemalloc

import pooch
import pytest

from course_lib.data import DataUnavailableError, load_mnist, mnist
from tests.data.support import LocalServer, assert_equal_to, files_in, self_signed_tls

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


def _download_fails(server, mode, monkeypatch, isolated, capsys) -> str:
    """The one line load_mnist(source='download') prints for one mirror before its one-line
    error; asserts that nothing is kept."""
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url(mode)])
    start = time.monotonic()
    with pytest.raises(DataUnavailableError) as caught:
        load_mnist(source="download")
    assert time.monotonic() - start < 15
    assert files_in(isolated.user_cache) == ["mnist-download-failed"]  # no data, no temp file
    assert str(caught.value).startswith(
        "MNIST is not available (no mirror delivered the official files). To get it, connect "
    )
    [line] = capsys.readouterr().out.splitlines()
    return line


def test_good_mirror(monkeypatch, server, fake_official, isolated):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    said = []  # what pooch's own logger lets through (it prints to stderr)
    listener = logging.Handler()
    listener.emit = said.append
    pooch.get_logger().addHandler(listener)
    try:
        data = load_mnist(normalize=False)
    finally:
        pooch.get_logger().removeHandler(listener)
    assert_equal_to(data, fake_official.arrays)
    assert data.source == "download"
    assert server.hits == [f"/good/{name}" for name in fake_official.files]
    assert said == []  # "Downloading data from ..." four times, in pink, in Jupyter


def test_wrong_checksum_is_rejected_and_not_kept(
    monkeypatch, server, fake_official, isolated, capsys
):
    line = _download_fails(server, "bad", monkeypatch, isolated, capsys)
    url = server.url("bad") + TRAIN_IMAGES
    assert line == f"course_lib: {url}: SHA-256 mismatch: not the official file"


def test_gzip_bomb_is_refused_without_being_opened(
    monkeypatch, server, fake_official, isolated, capsys
):
    tracemalloc.start()
    try:
        line = _download_fails(server, "bomb", monkeypatch, isolated, capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert line.endswith(f"{TRAIN_IMAGES}: SHA-256 mismatch: not the official file")
    assert peak < 16 * 2**20, f"held {peak / 2**20:.0f} MiB for a 200 KB download"


def test_trickle_ends_at_the_deadline(monkeypatch, server, fake_official, isolated, capsys):
    monkeypatch.setattr(mnist, "DEADLINE", 1.0)
    line = _download_fails(server, "trickle", monkeypatch, isolated, capsys)
    assert line == f"course_lib: {server.url('trickle')}{TRAIN_IMAGES}: did not finish within 1 s"


@pytest.mark.parametrize("mode", ["endless", "huge"])
def test_endless_answer_is_cut_at_the_size_cap(
    monkeypatch, server, fake_official, isolated, capsys, mode
):
    monkeypatch.setattr(mnist, "MAX_BYTES", 1_000_000)
    line = _download_fails(server, mode, monkeypatch, isolated, capsys)
    assert line.endswith(f"{TRAIN_IMAGES}: larger than any official file (1,000,000 bytes)")


def test_connection_cut_short_is_refused(monkeypatch, server, fake_official, isolated, capsys):
    line = _download_fails(server, "short", monkeypatch, isolated, capsys)
    assert line.endswith(f"{TRAIN_IMAGES}: SHA-256 mismatch: not the official file")


def test_size_cap_admits_every_official_file():
    # The official .gz sizes (torchvision's and the Fashion-MNIST README's figures).
    assert mnist.MAX_BYTES >= max(9_912_422, 1_648_877, 26_421_880, 4_422_102)


def test_each_failed_mirror_is_one_line_and_the_next_is_tried(
    monkeypatch, server, fake_official, capsys, caplog
):
    mirrors = [server.url("404"), server.url("500"), server.url("bad"), server.url("slow")]
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [*mirrors, server.url("good")])
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="course_lib.data"):
        assert_equal_to(load_mnist(normalize=False, verbose=True), fake_official.arrays)
    assert time.monotonic() - start < 4 * 1.0  # gave up on /slow/ before it answered
    reasons = ["HTTP 404 Not Found", "HTTP 500 Internal Server Error"]
    reasons += ["SHA-256 mismatch: not the official file", "no answer within 0.3 s"]
    expected = [
        f"course_lib: {url}{name}: {reason}"
        for name in fake_official.files
        for url, reason in zip(mirrors, reasons, strict=True)
    ]
    assert capsys.readouterr().out.splitlines() == expected
    assert [r.getMessage() for r in caplog.records if r.name == "course_lib.data"] == expected


def test_proxy_from_the_environment_is_used(monkeypatch, server, fake_official):
    # mirror.invalid cannot resolve; only the proxy (our server) can answer for it.
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ["http://mirror.invalid/good/"])
    monkeypatch.setenv("http_proxy", server.base)
    monkeypatch.setenv("HTTP_PROXY", server.base)
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert server.hits[0] == f"http://mirror.invalid/good/{TRAIN_IMAGES}"


def test_https_checks_the_certificate(monkeypatch, tmp_path, fake_official, isolated, capsys):
    tls = self_signed_tls(tmp_path)
    if tls is None:
        pytest.skip("needs the openssl command to make a certificate")
    context, cert = tls
    with LocalServer(fake_official, tls=context) as httpd:
        monkeypatch.setitem(mnist.MIRRORS, "mnist", [httpd.url("good")])
        with pytest.raises(DataUnavailableError, match="MNIST is not available"):
            load_mnist(source="download")
        assert "certificate verify failed" in capsys.readouterr().out
        assert files_in(isolated.user_cache) == ["mnist-download-failed"]
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now trusted: the download works
        assert_equal_to(load_mnist(normalize=False, source="download"), fake_official.arrays)


def test_progress_bar_runs_on_a_real_download(monkeypatch, server, fake_official, capsys):
    monkeypatch.setattr(mnist, "PROGRESSBAR", True)
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert TRAIN_IMAGES in capsys.readouterr().err  # tqdm draws on stderr in a terminal


def test_mirrors_are_https_first(monkeypatch):
    monkeypatch.undo()  # the real mirror lists, not the emptied ones of the isolation
    for dataset, mirrors in mnist.MIRRORS.items():
        schemes = [url.split(":", 1)[0] for url in mirrors]
        assert schemes == sorted(schemes, key=lambda s: s != "https"), dataset
        assert schemes[0] == "https", dataset


def test_defaults_fail_fast_yet_let_a_slow_download_finish(monkeypatch):
    monkeypatch.undo()  # the shipped values, not the test's
    assert 5 <= mnist.TIMEOUT <= 10  # a silent network: 3 mirrors in 30 s at most
    assert mnist.DEADLINE >= 120  # 9.9 MB on a slow school network
    assert 10 * 60 <= mnist.RETRY_AFTER <= 30 * 60  # a lesson's notebooks, not a whole day
