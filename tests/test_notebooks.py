"""The exploration notebooks: each runs top to bottom on a fresh kernel and draws figures,
and the committed files carry no outputs.

Every notebook is executed with ``nbclient`` in its own folder (``notebooks/``), as a reader
would open it; a cell that raises fails the test with the cell's traceback.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = (
    "01_contrastive_loss.ipynb",
    "02_mnist_map.ipynb",
    "03_invariance.ipynb",
    "04_norb_cylinder.ipynb",
    "05_your_data.ipynb",
)
CELL_TIMEOUT_S = 300
MAX_COMMITTED_BYTES = 50_000


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def test_every_notebook_is_listed_in_the_readme():
    found = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
    assert found == list(EXPECTED)
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    assert all(name in readme for name in EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_notebook_is_valid_and_has_no_outputs(name):
    path = NOTEBOOK_DIR / name
    notebook = read(name)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{name} has no code cells"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), (
        f"{name} was committed with outputs; clear them"
    )
    assert path.stat().st_size < MAX_COMMITTED_BYTES


@pytest.mark.slow  # 10-16 s each, 73 s for the five
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom(name, monkeypatch):
    # One BLAS thread in the kernel (JAX keeps its own thread pool): on a shared machine,
    # OpenBLAS's spinning threads make LLE and PCA ten to thirty times slower.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    # The kernel starts with Jupyter's inline backend, as a reader's does, even where the tests
    # run with MPLBACKEND=Agg; drlim must leave it alone (the notebooks never set a backend).
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = read(name)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, with the traceback, if a cell raises
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert any("image/png" in out.get("data", {}) for out in outputs), f"{name} drew no figure"
