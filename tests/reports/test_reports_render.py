from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest
from report_fixtures import XSS, make_audit, write_audit
from report_helpers import check_record, rows_by_source, same_number, soup_of, table_cells

from reports import AuditFormatError, load_audit, render_report

SECTIONS = (
    "title",
    "summary",
    "composition",
    "confusion",
    "agreement",
    "disparities",
    "retrieval",
    "similarity",
    "craniofacial",
    "pitch",
    "calibration",
    "samples",
    "model-card",
    "data-card",
    "limitations",
    "methods",
)


@pytest.fixture
def rendered(tmp_path, audit_path):
    out = render_report(audit_path, tmp_path / "out" / "report.html", command="s2f-audit report")
    return out, json.loads(audit_path.read_text(encoding="utf-8"))


def test_every_section_present(rendered):
    out, _ = rendered
    soup = soup_of(out)
    present = {el["data-section"] for el in soup.find_all(attrs={"data-section": True})}
    assert set(SECTIONS) <= present
    # every section has a heading with text
    for section in SECTIONS:
        node = soup.find(attrs={"data-section": section})
        assert node.find(["h1", "h2"]).get_text(strip=True)


def test_numbers_in_html_equal_audit_json(rendered):
    out, audit = rendered
    rows = rows_by_source(soup_of(out))
    checked = 0
    for name, records in audit["tables"].items():
        if name == "confusion":
            continue  # shown as heatmaps, checked below
        for i, record in enumerate(records):
            assert (name, i) in rows, (name, i)
            for cells in rows[(name, i)]:
                checked += check_record(cells, record)
    assert checked > 100


def _row(out, table, index):
    return rows_by_source(soup_of(out))[(table, index)][0]


def test_displayed_text_matches_values(rendered):
    out, audit = rendered
    cells = _row(out, "retrieval", 0)
    record = audit["tables"]["retrieval"][0]
    assert cells["value"]["text"] == (
        f"{record['value']:.3f} [{record['ci_low']:.3f}, {record['ci_high']:.3f}]"
    )
    assert cells["gallery_size"]["text"] == "100"
    assert cells["chance"]["data-value"] == repr(record["chance"])
    # NaN shows as a dash, never as 0
    assert _row(out, "disparities", 3)["value"]["text"] == "—"


def test_heatmaps_show_rate_and_n_on_every_cell(rendered):
    out, audit = rendered
    soup = soup_of(out)
    maps = soup.find_all("table", attrs={"data-heatmap": True})
    assert {m["data-heatmap"] for m in maps} == {"ethnicity|all", "ethnicity|language=en"}
    by_key = {}
    for m in maps:
        for td in m.find_all("td", attrs={"data-true": True}):
            by_key[(m["data-heatmap"], td["data-true"], td["data-pred"])] = td
    records = audit["tables"]["confusion"]
    assert len(by_key) == len(records) == 32
    for r in records:
        group = "all" if not r["group"] else "language=en"
        td = by_key[(f"ethnicity|{group}", r["true_label"], r["predicted_label"])]
        assert int(td["data-n"]) == r["n"]
        assert f"n={r['n']}" in td.get_text()
        assert same_number(td["data-rate"], r["rate"])
    # the empty class row (Indian) is hatched "no data", not 0%
    empty = by_key[("ethnicity|all", "Indian", "Indian")]
    assert "nodata" in empty["class"] and empty.get_text().startswith("—")


def test_findings_ranked_and_exclude_insufficient(rendered):
    out, _ = rendered
    soup = soup_of(out)
    items = soup.find("ol", id="findings").find_all("li")
    texts = [li.get_text(" ", strip=True) for li in items]
    assert len(texts) == 2  # two significant rows with enough data
    # smallest adjusted p first (0.0021 before 0.004)
    assert texts[0].startswith("ethnicity=Asian × language=en: judged Asian rate 31.0%")
    assert "(95% CI 25.0% to 37.0%, n = 120 utterances from 24 speakers)" in texts[0]
    assert "versus 53.0% for ethnicity=Asian × language=zh" in texts[0]
    assert "adjusted p 0.002" in texts[0]
    assert texts[1].startswith("gender=female")
    assert all("en-029" not in t for t in texts)  # significant but insufficient data
    held = soup.find(id="held-back").get_text(" ", strip=True)
    assert "accent=en-029" in held
    row = _row(out, "disparities", 2)
    tr = soup.find("tr", attrs={"data-source": "disparities", "data-row": "2"})
    assert "insufficient" in tr["class"] and "significant" not in tr["class"]
    assert "not a finding" in row["flags"]["text"]


