"""Render the audit engine's own small audit (tests/fixtures/audit_small.json)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from report_helpers import (
    check_record,
    column_cells,
    rows_by_source,
    same_number,
    soup_of,
    table_cells,
)

from reports import IncompatibleAuditsError, render_comparison, render_report

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "audit_small.json"
MEASURED = (
    "composition",
    "confusion",
    "agreement",
    "disparities",
    "retrieval",
    "similarity",
    "craniofacial",
    "pitch",
    "calibration",
)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    out = render_report(FIXTURE, tmp_path_factory.mktemp("real") / "report.html")
    return out, json.loads(FIXTURE.read_text(encoding="utf-8")), soup_of(out)


@pytest.fixture(scope="module")
def real_rows(real):
    return rows_by_source(real[2])


def test_all_sections_measured(real):
    _, _, soup = real
    for section in MEASURED:
        node = soup.find(attrs={"data-section": section})
        assert node is not None, section
        assert "Not measured in this audit" not in node.get_text(), section


#: The fixture audit's focus questions (its settings and ``focus`` table), shown in full.
FOCUS = ({"language", "ethnicity"}, {"gender", "age_group"})


def _shown_by_default(record, bucket) -> bool:
    """Independent statement of the row rule with the audit's focus questions.

    Overall and single-attribute groups, groups of the focus intersections and other
    intersections flagged significant* are shown; a table of intersections only is shown
    whole.
    """
    keys = set(record.get("group") or {})
    if len(keys) <= 1 or keys in FOCUS:
        return True
    if any(f.startswith("significant") for f in record["flags"]):
        return True
    return all(len(r.get("group") or {}) > 1 for r in bucket)


def test_rows_shown_follow_the_focus_and_the_rest_are_counted(real, real_rows):
    out, audit, soup = real
    rows = real_rows
    checked = left_out = 0
    left_by_table: dict[str, int] = {}
    for name, records in audit["tables"].items():
        if name in ("confusion", "confusion_judge_corrected", "focus", "focus_groups", "summary"):
            continue  # heatmaps; the executive summary (tests/reports/test_reports_summary.py)
        buckets: dict = {}
        for record in records:
            buckets.setdefault(
                (record.get("metric"), record.get("target"), record.get("label")), []
            )
            buckets[(record.get("metric"), record.get("target"), record.get("label"))].append(
                record
            )
        for i, record in enumerate(records):
            bucket = buckets[(record.get("metric"), record.get("target"), record.get("label"))]
            if _shown_by_default(record, bucket):
                assert (name, i) in rows, (name, i)
                for cells in rows[(name, i)]:
                    checked += check_record(cells, record)
            else:
                assert (name, i) not in rows, (name, i, record["group"])
                left_out += 1
                left_by_table[name] = left_by_table.get(name, 0) + 1
    assert checked > 2000 and left_out > 500
    # the notes under the tables count exactly the rows left out, and name exports holding them
    files = out.parent / "report_files"
    noted: dict[str, int] = {}
    for note in soup.find_all("p", class_="truncated"):
        table = note.find_previous("table", class_="data")
        assert table["data-table"] == note["data-export"]
        count = int(note["data-not-shown"])
        assert note.get_text().startswith(f"{count} of ")
        assert f"{note['data-export']}.csv" in note.get_text()
        shown = len(table.find("tbody").find_all("tr"))
        exported = json.loads((files / f"{note['data-export']}.json").read_text("utf-8"))
        assert len(exported) == shown + count
        noted[table["data-source"]] = noted.get(table["data-source"], 0) + count
    assert noted == left_by_table


def test_numbers_match_audit_reader(real_rows):
    """Independent path: audit.read_audit's DataFrame against the HTML cells."""
    from audit import read_audit

    frame = read_audit(FIXTURE).tables["metrics"]
    rows = real_rows
    compared = 0
    for i, value in enumerate(frame["value"]):
        if ("metrics", i) not in rows:
            continue  # outside the focus: checked by the test above
        compared += 1
        cell = rows[("metrics", i)][0]["value"]
        if math.isnan(value):
            assert cell["text"] == "—"
        else:
            assert float(cell["data-value"]) == value
    assert compared > 500


def test_confusion_heatmaps_carry_every_populated_cell(real):
    _, audit, soup = real
    cells = {
        int(td["data-row"]): td
        for td in soup.find_all("td", attrs={"data-source": "confusion"})
        if td["data-row"] != ""
    }
    records = audit["tables"]["confusion"]
    groups_with_data = {
        (r["target"], r["group_label"]) for r in records if "empty" not in r["flags"]
    }
    outside = set()
    shown = 0
    for i, r in enumerate(records):
        keys = set(r["group"])
        if len(keys) > 1 and keys not in FOCUS:  # outside the focus
            assert i not in cells
            outside.add((r["metric"], r["target"], r["group_label"]))
            continue
        if (r["target"], r["group_label"]) not in groups_with_data:
            assert i not in cells
            continue
        td = cells[i]
        assert int(td["data-n"]) == r["count"]
        assert f"n={r['count']}" in td.get_text()
        assert same_number(td["data-rate"] or "nan", r["value"])
        assert td["data-true"] == r["true_label"] and td["data-pred"] == r["pred_label"]
        shown += 1
    assert shown > 500
    # the judge-corrected matrices (same layout) are left out by the same rule
    corrected = {
        (r["metric"], r["target"], r["group_label"])
        for r in audit["tables"].get("confusion_judge_corrected", [])
        if len(r["group"]) > 1 and set(r["group"]) not in FOCUS
    }
    assert int(soup.find(id="heatmaps-outside")["data-not-shown"]) == len(outside) + len(corrected)
    assert len(outside) > 0


