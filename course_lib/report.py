"""``python -m course_lib reproduce``: execute every notebook and write a report.

Each notebook runs in a fresh kernel with one BLAS thread; the runs it made are read back
from the executed notebook (``results``) and written with it, its figures and
``runs.json`` beside ``report.md``, into a folder that loses nothing (``safe_files``).
"""

import base64
import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from course_lib import coursework
from course_lib.data.mnist import SOURCES
from course_lib.results import notebook_runs, run_rows, table
from course_lib.safe_files import CannotWrite, OutputFolderError, folder_content
from course_lib.validation import choice, positive_number, whole_number

# Seconds a cell may run: the longest cell (in 04) took 15 s on the bundled sample on
# a busy 2-core machine; full MNIST has a 5x larger test set, and a hub gives each
# student a quarter of a core.
CELL_TIMEOUT = 300
# One thread for any BLAS a kernel loads: threads change the order of the sums, so the
# numbers would depend on --jobs, the core count or the user's own settings.
ONE_BLAS_THREAD = dict.fromkeys(["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"], "1")


def _failure(exc, cells, index, timeout):
    """One line: which cell of a notebook failed, and how."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(exc, CellTimeoutError):
        what = f"did not finish within {timeout:g} s (--timeout)"
    elif isinstance(exc, DeadKernelError):
        what = "the kernel died (out of memory, or the code ended its process)"
    elif isinstance(exc, CellExecutionError):
        what = f"{exc.ename}: {exc.evalue}"
    else:
        what = f"{type(exc).__name__}: {exc}"
    if index is None:
        return f"failed while starting its kernel: {what}"
    first_line = cells[index].source.strip().splitlines()[0]
    return f"failed in cell {index + 1} (`{first_line}`): {what}"


def _figures(nb):
    """(PNG bytes, caption) of each figure: its section, its cell and the runs it shows."""
    section = ""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            headings = re.findall(r"^#+ (.+)$", cell.source, flags=re.M)
            section = headings[-1] if headings else section
            continue
        runs = ", ".join(h.label for h in notebook_runs({"cells": [cell]}))
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                caption = f"{section}, cell {index + 1}" if section else f"cell {index + 1}"
                caption += f"; runs: {runs}" if runs else ""
                yield base64.b64decode(output["data"]["image/png"]), caption


class Kernels:
    """Notebooks executed each in a fresh kernel, and Ctrl-C for the running ones.

    env: the kernels' environment, or a function of a notebook's folder giving it;
    options: more NotebookClient options (an ``on_cell_executed`` runs after the bar's).
    """

    def __init__(self, env, timeout, bar, **options):
        self.env, self.timeout, self.bar, self.options = env, timeout, bar, options
        self.busy, self.lock, self.stop = {}, threading.Lock(), threading.Event()

    def run(self, book):
        """The record of one (name, notebook, folder, error); a failure is its error."""
        from nbclient import NotebookClient

        name, nb, folder, error = book
        record = {"name": name, "nb": nb, "seconds": 0.0, "error": error, "runs": []}
        if nb is None:
            return record
        where = {"cell": None}

        def on_cell_start(cell, cell_index):
            if self.stop.is_set():  # Ctrl-C: reproduce ends, this record is not reported
                raise RuntimeError("stopped by Ctrl-C")
            where["cell"] = cell_index
            with self.lock:
                self.busy[name] = client
                self.bar.set_description(" + ".join(Path(n).stem for n in self.busy))

        def on_cell_executed(**hook):
            self.bar.update(1)
            if self.options.get("on_cell_executed"):
                self.options["on_cell_executed"](**hook)

        hooks = {"on_cell_start": on_cell_start, "on_cell_executed": on_cell_executed}
        client = NotebookClient(
            nb,
            timeout=self.timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
            **{**self.options, **hooks},
        )
        env = self.env(folder) if callable(self.env) else self.env
        start = time.perf_counter()
        try:
            # The kernel's own log (its TCP transport, a Ctrl-C while it starts or shuts
            # down) is not for students: what a cell prints reaches the notebook anyway.
            client.execute(env=env, stderr=subprocess.DEVNULL)
        except Exception as exc:  # any failure is this notebook's row, not the report's end
            record["error"] = _failure(exc, nb.cells, where["cell"], self.timeout)
        finally:
            with self.lock:
                self.busy.pop(name, None)
        record.update(seconds=time.perf_counter() - start, runs=notebook_runs(nb))
        return record

    def interrupt(self):
        """Stop every notebook: SIGINT to the kernels running a cell (as Ctrl-C in
        Jupyter); those still starting stop before their first cell (a signal would
        kill them mid-import, with a traceback)."""
        self.stop.set()
        with self.lock:
            for client in self.busy.values():
                pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
                with contextlib.suppress(OSError, TypeError):
                    os.kill(pid, signal.SIGINT)


def default_jobs():
    """Notebooks executed at once by default: two on two cores or more, else one."""
    # sched_getaffinity: the cores this process may use (Linux)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(2, cores or 1)


def execute_notebooks(books, env, timeout, jobs, **options):
    """Records of the (name, notebook, folder, error) books, ``jobs`` kernels at a time
    (``Kernels`` says what env and options may be)."""
    from tqdm import tqdm

    total = sum(1 for _, nb, _, _ in books if nb for c in nb.cells if c.cell_type == "code")
    with (
        tqdm(total=total, unit="cell", desc="notebooks", file=sys.stderr) as bar,
        ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reproduce") as pool,
    ):
        kernels = Kernels(env, timeout, bar, **options)
        try:  # also around submit: a Ctrl-C there must stop the notebooks already submitted
            futures = [pool.submit(kernels.run, book) for book in books]
            return [future.result() for future in futures]
        except KeyboardInterrupt:
            kernels.interrupt()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _load_books(paths, shipped):
    """[(name, notebook or None, folder, error or None)] and the names of changed ones."""
    import nbformat

    books, changed = [], []
    for path in paths:
        text = coursework.shipped_copy(path.name) if shipped else None
        if shipped and text is None:
            raise FileNotFoundError(
                f"the shipped version of {path.name} is not available here (not in the "
                "package, no git history); run without --shipped"
            )
        try:
            nb = nbformat.reads(text or path.read_text("utf-8"), as_version=4)
        except Exception as exc:  # cut short, not JSON, not a notebook: this row fails
            books.append((path.name, None, path.parent, f"failed: not a valid notebook ({exc})"))
            continue
        if not shipped and coursework.is_changed(nb):
            changed.append(path.name)
        books.append((path.name, nb, path.parent, None))
    return books, changed


def _report_text(executed, rows, source, changed, runs_name):
    """report.md: the versions and BLAS that decide the numbers, the notebooks, runs, figures."""
    import numpy as np
    from threadpoolctl import threadpool_info

    own = coursework.installed_version() or "not installed"
    blas = [
        f"{i['internal_api']} {i['version']}" for i in threadpool_info() if i["user_api"] == "blas"
    ]
    lines = [
        "# Reproduction report: 2-1 演習 勾配消失問題",
        "",
        f"Made by `python -m course_lib reproduce` on {time.strftime('%Y-%m-%d %H:%M')}, "
        f"data source `{source}`. Executed notebooks are next to this file; every run is "
        f"in `{runs_name}`. The notebooks ran each in a fresh kernel with 1 BLAS thread: "
        f"python {platform.python_version()}, numpy {np.__version__}, course_lib {own}, "
        f"BLAS: {', '.join(blas) or 'unknown'}.",
        "",
    ]
    if changed:
        lines += [
            f"**Changed notebooks**: {', '.join(changed)} differ from the shipped version; "
            "their runs are reported as they ran, and a claim applies only to a run whose "
            "settings are a preset's. `reproduce --shipped` runs the shipped versions.",
            "",
        ]
    notebooks = [
        [r["name"], f"{r['seconds']:.1f}", len(r["runs"]), r["error"] or "ok"] for r in executed
    ]
    lines += ["## Notebooks", "", table(["notebook", "time (s)", "runs", "result"], notebooks)]
    header = [key for key in rows[0] if not key.startswith("_")] if rows else []
    lines += ["", "## Runs", "", table(header, rows) if rows else "(no runs recorded)", ""]
    lines += ["## Figures", ""]
    for r in executed:
        if r["figures"]:
            lines += [f"### {Path(r['name']).stem}", ""]
            for k, (name, caption) in enumerate(r["figures"], start=1):
                lines += [f"![{Path(name).stem}](<{name}>)", ""]
                lines += [f"*Figure {k} of {Path(r['name']).stem}*: {caption}.", ""]
    return "\n".join(lines)


def _write_report(folder, executed, rows, source, changed):
    """Every file of the report into ``folder`` (a FolderContent); the report's name."""
    import nbformat

    for record in executed:
        record["figures"] = []
        if record["nb"] is None:
            continue
        folder.write(record["name"], nbformat.writes(record["nb"]) + "\n")
        stem = Path(record["name"]).stem
        for k, (png, caption) in enumerate(_figures(record["nb"]), start=1):
            name = folder.write(f"figures/{stem}_{k:02d}.png", png)
            record["figures"].append((name, caption))
    runs = [{"notebook": r["name"], **h.to_dict()} for r in executed for h in r["runs"]]
    runs_name = folder.write("runs.json", json.dumps(runs, ensure_ascii=False, allow_nan=False))
    text = _report_text(executed, rows, source, changed, runs_name)
    return folder.write("report.md", text)


def reproduce(
    out="report", source="sample", notebooks=None, shipped=False, timeout=CELL_TIMEOUT, jobs=None
):
    """Execute every notebook and write ``out/report.md``; returns the report's path.

    source: the notebooks' ``load_mnist()`` source; notebooks: their folder (default: the
    shipped ones), run as shipped with shipped=True; timeout: seconds a cell may run; jobs:
    notebooks at once (default_jobs()). A failed notebook is a row of the report, then
    RuntimeError names it; CannotWrite leaves the previous report as it was.
    """
    source = choice("source", source, SOURCES)
    jobs = whole_number("jobs", default_jobs() if jobs is None else jobs)
    timeout = positive_number("timeout", timeout)
    paths = coursework.find_notebooks(notebooks)
    out_dir = Path(out)
    if out_dir.resolve() == paths[0].parent.resolve():
        raise OutputFolderError(
            f"{out_dir} is the folder the notebooks are read from; the executed copies would "
            "replace them. Choose another folder with --out"
        )
    with folder_content(out_dir) as folder:
        books, changed = _load_books(paths, shipped)
        env = {**os.environ, **ONE_BLAS_THREAD, "COURSE_LIB_MNIST_SOURCE": source}
        env.pop("MPLBACKEND", None)  # the kernels draw inline
        start = time.perf_counter()
        executed = execute_notebooks(books, env, timeout, jobs)
        elapsed = time.perf_counter() - start
        rows = run_rows(executed)
        try:
            report = out_dir / _write_report(folder, executed, rows, source, changed)
            folder.commit()
        except OSError as exc:
            raise CannotWrite(
                f"cannot write the report ({exc.strerror or exc}); the previous report is "
                "unchanged and nothing else was written"
            ) from None

    counts = {v: sum(1 for row in rows if row["_agrees"] is v) for v in (True, False, None)}
    print(
        f"report: {report} ({len(executed)} notebooks in {elapsed:.1f} s, {len(rows)} runs: "
        f"{counts[True]} agree with the seed, {counts[False]} do not, {counts[None]} unchecked)"
    )
    for line in folder.kept.values():
        print(line)
    failed = [r["name"] for r in executed if r["error"]]
    if failed:
        raise RuntimeError(f"notebooks failed: {', '.join(failed)} (see {report})")
    disagree = [f"{row['notebook']}: {row['run']}" for row in rows if row["_agrees"] is False]
    if disagree:
        print(f"runs that do not show the seed's observation: {'; '.join(disagree)}")
    return report
