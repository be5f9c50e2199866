"""What the browser tests share: which Chromium, its flags, and steps in JupyterLab's page.

The browser is Debian's ``/usr/bin/chromium`` (or ``COURSE_LIB_CHROMIUM``); where there is
none, Playwright's own Chromium if ``python -m playwright install chromium`` put one there
(the hosted CI workflow does). No test downloads a browser. In CI (``CI`` set) a missing
browser fails the test; elsewhere it skips it with the reason.
"""

import os
import re
from pathlib import Path

import pytest

SYSTEM_CHROMIUM = Path(os.environ.get("COURSE_LIB_CHROMIUM", "/usr/bin/chromium"))
# Headless as root, and quiet: the machine's closed network refuses Chromium's own
# background connections, many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The status bar's kernel item once the notebook's kernel runs ("No Kernel | ..." before).
KERNEL_IDLE = re.compile(r"Python 3.*\| Idle")


def _playwright_chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        path = Path(pw.chromium.executable_path)
    return path if path.exists() else None


def missing():
    """Why no browser test can run here ([] if one can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ["Python Playwright is not installed (pip install playwright)"]
    if SYSTEM_CHROMIUM.exists() or _playwright_chromium() is not None:
        return []
    return [
        f"{SYSTEM_CHROMIUM} is missing (apt-get install chromium, or python -m playwright "
        "install chromium); no test downloads a browser"
    ]


def require(reasons):
    """Skip with the reasons, or fail in CI, where every test must run."""
    if reasons:
        message = "; ".join(reasons)
        if os.environ.get("CI"):
            pytest.fail(f"cannot run in CI: {message}")
        pytest.skip(message)


def launch(pw):
    """Headless Chromium: Debian's where there is one, else Playwright's."""
    path = str(SYSTEM_CHROMIUM) if SYSTEM_CHROMIUM.exists() else None
    return pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)


def run_all_cells(page, timeout_ms=90_000):
    """Run All in JupyterLab once the notebook's kernel is up.

    Run All before the kernel exists opens a "Select Kernel" dialog instead of running,
    and the toolbar shows "idle" even then: wait for the status bar to name the kernel.
    """
    page.locator("#jp-main-statusbar .jp-StatusBar-TextItem", has_text=KERNEL_IDLE).first.wait_for(
        timeout=timeout_ms
    )
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
