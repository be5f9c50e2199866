"""python -m course_lib: flags derived from RunConfig, one-line errors, nothing lost."""

import os
import signal
import subprocess
import sys
import time

import pytest

from course_lib.__main__ import build_parser, main
from course_lib.config import settings


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
    assert png.name == "accuracy_relu_He_40,20_lr=0.1_seed0.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
    assert proc.returncode == 2 and "cannot write there" in proc.stderr
    assert "Generation" not in proc.stdout


def test_a_second_run_does_not_overwrite_the_first_figure(tmp_path):
    for _ in range(2):
        assert main(["run", "--iters", "20", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == [
        "accuracy_relu_0.01_40,20_lr=0.1_seed0 (2).png",
        "accuracy_relu_0.01_40,20_lr=0.1_seed0.png",
    ]


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
    edited.write_text("my edits")
    capsys.readouterr()
    assert main(["notebooks", str(dest)]) == 0
    out = capsys.readouterr().out
    assert f"kept   {copied[0]}" in out
    assert edited.read_text() == "my edits"


def test_a_bad_jobs_for_reproduce_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "report"
    proc = _cli("reproduce", "--out", str(out), "--jobs", "0")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--jobs must be a positive whole number" in lines[0], lines
    assert not out.exists()
