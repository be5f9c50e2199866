"""The array cache must not pass for other data than the dataset asked for.

Its digest only proves that a file is self-consistent; these caches are all
self-consistent, and all wrong for the load that finds them.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np

from course_lib.data import _cache, load_mnist
from tests.data.support import assert_equal_to, make_fake, make_official, write_files


def _official_pair(monkeypatch, isolated):
    """Official fake MNIST and Fashion-MNIST, both in the cache folder."""
    digits, clothes = make_fake(0), make_fake(7)
    make_official(monkeypatch, digits, "mnist")
    make_official(monkeypatch, clothes, "fashion")
    write_files(isolated.user_cache / "mnist", digits.files)
    write_files(isolated.user_cache / "fashion", clothes.files)
    return digits, clothes


def test_fashion_cache_renamed_to_mnist_is_rebuilt(monkeypatch, isolated, capsys):
    digits, clothes = _official_pair(monkeypatch, isolated)
    assert_equal_to(load_mnist(normalize=False, dataset="fashion"), clothes.arrays)
    shutil.copy(isolated.user_cache / "fashion.npz", isolated.user_cache / "mnist.npz")
    assert_equal_to(load_mnist(normalize=False), digits.arrays)
    assert "a cache of 'fashion', not of 'mnist'; rebuilding it" in capsys.readouterr().err
    assert_equal_to(load_mnist(normalize=False), digits.arrays)
    assert capsys.readouterr().err == ""  # rebuilt: quiet from now on


def _self_consistent_cache(path, arrays, **extra):
    """A cache whose digest matches its contents, whatever they are."""
    arrays = _cache.Arrays(*arrays)
    np.savez(path, blake2b=np.array(_cache.digest(arrays)), **extra, **arrays._asdict())


def test_cache_with_wrong_shapes_is_rebuilt(monkeypatch, isolated, capsys):
    digits, _ = _official_pair(monkeypatch, isolated)
    sources = [d.idx for d in digits.digests.values()]
    cut = [a[:10] for a in digits.arrays]  # a consistent, but truncated, dataset
    _self_consistent_cache(
        isolated.user_cache / "mnist.npz", cut, dataset=np.array("mnist"), sources=sources
    )
    assert_equal_to(load_mnist(normalize=False), digits.arrays)
    assert "x_train is uint8 (10, 28, 28), not uint8 (60, 28, 28)" in capsys.readouterr().err


def test_cache_of_another_release_is_rebuilt(monkeypatch, isolated, capsys):
    digits, _ = _official_pair(monkeypatch, isolated)
    other = [hashlib.sha256(b"old %d" % i).hexdigest() for i in range(4)]
    _self_consistent_cache(
        isolated.user_cache / "mnist.npz",
        digits.arrays,
        dataset=np.array("mnist"),
        sources=np.array(other),
    )
    assert_equal_to(load_mnist(normalize=False), digits.arrays)
    assert "built from other files than the official release" in capsys.readouterr().err


def test_cache_from_before_datasets_were_recorded_is_rebuilt_quietly(monkeypatch, isolated, capsys):
    digits, _ = _official_pair(monkeypatch, isolated)
    _self_consistent_cache(isolated.user_cache / "mnist.npz", digits.arrays)
    assert_equal_to(load_mnist(normalize=False), digits.arrays)
    assert capsys.readouterr().err == ""
    with np.load(isolated.user_cache / "mnist.npz") as npz:
        assert str(npz["dataset"]) == "mnist"
