from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from report_fixtures import XSS, make_audit, write_audit
from report_helpers import rows_by_source, soup_of, table_cells

from audit import paired_comparison
from reports import AuditFormatError, IncompatibleAuditsError, render_comparison
from reports._compare import NO_COMPARISON
from reports._compare_tables import ComparisonPage, paired_tables
from reports._compare_unpaired import unpaired_comparison


def _pair(tmp_path):
    a = make_audit()
    b = make_audit()
    b["model"]["name"] = "s2f-balanced"
    dis = b["tables"]["disparities"]
    dis[0]["flags"] = []  # Asian x en gap closes
    dis[0]["value"] = 0.47
    dis[4]["flags"] = ["significant"]  # 60+ gap opens
    b["tables"]["retrieval"][0]["value"] = 0.2
    return write_audit(tmp_path / "a", a), write_audit(tmp_path / "b", b)


def test_unpaired_comparison_side_by_side(tmp_path):
    pa, pb = _pair(tmp_path)
    comparison = paired_comparison(pa, pb)  # no evaluation.csv: the audit says why
    assert comparison.tables is None
    out = render_comparison(pa, pb, tmp_path / "cmp" / "compare.html", comparison=comparison)
    soup = soup_of(out)
    assert soup.find(id="unpaired-note") is not None
    note = soup.find(id="unpaired-note").get_text(" ", strip=True)
    assert "not a paired estimate" in note
    assert f"evaluation table (artifacts.evaluation) of {pa} and {pb} was not found" in note
    a = json.loads(pa.read_text("utf-8"))
    b = json.loads(pb.read_text("utf-8"))
    rows = rows_by_source(soup)
    cells = {0: rows[("unpaired_retrieval", 0)][0]}
    assert float(cells[0]["value_a"]["data-value"]) == a["tables"]["retrieval"][0]["value"]
    assert float(cells[0]["value_b"]["data-value"]) == b["tables"]["retrieval"][0]["value"]
    assert float(cells[0]["value_a"]["data-ci-low"]) == a["tables"]["retrieval"][0]["ci_low"]
    assert float(cells[0]["value_b"]["data-ci-high"]) == b["tables"]["retrieval"][0]["ci_high"]
    diff = float(cells[0]["difference_b_minus_a"]["data-value"])
    assert diff == b["tables"]["retrieval"][0]["value"] - a["tables"]["retrieval"][0]["value"]
    dis = {i: rows[("unpaired_disparities", i)][0] for i in range(5)}
    assert (
        float(dis[0]["difference_a"]["data-value"]) == a["tables"]["disparities"][0]["difference"]
    )
    assert (
        float(dis[0]["difference_b"]["data-ci-low"]) == b["tables"]["disparities"][0]["diff_ci_low"]
    )
    assert dis[0]["gap_status"]["text"] == "closed"
    assert dis[4]["gap_status"]["text"] == "opened"
    assert dis[1]["gap_status"]["text"] == "persists"
    assert dis[2]["gap_status"]["text"] == "insufficient data"
    opened = soup.find("ul", class_="changes-opened").get_text(" ", strip=True)
    closed = soup.find("ul", class_="changes-closed").get_text(" ", strip=True)
    assert "age_group=60+" in opened and "ethnicity=Asian × language=en" in closed
    # escaped group name
    assert XSS in soup.get_text() and soup.find("img", attrs={"src": "x"}) is None
    # exports
    exported = json.loads((out.parent / "compare_files" / "unpaired_retrieval.json").read_text())
    assert exported[0]["value_b"] == 0.2


def test_unpaired_when_no_comparison_is_passed(tmp_path):
    pa, pb = _pair(tmp_path)
    for path in (pa, pb):  # evaluation tables exist, but the renderer never computes
        (path.parent / "evaluation.csv").write_text("utterance_id\n", encoding="utf-8")
    soup = soup_of(render_comparison(pa, pb, tmp_path / "c.html"))
    assert NO_COMPARISON in soup.find(id="unpaired-note").get_text()
    assert "audit.paired_comparison" in NO_COMPARISON


def test_compare_modules_never_import_audit():
    """The renderer only renders: no compare module imports audit (nor through importlib)."""
    import ast
    from pathlib import Path

    import reports

    files = sorted(Path(reports.__file__).parent.glob("_compare*.py"))
    assert len(files) >= 5
    for file in files:
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] in ("audit", "importlib") for n in names), (file, names)


