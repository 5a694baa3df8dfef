"""The comparison answers first (issue #16, item 5): focus cells, honest changes, agreement.

The pair of tables has known truth: model B differs from A only on the utterances of the
language=en x ethnicity=Asian speakers (their reconstructed ethnicity is wrong more often), so
every group that holds none of those speakers has the same value under A and B.
"""

import numpy as np
import pandas as pd
import pytest

from audit import AuditInputError, compare_arms, compare_evaluations, make_evaluation_table
from audit._compare_focus import focus_changes

CELL = "language=en x ethnicity=Asian"
ALPHA = 0.05


@pytest.fixture(scope="module")
def pair():
    a = make_evaluation_table(200, 3, random_state=5)
    b = a.copy()
    cell = ((b["language"] == "en") & (b["ethnicity"] == "Asian")).to_numpy()
    hit = cell & (np.random.default_rng(1).random(len(b)) < 0.8)
    b.loc[hit, "recon_ethnicity"] = "White"
    return a, b, cell


@pytest.fixture(scope="module")
def result(pair):
    a, b, _ = pair
    return compare_evaluations(a, b, n_boot=200)  # defaults: max_order=1, default focus


def _moved(frame):
    return frame[frame["flags"].map(lambda f: "grew" in f or "shrank" in f)]


def _members(table, group):
    mask = np.ones(len(table), dtype=bool)
    for col, value in group.items():
        mask &= (table[col].astype(str) == str(value)).to_numpy()
    return mask


def test_the_changed_cell_is_listed_first_and_alone(pair, result):
    focus = result["focus"]
    assert focus.iloc[0]["group_label"] == CELL and focus.iloc[0]["verdict"] == "grew"
    assert focus.iloc[0]["rank"] == 1 and focus.iloc[0]["question"] == "language x ethnicity"
    assert (focus["verdict"].isin(["grew", "shrank"])).sum() == 1
    # the focus cell is computed although max_order=1
    paired = result["paired"]
    assert (paired["group_label"] == CELL).any()
    # nothing else: every group whose gap is said to have moved holds the changed speakers
    # (so its own value really changed); no group without them is listed
    a, _, cell = pair
    moved = _moved(result["disparity_change"])
    assert CELL in set(moved["group_label"])
    for _, row in moved.iterrows():
        assert (_members(a, row["group"]) & cell).any(), row["group_label"]


def test_identical_values_are_never_a_change(pair, result):
    a, b, cell = pair
    changes = result["disparity_change"]
    agree = changes[(changes["metric"] == "agreement") & (changes["target"] == "ethnicity")]
    untouched = 0
    for _, row in agree.iterrows():
        members = _members(a, row["group"])
        if (members & cell).any() or not members.any():
            continue
        # hand-worked: the group's agreement is the same under A and B, its gap moved only
        # because the overall value moved
        ok_a = (a.loc[members, "recon_ethnicity"] == a.loc[members, "true_ethnicity"]).mean()
        ok_b = (b.loc[members, "recon_ethnicity"] == b.loc[members, "true_ethnicity"]).mean()
        assert ok_a == ok_b
        assert "value_unchanged" in row["flags"], row["group_label"]
        assert not {"grew", "shrank", "significant"} & set(row["flags"])
        assert np.isnan(row["p_value"]) and np.isnan(row["p_adjusted"])
        untouched += row["change"] != 0
    assert untouched >= 12  # the overall value moved, so these gaps "changed" by its move


@pytest.mark.parametrize("table,est", [("paired", "diff"), ("disparity_change", "change")])
def test_interval_excludes_zero_exactly_when_adjusted_p_is_significant(result, table, est):
    frame = result[table]
    tested = frame[frame["p_adjusted"].notna()]
    low, high = tested[f"{est}_sim_low"], tested[f"{est}_sim_high"]
    excludes = ((low > 0) | (high < 0)).to_numpy()
    significant = (tested["p_adjusted"] < ALPHA).to_numpy()
    assert (excludes == significant).all()
    assert significant.sum() >= 3 and (~significant).sum() >= 3
    flagged = tested["flags"].map(lambda f: "significant" in f).to_numpy()
    assert (flagged == significant).all()
    if table == "disparity_change":
        moved = tested["flags"].map(lambda f: "grew" in f or "shrank" in f).to_numpy()
        assert (moved <= significant).all()  # never "grew" / "shrank" without significance
        grew = tested["flags"].map(lambda f: "grew" in f).to_numpy()
        assert (tested["change"].to_numpy()[grew] > 0).all()


