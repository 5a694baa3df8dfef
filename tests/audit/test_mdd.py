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


def _family(m, metric, target):
    fam = m[(m.metric == metric) & (m.target == target)]
    k = int(fam["p_adjusted"].notna().sum())
    rows = fam[fam["null_se"].notna()]
    return rows, 0.05 / k, rows["n_speakers"].to_numpy(float) - 1


def test_mdd_is_the_power_formula_at_the_family_level(tables):
    # not a rate: the standard error under the alternative is the null one
    rows, level, df = _family(tables[0]["metrics"], "kappa", "gender")
    assert len(rows) > 5
    expected = (stats.t.isf(level / 2, df) + stats.t.ppf(0.8, df)) * rows["null_se"].to_numpy()
    np.testing.assert_allclose(rows["mdd"], expected, rtol=1e-9)
    np.testing.assert_allclose(rows["mdd_alpha"], level, rtol=1e-12)


def test_rate_mdd_uses_the_variance_at_the_alternative(tables):
    # d = t_a se0 + t_b se0 sqrt(p1 (1 - p1) / (p0 (1 - p0))), p1 = p0 - d (p0 > 0.5),
    # solved here with a root finder
    from scipy.optimize import brentq

    rows, level, df = _family(tables[0]["metrics"], "agreement", "gender")
    small = (rows["mdd"] < 0.5).to_numpy()  # a root inside (0, p0) to bracket
    assert small.sum() > 5
    for (_, row), nu in zip(rows[small].iterrows(), df[small], strict=True):
        p0, se0 = row["null_rate"], row["null_se"]
        t_a, t_b = stats.t.isf(level / 2, nu), stats.t.ppf(0.8, nu)

        def gap(d, p0=p0, se0=se0, t_a=t_a, t_b=t_b):
            p1 = min(max(p0 - d, 0.0), 1.0)
            return t_a * se0 + t_b * se0 * np.sqrt(p1 * (1 - p1) / (p0 * (1 - p0))) - d

        expected = brentq(gap, 0.0, p0, xtol=1e-14)
        assert row["mdd"] == pytest.approx(expected, rel=1e-6)
        assert row["mdd"] > (t_a + t_b) * se0  # p1 nearer 0.5: larger than the null formula
    # smaller groups cannot detect as small a gap
    rows, _, _ = _family(tables[0]["metrics"], "agreement", "gender")
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
