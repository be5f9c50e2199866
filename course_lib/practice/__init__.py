"""Practice with feedback: 確認テスト (questions) and 実装演習 (the student's own layers).

In a notebook::

    from course_lib.practice import check_answer, check_relu, check_sigmoid, use_layers

    answer_q1 = 24
    check_answer("q1", answer_q1)  # a hint if wrong, the explanation if right
    check_sigmoid(Sigmoid)  # one or two lines saying what is wrong, or that it passes
    use_layers(network, activation=Sigmoid)  # the student's layer in the experiment

The exercise versions of the notebooks (``exercises``) and the grader (``grading``) are
tooling around these; nothing in the core imports this package.
"""

from course_lib.practice.activation_checks import check_relu, check_sigmoid
from course_lib.practice.batchnorm_check import check_batchnorm
from course_lib.practice.feedback import NotYetImplemented, Verdict
from course_lib.practice.init_check import check_init
from course_lib.practice.quiz import check_answer
from course_lib.practice.student_layers import use_layers

__all__ = [
    "NotYetImplemented",
    "Verdict",
    "check_answer",
    "check_batchnorm",
    "check_init",
    "check_relu",
    "check_sigmoid",
    "use_layers",
]
