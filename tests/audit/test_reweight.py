import numpy as np
import pandas as pd
import pytest

from audit import AuditInputError, ReweightingWarning, make_evaluation_table
from audit.stats import kish_effective_n, poststratification_weights, raking_weights


@pytest.fixture(scope="module")
def table():
    return make_evaluation_table(150, 2, random_state=2)


def _share(table, w, col):
    return pd.Series(w).groupby(table[col].fillna("(missing)").to_numpy()).sum() / w.sum()


def test_poststratification_hits_joint_targets(table):
    cells = table.groupby(["gender", "language"]).size().index
    target = pd.DataFrame(list(cells), columns=["gender", "language"])
    target["share"] = np.arange(1, len(target) + 1, dtype=float)
    w = poststratification_weights(table, target)
    assert w.mean() == pytest.approx(1.0)
    got = pd.Series(w).groupby([table["gender"], table["language"]]).sum() / w.sum()
    want = target.set_index(["gender", "language"])["share"] / target["share"].sum()
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-12)
    # weights are constant within a cell
    assert pd.Series(w).groupby([table["gender"], table["language"]]).nunique().max() == 1


def test_raking_matches_margins_and_equals_poststratification_for_one_margin(table):
    margins = {
        "gender": {"female": 0.5, "male": 0.5},
        "language": {"en": 0.4, "zh": 0.3, "hi": 0.2, "es": 0.1},
    }
    w = raking_weights(table, margins)
    np.testing.assert_allclose(
        _share(table, w, "gender").loc[["female", "male"]], [0.5, 0.5], atol=1e-9
    )
    np.testing.assert_allclose(
        _share(table, w, "language").loc[["en", "zh", "hi", "es"]], [0.4, 0.3, 0.2, 0.1], atol=1e-9
    )
    one = raking_weights(table, {"gender": {"female": 0.3, "male": 0.7}})
    ps = poststratification_weights(table, {"female": 0.3, "male": 0.7}, ["gender"])
    np.testing.assert_allclose(one, ps, rtol=1e-10)
    frame = pd.DataFrame(
        {"variable": ["gender", "gender"], "level": ["female", "male"], "share": [30, 70]}
    )
    np.testing.assert_allclose(raking_weights(table, frame), ps, rtol=1e-10)


def test_raking_hand_example():
    # 2 x 2 table with counts [[1, 1], [1, 3]] raked to uniform margins converges to the
    # symmetric solution; its row/column sums are the targets
    t = pd.DataFrame({"a": ["x", "x", "y", "y", "y", "y"], "b": ["u", "v", "u", "v", "v", "v"]})
    w = raking_weights(t, {"a": {"x": 0.5, "y": 0.5}, "b": {"u": 0.5, "v": 0.5}})
    cell = pd.Series(w).groupby([t["a"], t["b"]]).sum() / w.sum()
    # IPF keeps the odds ratio of the sample (3): p_xu * p_yv / (p_xv * p_yu) = 3
    assert cell[("x", "u")] * cell[("y", "v")] / (cell[("x", "v")] * cell[("y", "u")]) == (
        pytest.approx(3.0)
    )
    assert cell[("x", "u")] + cell[("x", "v")] == pytest.approx(0.5)
    assert cell[("x", "u")] + cell[("y", "u")] == pytest.approx(0.5)


def test_kish_effective_n():
    assert kish_effective_n(np.ones(10)) == 10
    w = np.array([1.0, 2, 3, 4])
    assert kish_effective_n(w) == pytest.approx(100 / 30)


def test_errors_name_cells_and_levels(table):
    with pytest.raises(AuditInputError, match=r"cell 'male' \(\d+ rows\) has no target share"):
        poststratification_weights(table, {"female": 1.0}, ["gender"])
    with pytest.raises(AuditInputError, match="target cell 'other' has share"):
        poststratification_weights(table, {"female": 1, "male": 1, "other": 1}, ["gender"])
    with pytest.raises(AuditInputError, match="level 'male', which the target margins"):
        raking_weights(table, {"gender": {"female": 1.0}})
    with pytest.raises(AuditInputError, match=r"share of 'female' is -1\.0"):
        raking_weights(table, {"gender": {"female": -1.0, "male": 1.0}})
    # incompatible margins: f only with y in the sample, but y must be 10% and f 90%
    t = pd.DataFrame({"g": list("fmmm"), "a": list("yyoo")})
    with pytest.warns(ReweightingWarning, match="raking did not converge"):
        raking_weights(t, {"g": {"f": 0.9, "m": 0.1}, "a": {"y": 0.1, "o": 0.9}}, max_iter=20)


def test_weighted_audit_uses_raking_weights_and_checks_them(table):
    from audit import run_audit_tables

    t = table.copy()
    t["w"] = raking_weights(t, {"gender": {"female": 0.8, "male": 0.2}})
    kw = {"groupings": ["gender"], "n_boot": 30, "n_permutations": 10, "min_group_size": 5}
    m = run_audit_tables(t, sample_weight="w", **kw)["metrics"]
    rec = m[(m.metric == "agreement") & (m.target == "gender") & (m.attribute == "overall")]
    agree = (t["true_gender"] == t["recon_gender"]).to_numpy(float)
    assert rec["value"].iloc[0] == pytest.approx(np.average(agree, weights=t["w"]), rel=1e-12)
    assert rec["effective_n"].iloc[0] == pytest.approx(kish_effective_n(t["w"].to_numpy()))
    t.loc[3, "w"] = -1.0
    with pytest.raises(AuditInputError, match=r"weight of row 3 is -1\.0; weights must be finite"):
        run_audit_tables(t, sample_weight="w", **kw)
    with pytest.raises(AuditInputError, match="sample_weight column 'nope' is not in the table"):
        run_audit_tables(t, sample_weight="nope", **kw)
