"""A small file that remembers a failed download for a while.

Without it, every notebook and every process of a class behind a silent proxy would wait
for the mirrors again. The marker is a JSON object ``{"failed_at": <Unix time>,
"cause": <one line>}``, written through a part file and a rename so a reader never sees
half of it. A marker that cannot be read or makes no sense is ignored, as if absent.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import NamedTuple

from ._parts import PartFile

_CLOCK_SKEW = 60.0  # seconds a marker may seem to come from the future (another host)


class Failed(NamedTuple):
    """A remembered failure: how long ago (seconds) and its cause in one line."""

    age: float
    cause: str


def write(path: Path, cause: str) -> None:
    """Remember a failure now; raises OSError if the folder cannot be written."""
    data = json.dumps({"failed_at": time.time(), "cause": cause}).encode("utf-8")
    with PartFile(path) as part:
        part.file.write(data)
        part.commit()


def read(path: Path, *, ttl: float) -> Failed | None:
    """The failure remembered in ``path`` if younger than ``ttl`` seconds, else None."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        failed_at = float(data["failed_at"])
        cause = str(data["cause"])
    except (OSError, ValueError, TypeError, KeyError):
        return None  # missing or damaged: as if there were none
    age = time.time() - failed_at
    if not -_CLOCK_SKEW <= age < ttl:
        return None
    return Failed(max(age, 0.0), " ".join(cause.split()))


def clear(path: Path) -> None:
    """Forget the failure (a download has just succeeded); never raises."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError:
        pass
