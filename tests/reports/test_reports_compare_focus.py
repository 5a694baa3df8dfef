"""compare.html answers first (issue #16, item 5), on two audits with known truth.

Model B differs from A only on the language=en x ethnicity=Asian speakers. The page must
open with the focus questions (that cell first, no other focus group changed), list that cell
first among the grown gaps, and never pair an interval that excludes 0 with a non-significant
adjusted p (scanned from the rendered HTML's data-value / data-ci-* attributes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from report_helpers import soup_of

from audit import (
    AuditResult,
    compare_audits,
    data_identity,
    make_evaluation_table,
    paired_comparison,
)
from reports import render_comparison

CELL = "language=en x ethnicity=Asian"
SETTINGS = {
    "n_boot": 100,
    "ci_level": 0.95,
    "groupings": ["language", "gender", "age_group", "ethnicity"],
}
ALPHA = 0.05


@pytest.fixture(scope="module")
def audits(tmp_path_factory):
    root = tmp_path_factory.mktemp("focus-compare")
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
    return paths


@pytest.fixture(scope="module")
def page(audits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("page")
    out = render_comparison(*audits, folder / "compare.html", comparison=paired_comparison(*audits))
    return soup_of(out)


def _float(node, attr):
    value = node.get(attr)
    return math.nan if value in (None, "", "nan", "None", "—") else float(value)


def test_the_page_opens_with_the_focus_questions(page, audits):
    first = page.find("section")
    assert first.get("id") == "focus-first"
    rows = first.find(id="focus-table").find("tbody").find_all("tr")
    assert rows[0]["data-group"] == CELL and rows[0]["data-verdict"] == "grew"
    others = [tr["data-verdict"] for tr in rows[1:]]
    others += [li["data-verdict"] for li in first.select("#focus-folded li")]
    assert others and not {"grew", "shrank"} & set(others)
    assert CELL in first.find(id="focus-answer").get_text()
    assert first.find(id="focus-figure").find("svg") is not None
    # the numbers are the audit's (reports only renders)
    expected = compare_audits(*audits)["focus"].iloc[0]
    cell = rows[0].find("td", attrs={"data-col": "change"})
    assert float(cell["data-value"]) == expected["change"]
    assert float(cell["data-ci-low"]) == expected["change_sim_low"]
    p_cell = rows[0].find("td", attrs={"data-col": "p_adjusted"})
    assert float(p_cell["data-value"]) == expected["p_adjusted"]


def test_the_changed_cell_leads_the_grown_gaps(page):
    grown = page.select("ul.changes-opened li")
    assert grown and grown[0].get_text().startswith(CELL)


def _scanned_rows(soup):
    """Every row (tr / li) holding an adjusted p and a difference or change with an interval."""
    for p_node in soup.find_all(attrs={"data-col": "p_adjusted"}):
        row = p_node.find_parent(["tr", "li"])
        for col in ("difference", "change"):
            est = row.find(attrs={"data-col": col})
            if est is not None and est.has_attr("data-ci-low"):
                yield col, est, p_node
    for table in soup.find_all("table", class_="data"):
        columns = [th.get("data-col") for th in table.find("thead").find_all("th")]
        if "p_adjusted" not in columns:
            continue
        for tr in table.find("tbody").find_all("tr"):
            tds = dict(zip(columns, tr.find_all("td"), strict=True))
            for col in ("difference", "change"):
                if col in tds:
                    yield col, tds[col], tds["p_adjusted"]


def test_no_row_pairs_a_significant_looking_interval_with_a_non_significant_p(page):
    checked = significant = 0
    for col, est, p_node in _scanned_rows(page):
        p_adj = _float(p_node, "data-value")
        low, high = _float(est, "data-ci-low"), _float(est, "data-ci-high")
        if not math.isfinite(p_adj):
            assert not (low > 0 or high < 0), (col, est.get_text(), "untested but excludes 0")
            continue
        assert (low > 0 or high < 0) == (p_adj < ALPHA), (col, est.get_text(), p_adj)
        checked += 1
        significant += p_adj < ALPHA
    assert checked > 30 and 0 < significant < checked, (checked, significant)


def test_unpaired_gaps_show_each_audits_simultaneous_interval(tmp_path):
    from report_fixtures import make_audit, write_audit
    from report_helpers import rows_by_source

    a, b = make_audit(), make_audit()
    for audit, (low, high) in ((a, (-0.35, -0.09)), (b, (-0.33, 0.01))):
        audit["tables"]["disparities"][0].update(diff_sim_low=low, diff_sim_high=high)
    b["tables"]["disparities"][0]["flags"] = []  # B: not significant, interval holds 0
    out = render_comparison(
        write_audit(tmp_path / "a", a), write_audit(tmp_path / "b", b), tmp_path / "c.html"
    )
    cells = rows_by_source(soup_of(out))[("unpaired_disparities", 0)][0]
    assert float(cells["difference_a"]["data-ci-low"]) == -0.35
    assert float(cells["difference_b"]["data-ci-high"]) == 0.01
    assert cells["gap_status"]["text"] == "closed"


def test_answer_when_no_focus_group_could_be_tested():
    from reports._compare_focus import focus_context

    records = [
        {"question": "language x ethnicity", "group_label": "g1", "verdict": "value_unchanged"},
        {"question": "language x ethnicity", "group_label": "g2", "verdict": "too_few"},
    ]
    context = focus_context(records)
    assert context["answer"] == (
        "No group of language × ethnicity could be tested: 1 have the same value under A and "
        "B and 1 too few speakers."
    )
    assert context["figure"] is None  # no group with a value: nothing to draw
    assert [r["change"] for r in context["rows"]] == [
        "not a change",
        "—",
    ]


def test_untested_focus_groups_still_get_a_figure_of_their_gaps():
    from reports._compare_focus import focus_context

    records = [
        {
            "question": "language x ethnicity",
            "group_label": "g1",
            "verdict": "value_unchanged",
            "disparity_a": -0.3,
            "disparity_b": -0.2,
        },
        {
            "question": "language x ethnicity",
            "group_label": "g2",
            "verdict": "too_few",
            "disparity_a": 0.5,
            "disparity_b": 0.1,
        },
    ]
    plot = focus_context(records)["figure"]
    assert [(r.label, r.value, r.muted) for r in plot.rows] == [
        ("g1, A", -0.3, True),
        ("g1, B", -0.2, False),
    ]
