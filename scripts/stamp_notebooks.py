"""Stamp each course notebook with the SHA-256 of its code as shipped.

Run after changing a notebook's code (and after `ruff format`): the report tells a
student's edited notebook from the shipped one by this stamp, and a test checks that
every shipped notebook carries a current one.

Usage: python scripts/stamp_notebooks.py [NOTEBOOKS_DIR]
"""

import sys
from pathlib import Path

import nbformat

from course_lib.coursework import find_notebooks, is_changed, stamp


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else None
    for path in find_notebooks(folder):
        nb = nbformat.read(path, as_version=4)
        if is_changed(nb) is False:
            continue
        stamp(nb)
        nbformat.write(nb, path)
        print(f"stamped {path.name}")


if __name__ == "__main__":
    main()
