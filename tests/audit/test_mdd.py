"""Minimum detectable difference per group and metric (issue #16)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit import AuditResult, SmallGroupWarning, make_evaluation_table, run_audit_tables
from audit._simultaneous import minimum_detectable_difference


@pytest.fixture(scope="module")
def tables():
    table = make_evaluation_table(240, 3, random_state=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        kw = dict(n_boot=200, n_permutations=50, max_order=1, random_state=3)
        return run_audit_tables(table, **kw), run_audit_tables(table, error_control="audit", **kw)


def test_mdd_is_the_power_formula_at_the_family_level(tables):
    m = tables[0]["metrics"]
    fam = m[(m.metric == "agreement") & (m.target == "gender")]
    k = int(fam["p_adjusted"].notna().sum())
    rows = fam[fam["null_se"].notna()]
    assert len(rows) > 5
    df = rows["n_speakers"].to_numpy(float) - 1
    level = 0.05 / k
    expected = (stats.t.isf(level / 2, df) + stats.t.ppf(0.8, df)) * rows["null_se"].to_numpy()
    np.testing.assert_allclose(rows["mdd"], expected, rtol=1e-9)
    np.testing.assert_allclose(rows["mdd_alpha"], level, rtol=1e-12)
    # smaller groups cannot detect as small a gap
    order = np.argsort(rows["n_speakers"].to_numpy())
    assert rows["mdd"].to_numpy()[order[0]] > rows["mdd"].to_numpy()[order[-1]]


def test_every_metric_with_a_reference_has_an_mdd(tables):
    m = tables[0]["metrics"]
    with_ref = m["difference"].notna() & (m["n_speakers"] >= 2)
    assert m.loc[with_ref, "mdd"].notna().mean() > 0.95
    assert m.loc[m["reference"].isna(), "mdd"].isna().all()


def test_audit_wide_control_raises_the_mdd(tables):
    fam, aud = tables[0]["metrics"], tables[1]["metrics"]
    both = fam["mdd"].notna() & aud["mdd"].notna()
    assert (aud.loc[both, "mdd"] > fam.loc[both, "mdd"]).all()


def test_mdd_is_in_the_csv_export(tables, tmp_path):
    AuditResult(tables[0], settings={"error_control": "family"}).write(tmp_path)
    csv = pd.read_csv(tmp_path / "metrics.csv")
    np.testing.assert_allclose(csv["mdd"], tables[0]["metrics"]["mdd"], rtol=1e-12)


def test_mdd_normal_limit():
    # large df: (z_0.975 + z_0.8) se = 2.8016 se
    got = minimum_detectable_difference(np.array([1.0]), np.array([1e12]), np.array([0.05]))
    assert got[0] == pytest.approx(stats.norm.isf(0.025) + stats.norm.ppf(0.8), rel=1e-9)
