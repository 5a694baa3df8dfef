"""No row of the report pairs a significant-looking interval with a non-significant p (#16).

Scans the rendered HTML of the engine's small audit: every row with a difference interval
and an adjusted p (exact values in ``data-ci-low`` / ``data-ci-high`` / ``data-value``).
"""

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
    out = render_report(FIXTURE, tmp_path_factory.mktemp("intervals") / "report.html")
    return soup_of(out), json.loads(FIXTURE.read_text(encoding="utf-8"))


def _float(cell, attr):
    value = cell.get(attr)
    return math.nan if value in (None, "nan", "None") else float(value)


def _rows(soup):
    for table in soup.find_all("table", class_="data"):
        columns = [th["data-col"] for th in table.find("thead").find_all("th")]
        if "difference" not in columns or "p_adjusted" not in columns:
            continue
        for tr in table.find("tbody").find_all("tr"):
            tds = dict(zip(columns, tr.find_all("td"), strict=True))
            yield table.get("data-table"), tds


def test_interval_excludes_zero_exactly_when_adjusted_p_is_significant(rendered):
    soup, audit = rendered
    alpha = 1 - audit["settings"]["ci_level"]
    checked = significant = 0
    for name, tds in _rows(soup):
        p_adj = _float(tds["p_adjusted"], "data-value")
        if not math.isfinite(p_adj):
            continue
        low = _float(tds["difference"], "data-ci-low")
        high = _float(tds["difference"], "data-ci-high")
        excludes = low > 0 or high < 0
        assert excludes == (p_adj < alpha), (name, low, high, p_adj)
        checked += 1
        significant += p_adj < alpha
    assert checked > 20 and 0 < significant < checked, (checked, significant)


def test_report_states_the_scope_of_error_control(rendered):
    soup, audit = rendered
    text = soup.find(id="error-control").get_text(" ", strip=True)
    assert audit["settings"]["error_control"] == "family"
    assert "Holm (family-wise error) within each family" in text
    assert "the audit as a whole is not controlled" in text
    assert "simultaneous" in text and "diff_ci_low" in text


def test_findings_quote_the_simultaneous_interval(rendered):
    soup, _ = rendered
    findings = soup.find(id="findings")
    assert findings is not None
    assert "95% simultaneous CI" in findings.get_text(" ", strip=True)