def test_group_names_are_escaped(rendered):
    out, _ = rendered
    html = out.read_text(encoding="utf-8")
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    soup = soup_of(out)
    assert soup.find("img", attrs={"src": "x"}) is None
    assert soup.find("script") is None
    assert XSS in soup.get_text()


def test_self_contained_no_external_references(rendered):
    out, _ = rendered
    soup = soup_of(out)
    for tag in soup.find_all(["img", "link", "script", "iframe", "object", "embed", "source"]):
        src = tag.get("src") or tag.get("href") or tag.get("data") or ""
        assert src.startswith("data:"), tag
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:|//)", html)
    assert "@import" not in html and "url(" not in html.replace("data:", "")
    csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert "default-src 'none'" in csp


def test_exports_hold_every_table(rendered):
    out, audit = rendered
    files = out.parent / "report_files"
    for name, records in audit["tables"].items():
        exported = json.loads((files / f"{name}.json").read_text(encoding="utf-8"))
        assert len(exported) == len(records)
        for got, want in zip(exported, records, strict=True):
            for key, value in want.items():
                if isinstance(value, float) and math.isnan(value):
                    assert got[key] is None
                else:
                    assert got[key] == value
        with open(files / f"{name}.csv", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == len(records)
    with open(files / "disparities.csv", encoding="utf-8", newline="") as fh:
        first = next(csv.DictReader(fh))
    assert first["group"] == "ethnicity=Asian; language=en"
    assert float(first["value"]) == audit["tables"]["disparities"][0]["value"]
    findings = json.loads((files / "findings.json").read_text(encoding="utf-8"))
    assert [f["rank"] for f in findings] == [1, 2]


def test_missing_table_says_not_measured(tmp_path):
    audit = make_audit()
    del audit["tables"]["pitch"], audit["tables"]["craniofacial"]
    out = render_report(audit, tmp_path / "r.html")
    soup = soup_of(out)
    for section in ("pitch", "craniofacial"):
        text = soup.find(attrs={"data-section": section}).get_text(" ", strip=True)
        assert "Not measured in this audit" in text
    assert "Not measured" not in soup.find(attrs={"data-section": "retrieval"}).get_text()


def test_unknown_tables_are_still_shown(rendered):
    out, _ = rendered
    soup = soup_of(out)
    other = soup.find(attrs={"data-section": "other-tables"})
    assert other.find("table", attrs={"data-table": "mystery_table"}) is not None


def test_faces_of_real_data_only_with_include_faces(tmp_path):
    audit = make_audit()
    audit["data"]["source"] = "voxceleb1"
    path = write_audit(tmp_path / "real", audit)
    soup = soup_of(render_report(path, tmp_path / "a.html"))
    samples = soup.find(attrs={"data-section": "samples"})
    assert samples.find("img") is None
    assert "--include-faces" in samples.get_text()
    soup = soup_of(render_report(path, tmp_path / "b.html", include_faces=True))
    imgs = soup.find(attrs={"data-section": "samples"}).find_all("img")
    assert len(imgs) == 6 and all(i["src"].startswith("data:image/png;base64,") for i in imgs)


def test_builtin_population_faces_shown(rendered):
    out, _ = rendered
    samples = soup_of(out).find(attrs={"data-section": "samples"})
    assert len(samples.find_all("img")) == 6
    text = samples.get_text(" ", strip=True)
    assert "ethnicity=Asian" in text and "true face | reconstruction | upper bound" in text


def test_sample_outside_audit_folder_refused(tmp_path):
    audit = make_audit()
    path = write_audit(tmp_path / "a", audit)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["artifacts"]["samples"][0]["true_face"] = "../../etc/passwd"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(AuditFormatError, match=r"outside the audit folder"):
        render_report(path, tmp_path / "r.html")


def test_model_card_and_title_block(rendered):
    out, audit = rendered
    soup = soup_of(out)
    card = soup.find(attrs={"data-section": "model-card"}).get_text(" ", strip=True)
    assert "identifying people" in card.lower() and "suspects" in card
    title = soup.find(attrs={"data-section": "title"}).get_text(" ", strip=True)
    assert audit["command"] in title and audit["model"]["sha256"] in title
    assert soup.find(id="report-command").get_text() == "s2f-audit report"
    methods = soup.find(attrs={"data-section": "methods"}).get_text(" ", strip=True)
    assert "holm" in methods and "1000" in methods


def test_deterministic(tmp_path, audit_path):
    a = render_report(audit_path, tmp_path / "one" / "r.html").read_bytes()
    b = render_report(audit_path, tmp_path / "two" / "r.html").read_bytes()
    assert a == b


def test_max_rows_truncates_html_not_exports(tmp_path):
    audit = make_audit()
    out = render_report(audit, tmp_path / "r.html", max_rows=2)
    cells = table_cells(soup_of(out), "disparities__gender_agreement")
    assert sorted(cells) == [1, 2]  # rows 1-4 of the audit table are gender agreement
    note = soup_of(out).find("p", attrs={"data-export": "disparities__gender_agreement"})
    assert note["data-not-shown"] == "2"
    assert note.get_text().startswith("2 of 4 rows are not shown here (2 past the first 2 rows")
    assert "disparities__gender_agreement.csv" in note.get_text()
    exported = json.loads((tmp_path / "r_files" / "disparities.json").read_text("utf-8"))
    assert len(exported) == 5
    part = json.loads(
        (tmp_path / "r_files" / "disparities__gender_agreement.json").read_text("utf-8")
    )
    assert len(part) == 4


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", r"not valid JSON \(line 1, column 2"),
        ('{"tables": {}}', r"missing key\(s\) schema_version"),
        ('{"schema_version": 9, "tables": {}}', r"schema_version 9 is not supported"),
        ('{"schema_version": 1, "tables": {"t": {}}}', r"table 't' must be a list of records"),
        ('{"schema_version": 1, "tables": {"t": [1]}}', r"table 't' record 0 must be an object"),
    ],
)
def test_bad_audit_files(tmp_path, content, match):
    path = tmp_path / "audit.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AuditFormatError, match=match) as info:
        load_audit(path)
    assert str(path) in str(info.value)


