"""reproduce(): notebooks executed headless, runs read back from them, report written."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_lib import coursework
from course_lib.__main__ import main
from course_lib.config import RunConfig
from course_lib.history import HISTORY_MIME, History
from course_lib.report import OutputFolderError, reproduce
from course_lib.results import notebook_runs, run_rows, table

SETUP = (
    "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
    "from course_lib.data.mnist import load_mnist\n"
    "from course_lib.experiments import PRESETS\n"
    "from course_lib.training import run\n"
    "data = load_mnist(one_hot_label=True)\n"
)


def _notebook(path, *sources, stamp=False):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if stamp:
        coursework.stamp(nb)
    nbformat.write(nb, path)
    return nb


@pytest.fixture
def books(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    return folder


def _digests(folder):
    """{path inside folder: SHA-256} of every file: "exactly as it was" in one value."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _row(text, name):
    """The line of the Notebooks table for notebook file ``name``."""
    (line,) = [line for line in text.splitlines() if line.startswith(f"| {name} |")]
    return line


def test_reproduce_reads_the_runs_back_from_the_executed_notebooks(books, tmp_path):
    _notebook(
        books / "01_tiny.ipynb",
        SETUP,
        # The seed's sigmoid / 0.01 run, twice (two rows), then one with changed settings.
        "a = run(PRESETS['sigmoid_0.01'].config, data)\na",
        "b = run(PRESETS['sigmoid_0.01'].config, data)\nb",
        "from course_lib import plots\n"
        "c = run(PRESETS['sigmoid_0.01'].config.replace(iters_num=30), data)\n"
        "plots.accuracy_figure(c)\nplt.show()\nc",
    )
    # The seed's explicit loop blew up at its second iteration: diverged, NaN as null.
    blown_up = (
        "from course_lib.history import History\nfrom course_lib.config import RunConfig\n"
        "History.from_seed_lists(RunConfig(seed=None), [2.3, float('nan')], [0.1], [0.1], 2)"
    )
    _notebook(books / "02_tiny.ipynb", "print('second')", blown_up)
    (books / "not_a_course_notebook.ipynb").write_text("{}")
    out = tmp_path / "out"
    report = reproduce(out=out, source="sample", notebooks=books)
    text = report.read_text()
    assert "| 01_tiny.ipynb |" in text and "| 02_tiny.ipynb |" in text
    rows = [line for line in text.splitlines() if line.startswith("| 01_tiny | ")]
    assert len(rows) == 3
    assert all("sigmoid / 0.01 [40,20] lr=0.1" in row for row in rows)
    assert rows[0].count("| yes |") == 1 and "final test accuracy < 0.2" in rows[0]
    assert "no claim for these settings" in rows[2]
    assert [p.name for p in sorted((out / "figures").glob("*.png"))] == ["01_tiny_01.png"]
    assert "figures/01_tiny_01.png" in text
    runs = json.loads((out / "runs.json").read_text())
    assert [r["notebook"] for r in runs] == ["01_tiny.ipynb"] * 3 + ["02_tiny.ipynb"]
    assert runs[2]["config"]["iters_num"] == 30
    assert runs[3]["losses"] == [2.3, None] and runs[3]["status"] == "diverged"
    (row,) = [line for line in text.splitlines() if line.startswith("| 02_tiny | ")]
    assert "- (run diverged)" in row
    assert (out / "01_tiny.ipynb").exists()


def test_notebook_runs_keep_one_entry_per_run_and_read_json_text():
    h = History(config=RunConfig(iters_num=10), eval_iters=[10], train_acc=[0.5], test_acc=[0.4])
    bundle = h._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", HISTORY_MIME}
    outputs = [
        {"output_type": "display_data", "data": bundle, "metadata": {}},
        {"output_type": "display_data", "data": {HISTORY_MIME: json.dumps(h.to_dict())}},
    ]
    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": outputs}]}
    (back,) = notebook_runs(nb)
    assert back.run_id == h.run_id and back.config == h.config and back.test_acc == [0.4]


def test_a_stopped_run_is_not_judged():
    config = RunConfig(activation="sigmoid")
    h = History(config=config, eval_iters=[10], train_acc=[0.1], test_acc=[0.1], status="stopped")
    (row,) = run_rows([{"name": "01_x.ipynb", "runs": [h]}])
    assert row["preset"] == "sigmoid_0.01" and row["agrees"] == "- (run stopped)"


