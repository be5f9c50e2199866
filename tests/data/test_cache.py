"""The array cache: a plain uint8 .npz, used only while it holds exactly the official data.

Each damaged or foreign cache below is noticed, named in one line on stderr, and rebuilt
from the verified .gz files in the cache folder, byte for byte as a fresh one.
"""

from __future__ import annotations

import hashlib
import os
import shutil

import numpy as np
import pytest

from course_lib.data import load_mnist, mnist
from tests.data.support import (
    assert_equal_to,
    files_in,
    make_fake,
    make_official,
    write_files,
)


@pytest.fixture
def cached(fake_official, isolated):
    """The official fake MNIST in the cache folder, loaded once, so its .npz exists."""
    write_files(isolated.user_cache / "mnist", fake_official.files)
    assert load_mnist().source == "cache"
    return isolated.user_cache / "mnist.npz"


def test_download_then_cache_holds_no_pickles(monkeypatch, server, fake_official, isolated):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert files_in(isolated.user_cache) == ["mnist.npz"] + [
        f"mnist/{name}" for name in sorted(fake_official.files)
    ]
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert len(server.hits) == 4  # the second load made no request
    with np.load(isolated.user_cache / "mnist.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["d_test", "d_train", "x_test", "x_train"]
        assert all(npz[key].dtype == np.uint8 for key in npz.files)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path):
    path.write_bytes(b"not a zip file at all")


def _flip_a_bit(path):
    with np.load(path) as npz:
        arrays = {key: npz[key].copy() for key in npz.files}
    arrays["x_train"][0, 0, 0] ^= 0x01  # silent bit rot: the zip is fine, the data is not
    np.savez(path, **arrays)


def _cut_short(path):
    with np.load(path) as npz:
        arrays = {key: npz[key][:10] for key in npz.files}  # consistent, but truncated
    np.savez(path, **arrays)


def _as_int8(path):
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["d_test"] = arrays["d_test"].view(np.int8)  # the same bytes, another type
    np.savez(path, **arrays)


def _without_labels(path):
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files if key != "d_train"}
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "damage", [_truncate, _garbage, _without_labels, _flip_a_bit, _cut_short, _as_int8]
)
def test_damaged_cache_is_named_and_rebuilt(cached, fake_official, capsys, damage):
    good = cached.read_bytes()
    damage(cached)
    capsys.readouterr()
    data = load_mnist(normalize=False)
    assert_equal_to(data, fake_official.arrays)
    assert data.source == "cache"
    line = f"course_lib: the cache {cached} is damaged or not 'mnist'; rebuilding it\n"
    assert capsys.readouterr().err == line
    assert cached.read_bytes() == good


def test_cache_of_another_dataset_is_rebuilt(monkeypatch, cached, fake_official, capsys):
    clothes = make_fake(7)
    make_official(monkeypatch, clothes, "fashion")
    write_files(cached.parent / "fashion", clothes.files)
    load_mnist(dataset="fashion")
    shutil.copy(cached.parent / "fashion.npz", cached)
    capsys.readouterr()
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert "damaged or not 'mnist'" in capsys.readouterr().err
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert capsys.readouterr().err == ""  # rebuilt: quiet from now on


def test_cache_of_an_earlier_course_lib_is_used(cached, fake_official, capsys):
    # Earlier versions stored extra fields beside the same four arrays.
    with np.load(cached) as npz:
        arrays = {key: npz[key] for key in npz.files}
    np.savez(cached, blake2b=np.array("x"), dataset=np.array("mnist"), **arrays)
    data = load_mnist(normalize=False)
    assert data.source == "cache" and capsys.readouterr().err == ""
    assert_equal_to(data, fake_official.arrays)


def test_unofficial_files_in_the_cache_folder_are_replaced(
    monkeypatch, server, fake_official, isolated, capsys
):
    write_files(isolated.user_cache / "mnist", fake_official.bad)
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [server.url("good")])
    data = load_mnist(normalize=False)
    assert_equal_to(data, fake_official.arrays)
    assert data.source == "download" and len(server.hits) == 4
    assert capsys.readouterr().err == (
        f"course_lib: skipping {isolated.user_cache / 'mnist'}: not the official files\n"
    )
    for name, content in fake_official.files.items():
        assert (isolated.user_cache / "mnist" / name).read_bytes() == content


def test_interrupted_cache_write_leaves_nothing(monkeypatch, fake_official, isolated, capsys):
    write_files(isolated.user_cache / "mnist", fake_official.files)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    assert_equal_to(load_mnist(normalize=False), fake_official.arrays)
    assert "could not write the cache" in capsys.readouterr().err
    assert files_in(isolated.user_cache) == [f"mnist/{n}" for n in sorted(fake_official.files)]


def test_read_only_cache_still_loads(monkeypatch, cached, fake_official, capsys):
    # A cache folder someone else filled (a shared install): read, never rewritten.
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    monkeypatch.setattr(os, "replace", _refuse)
    data = load_mnist(normalize=False)
    assert data.source == "cache" and capsys.readouterr().err == ""
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == digest
    cached.unlink()
    assert load_mnist().source == "cache"  # from the .gz files, with one line
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert files_in(cached.parent) == [f"mnist/{n}" for n in sorted(fake_official.files)]


def _refuse(src, dst):
    raise PermissionError(13, "Permission denied", str(dst))
