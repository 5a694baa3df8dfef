"""Rates at the boundary (every speaker at 0 or 1): intervals and tests that do not collapse.

Hand computations use only the standard library (``statistics.NormalDist`` for z) and the
closed forms of the Wilson interval and the binomial distribution.
"""

import math
import warnings
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score

from audit import SmallGroupWarning, make_evaluation_table, run_audit_tables
from audit._bootstrap import effective_sample_size, wilson_interval
from audit.stats import (
    SpeakerBootstrap,
    bootstrap_interval,
    bootstrap_p_value,
    build_groupings,
    metric_tables,
    rate_spec,
)

Z = NormalDist().inv_cdf(0.975)


def _wilson(k, n, z=Z):
    """Wilson score interval of k successes in n trials, by hand."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _table(groups, correct, speakers=None):
    """Evaluation table of one judged attribute: ``correct`` rows agree, others do not."""
    n = len(groups)
    speakers = speakers if speakers is not None else [f"s{i}" for i in range(n)]
    correct = np.asarray(correct, dtype=bool)
    return pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(n)],
            "speaker_id": speakers,
            "grp": groups,
            "true_g": "f",
            "recon_g": np.where(correct, "f", "m"),
        }
    )


def _audit(table, **kw):
    kw = {"groupings": ["grp"], "n_boot": 400, "min_group_size": 3, "random_state": 0, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return run_audit_tables(table, **kw)


def _row(frame, **eq):
    mask = np.ones(len(frame), dtype=bool)
    for key, val in eq.items():
        mask &= (frame[key] == val).to_numpy()
    assert mask.sum() == 1, eq
    return frame[mask].iloc[0]


def test_wilson_interval_hand_computation():
    # 0 of 10: upper bound z^2 / (10 + z^2) = 0.2775
    low, high = wilson_interval(0.0, 10)
    assert low == 0.0 and high == pytest.approx(Z * Z / (10 + Z * Z), rel=1e-12)
    assert round(float(high), 4) == 0.2775
    for k, n in [(3, 20), (19, 20), (20, 20), (7, 7.5)]:
        want = _wilson(k, n) if k <= n else None
        got = wilson_interval(k / n, n)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # another level: z from the standard library
    got = wilson_interval(0.25, 40, level=0.9)
    np.testing.assert_allclose(got, _wilson(10, 40, NormalDist().inv_cdf(0.95)), rtol=1e-12)
    assert np.isnan(wilson_interval(np.nan, 10)[0]) and np.isnan(wilson_interval(0.5, 0)[1])


def test_effective_sample_size_rule():
    # boundary or zero variance: the number of speakers, not of utterances
    assert effective_sample_size(0.0, 0.0, 50, 5) == 5
    assert effective_sample_size(1.0, 0.01, 50, 5) == 5
    assert effective_sample_size(0.4, 0.0, 50, 5) == 5
    # informative: n / deff with deff = v m/(m-1) / (p(1-p)/n), i.e. p(1-p) / (v m/(m-1))
    v = 0.24 / 20
    assert effective_sample_size(0.4, v, 100, 40) == pytest.approx(0.24 / (v * 40 / 39))
    # never more than the rows (a bootstrap variance below binomial is not evidence)
    assert effective_sample_size(0.4, 1e-6, 100, 40) == 100


def test_all_zero_group_gets_the_wilson_interval_at_its_speakers():
    # 10 speakers, one utterance each, none agree: 0.0% (95% CI 0.0% to 27.75%), not [0, 0]
    groups = ["a"] * 10 + ["b"] * 30
    correct = np.r_[np.zeros(10), np.arange(30) % 2 == 0]
    rec = _row(_audit(_table(groups, correct))["metrics"], metric="agreement", group_label="grp=a")
    assert rec["value"] == 0.0 and rec["ci_low"] == 0.0
    assert rec["ci_high"] == pytest.approx(_wilson(0, 10)[1], rel=1e-12)
    assert round(rec["ci_high"], 4) == 0.2775
    # and at 1: the mirror image
    rec1 = _row(
        _audit(_table(groups, 1 - np.r_[np.zeros(10), correct[10:]]))["metrics"],
        metric="agreement",
        group_label="grp=a",
    )
    assert rec1["value"] == 1.0 and rec1["ci_high"] == 1.0
    assert rec1["ci_low"] == pytest.approx(1 - _wilson(0, 10)[1], rel=1e-12)


def test_clustered_boundary_counts_speakers_not_utterances():
    # 5 speakers x 4 utterances all at 0: n_eff = 5, so the upper bound is z^2 / (5 + z^2)
    spk_a = np.repeat([f"a{i}" for i in range(5)], 4)
    spk_b = np.repeat([f"b{i}" for i in range(20)], 4)
    groups = ["a"] * 20 + ["b"] * 80
    correct = np.r_[np.zeros(20), np.tile([1, 0, 1, 1], 20)]
    tabs = _audit(_table(groups, correct, list(spk_a) + list(spk_b)))
    rec = _row(tabs["metrics"], metric="agreement", group_label="grp=a")
    assert rec["n_utterances"] == 20 and rec["n_speakers"] == 5
    assert rec["ci_high"] == pytest.approx(Z * Z / (5 + Z * Z), rel=1e-12)  # 0.4345
    assert rec["ci_high"] > _wilson(0, 20)[1] + 0.2  # far wider than 20 independent rows
    # per-class recall, confusion cells share the rule
    rec = _row(tabs["metrics"], metric="recall", label="f", group_label="grp=a")
    assert rec["ci_high"] == pytest.approx(Z * Z / (5 + Z * Z), rel=1e-12)
    conf = tabs["confusion"]
    cell = _row(conf, metric="confusion", group_label="grp=a", true_label="f", pred_label="f")
    assert cell["value"] == 0.0 and cell["ci_high"] == pytest.approx(Z * Z / (5 + Z * Z))


def test_informative_interval_contains_bootstrap_and_wilson_at_design_effect():
    rng = np.random.default_rng(3)
    spk = np.repeat(np.arange(60), 3)
    p_spk = np.clip(rng.normal(0.6, 0.25, 60), 0.02, 0.98)
    y = (rng.random(len(spk)) < p_spk[spk]).astype(float)
    codes = (spk >= 20).astype(np.int64)  # 20 speakers in group 0, 40 in group 1
    table = pd.DataFrame({"speaker_id": spk, "grp": np.where(codes == 0, "a", "b")})
    spec = rate_spec("agreement", "g", y, np.ones(len(y), dtype=bool))
    assert spec.binary
    boot = SpeakerBootstrap(spk, 300, 5)
    grouping = next(g for g in build_groupings(table, ["grp"], 1) if g.attribute == "grp")
    got, _ = metric_tables(table, [spec], [grouping], boot, min_group_size=5)
    # independent recomputation from the same replicates
    _, reps = SpeakerBootstrap(spk, 300, 5).group_sums(
        np.column_stack([y, np.ones_like(y)]), codes, 2
    )
    rate_reps = reps[:, :, 0] / reps[:, :, 1]
    m = np.array([20, 40])
    b_low, b_high = bootstrap_interval(rate_reps, m)
    for g, label in enumerate(["grp=a", "grp=b"]):
        p = y[codes == g].mean()
        v = rate_reps[:, g].var(ddof=1) * m[g] / (m[g] - 1)
        n_eff = min(p * (1 - p) / v, (codes == g).sum())
        w_low, w_high = _wilson(p * n_eff, n_eff)
        rec = _row(got, group_label=label)
        assert rec["ci_low"] == pytest.approx(min(b_low[g], w_low), rel=1e-9)
        assert rec["ci_high"] == pytest.approx(max(b_high[g], w_high), rel=1e-9)
    # a continuous mean is not a rate: no Wilson floor
    assert not rate_spec("cos_sim", "feature", y * 0.5 + 0.1, np.ones(len(y), bool)).binary


def test_zero_of_five_speakers_is_not_significant_against_a_quarter():
    # 5 speakers at 0 against an overall rate of 0.25: exact P(0/5 | 0.25) = 0.75^5 = 0.237
    assert 0.75**5 == pytest.approx(stats.binom.pmf(0, 5, 0.25))
    groups = ["a"] * 5 + ["b"] * 35
    correct = np.r_[np.zeros(5), np.ones(10), np.zeros(25)]
    tabs = _audit(_table(groups, correct), correction="none")
    rec = _row(tabs["metrics"], metric="agreement", group_label="grp=a")
    assert rec["reference_value"] == 0.25 and rec["difference"] == -0.25
    assert rec["p_value"] > 0.05 and "significant" not in rec["flags"]
    assert rec["p_value"] > 0.5 * 0.75**5  # of the order of the exact binomial tail
    # the difference's interval does not collapse and contains 0
    assert rec["diff_ci_low"] < -0.25 < 0 < rec["diff_ci_high"]
    assert rec["ratio_ci_low"] == 0.0 and rec["ratio_ci_high"] > 1.0
    # same with the other group as a named reference
    tabs = _audit(_table(groups, correct), correction="none", reference={"grp": "b"})
    rec = _row(tabs["metrics"], metric="agreement", group_label="grp=a")
    assert rec["p_value"] > 0.05 and rec["diff_ci_low"] < rec["difference"] < 0
    assert rec["diff_ci_high"] > 0


def test_clear_gap_at_the_boundary_stays_significant():
    # 30 speakers at 0 against 60 at 0.8: a real gap is still found
    groups = ["a"] * 30 + ["b"] * 60
    correct = np.r_[np.zeros(30), np.arange(60) % 5 != 0]
    rec = _row(
        _audit(_table(groups, correct), correction="none")["metrics"],
        metric="agreement",
        group_label="grp=a",
    )
    assert rec["p_value"] < 1e-4 and "significant" in rec["flags"]


def test_degenerate_mean_is_not_significant_from_the_reference_spread_alone():
    # every speaker of a (4 speakers) has cos_sim 0.40; b's 40 speakers spread around 0.55.
    # The bootstrap variance of a is 0, so the old test saw only b's spread (p = 0.016).
    rng = np.random.default_rng(0)
    n_b = 40
    t = pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(4 + n_b)],
            "speaker_id": [f"s{i}" for i in range(4 + n_b)],
            "grp": ["a"] * 4 + ["b"] * n_b,
            "cos_sim": np.r_[np.full(4, 0.40), rng.normal(0.55, 0.2, n_b)],
        }
    )
    rec = _row(_audit(t, correction="none")["metrics"], metric="cos_sim", group_label="grp=a")
    # a pooled two-sample t-test of speaker values agrees that 4 speakers cannot tell
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # group a is constant, on purpose
        ref = stats.ttest_ind(t["cos_sim"][:4], t["cos_sim"][4:]).pvalue
    assert ref > 0.05
    assert rec["p_value"] > 0.05 and "significant" not in rec["flags"]
    assert rec["p_value"] >= 0.5 * ref  # not anti-conservative against that test


def test_p_value_without_any_spread_is_nan_not_zero():
    reps = np.zeros((50, 2))
    p = bootstrap_p_value(np.array([0.0, -0.25]), reps, np.array([5, 5]))
    assert p[0] == 1.0 and np.isnan(p[1])
    # a floor on the standard error: t = 0.25 / 0.2 on 4 degrees of freedom
    p = bootstrap_p_value(np.array([-0.25]), reps[:, :1], np.array([5]), null_se=np.array([0.2]))
    assert p[0] == pytest.approx(2 * stats.t.sf(1.25, 4), rel=1e-12)


def test_macro_recall_and_kappa_on_the_groups_rows_only():
    # group x has only true class "m"; group y has both; "f" is empty in x
    t = pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(12)],
            "speaker_id": [f"s{i}" for i in range(12)],
            "grp": ["x"] * 6 + ["y"] * 6,
            "true_g": ["m"] * 6 + ["m", "m", "f", "f", "f", "m"],
            "recon_g": ["m", "m", "m", "f", "m", "f", "m", "f", "f", "f", "m", "m"],
        }
    )
    m = _audit(t, n_boot=100, min_group_size=2)["metrics"]
    for label, rows in (("grp=x", t[:6]), ("grp=y", t[6:]), ("all", t)):
        macro = _row(m, metric="macro_recall", group_label=label)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true"
            want = balanced_accuracy_score(rows["true_g"], rows["recon_g"])
        assert macro["value"] == pytest.approx(want, rel=1e-12)
        kappa = _row(m, metric="kappa", group_label=label)
        if rows["true_g"].nunique() == 1:
            assert np.isnan(kappa["value"]) and "single_class" in kappa["flags"]
            assert "single_class" in macro["flags"]
            assert np.isnan(kappa["p_value"]) and np.isnan(kappa["p_adjusted"])
            assert "unstable_ci" not in kappa["flags"]
        else:
            want = cohen_kappa_score(rows["true_g"], rows["recon_g"])
            assert kappa["value"] == pytest.approx(want, rel=1e-12)
            assert "single_class" not in kappa["flags"]
    # group x: macro recall is the recall of "m" alone (4/6), not (4/6 + 0) / 2
    assert _row(m, metric="macro_recall", group_label="grp=x")["value"] == pytest.approx(4 / 6)


def test_rate_rows_of_a_full_audit_never_collapse():
    table = make_evaluation_table(60, 3, random_state=2)
    tabs = _audit(table, groupings=None, max_order=2, n_boot=100, min_group_size=5)
    m = tabs["metrics"]
    rates = m[m["metric"].str.contains("agreement|recall") & (m["n_speakers"] >= 2)]
    rates = rates[rates["value"].isin([0.0, 1.0])]
    assert len(rates) > 0
    assert (rates["ci_high"] - rates["ci_low"] > 0).all()
    pitch = tabs["pitch"]
    edge = pitch[pitch["value"].isin([0.0, 1.0]) & (pitch["n_speakers"] >= 2)]
    assert len(edge) > 0 and (edge["ci_high"] - edge["ci_low"] > 0).all()


def _degenerate_table(n_a=12, n_b=30, seed=0):
    """Group a: 12 speakers, both classes, every reconstruction right at confidence 0.95 and
    a constant cos_sim; group b: 30 speakers with spread everywhere."""
    rng = np.random.default_rng(seed)
    true = np.r_[np.tile(["f", "m"], n_a // 2), rng.choice(["f", "m"], n_b)]
    flip = np.where(true[n_a:] == "f", "m", "f")
    recon = np.r_[true[:n_a], np.where(rng.random(n_b) < 0.7, true[n_a:], flip)]
    conf = np.r_[np.full(n_a, 0.95), rng.uniform(0.55, 0.95, n_b)]
    p_f = np.where(recon == "f", conf, 1 - conf)
    n = n_a + n_b
    return pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(n)],
            "speaker_id": [f"s{i}" for i in range(n)],
            "grp": ["a"] * n_a + ["b"] * n_b,
            "true_g": true,
            "recon_g": recon,
            "recon_g_p_f": p_f,
            "recon_g_p_m": 1 - p_f,
            "cos_sim": np.r_[np.full(n_a, 0.4), rng.normal(0.5, 0.1, n_b)],
        }
    )


def test_intervals_that_would_collapse_are_widened_or_marked_degenerate():
    m = _audit(_degenerate_table(), min_group_size=5)["metrics"]
    # the bootstrap of group a cannot move: every replicate has kappa 1, cos_sim 0.4,
    # ECE 0.05. No zero-width interval may come out.
    kappa = _row(m, metric="kappa", group_label="grp=a")
    assert kappa["value"] == 1.0
    assert np.isnan(kappa["ci_low"]) and np.isnan(kappa["ci_high"])
    assert "degenerate_ci" in kappa["flags"]
    cos = _row(m, metric="cos_sim", group_label="grp=a")
    assert cos["value"] == pytest.approx(0.4)
    assert np.isnan(cos["ci_low"]) and np.isnan(cos["ci_high"])
    assert "degenerate_ci" in cos["flags"]
    # the difference to overall still has spread (the rest of the table moves)
    assert cos["diff_ci_low"] < cos["difference"] < cos["diff_ci_high"]
    # macro recall is an average of rates: Wilson at the 12 speakers (all right)
    macro = _row(m, metric="macro_recall", group_label="grp=a")
    assert macro["value"] == 1.0 and macro["ci_high"] == 1.0
    assert macro["ci_low"] == pytest.approx(1 - _wilson(0, 12)[1], rel=1e-12)
    assert "degenerate_ci" not in macro["flags"]
    # ECE: 0.05 +- the Wilson half-width of 12 of 12 right, z^2 / (12 + z^2) = 0.2425
    ece = _row(m, metric="ece", group_label="grp=a")
    assert ece["value"] == pytest.approx(0.05, abs=1e-12)
    delta = Z * Z / (12 + Z * Z)
    assert ece["ci_low"] == 0.0
    assert ece["ci_high"] == pytest.approx(0.05 + delta, rel=1e-9)
    assert "degenerate_ci" not in ece["flags"]
    # group b has spread: nothing changes, no flag
    for metric in ("kappa", "cos_sim", "ece", "macro_recall"):
        rec = _row(m, metric=metric, group_label="grp=b")
        assert rec["ci_low"] < rec["value"] < rec["ci_high"], metric
        assert "degenerate_ci" not in rec["flags"]


def test_no_interval_of_a_full_audit_has_zero_width():
    table = _degenerate_table()
    m = _audit(table, min_group_size=5)["metrics"]
    for lo, hi in (("ci_low", "ci_high"), ("diff_ci_low", "diff_ci_high")):
        both = m[[lo, hi]].notna().all(axis=1)
        width = (m.loc[both, hi] - m.loc[both, lo]).to_numpy()
        exact_zero = m.loc[both, "difference"].eq(0) & m.loc[both, "n_utterances"].eq(
            m.loc[both].groupby(["metric", "label"], dropna=False)["n_utterances"].transform("max")
        )
        # the one exception: a group holding all of a metric's rows is the overall reference
        assert ((width > 1e-9) | (exact_zero.to_numpy() & (lo == "diff_ci_low"))).all()
    degenerate = m[m["flags"].map(lambda f: "degenerate_ci" in f)]
    assert len(degenerate) >= 2  # kappa and cos_sim of group a


def test_constant_mean_against_a_constant_named_reference_has_no_interval():
    # both groups constant: value, difference and ratio intervals would all be points
    t = pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(24)],
            "speaker_id": [f"s{i}" for i in range(24)],
            "grp": ["a"] * 12 + ["b"] * 12,
            "cos_sim": [0.3] * 12 + [0.5] * 12,
        }
    )
    m = _audit(t, reference={"grp": "b"}, min_group_size=5)["metrics"]
    rec = _row(m, metric="cos_sim", group_label="grp=a")
    assert rec["difference"] == pytest.approx(-0.2)
    for col in ("ci_low", "ci_high", "diff_ci_low", "diff_ci_high", "ratio_ci_low"):
        assert np.isnan(rec[col]), col
    assert "degenerate_ci" in rec["flags"]
    assert np.isnan(rec["p_value"]) and "significant" not in rec["flags"]
