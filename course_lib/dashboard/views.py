"""HTML of the dashboard's text parts: the status line, the message and the runs table.

Plain functions from data to HTML strings; the status line and the table rows carry
``data-*`` attributes so code and browser tests can read the state without parsing text.
"""

import html

from course_lib.dashboard.runlog import fmt_acc

MESSAGE_COLOURS = {"error": "#b00020", "warning": "#8a5a00"}


def _attributes(attrs):
    return " ".join(f'{k}="{html.escape(str(v))}"' for k, v in attrs.items())


def status_html(state, text, runs, **extra):
    """The status line: ``state`` ('idle', 'loading', 'running', 'finished', 'error')."""
    attrs = {"data-state": state, "data-runs": runs, **extra}
    return f'<span class="course-status" {_attributes(attrs)}>{html.escape(text)}</span>'


def running_text(history):
    """What the status line says during a run."""
    return (
        f"iteration {history.eval_iters[-1]} / {history.iters_num}: test accuracy "
        f"{fmt_acc(history.test_acc[-1])}, {history.wall_time:.1f} s "
        f"({history.data.get('description', '')})"
    )


def finished_status(run, runs):
    """The status line of a finished run, with its accuracies as attributes."""
    h = run.history
    text = (
        f"run #{run.number} {h.status}: final test accuracy {fmt_acc(h.final_test_acc)}, "
        f"train {fmt_acc(h.final_train_acc)}, {run.seconds:.1f} s, on "
        f"{h.data.get('description', 'the data')}"
    )
    return status_html(
        "finished",
        text,
        runs,
        **{
            "data-final-test-acc": fmt_acc(h.final_test_acc),
            "data-final-train-acc": fmt_acc(h.final_train_acc),
            "data-run-status": h.status,
            "data-source": h.data.get("source") or "",
        },
    )


def message_html(text, kind, detail=None):
    """A message for the user; ``detail`` (a traceback) folded away under it."""
    if not text:
        return ""
    colour = MESSAGE_COLOURS.get(kind, "#1a5e20")
    body = f'<b style="color:{colour}">{html.escape(text)}</b>'
    if detail:
        body += f"<details><summary>traceback</summary><pre>{html.escape(detail)}</pre></details>"
    return f'<div class="course-message" data-kind="{kind}">{body}</div>'


def table_html(runs):
    """The runs table; one row per finished run."""
    if not runs:
        return '<p class="course-runs-empty"><i>no runs yet</i></p>'
    rows = [run.row() for run in runs]
    header = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = []
    for row, run in zip(rows, runs, strict=True):
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values())
        attrs = {
            "data-run": run.number,
            "data-status": run.history.status,
            "data-final-test-acc": row["final test acc"],
        }
        body.append(f"<tr {_attributes(attrs)}>{cells}</tr>")
    return (
        '<table class="course-runs" style="border-collapse:collapse" border="1" '
        f'cellpadding="4"><thead><tr>{header}</tr></thead><tbody>{"".join(body)}'
        "</tbody></table>"
    )
