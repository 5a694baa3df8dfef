"""Real-browser tests: headless Chromium over the DevTools pipe, networking disabled."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from report_cdp import Browser
from report_fixtures import XSS, make_audit, write_audit

from reports import html_to_pdf, render_comparison, render_report

pytestmark = pytest.mark.browser  # needs /usr/bin/chromium; deselect with -m "not browser"


def _problems(browser: Browser, page_url: str) -> dict[str, list]:
    """Console errors, exceptions, dialogs and requests other than the page and data: URIs."""
    out: dict[str, list] = {"console": [], "exceptions": [], "dialogs": [], "requests": []}
    for event in browser.events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            out["console"].append(params)
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            out["console"].append(params["entry"])
        elif method == "Runtime.exceptionThrown":
            out["exceptions"].append(params)
        elif method == "Page.javascriptDialogOpening":
            out["dialogs"].append(params)
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page_url and not url.startswith("data:"):
                out["requests"].append(url)
    return out


def _open(path, tmp_path, name):
    browser = Browser(timeout=20)
    try:
        page = browser.open_page(path)
        problems = _problems(browser, path.resolve().as_uri())
    finally:
        browser.close()
    png = base64.b64decode(page["png"])
    (tmp_path / name).write_bytes(png)
    return page, problems, np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


def test_report_in_real_browser(tmp_path):
    path = write_audit(tmp_path / "audit", make_audit())
    out = render_report(path, tmp_path / "report.html")
    page, problems, pixels = _open(out, tmp_path, "report.png")
    assert problems == {"console": [], "exceptions": [], "dialogs": [], "requests": []}
    # not blank: many dark (text) pixels and varied content
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01
    assert XSS in page["text"]  # the hostile group name is shown as text...
    assert page["injected"] == 0  # ...and became no element
    assert "Summary of findings" in page["text"] and "Model card" in page["text"]


def test_comparison_in_real_browser(tmp_path):
    pa = write_audit(tmp_path / "a", make_audit())
    pb = write_audit(tmp_path / "b", make_audit())
    out = render_comparison(pa, pb, tmp_path / "compare.html")
    page, problems, pixels = _open(out, tmp_path, "compare.png")
    assert problems == {"console": [], "exceptions": [], "dialogs": [], "requests": []}
    assert pixels.std() > 20
    assert XSS in page["text"] and page["injected"] == 0


def test_harness_detects_scripts_errors_and_requests(tmp_path):
    """Control: the checks above can fail. This page does all the things a report must not."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><p>bad page</p>"
        "<img src=x><script>console.error('boom'); fetch('http://example.invalid/x');"
        "document.body.appendChild(document.createElement('script'));</script></body></html>",
        encoding="utf-8",
    )
    page, problems, _ = _open(bad, tmp_path, "bad.png")
    assert problems["console"]
    assert any("example.invalid" in url for url in problems["requests"])
    assert page["injected"] >= 1


def test_pdf_export(tmp_path):
    from pypdf import PdfReader

    path = write_audit(tmp_path / "audit", make_audit())
    out = render_report(path, tmp_path / "report.html", pdf=True)
    pdf = out.with_suffix(".pdf")
    reader = PdfReader(pdf)
    assert 2 <= len(reader.pages) <= 12
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    assert "Fairness audit: s2f-compact" in flat
    assert "Limitations and ethics" in flat and "Methods appendix" in flat
    assert "judged Asian rate 31.0%" in flat
    assert XSS in flat  # printed as text


def test_pdf_missing_html(tmp_path):
    from reports import ChromiumError

    with pytest.raises(ChromiumError, match=r"no such HTML file"):
        html_to_pdf(tmp_path / "none.html", tmp_path / "x.pdf")


def test_pdf_bad_chromium(tmp_path):
    from reports import ChromiumError

    html = tmp_path / "a.html"
    html.write_text("<p>x</p>", encoding="utf-8")
    with pytest.raises(ChromiumError, match=r"not found or not executable"):
        html_to_pdf(html, tmp_path / "x.pdf", chromium=tmp_path / "no-chromium")


def test_audit_engine_fixture_in_real_browser(tmp_path):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "audit_small.json"
    out = render_report(fixture, tmp_path / "report.html")
    page, problems, pixels = _open(out, tmp_path, "real.png")
    assert problems == {"console": [], "exceptions": [], "dialogs": [], "requests": []}
    assert pixels.std() > 20
    assert "Attribute confusion" in page["text"] and "Judge calibration" in page["text"]