def test_unpaired_matches_records_by_identity():
    a = [
        {"metric": "m", "group": {"g": "x"}, "value": 0.5, "n_utterances": 10},
        {"metric": "m", "group": {"g": "y"}, "value": 0.25},
    ]
    b = [
        {"metric": "m", "group": {"g": "y"}, "value": 0.5},
        {"metric": "m", "group": {"g": "z"}, "value": 0.1},
    ]
    rows = unpaired_comparison(a, b)
    assert [r["group"] for r in rows] == [{"g": "x"}, {"g": "y"}, {"g": "z"}]
    assert rows[0]["gap_status"] == "only in A" and math.isnan(rows[0]["value_b"])
    assert rows[1]["difference_b_minus_a"] == 0.25
    assert rows[2]["gap_status"] == "only in B"


def test_refuses_different_rows(tmp_path):
    pa = write_audit(tmp_path / "a", make_audit(row_ids="ab" * 32))
    pb = write_audit(tmp_path / "b", make_audit(row_ids="cd" * 32))
    with pytest.raises(IncompatibleAuditsError, match=r"different evaluation rows.*abab.*cdcd"):
        render_comparison(pa, pb, tmp_path / "c.html")
    assert not (tmp_path / "c.html").exists()


def test_refuses_missing_row_ids(tmp_path):
    b = make_audit()
    del b["data"]["row_ids_sha256"]
    with pytest.raises(IncompatibleAuditsError, match=r"has no data.row_ids_sha256"):
        render_comparison(make_audit(), b, tmp_path / "c.html")


def test_refuses_different_label_sets(tmp_path):
    b = make_audit()
    b["data"]["vocabularies"]["ethnicity"] = ["Asian", "Black", "Other", "White"]
    with pytest.raises(IncompatibleAuditsError, match=r"incompatible label vocabularies"):
        render_comparison(make_audit(), b, tmp_path / "c.html")


def test_paired_results_from_audit_are_rendered(tmp_path):
    frame = pd.DataFrame(
        {
            "metric": ["ethnicity_agreement"],
            "attribute": ["overall"],
            "value_a": [0.61],
            "value_b": [0.66],
            "difference": [0.05],
            "diff_ci_low": [0.01],
            "diff_ci_high": [0.09],
            "p_value": [0.012],
        }
    )
    pa, pb = _pair(tmp_path)
    out = render_comparison(pa, pb, tmp_path / "p.html", comparison={"headline": frame})
    soup = soup_of(out)
    assert soup.find(id="paired-note") is not None and soup.find(id="unpaired-note") is None
    cells = table_cells(soup, "paired_headline")
    assert float(cells[0]["difference"]["data-value"]) == 0.05
    assert float(cells[0]["difference"]["data-ci-low"]) == 0.01
    assert cells[0]["difference"]["text"] == "0.050 [0.010, 0.090]"


@pytest.mark.parametrize(
    ("comparison", "message"),
    [
        (42, r"comparison is a int; expected a mapping"),
        ({"paired": 42}, r"comparison table 'paired' is a int; expected a DataFrame"),
    ],
)
def test_comparison_of_wrong_type_is_an_error(tmp_path, comparison, message):
    pa, pb = _pair(tmp_path)
    with pytest.raises(AuditFormatError, match=message):
        render_comparison(pa, pb, tmp_path / "c.html", comparison=comparison)
    assert not (tmp_path / "c.html").exists()


def test_unknown_layout_option_is_refused(tmp_path):
    pa, pb = _pair(tmp_path)
    with pytest.raises(TypeError, match=r"unexpected option\(s\) \['compare_options'\]"):
        render_comparison(pa, pb, tmp_path / "c.html", compare_options={"n_boot": 7})


def _gap(metric: str, **keys: str) -> dict:
    return {"metric": metric, "target": "gender", "label": None, "group": {"gender": "f"}, **keys}


def test_paired_tables_are_placed_by_the_records_section_key() -> None:
    # the keys disagree with the version-1 metric rule (agreement -> agreement, ece ->
    # calibration): the page follows the keys, so ece comes first
    keyed = ComparisonPage(focus=[], max_rows=10)
    paired_tables(
        keyed,
        {"paired": [_gap("agreement", section="calibration"), _gap("ece", section="agreement")]},
    )
    assert [t.name for t in keyed.tables()] == ["paired__ece__gender", "paired__agreement__gender"]
    # a comparison saved before records carried section: the version-1 rule
    legacy = ComparisonPage(focus=[], max_rows=10)
    paired_tables(legacy, {"paired": [_gap("ece"), _gap("agreement")]})
    assert [t.name for t in legacy.tables()] == ["paired__agreement__gender", "paired__ece__gender"]
