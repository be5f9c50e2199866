"""reproduce under faults: a full disk, an unwritable --out, Ctrl-C while a kernel starts.

A full disk is made real with a file-size limit (RLIMIT_FSIZE) on the reproduce process:
the operating system refuses a write past it, as it does on a full disk or quota, and it
works without root or a special filesystem.
"""

import os
import resource
import signal
import subprocess
import sys
import time

import pytest

from tests.test_report import _digests, _notebook

CMD = [sys.executable, "-m", "course_lib", "reproduce"]


def _limited(max_bytes):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


@pytest.fixture
def books(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "01_tiny.ipynb", "print('tiny')")
    return folder


@pytest.mark.slow
def test_a_full_disk_keeps_the_previous_report_and_leaves_nothing(books, tmp_path):
    out = tmp_path / "out"
    subprocess.run([*CMD, "--notebooks", str(books), "--out", str(out)], check=True)
    before = _digests(out)
    # The next run's executed notebook (3 MB of output) does not fit.
    _notebook(books / "01_tiny.ipynb", "print('x' * 3_000_000)")
    proc = subprocess.run(
        [*CMD, "--notebooks", str(books), "--out", str(out)],
        capture_output=True,
        text=True,
        preexec_fn=_limited(1_000_000),
    )
    assert proc.returncode == 4, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m course_lib reproduce: error: cannot write the report")
    assert "File too large" in last and "the previous report is unchanged" in last
    assert _digests(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbs", "out"]  # no half report
    # With room again, the next run is not refused.
    subprocess.run([*CMD, "--notebooks", str(books), "--out", str(out)], check=True)
    assert "x" * 1000 in (out / "01_tiny.ipynb").read_text()


def test_an_unwritable_out_is_refused_before_any_notebook_runs(books, tmp_path):
    out = tmp_path / "out"
    started = time.monotonic()
    proc = subprocess.run(
        [*CMD, "--notebooks", str(books), "--out", str(out)],
        capture_output=True,
        text=True,
        preexec_fn=_limited(0),  # not one byte can be written
    )
    assert proc.returncode == 4, proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "cannot write in" in line and "nothing was run" in line
    assert "notebooks:" not in proc.stderr  # no kernel was started
    assert time.monotonic() - started < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbs"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_a_read_only_out_is_refused_before_any_notebook_runs(books, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        proc = subprocess.run(
            [*CMD, "--notebooks", str(books), "--out", str(out)], capture_output=True, text=True
        )
    finally:
        out.chmod(0o700)
    assert proc.returncode == 4 and "cannot write in" in proc.stderr, proc.stderr
    assert "notebooks:" not in proc.stderr


@pytest.mark.parametrize("delay", [0.0, 0.4, 0.8])
def test_ctrl_c_while_a_kernel_starts_ends_with_one_line(tmp_path, delay):
    # A cell that outlasts the test: the Ctrl-C never comes after reproduce has finished.
    books = tmp_path / "nbs"
    books.mkdir()
    _notebook(books / "01_tiny.ipynb", "import time\ntime.sleep(120)")
    proc = subprocess.Popen(
        [*CMD, "--notebooks", str(books), "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The progress bar appears just before the first kernel is started.
    seen = ""
    while "notebooks" not in seen and proc.poll() is None:
        seen += proc.stderr.read(1)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = seen + err
    assert proc.returncode == 130, err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    progress = ("notebooks", "01_tiny")  # the progress bar's lines
    messages = [line for line in lines if not line.startswith(progress)]
    assert messages == ["python -m course_lib reproduce: interrupted"], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbs"]
