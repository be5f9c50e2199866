"""The built wheel, installed read-only, used as a student on a hub would use it.

Builds the wheel (no network: the build uses this environment's setuptools), installs it
into a fresh virtual environment, makes that environment's site-packages read-only, then
from an empty folder with a fresh HOME: copies the notebooks out of the package
(``python -m course_lib notebooks``), executes them all (``python -m course_lib
reproduce``, nbclient), and checks that nothing was written anywhere but HOME and that
folder. As root the student part runs as the unprivileged user ``nobody`` (a root process
may write into read-only folders); otherwise site-packages is made read-only with chmod.

The fresh environment gets its dependencies (NumPy, Jupyter, ...) by a path to this test
environment's site-packages, after its own: installing them again would only test pip.
"""

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _snapshot(folder, skip=()):
    """{path: (size, mtime)} of every file below folder (symlinks not followed)."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            files[path] = (info.st_size, info.st_mtime_ns)
    return files


def _changed(before, after):
    return sorted(p for p in after if before.get(p) != after[p])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    return _build_wheel(ROOT, dist, "course_lib-*.whl")


def _build_wheel(source, dest, pattern):
    """The wheel of the project at ``source``, built into ``dest`` offline (no build isolation)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(dest), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = dest.glob(pattern)
    return path


@pytest.mark.slow
def test_the_wheel_ships_the_notebooks_and_the_sample(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    notebooks = sorted(n for n in names if n.startswith("course_lib/notebooks/"))
    assert [Path(n).name for n in notebooks] == sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    assert "course_lib/data/sample/PROVENANCE" in names
    assert not any(n.startswith(("tests/", "notebooks/")) for n in names)


@pytest.mark.slow
def test_an_installed_read_only_wheel_runs_the_course_from_an_empty_folder(wheel):
    # Not pytest's tmp_path: it is private to this user, and "nobody" must get in.
    base = Path(tempfile.mkdtemp(prefix="course-lib-wheel-"))
    base.chmod(0o755)
    try:
        _install_and_run(wheel, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _read_only_prefix(venv):
    """Command prefix that runs a command with ``venv`` mounted read-only (root only)."""
    if not IS_ROOT:
        return []
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    prefix = ["unshare", "--mount", "--", "sh", "-c", script, "sh", str(venv)]
    probe = subprocess.run([*prefix, "touch", str(venv / "probe")], capture_output=True)
    if probe.returncode == 0 or "Read-only" not in probe.stderr.decode():
        (venv / "probe").unlink(missing_ok=True)
        pytest.fail(f"cannot mount {venv} read-only here (unshare --mount): {probe.stderr!r}")
    return prefix


def _install_and_run(wheel, base):
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site)]
        + [str(wheel)],
        check=True,
        timeout=300,
    )
    # The dependencies, after the wheel on sys.path; its .pth files are not processed, so
    # this environment's editable course_lib does not leak in.
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    if not IS_ROOT:
        for path in [venv, *venv.rglob("*")]:
            if not path.is_symlink():
                mode = path.stat().st_mode
                path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    prefix = _read_only_prefix(venv)

    home, work = base / "home", base / "work"
    (home / "tmp").mkdir(parents=True)
    work.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "COURSE_LIB_MNIST_SOURCE": "sample",
        "OPENBLAS_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
    }
    watched = {
        "the environment": (venv, ()),
        "the checkout": (ROOT, (str(ROOT / ".venv"), str(ROOT / ".git"))),
    }
    before = {name: _snapshot(folder, skip) for name, (folder, skip) in watched.items()}

    def student(*args, timeout=900):
        return subprocess.run(
            [*prefix, str(python), "-m", "course_lib", *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    copied = student("notebooks", "course")
    assert copied.returncode == 0, copied.stderr
    names = sorted(p.name for p in (work / "course").glob("*.ipynb"))
    assert names and names[0].startswith("01_")
    ran = student("reproduce", "--notebooks", "course", "--out", "report")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = (work / "report" / "report.md").read_text(encoding="utf-8")
    assert report.count(" | ok |") == len(names)
    assert "**no**" not in report

    after = {name: _snapshot(folder, skip) for name, (folder, skip) in watched.items()}
    for name in watched:
        changed = _changed(before[name], after[name])
        assert not changed, f"written into {name}: {changed[:5]}"


def _older_wheel(folder):
    """The same project released as 0.1.0: the wheel a student installed last term."""
    source = folder / "older"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # symlinks=False: the package's notebooks link is copied as the notebooks it points to.
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "course_lib", source / "course_lib", symlinks=False, ignore=ignore)
    init = source / "course_lib" / "__init__.py"
    init.write_text(init.read_text().replace(f'"{_version()}"', '"0.1.0"'))
    return _build_wheel(source, folder, "course_lib-0.1.0-*.whl")


def _version():
    import course_lib

    return course_lib.__version__


def test_the_install_cell_upgrades_an_older_course_lib_from_an_uploaded_wheel(wheel, tmp_path):
    import json

    older = _older_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies from this environment (after the venv's own packages), as above.
    Path(site, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(older)]
    subprocess.run(pip, check=True, timeout=300)

    # The student uploads this release's wheel next to the notebook and runs its first
    # cell as it is shipped (no address set yet: the wheel is the way in).
    upload = tmp_path / "content"
    upload.mkdir()
    shutil.copy(wheel, upload / wheel.name)
    nb = json.loads((ROOT / "notebooks" / "01_sigmoid_vs_relu.ipynb").read_text())
    (cell,) = [c for c in nb["cells"] if "install" in c["metadata"].get("tags", [])]
    source = "".join(cell["source"])
    env = {**os.environ, "PIP_NO_INDEX": "1"}  # nothing from the internet
    ran = subprocess.run(
        [python, "-c", source], cwd=upload, env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    check = "import course_lib, importlib.metadata as m; print(m.version('course-lib'), "
    check += "course_lib.__version__, course_lib.__file__)"
    seen = subprocess.run(
        [python, "-c", check], cwd=upload, capture_output=True, text=True, check=True
    )
    version, inside, where = seen.stdout.split()
    assert version == inside == _version(), seen.stdout
    assert where.startswith(site), f"not the venv's upgraded copy: {where}"
