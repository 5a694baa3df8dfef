"""Fixtures of the report tests (builders in report_fixtures.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_audit, write_audit


@pytest.fixture
def audit_dict() -> dict[str, Any]:
    return make_audit()


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return write_audit(tmp_path / "audit_a", make_audit())
