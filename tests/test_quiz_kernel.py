"""A 確認テスト widget in a real kernel, answered with comm messages as a browser sends them.

On Colab's stack (ipywidgets 7.7.1 and ipykernel 6.17.1: a venv whose Python is named by
COURSE_LIB_COLAB_PYTHON, built as tests/test_dashboard_kernel.py says) and the current
one: before the click no widget message holds the answer or the explanation; the click's
handler sends the verdict from the kernel's main thread while the click is handled.
"""

import html
import os
import sys
from pathlib import Path

import pytest

from course_lib.practice.questions import QUESTIONS
from tests.kernel_widgets import WidgetKernel, value_updates

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["colab", "current"])
def quiz_kernel(request, tmp_path):
    python = sys.executable
    if request.param == "colab":
        python = os.environ.get("COURSE_LIB_COLAB_PYTHON")
        if not python:
            reason = "COURSE_LIB_COLAB_PYTHON is not set (see tests/test_dashboard_kernel.py)"
            if os.environ.get("CI"):
                pytest.fail(f"cannot run in CI: {reason}")
            pytest.skip(reason)
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    kernel = WidgetKernel(python, tmp_path, env)
    yield kernel
    kernel.close()


def _model(kernel, name):
    (found,) = [c for c, s in kernel.widgets().items() if s.get("_model_name") == name]
    return found


def test_the_verdict_is_made_on_the_click_and_sent_while_it_is_handled(quiz_kernel):
    kernel = quiz_kernel
    kernel.execute('from course_lib.practice import check_answer\ncheck_answer("q1", None)')
    explanation = QUESTIONS["q1"].explanation
    assert not any(explanation[:15] in str(m["content"]) for _, m in kernel.messages)
    entry, button = _model(kernel, "TextModel"), _model(kernel, "ButtonModel")
    result = _model(kernel, "HTMLModel")

    kernel.set_value(entry, "8")
    kernel.wait_idle(kernel.click(button))
    assert "違います" in kernel.widgets()[result]["value"]
    assert explanation[:15] not in kernel.widgets()[result]["value"]
    kernel.set_value(entry, "24")
    click = kernel.click(button)
    kernel.wait_for(
        lambda m: "正解です" in value_updates(m, result).get("value", ""), 30, "the verdict"
    )
    kernel.wait_idle(click)
    assert html.escape(explanation) in kernel.widgets()[result]["value"]

    audit = kernel.audit()
    assert {thread for thread, _, _ in audit} == {"MainThread"}
    assert all(busy for _, busy, _ in audit), "a widget message after its request went idle"
