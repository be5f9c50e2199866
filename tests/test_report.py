"""reproduce(): notebooks executed headless, runs recorded, report written."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_lib.experiments import run_preset
from course_lib.report import find_notebooks, load_results, record, reproduce
from course_lib.training import History


def _notebook(path, *sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_record_is_a_no_op_without_a_report(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_LIB_RESULTS_DIR", raising=False)
    assert record("x", History()) is None
    assert not list(tmp_path.iterdir())


def test_record_and_load_round_trip(monkeypatch, tmp_path, sample_data):
    monkeypatch.setenv("COURSE_LIB_RESULTS_DIR", str(tmp_path))
    h = run_preset("relu_he", sample_data, seed=0, iters_num=30)
    assert json.loads((tmp_path / "relu_he.json").read_text())["name"] == "relu_he"
    loaded = load_results(tmp_path)["relu_he"]
    assert loaded.test_acc == h.test_acc and loaded.settings["preset"] == "relu_he"
    assert loaded.summary() == h.summary()


def test_reproduce_executes_notebooks_and_writes_the_report(tmp_path):
    books = tmp_path / "nbs"
    books.mkdir()
    _notebook(
        books / "01_tiny.ipynb",
        "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "from course_lib.data.mnist import load_mnist\n"
        "from course_lib.experiments import run_preset\n"
        "data = load_mnist(one_hot_label=True)\n"
        "h = run_preset('sigmoid_0.01', data, seed=0, iters_num=40)\n"
        "h.figure()\nplt.show()",
    )
    _notebook(books / "02_tiny.ipynb", "print('second')")
    (books / "not_a_course_notebook.ipynb").write_text("{}")
    out = tmp_path / "out"
    report = reproduce(out_dir=out, source="sample", notebooks=books)
    text = report.read_text()
    assert "| 01_tiny.ipynb |" in text and "| 02_tiny.ipynb |" in text
    assert "| sigmoid_0.01 | sigmoid / 0.01 [40,20] |" in text
    assert "final test accuracy < 0.2" in text and "| yes |" in text
    pngs = sorted((out / "figures").glob("*.png"))
    assert [p.name for p in pngs] == ["01_tiny_01.png"]
    assert "figures/01_tiny_01.png" in text
    assert (out / "01_tiny.ipynb").exists()


def test_reproduce_reports_a_failing_notebook(tmp_path):
    books = tmp_path / "nbs"
    books.mkdir()
    _notebook(books / "01_broken.ipynb", "raise ValueError('boom')")
    with pytest.raises(RuntimeError, match="01_broken"):
        reproduce(out_dir=tmp_path / "out", notebooks=books)
    assert "failed" in (tmp_path / "out" / "report.md").read_text()


def test_find_notebooks_explains_an_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="--notebooks"):
        find_notebooks(tmp_path)


def test_report_table_follows_the_course_order_and_escapes_pipes():
    from course_lib.report import _table

    h = History(settings={"activation": "sigmoid"}, iters_num=10, eval_iters=[10])
    h.train_acc, h.test_acc = [0.1], [0.1]
    table = _table({"deep_sigmoid_0.01": h, "relu_he": h, "sigmoid_0.01": h})
    rows = [line.split(" | ")[0] for line in table.splitlines()[2:]]
    assert rows == ["| sigmoid_0.01", "| relu_he", "| deep_sigmoid_0.01"]
    deep = table.splitlines()[-1]
    assert "\\|dW1\\|" in deep
    assert deep.count(" | ") == 7  # eight cells, none split by the claim's bars
