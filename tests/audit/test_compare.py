import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit import (
    AuditResult,
    MismatchedRowsError,
    SmallGroupWarning,
    compare_audits,
    compare_evaluations,
    make_evaluation_table,
    run_audit_tables,
)
from audit.stats import mcnemar_exact

KW = {"groupings": ["ethnicity", "gender"], "n_boot": 100, "random_state": 4}


@pytest.fixture(scope="module")
def pair():
    a = make_evaluation_table(150, 3, random_state=21)
    b = a.copy()
    rng = np.random.default_rng(0)
    # model B recovers Black speakers' ethnicity much better and is otherwise a re-draw
    black = (b["true_ethnicity"] == "Black").to_numpy()
    fix = black & (rng.random(len(b)) < 0.7)
    b.loc[fix, "recon_ethnicity"] = "Black"
    flip = rng.random(len(b)) < 0.05
    b.loc[flip, "recon_gender"] = np.where(b.loc[flip, "recon_gender"] == "male", "female", "male")
    return a, b


@pytest.fixture(scope="module")
def result(pair):
    return compare_evaluations(*pair, **KW)


def _row(frame, **eq):
    mask = np.ones(len(frame), dtype=bool)
    for k, v in eq.items():
        mask &= (frame[k] == v).to_numpy()
    assert mask.sum() == 1
    return frame[mask].iloc[0]


def test_paired_values_match_single_audits(pair, result):
    a, b = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        ma = run_audit_tables(a, max_order=1, **KW)["metrics"]
        mb = run_audit_tables(b, max_order=1, **KW)["metrics"]
    paired = result["paired"]
    for label in ("ethnicity=Black", "ethnicity=White", "all"):
        r = _row(paired, metric="agreement", target="ethnicity", group_label=label)
        assert (
            r["value_a"]
            == _row(ma, metric="agreement", target="ethnicity", group_label=label)["value"]
        )
        assert (
            r["value_b"]
            == _row(mb, metric="agreement", target="ethnicity", group_label=label)["value"]
        )
        assert r["difference"] == pytest.approx(r["value_b"] - r["value_a"])
    black = _row(paired, metric="agreement", target="ethnicity", group_label="ethnicity=Black")
    assert black["diff_ci_low"] > 0 and "significant" in black["flags"]


def test_mcnemar_counts_and_exact_p(pair, result):
    a, b = pair
    r = _row(result["paired"], metric="agreement", target="gender", group_label="all")
    ca = (a["true_gender"] == a["recon_gender"]).to_numpy()
    cb = (b["true_gender"] == b["recon_gender"]).to_numpy()
    assert r["mcnemar_b"] == np.sum(ca & ~cb) and r["mcnemar_c"] == np.sum(~ca & cb)
    b, c = int(r["mcnemar_b"]), int(r["mcnemar_c"])
    want = stats.binomtest(min(b, c), b + c, 0.5).pvalue
    assert r["mcnemar_p"] == pytest.approx(want)
    assert mcnemar_exact(0, 0) == 1.0
    # hand value: b = 10, c = 2 -> 2 * P(X <= 2 | n = 12, p = 1/2) = 2 * 79 / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(2 * 79 / 4096)
    cos = _row(result["paired"], metric="cos_sim", target="feature", group_label="all")
    # not applicable: NaN (never a count such as -1 that a table could sum) and a flag
    assert np.isnan(cos["mcnemar_b"]) and np.isnan(cos["mcnemar_c"])
    assert np.isnan(cos["mcnemar_p"]) and "mcnemar_not_applicable" in cos["flags"]
    assert "mcnemar_not_applicable" not in r["flags"]
    agree = result["paired"].query("metric == 'agreement'")
    assert agree[["mcnemar_b", "mcnemar_c"]].notna().all().all()
    assert (agree["mcnemar_b"] >= 0).all() and (agree["mcnemar_c"] >= 0).all()


def test_disparity_change_shrinks_for_the_fixed_group(result):
    ch = _row(
        result["disparity_change"],
        metric="agreement",
        target="ethnicity",
        group_label="ethnicity=Black",
    )
    assert ch["disparity_a"] < ch["disparity_b"] <= 0.2
    assert ch["change"] == pytest.approx(abs(ch["disparity_b"]) - abs(ch["disparity_a"]))
    assert "shrank" in ch["flags"]


def test_identical_models_show_no_change(pair):
    a, _ = pair
    out = compare_evaluations(a, a.sample(frac=1.0, random_state=1), **KW)
    paired = out["paired"].dropna(subset=["difference"])
    assert (paired["difference"] == 0).all()
    assert (paired["p_value"].dropna() == 1).all()  # NaN only below 2 speakers
    assert not out["disparity_change"]["flags"].map(lambda f: "grew" in f or "shrank" in f).any()
    # no spread between the models: no interval, flagged, never a [0, 0] claiming certainty
    assert paired[["diff_ci_low", "diff_ci_high"]].isna().all().all()
    several = paired[paired["n_speakers"] >= 2]  # one speaker: no interval anyway
    assert several["flags"].map(lambda f: "degenerate_ci" in f).all()


def test_models_differing_on_some_speakers_keep_their_intervals(result):
    paired = result["paired"]
    row = paired[
        (paired["metric"] == "agreement")
        & (paired["target"] == "ethnicity")
        & (paired["group_label"] == "all")
    ].iloc[0]
    assert row["diff_ci_low"] < row["difference"] < row["diff_ci_high"]
    assert "degenerate_ci" not in row["flags"]


def test_refuses_different_rows(pair):
    a, b = pair
    with pytest.raises(MismatchedRowsError, match=r"1 only in A \(e.g. \['u00000_0'\]\)"):
        compare_evaluations(a, b.iloc[1:], **KW)
    other = b.copy()
    other.loc[0, "speaker_id"] = "s99999"
    with pytest.raises(MismatchedRowsError, match="utterance 'u00000_0': speaker_id is"):
        compare_evaluations(a, other, **KW)
    other = b.copy()
    other.loc[3, "gender"] = "female" if other.loc[3, "gender"] == "male" else "male"
    with pytest.raises(MismatchedRowsError, match="gender is"):
        compare_evaluations(a, other, **KW)


def test_compare_written_audits(pair, tmp_path):
    a, b = pair
    for name, table in (("a", a), ("b", b)):
        AuditResult(
            {}, settings={"groupings": ["ethnicity", "gender"], "n_boot": 100}, seed=4
        ).write(tmp_path / name, evaluation=table)
    out = compare_audits(tmp_path / "a" / "audit.json", tmp_path / "b")
    direct = compare_evaluations(a, b, **KW)
    pd.testing.assert_frame_equal(out["paired"], direct["paired"])
