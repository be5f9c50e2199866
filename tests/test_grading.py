"""grade: every submission executed and checked, one CSV row each, whatever was handed in."""

import csv
import hashlib
import inspect
import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.__main__ import main
from course_lib.practice import collect
from course_lib.practice.grading import _drop_outputs, grade
from course_lib.safe_files import write_file
from tests import test_practice_checks

IMPORTS = "from course_lib.practice import check_answer, check_relu, check_sigmoid"
# The correct Sigmoid of the checks' own tests, as a student's cell.
SIGMOID = "import numpy as np\n\n\n" + inspect.getsource(test_practice_checks.Sigmoid)
RELU = """class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # the textbook's: changes dout
        return dout
"""
Q1 = 'answer_q1 = {}\ncheck_answer("q1", answer_q1)'
Q2 = 'answer_q2 = {}\ncheck_answer("q2", answer_q2)'
CHECKS = "check_sigmoid(Sigmoid)\ncheck_relu(Relu)"
WRITES = """import os, pathlib, tempfile
pathlib.Path("notes.txt").write_text("in the working folder")
(pathlib.Path.home() / "home.txt").write_text("in HOME")
tempfile.NamedTemporaryFile(delete=False).write(b"in TMPDIR")
for name in os.listdir("."):
    if name != "notes.txt":
        os.remove(name) if os.path.isfile(name) else None
"""


def _write(path, *sources):
    cells = [new_markdown_cell("# a submission")] + [new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, path)


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def submissions(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    _write(
        folder / "a_correct.ipynb",
        IMPORTS,
        Q1.format(24),
        SIGMOID,
        RELU.replace("dout[", "dout = dout.copy()\n        dout["),
        Q2.format(0.25),
        CHECKS,
    )
    _write(
        folder / "b_partly_wrong.ipynb",
        IMPORTS,
        Q1.format(8),
        SIGMOID,
        RELU,
        Q2.format("None"),
        CHECKS,
    )
    _write(
        folder / "c_syntax_error.ipynb",
        IMPORTS,
        Q1.format(24),
        SIGMOID.replace("(-x))", "(-x)"),
        CHECKS,
    )
    _write(
        folder / "d_endless.ipynb", IMPORTS, Q1.format(24), "while True:\n    pass", SIGMOID, CHECKS
    )
    # Cells deleted (Relu, q2) and reordered (the checks before the answer they need).
    _write(folder / "e_reordered.ipynb", CHECKS.splitlines()[0], SIGMOID, Q1.format(24), IMPORTS)
    _write(folder / "f_writes.ipynb", IMPORTS, WRITES, Q1.format(24))
    _write(
        folder / "g_loud.ipynb",
        IMPORTS,
        "for _ in range(100):\n    print('x' * 50_000)",
        Q1.format(24),
    )
    _write(folder / "h_dies.ipynb", IMPORTS, Q1.format(24), "import os\nos._exit(1)")
    (folder / "i_cut.ipynb").write_text('{"cells": [{"cell_type": "co')
    return folder


def _rows(path):
    with open(path, encoding="utf-8") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_grade_survives_what_students_hand_in(submissions, tmp_path, monkeypatch, capsys):
    home, work, temporary = tmp_path / "home", tmp_path / "work", tmp_path / "tmp"
    for folder in (home, work, temporary):
        folder.mkdir()
    # The kernels would inherit these: each must get its own scratch folder instead.
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(temporary))
    # Where this process's own kernel lookup keeps IPython's folder (not the kernels').
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.chdir(work)
    before = _digests(submissions)
    code = main(["grade", str(submissions), "--out", "grades.csv", "--timeout", "4"])
    assert code == 0
    rows = _rows(work / "grades.csv")
    assert list(rows) == sorted(p.name for p in submissions.iterdir())

    def cells(name, *columns):
        return [rows[name][c] for c in columns]

    assert cells("a_correct.ipynb", "q1", "sigmoid", "q2", "relu") == ["pass"] * 4
    assert rows["a_correct.ipynb"]["note"] == "ok"
    assert rows["a_correct.ipynb"]["init"] == ""  # not in this notebook
    partly = rows["b_partly_wrong.ipynb"]
    assert cells("b_partly_wrong.ipynb", "q1", "sigmoid", "q2", "relu") == [
        "fail", "pass", "fail", "fail"
    ]  # fmt: skip
    assert "dt/dx も掛けます" in partly["note"] and "dout を書き換えています" in partly["note"]
    syntax = rows["c_syntax_error.ipynb"]
    assert syntax["q1"] == "pass" and syntax["sigmoid"] == "fail"
    assert (
        "cell 4: SyntaxError" in syntax["note"] and "Sigmoid が定義されていません" in syntax["note"]
    )
    endless = rows["d_endless.ipynb"]
    assert cells("d_endless.ipynb", "q1", "sigmoid") == ["pass", "pass"]
    assert "cell 4 did not finish within 4 s (interrupted)" in endless["note"]
    # Deleted cells count as failed; reordered ones are checked on what they defined.
    assert cells("e_reordered.ipynb", "q1", "sigmoid", "q2", "relu") == [
        "pass", "pass", "fail", "fail"
    ]  # fmt: skip
    assert "Relu が定義されていません" in rows["e_reordered.ipynb"]["note"]
    # q1 is notebook 01's: its other items count as not done, and nothing else went wrong.
    for name in ("f_writes.ipynb", "g_loud.ipynb"):
        assert cells(name, "q1", "sigmoid") == ["pass", "fail"]
        assert rows[name]["note"].startswith("sigmoid: Sigmoid が定義されていません | ")
    dies = rows["h_dies.ipynb"]
    assert (
        dies["q1"] == "fail" and "failed in cell 4 (`import os`): the kernel died" in dies["note"]
    )
    cut = rows["i_cut.ipynb"]
    assert cut["note"].startswith("not a valid notebook (") and cut["q1"] == ""
    assert all(float(row["seconds"]) >= 0 for row in rows.values())
    # Nothing outside each submission's scratch folder was written.
    assert _digests(submissions) == before
    assert sorted(p.name for p in work.iterdir()) == ["grades.csv"]
    assert list(home.iterdir()) == [] and list(temporary.iterdir()) == []
    assert "grades: grades.csv (9 submissions in " in capsys.readouterr().out


