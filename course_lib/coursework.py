"""The course notebooks as files: where they are, which were changed, copies for students.

The numbered notebooks (``01_...ipynb``) ship inside the package, each stamped with the
SHA-256 of its code cells and of all its cells as shipped (``is_changed``, ``is_edited``).
"""

import hashlib
import json
import os
import re
import subprocess
import urllib.parse
from importlib import metadata
from pathlib import Path

from course_lib.safe_files import claim_free_name, writable_folder, write_file

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
STAMP_KEY = "course_lib"
# The address this repository ships with until the project is published: nothing can be
# installed from it, so the notebooks' install cell and the links below say what to do.
PLACEHOLDER_URL = "https://github.com/course-lib/vanishing-gradient"


def shipped_dir():
    """The shipped notebooks' folder: inside the package in a wheel, else the checkout's."""
    package = Path(__file__).resolve().parent
    inside = package / "notebooks"
    if inside.is_dir() and any(inside.glob(NOTEBOOK_GLOB)):
        return inside
    return package.parent / "notebooks"


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


def _fingerprints(nb):
    """{stamp key: SHA-256} of the code cells' sources, and of every cell's type and source
    (outputs do not count)."""
    code = [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    cells = [[c["cell_type"], _source(c)] for c in nb["cells"]]
    return {
        key: hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()
        for key, values in (("code_sha256", code), ("cells_sha256", cells))
    }


def stamp(nb):
    """Record the notebook's current cells as its shipped ones (for the maintainers)."""
    nb["metadata"].setdefault(STAMP_KEY, {}).update(_fingerprints(nb))
    return nb


def _stamps(nb):
    return nb.get("metadata", {}).get(STAMP_KEY, {})


def is_changed(nb):
    """True if the code differs from the shipped stamp, False if not, None if unstamped."""
    shipped = _stamps(nb).get("code_sha256")
    return None if shipped is None else _fingerprints(nb)["code_sha256"] != shipped


def is_edited(nb):
    """True unless every cell (markdown too) is as its stamp says it was shipped; a copy
    stamped by an older course_lib (no ``cells_sha256``) counts as edited."""
    shipped = _stamps(nb).get("cells_sha256")
    return shipped is None or _fingerprints(nb)["cells_sha256"] != shipped


def read_notebook(path):
    """The notebook at ``path`` as a dict (nbformat's JSON)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def shipped_copy(name):
    """The text of notebook ``name`` as shipped: the package's copy if it is unchanged,
    else the checkout's last commit (git). None if neither is available."""
    path = shipped_dir() / name
    if path.is_file() and is_changed(read_notebook(path)) is False:
        return path.read_text(encoding="utf-8")
    try:  # "HEAD:./name" is the file beside the working folder, in the last commit
        git = ["git", "show", f"HEAD:./{name}"]
        done = subprocess.run(git, cwd=path.parent, capture_output=True, text=True, check=True)
        return done.stdout
    except (OSError, subprocess.CalledProcessError):
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


def _update(source, target):
    """(what, note) for a valid copy at ``target`` when updating it from ``source``."""
    mine = target.read_bytes()
    copy, shipped = json.loads(mine), read_notebook(source)
    if is_edited(copy):
        return "edited", ""
    if _stamps(copy) == _stamps(shipped):
        return "current", ""
    # Compared again just before the rename: an edit saved meanwhile is kept.
    digest = hashlib.sha256(mine).hexdigest()
    if write_file(target, source.read_bytes(), replaces=digest) is None:
        return "edited", "it changed while being updated"
    return "updated", ""


def copy_notebooks(dest, update=False, sources=None):
    """Copy the shipped notebooks (or the files ``sources``) into ``dest``, keeping a
    valid notebook already there; yields (name, what, note) as it goes.

    what: 'copied', 'kept', 'replaced' (a broken file, set aside first); with update=True
    also 'updated' (a copy not edited), 'current' or 'edited' (both kept). ValueError if
    ``dest`` is a file, CannotWrite if a copy cannot be written.
    """
    dest = writable_folder(dest)
    for source in sources or find_notebooks():
        target = dest / source.name
        problem = notebook_problem(target) if target.exists() else None
        if target.exists() and problem is None:
            yield source.name, *(_update(source, target) if update else ("kept", ""))
            continue
        note = ""
        if problem is not None:  # set aside under a free name, never over another file
            aside = claim_free_name(target.with_name(f"{target.stem} (broken copy).txt"))
            os.replace(target, aside)
            note = f"your copy was not a valid notebook ({problem}); kept as '{aside.name}'"
        write_file(target, source.read_bytes())
        yield source.name, "replaced" if note else "copied", note


def installed_version():
    """The version of the installed course-lib (its package metadata), or None."""
    try:
        return metadata.version("course-lib")
    except metadata.PackageNotFoundError:
        return None


def release_tag():
    """The git tag of this version's release ('v' and its version), or 'main' when
    course-lib is not installed and its version is unknown."""
    version = installed_version()
    return f"v{version}" if version else "main"


def source_url():
    """The project's address ([project.urls] Source in pyproject.toml), or None."""
    try:
        entries = metadata.metadata("course-lib").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    return dict(entry.split(", ", 1) for entry in entries).get("Source")


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


def notebook_link(service, name, url=None, ref=None, hub_url=None):
    """The link that opens notebook ``name`` of the project at ``url`` (default:
    source_url()) at ``ref`` on ``service``: 'colab' or 'binder' (a project on GitHub;
    default ref: this version's release tag), or 'nbgitpuller' on the hub at ``hub_url``
    (its first click clones branch ``ref``, default main; later ones merge, keeping edits).
    """
    url = url or source_url()
    if service == "nbgitpuller":
        ref = ref or "main"
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", hub_url or ""):
            raise ValueError(f"the hub's address must start with https:// (got {hub_url!r})")
        if not url:
            raise ValueError("the project's address is not known; pass the git repository's URL")
        folder = url.rstrip("/").rsplit("/", 1)[-1]  # where nbgitpuller clones it
        query = {"repo": url, "urlpath": f"lab/tree/{folder}/notebooks/{name}", "branch": ref}
        return f"{hub_url.rstrip('/')}/hub/user-redirect/git-pull?{urllib.parse.urlencode(query)}"
    github = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", url or "")
    if github is None:
        raise ValueError(
            f"Colab and Binder open notebooks from GitHub; the project's address is {url!r}. "
            "Set yours with: python scripts/set_project_url.py https://github.com/OWNER/REPO"
        )
    project = "/".join(github.groups())
    ref = ref or release_tag()
    if service == "colab":
        return f"https://colab.research.google.com/github/{project}/blob/{ref}/notebooks/{name}"
    return f"https://mybinder.org/v2/gh/{project}/{ref}?labpath=notebooks/{name}"


def notebook_links(service, **options):
    """[(notebook name, link)] for every course notebook (see notebook_link)."""
    return [(path.name, notebook_link(service, path.name, **options)) for path in find_notebooks()]
