"""``check_answer`` and its widget: try an answer and read the verdict (ipywidgets 7.7.1, 8).

The verdict is made in the button's click handler, which the kernel runs on its main
thread while it handles the click (Colab shows only such updates), so neither the answer
nor the explanation is in any widget before the student answers. ipywidgets is imported
only when a widget is made: the command line imports this package too.
"""

import html

from course_lib.practice.questions import QUESTIONS, judge


def check_answer(question_id, answer):
    """Check a 確認テスト answer; while it is None, show a widget to try answers.

    Returns the Verdict, which a notebook shows as its one or two lines.
    """
    if question_id not in QUESTIONS:
        raise ValueError(f"確認テスト {question_id!r} はありません（{', '.join(QUESTIONS)}）")
    if answer is None:
        from IPython.display import display

        display(quiz(question_id))
    return judge(question_id, answer)


def _entry(widgets, question):
    """The input widget and a function reading the student's answer from it."""
    if question.kind == "number":
        entry = widgets.Text(placeholder="例: 0.5、1/4、2**3", description="答え:")
        return entry, lambda: entry.value
    if len(question.answer) == 1:
        entry = widgets.RadioButtons(options=list(question.choices), value=None)
        return entry, lambda: entry.value
    boxes = [widgets.Checkbox(value=False, description=c, indent=False) for c in question.choices]
    for box in boxes:
        box.layout.width = "4em"
    entry = widgets.HBox(boxes)
    return entry, lambda: "".join(box.description for box in boxes if box.value)


def quiz(question_id):
    """A widget asking question ``question_id``: an input, a button and the verdict."""
    import ipywidgets as widgets

    question = QUESTIONS[question_id]
    entry, read = _entry(widgets, question)
    button = widgets.Button(description="答え合わせ", button_style="primary")
    result = widgets.HTML(value="")

    def on_click(_):
        answer = read()
        verdict = judge(question_id, answer if answer != "" else None)
        text = html.escape(verdict.message)
        if verdict.ok:
            text += f"<br>（採点されるのはセルに書いた answer_{question_id} です）"
        result.value = f"<div style='white-space: normal'>{text}</div>"

    button.on_click(on_click)
    return widgets.VBox([widgets.HBox([entry, button]), result])
