"""``LoadedData``: the textbook's ``((x_train, d_train), (x_test, d_test))``, plus provenance."""

from __future__ import annotations

from typing import Any

# The short keys of ``LoadedData.source``, with what each means.
SOURCES = {
    "data_dir": "a folder the user gave (data_dir= or COURSE_LIB_DATA)",
    "cache": "the cache folder: the .npz array cache or verified downloads already there",
    "system": "a system package (Debian's dataset-fashion-mnist)",
    "download": "downloaded from a mirror by this call",
    "sample": "the sample bundled with course_lib (8,000 train / 2,000 test MNIST digits)",
}


class LoadedData(tuple):
    """What ``load_mnist`` returns: a plain 2-tuple to unpack, and where it came from.

    It unpacks, indexes, compares and pickles exactly like
    ``((x_train, d_train), (x_test, d_test))``. Read-only attributes say which data it is:

    - ``dataset``: ``"mnist"`` or ``"fashion"``.
    - ``source``: ``"data_dir"``, ``"cache"``, ``"system"``, ``"download"`` or ``"sample"``
      (see ``SOURCES``).
    - ``description``: for people, e.g. ``"MNIST (60,000 train / 10,000 test)"`` or
      ``"MNIST bundled sample (8,000 train / 2,000 test)"``.
    """

    # A tuple subclass cannot have slots for its own fields; a __dict__ it is, guarded.
    def __new__(cls, data: Any, *, dataset: str, source: str, description: str) -> LoadedData:
        self = super().__new__(cls, data)
        if len(self) != 2:
            raise ValueError(f"LoadedData holds (train, test); got {len(self)} items")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
        meta = self.__dict__
        meta["dataset"], meta["source"], meta["description"] = dataset, source, description
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"LoadedData is read-only; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"LoadedData is read-only; cannot delete {name!r}")

    def __reduce__(self):
        return (_rebuild, (tuple(self), self.dataset, self.source, self.description))

    # Declared for type checkers and readers; the values live in the instance's __dict__.
    dataset: str
    source: str
    description: str


def _rebuild(data: tuple, dataset: str, source: str, description: str) -> LoadedData:
    """Unpickle a LoadedData (pickle passes positional arguments only)."""
    return LoadedData(data, dataset=dataset, source=source, description=description)
