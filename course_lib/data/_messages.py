"""The sentences the data layer shows people: what data is used, and why full data is not."""

from __future__ import annotations

from pathlib import Path

from . import _catalog


def minutes(seconds: float) -> str:
    """A duration for a sentence: "less than a minute", "1 min", "15 min"."""
    return "less than a minute" if seconds < 60 else f"{seconds / 60:.0f} min"


def cause(kind: str, message: str, *, now: bool = False) -> str:
    """Why a download failed, in a few words, from a DownloadError's kind and message.

    ``now``: the failure just happened, so verbose=True would show each mirror's answer.
    """
    if kind == "unreachable":
        return "offline: no mirror could be reached"
    if kind == "failed":
        return "no mirror delivered the official files" + (
            "; verbose=True shows why" if now else ""
        )
    return message  # "folder": the message names the folder and the system's reason


def how_to_get(dataset: str, kind: str = "") -> str:
    """What the user can do to get full data, after a failure of this kind."""
    if kind == "folder":
        return (
            "make that folder writable, or set COURSE_LIB_DATA (or pass data_dir=) to a folder "
            f"with the four {_catalog.NAMES[dataset]} .gz files"
        )
    return _catalog.HOW_TO_GET[dataset]


def unavailable(
    dataset: str,
    why: str,
    *,
    sample: tuple[int, int] | None,
    when: str = "",
    kind: str = "",
) -> str:
    """One line: full data could not be downloaded, why, what is used instead, what to do.

    ``sample`` is the bundled sample's (train, test) sizes, or None if there is none.
    """
    how = how_to_get(dataset, kind)
    name = _catalog.NAMES[dataset]
    if sample is None:
        return f"could not download {name}{when} ({why}). To get it, {how}."
    return (
        f"course_lib: full {name} could not be downloaded{when} ({why}), so this uses the "
        f"bundled sample: {sample[0]:,} train / {sample[1]:,} test real {name} digits. "
        f"To get full {name}, {how}."
    )


def describe(dataset: str, source: str, official: bool, where: Path, counts: tuple[int, int]):
    """A short description of loaded data, e.g. "MNIST (60,000 train / 10,000 test)"."""
    name = _catalog.NAMES[dataset]
    sizes = f"{counts[0]:,} train / {counts[1]:,} test"
    if source == "sample":
        return f"{name} bundled sample ({sizes})"
    if official:
        return f"{name} ({sizes})"
    return f"{name}-format files in {where} ({sizes}; not the official release)"
