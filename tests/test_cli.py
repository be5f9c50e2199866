import subprocess
import sys

import pytest

from course_lib.__main__ import main


def test_run_prints_the_seed_lines_and_writes_the_figure(tmp_path, capsys):
    code = main(
        [
            "run",
            "--activation",
            "relu",
            "--weight-init",
            "He",
            "--iters",
            "100",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Generation: 50. 正答率(トレーニング) = " in out
    assert "                : 100. 正答率(テスト) = " in out
    pngs = list(tmp_path.glob("accuracy_relu_He_40-20.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--hidden", "40,x"], ["hidden layers", "40,x"]),
        (["--hidden", "0"], [">= 1"]),
        (["--hidden", ""], ["hidden"]),
        (["--activation", "softplus"], ["softplus"]),
        (["--weight-init", "kaiming"], ["kaiming", "xavier"]),
        (["--weight-init", "-1"], ["positive"]),
        (["--lr", "0"], ["learning_rate"]),
        (["--iters", "0"], ["iters_num"]),
        (["--batch-size", "100000"], ["larger than the training set"]),
        (["--iters", "ten"], ["ten"]),
    ],
)
def test_bad_arguments_exit_with_one_line(args, words, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "course_lib", "run", "--out", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


def test_missing_command_is_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
