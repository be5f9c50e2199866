"""``python -m course_lib grade``: each submitted notebook executed and checked, one CSV row.

Each submission runs in a fresh kernel (``report``'s runner, two at a time on two
cores) whose working folder, HOME and TMPDIR are a scratch folder of its own, removed at
the end: what its cells write or delete by relative path, in HOME or in the temporary
folder stays there. Absolute paths elsewhere are not blocked: that needs the operating
system's isolation (a container or a separate user). Errors do not stop a notebook; a
cell that runs longer than the timeout is interrupted and the next one runs; outputs are
dropped as each cell finishes. Then one appended cell runs every check on what the
student's cells defined (``collect``), so deleted or reordered cells do not matter.
"""

import csv
import io
import os
import site
import tempfile
import time
from pathlib import Path

from course_lib.practice.collect import GRADE_MIME
from course_lib.practice.items import ITEMS, expected_items
from course_lib.report import ONE_BLAS_THREAD, default_jobs, execute_notebooks
from course_lib.safe_files import writable_folder, write_file
from course_lib.validation import positive_number, whole_number

DEFAULT_TIMEOUT = 60  # seconds per cell: the longest shipped cell takes about 7 s
GRADE_CELL = "from course_lib.practice.collect import grade_here\n\ngrade_here(globals(), {!r})"
TIMED_OUT = {"ename": "Timeout", "evalue": "the cell did not finish in time", "traceback": []}
# Errors that a stub or a check's one-line hint raise: the item's own column says so.
HINTS = ("NotImplementedError", "NotYetImplemented")
ERROR_KEY = "course_lib_grade_error"


def find_submissions(folder):
    """The notebooks under ``folder`` (sub-folders too, no checkpoints), in order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of submitted notebooks")
    found = [
        path
        for path in sorted(folder.rglob("*.ipynb"))
        if ".ipynb_checkpoints" not in path.parts and path.is_file()
    ]
    if not found:
        raise ValueError(f"no notebooks (*.ipynb) in {folder}")
    return found


def _book(path, name, scratch):
    """(book for report's runner, the names of the items it asks for)."""
    import nbformat
    from nbformat.v4 import new_code_cell

    try:
        nb = nbformat.reads(path.read_text("utf-8"), as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    except Exception as exc:  # cut short, not JSON, not UTF-8, not a notebook
        reason = " ".join(str(exc).split())[:160]
        return (name, None, scratch, f"not a valid notebook ({reason})"), []
    expected = expected_items(code, nb.metadata.get("course_lib", {}).get("practice", []))
    nb.cells.append(new_code_cell(GRADE_CELL.format(expected)))
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3"})
    return (name, nb, scratch, None), expected


def _environment():
    """The environment of a submission's kernel, as a function of its scratch folder."""
    # The bundled sample: offline, and nothing downloaded into each scratch HOME.
    base = {**os.environ, **ONE_BLAS_THREAD, "COURSE_LIB_MNIST_SOURCE": "sample"}
    base.pop("MPLBACKEND", None)  # the kernels draw inline
    # Packages installed with pip --user stay importable with HOME moved.
    base.setdefault("PYTHONUSERBASE", site.getuserbase())

    def environment(folder):
        env = dict(base, HOME=str(folder), TMPDIR=str(folder), TMP=str(folder), TEMP=str(folder))
        for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "MPLCONFIGDIR"):
            env[name] = str(Path(folder) / f".{name.lower()}")
        env["IPYTHONDIR"] = str(Path(folder) / ".ipython")
        return env

    return environment


def _drop_outputs(cell, cell_index, execute_reply):
    """Keep only the checks' results; note the cell's error in its metadata."""
    content = (execute_reply or {}).get("content", {})
    if content.get("status") == "error" and content.get("ename") not in HINTS:
        cell.metadata[ERROR_KEY] = " ".join(
            f"{content.get('ename')}: {content.get('evalue')}".split()
        )
    cell.outputs = [o for o in cell.outputs if GRADE_MIME in o.get("data", {})]


def _problems(record, cells, timeout):
    """One short line per thing that went wrong while the notebook (its ``cells``) ran."""
    problems = [record["error"]] if record["error"] else []
    for number, cell in enumerate(cells[:-1], start=1):
        error = cell.metadata.get(ERROR_KEY)
        if error and error.startswith(TIMED_OUT["ename"]):
            problems.append(f"cell {number} did not finish within {timeout:g} s (interrupted)")
        elif error:
            problems.append(f"cell {number}: {error[:120]}")
    return problems


def _row(record, expected, timeout):
    """The CSV row of one executed submission."""
    cells = record["nb"].cells if record["nb"] is not None else []
    outputs = [o for o in (cells[-1].outputs if cells else []) if GRADE_MIME in o.get("data", {})]
    results = outputs[0]["data"][GRADE_MIME] if outputs else {}
    problems = _problems(record, cells, timeout)
    if record["nb"] is not None and not outputs and not record["error"]:
        why = cells[-1].metadata.get(ERROR_KEY, "they did not finish")
        problems.append(f"the checks did not run to the end ({why})")
    row = {"submission": record["name"]}
    for item in ITEMS:
        if item.name in results:
            row[item.name] = "pass" if results[item.name][0] else "fail"
        else:
            row[item.name] = "fail" if item.name in expected else ""
    failed = [message for ok, message in results.values() if not ok]
    row["note"] = " | ".join(" ".join(p.split()) for p in problems + failed) or "ok"
    row["seconds"] = f"{record['seconds']:.1f}"
    return row


def _csv(rows):
    text = io.StringIO()
    writer = csv.DictWriter(
        text, fieldnames=["submission", *(i.name for i in ITEMS), "note", "seconds"]
    )
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def grade(submissions, out="grades.csv", timeout=DEFAULT_TIMEOUT, jobs=None):
    """Execute and check every notebook under ``submissions`` on the bundled sample; write
    the CSV ``out``, a new file (FileExistsError before anything runs if it exists).
    Returns the rows."""
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ModuleNotFoundError:
        raise ValueError('grade executes notebooks: pip install "course-lib[report]"') from None
    timeout = positive_number("timeout", timeout)
    jobs = whole_number("jobs", default_jobs() if jobs is None else jobs)
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise FileExistsError(f"{out} exists; choose another --out (nothing was run)")
    writable_folder(out.parent)
    submissions = Path(submissions)
    paths = find_submissions(submissions)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-lib-grade-") as scratch_root:
        books, expected = [], []
        for number, path in enumerate(paths, start=1):
            scratch = Path(scratch_root) / f"{number:04d}"
            scratch.mkdir()
            book, names = _book(path, path.relative_to(submissions).as_posix(), scratch)
            books.append(book)
            expected.append(names)
        executed = execute_notebooks(
            books,
            _environment(),
            timeout,
            jobs,
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout=TIMED_OUT,
            on_cell_executed=_drop_outputs,
        )
    rows = [_row(r, names, timeout) for r, names in zip(executed, expected, strict=True)]
    written = write_file(out, _csv(rows))  # 'grades (2).csv' if a file took its name
    elapsed = time.perf_counter() - start
    print(f"grades: {written} ({len(rows)} submissions in {elapsed:.1f} s, {jobs} at a time)")
    return rows
