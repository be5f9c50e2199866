"""Write the project's address and version into every notebook's install cell, from one place.

The address is `[project.urls] Source` in pyproject.toml, the version
`course_lib.__version__`. Every notebook's cell tagged `install` is written from
INSTALL_CELL below: it installs `course-lib @ git+ADDRESS@vVERSION` (the release's tag)
where course_lib is missing or older than VERSION, or a wheel the student uploaded next
to the notebook; while the address is still the placeholder it says in one line what
to do instead. The notebooks are stamped again afterwards.

Usage:
  python scripts/set_project_url.py https://github.com/OWNER/REPO   # a fork: its address
  python scripts/set_project_url.py                                  # after a version bump

A release: bump `__version__` in course_lib/__init__.py, run this, commit, then
`git tag vVERSION && git push origin vVERSION` (the tag the install cells pin).
"""

import re
import sys
from pathlib import Path
from string import Template

import nbformat

from course_lib.coursework import address_problem, find_notebooks, stamp

ROOT = Path(__file__).resolve().parents[1]

# ruff-formatted as it is (ruff format --check covers the notebooks).
INSTALL_CELL = Template("""\
# @title course_lib を入れる { display-mode: "form" }
# Colab などで course_lib を入れます。必要な版以上が入っていれば何もしません
import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

from packaging.version import Version

REQUIRED = "$version"  # このノートブックに必要な course_lib の版
PACKAGE = "$package"  # 入手先（講師が設定します）


class InstallProblem(Exception):
    def _render_traceback_(self):  # トレースバックの代わりに 1 行だけ表示します
        return [f"course_lib: {self}"]


def installed():
    try:
        return Version(importlib.metadata.version("course-lib"))
    except importlib.metadata.PackageNotFoundError:
        return None


if installed() is None or installed() < Version(REQUIRED):
    # アップロードされた wheel があれば、いちばん新しいものを使います
    wheels = sorted(
        Path().glob("course_lib-[0-9]*.whl"), key=lambda p: Version(p.name.split("-")[1])
    )
    source = str(wheels[-1]) if wheels else PACKAGE
    if not source:
        raise InstallProblem(
            "入手先がまだ設定されていません。講師にアドレスを聞いて上の PACKAGE に書くか、"
            "配布された course_lib の .whl ファイルをこのノートブックと同じフォルダ"
            "（Colab では左の「ファイル」）にアップロードして、このセルをもう一度実行してください"
        )
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-color", "--upgrade", source]
    no_prompt = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # git がパスワードを待たないように
    done = subprocess.run(pip, capture_output=True, text=True, env=no_prompt)
    importlib.invalidate_caches()
    if done.returncode != 0 or installed() is None or installed() < Version(REQUIRED):
        lines = [x.strip() for x in done.stderr.splitlines() if x.strip()]
        lines = lines or [f"入ったのは {installed()}"]
        why = next((x for x in lines if x.startswith(("ERROR", "fatal"))), lines[-1])
        raise InstallProblem(
            f"{REQUIRED} 以上を {source} から入れられませんでした（{why}）。講師に伝えるか、"
            "配布された .whl ファイルをアップロードして、このセルをもう一度実行してください"
        )
    if "course_lib" in sys.modules:
        raise InstallProblem("新しい版を入れました。カーネル（ランタイム）を再起動してください")
""")


def install_spec(url, version):
    """What the install cell installs: the release's tag at ``url``, or '' (no address)."""
    if address_problem(url):
        return ""
    return f"course-lib @ git+{url.rstrip('/')}@v{version}"


def install_cell(url, version):
    """The source of every notebook's install cell for ``url`` and ``version``."""
    return INSTALL_CELL.substitute(version=version, package=install_spec(url, version)).rstrip("\n")


def project_version(root=ROOT):
    """``__version__`` as written in course_lib/__init__.py."""
    text = (root / "course_lib" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"$', text, flags=re.M).group(1)


def project_url(root=ROOT):
    """``[project.urls] Source`` as written in pyproject.toml."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^Source = "(.*)"$', text, flags=re.M).group(1)


def set_url(url, root=ROOT):
    """Write ``url`` as the Source line of pyproject.toml."""
    pyproject = root / "pyproject.toml"
    text, n = re.subn(r'^Source = ".*"$', f'Source = "{url}"', pyproject.read_text(), flags=re.M)
    if n != 1:
        sys.exit("pyproject.toml has no [project.urls] Source line to set")
    pyproject.write_text(text)


def write_install_cells(url, version, root=ROOT):
    """Write the install cell into every notebook in ``root``/notebooks and stamp it."""
    for path in find_notebooks(root / "notebooks"):
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if "install" in c.metadata.get("tags", [])]
        if len(cells) != 1:
            sys.exit(f"{path.name}: expected one cell tagged 'install', found {len(cells)}")
        cells[0].source = install_cell(url, version)
        # Folded in JupyterLab (and a form in Colab, by its @title line): a setup step.
        cells[0].metadata.setdefault("jupyter", {})["source_hidden"] = True
        nbformat.write(stamp(nb), path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or (argv and not re.fullmatch(r"https://\S+", argv[0])):
        sys.exit("usage: python scripts/set_project_url.py [https://github.com/OWNER/REPO]")
    if argv:
        set_url(argv[0].rstrip("/"), ROOT)
    url, version = project_url(ROOT), project_version(ROOT)
    write_install_cells(url, version, ROOT)
    spec = install_spec(url, version) or f"nothing yet: {url} is the placeholder"
    print(f"install cells: course_lib {version} from {spec}")
    print("reinstall (pip install -e .) to update the package metadata")


if __name__ == "__main__":
    main()
