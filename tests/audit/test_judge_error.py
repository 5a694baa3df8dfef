"""The judge's error in view: accuracy per group and the judge-corrected confusion (#16)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from audit import SmallGroupWarning, run_audit_tables
from audit._judge_error import correct_confusion, judge_corrected_confusion
from audit.stats import SpeakerBootstrap, build_groupings

LABELS = ("A", "B", "C")
#: What the reconstructions of each speaker class really are (rows: recorded class).
TRUE_CONFUSION = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.1, 0.8]])
#: The judge: P(says j | face is k).
JUDGE = np.array([[0.85, 0.1, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])


def _simulate(n_speakers, utt, seed):
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, 3, n_speakers)  # recorded class of each speaker
    true_judged = np.array([rng.choice(3, p=JUDGE[a]) for a in actual])  # one face each
    spk = np.repeat(np.arange(n_speakers), utt)
    recon_actual = np.array([rng.choice(3, p=TRUE_CONFUSION[actual[s]]) for s in spk])
    recon_judged = np.array([rng.choice(3, p=JUDGE[r]) for r in recon_actual])
    lab = np.array(LABELS, dtype=object)
    return pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(len(spk))],
            "speaker_id": [f"s{s}" for s in spk],
            "grp": np.where(spk % 2 == 0, "even", "odd").astype(object),
            "attr": lab[actual[spk]],
            "true_attr": lab[true_judged[spk]],
            "recon_attr": lab[recon_judged],
        }
    )


def _corrected(table, n_boot=400, seed=1):
    groupings = build_groupings(table, ["grp"], 1)
    boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), n_boot, seed)
    return judge_corrected_confusion(table, "attr", LABELS, groupings, boot)


def test_correction_is_exact_on_expected_counts():
    observed = 100 * TRUE_CONFUSION @ JUDGE
    np.testing.assert_allclose(correct_confusion(observed, 1000 * JUDGE), TRUE_CONFUSION)
    # a singular judge (it cannot tell A from B) gives no corrected confusion
    blind = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    assert np.isnan(correct_confusion(observed, blind)).all()


def test_planted_true_confusion_is_recovered_within_its_interval():
    # one draw: each of the 9 cells' 95 % intervals may miss with probability ~0.05, so one
    # draw is asked for at least 7 of 9 (at independent 95 % coverage, 2 or more misses have
    # probability 0.07 and 3 or more 0.008); coverage over many draws is the slow test below
    table = _simulate(900, 3, seed=0)
    rec = _corrected(table)
    overall = rec[rec["attribute"] == "overall"]
    got = overall.pivot(index="true_label", columns="pred_label", values="value")
    low = overall.pivot(index="true_label", columns="pred_label", values="ci_low")
    high = overall.pivot(index="true_label", columns="pred_label", values="ci_high")
    raw = overall.pivot(index="true_label", columns="pred_label", values="value_raw")
    covered = (low.to_numpy() <= TRUE_CONFUSION) & (TRUE_CONFUSION <= high.to_numpy())
    assert covered.sum() >= 7, covered
    # the correction matters: the raw confusion is off by more than the corrected one
    err_raw = np.abs(raw.to_numpy() - TRUE_CONFUSION).max()
    err_cor = np.abs(got.to_numpy() - TRUE_CONFUSION).max()
    assert err_raw > 0.1 and err_cor < 0.05, (err_raw, err_cor)
    # the interval carries the judge's uncertainty: wider than the raw rate's spread alone
    assert (high - low).to_numpy().min() > 0


@pytest.mark.slow
def test_corrected_interval_coverage_slow():
    hits = np.zeros((3, 3))
    reps = 60
    for r in range(reps):
        rec = _corrected(_simulate(600, 3, seed=100 + r), n_boot=300, seed=r)
        o = rec[rec["attribute"] == "overall"]
        lo = o.pivot(index="true_label", columns="pred_label", values="ci_low").to_numpy()
        hi = o.pivot(index="true_label", columns="pred_label", values="ci_high").to_numpy()
        hits += (lo <= TRUE_CONFUSION) & (TRUE_CONFUSION <= hi)
    assert (hits / reps).min() >= 0.85, hits / reps


def test_audit_tables_include_judge_accuracy_and_corrected_confusion():
    table = _simulate(300, 3, seed=2).rename(
        columns={"attr": "gender", "true_attr": "true_gender", "recon_attr": "recon_gender"}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        tabs = run_audit_tables(table, groupings=["grp"], max_order=1, n_boot=100)
    acc = tabs["judge_accuracy_by_group"]
    overall = acc[acc["attribute"] == "overall"].iloc[0]
    expected = (table["true_gender"] == table["gender"]).mean()
    assert overall["metric"] == "judge_accuracy" and overall["value"] == pytest.approx(expected)
    assert overall["ci_low"] < overall["value"] < overall["ci_high"]
    corr = tabs["confusion_judge_corrected"]
    assert set(corr["target"]) == {"gender"} and corr["value_raw"].notna().all()
