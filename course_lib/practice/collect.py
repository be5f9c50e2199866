"""What the grader runs in a submission's kernel after the student's cells.

Every check runs on the objects the student's cells left in the kernel's namespace,
whatever order the cells were in or which were deleted; the results leave the kernel as
one display output of their own type, which the grader reads back.
"""

import json

from course_lib.practice.feedback import NotYetImplemented
from course_lib.practice.items import ITEMS, check_item

GRADE_MIME = "application/vnd.course-lib.grade+json"


def _defined_here(namespace, item):
    """True if the student's own cells define everything ``item`` needs."""
    for name in item.needs:
        value = namespace.get(name)
        if value is None:
            return False
        if item.check is not None and getattr(value, "__module__", None) != "__main__":
            return False  # imported from a library, not written in the notebook
    return True


def grade_here(namespace, expected):
    """Check the items named in ``expected`` and any other the namespace defines; display
    {item: [passed, message]} as GRADE_MIME."""
    names = [item.name for item in ITEMS if item.name in expected or _defined_here(namespace, item)]
    results = {}
    for name in names:
        try:
            verdict = check_item(name, namespace)
            results[name] = [verdict.ok, verdict.message]
        except NotYetImplemented as exc:
            results[name] = [False, f"{name}: {exc}"]
        except Exception as exc:  # the student's object broke the check: this item fails
            results[name] = [False, f"{name}: {type(exc).__name__}: {exc}"]
    from IPython.display import display

    display({GRADE_MIME: results, "text/plain": json.dumps(results, ensure_ascii=False)}, raw=True)
