"""scripts/build_html.py: executed notebooks as web pages with their figures and links.

The input is what reproduce leaves: executed notebooks (here one made with a real PNG
output, as the inline backend writes it). The pages must hold the figures themselves,
open with Colab and Binder links at the release's tag (or say the address is not set),
leave out the install cell, and, like reproduce, keep a page the user changed.
"""

import base64
import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
URL, REF = "https://github.com/teacher/course", "v0.2.0"


def _script():
    spec = importlib.util.spec_from_file_location("build_html", ROOT / "scripts" / "build_html.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _executed_report(folder):
    """A report folder holding one executed notebook with one figure; its PNG (base64)."""
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1])
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    encoded = base64.b64encode(png.getvalue()).decode()
    install = new_code_cell("PACKAGE = 'install me'", metadata={"tags": ["install"]})
    figure = new_code_cell("plt.plot([0, 1])")
    figure.outputs = [new_output("display_data", data={"image/png": encoded})]
    nb = new_notebook(cells=[new_markdown_cell("# 01 Tiny course\n\n本文"), install, figure])
    folder.mkdir()
    nbformat.write(nb, folder / "01_tiny.ipynb")
    return encoded


def test_each_page_holds_its_figures_and_opens_with_colab_and_binder_links(tmp_path):
    encoded = _executed_report(tmp_path / "report")
    (page,) = _script().build(tmp_path / "report", tmp_path / "site", url=URL, ref=REF)
    text = page.read_text(encoding="utf-8")
    colab = f"https://colab.research.google.com/github/teacher/course/blob/{REF}/notebooks/"
    binder = f"https://mybinder.org/v2/gh/teacher/course/{REF}?labpath=notebooks/01_tiny.ipynb"
    assert f'href="{colab}01_tiny.ipynb"' in text and f'href="{binder}"' in text
    assert text.index("Open in Colab") < text.index("01 Tiny course")  # at the top
    assert f"data:image/png;base64,{encoded}" in text.replace("\n", "")
    assert "install me" not in text
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<a href="01_tiny.html">01 Tiny course</a>' in index


def test_a_page_the_user_changed_is_kept_and_the_placeholder_is_named(tmp_path):
    _executed_report(tmp_path / "report")
    site = tmp_path / "site"
    cmd = [sys.executable, str(ROOT / "scripts" / "build_html.py"), "report", "site"]
    first = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "warning: the project's address is the placeholder" in first.stderr
    assert "the project's address is not set yet" in (site / "01_tiny.html").read_text()
    (site / "01_tiny.html").write_text("my annotated page")
    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert (site / "01_tiny.html").read_text() == "my annotated page"
    assert "kept 01_tiny.html (changed since reproduce wrote it; the new one is" in again.stdout
    assert (site / "01_tiny (2).html").is_file()
