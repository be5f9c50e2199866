"""The report reads on its own: each figure has a caption, each check says what it covers.

A run whose check looks only at the gradients of the first batch (before any update) is
not marked a plain "yes", however little it learned; a figure in report.md says which
section and cell of its notebook drew it and which runs that cell showed.
"""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.experiments import PRESETS
from course_lib.history import History
from course_lib.report import reproduce
from course_lib.results import run_rows


def _completed(preset_name, test_acc, ratio):
    """A finished run of the preset's settings, as a notebook would display it."""
    preset = PRESETS[preset_name]
    layers = len(preset.config.hidden_size_list) + 1
    norms = {f"W{k}": 1.0 for k in range(1, layers + 1)}
    norms["W1"] = ratio  # |dW1| / |dW_out| at initialisation
    return History(
        config=preset.config,
        eval_iters=[preset.config.iters_num],
        train_acc=[test_acc],
        test_acc=[test_acc],
        initial_grad_norms=norms,
        status="completed",
    )


def test_a_check_of_the_initial_gradients_only_does_not_read_as_a_plain_yes():
    learned_nothing = _completed("deep_sigmoid_xavier", test_acc=0.098, ratio=1e-3)
    assert PRESETS["deep_sigmoid_xavier"].check.covers == "initial gradients"
    (row,) = run_rows([{"name": "04_gradient_flow.ipynb", "runs": [learned_nothing]}])
    assert row["agrees"] == "yes (initial gradients only)"
    assert row["check covers"] == "initial gradients"
    assert row["final test acc"] == "0.098"

    both = _completed("deep_sigmoid_0.01", test_acc=0.098, ratio=1e-8)
    (row,) = run_rows([{"name": "04_gradient_flow.ipynb", "runs": [both]}])
    assert row["agrees"] == "yes" and row["check covers"] == "initial gradients + accuracy"


def test_every_figure_of_the_report_has_a_caption(tmp_path):
    books = tmp_path / "nbs"
    books.mkdir()
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title\n\n## Sigmoid against ReLU\n\ntext"),
            new_code_cell(
                "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
                "from course_lib.experiments import PRESETS\n"
                "from course_lib.history import History\n"
                "h = History(config=PRESETS['relu_0.01'].config, status='completed')\n"
                "plt.plot([0, 1]); plt.show()\n"
                "h"
            ),
            new_markdown_cell("no heading here"),
            new_code_cell("plt.plot([1, 0]); plt.show()"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, books / "01_tiny.ipynb")
    report = reproduce(out=tmp_path / "report", notebooks=books, jobs=1)
    text = report.read_text(encoding="utf-8")
    label = PRESETS["relu_0.01"].config.label
    assert f"*Figure 1 of 01_tiny*: Sigmoid against ReLU, cell 2; runs: {label}." in text
    assert "*Figure 2 of 01_tiny*: Sigmoid against ReLU, cell 4." in text
    assert "![01_tiny_01](<figures/01_tiny_01.png>)\n\n*Figure 1 of 01_tiny*" in text
