"""The analysis notebooks execute top to bottom on the quick demo's outputs."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# Tests that share the session-wide quick demo run on one xdist worker.
pytestmark = pytest.mark.xdist_group("quick_demo")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_three_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_audit_a_model.ipynb",
        "02_compare_retrained_models.ipynb",
        "03_custom_slices_with_fairlearn.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(
    path: Path, quick_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S2F_DEMO_DIR", str(quick_demo))
    monkeypatch.setenv("S2F_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        out for cell in book.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert errors == []
    assert any((tmp_path / "out").iterdir())
    assert os.environ["S2F_DEMO_DIR"] == str(quick_demo)
