"""Every question and exercise of the course: its notebook, what it reads, how it is checked.

The grader finds a submission's items by the check calls in its code and in its metadata
(every item of a course notebook it recognises, so that a deleted cell still counts) and
checks each on the names the student defined: the answer variable of a question, the
class or functions of an exercise.
"""

from dataclasses import dataclass

from course_lib.practice.activation_checks import check_relu, check_sigmoid
from course_lib.practice.batchnorm_check import check_batchnorm
from course_lib.practice.feedback import Verdict
from course_lib.practice.init_check import check_init
from course_lib.practice.questions import judge


@dataclass(frozen=True)
class Item:
    """One question or exercise: its column in the grades and the names it needs."""

    name: str
    notebook: str
    needs: tuple
    check: object = None  # the exercise's check; None for a question (judged by its answer)

    @property
    def call(self):
        """How the notebook calls the check: the text the grader looks for in its code."""
        return f"check_{self.name}(" if self.check else f'check_answer("{self.name}"'


ITEMS = (
    Item("q1", "01", ("answer_q1",)),
    Item("sigmoid", "01", ("Sigmoid",), check_sigmoid),
    Item("q2", "01", ("answer_q2",)),
    Item("relu", "01", ("Relu",), check_relu),
    Item("init", "03", ("xavier_std", "he_std"), check_init),
    Item("q3", "03", ("answer_q3",)),
    Item("q4", "04", ("answer_q4",)),
    Item("batchnorm", "06", ("BatchNormalization",), check_batchnorm),
    Item("q5", "06", ("answer_q5",)),
)
BY_NAME = {item.name: item for item in ITEMS}


def items_in(code):
    """The names of the items whose check ``code`` (a notebook's code, as text) calls."""
    return [item.name for item in ITEMS if item.call in code]


def expected_items(code, listed=()):
    """The items a notebook asks for: those its code checks or its metadata lists, and the
    others of the same course notebooks, so that a deleted cell still counts."""
    named = {name for name in [*listed, *items_in(code)] if name in BY_NAME}
    notebooks = {BY_NAME[name].notebook for name in named}
    return [item.name for item in ITEMS if item.notebook in notebooks]


def check_item(name, namespace):
    """The Verdict on item ``name`` from the objects in ``namespace`` (a notebook's)."""
    item = BY_NAME[name]
    if item.check is None:
        return judge(name, namespace.get(item.needs[0]))
    missing = [need for need in item.needs if need not in namespace]
    if missing:
        return Verdict(False, f"{name}: {', '.join(missing)} が定義されていません")
    return item.check(*(namespace[need] for need in item.needs))
