"""The course notebooks as files: where they are, which were changed, copies for students.

The numbered notebooks (``01_...ipynb``) ship inside the package. Each carries a stamp in
its metadata: the SHA-256 of its code cells as shipped. A notebook whose code no longer
matches its stamp was changed (a student's "[try]" edit, autosaved), which the report
says, and ``shipped_copy`` can give the notebook as it was shipped.
"""

import hashlib
import json
import os
import re
import subprocess
from importlib import metadata
from pathlib import Path

from course_lib.safe_files import CannotWrite, numbered, write_copy

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
STAMP_KEY = "course_lib"

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DIR = _PACKAGE_DIR.parent / "notebooks"


def shipped_dir():
    """The folder of the notebooks that came with the package.

    In an installed wheel they are inside the package; in a checkout, the checkout's
    ``notebooks/`` folder.
    """
    inside = _PACKAGE_DIR / "notebooks"
    if inside.is_dir() and any(inside.glob(NOTEBOOK_GLOB)):
        return inside
    return _CHECKOUT_DIR


def find_notebooks(folder=None):
    """The course notebooks (NN_*.ipynb) in ``folder`` (default: shipped_dir()), in order."""
    folder = Path(folder) if folder is not None else shipped_dir()
    notebooks = sorted(folder.glob(NOTEBOOK_GLOB))
    if not notebooks:
        raise FileNotFoundError(
            f"no course notebooks (NN_*.ipynb) in {folder}; pass the folder that holds them "
            "(python -m course_lib notebooks DEST makes a copy of the course's notebooks)"
        )
    return notebooks


def code_fingerprint(nb):
    """SHA-256 of the notebook's code cells (their source only, in order)."""
    sources = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb["cells"]
        if c["cell_type"] == "code"
    ]
    return hashlib.sha256(json.dumps(sources, ensure_ascii=False).encode()).hexdigest()


def stamp(nb):
    """Record the notebook's current code as its shipped code (for the maintainers)."""
    nb["metadata"].setdefault(STAMP_KEY, {})["code_sha256"] = code_fingerprint(nb)
    return nb


def is_changed(nb):
    """True if the code differs from the shipped stamp, False if not, None if unstamped."""
    shipped = nb.get("metadata", {}).get(STAMP_KEY, {}).get("code_sha256")
    if shipped is None:
        return None
    return code_fingerprint(nb) != shipped


def read_notebook(path):
    """The notebook at ``path`` as a dict (nbformat's JSON)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def shipped_copy(name):
    """The text of notebook ``name`` as shipped: the package's copy if it is unchanged,
    else the checkout's last commit (git). None if neither is available."""
    path = shipped_dir() / name
    if path.is_file() and is_changed(read_notebook(path)) is False:
        return path.read_text(encoding="utf-8")
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=path.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        relative = path.resolve().relative_to(Path(top).resolve()).as_posix()
        return subprocess.run(
            ["git", "show", f"HEAD:{relative}"],
            cwd=top,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, ValueError, subprocess.CalledProcessError):
        return None


def notebook_problem(path):
    """Why the file at ``path`` is not a notebook Jupyter can open, or None if it is one."""
    try:
        nb = read_notebook(path)
    except (OSError, ValueError) as exc:  # unreadable, cut short, not UTF-8, not JSON
        return str(exc)
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or "nbformat" not in nb:
        return "it is JSON but has no notebook cells"
    return None


def _set_aside(path, problem):
    """Rename a broken notebook to '<stem> (broken copy).txt' (a free name); the note."""
    n = 1
    while (aside := numbered(path.with_name(f"{path.stem} (broken copy).txt"), n)).exists():
        n += 1
    os.replace(path, aside)
    return f"your copy was not a valid notebook ({problem}); kept as '{aside.name}'"


def copy_notebooks(dest, sources=None):
    """Copy the shipped notebooks (or the files ``sources``) into ``dest``; a valid
    notebook already there is kept.

    A file of the same name that is not a valid notebook (cut short by a full disk) is
    renamed beside it and replaced by a fresh copy. Yields (name, what, note) as it goes,
    what in 'copied', 'kept', 'replaced'. Raises ValueError if ``dest`` is a file and
    CannotWrite if a copy cannot be written (the copies made so far are whole).
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest} is a file, not a folder; choose a folder for the notebooks")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CannotWrite(f"cannot make the folder {dest} ({exc.strerror or exc})") from None
    for source in sources or find_notebooks():
        target = dest / source.name
        problem = notebook_problem(target) if target.exists() else None
        if target.exists() and problem is None:
            yield source.name, "kept", ""
            continue
        note = _set_aside(target, problem) if problem is not None else ""
        write_copy(source, target)
        yield source.name, "replaced" if note else "copied", note


def source_url():
    """The project's address ([project.urls] Source in pyproject.toml), or None."""
    try:
        entries = metadata.metadata("course-lib").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in entries:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "source":
            return url.strip()
    return None


def colab_links(url=None, branch="main"):
    """[(notebook name, Colab link)] for a project on GitHub (url: default source_url())."""
    url = url or source_url()
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", url or "")
    if match is None:
        raise ValueError(
            f"Colab opens notebooks from GitHub; the project's address is {url!r}. Set yours "
            "with: python scripts/set_project_url.py https://github.com/OWNER/REPO"
        )
    owner, repo = match.groups()
    base = f"https://colab.research.google.com/github/{owner}/{repo}/blob/{branch}/notebooks"
    return [(path.name, f"{base}/{path.name}") for path in find_notebooks()]