def test_findings_are_significant_sufficient_and_ranked(real):
    _, audit, soup = real
    items = soup.find("ol", id="findings").find_all("li")
    records = [audit["tables"][li["data-table"]][int(li["data-row"])] for li in items]
    assert records
    for record in records:
        assert "significant" in record["flags"]
        assert "insufficient_data" not in record["flags"] and "empty" not in record["flags"]
    # ranked by adjusted p (smallest first), ties by the larger |difference|
    keys = [(r["p_adjusted"], -abs(r["difference"])) for r in records]
    assert keys == sorted(keys)
    # an upper-bound gap of a listed reconstruction gap is context in its sentence, not a row
    listed = {(r["metric"], r["target"], r["label"], r["group_label"]) for r in records}
    for r in records:
        if r["metric"].startswith("upper_"):
            assert (r["metric"][6:], r["target"], r["label"], r["group_label"]) not in listed
    # independent count: significant, sufficient, not kappa/macro recall within its own attribute
    expected = [
        r
        for r in audit["tables"]["metrics"] + audit["tables"]["craniofacial"]
        if "significant" in r["flags"]
        and not {"insufficient_data", "empty"} & set(r["flags"])
        and r.get("difference") is not None
        and not (
            r["metric"].removeprefix("upper_") in {"kappa", "macro_recall"}
            and r["target"] in r["group"]
        )
    ]
    identities = {(r["metric"], r["target"], r["label"], r["group_label"]) for r in expected}
    merged = [
        r
        for r in expected
        if r["metric"].startswith("upper_")
        and (r["metric"][6:], r["target"], r["label"], r["group_label"]) in identities
    ]
    assert len(records) == len(expected) - len(merged)
    held = soup.find(id="held-back").get_text(" ", strip=True)
    assert "gender=female: kappa (gender)" in held and "group fixes the judged attribute" in held


def test_retrieval_shows_gallery_and_chance(real):
    _, audit, soup = real
    section = soup.find(attrs={"data-section": "retrieval"})
    first = next(r for r in audit["tables"]["metrics"] if r["metric"] == "recall@1")
    name = section.find("table", class_="data")["data-table"]
    row = next(iter(table_cells(section, name).values()))
    gallery, chance = row["gallery_size"], row["chance"]
    assert gallery["text"] == "100" and float(gallery["data-value"]) == first["gallery_size"]
    assert float(chance["data-value"]) == first["chance"]


def test_exports_cover_each_table(real):
    out, audit, _ = real
    files = out.parent / "report_files"
    for name, records in audit["tables"].items():
        assert len(json.loads((files / f"{name}.json").read_text("utf-8"))) == len(records)
    parts = sorted(files.glob("metrics__*.json"))
    assert sum(len(json.loads(p.read_text("utf-8"))) for p in parts) == len(
        audit["tables"]["metrics"]
    )


def test_comparison_of_real_audits(tmp_path):
    other = json.loads(FIXTURE.read_text(encoding="utf-8"))
    out = render_comparison(FIXTURE, copy.deepcopy(other), tmp_path / "c.html", max_rows=30)
    soup = soup_of(out)
    diffs = [float(td["data-value"]) for td in column_cells(soup, "difference_b_minus_a")]
    assert len(diffs) > 500
    assert all(d == 0.0 or math.isnan(d) for d in diffs)
    assert any(d == 0.0 for d in diffs)
    # headline metrics come first: the first table is agreement
    first = soup.find("table", class_="data")
    assert first["data-table"].startswith("unpaired_metrics__agreement")
    other["data"]["row_ids_sha256"] = "0" * 64
    with pytest.raises(IncompatibleAuditsError, match="different evaluation rows"):
        render_comparison(FIXTURE, other, tmp_path / "d.html")
    other = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for r in other["tables"]["confusion"]:
        if r["target"] == "ethnicity" and r["pred_label"] == "Indian":
            r["pred_label"] = "South Asian"
    with pytest.raises(IncompatibleAuditsError, match="incompatible label vocabularies"):
        render_comparison(FIXTURE, other, tmp_path / "e.html")


@pytest.mark.slow  # the paired bootstrap of audit.compare_audits takes 20-60 s here
def test_paired_comparison_numbers_equal_compare_audits(tmp_path):
    from audit import compare_audits

    captured = compare_audits(FIXTURE, FIXTURE, n_boot=20)
    out = render_comparison(FIXTURE, FIXTURE, tmp_path / "p.html", comparison=captured)
    soup = soup_of(out)
    assert soup.find(id="paired-note") is not None
    rows = rows_by_source(soup)
    checked = 0
    for name, frame in captured.items():
        for i, record in enumerate(frame.to_dict(orient="records")):
            key = ("paired" if name == "paired" else f"paired_{name}", i)
            if key not in rows:
                continue  # beyond max_rows of its table; all rows are in the export
            for cells in rows[key]:
                numbers = {
                    k: v
                    for k, v in record.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }
                checked += check_record(cells, numbers)
    assert checked > 3000
    exported = json.loads((tmp_path / "p_files" / "paired.json").read_text("utf-8"))
    assert len(exported) == len(captured["paired"])
