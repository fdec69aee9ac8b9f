"""Every notebook in ``notebooks/`` runs top to bottom without an error, and is committed without outputs.

Each runs in a fresh ``python3`` kernel of this interpreter (the project's venv: the kernel spec is the
one ipykernel provides for ``sys.executable``, never one installed elsewhere on the machine), with
``notebooks/`` as its working directory and ``GISGRID_DATABASE_URL`` pointing at the test database, so a
notebook may use PostGIS (the :func:`db_url` fixture brings the database up and migrates it).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 900  # per cell: a notebook may plan a whole district on a slow, shared machine


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ has no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [n for n, cell in enumerate(nb.cells, start=1)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_top_to_bottom(path: Path, db_url: str) -> None:
    nb = nbformat.read(path, as_version=4)
    kernels = KernelSpecManager(kernel_dirs=[])  # only the native kernel: this interpreter
    client = NotebookClient(
        nb,
        km=AsyncKernelManager(kernel_name="python3", kernel_spec_manager=kernels),
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # any cell error raises; cleanup_kc: a kernel manager handed in is otherwise left running, its
    # sockets open
    client.execute(env={**os.environ, "GISGRID_DATABASE_URL": db_url}, cleanup_kc=True)
