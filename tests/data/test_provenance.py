"""Which data a load used (``LoadedData``), and folders a load must not write to."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from course_lib.data import LoadedData, _catalog, load_mnist, mnist
from tests.data.support import (
    assert_equal_to,
    closed_port_url,
    make_fake,
    make_official,
    write_files,
)

# --- LoadedData behaves like the textbook's tuple ------------------------------------------


def test_loaded_data_is_the_textbook_tuple():
    data = load_mnist(one_hot_label=True, source="sample")
    (x, d), (xt, dt) = data
    plain = ((x, d), (xt, dt))
    assert isinstance(data, tuple) and isinstance(data, LoadedData)
    assert len(data) == 2 and data[0][0] is x and data[1][1] is dt and data[-1] == data[1]
    assert data == plain and plain == data and tuple(data) == plain
    assert data[:1] == (data[0],) and list(data) == list(plain)
    x_train = data[0][0]
    assert x_train.shape == (8000, 784)


def test_loaded_data_pickles_and_copies_with_its_attributes():
    data = load_mnist(source="sample")
    for clone in (pickle.loads(pickle.dumps(data)), copy.deepcopy(data), copy.copy(data)):
        assert type(clone) is LoadedData
        assert (clone.dataset, clone.source, clone.description) == (
            data.dataset,
            data.source,
            data.description,
        )
        for (a, b), (c, e) in [(clone[0], data[0]), (clone[1], data[1])]:
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, e)


def test_loaded_data_attributes_are_read_only():
    data = load_mnist(source="sample")
    for name in ("dataset", "source", "description", "anything"):
        with pytest.raises(AttributeError, match="read-only"):
            setattr(data, name, "x")
    with pytest.raises(AttributeError, match="read-only"):
        del data.source
    assert data.source == "sample"


# --- the attributes for each source -----------------------------------------------------


def test_source_sample():
    data = load_mnist(source="sample")
    assert (data.dataset, data.source) == ("mnist", "sample")
    assert data.description == "MNIST bundled sample (8,000 train / 2,000 test)"


def test_source_sample_as_fallback(monkeypatch):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [closed_port_url()])
    data = load_mnist()
    assert (data.source, data.description) == (
        "sample",
        "MNIST bundled sample (8,000 train / 2,000 test)",
    )


def test_sources_download_then_cache(monkeypatch, server, fake_official, isolated):
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [server.url("good")])
    first = load_mnist()
    assert (first.dataset, first.source) == ("mnist", "download")
    assert first.description == "MNIST (60 train / 20 test)"
    second = load_mnist()  # the .npz
    assert (second.source, second.description) == ("cache", first.description)
    (isolated.user_cache / "mnist.npz").unlink()
    third = load_mnist()  # the verified .gz files in the cache folder
    assert third.source == "cache"


def test_source_data_dir(monkeypatch, tmp_path, fake, fake_official):
    folder = write_files(tmp_path / "mine", fake.files)
    data = load_mnist(data_dir=folder)
    assert (data.source, data.description) == ("data_dir", "MNIST (60 train / 20 test)")
    monkeypatch.setenv("COURSE_LIB_DATA", str(folder))
    assert load_mnist().source == "data_dir"


def test_source_data_dir_unofficial(tmp_path, fake):
    folder = write_files(tmp_path / "mine", fake.files)  # not the official digests
    data = load_mnist(data_dir=folder, verify=False)
    assert data.source == "data_dir"
    assert data.description == (
        f"MNIST-format files in {folder} (60 train / 20 test; not the official release)"
    )


def test_source_system(monkeypatch, tmp_path):
    fashion = make_fake(7)
    make_official(monkeypatch, fashion, "fashion")
    system = write_files(tmp_path / "usr-share", fashion.files)
    monkeypatch.setitem(_catalog.SYSTEM_DIRS, "fashion", [system])
    data = load_mnist(normalize=False, dataset="fashion")
    assert_equal_to(data, fashion.arrays)
    assert (data.dataset, data.source) == ("fashion", "system")
    assert data.description == "Fashion-MNIST (60 train / 20 test)"
    assert load_mnist(dataset="fashion").source == "cache"


# --- folders that must not be written ------------------------------------------------------


def test_read_only_data_dir_is_used_without_writing(monkeypatch, tmp_path, fake, isolated):
    folder = write_files(tmp_path / "shared" / "mnist", fake.files)
    before = {p.name: p.stat().st_mtime_ns for p in folder.parent.rglob("*")}
    for path in (folder, folder.parent):
        path.chmod(0o555)
    try:
        monkeypatch.setenv("COURSE_LIB_DATA", str(folder.parent))
        data = load_mnist(normalize=False, verify=False)
    finally:
        for path in (folder.parent, folder):
            path.chmod(0o755)
    assert_equal_to(data, fake.arrays)
    assert {p.name: p.stat().st_mtime_ns for p in folder.parent.rglob("*")} == before
    assert not isolated.user_cache.exists()  # and nothing cached elsewhere either


def test_nothing_is_written_into_the_package(monkeypatch):
    package = mnist.SAMPLE_DIR.parent
    before = sorted(p for p in package.rglob("*") if "__pycache__" not in p.parts)
    load_mnist(source="sample")
    monkeypatch.setitem(_catalog.MIRRORS, "mnist", [closed_port_url()])
    load_mnist()
    assert sorted(p for p in package.rglob("*") if "__pycache__" not in p.parts) == before
