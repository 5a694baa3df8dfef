"""Arms of several training seeds: `audit.compare_arms` and its seed statistics."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit import (
    AuditInputError,
    AuditResult,
    MismatchedRowsError,
    compare_arm_audits,
    compare_arms,
    compare_evaluations,
    make_evaluation_table,
)
from audit._arms_stats import seed_interval, seed_spread

KW = {"groupings": ["ethnicity"], "n_boot": 60, "random_state": 4}


def _redraw(table, share, seed):
    """Another checkpoint: gender and ethnicity predictions of a share of rows flipped."""
    out = table.copy()
    rng = np.random.default_rng(seed)
    flip = rng.random(len(out)) < share
    out.loc[flip, "recon_gender"] = np.where(
        out.loc[flip, "recon_gender"] == "male", "female", "male"
    )
    fix = rng.random(len(out)) < share
    out.loc[fix, "recon_ethnicity"] = out.loc[fix, "true_ethnicity"]
    return out


@pytest.fixture(scope="module")
def seeds():
    base = make_evaluation_table(80, 3, random_state=21)
    return [_redraw(base, 0.1, s) for s in range(4)]


def _row(frame, **eq):
    mask = np.ones(len(frame), dtype=bool)
    for k, v in eq.items():
        mask &= (frame[k] == v).to_numpy()
    assert mask.sum() == 1
    return frame[mask].iloc[0]


def test_one_checkpoint_per_arm_equals_the_paired_comparison(seeds):
    a, b = seeds[0], seeds[1].sample(frac=1.0, random_state=3)  # B in another row order
    ref = compare_evaluations(a, b, **KW)
    out = compare_arms([a], [b], **KW)
    for name in ("paired", "disparity_change"):
        assert len(ref[name]) > 50
        pd.testing.assert_frame_equal(out[name][list(ref[name].columns)], ref[name])
    assert (out["paired"]["n_seeds_a"] == 1).all() and out["paired"]["seed_se"].isna().all()
    both = out["paired"][["diff_ci_low", "speaker_ci_low"]].dropna()
    assert len(both) and (both["diff_ci_low"] == both["speaker_ci_low"]).all()


def test_arm_values_are_seed_means_and_spread_is_their_sd(seeds):
    out = compare_arms(seeds[:2], seeds[2:], **KW)["paired"]
    singles = [compare_evaluations(seeds[0], s, **KW)["paired"] for s in seeds]
    label = "ethnicity=Black"
    per_seed = np.array(
        [
            _row(t, metric="agreement", target="gender", group_label=label)["value_b"]
            for t in singles
        ]
    )
    r = _row(out, metric="agreement", target="gender", group_label=label)
    assert r["value_a"] == pytest.approx(per_seed[:2].mean(), abs=1e-15)
    assert r["value_b"] == pytest.approx(per_seed[2:].mean(), abs=1e-15)
    assert r["value_a_seed_sd"] == pytest.approx(np.std(per_seed[:2], ddof=1), abs=1e-15)
    assert (r["value_b_seed_min"], r["value_b_seed_max"]) == (
        per_seed[2:].min(),
        per_seed[2:].max(),
    )
    pooled = np.sqrt((np.var(per_seed[:2], ddof=1) + np.var(per_seed[2:], ddof=1)) / 2)
    assert r["seed_sd"] == pytest.approx(pooled, abs=1e-15)
    seed_se = pooled * np.sqrt(1 / 2 + 1 / 2)
    assert r["seed_se"] == pytest.approx(seed_se, abs=1e-15)
    half = r["diff_ci_high"] - r["difference"]
    q = stats.t.ppf(0.975, r["df"])
    assert half == pytest.approx(q * np.hypot(r["speaker_se"], r["seed_se"]), rel=1e-12)
    assert r["difference"] - r["diff_ci_low"] == pytest.approx(half, rel=1e-9)
    assert "mcnemar_not_applicable" in r["flags"] and np.isnan(r["mcnemar_p"])


def test_swapped_seeds_show_no_difference_and_a_larger_seed_spread(seeds):
    a, b = seeds[0], seeds[1]
    out = compare_arms([a, b], [b, a], **KW)["paired"]
    r = _row(out, metric="agreement", target="gender", group_label="all")
    assert r["difference"] == 0.0 and r["seed_sd"] > 0
    assert "seed_spread_exceeds_difference" in r["flags"]
    assert "significant" not in r["flags"] and r["p_value"] == pytest.approx(1.0)
    # the single-checkpoint comparison of the same models can flag what is seed noise
    single = compare_arms([a], [b], **KW)["paired"]
    s = _row(single, metric="agreement", target="gender", group_label="all")
    assert s["difference"] != 0 and "seed_spread_exceeds_difference" not in s["flags"]


def test_seed_interval_hand_worked():
    # speaker replicates with sample variance 0.0004 over m = 21 speakers: V_spk = 0.00042
    reps = np.array([[-1.0], [1.0]]) * np.sqrt(0.0002)  # ddof=1 variance 2 x 0.0002
    a = np.array([[0.60], [0.70], [0.80]])  # s^2 = 0.01, k = 3
    b = np.array([[0.75], [0.85]])  # s^2 = 0.005, k = 2
    out = seed_interval(np.array([0.125]), reps, np.array([21]), a, b)
    v_spk = 0.0004 * 21 / 20
    pooled = (2 * 0.01 + 1 * 0.005) / 3  # 3 degrees of freedom
    v_seed = pooled * (1 / 3 + 1 / 2)
    total = v_spk + v_seed
    df = 3  # the pooled seed variance's degrees of freedom
    assert out["df"][0] == df
    assert out["seed_se"][0] == pytest.approx(np.sqrt(v_seed), rel=1e-12)
    half = stats.t.ppf(0.975, df) * np.sqrt(total)
    assert out["ci_low"][0] == pytest.approx(0.125 - half, rel=1e-12)
    assert out["p_value"][0] == pytest.approx(2 * stats.t.sf(0.125 / np.sqrt(total), df), rel=1e-12)
    assert not out["one_arm"][0]
    # one seed in B: A's variance stands for both arms, with k_A - 1 = 2 degrees of freedom
    one = seed_interval(np.array([0.125]), reps, np.array([21]), a, b[:1])
    v_seed = 0.01 * (1 / 3 + 1)
    assert one["seed_se"][0] == pytest.approx(np.sqrt(v_seed), rel=1e-12)
    assert one["df"][0] == 2
    half = stats.t.ppf(0.975, 2) * np.sqrt(v_spk + v_seed)
    assert one["ci_high"][0] == pytest.approx(0.125 + half, rel=1e-12)
    assert one["one_arm"][0]


def test_seed_spread_pools_only_arms_with_two_seeds():
    out = seed_spread(np.array([[0.5, 0.1]]), np.array([[0.8, 0.2], [0.6, 0.2]]))
    assert np.isnan(out["sd_a"]).all() and out["min_a"].tolist() == [0.5, 0.1]
    assert out["seed_sd"] == pytest.approx([np.sqrt(0.02), 0.0])
    # equal values up to rounding (sums taken in another order) have no spread
    equal = seed_spread(np.array([[0.05], [0.05 + 1e-17]]), np.array([[0.05], [0.05]]))
    assert equal["seed_sd"][0] == 0.0 and equal["sd_a"][0] == 0.0


def test_one_seed_in_one_arm_is_flagged(seeds):
    out = compare_arms(seeds[:1], seeds[1:4], **KW)["paired"]
    r = _row(out, metric="agreement", target="gender", group_label="all")
    assert "seed_variance_from_one_arm" in r["flags"] and r["n_seeds_b"] == 3


def test_same_seed_same_numbers_and_another_seed_other_intervals(seeds):
    one = compare_arms(seeds[:2], seeds[2:], **KW)["paired"]
    two = compare_arms(seeds[:2], seeds[2:], **KW)["paired"]
    pd.testing.assert_frame_equal(one, two)
    other = compare_arms(seeds[:2], seeds[2:], **{**KW, "random_state": 5})["paired"]
    pd.testing.assert_series_equal(one["difference"], other["difference"])
    assert not np.allclose(one["speaker_se"], other["speaker_se"], equal_nan=True)


def test_refuses_empty_arms_and_other_rows(seeds):
    with pytest.raises(AuditInputError, match="arm B holds no evaluation table"):
        compare_arms(seeds[:1], [], **KW)
    with pytest.raises(AuditInputError, match="arm A, checkpoint 1: expected an evaluation"):
        compare_arms([seeds[0], "seed-1.csv"], seeds[1:2], **KW)
    short = seeds[2].iloc[3:]
    with pytest.raises(MismatchedRowsError, match="3 only in A"):
        compare_arms(seeds[:2], [seeds[1], short], **KW)


def test_compare_written_arms(seeds, tmp_path):
    paths = []
    for i, table in enumerate(seeds):
        AuditResult({}, settings={"groupings": ["ethnicity"], "n_boot": 60}, seed=4).write(
            tmp_path / f"seed-{i}", evaluation=table
        )
        paths.append(tmp_path / f"seed-{i}" / "audit.json")
    out = compare_arm_audits(paths[:2], [p.parent for p in paths[2:]])
    direct = compare_arms(seeds[:2], seeds[2:], **KW)
    pd.testing.assert_frame_equal(out["paired"], direct["paired"])
    with pytest.raises(AuditInputError, match="lists of audit paths"):
        compare_arm_audits(str(paths[0]), paths[1:])


def test_paired_and_change_records_carry_their_report_section() -> None:
    table = make_evaluation_table(40, 2, random_state=3)
    out = compare_evaluations(table, table, groupings=["gender"], n_boot=20, min_group_size=2)
    # sections worked out by hand from the metric (what audit.json's metrics records say)
    expected = {"agreement": "agreement", "kappa": "agreement", "recall@1": "retrieval"}
    expected |= {"cos_sim": "similarity", "l2": "similarity", "ece": "calibration"}
    for name in ("paired", "disparity_change"):
        frame = out[name]
        # no input-length metric here, so section is the only key added, after the others
        assert list(frame.columns)[-2:] == ["sim_alpha", "section"]
        assert frame["section"].notna().all()
        for metric, section in expected.items():
            rows = frame[frame["metric"] == metric]
            assert len(rows) > 0 and (rows["section"] == section).all(), (name, metric)
