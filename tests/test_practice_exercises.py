"""Exercise versions: generated from the shipped notebooks, every solution replaced by a stub."""

import ast
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_lib.__main__ import main
from course_lib.coursework import find_notebooks, read_notebook
from course_lib.practice.exercises import (
    BEGIN,
    END,
    GENERIC_HINT,
    exercise_notebook,
    exercise_source,
)
from course_lib.practice.items import ITEMS, expected_items, items_in

NOTEBOOKS = find_notebooks()


def _code(nb):
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb["cells"]
        if c["cell_type"] == "code"
    ]


def test_a_region_becomes_a_stub_raising_its_hint_at_its_indentation():
    source = (
        "def backward(self, dout):\n"
        "    # ヒント: y(1 - y) を掛けます\n"
        "    ### BEGIN SOLUTION\n"
        "    dx = dout * (1.0 - self.out) * self.out\n"
        "    return dx\n"
        "    ### END SOLUTION\n"
    )
    assert exercise_source(source) == (
        "def backward(self, dout):\n"
        "    # ヒント: y(1 - y) を掛けます\n"
        '    raise NotImplementedError("ヒント: y(1 - y) を掛けます")\n'
    )


def test_an_answer_region_becomes_none_and_the_check_stays():
    source = f'{BEGIN}\nanswer_q5 = "ac"\n{END}\ncheck_answer("q5", answer_q5)'
    assert exercise_source(source) == 'answer_q5 = None\ncheck_answer("q5", answer_q5)'


def test_a_region_without_a_hint_gets_a_generic_one_and_an_open_region_is_refused():
    assert "ヒント: 上の説明の式を" in exercise_source(f"{BEGIN}\nx = 1\n{END}")
    with pytest.raises(ValueError, match="without '### END SOLUTION'"):
        exercise_source(f"x = 0\n{BEGIN}\nx = 1\n")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_exercise_version_holds_no_solution_and_still_compiles(path):
    nb = read_notebook(path)
    exercise = exercise_notebook(nb)
    solution_lines = set()
    for source in _code(nb):
        inside = False
        for line in source.splitlines():
            if line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif inside and len(line.strip()) > 12:  # 'return out' may appear elsewhere
                solution_lines.add(line.strip())
    for source in _code(exercise):
        assert BEGIN not in source and END not in source
        assert GENERIC_HINT not in source  # each region has its own hint above it
        assert not solution_lines & {line.strip() for line in source.splitlines()}
        python = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
        ast.parse(python)  # a stub at the region's indentation keeps the code valid
    assert exercise["metadata"]["course_lib"]["practice"] == items_in("\n".join(_code(nb)))
    assert all(c.get("outputs", []) == [] for c in exercise["cells"] if c["cell_type"] == "code")


def test_every_item_is_asked_in_its_own_notebook_and_nowhere_else():
    for path in NOTEBOOKS:
        code = "\n".join(_code(read_notebook(path)))
        mine = [item.name for item in ITEMS if path.name.startswith(item.notebook)]
        assert items_in(code) == mine, path.name
        if mine:  # a submission with one check left is expected to answer all of them
            first = next(item for item in ITEMS if item.name == mine[0])
            assert expected_items(first.call) == mine


def test_notebooks_exercises_copies_the_exercise_versions(tmp_path, capsys):
    dest = tmp_path / "course"
    assert main(["notebooks", str(dest), "--exercises"]) == 0
    assert sorted(p.name for p in dest.iterdir()) == [p.name for p in NOTEBOOKS]
    copy = json.loads((dest / "01_sigmoid_vs_relu.ipynb").read_text("utf-8"))
    assert copy["metadata"]["course_lib"]["practice"] == ["q1", "sigmoid", "q2", "relu"]
    assert "answer_q1 = None" in "\n".join(_code(copy))
    assert main(["notebooks", str(dest), "--exercises"]) == 0
    assert "kept   01_sigmoid_vs_relu.ipynb" in capsys.readouterr().out


STUBBED = [
    p for p in NOTEBOOKS if "NotImplementedError" in json.dumps(exercise_notebook(read_notebook(p)))
]


@pytest.mark.slow
@pytest.mark.parametrize("path", STUBBED, ids=lambda p: p.name)
def test_an_exercise_version_runs_up_to_its_first_stub_which_says_its_hint(path, tmp_path):
    exercise = nbformat.from_dict(exercise_notebook(read_notebook(path)))
    client = NotebookClient(
        exercise,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    with pytest.raises(CellExecutionError):
        client.execute()
    ran = [c for c in exercise.cells if c.cell_type == "code" and c.get("execution_count")]
    errors = [o for c in ran for o in c.outputs if o.output_type == "error"]
    assert len(errors) == 1, [e.get("ename") for e in errors]
    (error,) = errors
    stub = next(c for c in exercise.cells if "raise NotImplementedError(" in c.source)
    hint = stub.source.split('raise NotImplementedError("', 1)[1].split('")', 1)[0]
    assert error.ename == "NotYetImplemented"
    assert len(error.traceback) == 1 and hint in error.traceback[0]
    assert "まだ実装されていません" in error.traceback[0]
    assert ran[-1].source.rstrip().endswith(")") and "check_" in ran[-1].source


def test_the_shipped_notebooks_mark_their_answers_and_checks():
    # One item per check call, in the order ITEMS lists them (the grades' columns).
    names = [name for p in NOTEBOOKS for name in items_in("\n".join(_code(read_notebook(p))))]
    assert names == [item.name for item in ITEMS]
    assert Path(NOTEBOOKS[0]).name == "01_sigmoid_vs_relu.ipynb"
