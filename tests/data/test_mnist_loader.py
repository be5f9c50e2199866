"""Tests for course_lib.data.mnist: sources, checksums, cache and faults.

No test touches the internet: mirrors point at a local http.server on 127.0.0.1 that
serves small fabricated IDX files, and every cache folder lives under tmp_path.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import platformdirs
import pytest

from course_lib.data import DataUnavailableError, _catalog, load_mnist, mnist
from course_lib.data._idx import encode_idx, gzip_bytes
from tests.data.support import (
    assert_equal_to,
    write_files,
)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# --- the bundled sample and the output format ------------------------------------------


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot", [True, False])
def test_sample_shapes_and_dtypes(normalize, flatten, one_hot):
    (x, d), (xt, dt) = load_mnist(normalize, flatten, one_hot, source="sample")
    image_shape = (784,) if flatten else (1, 28, 28)
    assert x.shape == (8000, *image_shape) and xt.shape == (2000, *image_shape)
    assert x.dtype == (np.float32 if normalize else np.uint8)
    if normalize:
        assert 0.0 <= x.min() and x.max() == 1.0
    else:
        assert x.max() == 255
    if one_hot:
        assert d.shape == (8000, 10) and dt.shape == (2000, 10) and d.dtype == np.float32
        assert np.all(d.sum(axis=1) == 1)
    else:
        assert d.shape == (8000,) and dt.shape == (2000,) and d.dtype == np.uint8


def test_textbook_call_and_sample_split():
    (x, d), (xt, dt) = load_mnist(normalize=True, one_hot_label=True, source="sample")
    assert x.shape == (8000, 784) and d.shape == (8000, 10)
    labels = d.argmax(axis=1)
    # Stratified: every digit makes up the same share of train and test (within rounding).
    share_train = np.bincount(labels, minlength=10) / len(labels)
    share_test = np.bincount(dt.argmax(axis=1), minlength=10) / len(dt)
    assert np.abs(share_train - share_test).max() < 0.002
    # Digits are mixed, not sorted by class.
    assert len(set(labels[:50].tolist())) > 5


def test_sample_is_checked_against_provenance(monkeypatch, tmp_path):
    copy = write_files(
        tmp_path / "sample", {p.name: p.read_bytes() for p in mnist.SAMPLE_DIR.iterdir()}
    )
    # Same shape, every label changed to 0: a valid file that is not the sample.
    (copy / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip_bytes(encode_idx(np.zeros(2000, np.uint8)))
    )
    monkeypatch.setattr(mnist, "SAMPLE_DIR", copy)
    with pytest.raises(ValueError, match="PROVENANCE"):
        load_mnist(source="sample")
    load_mnist(source="sample", verify=False)  # verify=False accepts it, bad or not


def test_env_var_selects_sample(monkeypatch, server, fake_official):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    monkeypatch.setenv("COURSE_LIB_MNIST_SOURCE", "sample")
    (x, _), _ = load_mnist()
    assert x.shape == (8000, 784)
    assert server.hits == []


def test_invalid_arguments_name_the_choices(monkeypatch):
    with pytest.raises(ValueError, match="'auto', 'local', 'download', 'sample'"):
        load_mnist(source="web")
    with pytest.raises(ValueError, match="'mnist', 'fashion'"):
        load_mnist(dataset="cifar")
    monkeypatch.setenv("COURSE_LIB_MNIST_SOURCE", "bogus")
    with pytest.raises(ValueError, match="COURSE_LIB_MNIST_SOURCE"):
        load_mnist()


# --- downloads --------------------------------------------------------------------------


def test_download_then_cache(monkeypatch, server, fake_official, isolated):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert len(server.hits) == 4
    cache = isolated.user_cache
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(fake_official.files)
    assert (cache / "mnist.npz").is_file()
    # The second load comes from the cache: no request.
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert len(server.hits) == 4
    # The cache holds no pickles.
    with np.load(cache / "mnist.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_wrong_checksum_is_rejected_and_not_kept(
    monkeypatch, server, fake_official, isolated, capsys
):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("bad")])
    with pytest.raises(DataUnavailableError, match="SHA-256 mismatch"):
        load_mnist(source="download", verbose=True)
    assert "SHA-256 mismatch" in capsys.readouterr().out
    leftovers = [p for p in isolated.user_cache.rglob("*") if p.is_file()]
    # Only the note that the download failed (see tests/data/test_network.py), no data.
    assert [p.name for p in leftovers] == ["mnist-download-failed.json"]


def test_wrong_checksum_then_next_mirror(monkeypatch, server, fake_official, capsys):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("bad"), server.url("good")])
    assert_equal_to(load_mnist(normalize=False, verbose=True), fake_official.arrays)
    out = capsys.readouterr().out
    assert out.count(f"{server.url('bad')}") == 4 and out.count("SHA-256 mismatch") == 4


def test_http_errors_are_skipped(monkeypatch, server, fake_official, capsys):
    mirrors = [server.url("404"), server.url("500"), server.url("good")]
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", mirrors)
    assert_equal_to(load_mnist(normalize=False, verbose=True), fake_official.arrays)
    lines = capsys.readouterr().out.splitlines()
    assert sum("HTTP 404" in line and server.url("404") in line for line in lines) == 4
    assert sum("HTTP 500" in line and server.url("500") in line for line in lines) == 4


def test_timeout_is_skipped(monkeypatch, server, fake_official, capsys):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("slow"), server.url("good")])
    start = time.perf_counter()
    assert_equal_to(load_mnist(normalize=False, verbose=True), fake_official.arrays)
    assert time.perf_counter() - start < 4 * 1.0  # gave up before the slow server answered
    out = capsys.readouterr().out
    assert out.count("no answer within 0.3 s") == 4 and server.url("slow") in out


def test_all_mirrors_fail_falls_back_to_sample(monkeypatch, server, capsys):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("404")])
    (x, _), (xt, _) = load_mnist(verbose=True)
    assert x.shape == (8000, 784) and xt.shape == (2000, 784)
    out = capsys.readouterr().out
    assert "bundled sample: 8,000 train / 2,000 test real MNIST digits" in out
    assert f"{server.url('404')}train-images-idx3-ubyte.gz: HTTP 404" in out


def test_source_local_never_downloads(monkeypatch, server, fake_official):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    with pytest.raises(DataUnavailableError, match="no local copy"):
        load_mnist(source="local")
    assert server.hits == []


# --- the cache ----------------------------------------------------------------------------


def _corrupt_truncate(path: Path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _corrupt_garbage(path: Path):
    path.write_bytes(b"not a zip file at all")


def _corrupt_digest(path: Path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["x_train"] = arrays["x_train"].copy()
    arrays["x_train"][0, 0, 0] ^= 0xFF  # silent bit rot: the zip is fine, the data is not
    np.savez(path, **arrays)


@pytest.mark.parametrize("corrupt", [_corrupt_truncate, _corrupt_garbage, _corrupt_digest])
def test_corrupt_cache_is_detected_and_rebuilt(fake_official, isolated, capsys, corrupt):
    write_files(isolated.user_cache / "mnist", fake_official.files)
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    npz = isolated.user_cache / "mnist.npz"
    good_bytes = npz.read_bytes()
    corrupt(npz)
    capsys.readouterr()
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert "rebuilding it" in capsys.readouterr().err
    assert npz.read_bytes() == good_bytes


def test_unofficial_cached_files_are_replaced(monkeypatch, server, fake_official, isolated):
    write_files(isolated.user_cache / "mnist", fake_official.bad)
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert len(server.hits) == 4


def test_checkout_data_folder_is_the_cache(monkeypatch, tmp_path, fake_official):
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    monkeypatch.setattr(mnist, "CHECKOUT_DATA_DIR", checkout / "data")
    assert mnist.cache_dir() == checkout / "data"


def test_read_only_checkout_falls_back_to_user_cache(
    monkeypatch, tmp_path, server, fake_official, isolated
):
    checkout = tmp_path / "checkout"
    data = checkout / "data"
    data.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    monkeypatch.setattr(mnist, "CHECKOUT_DATA_DIR", data)
    data.chmod(0o555)
    try:
        if mnist._is_writable(data):
            # Root ignores permission bits; make the write attempt fail as it would for a
            # student, so the real check-by-writing and the fallback still run.
            real_mkstemp = tempfile.mkstemp

            def refuse(*args, dir=None, **kwargs):
                if dir is not None and Path(dir) == data:
                    raise PermissionError(13, "Permission denied", str(dir))
                return real_mkstemp(*args, dir=dir, **kwargs)

            monkeypatch.setattr(tempfile, "mkstemp", refuse)
        assert mnist.cache_dir() == isolated.user_cache
        monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
        assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
        assert list(data.iterdir()) == []
        assert (isolated.user_cache / "mnist.npz").is_file()
    finally:
        data.chmod(0o755)


# --- local folders and the IDX parser ------------------------------------------------------


def test_data_dir_and_env_var(monkeypatch, tmp_path, fake_official):
    folder = write_files(tmp_path / "mine", fake_official.files)
    assert_equal_to(load_mnist(normalize=False, data_dir=folder), fake_official.arrays)
    monkeypatch.setenv("COURSE_LIB_DATA", str(folder))
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)


def test_data_dir_requires_official_files_unless_verify_false(tmp_path, fake):
    folder = write_files(tmp_path / "subset", fake.files)  # not the official MNIST digests
    with pytest.raises(ValueError, match="not the official 'mnist' release.*verify=False"):
        load_mnist(data_dir=folder)
    assert_equal_to(load_mnist(normalize=False, data_dir=folder, verify=False), fake.arrays)


def test_data_dir_missing_files(tmp_path, fake):
    folder = write_files(
        tmp_path / "partial",
        {"train-images-idx3-ubyte.gz": fake.files["train-images-idx3-ubyte.gz"]},
    )
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(data_dir=folder)


def test_wrong_magic_number_names_the_file(tmp_path, fake):
    files = dict(fake.files)
    idx = encode_idx(fake.arrays[0])
    files["train-images-idx3-ubyte.gz"] = gzip_bytes(b"\x00\x00\x08\x01" + idx[4:])
    folder = write_files(tmp_path / "badmagic", files)
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte\.gz: expected magic number 2051"
    ):
        load_mnist(data_dir=folder, verify=False)


def test_wrong_length_names_the_file(tmp_path, fake):
    files = dict(fake.files)
    files["t10k-labels-idx1-ubyte"] = encode_idx(fake.arrays[3])[:-3]  # plain IDX, truncated
    del files["t10k-labels-idx1-ubyte.gz"]
    folder = write_files(tmp_path / "short", files)
    with pytest.raises(
        ValueError, match=r"t10k-labels-idx1-ubyte: expected 20 data bytes.*found 17"
    ):
        load_mnist(data_dir=folder, verify=False)


def test_truncated_gzip_names_the_file(tmp_path, fake):
    files = dict(fake.files)
    files["train-labels-idx1-ubyte.gz"] = files["train-labels-idx1-ubyte.gz"][:20]
    folder = write_files(tmp_path / "cut", files)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz: not a valid gzip"):
        load_mnist(data_dir=folder, verify=False)


# --- Fashion-MNIST ----------------------------------------------------------------------------


def test_fashion_without_a_source_says_how_to_get_it():
    with pytest.raises(DataUnavailableError, match="apt-get install dataset-fashion-mnist"):
        load_mnist(dataset="fashion")
    with pytest.raises(DataUnavailableError, match="no bundled sample of 'fashion'"):
        load_mnist(dataset="fashion", source="sample")


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist not installed"
)
def test_fashion_from_debian_package(monkeypatch, isolated):
    monkeypatch.setitem(_catalog.SYSTEM_DIRS, "fashion", [DEBIAN_FASHION])
    (x, d), (xt, dt) = load_mnist(dataset="fashion")
    assert x.shape == (60000, 784) and d.shape == (60000,) and xt.shape == (10000, 784)
    assert x.dtype == np.float32 and d.max() == 9
    assert (isolated.user_cache / "fashion.npz").is_file()
    # Now from the cache, even without the Debian folder.
    monkeypatch.setitem(_catalog.SYSTEM_DIRS, "fashion", [])
    (x2, _), _ = load_mnist(dataset="fashion")
    np.testing.assert_array_equal(x, x2)


def test_no_writable_cache_still_gives_the_sample(
    monkeypatch, tmp_path, server, fake_official, capsys
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # nothing, not even root, can create a folder inside a file
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda *a, **k: str(blocker / "cache"))
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    (x, _), _ = load_mnist()
    assert x.shape == (8000, 784)
    out = capsys.readouterr().out
    # Says why the download could not even start, instead of pointing at nothing.
    assert f"cannot write to the cache folder {blocker / 'cache' / 'mnist'}: " in out
    assert "make that folder writable" in out and len(out.splitlines()) == 1
    assert server.hits == []
