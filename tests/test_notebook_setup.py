"""The seed's explicit loop (notebooks 01 and 06) runs with one BLAS thread everywhere.

The loop runs outside train(), so nothing of the library limits its threads; the Setup
cell does, in plain view. Here the Setup cell runs in a kernel started as a student's
own Jupyter starts it: no thread variable set, on a machine with two cores or more.
"""

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PROBE = (
    "import json\nimport numpy\nfrom threadpoolctl import threadpool_info\n"
    "print(json.dumps([i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']))"
)


def _setup_cell(name):
    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    heading = next(k for k, c in enumerate(cells) if c.source.startswith("## Setup"))
    return next(c for c in cells[heading:] if c.cell_type == "code").source


@pytest.mark.parametrize("name", ["01_sigmoid_vs_relu.ipynb", "06_batch_normalization.ipynb"])
def test_the_setup_cell_leaves_one_blas_thread(name):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: BLAS would use one thread anyway")
    nb = new_notebook(cells=[new_code_cell(PROBE), new_code_cell(_setup_cell(name))])
    nb.cells.append(new_code_cell(PROBE))
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(env=env)
    before, after = (json.loads(nb.cells[k].outputs[0]["text"]) for k in (0, 2))
    assert max(before) >= 2  # what the loop would have had
    assert after == [1] * len(after) and after
