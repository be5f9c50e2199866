"""Stamp each course notebook with the SHA-256 of its code, and of all its cells, as shipped.

Run after changing a notebook (and after `ruff format`): the report tells a student's
edited notebook from the shipped one by this stamp, `notebooks --update` replaces only
copies whose cells still match it, and a test checks that every shipped notebook
carries a current one.

Usage: python scripts/stamp_notebooks.py [NOTEBOOKS_DIR]
"""

import sys
from pathlib import Path

import nbformat

from course_lib.coursework import STAMP_KEY, find_notebooks, stamp


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else None
    for path in find_notebooks(folder):
        nb = nbformat.read(path, as_version=4)
        before = dict(nb.metadata.get(STAMP_KEY, {}))
        if dict(stamp(nb).metadata[STAMP_KEY]) == before:
            continue
        nbformat.write(nb, path)
        print(f"stamped {path.name}")


if __name__ == "__main__":
    main()
