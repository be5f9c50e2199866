"""deploy/README.md's page "A class of 100 students": every command on it is run here, or
named with the reason a test cannot run it (root, TLJH, the internet).

The commands are read from the page itself, so a command added to it without a test or
a reason fails here. Those a test can run are run word for word through bash, with a
fresh HOME, and TLJH's Python (/opt/tljh/user/bin/python) replaced by this one.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from course_lib import coursework

ROOT = Path(__file__).resolve().parents[1]
PAGE = "## A class of 100 students"
TLJH_PYTHON = "/opt/tljh/user/bin/python"

# Start of a command -> why no test runs it.
NOT_RUN_HERE = {
    "curl -L https://tljh.jupyter.org/bootstrap.py": "installs TLJH: root, the internet",
    "while read -r name; do sudo tljh-config": "TLJH's configuration (root)",
    "sudo tljh-config": "TLJH's configuration (root)",
    "sudo -E /opt/tljh/user/bin/pip install": "installs from the internet into TLJH",
    "git clone": "the internet",
    "sudo cp course-lib/deploy/jupyterhub_config.py": "TLJH's configuration (root)",
    "sudo env XDG_CACHE_HOME=/tmp/mnist": "downloads full MNIST: the internet",
    "sudo mkdir -p /srv/course-data": "root (moves step 6's download)",
    "sudo chown -R root:root /srv/course-data": "root",
    "COURSE_LIB_DATA=/srv/course-data/mnist": "needs step 6's download of full MNIST",
}


def _page_commands():
    text = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    page = text[text.index(PAGE) :]
    page = page[: page.index("\n## ", 1)]
    blocks = re.findall(r"```bash\n(.*?)```", page, flags=re.S)
    commands = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [c.strip() for c in commands if c.strip() and not c.lstrip().startswith("#")]


def _runnable(command):
    return "-m course_lib" in command and not command.startswith(tuple(NOT_RUN_HERE))


def _bash(command, home):
    command = command.replace(TLJH_PYTHON, sys.executable)
    env = {**os.environ, "HOME": str(home)}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # `python` is this one
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120
    )


def test_every_command_of_the_page_is_run_here_or_says_why_not():
    commands = _page_commands()
    assert len(commands) >= 10, commands
    unaccounted = [
        c for c in commands if not _runnable(c) and not c.startswith(tuple(NOT_RUN_HERE))
    ]
    assert not unaccounted, f"run these in a test or give the reason: {unaccounted}"
    assert sum(_runnable(c) for c in commands) == 2


def test_the_page_pins_the_release_the_notebooks_install():
    pinned = f"@v{coursework.installed_version()}"
    installs = [c for c in _page_commands() if "pip install" in c or "git clone" in c]
    assert installs and all(pinned in c or f"--branch {pinned[1:]}" in c for c in installs)


def test_the_page_s_nbgitpuller_links_and_update_run_as_written(tmp_path):
    links, update = [c for c in _page_commands() if _runnable(c)]
    assert "--nbgitpuller https://hub.example.edu" in links
    shown = _bash(links, tmp_path)
    assert shown.returncode == 0, shown.stderr
    names = [p.name for p in coursework.find_notebooks()]
    lines = shown.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == names
    assert all("https://hub.example.edu/hub/user-redirect/git-pull?repo=" in x for x in lines)

    assert update == "python -m course_lib notebooks --update ~/course"
    first = _bash(update, tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in (tmp_path / "course").iterdir()) == names
    again = _bash(update, tmp_path)
    assert again.returncode == 0 and again.stdout.count("same   ") == len(names), again.stdout
