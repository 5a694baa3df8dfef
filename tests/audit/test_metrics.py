import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import (
    balanced_accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    recall_score,
)

from audit import AuditInputError, SmallGroupWarning, make_evaluation_table, run_audit_tables
from audit.stats import (
    SpeakerBootstrap,
    build_groupings,
    cohen_kappa_from_counts,
    detect_measures,
    detect_targets,
    metric_tables,
)


@pytest.fixture(scope="module")
def table():
    return make_evaluation_table(120, 3, random_state=3)


@pytest.fixture(scope="module")
def tables(table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return run_audit_tables(table, max_order=2, n_boot=100, random_state=1, n_permutations=200)


def _rows(frame, **eq):
    mask = np.ones(len(frame), dtype=bool)
    for key, val in eq.items():
        mask &= (frame[key] == val).to_numpy()
    return frame[mask]


def _group_mask(table, group):
    mask = np.ones(len(table), dtype=bool)
    for col, val in group.items():
        vals = table[col].astype(object).where(table[col].notna(), "(missing)")
        mask &= (vals == val).to_numpy()
    return mask


def test_agreement_kappa_recall_against_sklearn(table, tables):
    metrics = tables["metrics"]
    for target in ("gender", "ethnicity", "age_group"):
        labels = sorted(table[f"true_{target}"].dropna().unique())
        rows = _rows(metrics, metric="agreement", target=target)
        rows = rows[rows["attribute"].isin(["overall", "ethnicity", "gender x ethnicity"])]
        for _, row in rows.iterrows():
            mask = _group_mask(table, row["group"])
            sub = table[mask]
            sub = sub[sub[f"true_{target}"].notna() & sub[f"recon_{target}"].notna()]
            if len(sub) == 0:
                assert np.isnan(row["value"]) and "empty" in row["flags"]
                continue
            y_t, y_p = sub[f"true_{target}"], sub[f"recon_{target}"]
            assert row["value"] == np.mean(y_t == y_p)
            assert row["n_utterances"] == len(sub)
            assert row["n_speakers"] == sub["speaker_id"].nunique()
            kappa = _rows(metrics, metric="kappa", target=target, group_label=row["group_label"])
            if y_t.nunique() == 1:  # one true class: undefined, never a number
                assert np.isnan(kappa["value"].iloc[0])
                assert "single_class" in kappa["flags"].iloc[0]
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pe == 1: NaN both ways
                    want = cohen_kappa_score(y_t, y_p, labels=labels)
                np.testing.assert_allclose(kappa["value"].iloc[0], want, rtol=1e-10, equal_nan=True)
                assert "single_class" not in kappa["flags"].iloc[0]
            macro = _rows(
                metrics, metric="macro_recall", target=target, group_label=row["group_label"]
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                want = balanced_accuracy_score(y_t, y_p)
            assert macro["value"].iloc[0] == pytest.approx(want, rel=1e-12)
            per_class = _rows(
                metrics, metric="recall", target=target, group_label=row["group_label"]
            )
            for _, rc in per_class.iterrows():
                sel = y_t == rc["label"]
                if sel.sum() == 0:
                    assert np.isnan(rc["value"]) and rc["n_utterances"] == 0
                else:
                    want = recall_score(y_t == rc["label"], y_p == rc["label"])
                    assert rc["value"] == pytest.approx(want, rel=1e-12)
                    assert rc["n_utterances"] == sel.sum()


def test_confusion_rows_full_label_list_and_sklearn(table, tables):
    conf = _rows(tables["confusion"], metric="confusion", target="ethnicity")
    conf = conf[conf["attribute"].isin(["overall", "language", "gender x ethnicity"])]
    labels = ["Asian", "Black", "Indian", "White"]
    for _label, grp in conf.groupby("group_label"):
        assert len(grp) == 16  # always the full 4 x 4
        group = grp["group"].iloc[0]
        sub = table[_group_mask(table, group)]
        sub = sub[sub["true_ethnicity"].notna() & sub["recon_ethnicity"].notna()]
        if len(sub) == 0:  # empty intersection: listed, all NaN, n = 0
            assert grp["value"].isna().all() and (grp["n_utterances"] == 0).all()
            continue
        cm = confusion_matrix(sub["true_ethnicity"], sub["recon_ethnicity"], labels=labels)
        got = grp.pivot(index="true_label", columns="pred_label", values="count")
        np.testing.assert_array_equal(got.loc[labels, labels].to_numpy(), cm)
        rates = grp.pivot(index="true_label", columns="pred_label", values="value")
        rates = rates.loc[labels, labels].to_numpy()
        for i in range(4):
            if cm[i].sum() == 0:  # empty row: NaN with n = 0, never 0%
                assert np.all(np.isnan(rates[i]))
                row_recs = grp[grp["true_label"] == labels[i]]
                assert (row_recs["n_utterances"] == 0).all()
                assert all("empty" in f for f in row_recs["flags"])
            else:
                np.testing.assert_allclose(rates[i], cm[i] / cm[i].sum(), rtol=1e-12)


def test_group_without_a_class_gets_nan_row():
    t = pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(6)],
            "speaker_id": ["a", "a", "b", "c", "d", "d"],
            "grp": ["x", "x", "x", "y", "y", "y"],
            "true_g": ["f", "f", "f", "m", "m", "f"],
            "recon_g": ["f", "m", "f", "m", "f", "f"],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        tabs = run_audit_tables(t, groupings=["grp"], n_boot=20, min_group_size=2)
    conf = tabs["confusion"]
    row_m = conf[(conf.group_label == "grp=x") & (conf.true_label == "m")]
    assert len(row_m) == 2 and row_m["value"].isna().all() and (row_m["n_utterances"] == 0).all()
    recall_m = tabs["metrics"].query(
        "metric == 'recall' and label == 'm' and group_label == 'grp=x'"
    )
    assert np.isnan(recall_m["value"].iloc[0]) and "empty" in recall_m["flags"].iloc[0]


def test_kappa_hand_example_and_sklearn():
    counts = np.array([[20.0, 5], [10, 15]])
    y_t = np.repeat([0, 0, 1, 1], [20, 5, 10, 15])
    y_p = np.repeat([0, 1, 0, 1], [20, 5, 10, 15])
    assert cohen_kappa_from_counts(counts) == pytest.approx(cohen_kappa_score(y_t, y_p))
    assert cohen_kappa_from_counts(counts) == pytest.approx(0.4)


def test_retrieval_recall_at_k_with_chance(table, tables):
    m = tables["metrics"]
    for k in (1, 2, 5, 10):
        rec = _rows(m, metric=f"recall@{k}", attribute="overall").iloc[0]
        assert rec["value"] == np.mean(table["retrieval_rank"] <= k)
        assert rec["chance"] == pytest.approx(k / 100)
        assert rec["gallery_size"] == 100


def test_similarity_means(table, tables):
    m = tables["metrics"]
    for col in ("cos_sim", "l1", "l2"):
        for _, rec in _rows(m, metric=col, attribute="gender").iterrows():
            sub = table[_group_mask(table, rec["group"])]
            assert rec["value"] == pytest.approx(sub[col].mean(), rel=1e-12)


def test_ece_hand_computation(table, tables):
    rec = _rows(tables["metrics"], metric="ece", target="gender", attribute="overall").iloc[0]
    probs = table[["true_gender_p_female", "true_gender_p_male"]].to_numpy()
    conf = probs.max(axis=1)
    pred = np.where(probs[:, 0] >= probs[:, 1], "female", "male")
    correct = pred == table["gender"].to_numpy()
    bins = np.minimum((conf * 10).astype(int), 9)
    ece = sum(
        abs(correct[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean()
        for b in range(10)
        if (bins == b).any()
    )
    assert rec["value"] == pytest.approx(ece, rel=1e-10)


def test_craniofacial_pearson_against_scipy(table, tables):
    crani = tables["craniofacial"]
    for _, rec in _rows(crani, attribute="ethnicity").iterrows():
        sub = table[_group_mask(table, rec["group"])]
        if len(sub) < 3:
            continue
        m = rec["target"]
        want = stats.pearsonr(sub[f"true_{m}"], sub[f"recon_{m}"]).statistic
        assert rec["value"] == pytest.approx(want, rel=1e-9)
    overall = _rows(crani, attribute="overall").set_index("target")
    # known truth: r 0.4 and 0.3 are detected, 0.0 is not
    assert overall.loc["nasal_index", "p_value"] < 0.01
    assert overall.loc["jaw_width", "p_value"] > 0.01
    assert overall.loc["jaw_width", "null_abs_r"] < 0.2


def test_pitch_table_high_pitched_males_turn_female(tables):
    pitch = tables["pitch"].query("label == 'female'")
    assert pitch["attribute"].unique().tolist() == ["f0_bin x gender"]
    male = pitch[pitch["group"].map(lambda g: g["gender"] == "male")].set_index("group_label")
    low = male.loc["f0_bin=<100 Hz x gender=male", "value"]
    high = male.loc["f0_bin=130-160 Hz x gender=male", "value"]
    assert high > low
    assert len(pitch) == 12  # 6 bins x 2 genders, empty cells listed


def test_metric_tables_rejects_bad_options(table):
    gs = build_groupings(table, ["gender"])
    boot = SpeakerBootstrap(table["speaker_id"], 10, 0)
    with pytest.raises(AuditInputError, match="reference must be 'overall', 'best' or a mapping"):
        metric_tables(table, [], gs, boot, reference="worst")
    with pytest.raises(AuditInputError, match="correction must be one of"):
        metric_tables(table, [], gs, boot, correction="bonferroni")
    with pytest.raises(AuditInputError, match="min_group_size must be >= 2"):
        metric_tables(table, [], gs, boot, min_group_size=1)


def test_label_outside_given_vocabulary_is_named(table):
    with pytest.raises(AuditInputError, match=r"labels \['male'\] of 'gender' are not in"):
        run_audit_tables(table, labels={"gender": ["female"]}, n_boot=10)


def test_same_seed_identical_tables_different_seed_different_intervals():
    t = make_evaluation_table(40, 2, random_state=8)
    kw = {"groupings": ["gender"], "n_boot": 60, "n_permutations": 20, "min_group_size": 5}
    a = run_audit_tables(t, random_state=1, **kw)["metrics"]
    b = run_audit_tables(t, random_state=1, **kw)["metrics"]
    c = run_audit_tables(t, random_state=2, **kw)["metrics"]
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(a["value"], c["value"])
    assert not np.allclose(a["ci_low"], c["ci_low"], equal_nan=True)


def test_empty_intersections_listed_and_small_groups_warned():
    t = make_evaluation_table(30, 2, random_state=9)
    t.loc[t["gender"] == "male", "language"] = "en"  # no male non-English speakers
    with pytest.warns(SmallGroupWarning, match=r"group\(s\) have fewer than 10 speakers"):
        tabs = run_audit_tables(t, groupings=["gender", "language"], n_boot=20, n_permutations=10)
    groups = tabs["groups"].set_index("group_label")
    empty = groups.loc["gender=male x language=zh"]
    assert empty["n_utterances"] == 0 and empty["flags"] == ["empty"]
    m = tabs["metrics"]
    row = m[
        (m.metric == "agreement")
        & (m.target == "gender")
        & (m.group_label == "gender=male x language=zh")
    ].iloc[0]
    assert np.isnan(row["value"]) and row["n_utterances"] == 0 and "empty" in row["flags"]
    assert np.isnan(row["p_value"]) and np.isnan(row["p_adjusted"])


def test_unmeasured_columns_are_skipped():
    t = make_evaluation_table(20, 2, random_state=1)
    t["true_ethnicity"] = np.nan  # a judge that cannot measure ethnicity
    t["recon_ethnicity"] = np.nan
    assert "ethnicity" not in detect_measures(t) and "ethnicity" not in detect_targets(t)
    assert set(detect_measures(t)) == {"nasal_index", "nose_width", "jaw_width"}
