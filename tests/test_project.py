"""The project's own rules: dependencies agree, notebooks are clean and well formed."""

import json
import re
from importlib import metadata
from importlib.metadata import requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _name(requirement):
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


# conda-forge's name -> the name in pyproject.toml
CONDA_NAMES = {"matplotlib-base": "matplotlib"}
TEST_TOOLS = {"pytest", "nbval", "playwright", "jupyterhub", "psutil", "ruff", "setuptools"}


def _conda_env(name):
    """The conda and pip dependencies of a conda environment file (a flat, simple file)."""
    conda, pip, section = set(), [], None
    for line in (ROOT / name).read_text().splitlines():
        stripped = line.strip()
        if not line.startswith((" ", "#")):
            section = "conda" if stripped == "dependencies:" else None
            continue
        if section is None:
            continue
        if stripped.startswith("- pip:"):
            section = "pip"
            continue
        if stripped.startswith("- "):
            item = stripped[2:].split("#")[0].strip()
            if section == "pip" and line.startswith("      "):
                pip.append(item)
            else:
                section = "conda"
                conda.add(_name(item))
    assert conda, f"{name} lists no dependencies"
    return {CONDA_NAMES.get(n, n) for n in conda} - {"python", "pip"}, conda, pip


def _pyproject_names():
    # The installed metadata is pyproject.toml's (tomllib is not in Python 3.10).
    reqs = requires("course-lib")
    runtime = {_name(r) for r in reqs if "extra ==" not in r}
    extras = {_name(r) for r in reqs if "extra ==" in r}
    assert runtime and extras
    return runtime, extras


def test_the_students_environment_file_has_what_the_notebooks_need_and_no_test_tools():
    runtime, _ = _pyproject_names()
    names, raw, pip = _conda_env("environment.yml")
    assert runtime <= names, f"missing from environment.yml: {sorted(runtime - names)}"
    assert names == runtime | {"jupyterlab"}, sorted(names - runtime)
    # conda-forge's matplotlib pulls in Qt; matplotlib-base is the same without it.
    assert "matplotlib-base" in raw and "matplotlib" not in raw
    assert pip == ["."], "the course itself, without its test extras"
    assert not TEST_TOOLS & names


def test_the_development_environment_file_adds_the_runner_and_the_test_tools():
    runtime, extras = _pyproject_names()
    names, _, pip = _conda_env("environment-dev.yml")
    names.discard("nodejs")  # for configurable-http-proxy (npm), not a Python package
    assert runtime <= names, f"missing from environment-dev.yml: {sorted(runtime - names)}"
    assert names <= runtime | extras, f"not in pyproject.toml: {sorted(names - runtime - extras)}"
    assert any(re.fullmatch(r"-e [\"']?\.\[test\][\"']?", p) for p in pip), pip


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} has execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_carries_a_current_stamp_of_its_code_and_cells(path):
    from course_lib import coursework

    nb = coursework.read_notebook(path)
    assert coursework.is_changed(nb) is False, "run python scripts/stamp_notebooks.py"
    assert not coursework.is_edited(nb), "run python scripts/stamp_notebooks.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_english_headings_and_ends_with_kousatsu(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert markdown[-1].lstrip().startswith("## 考察"), f"{path.name} must end with 考察"
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    english = [h for h in headings if re.fullmatch(r"## [A-Za-z0-9 ,.:/()\-=\[\]_'x]+", h)]
    assert len(english) >= 2, f"{path.name}: headings {headings}"
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t) for t in markdown)


