"""``python -m course_lib reproduce``: execute every notebook and write a report.

Each notebook runs in a fresh kernel with one BLAS thread; the runs it made are read back
from the executed notebook (``results``) and written with it, its figures and
``runs.json`` beside ``report.md``. Nothing is lost: the report is built in a folder
beside ``--out`` and moved in only when complete (a failure, a full disk or Ctrl-C leave
the previous report as it was), a lock keeps a second reproduce out, and a file the user
changed since reproduce wrote it (``.course-lib-report.json`` keeps each file's SHA-256)
is kept: the new file takes a free name beside it.
"""

import base64
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path, PurePosixPath

try:
    import fcntl
except ImportError:  # Windows has no flock: two runs into one folder go undetected there
    fcntl = None

from course_lib import coursework
from course_lib.coursework import CannotWrite
from course_lib.data.mnist import SOURCES
from course_lib.results import notebook_runs, run_rows, table
from course_lib.validation import positive_number, whole_number

MANIFEST = ".course-lib-report.json"
# Seconds a cell may run: the longest cell on full MNIST takes about 30 s on this
# machine, and a class sharing one core per four students runs several times slower.
DEFAULT_TIMEOUT = 300
# One thread for any BLAS a kernel loads: threads change the order of the sums, so the
# numbers would depend on --jobs, the core count or the user's own settings.
ONE_BLAS_THREAD = dict.fromkeys(["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"], "1")


class OutputFolderError(ValueError):
    """The output folder is not one ``reproduce`` may write into; the message says why."""


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _previous_files(out_dir, notebooks_dir):
    """{name: SHA-256} of what an earlier reproduce wrote in ``out_dir`` ({} if new)."""
    if out_dir.resolve() == Path(notebooks_dir).resolve():
        raise OutputFolderError(
            f"{out_dir} is the folder the notebooks are read from; the executed copies would "
            "replace them. Choose another folder with --out"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputFolderError(f"{out_dir} is a file, not a folder; choose a folder with --out")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return {}
    manifest = out_dir / MANIFEST
    if not manifest.is_file():
        raise OutputFolderError(
            f"{out_dir} is not empty and is not a report made by reproduce; choose a new "
            "or empty folder with --out (nothing was changed)"
        )
    try:
        files = json.loads(manifest.read_text("utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputFolderError(
            f"{manifest} is damaged ({exc}); choose a new folder with --out"
        ) from None
    # An older manifest lists names only: without a digest, every file counts as changed.
    return dict.fromkeys(files) if isinstance(files, list) else files


@contextlib.contextmanager
def _workspace(out_dir):
    """Lock ``out_dir`` and yield an empty folder beside it to build the report in.

    CannotWrite first if the report could not be built there and moved in. The lock is
    an flock, which the system drops when the process ends, however it ends; a second
    reproduce into the same folder refuses, naming the first.
    """
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        for folder in (out_dir.parent, out_dir) if out_dir.is_dir() else (out_dir.parent,):
            coursework.check_writable(folder)
    except OSError as exc:
        raise CannotWrite(f"{exc}; nothing was run") from None
    lock_path = out_dir.parent / f".{out_dir.name}.reproduce-lock"
    staging = out_dir.parent / f".{out_dir.name}.reproducing"
    with open(lock_path, "a+", encoding="utf-8") as lock:
        try:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # The holder removes the file as it ends: a lock on a removed file is none.
                if not os.path.samestat(os.fstat(lock.fileno()), os.stat(lock_path)):
                    raise BlockingIOError
        except OSError:
            lock.seek(0)
            raise OutputFolderError(
                f"{out_dir} is being written by another reproduce ({lock.read().strip()}); "
                "wait for it to finish or choose another --out"
            ) from None
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        lock.truncate(0)
        lock.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}")
        lock.flush()
        shutil.rmtree(staging, ignore_errors=True)  # left by a run that was killed
        try:
            staging.mkdir()
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            lock_path.unlink(missing_ok=True)  # while still held


class _Names:
    """Where each file of the new report goes in ``out_dir``, and what it replaces.

    previous: {name: SHA-256} of the files the previous report wrote. Those nobody
    changed since are ``ours`` to replace; any other file keeps its name, and the new
    file takes a free one: 'name (2).ext', 'name (3).ext' ...
    """

    def __init__(self, out_dir, previous):
        self.out_dir, self.previous, self.moved, self._taken = out_dir, previous, {}, set()
        self.ours = set()
        for name, digest in previous.items():
            target = (out_dir / name).resolve()
            # Only files inside out_dir: a manifest edited to point elsewhere replaces nothing.
            if target.is_relative_to(out_dir.resolve()) and target.is_file():
                if digest is not None and _sha256(target) == digest:
                    self.ours.add(name)

    def place(self, name):
        """The name to write the new report's file ``name`` under."""
        n, candidate = 1, name
        while candidate in self._taken or (
            candidate not in self.ours and os.path.lexists(self.out_dir / candidate)
        ):
            n += 1
            candidate = str(coursework.numbered(PurePosixPath(name), n))
        self._taken.add(candidate)
        if candidate != name:
            self.moved[name] = candidate
        return candidate

    def kept(self):
        """One line for each file left as the user had it."""
        lines = [
            f"kept {name} (changed since reproduce wrote it)"
            for name in sorted(set(self.previous) - self.ours - set(self.moved))
            if os.path.lexists(self.out_dir / name)
        ]
        for name, new in self.moved.items():
            why = "changed since reproduce wrote it" if name in self.previous else "not ours"
            lines.append(f"kept {name} ({why}; the new one is {new})")
        return lines


def _commit(staging, out_dir, made, ours):
    """Move the finished report from staging into out_dir, and remove what it replaces.

    Ctrl-C waits for the few renames, so the folder is never half old, half new.
    """
    in_main = threading.current_thread() is threading.main_thread()
    received = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append(1)) if in_main else None
    try:
        for name in made:
            (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, out_dir / name)
        for name in ours - set(made):
            (out_dir / name).unlink(missing_ok=True)
        os.replace(staging / MANIFEST, out_dir / MANIFEST)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


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


