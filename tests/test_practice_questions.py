"""確認テスト: answers judged with a hint or the explanation; the widget hides both until asked."""

import json

import pytest

from course_lib.practice import check_answer
from course_lib.practice.questions import QUESTIONS, judge
from course_lib.practice.quiz import quiz

RIGHT = {"q1": 24, "q2": 0.25, "q3": "b", "q4": 0.25**5, "q5": "ac"}


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_the_right_answer_gets_the_explanation(question):
    verdict = judge(question, RIGHT[question])
    assert verdict.ok
    assert verdict.message.startswith(f"✔ 確認テスト {question}: 正解です。")
    assert QUESTIONS[question].explanation in verdict.message


@pytest.mark.parametrize(
    "question, answer, fragment",
    [
        ("q1", 8, "dt/dx も掛けます"),
        ("q1", 16, "z の値"),
        ("q1", 5, QUESTIONS["q1"].hint),
        ("q2", 0.5, "σ(0) の値"),
        ("q2", "1", "ReLU の微分"),
        ("q3", "a", "勾配は 0 ではありません"),
        ("q4", 1.25, "足し算ではなく掛け算"),
        ("q4", "0.25", "1 層分"),
        ("q5", "ab", "時間は増えます"),
        ("q5", "a", QUESTIONS["q5"].hint),
    ],
)
def test_a_wrong_answer_gets_a_hint_and_not_the_explanation(question, answer, fragment):
    verdict = judge(question, answer)
    assert not verdict.ok
    assert fragment in verdict.message
    assert QUESTIONS[question].explanation not in verdict.message


@pytest.mark.parametrize(
    "question, answer",
    [("q4", "0.25**5"), ("q4", 0.001), ("q4", "1/1024"), ("q2", "1/4"), ("q5", ["c", "A"])],
)
def test_answers_are_read_as_a_student_writes_them(question, answer):
    assert judge(question, answer).ok


@pytest.mark.parametrize(
    "question, answer", [("q1", "twenty"), ("q1", "__import__('os')"), ("q3", "z"), ("q2", True)]
)
def test_an_unreadable_answer_says_how_to_write_it(question, answer):
    verdict = judge(question, answer)
    assert not verdict.ok and "は読めません" in verdict.message


def test_an_unknown_question_is_named():
    with pytest.raises(ValueError, match="確認テスト 'q9' はありません"):
        check_answer("q9", 1)


def _state(widget):
    """Every value the frontend holds for the widget and its children, as JSON text."""
    states = [widget.get_state()]
    for child in getattr(widget, "children", ()):
        states.append(_state(child))
    return json.dumps(states, ensure_ascii=False, default=str)


def _parts(widget):
    """(input widget, button, result) of a quiz."""
    row, result = widget.children
    entry, button = row.children
    return entry, button, result


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_the_widget_holds_neither_answer_nor_explanation_before_a_click(question):
    state = _state(quiz(question))
    explanation = QUESTIONS[question].explanation
    assert explanation[:20] not in state and QUESTIONS[question].hint[:20] not in state


def test_the_widget_judges_a_typed_number_when_clicked():
    entry, button, result = _parts(quiz("q4"))
    entry.value = "0.25**4"
    button.click()
    assert "違います" in result.value and QUESTIONS["q4"].explanation not in result.value
    entry.value = "0.25**5"
    button.click()
    assert "正解です" in result.value and "answer_q4" in result.value


def test_the_widget_judges_one_choice_and_two_choices():
    entry, button, result = _parts(quiz("q3"))
    button.click()
    assert "まだ答えていません" in result.value
    entry.value = "b"
    button.click()
    assert "正解です" in result.value
    boxes, button, result = _parts(quiz("q5"))
    for box in boxes.children:
        box.value = box.description in "ac"
    button.click()
    assert "正解です" in result.value


def test_an_unanswered_question_shows_the_widget_and_says_how_to_answer(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects: shown.extend(objects))
    verdict = check_answer("q1", None)
    assert not verdict.ok and "answer_q1 = ..." in verdict.message
    assert len(shown) == 1 and QUESTIONS["q1"].explanation[:20] not in _state(shown[0])
