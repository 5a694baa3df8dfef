"""Intervals that agree with the corrected tests; audit-wide error control (issue #16)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit import AuditInputError, SmallGroupWarning, make_evaluation_table, run_audit_tables
from audit._simultaneous import consistent_alpha
from audit.stats import control_errors, holm


@pytest.fixture(scope="module")
def table():
    return make_evaluation_table(240, 3, random_state=5)


def _run(table, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return run_audit_tables(
            table, n_boot=200, n_permutations=50, max_order=1, random_state=3, **kw
        )


def _excludes_zero(frame):
    return ((frame["diff_sim_low"] > 0) | (frame["diff_sim_high"] < 0)).to_numpy()


@pytest.mark.parametrize(
    ("correction", "scope"),
    [("holm", "family"), ("bh", "family"), ("none", "family"), ("holm", "audit")],
)
def test_simultaneous_interval_excludes_zero_exactly_when_significant(table, correction, scope):
    m = _run(table, correction=correction, error_control=scope)["metrics"]
    tested = m["p_adjusted"].notna().to_numpy()
    sig = m["flags"].map(lambda f: "significant" in f).to_numpy()
    assert sig[tested].any() and not sig[tested].all()  # both verdicts occur
    np.testing.assert_array_equal(_excludes_zero(m)[tested], sig[tested])
    # untested rows have no simultaneous interval and are never significant
    assert m.loc[~tested, ["diff_sim_low", "diff_sim_high"]].isna().all().all()
    assert not sig[~tested].any()
    # the unadjusted interval stays beside it
    assert m.loc[tested, "diff_ci_low"].notna().all()
    if correction == "none":
        np.testing.assert_allclose(m.loc[tested, "sim_alpha"], 1 - 0.95, rtol=1e-12)


def test_simultaneous_interval_is_rebuilt_by_hand(table):
    # Holm family of agreement/ethnicity: rows where Bonferroni agrees get
    # difference +- t_(m-1)(1 - alpha / 2k) se, se = |d| / t_(m-1)(1 - p / 2)
    m = _run(table)["metrics"]
    fam = m[(m.metric == "agreement") & (m.target == "ethnicity") & m["p_adjusted"].notna()]
    k = len(fam)
    row = fam.sort_values("p_value").iloc[-1]  # the least significant: Bonferroni agrees
    assert row["sim_alpha"] == pytest.approx(0.05 / k, rel=1e-12)
    df = row["n_speakers"] - 1
    se = abs(row["difference"]) / stats.t.isf(row["p_value"] / 2, df)
    half = stats.t.isf(0.05 / k / 2, df) * se
    assert row["diff_sim_low"] == pytest.approx(row["difference"] - half, rel=1e-9)
    assert row["diff_sim_high"] == pytest.approx(row["difference"] + half, rel=1e-9)


def test_audit_scope_is_one_holm_family_over_every_test(table):
    tabs = _run(table, error_control="audit")
    fam = _run(table, error_control="family")
    m, c = tabs["metrics"], tabs["craniofacial"]
    # same raw p-values, one family
    np.testing.assert_array_equal(m["p_value"], fam["metrics"]["p_value"])
    p = np.concatenate([m["p_value"], c["p_value"]])
    pa = np.concatenate([m["p_adjusted"], c["p_adjusted"]])
    tested = np.isfinite(pa)
    np.testing.assert_allclose(pa[tested], holm(p[tested]), rtol=1e-12)
    # the audit-wide correction is never less strict than the per-family one
    both = m["p_adjusted"].notna() & fam["metrics"]["p_adjusted"].notna()
    assert (m.loc[both, "p_adjusted"] >= fam["metrics"].loc[both, "p_adjusted"] - 1e-15).all()


def test_consistent_alpha_keeps_bonferroni_where_it_agrees():
    p = np.array([0.001, 0.2, np.nan])
    pa = holm(p)
    got = consistent_alpha(p, pa, np.full(3, 2.0), 0.05)
    assert got[:2].tolist() == [0.025, 0.025] and np.isnan(got[2])
    # BH rejects 0.03 of (0.01, 0.03): level alpha p / p_adjusted = 0.05 (> 0.03)
    got = consistent_alpha(np.array([0.01, 0.03]), np.array([0.03, 0.03]), np.full(2, 2.0), 0.05)
    assert got.tolist() == pytest.approx([0.025, 0.05])


def test_error_control_is_checked(table):
    with pytest.raises(AuditInputError, match="error_control must be one of"):
        _run(table, error_control="everything")
    with pytest.raises(AuditInputError, match="error_control must be one of"):
        control_errors([(pd.DataFrame(), ())], "holm", 0.05, "global")
