"""compare.html as a reader opens it (issue #16): the focus answer on the first screen.

Headless Chromium over the DevTools pipe (networking off), viewport 1280 x 900, a paired
comparison of two audits where only the language=en x ethnicity=Asian cell changed.
"""

from __future__ import annotations

import numpy as np
import pytest
from report_cdp import Browser

from audit import AuditResult, data_identity, make_evaluation_table
from reports import render_comparison

pytestmark = pytest.mark.browser  # needs /usr/bin/chromium; deselect with -m "not browser"

WIDTH, HEIGHT = 1280, 900
SETTINGS = {"n_boot": 100, "groupings": ["language", "gender", "age_group", "ethnicity"]}
_RECT = """(() => {{ const e = document.querySelector({sel!r});
  if (!e) return null; const r = e.getBoundingClientRect();
  return [r.top, r.bottom, r.left, r.right]; }})()"""


def _evaluate(browser: Browser, session: str, expression: str):
    reply = browser.send(
        "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
    )
    if "exceptionDetails" in reply:
        raise AssertionError(reply["exceptionDetails"])
    return reply["result"].get("value")


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-screen")
    a = make_evaluation_table(200, 3, random_state=5)
    b = a.copy()
    cell = ((b["language"] == "en") & (b["ethnicity"] == "Asian")).to_numpy()
    b.loc[cell & (np.random.default_rng(1).random(len(b)) < 0.8), "recon_ethnicity"] = "White"
    paths = []
    for name, table in (("a", a), ("b", b)):
        AuditResult({}, settings=SETTINGS, seed=4, data=data_identity(table)).write(
            root / name, evaluation=table
        )
        paths.append(root / name / "audit.json")
    out = render_comparison(*paths, root / "compare.html")
    browser = Browser(timeout=60)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        browser.send(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            session=session,
        )
        browser.send("Page.navigate", {"url": out.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired", session)
        rects = {
            sel: _evaluate(browser, session, _RECT.format(sel=sel))
            for sel in ("#focus-answer", "#focus-table", "#focus-figure svg")
        }
        events = list(browser.events)
    finally:
        browser.close()
    return out, rects, events


def test_focus_table_and_figure_are_on_the_first_screen(opened):
    _, rects, _ = opened
    for sel, rect in rects.items():
        assert rect is not None, sel
        top, bottom, left, right = rect
        assert 0 <= top and bottom <= HEIGHT, (sel, rect)
        assert 0 <= left and right <= WIDTH, (sel, rect)


def test_no_console_errors_and_no_requests(opened):
    out, _, events = opened
    page = out.resolve().as_uri()
    problems = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            problems.append(params)
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            problems.append(params["entry"])
        elif method == "Runtime.exceptionThrown":
            problems.append(params)
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page and not url.startswith("data:"):
                problems.append(url)
    assert problems == []
