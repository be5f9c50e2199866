"""The course notebooks as files: where they are, which were changed, copies for students.

The numbered notebooks (``01_...ipynb``) ship inside the package. Each carries a stamp in
its metadata: the SHA-256 of its code cells as shipped, and of all its cells. A notebook
whose code no longer matches its stamp was changed (a student's "[try]" edit,
autosaved), which the report says, and ``shipped_copy`` can give the notebook as it was
shipped; one whose cells still match was not edited at all, so ``copy_notebooks(...,
update=True)`` may replace it with a newer version.
"""

import hashlib
import json
import os
import re
import subprocess
import urllib.parse
from importlib import metadata
from pathlib import Path

from course_lib.safe_files import CannotWrite, numbered, write_copy

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
STAMP_KEY = "course_lib"
# The address this repository ships with until the project is published: nothing can be
# installed from it, so the notebooks' install cell and the links below say what to do.
PLACEHOLDER_URL = "https://github.com/course-lib/vanishing-gradient"

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


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def code_fingerprint(nb):
    """SHA-256 of the notebook's code cells (their source only, in order)."""
    sources = [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(sources, ensure_ascii=False).encode()).hexdigest()


def cells_fingerprint(nb):
    """SHA-256 of every cell's type and source, in order (outputs do not count)."""
    cells = [[c["cell_type"], _source(c)] for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def stamp(nb):
    """Record the notebook's current cells as its shipped ones (for the maintainers)."""
    stamps = nb["metadata"].setdefault(STAMP_KEY, {})
    stamps["code_sha256"] = code_fingerprint(nb)
    stamps["cells_sha256"] = cells_fingerprint(nb)
    return nb


def _stamps(nb):
    return nb.get("metadata", {}).get(STAMP_KEY, {})


def is_changed(nb):
    """True if the code differs from the shipped stamp, False if not, None if unstamped."""
    shipped = _stamps(nb).get("code_sha256")
    if shipped is None:
        return None
    return code_fingerprint(nb) != shipped


def is_edited(nb):
    """True unless every cell (markdown too) is as its stamp says it was shipped.

    A copy stamped without ``cells_sha256`` (an older course_lib) counts as edited: a
    note in one of its markdown cells could not be told apart.
    """
    shipped = _stamps(nb).get("cells_sha256")
    return shipped is None or cells_fingerprint(nb) != shipped


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


def _update(source, target):
    """(what, note) for a valid copy at ``target`` when updating it from ``source``."""
    mine = target.read_bytes()
    copy, shipped = json.loads(mine), read_notebook(source)
    if is_edited(copy):
        return "edited", ""
    if _stamps(copy) == _stamps(shipped):
        return "current", ""
    # Compared again just before the rename: an edit saved meanwhile is kept.
    if not write_copy(source, target, replaces=hashlib.sha256(mine).hexdigest()):
        return "edited", "it changed while being updated"
    return "updated", ""


def copy_notebooks(dest, update=False, sources=None):
    """Copy the shipped notebooks (or the files ``sources``) into ``dest``; a valid
    notebook already there is kept.

    update=True replaces each copy whose cells are all as they were shipped (outputs
    aside) by the shipped version if that differs; a copy the student edited is kept.
    A file of the same name that is not a valid notebook (cut short by a full disk) is
    renamed beside it and replaced by a fresh copy. Yields (name, what, note) as it goes,
    what in 'copied', 'kept', 'replaced', and with update 'updated', 'current' (already
    the shipped version) or 'edited' (kept). Raises ValueError if ``dest`` is a file and
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
            yield source.name, *(_update(source, target) if update else ("kept", ""))
            continue
        note = _set_aside(target, problem) if problem is not None else ""
        write_copy(source, target)
        yield source.name, "replaced" if note else "copied", note


def installed_version():
    """The version of the installed course-lib (its package metadata), or None."""
    try:
        return metadata.version("course-lib")
    except metadata.PackageNotFoundError:
        return None


def release_tag(version=None):
    """The git tag of a release: 'v' and its version (default: the installed one; 'main'
    when course-lib is not installed and its version is unknown)."""
    version = version or installed_version()
    return f"v{version}" if version else "main"


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


def address_problem(url):
    """One line on why students cannot install from ``url``, or None if they can."""
    if url and url.rstrip("/") != PLACEHOLDER_URL:
        return None
    return (
        f"the project's address is {'the placeholder ' + url if url else 'not set'}, which "
        "nothing can be installed from: publish the project and set its address with "
        "python scripts/set_project_url.py https://github.com/OWNER/REPO (in the checkout), "
        "or give students the wheel (course_lib-*.whl) to upload next to the notebook"
    )


def _github(url):
    """(owner, repo) of a GitHub address; ValueError for any other address."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", url or "")
    if match is None:
        raise ValueError(
            f"Colab and Binder open notebooks from GitHub; the project's address is {url!r}. "
            "Set yours with: python scripts/set_project_url.py https://github.com/OWNER/REPO"
        )
    return match.groups()


def colab_link(name, url=None, ref=None):
    """The Colab link that opens notebook ``name`` of a project on GitHub.

    url: default source_url(); ref: the branch or tag (default: this version's release
    tag, so the notebook opened is the one this version's install cell pins).
    """
    owner, repo = _github(url or source_url())
    ref = ref or release_tag()
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{ref}/notebooks/{name}"


def colab_links(url=None, ref=None):
    """[(notebook name, Colab link)] for every course notebook (see colab_link)."""
    return [(path.name, colab_link(path.name, url, ref)) for path in find_notebooks()]


def binder_link(name, url=None, ref=None):
    """The mybinder.org link that opens notebook ``name`` of a project on GitHub."""
    owner, repo = _github(url or source_url())
    ref = ref or release_tag()
    return f"https://mybinder.org/v2/gh/{owner}/{repo}/{ref}?labpath=notebooks/{name}"


def nbgitpuller_links(hub_url, url=None, branch="main"):
    """[(notebook name, nbgitpuller link)]: each link clones the project (``url``, default
    source_url()) into the student's home on a hub at ``hub_url`` on the first click,
    merges later changes without overwriting the student's edits, and opens the notebook
    in JupyterLab."""
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", hub_url or ""):
        raise ValueError(f"the hub's address must start with https:// (got {hub_url!r})")
    url = url or source_url()
    if not url:
        raise ValueError("the project's address is not known; pass the git repository's URL")
    folder = url.rstrip("/").rsplit("/", 1)[-1]  # where nbgitpuller clones it
    links = []
    for path in find_notebooks():
        query = {"repo": url, "urlpath": f"lab/tree/{folder}/notebooks/{path.name}"}
        query["branch"] = branch
        link = f"{hub_url.rstrip('/')}/hub/user-redirect/git-pull?{urllib.parse.urlencode(query)}"
        links.append((path.name, link))
    return links
