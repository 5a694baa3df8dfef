"""Rows shown per table (focus intersections), degenerate intervals and the findings' order."""

from __future__ import annotations

import json
import math

import pytest
from report_fixtures import make_audit
from report_helpers import soup_of, table_cells

from reports import render_report

NAN = float("nan")


def _record(group, n, value, *, flags=(), metric="agreement", **extra):
    record = {
        "metric": metric,
        "target": "gender",
        "label": None,
        "attribute": " x ".join(group) if group else "overall",
        "group": group,
        "group_label": " x ".join(f"{k}={v}" for k, v in group.items()) or "all",
        "n_utterances": n,
        "n_speakers": n // 3,
        "value": value,
        "ci_low": value - 0.05 if value == value else NAN,
        "ci_high": value + 0.05 if value == value else NAN,
        "reference": "overall",
        "difference": value - 0.8 if value == value else NAN,
        "diff_ci_low": value - 0.9 if value == value else NAN,
        "diff_ci_high": value - 0.7 if value == value else NAN,
        "p_value": 0.5,
        "p_adjusted": 1.0,
        "flags": list(flags),
    }
    record.update(extra)
    return record


def _metrics():
    """One metric, 9 records: overall, 2 single, 3 language x ethnicity, 3 accent x gender."""
    return [
        _record({}, 600, 0.8, reference=None, difference=None, diff_ci_low=None,
                diff_ci_high=None),
        _record({"gender": "female"}, 300, 0.82),
        _record({"gender": "male"}, 300, 0.78),
        _record({"language": "en", "ethnicity": "Asian"}, 90, 0.55),
        _record({"language": "zh", "ethnicity": "Asian"}, 6, 0.5, flags=["insufficient_data"]),
        _record({"language": "ar", "ethnicity": "Asian"}, 0, NAN, flags=["empty"]),
        _record({"accent": "a", "gender": "female"}, 60, 0.81),
        _record({"accent": "b", "gender": "male"}, 60, 0.45, flags=["significant"],
                p_adjusted=0.01),
        _record({"accent": "b", "gender": "female"}, 60, 0.79),
    ]  # fmt: skip


def _audit(metrics):
    audit = make_audit(xss=False)
    audit["tables"] = {"metrics": metrics}
    return audit


def _shown(out, name="metrics"):
    return list(table_cells(soup_of(out), name))  # row indices in display order


def test_default_focus_rows_order_note_and_export(tmp_path):
    metrics = _metrics()
    out = render_report(_audit(metrics), tmp_path / "r.html")
    # overall, single attributes, language x ethnicity (insufficient and empty kept), then
    # the significant accent x gender row; rows 6 and 8 only in the export
    assert _shown(out) == [0, 1, 2, 3, 4, 5, 7]
    soup = soup_of(out)
    cells = table_cells(soup, "metrics")
    assert cells[5]["n_utterances"]["text"] == "0" and "empty" in cells[5]["flags"]["data-flags"]
    assert "insufficient_data" in cells[4]["flags"]["data-flags"]
    note = soup.find("p", class_="truncated")
    assert note["data-not-shown"] == "2" and note["data-export"] == "metrics"
    assert note.get_text().startswith("2 of 9 rows are not shown here")
    assert "language × ethnicity" in note.get_text() and "metrics.csv" in note.get_text()
    exported = json.loads((tmp_path / "r_files" / "metrics.json").read_text("utf-8"))
    assert [r["group"] for r in exported] == [r["group"] for r in metrics]
    assert "language × ethnicity" in soup.find(id="rows-shown").get_text()


def test_other_focus_and_no_focus(tmp_path):
    metrics = _metrics()
    out = render_report(_audit(metrics), tmp_path / "a.html", focus=[("gender", "accent")])
    assert _shown(out) == [0, 1, 2, 6, 7, 8]  # language x ethnicity left out (none significant)
    out = render_report(_audit(metrics), tmp_path / "b.html", focus=())
    assert _shown(out) == [0, 1, 2, 7]
    note = soup_of(out).find("p", class_="truncated")
    assert note["data-not-shown"] == "5"


def test_max_rows_still_caps_the_rows_shown(tmp_path):
    out = render_report(_audit(_metrics()), tmp_path / "r.html", max_rows=4)
    assert _shown(out) == [0, 1, 2, 3]
    note = soup_of(out).find("p", class_="truncated")
    assert note["data-not-shown"] == "5"  # 2 outside the focus + 3 past the cap
    assert "(2 of intersections other than language × ethnicity" in note.get_text()
    assert "3 past the first 4 rows shown" in note.get_text()


def test_table_of_intersections_only_is_shown_whole(tmp_path):
    metrics = [m for m in _metrics() if m["attribute"] == "accent x gender"]
    out = render_report(_audit(metrics), tmp_path / "r.html")
    assert _shown(out) == [0, 1, 2]
    assert soup_of(out).find("p", class_="truncated") is None


