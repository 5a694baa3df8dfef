"""Focus questions and the executive summary's findings (issue #16)."""

import warnings

import numpy as np
import pytest

from audit import AuditInputError, SmallGroupWarning, make_evaluation_table, run_audit_tables
from audit._focus import MAX_FINDINGS, check_focus


@pytest.fixture(scope="module")
def table():
    return make_evaluation_table(240, 3, random_state=5)


def _run(table, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return run_audit_tables(table, n_boot=200, n_permutations=50, random_state=3, **kw)


@pytest.fixture(scope="module")
def tabs(table):
    return _run(table, max_order=1)


def test_focus_intersections_are_computed_at_max_order_1(tabs):
    attrs = set(tabs["metrics"]["attribute"])
    assert {"language x ethnicity", "gender x age_group"} <= attrs
    q = tabs["focus"].set_index("question")
    assert list(q.index) == ["language x ethnicity", "gender x age_group"]
    assert q.loc["language x ethnicity", "target"] == "ethnicity"
    assert q.loc["gender x age_group", "target"] == "gender"


def test_group_verdicts_follow_flags_and_p(tabs):
    g = tabs["focus_groups"]
    m = tabs["metrics"]
    for _, row in g.iterrows():
        rec = m.loc[row["row"]]
        assert rec["group_label"] == row["group_label"] and rec["metric"] == "agreement"
        flags = set(rec["flags"])
        if flags & {"empty", "insufficient_data"} or not np.isfinite(rec["p_adjusted"]):
            assert row["verdict"] == "too_few"
        elif "significant" in flags:
            assert row["verdict"] == "gap" and rec["p_adjusted"] < 0.05
        else:
            assert row["verdict"] == "no_evidence" and rec["p_adjusted"] >= 0.05
            assert np.isfinite(row["mdd"])
    assert set(g["verdict"]) == {"gap", "no_evidence", "too_few"}


def test_question_verdict_and_largest_mdd(tabs):
    for _, q in tabs["focus"].iterrows():
        g = tabs["focus_groups"][tabs["focus_groups"]["question"] == q["question"]]
        assert q["n_groups"] == len(g) and q["n_gap"] == (g["verdict"] == "gap").sum()
        if q["n_gap"]:
            assert q["verdict"] == "gap"
        elif q["n_tested"]:
            assert q["verdict"] == "no_evidence"
        tested = g[g["verdict"] != "too_few"]["mdd"]
        assert q["mdd_max"] == pytest.approx(tested.max())


def test_summary_findings_follow_the_rule(tabs):
    s, m, g = tabs["summary"], tabs["metrics"], tabs["focus_groups"]
    assert 1 <= len(s) <= MAX_FINDINGS
    assert list(s["rank"]) == list(range(1, len(s) + 1))
    # focus gaps first: the gap group of each focus question with the smallest adjusted p
    n_focus = int((s["kind"] == "focus").sum())
    gap_questions = g[g["verdict"] == "gap"]["question"].unique()
    assert n_focus == min(len(gap_questions), MAX_FINDINGS)
    for _, f in s[s["kind"] == "focus"].iterrows():
        gaps = g[(g["question"] == f["question"]) & (g["verdict"] == "gap")]
        assert f["p_adjusted"] == gaps["p_adjusted"].min()
    rest = s[s["kind"] == "gap"]
    assert list(rest["p_adjusted"]) == sorted(rest["p_adjusted"])
    for _, f in s.iterrows():
        rec = m.loc[f["row"]]
        assert "significant" in rec["flags"] and "insufficient_data" not in rec["flags"]
        assert not str(rec["metric"]).startswith("upper_")
    keys = list(zip(s["metric"], s["target"], s["label"].astype(str), s["attribute"], strict=True))
    assert len(set(keys)) == len(keys)  # one per metric family and grouping


def test_explicit_focus_is_checked(table):
    with pytest.raises(AuditInputError, match="needs column"):
        _run(table, groupings=["gender"], max_order=1, focus=[("gender", "dialect")])
    with pytest.raises(AuditInputError, match="two or more distinct"):
        check_focus([("gender",)])
    with pytest.raises(AuditInputError, match="sequence of column tuples"):
        check_focus("language x ethnicity")


def test_no_focus_and_restricted_groupings(table):
    none = _run(table, groupings=["gender"], max_order=1, focus=())
    assert none["focus"].empty and none["focus_groups"].empty
    default = _run(table, groupings=["gender"], max_order=1)
    assert default["focus"].empty  # default questions need their columns among groupings