def test_reproduce_reports_a_failing_notebook(books, tmp_path, capfd):
    _notebook(books / "01_broken.ipynb", "x = 1", "raise ValueError('boom')")
    with pytest.raises(RuntimeError, match="01_broken"):
        reproduce(out=tmp_path / "out", notebooks=books)
    row = _row((tmp_path / "out" / "report.md").read_text(), "01_broken.ipynb")
    assert "failed in cell 2 (`raise ValueError('boom')`): ValueError: boom" in row
    # The kernel's note about its local transport is not printed into the progress bar.
    assert "running over TCP" not in capfd.readouterr().err


@pytest.mark.slow
def test_every_kind_of_failing_notebook_is_a_row_and_the_others_are_reported(
    books, tmp_path, capsys
):
    # A dead kernel (os._exit stands in for an out-of-memory kill), a cell that never
    # ends, a file that is not JSON and an error: each is one row naming the notebook
    # and the cell, and the good notebook's run is reported as usual.
    train = "run(PRESETS['sigmoid_0.01'].config.replace(iters_num=20), data)"
    _notebook(books / "01_good.ipynb", SETUP, train)
    _notebook(books / "02_dies.ipynb", "x = 1", "import os\nos._exit(1)")
    _notebook(books / "03_hangs.ipynb", "import time", "time.sleep(600)", "print('never')")
    (books / "04_cut.ipynb").write_text('{\n "cells": [\n  {\n   "cell_type": "co')
    _notebook(books / "05_error.ipynb", "1 / 0")
    out = tmp_path / "out"
    code = main(["reproduce", "--notebooks", str(books), "--out", str(out)] + ["--timeout", "5"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("python -m course_lib reproduce: notebooks failed: 02_dies.ipynb, ")
    text = (out / "report.md").read_text()
    assert _row(text, "01_good.ipynb").endswith("| 1 | ok |")
    assert "failed in cell 2 (`import os`): the kernel died" in _row(text, "02_dies.ipynb")
    hangs = _row(text, "03_hangs.ipynb")
    assert "failed in cell 2 (`time.sleep(600)`): did not finish within 5 s (--timeout)" in hangs
    assert "failed: not a valid notebook (" in _row(text, "04_cut.ipynb")
    assert "failed in cell 1 (`1 / 0`): ZeroDivisionError" in _row(text, "05_error.ipynb")
    assert len([line for line in text.splitlines() if line.startswith("| 01_good | ")]) == 1
    assert (out / "02_dies.ipynb").exists() and not (out / "04_cut.ipynb").exists()


def test_a_pipe_in_a_notebook_name_stays_in_its_cell_of_the_table(books, tmp_path):
    _notebook(books / "01_a|b.ipynb", "print(1)")
    text = reproduce(out=tmp_path / "out", notebooks=books).read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| 01_a")]
    assert row.startswith("| 01_a\\|b.ipynb | ") and row.count(" | ") == 3


def test_find_notebooks_explains_an_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_lib notebooks"):
        coursework.find_notebooks(tmp_path)


def test_reproduce_never_touches_a_folder_that_is_not_its_own(books, tmp_path):
    _notebook(books / "01_tiny.ipynb", "print(1)")
    user = tmp_path / "mine"
    user.mkdir()
    (user / "report.md").write_text("my notes")
    with pytest.raises(OutputFolderError, match="not a report made by reproduce"):
        reproduce(out=user, notebooks=books)
    assert [p.name for p in user.iterdir()] == ["report.md"]
    assert (user / "report.md").read_text() == "my notes"
    with pytest.raises(OutputFolderError, match="read from"):
        reproduce(out=books, notebooks=books)
    assert sorted(p.name for p in books.iterdir()) == ["01_tiny.ipynb"]


def test_a_second_reproduce_replaces_only_its_own_files(books, tmp_path):
    _notebook(books / "01_tiny.ipynb", "print(1)")
    out = tmp_path / "out"
    reproduce(out=out, notebooks=books)
    (out / "figures").mkdir(exist_ok=True)  # no figures: reproduce made no such folder
    (out / "figures" / "mine.png").write_bytes(b"mine")
    (out / "notes.txt").write_text("mine")
    reproduce(out=out, notebooks=books)
    assert (out / "figures" / "mine.png").read_bytes() == b"mine"
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "report.md").exists()


def test_files_the_user_changed_in_the_report_are_kept_and_named(books, tmp_path, capsys):
    figure = "import matplotlib.pyplot as plt\nplt.plot([{}])\nplt.show()"
    _notebook(books / "01_tiny.ipynb", figure.format(1), figure.format(2))
    out = tmp_path / "out"
    reproduce(out=out, notebooks=books)
    (out / "report.md").write_text("my notes on the report")
    (out / "figures" / "01_tiny_02.png").write_bytes(b"my drawing")
    _notebook(books / "01_tiny.ipynb", figure.format(3))  # one figure now
    capsys.readouterr()
    report = reproduce(out=out, notebooks=books)
    printed = capsys.readouterr().out
    assert (out / "report.md").read_text() == "my notes on the report"
    assert report == out / "report (2).md" and "![01_tiny_01]" in report.read_text()
    assert (out / "figures" / "01_tiny_02.png").read_bytes() == b"my drawing"
    assert "kept report.md (changed since reproduce wrote it; the new one is report (2).md)" in (
        printed
    )
    assert "kept figures/01_tiny_02.png (changed since reproduce wrote it)" in printed
    # A third run replaces its own "report (2).md" and leaves the user's files alone.
    assert reproduce(out=out, notebooks=books) == out / "report (2).md"
    assert (out / "report.md").read_text() == "my notes on the report"
    assert sorted(p.name for p in out.glob("report*")) == ["report (2).md", "report.md"]


def test_a_second_reproduce_into_the_same_folder_refuses_in_one_line(books, tmp_path):
    flag = tmp_path / "go"
    started = tmp_path / "started"
    _notebook(
        books / "01_wait.ipynb",
        f"import os, time\nopen(r'{started}', 'w').close()\n"
        f"while not os.path.exists(r'{flag}'):\n    time.sleep(0.05)",
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "course_lib", "reproduce", "--notebooks", str(books)]
    first = subprocess.Popen(
        [*cmd, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = subprocess.run(
            [*cmd, "--out", str(out)], capture_output=True, text=True, timeout=120
        )
    finally:
        flag.touch()
    out_text, err_text = first.communicate(timeout=90)
    assert first.returncode == 0, err_text
    assert second.returncode == 2 and "Traceback" not in second.stderr
    (line,) = [line for line in second.stderr.splitlines() if line.strip()]
    assert f"is being written by another reproduce (pid {first.pid} on " in line
    assert "started 20" in line and "choose another --out" in line
    assert (out / "01_wait.ipynb").exists() and (out / "report.md").exists()


def test_changed_notebooks_are_named_and_shipped_ones_can_be_run(books, tmp_path, monkeypatch):
    nb = _notebook(books / "01_tiny.ipynb", "x = 1\nprint('shipped', x)", stamp=True)
    subprocess.run(["git", "init", "-q"], cwd=books, check=True)
    subprocess.run(["git", "add", "."], cwd=books, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "ship"],
        cwd=books,
        check=True,
    )
    nb.cells[0].source = "x = 2\nprint('edited', x)"  # the student's [try] edit, autosaved
    nbformat.write(nb, books / "01_tiny.ipynb")
    monkeypatch.setattr(coursework, "shipped_dir", lambda: books)

    report = reproduce(out=tmp_path / "edited", notebooks=books)
    assert "**Changed notebooks**: 01_tiny.ipynb" in report.read_text()
    executed = (tmp_path / "edited" / "01_tiny.ipynb").read_text()
    assert "edited 2" in executed

    report = reproduce(out=tmp_path / "shipped", notebooks=books, shipped=True)
    assert "Changed notebooks" not in report.read_text()
    assert "shipped 1" in (tmp_path / "shipped" / "01_tiny.ipynb").read_text()


def test_every_shipped_notebook_carries_its_stamp():
    # The stamp tells an edited notebook from the shipped one: refresh it with
    # scripts/stamp_notebooks.py after changing a notebook's code.
    for path in coursework.find_notebooks():
        assert coursework.is_changed(coursework.read_notebook(path)) is False, path.name


def test_report_table_escapes_pipes():
    row = {"notebook": "04", "our check": "|dW1|/|dW6| < 1e-6", "agrees": "yes", "_agrees": True}
    line = table(["notebook", "our check", "agrees"], [row]).splitlines()[-1]
    assert "\\|dW1\\|" in line and line.count(" | ") == 2


@pytest.mark.slow
def test_every_kernel_has_one_blas_thread_whatever_jobs_and_the_environment(
    books, tmp_path, monkeypatch
):
    # Each notebook prints its kernel's process id and BLAS threads, then trains briefly.
    probe = (
        "import os\nfrom threadpoolctl import threadpool_info\n"
        "print(os.getpid(), [i['num_threads'] for i in threadpool_info()])"
    )
    for k in range(1, 4):
        train = f"run(PRESETS['relu_0.01'].config.replace(iters_num=20, seed={k}), data)"
        _notebook(books / f"0{k}_tiny.ipynb", SETUP, probe, train)
    reports = {}
    for jobs, user_threads in ((1, None), (2, "2")):
        # Neither --jobs, nor the core count, nor the user's own setting changes the count.
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            if user_threads is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, user_threads)
        out = tmp_path / f"out{jobs}"
        text = reproduce(out=out, source="sample", notebooks=books, jobs=jobs).read_text()
        runs = json.loads((out / "runs.json").read_text())
        reports[jobs] = [(r["notebook"], r["config"]["seed"], r["test_acc"]) for r in runs]
        executed = [nbformat.read(out / f"0{k}_tiny.ipynb", 4) for k in range(1, 4)]
        printed = [nb.cells[1].outputs[0]["text"].split(" ", 1) for nb in executed]
        assert len({pid for pid, _ in printed}) == 3  # a fresh kernel each
        assert all(threads.strip() == "[1]" for _, threads in printed), printed
        assert "each in a fresh kernel with 1 BLAS thread" in text
        assert (
            f"numpy {np.__version__}" in text
            and f"course_lib {coursework.installed_version()}" in text
        )
        assert "python 3." in text and "blas: openblas" in text.lower()
    assert reports[1] == reports[2]
    assert [(n, seed) for n, seed, _ in reports[2]] == [
        ("01_tiny.ipynb", 1),
        ("02_tiny.ipynb", 2),
        ("03_tiny.ipynb", 3),
    ]


@pytest.mark.parametrize("jobs", [0, 1.5, "2"])
def test_a_bad_jobs_value_is_refused_before_anything_is_written(books, tmp_path, jobs):
    _notebook(books / "01_tiny.ipynb", "print('x')")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="jobs must be a positive whole number"):
        reproduce(out=out, source="sample", notebooks=books, jobs=jobs)
    assert not out.exists()


