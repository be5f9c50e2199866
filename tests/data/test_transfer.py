"""Downloads that never end, fill the disk or blow up memory: each is cut off and cleaned up.

Mirrors are a local http.server on 127.0.0.1 (tests/data/support.py) that trickles,
streams forever, announces 10 GB or serves a gzip bomb. The time limits are shrunk
(DOWNLOAD_TIMEOUT 0.3 s, DOWNLOAD_DEADLINE 1 s) and checked only as "it ends", with
generous margins.
"""

from __future__ import annotations

import logging
import re
import time
import tracemalloc
from pathlib import Path

import pytest

from course_lib.data import DataUnavailableError, _catalog, load_mnist, mnist
from course_lib.data._catalog import FILES, max_download_size
from course_lib.data._stream import StreamCheck
from tests.data.support import (
    LocalServer,
    assert_equal_to,
    gzip_bomb,
    self_signed_tls,
)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


@pytest.fixture
def server(fake):
    """The shared local server, with a 200 MB gzip bomb at /bomb/."""
    with LocalServer(fake, bomb=gzip_bomb(200)) as httpd:
        yield httpd


def _only_the_failure_note(cache: Path) -> None:
    """Nothing half-written is left: no data, no part file, just the failure note."""
    left = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert left == ["mnist-download-failed.json"]


def test_trickle_ends_at_the_deadline(monkeypatch, server, fake_official, isolated):
    monkeypatch.setattr(mnist, "DOWNLOAD_DEADLINE", 1.0)
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("trickle")])
    start = time.monotonic()
    with pytest.raises(DataUnavailableError) as caught:
        load_mnist(source="download")
    assert time.monotonic() - start < 10  # ends: a byte every 50 ms would take minutes
    line = str(caught.value).splitlines()[1]
    assert line == f"  {server.url('trickle')}{TRAIN_IMAGES}: did not finish within 1 s"
    _only_the_failure_note(isolated.user_cache)


def test_endless_stream_is_cut_at_the_official_size(monkeypatch, server, fake_official, isolated):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("endless")])
    start = time.monotonic()
    with pytest.raises(DataUnavailableError) as caught:
        load_mnist(source="download")
    assert time.monotonic() - start < 10
    line = str(caught.value).splitlines()[1]
    url = f"{server.url('endless')}{TRAIN_IMAGES}"
    found = re.fullmatch(
        rf"  {re.escape(url)}: larger than the official file \(over (.+) bytes\)", line
    )
    assert found, line
    # Cut at the IDX size, or at the slightly larger cap for a compressed copy.
    size = fake_official.sizes["train-images-idx3-ubyte"]
    assert size.idx <= int(found[1].replace(",", "")) <= max_download_size(size)
    _only_the_failure_note(isolated.user_cache)


def test_announced_size_beyond_the_cap_is_refused_at_once(
    monkeypatch, server, fake_official, isolated
):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("huge")])
    with pytest.raises(DataUnavailableError, match=r"offers 10,000,000,000 bytes, more than"):
        load_mnist(source="download")
    _only_the_failure_note(isolated.user_cache)


def test_gzip_bomb_is_stopped_without_holding_it(monkeypatch, server, isolated):
    # The real MNIST caps (47 MB of IDX for the training images), a 200 MB bomb.
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("bomb")])
    tracemalloc.start()
    try:
        with pytest.raises(DataUnavailableError) as caught:
            load_mnist(source="download")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"held {peak / 2**20:.0f} MiB while checking a download"
    line = str(caught.value).splitlines()[1]
    assert line.endswith(
        f"{TRAIN_IMAGES}: larger than the official file once decompressed (over 47,040,016 bytes)"
    )
    _only_the_failure_note(isolated.user_cache)


def test_failure_lines_name_the_url_never_a_temporary_file(
    monkeypatch, server, fake_official, tmp_path, caplog
):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("corrupt")])
    with caplog.at_level(logging.INFO, logger="course_lib.data"):
        with pytest.raises(DataUnavailableError) as caught:
            load_mnist(source="download")
    url = f"{server.url('corrupt')}{TRAIN_IMAGES}"
    line = str(caught.value).splitlines()[1]
    assert line.startswith(f"  {url}: not a valid gzip file (")
    logged = [r.getMessage() for r in caplog.records]
    assert f"course_lib: {url}: not a valid gzip file" in logged[0]
    assert not any(".part" in text or str(tmp_path) in text for text in [line, *logged])


def test_proxy_from_the_environment_is_used(monkeypatch, server, fake_official):
    # mirror.invalid cannot resolve; only the proxy (our server) can answer for it.
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", ["http://mirror.invalid/good/"])
    monkeypatch.setenv("http_proxy", server.base)
    monkeypatch.setenv("HTTP_PROXY", server.base)
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert server.hits[0] == f"http://mirror.invalid/good/{TRAIN_IMAGES}"


def test_https_checks_the_certificate(monkeypatch, tmp_path, fake_official):
    tls = self_signed_tls(tmp_path)
    if tls is None:
        pytest.skip("needs the openssl command to make a certificate")
    context, cert = tls
    with LocalServer(fake_official, tls=context) as httpd:
        assert httpd.base.startswith("https://")
        monkeypatch.setitem(_catalog.MIRRORS, "mnist", [httpd.url("good")])
        with pytest.raises(DataUnavailableError, match="TLS certificate not trusted"):
            load_mnist(source="download")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now trusted: the download works
        assert_equal_to(load_mnist(normalize=False, source="download"), fake_official.arrays)


def test_progress_bar_runs_on_a_real_download(monkeypatch, server, fake_official, capsys):
    monkeypatch.setattr(mnist, "PROGRESSBAR", True)
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert TRAIN_IMAGES in capsys.readouterr().err  # tqdm draws on stderr in a terminal


def test_mirrors_are_https_first(monkeypatch):
    monkeypatch.undo()  # the real mirror lists, not the emptied ones of the isolation
    for dataset, mirrors in _catalog.MIRRORS.items():
        schemes = [url.split(":", 1)[0] for url in mirrors]
        assert schemes == sorted(schemes, key=lambda s: s != "https"), dataset
        assert schemes[0] == "https", dataset


def test_official_sizes_agree_with_the_shapes(monkeypatch):
    monkeypatch.undo()
    for dataset, sizes in _catalog.SIZES.items():
        assert list(sizes) == list(FILES), dataset
        shapes = [_catalog.idx_shape(name, sizes[name].idx) for name in FILES]
        assert shapes == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)], dataset
        for size in sizes.values():
            assert size.gz < size.idx <= max_download_size(size)


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist not installed"
)
def test_caps_admit_debians_recompressed_files():
    # Debian's .gz files differ from the originals (other size, other SHA-256 of the .gz).
    for name in FILES:
        path = DEBIAN_FASHION / f"{name}.gz"
        size = _catalog.SIZES["fashion"][name]
        assert path.stat().st_size != size.gz
        check = StreamCheck(max_size=max_download_size(size), max_idx=size.idx)
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                check.update(chunk)
        checked = check.finish()
        assert _catalog.SHA256["fashion"][name].matches(checked.file_sha256, checked.idx_sha256)
