"""A student's "[try]": edit a notebook's settings cell, run it, see the changed run.

Each notebook's experiments start from cells tagged ``settings`` that hold named values
(``hidden_size_list = [30, 15]`` ...). The test edits them as a student would, executes
the notebook (nbclient), and checks that what is printed and drawn names the settings
that actually ran: History summaries, figure titles and legends. Figures are read by a
first cell that makes ``plt.show()`` print each axes' title and legend before showing it.
Every notebook is shortened (``iters_num``) so the test stays quick.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

RECORD_FIGURES = """
import matplotlib.pyplot as _plt

_show = _plt.show


def _show_and_record(*args, **kwargs):
    for number in _plt.get_fignums():
        for ax in _plt.figure(number).axes:
            legend = ax.get_legend()
            texts = [t.get_text() for t in legend.get_texts()] if legend else []
            print("FIGURE", json.dumps({"title": ax.get_title(), "legend": texts}))
    return _show(*args, **kwargs)


import json

_plt.show = _show_and_record
"""

# notebook: (edits of the first settings cell, iters_num for every settings cell,
#            text a History prints, text a figure's title or legend shows)
CASES = {
    "01_sigmoid_vs_relu.ipynb": (
        {"activation": '"relu"', "weight_init_std": '"He"'},
        "200",
        "relu / He [40,20] lr=0.1",
        "relu / He",
    ),
    "02_hidden_size.ipynb": (
        {"hidden_size_list": "[60, 40]"},
        "200",
        "relu / 0.01 [60,40] lr=0.1",
        "[60,40]",
    ),
    "03_weight_init.ipynb": (
        {"activation": '"sigmoid"', "weight_init_std": '"He"'},
        "200",
        "sigmoid / He [40,20] lr=0.1",
        "sigmoid / He",
    ),
    "04_gradient_flow.ipynb": (
        {"hidden_size_list": "[50, 50, 50]"},
        "60",
        "relu / He [50,50,50] lr=0.1",
        "[50,50,50]",
    ),
    "06_batch_normalization.ipynb": (
        {"hidden_size_list": "[60, 40]"},
        "200",
        "sigmoid / Xavier [60,40] BN lr=0.01",
        "[60,40]",
    ),
}


def _edit(source, edits):
    for name, value in edits.items():
        source, count = re.subn(rf"^{name} = .*$", f"{name} = {value}", source, flags=re.M)
        assert count == 1, f"no line '{name} = ...' in the settings cell:\n{source}"
    return source


def _outputs(nb):
    texts, figures = [], []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                pytest.fail(f"{output['ename']}: {output['evalue']}")
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            for line in text.splitlines():
                if line.startswith("FIGURE "):
                    figures.append(json.loads(line[len("FIGURE ") :]))
                else:
                    texts.append(line)
    return "\n".join(texts), figures


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_students_edit_of_the_settings_shows_in_the_results(name, tmp_path):
    edits, iters_num, printed, drawn = CASES[name]
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    settings = [c for c in nb.cells if "settings" in c.metadata.get("tags", [])]
    assert settings, f"{name} has no settings cell"
    settings[0].source = _edit(settings[0].source, edits)
    for cell in settings:
        if re.search(r"^iters_num = ", cell.source, flags=re.M):
            cell.source = _edit(cell.source, {"iters_num": iters_num})
    nb.cells.insert(0, nbformat.v4.new_code_cell(RECORD_FIGURES))
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    text, figures = _outputs(nb)
    assert printed in text, f"{printed!r} is not in what {name} printed"
    shown = [f["title"] for f in figures] + [t for f in figures for t in f["legend"]]
    compact = [s.replace(" ", "") for s in shown]
    assert any(drawn.replace(" ", "") in s for s in compact), shown
    # No figure keeps a title typed for the settings before the edit.
    assert not any(s.startswith("accuracy Xavier") or s == "accuracy He" for s in shown), shown