@pytest.mark.parametrize(
    ("focus", "match"),
    [
        ("language", r"got the string 'language'"),
        (["language", "ethnicity"], r"got the item 'language'"),
        ([("language",)], r"two or more different attributes, got \('language',\)"),
    ],
)
def test_bad_focus_is_refused(tmp_path, focus, match):
    with pytest.raises(ValueError, match=match):
        render_report(_audit(_metrics()), tmp_path / "r.html", focus=focus)


def test_degenerate_interval_is_said_not_shown_as_nan(tmp_path):
    metrics = _metrics()
    metrics[3].update(
        value=1.0,
        ci_low=NAN,
        ci_high=NAN,
        difference=0.2,
        diff_ci_low=NAN,
        diff_ci_high=NAN,
        p_adjusted=0.003,
        flags=["degenerate_ci", "significant"],
    )
    out = render_report(_audit(metrics), tmp_path / "r.html")
    soup = soup_of(out)
    cells = table_cells(soup, "metrics")[3]
    assert cells["value"]["text"] == "1.000 (no interval: no spread in the data)"
    assert cells["difference"]["text"] == "0.200 (no interval: no spread in the data)"
    assert math.isnan(float(cells["value"]["data-ci-low"]))
    finding = soup.find("ol", id="findings").find("li").get_text(" ", strip=True)
    assert "agreement 100.0% (no interval: no spread in the data, n = 90" in finding
    assert "difference +20.0 points (no interval: no spread in the data)" in finding
    assert "nan" not in finding.lower() and "CI — to —" not in finding
    methods = soup.find(attrs={"data-section": "methods"}).get_text(" ", strip=True)
    assert "degenerate_ci" in methods and "no spread in the data" in methods
    # without the flag, missing bounds stay a plain value (no claim about the data)
    metrics[3]["flags"] = ["significant"]
    out = render_report(_audit(metrics), tmp_path / "s.html")
    assert table_cells(soup_of(out), "metrics")[3]["value"]["text"] == "1.000"


def test_findings_ranked_by_adjusted_p_then_size_upper_bound_merged(tmp_path):
    """Hand-worked order.

    ========  ===========  ==========  =========
    record    metric       difference  p adj.
    ========  ===========  ==========  =========
    A         agreement    -0.30       0.02
    B         kappa        -0.05       0.001
    C         cos_sim      +0.10       0.02
    D         upper_agreement (A's group)  -0.20  0.004
    E         upper_kappa (no kappa finding for its group)  -0.15  0.03
    ========  ===========  ==========  =========

    By |difference| the order was A, D, E, C, B. By adjusted p then |difference|: B (0.001),
    A (0.02, 0.30), C (0.02, 0.10), E (0.03); D repeats A's group and metric for the upper
    bound, so it is folded into A's sentence instead of being listed.
    """
    group = {"language": "en", "ethnicity": "Asian"}
    other = {"age_group": "60+"}
    rows = [
        _record(group, 90, 0.5, flags=["significant"], p_adjusted=0.02),  # A
        _record(other, 300, 0.75, metric="kappa", flags=["significant"], p_adjusted=0.001),
        _record(other, 300, 0.9, metric="cos_sim", flags=["significant"], p_adjusted=0.02),
        _record(group, 90, 0.6, metric="upper_agreement", flags=["significant"],
                p_adjusted=0.004),
        _record(group, 90, 0.65, metric="upper_kappa", flags=["significant"], p_adjusted=0.03),
    ]  # fmt: skip
    for row in rows:
        row["difference"] = {0.5: -0.30, 0.75: -0.05, 0.9: 0.10, 0.6: -0.20, 0.65: -0.15}[
            row["value"]
        ]
    out = render_report(_audit(rows), tmp_path / "r.html")
    soup = soup_of(out)
    items = soup.find("ol", id="findings").find_all("li")
    assert [int(li["data-row"]) for li in items] == [1, 0, 2, 4]
    text_a = items[1].get_text(" ", strip=True)
    assert text_a.startswith("language=en x ethnicity=Asian: gender agreement 50.0%")
    assert text_a.endswith(
        "Upper bound (true face through the decoder): difference -20.0 points, adjusted p 0.004."
    )
    exported = json.loads((tmp_path / "r_files" / "findings.json").read_text("utf-8"))
    assert [(f["rank"], f["row"]) for f in exported] == [(1, 1), (2, 0), (3, 2), (4, 4)]
    # the table of every significant gap follows the same order and keeps row D
    gaps = soup.find("table", attrs={"data-table": "significant_gaps"})
    order = [int(tr["data-row"]) for tr in gaps.find("tbody").find_all("tr")]
    assert order == [1, 3, 0, 2, 4]


def test_comparison_follows_the_focus(tmp_path):
    from reports import render_comparison

    metrics = _metrics()
    out = render_comparison(_audit(metrics), _audit(metrics), tmp_path / "c.html")
    soup = soup_of(out)
    name = soup.find("table", class_="data")["data-table"]
    assert list(table_cells(soup, name)) == [0, 1, 2, 3, 4, 5, 7]
    note = soup.find("p", class_="truncated")
    assert note["data-not-shown"] == "2" and note["data-export"] == name
    exported = json.loads((tmp_path / "c_files" / f"{name}.json").read_text("utf-8"))
    assert len(exported) == len(metrics)