def test_missing_audit_file(tmp_path):
    with pytest.raises(AuditFormatError, match=r"no such audit file"):
        render_report(tmp_path / "nope.json", tmp_path / "r.html")


def test_audit_folder_accepted(tmp_path, audit_path):
    loaded = load_audit(Path(audit_path).parent)
    assert loaded.folder == audit_path.parent


def test_no_significant_gap_is_said_not_hidden(tmp_path):
    audit = make_audit()
    for records in audit["tables"].values():
        for record in records:
            if "flags" in record:
                record["flags"] = [f for f in record["flags"] if f != "significant"]
    soup = soup_of(render_report(audit, tmp_path / "r.html"))
    assert soup.find(id="no-findings") is not None
    section = soup.find(attrs={"data-section": "disparities"}).get_text(" ", strip=True)
    assert "No gap was flagged significant" in section
    assert "Not measured" not in section


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, reports; print(sorted({'pandas', 'torch', 'matplotlib'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _one_gap_audit(version: int, **keys) -> dict:
    record = {
        "metric": "macro_recall",
        "target": "ethnicity",
        "attribute": "language",
        "group": {"language": "ar"},
        "n_utterances": 40,
        "n_speakers": 12,
        "value": 0.9,
        "ci_low": 0.8,
        "ci_high": 0.95,
        "reference": "overall",
        "difference": 0.7,
        "p_adjusted": 0.001,
        "flags": ["significant", "single_class"],
        **keys,
    }
    return {"schema_version": version, "tables": {"metrics": [record]}}


def test_v1_single_class_groups_are_held_back(tmp_path) -> None:
    """A version-1 audit gets the version-1 findings policy (reports._v1)."""
    loaded = load_audit(_one_gap_audit(1))
    record = loaded.tables["metrics"][0]
    assert record["held_back_reason"] == "one true class in the group"
    assert record["finding"] is False and record["section"] == "agreement"
    soup = soup_of(render_report(_one_gap_audit(1), tmp_path / "r.html"))
    held = soup.find(id="held-back")
    assert "one true class in the group" in held.get_text(" ")
    assert soup.find(id="no-findings") is not None
    plain = _one_gap_audit(1, flags=["significant"])
    assert load_audit(plain).tables["metrics"][0]["held_back_reason"] == ""


def test_long_held_back_list_starts_collapsed(tmp_path) -> None:
    """Up to 10 held-back gaps are shown open; more start folded so the findings stay in view."""

    def audit(n: int) -> dict:
        records = [
            _one_gap_audit(2, section="agreement", finding=False, held_back_reason="made up")[
                "tables"
            ]["metrics"][0]
            | {"group": {"language": f"l{i}"}}
            for i in range(n)
        ]
        return {"schema_version": 2, "tables": {"metrics": records}}

    short = soup_of(render_report(audit(10), tmp_path / "short.html")).find(id="held-back")
    long = soup_of(render_report(audit(11), tmp_path / "long.html")).find(id="held-back")
    assert short.name == long.name == "details"
    assert short.has_attr("open") and not long.has_attr("open")
    assert "11 gap(s) flagged significant are held back" in long.summary.get_text(" ")
    assert len(long.find_all("li")) == 11


def test_v2_shows_the_audits_decision(tmp_path) -> None:
    """A version-2 audit's ``held_back_reason`` is shown as written; the renderer decides none."""
    audit = _one_gap_audit(2, section="agreement", finding=False, held_back_reason="made up")
    soup = soup_of(render_report(audit, tmp_path / "r.html"))
    assert "made up" in soup.find(id="held-back").get_text(" ")
    audit = _one_gap_audit(2, section="agreement", finding=True, held_back_reason="")
    soup = soup_of(render_report(audit, tmp_path / "s.html"))
    assert soup.find(id="held-back") is None
    assert len(soup.find(id="findings").find_all("li")) == 1


@pytest.mark.parametrize("version", [1, 2])
def test_an_empty_table_of_no_section_is_listed_under_other_tables(tmp_path, version) -> None:
    audit = {"schema_version": version, "tables": {"errors": [], "groups": []}}
    if version == 2:
        audit["table_sections"] = {"errors": None, "groups": "composition"}
    soup = soup_of(render_report(audit, tmp_path / "r.html"))
    other = soup.find(attrs={"data-section": "other-tables"})
    assert other is not None and other.find("table", attrs={"data-table": "errors"}) is not None
    assert other.find("table", attrs={"data-table": "groups"}) is None


@pytest.mark.parametrize(("finished", "shown"), [(True, False), (False, True)])
def test_model_card_shows_the_step_only_of_an_unfinished_run(tmp_path, finished, shown) -> None:
    """A finished run's step counter is its "done" stage's 0, which says nothing: not shown."""
    audit = make_audit(xss=False)
    audit["model"] |= {"training_stage": "done" if finished else "voice", "training_step": 0}
    audit["model"]["finished"] = finished
    soup = soup_of(render_report(write_audit(tmp_path, audit), tmp_path / "r.html"))
    fields = soup.find(id="model-card").get_text(" ", strip=True)
    assert "training_stage" in fields
    assert ("training_step" in fields) is shown
    assert (soup.find(id="model-unfinished") is not None) is not finished


@pytest.mark.parametrize("mdd", [None, float("nan")])
def test_no_evidence_without_a_detectable_size_is_worded_not_a_crash(mdd) -> None:
    """A focus group with no minimum detectable difference (JSON null) crashed the report."""
    from reports._summary import verdict_sentence

    text = verdict_sentence("no_evidence", mdd, True)
    assert text == "No evidence; the size of a detectable gap is unknown"
    assert verdict_sentence("no_evidence", 0.2, True).endswith(
        "20.0 points could not have been detected"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"[" * 100_000, "nested too deeply"), (b'{"a": "\xff"}', "not UTF-8 text")],
)
def test_loader_names_the_file_of_json_it_cannot_read(tmp_path, content, message) -> None:
    """A RecursionError or UnicodeDecodeError left the loader without the file's name."""
    path = tmp_path / "audit.json"
    path.write_bytes(content)
    with pytest.raises(AuditFormatError, match=message) as err:
        load_audit(path)
    assert str(path) in str(err.value)
