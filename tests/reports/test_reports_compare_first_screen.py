"""compare.html as a reader opens it (issue #16): the focus answer on the first screen.

Headless Chromium over the DevTools pipe (networking off), viewport 1280 x 900, a paired
comparison of two audits where only the language=en x ethnicity=Asian cell changed.
"""

from __future__ import annotations

import numpy as np
import pytest
from report_cdp import Browser, page_problems

from audit import AuditResult, data_identity, make_evaluation_table, paired_comparison
from reports import render_comparison

pytestmark = pytest.mark.browser  # needs /usr/bin/chromium; deselect with -m "not browser"

WIDTH, HEIGHT = 1280, 900
SETTINGS = {"n_boot": 100, "groupings": ["language", "gender", "age_group", "ethnicity"]}


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
    out = render_comparison(*paths, root / "compare.html", comparison=paired_comparison(*paths))
    browser = Browser(timeout=60)
    try:
        session = browser.navigate(out, viewport=(WIDTH, HEIGHT))
        rects = {
            sel: browser.element_rect(session, sel)
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
    assert page_problems(events, out.resolve().as_uri()) == []
