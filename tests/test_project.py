"""The project's own rules: dependencies agree, notebooks are clean and well formed."""

import json
import re
from importlib.metadata import requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _name(requirement):
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _environment_yml():
    """The conda and pip dependency names in environment.yml (a flat, simple file)."""
    conda, pip, section = set(), set(), None
    for line in (ROOT / "environment.yml").read_text().splitlines():
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
                pip.add(item)
            else:
                section = "conda"
                conda.add(_name(item))
    assert conda, "environment.yml lists no dependencies"
    return conda, pip


def test_environment_yml_and_pyproject_agree():
    # The installed metadata is pyproject.toml's (tomllib is not in Python 3.10).
    reqs = requires("course-lib")
    runtime = {_name(r) for r in reqs if "extra ==" not in r}
    extras = {_name(r) for r in reqs if "extra ==" in r}
    assert runtime and extras
    conda, pip = _environment_yml()
    conda.discard("python")
    conda.discard("pip")
    assert runtime <= conda, f"missing from environment.yml: {sorted(runtime - conda)}"
    assert conda <= runtime | extras, f"not in pyproject.toml: {sorted(conda - runtime - extras)}"
    assert any(re.match(r"-e [\"']?\.", p) for p in pip), "install the project through pip"


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
def test_notebook_has_english_headings_and_ends_with_kousatsu(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert markdown[-1].lstrip().startswith("## 考察"), f"{path.name} must end with 考察"
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    english = [h for h in headings if re.fullmatch(r"## [A-Za-z0-9 ,.:/()\-=\[\]_'x]+", h)]
    assert len(english) >= 2, f"{path.name}: headings {headings}"
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t) for t in markdown)
