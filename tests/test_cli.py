"""python -m course_lib: flags derived from RunConfig, one-line errors, nothing lost."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from course_lib import coursework
from course_lib.__main__ import build_parser, main
from course_lib.config import settings
from course_lib.safe_files import writable_folder, write_file

_TEXT = {"capture_output": True, "text": True, "timeout": 120}


def _cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "course_lib", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_run_prints_the_seed_lines_and_writes_the_figure(tmp_path, capsys):
    code = main(
        ["run", "--activation", "relu", "--weight-init", "He", "--iters", "100"]
        + [
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Generation: 50. 正答率(トレーニング) = " in out
    assert "                : 100. 正答率(テスト) = " in out
    assert "data: MNIST" in out or "data: 8,000 train" in out
    (png,) = tmp_path.glob("*.png")
    assert png.name == "accuracy_relu_He_40,20_lr=0.1_iters=100_seed0.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_figure_name_holds_every_setting_that_differs_from_the_defaults(tmp_path):
    args = ["--iters", "12", "--batch-size", "50", "--eval-interval", "4", "--seed", "3"]
    args += ["--optimizer", "momentum", "--batchnorm", "--source", "sample"]
    assert main(["run", *args, "--out", str(tmp_path)]) == 0
    (png,) = tmp_path.glob("*.png")
    assert png.name == (
        "accuracy_relu_0.01_40,20_BN_lr=0.1_Momentum_iters=12_batch-size=50_eval-interval=4"
        "_source=sample_seed3.png"
    )


def test_every_shown_setting_is_a_flag_with_its_default_in_the_help():
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    flags = {option for action in run._actions for option in action.option_strings}
    for setting in settings().values():
        assert setting.flag in flags
    text = " ".join(run.format_help().split())
    assert "(default: 40,20)" in text and "(default: 0.1)" in text
    assert "local" in text  # every data source, as the README lists them


@pytest.mark.parametrize(
    "args, words",
    [
        (["--hidden", "40,x"], ["--hidden", "40,x", "not a whole number"]),
        (["--hidden", "0"], ["--hidden", "at least 1"]),
        (["--hidden", ""], ["--hidden", "empty"]),
        (["--activation", "softplus"], ["softplus"]),
        (["--weight-init", "kaiming"], ["kaiming", "Xavier"]),
        (["--weight-init", "-1"], ["--weight-init", "positive"]),
        (["--lr", "0"], ["--lr", "positive"]),
        (["--iters", "0"], ["--iters", ">= 1"]),
        (["--seed", "-1"], ["--seed", ">= 0"]),
        (["--batch-size", "100000"], ["larger than the training set"]),
        (["--iters", "ten"], ["--iters", "ten"]),
        (["--hidden", "10000000"], ["GiB", "smaller hidden layers"]),
    ],
)
def test_bad_arguments_exit_with_one_line(args, words, tmp_path):
    proc = _cli("run", "--out", str(tmp_path), *args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


def test_a_bad_out_is_refused_before_training(tmp_path):
    a_file = tmp_path / "taken"
    a_file.write_text("mine")
    started = time.monotonic()
    proc = _cli("run", "--out", str(a_file))
    assert proc.returncode == 2 and "is a file" in proc.stderr
    assert "Generation" not in proc.stdout  # nothing was trained
    assert a_file.read_text() == "mine"
    assert time.monotonic() - started < 60


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_a_read_only_out_is_refused_before_training(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        proc = _cli("run", "--out", str(folder))
    finally:
        folder.chmod(0o700)
    assert proc.returncode == 4 and "cannot write in" in proc.stderr
    assert "Generation" not in proc.stdout


def test_a_full_disk_is_refused_before_training(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "course_lib", "run", "--out", str(tmp_path / "figs")],
        capture_output=True,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)),
    )
    assert proc.returncode == 4, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "cannot write in" in line
    assert "Generation" not in proc.stdout


def test_a_second_run_does_not_overwrite_the_first_figure(tmp_path):
    for _ in range(2):
        assert main(["run", "--iters", "20", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == [
        "accuracy_relu_0.01_40,20_lr=0.1_iters=20_seed0 (2).png",
        "accuracy_relu_0.01_40,20_lr=0.1_iters=20_seed0.png",
    ]


def test_figures_made_at_once_never_overwrite_each_other(tmp_path):
    # Two runs with the same settings into one folder: each figure gets its own file,
    # and checking the folder leaves nothing behind that another run could trip over.
    saved, errors = [], []

    def save(k):
        try:
            writable_folder(tmp_path)
            saved.append(write_file(tmp_path / "accuracy.png", f"figure {k}".encode()))
        except Exception as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(k,)) for k in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(saved)) == 16 and len(list(tmp_path.iterdir())) == 16
    contents = sorted(path.read_bytes() for path in saved)
    assert contents == sorted(f"figure {k}".encode() for k in range(16))


def test_a_run_shorter_than_the_eval_interval_is_still_evaluated(tmp_path, capsys):
    assert main(["run", "--iters", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out and "train 0." in out


def test_dead_relus_are_reported_and_fail_the_run(tmp_path, capsys):
    code = main(["run", "--lr", "10", "--iters", "300", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "dead ReLUs" in out and "smaller learning rate" in out


def test_ctrl_c_keeps_the_figure_of_what_was_learned(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "course_lib", "run", "--iters", "1000000", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in proc.stdout:
            if line.startswith("Generation: 100."):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "stopped at iteration" in out
    (png,) = tmp_path.glob("*.png")
    assert png.stat().st_size > 1000


def test_missing_command_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_notebooks_copies_without_overwriting(tmp_path, capsys):
    dest = tmp_path / "course"
    assert main(["notebooks", str(dest)]) == 0
    copied = sorted(p.name for p in dest.glob("*.ipynb"))
    assert copied and copied[0].startswith("01_")
    edited = dest / copied[0]
    nb = json.loads(edited.read_text())
    nb["cells"][0]["source"] = "my edits"
    edited.write_text(json.dumps(nb))
    mine = edited.read_bytes()
    capsys.readouterr()
    assert main(["notebooks", str(dest)]) == 0
    out = capsys.readouterr().out
    assert f"kept   {copied[0]}" in out
    assert edited.read_bytes() == mine
    assert sorted(p.name for p in dest.iterdir()) == copied  # no temporary files left


def test_a_broken_copy_is_replaced_and_kept_beside_it(tmp_path, capsys):
    dest = tmp_path / "course"
    assert main(["notebooks", str(dest)]) == 0
    name = sorted(p.name for p in dest.glob("*.ipynb"))[-1]
    cut = (dest / name).read_bytes()[:16_384]  # a copy cut short by a full disk
    (dest / name).write_bytes(cut)
    capsys.readouterr()
    assert main(["notebooks", str(dest)]) == 0
    out = capsys.readouterr().out
    stem = name.removesuffix(".ipynb")
    assert f"replaced {name}: your copy was not a valid notebook" in out
    assert f"kept as '{stem} (broken copy).txt'" in out
    assert coursework.is_changed(coursework.read_notebook(dest / name)) is False
    assert (dest / f"{stem} (broken copy).txt").read_bytes() == cut


def test_a_full_disk_while_copying_leaves_no_broken_notebook(tmp_path):
    # Room for every notebook but the largest: the copies before it are made, it is
    # refused, and no cut copy or temporary file is left behind.
    shipped = coursework.find_notebooks()
    sizes = [path.stat().st_size for path in shipped]
    fit = [path.name for path in shipped[: sizes.index(max(sizes))]]
    dest = tmp_path / "course"
    cmd = [sys.executable, "-m", "course_lib", "notebooks", str(dest)]
    limit = max(sizes) - 1
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )
    assert proc.returncode == 4, proc.stderr
    assert "cannot write" in proc.stderr.strip().splitlines()[-1]
    assert proc.stdout.splitlines() == [f"copied {name}" for name in fit]
    assert sorted(path.name for path in dest.iterdir()) == fit
    for path in dest.iterdir():
        assert coursework.is_changed(coursework.read_notebook(path)) is False
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert len(list(dest.glob("*.ipynb"))) == len(shipped)


def test_notebooks_into_a_file_says_so(tmp_path):
    a_file = tmp_path / "course"
    a_file.write_text("mine")
    proc = _cli("notebooks", str(a_file))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert f"{a_file} is a file, not a folder" in line and "Errno" not in line
    assert a_file.read_text() == "mine"


def test_the_help_names_every_exit_code():
    text = " ".join(build_parser().format_help().split())
    for code in ("0 ", "1 a notebook failed", "2 bad input", "4 cannot write", "130"):
        assert code in text, code


def test_a_bad_jobs_for_reproduce_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "report"
    proc = _cli("reproduce", "--out", str(out), "--jobs", "0")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--jobs must be a positive whole number" in lines[0], lines
    assert not out.exists()


def test_version_and_the_name_it_was_called_by(tmp_path):
    from importlib import metadata

    import course_lib

    proc = _cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"course-lib {metadata.version('course-lib')}"
    assert course_lib.__version__ == metadata.version("course-lib")
    script = shutil.which("course-lib", path=os.path.dirname(sys.executable))
    assert script, "the course-lib script is not installed next to this Python"
    as_script = subprocess.run([script, "notebooks", str(tmp_path / "f"), "--bogus"], **_TEXT)
    assert as_script.stderr.startswith("course-lib: error: unrecognized arguments: --bogus")
    as_module = _cli("notebooks", "--bogus")
    assert as_module.stderr.startswith("python -m course_lib: error: unrecognized arguments")


def test_reproduce_without_the_report_extra_says_what_to_install(tmp_path):
    hide = "import sys; sys.modules['nbformat'] = None; from course_lib.__main__ import main; "
    out = tmp_path / "report"
    code = f"{hide}sys.exit(main(['reproduce', '--out', {str(out)!r}]))"
    proc = subprocess.run([sys.executable, "-c", code], **_TEXT)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert 'pip install "course-lib[report]"' in line and "nbformat" in line
    assert not out.exists()


def test_links_warn_in_one_line_while_the_address_is_the_placeholder():
    assert coursework.source_url() == coursework.PLACEHOLDER_URL  # this repository, unpublished
    for flag in (["--colab"], ["--nbgitpuller", "https://hub.example.edu"]):
        proc = _cli("notebooks", *flag)
        assert proc.returncode == 0, proc.stderr
        (warning,) = proc.stderr.strip().splitlines()
        assert "warning: the project's address is the placeholder" in warning
        assert "scripts/set_project_url.py" in warning and ".whl" in warning
        assert len(proc.stdout.splitlines()) == len(coursework.find_notebooks())


def test_nbgitpuller_links_open_each_notebook_of_the_clone():
    from urllib.parse import parse_qs, urlsplit

    links = coursework.notebook_links(
        "nbgitpuller",
        hub_url="https://hub.example.edu/",
        url="https://git.example.edu/teach/vg.git",
        ref="fall",
    )
    assert [name for name, _ in links] == [p.name for p in coursework.find_notebooks()]
    name, link = links[0]
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "hub.example.edu",
        "/hub/user-redirect/git-pull",
    )
    assert parse_qs(parts.query) == {
        "repo": ["https://git.example.edu/teach/vg.git"],
        # nbgitpuller clones into the last part of the address, as it is.
        "urlpath": [f"lab/tree/vg.git/notebooks/{name}"],
        "branch": ["fall"],
    }
    with pytest.raises(ValueError, match="https://"):
        coursework.notebook_links(
            "nbgitpuller", hub_url="hub.example.edu", url="https://git.example.edu/t/vg"
        )


def _edit_markdown(path, text):
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    cell["source"] = text
    path.write_text(json.dumps(nb))


def _as_older_version(path):
    """Make the copy at ``path`` look like an unedited copy of an older release."""
    nb = json.loads(path.read_text())
    nb["cells"][-1]["source"] = "## 考察\n\nthe older text"
    nb["cells"][-1]["outputs"] = []
    path.write_text(json.dumps(coursework.stamp(nb)))


def test_update_replaces_unedited_copies_and_keeps_edited_ones(tmp_path, capsys):
    dest = tmp_path / "course"
    assert main(["notebooks", str(dest)]) == 0
    names = sorted(p.name for p in dest.glob("*.ipynb"))
    old, edited_code, edited_notes, current = names[0], names[1], names[2], names[3]
    for name in (old, edited_code, edited_notes):
        _as_older_version(dest / name)
    nb = json.loads((dest / edited_code).read_text())
    nb["cells"][1]["source"] += "\nhidden_size_list = [60, 30]  # my try"
    (dest / edited_code).write_text(json.dumps(nb))
    _edit_markdown(dest / edited_notes, "my notes on the lesson")
    mine = {name: (dest / name).read_bytes() for name in (edited_code, edited_notes, current)}
    capsys.readouterr()

    assert main(["notebooks", str(dest), "--update"]) == 0
    out = capsys.readouterr().out
    assert f"updated {old} (you had not edited it)" in out
    for name in (edited_code, edited_notes):
        assert f"kept   {name} (you edited it: your copy is not overwritten" in out
    assert f"same   {current} (already the version of this course_lib)" in out
    assert (dest / old).read_bytes() == (coursework.shipped_dir() / old).read_bytes()
    for name, data in mine.items():
        assert (dest / name).read_bytes() == data, name
    assert sorted(p.name for p in dest.iterdir()) == names  # no temporary files left


def test_update_keeps_a_copy_saved_while_it_is_being_updated(tmp_path, monkeypatch):
    from course_lib import safe_files

    dest = tmp_path / "course"
    list(coursework.copy_notebooks(dest))
    name = coursework.find_notebooks()[0].name
    _as_older_version(dest / name)
    real_fsync = os.fsync

    def autosave_meanwhile(fd):  # the student's Jupyter saves while the new copy is written
        real_fsync(fd)
        _edit_markdown(dest / name, "saved just now")

    monkeypatch.setattr(safe_files.os, "fsync", autosave_meanwhile)
    results = {n: (what, note) for n, what, note in coursework.copy_notebooks(dest, update=True)}
    assert results[name] == ("edited", "it changed while being updated")
    assert "saved just now" in (dest / name).read_text()
    assert sorted(p.name for p in dest.iterdir()) == sorted(results)
