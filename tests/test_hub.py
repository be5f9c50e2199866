"""A class on JupyterHub, for real: the instructor's hub configuration with students in it.

Starts a real JupyterHub with configurable-http-proxy on free ports of 127.0.0.1, from
deploy/jupyterhub_config.py as shipped, with the students in its allowed_users.txt as an
instructor writes it, and only what a test machine lacks on top (tests/hub_support.py):
a shared password instead of system accounts, one home folder per student, the bundled
MNIST sample. Only the listed students get in. Three students start
their servers through the hub's REST API and run notebook 01 at the same time, each in
their own server's kernel; then one student logs in through the hub's login page in
Chromium, runs notebook 05 in JupyterLab and trains a run in the dashboard, whose widgets
travel through the proxy's websockets.

Needs jupyterhub (test extra), configurable-http-proxy (npm) and, for the browser part,
Debian's /usr/bin/chromium with Python Playwright. Without them it is skipped with the
reason, except in CI (``CI`` set), where it fails. Failure messages end with the tail of
the hub's log, which also holds the servers' and kernels' output.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import urllib.parse
from pathlib import Path

import pytest

from tests import browser
from tests.hub_support import (
    PASSWORD,
    Hub,
    missing_requirements,
    run_notebooks_together,
)

pytestmark = pytest.mark.hub

STUDENTS = ("student1", "student2", "student3")
NB01 = "01_sigmoid_vs_relu.ipynb"
NB05 = "05_instructor_dashboard.ipynb"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
RUN_TIMEOUT_MS = 180_000
# The seed's progress lines at the last iteration: train-batch, then test accuracy.
FINAL_LINES = re.compile(
    r"Generation: 2000\. 正答率\(トレーニング\) = ([0-9.]+)\s*\n"
    r"\s*: 2000\. 正答率\(テスト\) = ([0-9.]+)"
)
# Runs in each student's kernel after the notebook: where and as whom it ran.
PROBE = """\
import json, os
print(json.dumps({
    "user": os.environ.get("JUPYTERHUB_USER"),
    "home": os.environ.get("HOME"),
    "cwd": os.getcwd(),
    "ppid": os.getppid(),
    "threads": [os.environ.get(k) for k in
                ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")],
    "source": os.environ.get("COURSE_LIB_MNIST_SOURCE"),
    "data": os.environ.get("COURSE_LIB_DATA"),
}))
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A running hub with the students' accounts; stopped with everything it started."""
    browser.require(missing_requirements())
    # Offline: the students' kernels train on the bundled sample, never download.
    hub = Hub(
        tmp_path_factory.mktemp("hub"),
        students=STUDENTS,
        spawner_environment={"COURSE_LIB_MNIST_SOURCE": "sample"},
    )
    try:
        hub.start()
        hub.add_users(STUDENTS)
        yield hub
    finally:
        hub.stop()
    leftovers = hub.processes()
    assert not leftovers, f"still running after the hub stopped: {leftovers}"


@contextlib.contextmanager
def _explained(hub: Hub):
    """Turn any failure into one that ends with the hub's log."""
    try:
        yield
    except Exception as exc:
        pytest.fail(f"{type(exc).__name__}: {exc}\n\n{hub.log_tail()}")


def _notebook_in_home(hub: Hub, user: str, name: str) -> str:
    """The notebook's path relative to the student's home, where the hub copied it."""
    course = hub.home(user) / "course"
    found = sorted(course.rglob(name)) if course.is_dir() else []
    assert found, f"starting {user}'s server did not copy {name} into {course}"
    return found[0].relative_to(hub.home(user)).as_posix()


def test_only_the_students_in_allowed_users_txt_get_in(hub):
    with _explained(hub):
        assert hub.login(STUDENTS[0], PASSWORD)
        assert not hub.login(STUDENTS[0], "not-the-password")
        # The right password, but not on the instructor's list: refused.
        assert not hub.login("stranger", PASSWORD)


@pytest.mark.slow
def test_three_students_run_notebook_01_at_the_same_time(hub):
    import psutil

    started = time.monotonic()
    with _explained(hub):
        hub.start_servers(STUDENTS)
        paths = {s: _notebook_in_home(hub, s, NB01) for s in STUDENTS}
        results = asyncio.run(run_notebooks_together(hub, paths, after=[PROBE, "1 / 0"]))

        runs = [results[s].run for s in STUDENTS]
        for run in runs:
            assert run.error is None, run.describe_error()
            finals = [(float(a), float(b)) for a, b in FINAL_LINES.findall(run.text)]
            # Two trainings (sigmoid and ReLU, std 0.01) print the seed's last lines.
            assert len(finals) >= 2, f"{run.user}: seed progress lines missing:\n{run.text}"
            test_accuracies = sorted(test for _, test in finals)
            assert test_accuracies[0] < 0.2, f"{run.user}: sigmoid learned? {finals}"
            assert test_accuracies[1] >= 0.8, f"{run.user}: ReLU did not learn: {finals}"
        # At the same time: every run started before any run finished.
        assert max(r.started for r in runs) < min(r.finished for r in runs), [
            (round(r.started - started, 1), round(r.finished - started, 1)) for r in runs
        ]

        for user in STUDENTS:
            probe, failing = results[user].after
            assert probe.error is None, probe.error
            seen = json.loads(probe.text)
            home = hub.home(user)
            assert seen["user"] == user and seen["home"] == str(home), seen
            assert seen["cwd"] == str((home / paths[user]).parent), seen
            assert seen["threads"] == ["1", "1", "1"], seen
            assert seen["source"] == "sample", seen
            assert seen["data"], "COURSE_LIB_DATA from deploy/jupyterhub_config.py is missing"
            # The kernel is a child of this student's own single-user server.
            server = psutil.Process(seen["ppid"])
            assert server.environ().get("JUPYTERHUB_USER") == user
            assert any("jupyterhub-singleuser" in part for part in server.cmdline())
            # A raising cell is reported as an error, so a broken notebook fails above.
            assert failing.error and failing.error["ename"] == "ZeroDivisionError"
    print(f"three students ran {NB01} at once in {time.monotonic() - started:.1f} s")


def _login(page, user: str, password: str) -> None:
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()


def _choose_preset(page, prefix: str) -> str:
    # The widget writes its labels with non-breaking spaces; compare them collapsed.
    options = [
        " ".join(text.split())
        for text in page.locator(".course-preset select option").all_text_contents()
    ]
    index = next((i for i, text in enumerate(options) if text.startswith(prefix)), None)
    assert index is not None, f"no preset starting with {prefix!r} among {options}"
    page.locator(".course-preset select").select_option(index=index)
    return options[index]


@pytest.mark.slow
@pytest.mark.browser
def test_student_runs_the_dashboard_through_the_hub_in_chromium(hub):
    browser.require(browser.missing())
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    student = STUDENTS[0]
    started = time.monotonic()
    with _explained(hub):
        hub.start_servers([student])
        path = _notebook_in_home(hub, student, NB05)
        lab = f"/user/{student}/lab/tree/{path}"
        with sync_playwright() as pw:
            chromium = browser.launch(pw)
            page = None
            try:
                page = chromium.new_page(viewport={"width": 1400, "height": 1800})
                page.goto(f"{hub.url}/hub/login?next={urllib.parse.quote(lab)}")
                _login(page, student, "not-the-password")
                page.locator(".login_error").wait_for(timeout=30_000)
                _login(page, student, PASSWORD)
                page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
                assert f"/user/{student}/lab" in page.url, page.url
                browser.run_all_cells(page)
                dashboard = page.locator(".course-dashboard")
                dashboard.wait_for(timeout=120_000)
                dashboard.scroll_into_view_if_needed()
                label = _choose_preset(page, "seed 6")
                page.locator(".course-run-button").click()
                status = page.locator('.course-status[data-state="finished"][data-runs="1"]')
                status.wait_for(timeout=RUN_TIMEOUT_MS)
                accuracy = float(status.get_attribute("data-final-test-acc"))
                assert 0.9 <= accuracy <= 1.0, f"{label} reached {accuracy}"
            finally:
                if page is not None:
                    page.screenshot(path=ARTIFACTS / "hub_dashboard.png")
                chromium.close()
    print(f"dashboard through the hub took {time.monotonic() - started:.1f} s")
