"""The command line of the practice tools: ``grade``, and what ``notebooks --exercises`` copies."""

import functools

from course_lib.practice.grading import DEFAULT_TIMEOUT
from course_lib.validation import SettingError

EXERCISES_HELP = (
    "copy the exercise versions instead: each solution replaced by a stub that says its hint"
)


def _grade(args):
    from course_lib.practice.grading import grade

    try:
        grade(args.submissions, out=args.out, timeout=args.timeout, jobs=args.jobs)
    except SettingError as exc:
        raise ValueError(exc.named(f"--{exc.name}")) from None
    return 0


def add_practice_commands(sub, notebooks):
    """Add ``--exercises`` to the ``notebooks`` command and ``grade SUBMISSIONS [--out
    grades.csv] [--timeout S] [--jobs N]`` to the subcommands ``sub``."""
    notebooks.add_argument("--exercises", action="store_true", help=EXERCISES_HELP)
    grade = sub.add_parser(
        "grade", help="execute and check every submitted notebook: one CSV row for each"
    )
    grade.add_argument("submissions", help="folder of the submitted notebooks (sub-folders too)")
    grade.add_argument(
        "--out", default="grades.csv", help="the CSV to write: a new file (default: %(default)s)"
    )
    grade.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds a cell may run before it is interrupted (default: %(default)g)",
    )
    grade.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="submissions executed at once (default: 2 on two cores or more, else 1)",
    )
    grade.set_defaults(func=_grade)


def notebook_copier(exercises, update=False):
    """What ``notebooks`` copies with: the solutions as shipped (``update``: replacing the
    copies not edited), or their exercise versions."""
    if exercises:
        from course_lib.practice.exercises import copy_exercises

        return copy_exercises
    from course_lib.coursework import copy_notebooks

    return functools.partial(copy_notebooks, update=update)
