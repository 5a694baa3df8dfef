"""The main job end to end, at --quick size: both reports and the key audit rows exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s2f_cli import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--quick", "--quiet", "--seed", "3"]) == 0
    return out


def test_demo_writes_report_and_comparison(demo_dir: Path) -> None:
    for name in ("report.html", "compare.html"):
        html = (demo_dir / name).read_text(encoding="utf-8")
        assert html.lstrip().lower().startswith("<!doctype html>")
        assert len(html) > 5000


def test_audit_has_english_speaking_asian_speakers(demo_dir: Path) -> None:
    audit = json.loads((demo_dir / "audits" / "web-skewed" / "audit.json").read_text())
    groups = [rec.get("group") or {} for rec in audit["tables"]["metrics"]]
    cells = {(g.get("language"), g.get("ethnicity")) for g in groups if len(g) == 2}
    assert ("en", "Asian") in cells
    assert ("zh", "Asian") in cells
    # the evaluation rows of both audits are the same, so the comparison is paired
    other = json.loads((demo_dir / "audits" / "representative" / "audit.json").read_text())
    assert audit["data"]["row_ids_sha256"] == other["data"]["row_ids_sha256"]


def test_rerun_skips_finished_stages(demo_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    before = (demo_dir / "audits" / "web-skewed" / "audit.json").stat().st_mtime_ns
    assert main(["demo", "--out", str(demo_dir), "--quick", "--quiet", "--seed", "3"]) == 0
    after = (demo_dir / "audits" / "web-skewed" / "audit.json").stat().st_mtime_ns
    assert before == after
