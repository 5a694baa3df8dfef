"""The steps behind `audit.stats.metric_tables` checked against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit import make_evaluation_table
from audit._counts import GroupCounts
from audit._disparity import difference_p_values, finish_differences, group_differences
from audit._estimates import GroupingData, TableSettings, estimate_groups, group_intervals
from audit._tables import grouping_records
from audit.stats import SpeakerBootstrap, build_groupings, metric_tables, rate_spec


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_evaluation_table(36, 3, random_state=11)


def _data(table: pd.DataFrame, spec, column: str, n_boot: int = 60) -> GroupingData:
    grouping = build_groupings(table, [column], max_order=1, include_overall=False)[0]
    boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), n_boot, 0)
    point, reps = boot.group_sums(spec.stats, grouping.codes, grouping.n_groups)
    return GroupingData(
        grouping=grouping,
        point=point,
        reps=reps,
        counts=GroupCounts(boot, grouping.codes, grouping.n_groups),
        weights=None,
        columns=lambda s: slice(0, s.n_stats),
    )


def _agreement(table: pd.DataFrame, target: str = "gender"):
    truth, pred = table[f"true_{target}"], table[f"recon_{target}"]
    valid = (truth.notna() & pred.notna()).to_numpy()
    return rate_spec("agreement", target, (truth == pred).to_numpy(float), valid)


def test_estimates_match_a_groupby(table: pd.DataFrame) -> None:
    spec = _agreement(table)
    data = _data(table, spec, "ethnicity")
    est = estimate_groups(data, [spec], TableSettings(reference="overall", min_group_size=2))
    frame = table.assign(hit=spec.stats[:, 0], ok=spec.valid)[spec.valid]
    by = frame.groupby(frame["ethnicity"].astype(str).fillna("(missing)"))
    labels = data.grouping.labels()
    for g, label in enumerate(labels):
        key = label.split("=", 1)[-1]
        rows = by.get_group(key) if key in by.groups else frame.iloc[:0]
        assert est.n_utt[0, g] == len(rows)
        assert est.n_spk[0, g] == rows["speaker_id"].nunique()
        if len(rows):
            assert est.value[0, g] == pytest.approx(rows["hit"].mean(), rel=1e-12)
    assert est.refs == ("overall",)
    assert est.ref_value[0] == pytest.approx(frame["hit"].mean(), rel=1e-12)


def test_steps_in_order_equal_grouping_records(table: pd.DataFrame) -> None:
    spec = _agreement(table)
    data = _data(table, spec, "ethnicity")
    settings = TableSettings(reference={"ethnicity": "White"}, min_group_size=2)
    est = estimate_groups(data, [spec], settings)
    iv = group_intervals(data, est, settings)
    disp = group_differences(data, est, iv, settings)
    difference_p_values(data, est, iv, disp, settings)
    finish_differences(est, iv, disp)
    records = grouping_records(data, [spec], settings)
    ref = est.refs[0]
    assert isinstance(ref, int) and records[ref]["group_label"].endswith("White")
    assert "reference" in records[ref]["flags"] and np.isnan(records[ref]["difference"])
    tested = 0
    for g, rec in enumerate(records):
        np.testing.assert_equal(rec["value"], est.value[0, g])
        np.testing.assert_equal(rec["ci_low"], iv.low[0, g])
        np.testing.assert_equal(rec["p_value"], disp.p[0, g])
        if g != ref and np.isfinite(rec["p_value"]):
            tested += 1
            assert rec["difference"] == est.value[0, g] - est.value[0, ref]
            assert rec["diff_ci_low"] <= rec["difference"] <= rec["diff_ci_high"]
    assert tested >= 2


def test_best_of_two_groups_is_the_fixed_reference_test(table: pd.DataFrame) -> None:
    """With two candidates the max-T p-value equals the two-sided fixed-reference one."""
    spec = _agreement(table)
    grouping = build_groupings(table, ["gender"], max_order=1, include_overall=False)
    boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), 200, 1)
    best, _ = metric_tables(table, [spec], grouping, boot, reference="best", min_group_size=2)
    winner = best.loc[best["flags"].map(lambda f: "reference" in f), "group_label"].item()
    other = best[best["group_label"] != winner]
    named, _ = metric_tables(
        table, [spec], grouping, boot, reference={"gender": winner.split("=")[-1]},
        min_group_size=2,
    )  # fmt: skip
    fixed = named[named["group_label"] != winner]
    assert len(other) == 1 and np.isfinite(other["p_value"].item())
    # (p / 2) * 2 is exact in floating point, so the two agree to the last bit
    assert other["p_value"].item() == fixed["p_value"].item()
    assert other["difference"].item() == fixed["difference"].item()
