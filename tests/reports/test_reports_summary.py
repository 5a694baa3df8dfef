"""The executive summary: verdict boxes, findings and headline figure from audit.json (#16)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from report_helpers import soup_of

from reports import render_report

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "audit_small.json"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = render_report(FIXTURE, tmp_path_factory.mktemp("summary") / "report.html")
    return out, soup_of(out), json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_summary_comes_before_everything_else(rendered):
    _, soup, _ = rendered
    body = [el for el in soup.body.find_all(["section", "details", "nav"], recursive=False)]
    assert body[0]["id"] == "executive-summary"
    # model and data in one line each
    assert soup.find(id="summary-model").get_text(" ", strip=True).startswith("Model: synthetic")
    assert "144 utterances from 48 speakers" in soup.find(id="summary-data").get_text()


def test_one_verdict_box_per_focus_question(rendered):
    _, soup, audit = rendered
    boxes = soup.find_all("div", class_="verdict-box")
    questions = audit["tables"]["focus"]
    assert [b["data-verdict"] for b in boxes] == [q["verdict"] for q in questions]
    assert [b["data-question"] for b in boxes] == [
        q["question"].replace(" x ", " × ") for q in questions
    ]
    groups = audit["tables"]["focus_groups"]
    for box, q in zip(boxes, questions, strict=True):
        text = box.get_text(" ", strip=True)
        mine = [g for g in groups if g["question"] == q["question"]]
        tested = [g for g in mine if g["verdict"] != "too_few"]
        if q["verdict"] == "no_evidence":
            assert f"gaps smaller than {100 * q['mdd_max']:.1f} points" in text
        # every tested group is in the box's table (the first six) or folded, never lost
        rows = box.find("table").find("tbody").find_all("tr") if tested else []
        folded = box.find("details")
        assert len(rows) + (len(folded.find_all("li")) if folded else 0) == len(mine)
        for tr, g in zip(rows, tested, strict=False):
            cell = tr.find("td", attrs={"data-col": "difference"})
            assert float(cell["data-value"]) == g["difference"]
            assert str(g["n_speakers"]) in tr.get_text()


def test_findings_are_the_audit_summary(rendered):
    _, soup, audit = rendered
    items = soup.find(id="summary-findings").find_all("li")
    summary = audit["tables"]["summary"]
    assert 1 <= len(items) == len(summary) <= 5
    for li, rec in zip(items, summary, strict=True):
        text = li.get_text(" ", strip=True)
        assert text.startswith(rec["group_label"]) and "adjusted p" in text


def test_headline_figure_shows_the_focus_metric_against_overall(rendered):
    _, soup, audit = rendered
    fig = soup.find(id="headline-figure")
    assert fig is not None and fig.find("svg") is not None
    groups = [g for g in audit["tables"]["focus_groups"] if g["question"] == "language x ethnicity"]
    values = sorted(float(g["data-value"]) for g in fig.find_all("g", attrs={"data-value": True}))
    expected = sorted(g["value"] for g in groups if g["value"] is not None)
    assert values == pytest.approx(expected, rel=1e-12)


def test_verdict_box_intervals_agree_with_adjusted_p(rendered):
    _, soup, audit = rendered
    alpha = 1 - audit["settings"]["ci_level"]
    for cell in soup.select("table.vt td[data-col=difference]"):
        p = cell.find_next_sibling("td")["data-value"]
        if p in ("—", "nan"):
            continue
        low, high = float(cell["data-ci-low"]), float(cell["data-ci-high"])
        assert math.isfinite(low) and math.isfinite(high)
        assert (low > 0 or high < 0) == (float(p) < alpha)


def test_long_lists_are_folded(rendered):
    _, soup, _ = rendered
    assert soup.find(id="provenance").name == "details"
    assert soup.find(id="findings").find_parent("details") is not None