def test_an_existing_csv_is_refused_before_anything_runs(submissions, tmp_path, capsys):
    out = tmp_path / "grades.csv"
    out.write_text("the instructor's own notes")
    assert main(["grade", str(submissions), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("exists; choose another --out (nothing was run)") and "\n" not in err
    assert out.read_text() == "the instructor's own notes"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--jobs", "0"], "--jobs"),
        (["--timeout", "-1"], "--timeout"),
    ],
)
def test_bad_arguments_are_one_line(submissions, tmp_path, capsys, args, words):
    assert main(["grade", str(submissions), "--out", str(tmp_path / "g.csv"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err
    assert not (tmp_path / "g.csv").exists()


def test_a_folder_without_notebooks_is_refused(tmp_path, capsys):
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "g.csv")]) == 2
    assert "no notebooks (*.ipynb) in" in capsys.readouterr().err


def test_the_csv_is_written_whole_and_never_over_a_file(tmp_path):
    path = tmp_path / "grades.csv"
    assert write_file(path, b"a,b\n") == path
    assert write_file(path, b"other") == tmp_path / "grades (2).csv"
    assert path.read_bytes() == b"a,b\n"
    assert (tmp_path / "grades (2).csv").read_bytes() == b"other"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["grades (2).csv", "grades.csv"]  # no temporary left


def test_the_checks_read_the_namespace_and_report_every_item(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw: shown.append(data))
    namespace = {"answer_q1": 24, "answer_q3": "a", "__name__": "__main__"}
    exec(SIGMOID, namespace)  # defined "in the notebook": its module is __main__
    collect.grade_here(namespace, ["q1", "q2"])
    (data,) = shown
    results = data[collect.GRADE_MIME]
    assert results["q1"][0] and results["sigmoid"][0]
    assert not results["q2"][0] and not results["q3"][0]
    assert list(results) == ["q1", "sigmoid", "q2", "q3"]
    assert json.loads(data["text/plain"]) == results


def test_outputs_are_dropped_as_cells_finish_and_errors_noted():
    cell = new_code_cell("print('x' * 10)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 10_000_000)]
    reply = {"content": {"status": "error", "ename": "ValueError", "evalue": "bad\nvalue"}}
    _drop_outputs(cell=cell, cell_index=0, execute_reply=reply)
    assert cell.outputs == [] and cell.metadata["course_lib_grade_error"] == "ValueError: bad value"
    stub = {"content": {"status": "error", "ename": "NotYetImplemented", "evalue": "hint"}}
    quiet = new_code_cell("")
    _drop_outputs(cell=quiet, cell_index=1, execute_reply=stub)
    assert "course_lib_grade_error" not in quiet.metadata  # the item's column says it


def test_grade_without_the_report_extra_says_what_to_install(monkeypatch, submissions, tmp_path):
    import builtins

    real_import = builtins.__import__

    def without_nbclient(name, *args, **kwargs):
        if name == "nbclient":
            raise ModuleNotFoundError("No module named 'nbclient'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_nbclient)
    with pytest.raises(ValueError, match=r'pip install "course-lib\[report\]"'):
        grade(submissions, out=tmp_path / "g.csv")
    assert os.listdir(tmp_path) == ["submissions"]
