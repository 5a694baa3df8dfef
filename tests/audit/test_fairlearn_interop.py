import warnings

import numpy as np
import pytest

from audit import (
    AuditInputError,
    SmallGroupWarning,
    make_evaluation_table,
    run_audit_tables,
    to_metric_frame,
)

GROUPINGS = ["gender", "ethnicity"]


@pytest.fixture(scope="module")
def table():
    t = make_evaluation_table(90, 3, random_state=11)
    rng = np.random.default_rng(0)
    t["w_dyadic"] = rng.choice([0.5, 1.0, 2.0, 4.0], len(t))
    t["w_real"] = rng.gamma(2.0, 0.5, len(t))
    return t


def _ours(table, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return run_audit_tables(
            table, groupings=GROUPINGS, max_order=2, n_boot=20, n_permutations=20, **kw
        )["metrics"]


def _compare(ours, mf, metric, target, label=None, exact=True):
    sel = (ours.metric == metric) & (ours.target == target)
    sel &= ours["label"].isna() if label is None else ours["label"] == label
    rows = ours[sel]
    overall = rows[rows.attribute == "overall"]["value"].iloc[0]
    pairs = [(overall, mf.overall.iloc[0])]
    inter = rows[rows.attribute == "gender x ethnicity"]
    by_group = mf.by_group.iloc[:, 0]
    for _, rec in inter.iterrows():
        key = (rec["group"]["gender"], rec["group"]["ethnicity"])
        if key in by_group.index:
            pairs.append((rec["value"], by_group.loc[key]))
        else:  # fairlearn drops empty intersections; we list them with NaN
            assert rec["n_utterances"] == 0 and np.isnan(rec["value"])
    ours_v, theirs = np.array(pairs, dtype=float).T
    if exact:
        np.testing.assert_array_equal(ours_v, theirs)
    else:
        np.testing.assert_allclose(ours_v, theirs, rtol=1e-12, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("weight", [None, "w_dyadic"])
def test_rates_equal_metric_frame_exactly(table, weight):
    ours = _ours(table, sample_weight=weight)
    kw = {"sample_weight": weight} if weight else {}
    for metric, target in [
        ("agreement", "ethnicity"),
        ("agreement", "gender"),
        ("upper_agreement", "age_group"),
    ]:
        mf = to_metric_frame(table, metric, target=target, sensitive_features=GROUPINGS, **kw)
        _compare(ours, mf, metric, target)
    for k in (1, 10):
        mf = to_metric_frame(table, f"recall@{k}", sensitive_features=GROUPINGS, **kw)
        _compare(ours, mf, f"recall@{k}", "retrieval")
    mf = to_metric_frame(
        table, "recall", target="gender", label="female", sensitive_features=GROUPINGS, **kw
    )
    _compare(ours, mf, "recall", "gender", label="female")


@pytest.mark.parametrize("weight", [None, "w_real"])
def test_other_metrics_equal_metric_frame(table, weight):
    ours = _ours(table, sample_weight=weight)
    kw = {"sample_weight": weight} if weight else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn: kappa undefined in one-label groups
        for metric, target in [
            ("kappa", "ethnicity"),
            ("macro_recall", "ethnicity"),
            ("agreement", "ethnicity"),
        ]:
            mf = to_metric_frame(table, metric, target=target, sensitive_features=GROUPINGS, **kw)
            _compare(ours, mf, metric, target, exact=False)
    for col in ("cos_sim", "l2"):
        mf = to_metric_frame(table, col, sensitive_features=GROUPINGS, **kw)
        _compare(ours, mf, col, "feature", exact=False)


def test_weighted_rows_report_kish_effective_n(table):
    ours = _ours(table, sample_weight="w_real")
    rec = ours[(ours.metric == "cos_sim") & (ours.attribute == "overall")].iloc[0]
    w = table["w_real"].to_numpy()
    assert rec["effective_n"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert rec["weight_sum"] == pytest.approx(w.sum())
    assert rec["n_utterances"] == len(table)


def test_metric_frame_bootstrap_runs(table):
    mf = to_metric_frame(
        table,
        "agreement",
        target="gender",
        sensitive_features="gender",
        n_boot=10,
        ci_quantiles=[0.025, 0.975],
        random_state=0,
    )
    assert len(mf.overall_ci) == 2


def test_bad_metric_names():
    t = make_evaluation_table(10, 1)
    with pytest.raises(AuditInputError, match="metric must be one of"):
        to_metric_frame(t, "accuracy", sensitive_features="gender")
    with pytest.raises(AuditInputError, match="needs target="):
        to_metric_frame(t, "agreement", sensitive_features="gender")
