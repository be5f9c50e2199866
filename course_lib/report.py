"""``python -m course_lib reproduce``: execute every notebook and write a report.

The notebooks stay the one place where the exercise runs. While ``reproduce``
executes them it sets ``COURSE_LIB_RESULTS_DIR``; every run recorded with
``record()`` (``run_preset`` does it for its runs) is then written there as JSON,
and the report's table is built from those files and the presets' claims.
"""

import base64
import json
import os
import sys
import time
from pathlib import Path

RESULTS_ENV = "COURSE_LIB_RESULTS_DIR"


def record(name, history):
    """Save ``history`` under ``name`` for the report, if a report is being made.

    Does nothing unless ``COURSE_LIB_RESULTS_DIR`` is set, so notebooks can
    call it unconditionally.
    """
    folder = os.environ.get(RESULTS_ENV)
    if not folder:
        return None
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"name": name, **history.to_dict()}, default=str), "utf-8")
    os.replace(tmp, path)
    return path


def load_results(folder):
    """The recorded runs in ``folder``: {name: History}, in recording order."""
    from course_lib.training import History

    paths = sorted(Path(folder).glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    results = {}
    for path in paths:
        data = json.loads(path.read_text("utf-8"))
        results[data.pop("name")] = History.from_dict(data)
    return results


def find_notebooks(folder=None):
    """The course notebooks (NN_*.ipynb) in teaching order."""
    if folder is None:
        here = Path(__file__).resolve().parents[1] / "notebooks"
        folder = here if here.is_dir() else Path.cwd() / "notebooks"
    folder = Path(folder)
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(
            f"no course notebooks (NN_*.ipynb) in {folder}; run from the project checkout "
            "or pass --notebooks DIR"
        )
    return notebooks


def _png_outputs(nb):
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                yield base64.b64decode(data["image/png"])


def _execute(paths, out_dir, timeout):
    """Run each notebook in a fresh kernel; returns [(path, seconds, error or None)]."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm import tqdm

    books = [nbformat.read(p, as_version=4) for p in paths]
    total = sum(1 for nb in books for c in nb.cells if c.cell_type == "code")
    done = []
    with tqdm(total=total, unit="cell", desc="notebooks", file=sys.stderr) as bar:
        for path, nb in zip(paths, books, strict=True):
            bar.set_description(path.stem)
            client = NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
                on_cell_executed=lambda **_: bar.update(1),
            )
            start = time.perf_counter()
            error = None
            try:
                client.execute()
            except CellExecutionError as exc:
                error = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
            seconds = time.perf_counter() - start
            nbformat.write(nb, out_dir / path.name)
            figures = out_dir / "figures"
            figures.mkdir(exist_ok=True)
            pngs = []
            for k, png in enumerate(_png_outputs(nb), start=1):
                target = figures / f"{path.stem}_{k:02d}.png"
                target.write_bytes(png)
                pngs.append(target)
            done.append((path, seconds, error, pngs))
    return done


def _fmt(value):
    return "-" if value is None else f"{value:.3f}"


def _cell(text):
    # A bare "|" (as in |dW1|) would end the table cell.
    return str(text).replace("|", "\\|")


def _table(results):
    from course_lib.experiments import PRESETS

    rows = [
        "| run | settings | final train-batch acc | final test acc | first iter > 50 % test "
        "| seed's observation | our check | agrees |",
        "|---|---|---|---|---|---|---|---|",
    ]
    # The presets' order is the course's order; runs without a preset come last.
    order = {name: i for i, name in enumerate(PRESETS)}
    for name in sorted(results, key=lambda n: order.get(n, len(order))):
        h = results[name]
        preset = PRESETS.get(name)
        mark = {True: "yes", False: "**no**", None: "-"}[_agrees(name, h)]
        first = h.first_iter_above(0.5)
        cells = [
            name,
            h.label,
            _fmt(h.final_train_acc),
            _fmt(h.final_test_acc),
            first if first is not None else "-",
            preset.observation if preset else "",
            preset.claim if preset else "",
            mark,
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def _write_report(out_dir, executed, results, source):
    lines = [
        "# Reproduction report: 2-1 演習 勾配消失問題",
        "",
        f"Made by `python -m course_lib reproduce` on {time.strftime('%Y-%m-%d %H:%M')}, "
        f"data source `{source}`. Executed notebooks are next to this file.",
        "",
        "## Notebooks",
        "",
        "| notebook | time (s) | result |",
        "|---|---|---|",
    ]
    for path, seconds, error, _ in executed:
        lines.append(f"| {path.name} | {seconds:.1f} | {'failed: ' + error if error else 'ok'} |")
    lines += ["", "## Runs", "", _table(results) if results else "(no runs recorded)", ""]
    lines += ["## Figures", ""]
    for path, _, _, pngs in executed:
        if pngs:
            lines += [f"### {path.stem}", ""]
            lines += [f"![{p.stem}](figures/{p.name})" for p in pngs]
            lines.append("")
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), "utf-8")
    return report


def reproduce(out_dir="report", source="sample", notebooks=None, timeout=900):
    """Execute every notebook into ``out_dir`` and write ``out_dir/report.md``.

    ``source`` is passed to the notebooks' ``load_mnist()`` through
    ``COURSE_LIB_MNIST_SOURCE`` ('sample' is the bundled data, 'auto' tries
    the full MNIST first). Returns the path of the report; raises RuntimeError
    naming the notebooks that failed (the report is written all the same).
    """
    if source not in ("auto", "sample", "download", "local"):
        raise ValueError(f"source must be 'auto', 'sample', 'download' or 'local', got {source!r}")
    paths = find_notebooks(notebooks)
    out_dir = Path(out_dir)
    results_dir = out_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    for old in results_dir.glob("*.json"):
        old.unlink()
    for old in (out_dir / "figures").glob("*.png"):
        old.unlink()

    saved = {k: os.environ.get(k) for k in (RESULTS_ENV, "COURSE_LIB_MNIST_SOURCE", "MPLBACKEND")}
    os.environ[RESULTS_ENV] = str(results_dir.resolve())
    os.environ["COURSE_LIB_MNIST_SOURCE"] = source
    os.environ.pop("MPLBACKEND", None)  # the kernels draw inline
    try:
        executed = _execute(paths, out_dir, timeout)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    results = load_results(results_dir)
    report = _write_report(out_dir, executed, results, source)
    total = sum(s for _, s, _, _ in executed)
    print(f"report: {report} ({len(executed)} notebooks in {total:.1f} s, {len(results)} runs)")
    failed = [p.name for p, _, e, _ in executed if e]
    if failed:
        raise RuntimeError(f"notebooks failed: {', '.join(failed)} (see {report})")
    disagree = [n for n, h in results.items() if _agrees(n, h) is False]
    if disagree:
        print(f"runs that do not show the seed's observation: {', '.join(disagree)}")
    return report


def _agrees(name, history):
    from course_lib.experiments import PRESETS

    preset = PRESETS.get(name)
    return preset.agrees(history) if preset else None
