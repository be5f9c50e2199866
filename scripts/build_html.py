"""The executed notebooks as web pages: the course readable without running it.

Turns each executed notebook that `python -m course_lib reproduce --out REPORT` wrote into
one HTML page with its figures inside (nbconvert's HTMLExporter), a line at its top with
links that open the notebook in Colab and in Binder, and an index.html. A class
publishes the folder as it is (GitHub Pages, any web server). The links use the
project's address and this version's release tag (`python -m course_lib notebooks
--colab` gives the same); while the address is the placeholder, the pages say so instead.
Like reproduce, it writes into a new or empty folder, or one it wrote before, and keeps
a page the user changed there (the new one takes a free name beside it).

Usage: python -m course_lib reproduce --out report && python scripts/build_html.py report site
"""

import html
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from course_lib import coursework
from course_lib.safe_files import folder_content


def links_line(name, url, ref):
    """Markdown for the top of a page: open it in Colab or Binder, or why not yet."""
    if coursework.address_problem(url):
        return "*Colab / Binder: the project's address is not set yet (see the README).*"
    colab = coursework.notebook_link("colab", name, url, ref)
    binder = coursework.notebook_link("binder", name, url, ref)
    return f"[Open in Colab]({colab}) · [Open in Binder]({binder}) · (course_lib {ref})"


def _title(nb, fallback):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.search(r"^# (.+)$", cell.source, flags=re.M)
            if found:
                return found.group(1).strip()
    return fallback


def build(report_dir, out_dir, url=None, ref=None):
    """Write one page per executed notebook of ``report_dir``, and an index, into
    ``out_dir``; returns the paths written."""
    url, ref = url or coursework.source_url(), ref or coursework.release_tag()
    notebooks = coursework.find_notebooks(report_dir)
    exporter = HTMLExporter(template_name="lab")
    out_dir = Path(out_dir)
    with folder_content(out_dir) as folder:
        entries = []
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            # The install cell is for running the notebook, not for reading it.
            nb.cells = [c for c in nb.cells if "install" not in c.metadata.get("tags", [])]
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(links_line(path.name, url, ref)))
            body, _ = exporter.from_notebook_node(nb)
            entries.append((folder.write(f"{path.stem}.html", body), _title(nb, path.stem)))
        items = "".join(
            f'<li><a href="{html.escape(page)}">{html.escape(title)}</a></li>\n'
            for page, title in entries
        )
        index = "<!DOCTYPE html>\n<meta charset='utf-8'>\n<title>Course notebooks</title>\n"
        index += f"<h1>Course notebooks, executed</h1>\n<ol>\n{items}</ol>\n"
        folder.write("index.html", index)
        folder.commit()
    for line in folder.kept.values():
        print(line)
    return [out_dir / page for page, _ in entries]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.exit("usage: python scripts/build_html.py REPORT_DIR OUT_DIR")
    problem = coursework.address_problem(coursework.source_url())
    if problem:
        print(f"warning: {problem}; the pages say so instead of linking", file=sys.stderr)
    pages = build(*argv)
    print(f"{len(pages)} pages and index.html in {Path(argv[1]).resolve()}")


if __name__ == "__main__":
    main()
