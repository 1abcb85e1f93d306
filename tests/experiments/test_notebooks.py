"""Every notebook executes from top to bottom without an error (nbclient, python3 kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert {p.name for p in NOTEBOOKS} >= {
        "cap_tradeoffs.ipynb",
        "concurrency_control.ipynb",
        "staleness.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, outputs: Path) -> None:
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        assert not cell.get("outputs"), f"{path.name} is stored with outputs"
    client = NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on any error
    images = sum(
        1
        for cell in book.cells
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    )
    assert images >= 2