def _png_outputs(nb):
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                yield base64.b64decode(output["data"]["image/png"])


class _Stopped(Exception):
    """Ctrl-C in reproduce: a notebook stops before its next cell."""


class _Kernels:
    """Notebooks executed each in a fresh kernel, and Ctrl-C for the running ones."""

    def __init__(self, env, timeout, bar):
        self.env, self.timeout, self.bar = env, timeout, bar
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
            if self.stop.is_set():
                raise _Stopped
            where["cell"] = cell_index
            with self.lock:
                self.busy[name] = client
                self.bar.set_description(" + ".join(Path(n).stem for n in self.busy))

        client = NotebookClient(
            nb,
            timeout=self.timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
            on_cell_start=on_cell_start,
            on_cell_executed=lambda **_: self.bar.update(1),
            # The kernel's log (its TCP transport, an interrupt) is not for students.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
        start = time.perf_counter()
        try:
            client.execute(env=self.env)
        except _Stopped:
            record["error"] = "stopped by Ctrl-C"
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


def _execute(books, env, timeout, jobs):
    """Records of the (name, notebook, folder, error) books, ``jobs`` kernels at a time."""
    from tqdm import tqdm

    total = sum(1 for _, nb, _, _ in books if nb for c in nb.cells if c.cell_type == "code")
    with (
        tqdm(total=total, unit="cell", desc="notebooks", file=sys.stderr) as bar,
        ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reproduce") as pool,
    ):
        kernels = _Kernels(env, timeout, bar)
        futures = [pool.submit(kernels.run, book) for book in books]
        try:
            return [future.result() for future in futures]
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            kernels.interrupt()
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
    if changed:
        print(
            f"changed since shipped: {', '.join(changed)} (reporting them as they are; "
            "--shipped runs the shipped versions)",
            file=sys.stderr,
        )
    return books, changed


def _environment():
    """What decides the numbers besides the notebooks: versions and BLAS threads."""
    import numpy as np
    from threadpoolctl import threadpool_info

    try:
        own = metadata.version("course-lib")
    except metadata.PackageNotFoundError:
        own = "not installed"
    blas = [f"{i['internal_api']} {i['version']}" for i in threadpool_info() if i["user_api"]]
    return (
        f"The notebooks ran each in a fresh kernel with 1 BLAS thread: python "
        f"{platform.python_version()}, numpy {np.__version__}, course_lib {own}, "
        f"BLAS: {', '.join(blas) or 'unknown'}."
    )


def _report_text(executed, rows, source, changed, runs_name):
    lines = [
        "# Reproduction report: 2-1 演習 勾配消失問題",
        "",
        f"Made by `python -m course_lib reproduce` on {time.strftime('%Y-%m-%d %H:%M')}, "
        f"data source `{source}`. Executed notebooks are next to this file; every run is "
        f"in `{runs_name}`. {_environment()}",
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
            lines += [f"![{Path(name).stem}](<{name}>)" for name in r["figures"]]
            lines.append("")
    return "\n".join(lines)


def _write_report(staging, executed, rows, source, changed, names):
    """Every file of the report into ``staging``; returns {name: SHA-256} of each."""
    import nbformat

    try:
        for record in executed:
            record["figures"] = []
            if record["nb"] is None:
                continue
            nbformat.write(record["nb"], staging / names.place(record["name"]))
            stem = Path(record["name"]).stem
            for k, png in enumerate(_png_outputs(record["nb"]), start=1):
                record["figures"].append(names.place(f"figures/{stem}_{k:02d}.png"))
                (staging / "figures").mkdir(exist_ok=True)
                (staging / record["figures"][-1]).write_bytes(png)
        runs_name = names.place("runs.json")
        runs = [{"notebook": r["name"], **h.to_dict()} for r in executed for h in r["runs"]]
        text = json.dumps(runs, ensure_ascii=False, allow_nan=False)
        (staging / runs_name).write_text(text, "utf-8")
        text = _report_text(executed, rows, source, changed, runs_name)
        (staging / names.place("report.md")).write_text(text, "utf-8")
        files = [path for path in staging.rglob("*") if path.is_file()]
        made = {path.relative_to(staging).as_posix(): _sha256(path) for path in files}
        (staging / MANIFEST).write_text(json.dumps({"files": made}, indent=1), "utf-8")
    except OSError as exc:
        raise CannotWrite(
            f"cannot write the report ({exc.strerror or exc}); the previous report is "
            "unchanged and nothing else was written"
        ) from None
    return made


def reproduce(
    out_dir="report",
    source="sample",
    notebooks=None,
    shipped=False,
    timeout=DEFAULT_TIMEOUT,
    jobs=None,
):
    """Execute every notebook and write ``out_dir/report.md``; returns the report's path.

    notebooks: the folder of the notebooks (default: those shipped with the package);
    shipped=True runs them as shipped even if they were edited since.
    timeout: seconds a cell may run before its notebook counts as failed.
    jobs: notebooks executed at once (default: two on two cores or more, else one).
    ``source`` is passed to the notebooks' ``load_mnist()`` through
    ``COURSE_LIB_MNIST_SOURCE`` ('sample' is the bundled data, 'auto' tries the full
    MNIST first). A notebook that fails is a row of the report, which is written all
    the same; then RuntimeError names the failed notebooks. CannotWrite if the report
    cannot be written; the previous report is then as it was.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if jobs is None:  # sched_getaffinity: the cores this process may use (Linux)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        jobs = 2 if (cores or os.cpu_count() or 1) >= 2 else 1
    jobs = whole_number("jobs", jobs)
    timeout = positive_number("timeout", timeout)
    paths = coursework.find_notebooks(notebooks)
    out_dir = Path(out_dir)
    with _workspace(out_dir) as staging:
        names = _Names(out_dir, _previous_files(out_dir, paths[0].parent))
        books, changed = _load_books(paths, shipped)
        env = {**os.environ, **ONE_BLAS_THREAD, "COURSE_LIB_MNIST_SOURCE": source}
        env.pop("MPLBACKEND", None)  # the kernels draw inline
        start = time.perf_counter()
        executed = _execute(books, env, timeout, jobs)
        elapsed = time.perf_counter() - start
        rows = run_rows(executed)
        made = _write_report(staging, executed, rows, source, changed, names)
        _commit(staging, out_dir, made, names.ours)

    report = out_dir / names.moved.get("report.md", "report.md")
    counts = {v: sum(1 for row in rows if row["_agrees"] is v) for v in (True, False, None)}
    print(
        f"report: {report} ({len(executed)} notebooks in {elapsed:.1f} s, {len(rows)} runs: "
        f"{counts[True]} agree with the seed, {counts[False]} do not, {counts[None]} unchecked)"
    )
    for line in names.kept():
        print(line)
    failed = [r["name"] for r in executed if r["error"]]
    if failed:
        raise RuntimeError(f"notebooks failed: {', '.join(failed)} (see {report})")
    disagree = [f"{row['notebook']}: {row['run']}" for row in rows if row["_agrees"] is False]
    if disagree:
        print(f"runs that do not show the seed's observation: {'; '.join(disagree)}")
    return report