def test_ctrl_c_stops_the_running_kernels_and_keeps_the_previous_report(books, tmp_path):
    # Two notebooks running at once, each stuck in a long cell: Ctrl-C interrupts both
    # kernels at once, starts the third not at all, and changes nothing.
    out = tmp_path / "out"
    _notebook(books / "01_slow.ipynb", "print('the previous report')")
    reproduce(out=out, notebooks=books)
    before = _digests(out)
    pids = tmp_path / "pids"
    pids.mkdir()
    for k in range(1, 4):
        started = f"import os, time\nopen(r'{pids}/{k}', 'w').write(str(os.getpid()))"
        _notebook(books / f"0{k}_slow.ipynb", started, "time.sleep(120)")
    env = {**os.environ, "COURSE_LIB_MNIST_SOURCE": "sample"}
    cmd = [sys.executable, "-m", "course_lib", "reproduce", "--notebooks", str(books)]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), "--jobs", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # into the long cell
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err.splitlines()[-1]
    assert sorted(p.name for p in pids.iterdir()) == ["1", "2"]  # the third never started
    for pid_file in pids.iterdir():
        pid = int(pid_file.read_text())
        for _ in range(50):  # the kernels are gone within seconds
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"kernel {pid} still runs after Ctrl-C")
    assert _digests(out) == before  # the previous report exactly as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbs", "out", "pids"]  # no leftovers
