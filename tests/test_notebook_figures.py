"""Figures that compare runs name the settings that ran, also after a student's edit.

Notebook 06's deep-network cell is edited as a student would ([100, 100, 100] hidden,
std 1.0), every run shortened, and the notebook executed (nbclient): its overlay of the
runs with and without batch normalisation must say in its title what the runs share
(the edited settings) and in its legend what differs. Figures are read by the first
cell of tests/test_notebook_edits.py, which prints each axes' title and legend.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.test_notebook_edits import RECORD_FIGURES

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _set(source, name, value):
    source, count = re.subn(rf"^{name} = .*$", f"{name} = {value}", source, flags=re.M)
    assert count == 1, f"no line '{name} = ...' in:\n{source}"
    return source


def _figures(nb):
    shown = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                pytest.fail(f"{output['ename']}: {output['evalue']}")
            for line in (output.get("text") or "").splitlines():
                if line.startswith("FIGURE "):
                    shown.append(json.loads(line[len("FIGURE ") :]))
    return shown


@pytest.mark.slow
def test_the_deep_overlay_of_06_names_the_edited_settings(tmp_path):
    nb = nbformat.read(NOTEBOOKS / "06_batch_normalization.ipynb", as_version=4)
    settings = [c for c in nb.cells if "settings" in c.metadata.get("tags", [])]
    for cell in settings:
        cell.source = _set(cell.source, "iters_num", "40")
    (deep,) = [c for c in settings if "[100, 100, 100, 100, 100]" in c.source]
    deep.source = _set(deep.source, "hidden_size_list", "[100, 100, 100]")
    deep.source = _set(deep.source, "weight_init_std", "1.0")
    nb.cells.insert(0, nbformat.v4.new_code_cell(RECORD_FIGURES))
    resources = {"metadata": {"path": str(tmp_path)}}
    NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources).execute()

    figures = _figures(nb)
    (overlay,) = [f for f in figures if f["legend"] and set(f["legend"]) >= {"BN"}]
    title = " ".join(overlay["title"].split())
    assert re.search(r"sigmoid / 1(\.0)? \[100,100,100\] lr=0\.1", title), overlay
    assert overlay["legend"] == ["no BN", "BN"], overlay
    # The deep cells' other figures name the edited hidden layers as well.
    edited = [f for f in figures if "[100,100,100]" in "".join(f["title"].split())]
    assert len(edited) >= 2, [f["title"] for f in figures]
