"""Fixtures shared across test packages."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run ``s2f-audit demo --quick`` once per session and return its output folder."""
    from s2f_cli import main

    out = tmp_path_factory.mktemp("quick-demo")
    assert main(["demo", "--out", str(out), "--quick", "--quiet", "--seed", "3"]) == 0
    return out
