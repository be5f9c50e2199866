"""Set the project's address once: pyproject.toml, the notebooks' install cells, their stamps.

An instructor who forks the project runs this with the fork's address; the notebooks then
install course_lib from the fork where it is missing (Colab, a bare hub), and
`python -m course_lib notebooks --colab` prints each notebook's Colab link.

Usage: python scripts/set_project_url.py https://github.com/OWNER/REPO
"""

import re
import sys
from pathlib import Path

import nbformat

from course_lib.coursework import find_notebooks, stamp

ROOT = Path(__file__).resolve().parents[1]
INSTALL_LINE = re.compile(r'^(\s*PACKAGE = "course-lib @ git\+)[^"]*(")', flags=re.M)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not re.fullmatch(r"https://\S+", argv[0]):
        sys.exit("usage: python scripts/set_project_url.py https://github.com/OWNER/REPO")
    url = argv[0].rstrip("/")
    pyproject = ROOT / "pyproject.toml"
    text, n = re.subn(r'^Source = ".*"$', f'Source = "{url}"', pyproject.read_text(), flags=re.M)
    if n != 1:
        sys.exit("pyproject.toml has no [project.urls] Source line to set")
    pyproject.write_text(text)
    for path in find_notebooks(ROOT / "notebooks"):
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if "install" in c.metadata.get("tags", [])]
        if len(cells) != 1:
            sys.exit(f"{path.name}: expected one cell tagged 'install', found {len(cells)}")
        cells[0].source, n = INSTALL_LINE.subn(rf"\g<1>{url}\g<2>", cells[0].source)
        if n != 1:
            sys.exit(f"{path.name}: the install cell has no PACKAGE line to set")
        nbformat.write(stamp(nb), path)
    print(f"project address set to {url}; reinstall (pip install -e .) to update the metadata")


if __name__ == "__main__":
    main()
