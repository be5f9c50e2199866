"""How runs made in a notebook reach the report: read back from the executed notebook.

A History shows itself in a notebook with its own output type (``HISTORY_MIME``) next to
the text and HTML people see, so an executed notebook holds every run it displayed.
Nothing is written on the side and no environment variable changes what a notebook
does: the report reads the notebook it executed.
"""

import json

from course_lib.experiments import find_preset
from course_lib.history import HISTORY_MIME, History


def notebook_runs(nb):
    """The Histories a notebook displayed, in order, each once (by its run_id).

    ``nb`` is an nbformat notebook (or its dict). A run shown twice keeps its place of
    first display and the data of its last (a live run displayed again when done).
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


def verdict(history):
    """(preset or None, True / False / None): the claim for the run's settings, and its result.

    None as result means no preset has these settings (nothing to check), or the run did
    not complete (a stopped run cannot show what a full one would).
    """
    preset = find_preset(history.config)
    if preset is None or history.status != "completed":
        return preset, None
    return preset, preset.agrees(history)
