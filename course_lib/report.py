"""``python -m course_lib reproduce``: execute every notebook and write a report.

The notebooks stay the one place where the exercise runs. ``reproduce`` executes each in
a fresh kernel, reads the runs it made back from the executed notebook (``results``),
checks each run against the claim for its actual settings, and writes ``report.md``
with the executed notebooks, their figures and ``runs.json`` next to it.

It never writes into the folder the notebooks are read from, and never deletes or
overwrites a file it did not write: the output folder must be new, empty, or a report
it made before (its ``.course-lib-report.json`` lists the files it wrote).
"""

import base64
import contextlib
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from course_lib import coursework
from course_lib.data.mnist import SOURCES
from course_lib.results import notebook_runs, verdict
from course_lib.validation import whole_number

MANIFEST = ".course-lib-report.json"


def _usable_cores():
    """How many cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class OutputFolderError(ValueError):
    """The output folder is not one ``reproduce`` may write into; the message says why."""


def _prepare_output(out_dir, notebooks_dir):
    """Check ``out_dir`` and remove what an earlier reproduce wrote there (only that)."""
    out_dir = Path(out_dir)
    if out_dir.resolve() == Path(notebooks_dir).resolve():
        raise OutputFolderError(
            f"{out_dir} is the folder the notebooks are read from; the executed copies would "
            "replace them. Choose another folder with --out"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputFolderError(f"{out_dir} is a file, not a folder; choose a folder with --out")
    manifest = out_dir / MANIFEST
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not manifest.is_file():
            raise OutputFolderError(
                f"{out_dir} is not empty and is not a report made by reproduce; choose a new "
                "or empty folder with --out (nothing was changed)"
            )
        try:
            written = json.loads(manifest.read_text("utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OutputFolderError(
                f"{manifest} is damaged ({exc}); choose a new folder with --out"
            ) from None
        for name in written:
            target = (out_dir / name).resolve()
            # Only files inside out_dir: a manifest edited to point elsewhere deletes nothing.
            if target.parent.is_relative_to(out_dir.resolve()) and target.is_file():
                target.unlink()
    # Made now, so that an unwritable place fails before the notebooks run; empty until
    # the end, so that an interrupted run leaves a folder the next one accepts.
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _png_outputs(nb):
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                yield base64.b64decode(data["image/png"])


class _Stopped(Exception):
    """Ctrl-C in reproduce: a running notebook stops before its next cell."""


def _interrupt_kernel(client):
    """SIGINT to a notebook's kernel: its running cell stops as on Ctrl-C in Jupyter."""
    pid = getattr(getattr(getattr(client, "km", None), "provisioner", None), "pid", None)
    if pid:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGINT)


def _execute(books, out_dir, timeout, jobs=1):
    """Run each (name, notebook, folder) in a fresh kernel, ``jobs`` kernels at a time.

    Returns one record per notebook, in the order of ``books``. Each kernel is its own
    process, so two notebooks use two cores; with more than one at a time each kernel
    gets one BLAS thread unless the user set OPENBLAS_NUM_THREADS (two kernels with two
    OpenBLAS threads each spin against each other for the cores). Ctrl-C interrupts the
    running notebooks' kernels and starts no other, then raises KeyboardInterrupt.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm import tqdm

    env = dict(os.environ)
    if jobs > 1:
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
    total = sum(1 for _, nb, _ in books for c in nb.cells if c.cell_type == "code")
    running, lock, stop = {}, threading.Lock(), threading.Event()

    def stop_here(**_):
        if stop.is_set():
            raise _Stopped

    def run(book):
        name, nb, folder = book
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
            on_cell_start=stop_here,
            on_cell_executed=lambda **_: bar.update(1),
            # The kernel's warning about its local TCP transport is not for students.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        with lock:
            running[name] = client
            bar.set_description(" + ".join(Path(n).stem for n in running))
        start = time.perf_counter()
        error = None
        try:
            client.execute(env=env)
        except CellExecutionError as exc:
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        except _Stopped:
            error = "stopped by Ctrl-C"
        finally:
            with lock:
                del running[name]
        return {
            "name": name,
            "nb": nb,
            "seconds": time.perf_counter() - start,
            "error": error,
            "runs": notebook_runs(nb),
        }

    with (
        tqdm(total=total, unit="cell", desc="notebooks", file=sys.stderr) as bar,
        ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reproduce") as pool,
    ):
        futures = [pool.submit(run, book) for book in books]
        try:
            return [future.result() for future in futures]
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            with lock:
                for client in running.values():
                    _interrupt_kernel(client)
            raise


def _write_outputs(out_dir, executed):
    """Executed notebooks and figures into out_dir; returns the names written."""
    import nbformat

    written = []
    (out_dir / "figures").mkdir(exist_ok=True)
    for record in executed:
        nbformat.write(record["nb"], out_dir / record["name"])
        written.append(record["name"])
        record["figures"] = []
        stem = Path(record["name"]).stem
        for k, png in enumerate(_png_outputs(record["nb"]), start=1):
            name = f"figures/{stem}_{k:02d}.png"
            (out_dir / name).write_bytes(png)
            written.append(name)
            record["figures"].append(name)
    return written


def _fmt(value):
    return "-" if value is None or value != value else f"{value:.3f}"


def _cell(text):
    # A bare "|" (as in |dW1|) would end the table cell.
    return str(text).replace("|", "\\|").replace("\n", " ")


AGREES = {True: "yes", False: "**no**"}


def run_rows(executed):
    """One dict per run of every notebook, as the report's table shows it."""
    rows = []
    for record in executed:
        for history in record["runs"]:
            preset, agrees = verdict(history)
            if preset is None:
                mark = "- (no claim for these settings)"
            elif agrees is None:
                mark = f"- (run {history.status})"
            else:
                mark = AGREES[agrees]
            first = history.first_iter_above(0.5)
            rows.append(
                {
                    "notebook": Path(record["name"]).stem,
                    "run": history.label,
                    "data": history.data.get("description", ""),
                    "final train-batch acc": _fmt(history.final_train_acc),
                    "final test acc": _fmt(history.final_test_acc),
                    "first iter > 50 % test": first if first is not None else "-",
                    "preset": preset.name if preset else "-",
                    "seed's observation": preset.observation if preset else "",
                    "our check": preset.claim if preset else "",
                    "agrees": mark,
                    "_agrees": agrees,
                }
            )
    return rows