def _script(name):
    """A module of scripts/ (they are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _install_cells(folder):
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert "install" in code[0]["metadata"].get("tags", []), f"{path.name}: first cell"
        assert sum("install" in c["metadata"].get("tags", []) for c in code) == 1, path.name
        assert code[0]["metadata"]["jupyter"]["source_hidden"] is True  # folded: a setup step
        yield path, nb, "".join(code[0]["source"])


def test_every_install_cell_is_written_from_one_place_for_this_version():
    spu = _script("set_project_url")
    url, version = spu.project_url(), spu.project_version()
    expected = spu.install_cell(url, version)
    for path, _, source in _install_cells(ROOT / "notebooks"):
        assert source == expected, f"{path.name}: run python scripts/set_project_url.py"
        assert f'REQUIRED = "{version}"' in source
    # One version: the package's, its metadata's and the pinned release's.
    import course_lib

    assert course_lib.__version__ == version == metadata.version("course-lib")


def test_while_the_address_is_the_placeholder_the_cells_install_nothing_from_it():
    from course_lib.coursework import PLACEHOLDER_URL

    spu = _script("set_project_url")
    assert spu.install_spec(PLACEHOLDER_URL, "0.2.0") == ""
    assert 'PACKAGE = ""' in spu.install_cell(PLACEHOLDER_URL, "0.2.0")


def test_set_project_url_pins_the_release_in_every_place_at_once(tmp_path, monkeypatch):
    import shutil

    from course_lib import coursework

    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    (tmp_path / "course_lib").mkdir()
    (tmp_path / "course_lib" / "__init__.py").write_text('__version__ = "3.1.4"\n')
    spu = _script("set_project_url")
    monkeypatch.setattr(spu, "ROOT", tmp_path)
    spu.main(["https://github.com/teacher/my-course"])
    assert (
        'Source = "https://github.com/teacher/my-course"'
        in (tmp_path / "pyproject.toml").read_text()
    )
    for _, nb, source in _install_cells(tmp_path / "notebooks"):
        assert 'PACKAGE = "course-lib @ git+https://github.com/teacher/my-course@v3.1.4"' in source
        assert 'REQUIRED = "3.1.4"' in source
        assert coursework.is_changed(nb) is False and not coursework.is_edited(nb)  # stamped
    links = coursework.notebook_links(
        "colab", url="https://github.com/teacher/my-course", ref="v3.1.4"
    )
    assert links[0][1] == (
        "https://colab.research.google.com/github/teacher/my-course/blob/v3.1.4/notebooks/"
        "01_sigmoid_vs_relu.ipynb"
    )


def test_binder_installs_the_package_as_pyproject_says():
    reqs = requires("course-lib")
    runtime = {_name(r) for r in reqs if "extra ==" not in r}
    lines = (ROOT / ".binder" / "requirements.txt").read_text().splitlines()
    binder = {_name(line) for line in lines if line.strip() and not line.startswith("#")}
    assert binder == runtime | {"jupyterlab"}
    assert re.fullmatch(r"python-3\.\d+\s*", (ROOT / ".binder" / "runtime.txt").read_text())
    post = (ROOT / ".binder" / "postBuild").read_text()
    assert "pip install --no-cache-dir .\n" in post and "-e" not in post.split()
    assert "python -m course_lib notebooks" in post


def _readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^python3 -m venv \.venv && .*$", readme, flags=re.M)
    (test,) = [c for c in commands if c.endswith("-m pytest")]
    return test


def test_the_hosted_workflow_runs_the_lowest_supported_python_and_colabs():
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    (matrix,) = re.findall(r"^\s+python-version: \[(.*)\]$", workflow, flags=re.M)
    versions = re.findall(r'"([0-9.]+)"', matrix)
    pyproject = (ROOT / "pyproject.toml").read_text()
    lowest = re.search(r'^requires-python = ">=(3\.\d+)"$', pyproject, flags=re.M).group(1)
    assert lowest in versions and "3.13" in versions, versions  # 3.13: Colab's Python
    assert "python-version: ${{ matrix.python-version }}" in workflow
    # And it builds the web pages of the executed notebooks (the script's own usage line).
    usage = (ROOT / "scripts" / "build_html.py").read_text().split("Usage: ", 1)[1].splitlines()[0]
    for command in usage.split(" && "):
        assert f".venv/bin/{command}" in workflow, command


def test_ci_and_the_hosted_workflow_run_the_readmes_test_command():
    command = _readme_test_command()
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert re.findall(r"^\s+run: (.*)$", workflow, flags=re.M)[-1] == command
    assert f"\n{command}\n" in (ROOT / ".ci" / "run").read_text()
