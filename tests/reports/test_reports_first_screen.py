"""The report as a reader opens it (issue #16): first screen, no errors, no requests, axe-core.

Headless Chromium over the DevTools pipe (networking off), viewport 1280 x 900, the engine's
small audit (tests/fixtures/audit_small.json). axe-core is injected by the harness; the report
has no scripts of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from axe_core import axe_source
from report_cdp import Browser, page_problems

from reports import render_report

pytestmark = pytest.mark.browser  # needs /usr/bin/chromium; deselect with -m "not browser"

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "audit_small.json"
WIDTH, HEIGHT = 1280, 900


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    out = render_report(FIXTURE, tmp_path_factory.mktemp("screen") / "report.html")
    axe = axe_source()
    browser = Browser(timeout=60)
    try:
        session = browser.navigate(out, viewport=(WIDTH, HEIGHT), bypass_csp=True)  # CSP: axe
        rects = {
            sel: browser.element_rect(session, sel)
            for sel in ("#verdicts", "#headline-figure", "#summary-model", "#summary-data")
        }
        events_before_axe = list(browser.events)
        violations = None
        if axe is not None:
            browser.evaluate(session, axe)
            result = browser.evaluate(
                session,
                "axe.run(document, {resultTypes: ['violations']})"
                ".then(r => JSON.stringify(r.violations))",
                is_async=True,
            )
            violations = json.loads(result)
    finally:
        browser.close()
    return out, rects, events_before_axe, violations


def test_verdicts_and_headline_figure_are_on_the_first_screen(opened):
    _, rects, _, _ = opened
    for sel, rect in rects.items():
        assert rect is not None, sel
        top, bottom, left, right = rect
        assert 0 <= top and bottom <= HEIGHT, (sel, rect)
        assert 0 <= left and right <= WIDTH, (sel, rect)


def test_no_console_errors_and_no_requests(opened):
    out, _, events, _ = opened
    assert page_problems(events, out.resolve().as_uri()) == []


def test_axe_finds_no_serious_or_critical_violations(opened):
    _, _, _, violations = opened
    if violations is None:
        pytest.skip("axe-core not available: no cache folder and npm could not install it")
    bad = [
        (v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["target"])
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]
    assert bad == [], bad


def test_pdf_first_page_holds_the_executive_summary(tmp_path):
    from pypdf import PdfReader

    out = render_report(FIXTURE, tmp_path / "report.html", pdf=True)
    first = PdfReader(out.with_suffix(".pdf")).pages[0].extract_text()
    audit = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for question in audit["tables"]["focus"]:
        assert f"Focus: {question['question'].replace(' x ', ' × ')}" in first
    assert "Model:" in first and "Data:" in first
