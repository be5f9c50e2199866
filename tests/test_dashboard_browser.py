"""The dashboard notebook in a real browser: JupyterLab + headless Chromium (Playwright).

Starts JupyterLab on 127.0.0.1 in a temporary folder holding a copy of notebook 05,
runs all cells, chooses presets, presses Run and reads the final test accuracy from the
page (the status line's ``data-final-test-acc``). tests/browser.py says which Chromium;
no browser is downloaded. Screenshots go to tests/artifacts/ (git-ignored).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from course_lib.experiments import PRESETS
from tests import browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_instructor_dashboard.ipynb"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SERVER_START_TIMEOUT = 60
RUN_TIMEOUT_MS = 180_000
# The legends' height in the curves' own pixels (course_lib/dashboard/figures.py: 8.33 pt
# at 110 dpi).
LEGEND_PIXELS = 8.33 * 110 / 72

pytestmark = pytest.mark.browser


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a free port of 127.0.0.1 with a copy of notebook 05."""
    browser.require(browser.missing())
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    # Settings of our own: no news pop-up; workspaces and runtime files stay in tmp_path.
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port = _free_port()
    token = uuid.uuid4().hex
    env = dict(os.environ)
    env.update(
        COURSE_LIB_MNIST_SOURCE="sample",
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        "--no-browser",
        "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "jupyterlab.log").open("w")
    process = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {process.returncode}:\n"
                    + (tmp_path / "jupyterlab.log").read_text()
                )
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not answer in time") from None
                time.sleep(0.25)
        yield {"url": url, "token": token, "root": root}
    finally:
        _stop(process)
        log.close()


def _run_preset(page, label, runs_before):
    page.locator(".course-preset select").select_option(label=label)
    page.locator(".course-run-button").click()
    status = page.locator(f'.course-status[data-state="finished"][data-runs="{runs_before + 1}"]')
    status.wait_for(timeout=RUN_TIMEOUT_MS)
    return float(status.get_attribute("data-final-test-acc"))


def _box(page, selector):
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box


def _check_projector_screen(page):
    """At 1280 x 720 with the file browser open, the controls and the curves fit the screen,
    none cut off on the right, and the curves are shown at (nearly) their own size, so the
    legends stay at least 12 pixels high."""
    page.locator(".course-dashboard").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    visible = _box(page, ".jp-NotebookPanel .jp-WindowedPanel-outer")
    bottom, right = visible["y"] + visible["height"], visible["x"] + visible["width"]
    first = _box(page, ".course-preset")
    curves = _box(page, ".course-dashboard img")
    assert first["y"] >= visible["y"] - 1 and curves["y"] + curves["height"] <= bottom + 1, (
        f"controls from y={first['y']:.0f} and curves to "
        f"y={curves['y'] + curves['height']:.0f} do not fit the notebook's {visible}"
    )
    for control in page.locator("[class*='course-setting-']").all():
        box = control.bounding_box()
        assert box["x"] + box["width"] <= right + 1, f"a control is cut off at {box}"
    shown, own = page.locator(".course-dashboard img").first.evaluate(
        "img => [img.clientWidth, img.naturalWidth]"
    )
    assert shown / own * LEGEND_PIXELS >= 12, f"curves shown at {shown} of {own} pixels"


def test_dashboard_notebook_in_chromium(jupyterlab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    started = time.monotonic()
    with sync_playwright() as pw:
        chromium = browser.launch(pw)
        try:
            # A projector's screen; JupyterLab opens with its file browser shown.
            page = chromium.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{jupyterlab['url']}/lab/tree/{NOTEBOOK.name}?token={jupyterlab['token']}")
            page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
            # The Japanese prose must be there (and, in the screenshot, readable).
            page.locator(
                ".jp-RenderedMarkdown p", has_text="授業でスクリーンに映して使う"
            ).first.wait_for()
            page.screenshot(path=ARTIFACTS / "dashboard_notebook.png")
            try:
                browser.run_all_cells(page)
                dashboard = page.locator(".course-dashboard")
                dashboard.wait_for(timeout=120_000)
                dashboard.scroll_into_view_if_needed()

                sigmoid = _run_preset(page, f"seed 1: {PRESETS['sigmoid_0.01'].config.label}", 0)
                relu = _run_preset(page, f"seed 6: {PRESETS['relu_he'].config.label}", 1)

                rows = page.locator(".course-runs tbody tr")
                assert rows.count() == 2
                assert f"<td>{sigmoid:.3f}</td>" in rows.nth(0).inner_html()
                assert rows.nth(1).get_attribute("data-status") == "completed"
                assert sigmoid < 0.2, f"sigmoid / 0.01 reached {sigmoid}"
                assert relu >= 0.9, f"relu / He reached only {relu}"
                # The curves are drawn (an <img> with a PNG from the kernel), with a caption.
                assert page.locator(".course-dashboard img").first.is_visible()
                assert page.get_by_text("Run #2 (relu / He [40,20] lr=0.1)").is_visible()
                _check_projector_screen(page)
                page.screenshot(path=ARTIFACTS / "dashboard_1280x720.png")

                # Stop, pressed in the browser during a long run, is heard.
                page.locator(".course-setting-iters-num input").fill("1000000")
                page.locator(".course-setting-iters-num input").press("Enter")
                page.locator(".course-run-button").click()
                page.locator('.course-status[data-state="running"]').wait_for()
                page.locator(".course-stop-button").click()
                stopped = page.locator('.course-status[data-state="finished"][data-runs="3"]')
                stopped.wait_for(timeout=30_000)
                assert "stopped at iteration" in stopped.inner_text()
            finally:
                try:
                    page.locator(".course-dashboard").first.scroll_into_view_if_needed(
                        timeout=2_000
                    )
                except Exception:  # no dashboard on the page: the screenshot shows why
                    pass
                page.screenshot(path=ARTIFACTS / "dashboard.png")
        finally:
            chromium.close()
    print(f"browser test took {time.monotonic() - started:.1f} s")
