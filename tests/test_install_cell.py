"""The notebooks' install cell, run in a real kernel as a student on Colab runs it.

The cell is the one every notebook carries (scripts/set_project_url.py writes it). Here
it asks for a version above the installed one, so it goes on to install: with no address
set (the placeholder) it must say in one Japanese line what to do, and a pip that fails
must end the same way, never in a traceback. tests/test_wheel_install.py runs the
real upgrade of an older course_lib from a wheel.
"""

import importlib.util
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course_lib.coursework import PLACEHOLDER_URL

ROOT = Path(__file__).resolve().parents[1]


def _spu():
    path = ROOT / "scripts" / "set_project_url.py"
    spec = importlib.util.spec_from_file_location("set_project_url", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_cells(sources, folder):
    """Execute the cells in one fresh kernel in ``folder``; their outputs, in order."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    resources = {"metadata": {"path": str(folder)}}
    NotebookClient(nb, timeout=120, allow_errors=True, resources=resources).execute()
    return [cell.outputs for cell in nb.cells]


def test_without_an_address_or_with_a_failing_pip_the_cell_says_one_line(tmp_path):
    spu = _spu()
    placeholder = spu.install_cell(PLACEHOLDER_URL, "99.0")
    missing_wheel = tmp_path / "elsewhere" / "course_lib-99.0-py3-none-any.whl"
    failing = spu.install_cell("https://github.com/teacher/course", "99.0").replace(
        'PACKAGE = "course-lib @ git+https://github.com/teacher/course@v99.0"',
        f'PACKAGE = "{missing_wheel}"',
    )
    assert str(missing_wheel) in failing
    after = "import course_lib; print('still usable:', course_lib.__name__)"
    outputs = _run_cells([placeholder, failing, after], tmp_path)

    expected = (["入手先がまだ設定されていません", ".whl"], [str(missing_wheel), "講師"])
    for cell_outputs, words in zip(outputs[:2], expected, strict=True):
        (error,) = cell_outputs  # nothing else: no pip noise, no traceback
        assert error["output_type"] == "error"
        (line,) = error["traceback"]
        assert line.startswith("course_lib: ") and "\n" not in line
        for word in words:
            assert word in line
    # Nothing was installed or removed: the installed course_lib still imports.
    assert "still usable: course_lib" in outputs[2][0]["text"]


def test_an_installed_version_that_is_new_enough_is_left_alone(tmp_path):
    spu = _spu()
    # The placeholder would fail if the cell tried to install anything.
    cell = spu.install_cell(PLACEHOLDER_URL, spu.project_version())
    (outputs,) = _run_cells([cell], tmp_path)
    assert outputs == []