def _holm(p):
    """Holm's step-down adjustment, written out."""
    order = np.argsort(p)
    m = len(p)
    out = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        out[i] = min(1.0, running)
    return out


def test_audit_wide_error_control_is_one_holm_family(pair):
    a, b, _ = pair
    kw = {"groupings": ["ethnicity", "language"], "n_boot": 100, "focus": []}
    out = compare_evaluations(a, b, error_control="audit", **kw)
    frames = [out["paired"], out["disparity_change"]]
    p = np.concatenate([f["p_value"].to_numpy(float) for f in frames])
    pa = np.concatenate([f["p_adjusted"].to_numpy(float) for f in frames])
    tested = np.isfinite(pa)
    assert tested.sum() > 50
    np.testing.assert_allclose(pa[tested], _holm(p[tested]), rtol=1e-12)
    family = compare_evaluations(a, b, **kw)
    pf = np.concatenate([f["p_adjusted"].to_numpy(float) for f in family.values() if len(f)])
    assert (pa[tested] >= pf[tested] - 1e-15).all()
    assert len(out["focus"]) == 0  # focus=[]: no question asked
    assert not out["paired"]["attribute"].str.contains(" x ").any()


def test_one_checkpoint_per_arm_gives_the_same_focus_table(pair):
    a, b, _ = pair
    kw = {"groupings": ["language", "ethnicity"], "n_boot": 60, "random_state": 2}
    ref = compare_evaluations(a, b, **kw)
    out = compare_arms([a], [b], **kw)
    assert len(ref["focus"]) > 5
    pd.testing.assert_frame_equal(out["focus"][list(ref["focus"].columns)], ref["focus"])
    # the arm comparison adds the seed columns; one checkpoint per arm measures no seed noise
    assert (
        out["focus"]["seed_verdict"].isin(["one_checkpoint", "too_few", "value_unchanged"])
    ).all()
    assert out["focus"]["seed_sd"].isna().all()
    pd.testing.assert_frame_equal(
        out["disparity_change"][list(ref["disparity_change"].columns)], ref["disparity_change"]
    )


def test_focus_rows_match_the_tables_they_come_from(result):
    focus, changes, paired = result["focus"], result["disparity_change"], result["paired"]
    for _, row in focus.iterrows():
        change = changes.loc[row["row"]]
        assert change["group_label"] == row["group_label"]
        np.testing.assert_equal(change["change"], row["change"])  # NaN where not measured
        assert change["metric"] == "agreement"
        value = paired[
            (paired["metric"] == "agreement")
            & (paired["target"] == row["target"])
            & (paired["group_label"] == row["group_label"])
        ].iloc[0]
        np.testing.assert_equal(value["value_b"], row["value_b"])
        want = abs(row["disparity_b"]) - abs(row["disparity_a"])
        assert row["change"] == pytest.approx(want, nan_ok=True)
    assert set(focus["question"]) == {"language x ethnicity", "gender x age_group"}
    assert focus_changes(paired.iloc[:0], changes, [("language", "ethnicity")]).empty


def test_written_audits_reuse_the_recorded_focus_and_error_control(pair, tmp_path):
    from audit import AuditResult, compare_audits, data_identity

    a, b, _ = pair
    settings = {
        "n_boot": 50,
        "groupings": ["gender", "age_group", "ethnicity"],
        "focus": [["gender", "age_group"]],
        "error_control": "audit",
    }
    paths = []
    for name, table in (("a", a), ("b", b)):
        AuditResult({}, settings=settings, seed=4, data=data_identity(table)).write(
            tmp_path / name, evaluation=table
        )
        paths.append(tmp_path / name / "audit.json")
    out = compare_audits(*paths)
    assert set(out["focus"]["question"]) == {"gender x age_group"}
    direct = compare_evaluations(
        a,
        b,
        n_boot=50,
        groupings=settings["groupings"],
        focus=[("gender", "age_group")],
        error_control="audit",
        random_state=4,
    )
    pd.testing.assert_frame_equal(out["focus"], direct["focus"])
    with pytest.raises(AuditInputError, match="error_control must be one of"):
        compare_evaluations(a, b, error_control="everything")
