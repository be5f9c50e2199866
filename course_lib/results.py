"""How runs made in a notebook reach the report: read back from its outputs, judged, tabled."""

import json
from pathlib import Path

from course_lib.experiments import find_preset
from course_lib.history import HISTORY_MIME, History, fmt_acc


def notebook_runs(nb):
    """The Histories a notebook (nbformat or dict) displayed, in order, each once (by run_id).

    A run shown twice keeps its place of first display and the data of its last.
    """
    runs = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(HISTORY_MIME)
            if payload is None:
                continue
            if isinstance(payload, str):  # some writers store JSON types as text
                payload = json.loads(payload)
            history = History.from_dict(payload)
            runs[history.run_id] = history
    return list(runs.values())


def run_rows(executed):
    """One dict per run of ``executed`` ([{'name': notebook file, 'runs': [History]}]) as the
    report's table shows it, with the claim for its settings and whether it holds (``_agrees``,
    None if none applies)."""
    rows = []
    for record in executed:
        for history in record["runs"]:
            preset = find_preset(history.config)
            agrees = None
            if preset is None:
                mark = "- (no claim for these settings)"
            elif history.status != "completed":  # it cannot show what a full run would
                mark = f"- (run {history.status})"
            else:
                agrees = bool(preset.check.test(history))
                mark = "yes" if agrees else "**no**"
                # A check of the first batch only says nothing about what the run learned.
                if "accuracy" not in preset.check.covers.split("+"):
                    mark += f" ({preset.check.covers} only)"
            first = history.first_iter_above(0.5)
            rows.append(
                {
                    "notebook": Path(record["name"]).stem,
                    "run": history.label,
                    "data": history.data.get("description", ""),
                    "final train-batch acc": fmt_acc(history.final_train_acc),
                    "final test acc": fmt_acc(history.final_test_acc),
                    "first iter > 50 % test": first if first is not None else "-",
                    "preset": preset.name if preset else "-",
                    "seed's observation": preset.observation if preset else "",
                    "our check": preset.check.text if preset else "",
                    "check covers": preset.check.covers.replace("+", " + ") if preset else "",
                    "agrees": mark,
                    "_agrees": agrees,
                }
            )
    return rows


def table(header, rows):
    """A Markdown table: the ``header`` names, then each row (a list, or a dict by them)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row[key] for key in header] if isinstance(row, dict) else row
        # A bare "|" (as in |dW1| or a notebook's name) would end the table cell.
        text = [str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells]
        lines.append("| " + " | ".join(text) + " |")
    return "\n".join(lines)