def _table(rows):
    keys = [k for k in rows[0] if not k.startswith("_")]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[k]) for k in keys) + " |")
    return "\n".join(lines)


def _write_report(out_dir, executed, rows, source, changed):
    lines = [
        "# Reproduction report: 2-1 演習 勾配消失問題",
        "",
        f"Made by `python -m course_lib reproduce` on {time.strftime('%Y-%m-%d %H:%M')}, "
        f"data source `{source}`. Executed notebooks are next to this file; every run is "
        "in `runs.json`.",
        "",
    ]
    if changed:
        lines += [
            f"**Changed notebooks**: {', '.join(changed)} differ from the shipped version; "
            "their runs are reported as they ran, and a claim applies only to a run whose "
            "settings are a preset's. `reproduce --shipped` runs the shipped versions.",
            "",
        ]
    lines += ["## Notebooks", "", "| notebook | time (s) | runs | result |", "|---|---|---|---|"]
    for r in executed:
        result = "failed: " + r["error"] if r["error"] else "ok"
        lines.append(f"| {r['name']} | {r['seconds']:.1f} | {len(r['runs'])} | {_cell(result)} |")
    lines += ["", "## Runs", "", _table(rows) if rows else "(no runs recorded)", ""]
    lines += ["## Figures", ""]
    for r in executed:
        if r["figures"]:
            lines += [f"### {Path(r['name']).stem}", ""]
            lines += [f"![{Path(name).stem}]({name})" for name in r["figures"]]
            lines.append("")
    (out_dir / "report.md").write_text("\n".join(lines), "utf-8")
    runs = [{"notebook": r["name"], **h.to_dict()} for r in executed for h in r["runs"]]
    (out_dir / "runs.json").write_text(json.dumps(runs, ensure_ascii=False), "utf-8")
    return ["report.md", "runs.json"]


def _load_books(paths, shipped):
    import nbformat

    books, changed = [], []
    for path in paths:
        if shipped:
            text = coursework.shipped_copy(path.name)
            if text is None:
                raise FileNotFoundError(
                    f"the shipped version of {path.name} is not available here (not in the "
                    "package, no git history); run without --shipped"
                )
            nb = nbformat.reads(text, as_version=4)
        else:
            nb = nbformat.read(path, as_version=4)
            if coursework.is_changed(nb):
                changed.append(path.name)
        books.append((path.name, nb, path.parent))
    return books, changed


def reproduce(
    out_dir="report", source="sample", notebooks=None, shipped=False, timeout=900, jobs=None
):
    """Execute every notebook into ``out_dir`` and write ``out_dir/report.md``.

    notebooks: the folder of the notebooks (default: those shipped with the package);
    shipped=True runs them as shipped even if they were edited since.
    jobs: notebooks executed at once (default: two on two cores or more, else one).
    ``source`` is passed to the notebooks' ``load_mnist()`` through
    ``COURSE_LIB_MNIST_SOURCE`` ('sample' is the bundled data, 'auto' tries
    the full MNIST first). Returns the path of the report; raises RuntimeError
    naming the notebooks that failed (the report is written all the same).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    if jobs is None:
        jobs = 2 if _usable_cores() >= 2 else 1
    jobs = whole_number("jobs", jobs)
    paths = coursework.find_notebooks(notebooks)
    out_dir = _prepare_output(out_dir, paths[0].parent)
    books, changed = _load_books(paths, shipped)
    if changed:
        print(
            f"changed since shipped: {', '.join(changed)} (reporting them as they are; "
            "--shipped runs the shipped versions)",
            file=sys.stderr,
        )

    saved = {k: os.environ.get(k) for k in ("COURSE_LIB_MNIST_SOURCE", "MPLBACKEND")}
    os.environ["COURSE_LIB_MNIST_SOURCE"] = source
    os.environ.pop("MPLBACKEND", None)  # the kernels draw inline
    start = time.perf_counter()
    try:
        executed = _execute(books, out_dir, timeout, jobs)
        elapsed = time.perf_counter() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    written = _write_outputs(out_dir, executed)
    rows = run_rows(executed)
    written += _write_report(out_dir, executed, rows, source, changed)
    (out_dir / MANIFEST).write_text(json.dumps({"files": written}, indent=1), "utf-8")

    report = out_dir / "report.md"
    counts = {v: sum(1 for row in rows if row["_agrees"] is v) for v in (True, False, None)}
    print(
        f"report: {report} ({len(executed)} notebooks in {elapsed:.1f} s, {len(rows)} runs: "
        f"{counts[True]} agree with the seed, {counts[False]} do not, {counts[None]} unchecked)"
    )
    failed = [r["name"] for r in executed if r["error"]]
    if failed:
        raise RuntimeError(f"notebooks failed: {', '.join(failed)} (see {report})")
    disagree = [f"{row['notebook']}: {row['run']}" for row in rows if row["_agrees"] is False]
    if disagree:
        print(f"runs that do not show the seed's observation: {'; '.join(disagree)}")
    return report
