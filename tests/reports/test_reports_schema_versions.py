"""audit.json schema 1 still renders, exactly as schema 2 does (tests/fixtures/audit_small*.json).

Both fixtures come from the same code and seed; version 2 only adds the keys that say what a
record is. The renderer reads those keys, and derives them for a version-1 file
(reports._v1), so both files give the same page and the same exports, byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports import AuditFormatError, load_audit, render_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: Keys version 2 adds to records (audit/_records.py).
ADDED = {
    "section",
    "base_metric",
    "input_seconds",
    "baseline_seconds",
    "finding",
    "held_back_reason",
}


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_version_1_and_2_render_the_same_page_and_exports(tmp_path: Path) -> None:
    pages = {}
    for name in ("audit_small_v1.json", "audit_small.json"):
        out = tmp_path / name.removesuffix(".json")
        render_report(FIXTURES / name, out / "report.html", max_rows=30, focus=())
        pages[name] = _files(out)
    v1, v2 = pages.values()
    assert sorted(v1) == sorted(v2)
    assert [k for k in v1 if v1[k] != v2[k]] == []
    metrics = json.loads(v2["report_files/metrics.json"])
    assert {r["section"] for r in metrics} >= {"agreement", "retrieval", "similarity"}


def test_version_1_records_get_the_version_2_keys() -> None:
    v1 = load_audit(FIXTURES / "audit_small_v1.json")
    v2 = json.loads((FIXTURES / "audit_small.json").read_text(encoding="utf-8"))
    assert v1.audit["schema_version"] == 1
    assert v1.table_sections == v2["table_sections"]
    for name, records in v2["tables"].items():
        assert v1.tables[name] == records, name
    raw = json.loads((FIXTURES / "audit_small_v1.json").read_text(encoding="utf-8"))
    assert all(not ADDED & set(r) for r in raw["tables"]["metrics"])  # the file is version 1


def test_v1_input_length_durations_are_read_from_the_metric_name() -> None:
    record = {"metric": "recall@5 (6 s - 3 s)", "target": "input_length", "difference": 0.1}
    loaded = load_audit({"schema_version": 1, "tables": {"metrics": [record]}})
    got = loaded.tables["metrics"][0]
    assert (got["section"], got["base_metric"], got["input_seconds"], got["baseline_seconds"]) == (
        "input_length",
        "recall@5",
        6.0,
        3.0,
    )
    assert record.keys() == {"metric", "target", "difference"}  # the input is not changed


@pytest.mark.parametrize("version", [0, 3, "2", True])
def test_unknown_versions_are_refused(version) -> None:
    with pytest.raises(AuditFormatError, match="is not supported by this renderer"):
        load_audit({"schema_version": version, "tables": {}})
