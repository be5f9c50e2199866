"""load_mnist: the textbook's format, the sources in order, and LoadedData saying which.

Mirrors point at a local http.server on 127.0.0.1 (tests/data/support.py) and every
cache folder lives under tmp_path.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from course_lib.data import DataUnavailableError, LoadedData, load_mnist, mnist
from tests.data.support import (
    assert_equal_to,
    closed_port_url,
    encode_idx,
    files_in,
    gzip_bytes,
    make_fake,
    make_official,
    write_files,
)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
TRAIN = "train-images-idx3-ubyte"


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


def test_flatten_and_normalize_keep_every_pixel():
    (x, _), _ = load_mnist(normalize=False, flatten=False, source="sample")
    (flat, _), _ = load_mnist(normalize=True, flatten=True, source="sample")
    np.testing.assert_array_equal(flat, x.reshape(8000, 784).astype(np.float32) / 255)


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
    copy_dir = write_files(
        tmp_path / "sample", {p.name: p.read_bytes() for p in mnist.SAMPLE_DIR.iterdir()}
    )
    # Same shape, every label changed to 0: a valid file that is not the sample.
    (copy_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip_bytes(encode_idx(np.zeros(2000, np.uint8)))
    )
    monkeypatch.setattr(mnist, "SAMPLE_DIR", copy_dir)
    with pytest.raises(ValueError, match="PROVENANCE"):
        load_mnist(source="sample")
    assert load_mnist(source="sample", verify=False)[1][1].max() == 0  # own files: accepted


def test_sample_files_are_what_the_build_script_writes():
    # scripts/build_mnist_sample.py turns the sample's arrays back into its exact files.
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_mnist_sample.py"
    spec = importlib.util.spec_from_file_location("build_mnist_sample", script)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    (x, d), (xt, dt) = load_mnist(normalize=False, flatten=False, source="sample")
    for name, array in zip(mnist.FILES, [x[:, 0], d, xt[:, 0], dt], strict=True):
        written = build.gzip_bytes(build.encode_idx(array))
        assert written == (mnist.SAMPLE_DIR / f"{name}.gz").read_bytes(), name


def test_env_var_selects_sample(monkeypatch, server, fake_official):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    monkeypatch.setenv("COURSE_LIB_MNIST_SOURCE", "sample")
    data = load_mnist()
    assert data.source == "sample" and data[0][0].shape == (8000, 784)
    assert server.hits == []


def test_invalid_arguments_name_the_choices(monkeypatch):
    with pytest.raises(ValueError, match="'auto', 'local', 'download', 'sample', got 'web'"):
        load_mnist(source="web")
    with pytest.raises(ValueError, match="'mnist', 'fashion', got 'cifar'"):
        load_mnist(dataset="cifar")
    monkeypatch.setenv("COURSE_LIB_MNIST_SOURCE", "bogus")
    with pytest.raises(ValueError, match="COURSE_LIB_MNIST_SOURCE must be one of .*'bogus'"):
        load_mnist()


def test_dataset_and_source_names_ignore_case():
    assert load_mnist(dataset="MNIST", source=" Sample").dataset == "mnist"


# --- LoadedData -----------------------------------------------------------------------------


def test_loaded_data_is_the_textbook_tuple():
    data = load_mnist(one_hot_label=True, source="sample")
    (x, d), (xt, dt) = data
    plain = ((x, d), (xt, dt))
    assert isinstance(data, tuple) and isinstance(data, LoadedData)
    assert len(data) == 2 and data[0][0] is x and data[1][1] is dt and data[-1] == data[1]
    assert data == plain and tuple(data) == plain and list(data) == list(plain)


def test_loaded_data_pickles_and_copies_with_its_attributes():
    data = load_mnist(source="sample")
    for clone in (pickle.loads(pickle.dumps(data)), copy.deepcopy(data), copy.copy(data)):
        assert type(clone) is LoadedData
        assert (clone.dataset, clone.source, clone.description) == (
            "mnist",
            "sample",
            "MNIST bundled sample (8,000 train / 2,000 test)",
        )
        for part, original in zip(clone, data, strict=True):
            for array, expected in zip(part, original, strict=True):
                np.testing.assert_array_equal(array, expected)


def test_sources_download_then_cache(monkeypatch, server, fake_official, isolated):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    first = load_mnist()
    assert (first.dataset, first.source) == ("mnist", "download")
    assert first.description == "MNIST (60 train / 20 test)"
    second = load_mnist()  # the .npz
    assert (second.source, second.description) == ("cache", first.description)
    (isolated.user_cache / "mnist.npz").unlink()
    assert load_mnist().source == "cache"  # the verified .gz files in the cache folder
    assert len(server.hits) == 4


def test_source_system_then_cache(monkeypatch, tmp_path):
    fashion = make_fake(7)
    make_official(monkeypatch, fashion, "fashion")
    system = write_files(tmp_path / "usr-share", fashion.files)
    monkeypatch.setitem(mnist.SYSTEM_DIRS, "fashion", [system])
    data = load_mnist(normalize=False, dataset="fashion")
    assert_equal_to(data, fashion.arrays)
    assert (data.dataset, data.source) == ("fashion", "system")
    assert data.description == "Fashion-MNIST (60 train / 20 test)"
    assert load_mnist(dataset="fashion").source == "cache"


def test_source_local_never_downloads(monkeypatch, server, fake_official):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    with pytest.raises(DataUnavailableError, match="source='local' and no copy in"):
        load_mnist(source="local")
    assert server.hits == []


# --- data_dir ---------------------------------------------------------------------------------


def test_data_dir_and_env_var(monkeypatch, tmp_path, fake_official):
    folder = write_files(tmp_path / "mine", fake_official.files)
    data = load_mnist(normalize=False, data_dir=folder)
    assert_equal_to(data, fake_official.arrays)
    assert (data.source, data.description) == ("data_dir", "MNIST (60 train / 20 test)")
    monkeypatch.setenv("COURSE_LIB_DATA", str(tmp_path))  # a folder holding mnist/
    write_files(tmp_path / "mnist", fake_official.files)
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)


def test_data_dir_requires_official_files_unless_verify_false(tmp_path, fake):
    folder = write_files(tmp_path / "subset", fake.files)  # not the official MNIST digests
    with pytest.raises(ValueError, match="not the official 'mnist' release.*verify=False"):
        load_mnist(data_dir=folder)
    data = load_mnist(normalize=False, data_dir=folder, verify=False)
    assert_equal_to(data, fake.arrays)
    assert data.description == "MNIST (60 train / 20 test; not official)"


def test_read_only_data_dir_is_used_without_writing(monkeypatch, tmp_path, fake, isolated):
    folder = write_files(tmp_path / "shared" / "mnist", fake.files)
    before = {p: p.stat().st_mtime_ns for p in folder.parent.rglob("*")}
    for path in (folder, folder.parent):
        path.chmod(0o555)
    try:
        monkeypatch.setenv("COURSE_LIB_DATA", str(folder.parent))
        data = load_mnist(normalize=False, verify=False)
    finally:
        for path in (folder.parent, folder):
            path.chmod(0o755)
    assert_equal_to(data, fake.arrays)
    assert {p: p.stat().st_mtime_ns for p in folder.parent.rglob("*")} == before
    assert not isolated.user_cache.exists()  # and nothing cached elsewhere either


def test_data_dir_missing_files(tmp_path, fake):
    name = "train-images-idx3-ubyte.gz"
    folder = write_files(tmp_path / "partial", {name: fake.files[name]})
    with pytest.raises(FileNotFoundError, match=re.escape(str(folder / "train-labels-idx1"))):
        load_mnist(data_dir=folder)


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("train-images-idx3-ubyte.gz", b"\x00\x00\x08\x01" + bytes(20), "not an IDX file of 3-D"),
        (
            "t10k-labels-idx1-ubyte.gz",
            b"\x00\x00\x08\x01\x00\x00\x00\x14" + bytes(17),
            "its header says shape (20,), but 17 bytes follow",
        ),
        ("train-labels-idx1-ubyte.gz", None, "not a valid gzip file"),
    ],
    ids=["wrong magic number", "fewer bytes than its header says", "truncated gzip"],
)
def test_broken_files_are_named(tmp_path, fake, name, data, message):
    files = dict(fake.files)
    files[name] = gzip_bytes(data) if data is not None else files[name][:20]
    folder = write_files(tmp_path / "broken", files)
    with pytest.raises(ValueError, match=re.escape(f"{folder / name}: {message}")):
        load_mnist(data_dir=folder, verify=False)


def test_images_and_labels_must_agree(tmp_path, fake):
    files = dict(fake.files)
    files["t10k-labels-idx1-ubyte.gz"] = gzip_bytes(encode_idx(np.zeros(19, np.uint8)))
    folder = write_files(tmp_path / "uneven", files)
    with pytest.raises(ValueError, match="numbers of images and labels differ"):
        load_mnist(data_dir=folder, verify=False)


# --- the cache folder -----------------------------------------------------------------------


def test_checkout_data_folder_is_the_cache(monkeypatch, tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    monkeypatch.setattr(mnist, "CHECKOUT_DATA_DIR", checkout / "data")
    assert mnist.cache_dir() == checkout / "data"


def test_read_only_checkout_falls_back_to_user_cache(
    monkeypatch, tmp_path, server, fake_official, isolated
):
    data = tmp_path / "checkout" / "data"
    data.mkdir(parents=True)
    (data.parent / "pyproject.toml").write_text("")
    monkeypatch.setattr(mnist, "CHECKOUT_DATA_DIR", data)
    if os.geteuid() == 0:  # root may write anywhere: refuse as a read-only mount would
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != data and access(p, mode))
    data.chmod(0o555)
    try:
        assert mnist.cache_dir() == isolated.user_cache
        monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
        assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    finally:
        data.chmod(0o755)
    assert list(data.iterdir()) == []
    assert "mnist.npz" in files_in(isolated.user_cache)


# --- Fashion-MNIST ----------------------------------------------------------------------------


def test_fashion_without_a_source_says_how_to_get_it():
    with pytest.raises(DataUnavailableError, match="install Debian's dataset-fashion-mnist"):
        load_mnist(dataset="fashion", source="local")
    with pytest.raises(DataUnavailableError, match="there is no bundled sample"):
        load_mnist(dataset="fashion", source="sample")


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist not installed"
)
def test_fashion_from_debian_package(monkeypatch, isolated):
    # Debian recompresses: other .gz digests than the official ones, the same IDX bytes.
    debian_gz = (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").read_bytes()
    assert hashlib.sha256(debian_gz).hexdigest() != mnist.SHA256["fashion"][f"{TRAIN}.gz"]
    monkeypatch.setitem(mnist.SYSTEM_DIRS, "fashion", [DEBIAN_FASHION])
    data = load_mnist(dataset="fashion")
    (x, d), (xt, _) = data
    assert x.shape == (60000, 784) and d.shape == (60000,) and xt.shape == (10000, 784)
    assert x.dtype == np.float32 and d.max() == 9 and data.source == "system"
    assert files_in(isolated.user_cache) == ["fashion.npz"]
    # Now from the cache, even without the Debian folder.
    monkeypatch.setitem(mnist.SYSTEM_DIRS, "fashion", [])
    again = load_mnist(dataset="fashion")
    assert again.source == "cache"
    np.testing.assert_array_equal(x, again[0][0])


def test_nothing_is_written_into_the_package(monkeypatch):
    package = mnist.SAMPLE_DIR.parent
    before = sorted(p for p in package.rglob("*") if "__pycache__" not in p.parts)
    load_mnist(source="sample")
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [closed_port_url()])
    load_mnist()
    assert sorted(p for p in package.rglob("*") if "__pycache__" not in p.parts) == before
