"""A 確認テスト widget in a real kernel, answered with comm messages as a browser sends them.

On Colab's stack (ipywidgets 7.7.1, ipykernel 6.17.1) and the current one: before the
click no widget message holds the answer or the explanation; the click's handler sends
the verdict from the thread handling the click, while the click's request is busy.
"""

import html

import pytest

from course_lib.practice.questions import QUESTIONS
from tests.kernel_widgets import value_updates
from tests.test_dashboard_kernel import _handling_threads, kernel  # noqa: F401 (fixture)

pytestmark = pytest.mark.kernel


def _model(widget_kernel, name):
    states = widget_kernel.widgets().items()
    (found,) = [c for c, s in states if s.get("_model_name") == name]
    return found


def test_the_verdict_is_made_on_the_click_and_sent_while_it_is_handled(kernel):  # noqa: F811
    kernel.execute('from course_lib.practice import check_answer\ncheck_answer("q1", None)')
    explanation = QUESTIONS["q1"].explanation
    before = [str(m["content"]) for _, m in kernel.messages]
    assert not any(explanation[:15] in text for text in before)
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
    elsewhere = [(t, m["msg_type"]) for t, _, m in audit if t not in _handling_threads(m)]
    idle = [m["msg_type"] for _, busy, m in audit if not busy]
    assert not elsewhere and not idle, (elsewhere, idle)
