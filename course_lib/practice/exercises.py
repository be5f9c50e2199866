"""Exercise versions of the notebooks, generated from the shipped ones (the solutions).

Solution regions are marked in code cells with nbgrader's markers, ``### BEGIN
SOLUTION`` and ``### END SOLUTION``, so an instructor can also use nbgrader's own tools.
Here each region becomes a stub: a region of answer lines (``answer_q1 = 24``) becomes
``answer_q1 = None``; any other region ``raise NotImplementedError("<hint>")``, the hint
being the ``# ヒント: ...`` comment just above the region, which stays in both versions.
"""

import copy
import json
import re
import tempfile
from pathlib import Path

from course_lib.coursework import copy_notebooks, find_notebooks, read_notebook
from course_lib.practice.feedback import GENERIC_HINT
from course_lib.practice.items import items_in

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
HINT = "# ヒント:"
ANSWER = re.compile(r"\s*(answer_\w+)\s*=")


def _stub(region, indent, above):
    """The lines that replace one solution region."""
    answers = [ANSWER.match(line) for line in region if line.strip()]
    if answers and all(answers):
        return [f"{indent}{match.group(1)} = None" for match in answers]
    hint = above.strip()[2:] if above.strip().startswith(HINT) else GENERIC_HINT
    return [f"{indent}raise NotImplementedError({json.dumps(hint, ensure_ascii=False)})"]


def exercise_source(source):
    """A code cell's source with each solution region replaced by its stub.

    ValueError if a region is not closed.
    """
    lines, out = source.split("\n"), []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.strip() != BEGIN:
            out.append(line)
            index += 1
            continue
        ends = [k for k in range(index + 1, len(lines)) if lines[k].strip() == END]
        if not ends:
            raise ValueError(f"'{BEGIN}' without '{END}' in the cell starting {lines[0]!r}")
        indent = line[: len(line) - len(line.lstrip())]
        out += _stub(lines[index + 1 : ends[0]], indent, out[-1] if out else "")
        index = ends[0] + 1
    return "\n".join(out)


def exercise_notebook(nb):
    """The exercise version of the notebook ``nb`` (nbformat's JSON as a dict), new."""
    exercise, solutions = copy.deepcopy(nb), []
    for cell in exercise["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            solutions.append(source)
            cell["source"] = exercise_source(source)
            cell["outputs"], cell["execution_count"] = [], None
    # The items it asks for, so that the grader still expects a deleted one.
    exercise["metadata"].setdefault("course_lib", {})["practice"] = items_in("\n".join(solutions))
    return exercise


def copy_exercises(dest):
    """Write the exercise version of every shipped notebook into ``dest`` the way
    ``coursework.copy_notebooks`` copies (a valid notebook there is kept); yields as it."""
    with tempfile.TemporaryDirectory(prefix="course-lib-exercises-") as folder:
        sources = []
        for path in find_notebooks():
            target = Path(folder) / path.name
            text = json.dumps(exercise_notebook(read_notebook(path)), ensure_ascii=False, indent=1)
            target.write_text(text + "\n", encoding="utf-8")
            sources.append(target)
        yield from copy_notebooks(dest, sources=sources)
