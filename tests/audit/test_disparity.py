import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit import AuditInputError, SmallGroupWarning, make_evaluation_table, run_audit_tables
from audit.stats import (
    SpeakerBootstrap,
    adjust_p_values,
    benjamini_hochberg,
    build_groupings,
    holm,
    metric_tables,
    rate_spec,
)


def _run(table, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return run_audit_tables(table, n_boot=200, n_permutations=50, **kw)


@pytest.fixture(scope="module")
def table():
    return make_evaluation_table(240, 3, random_state=5)


def _agreement(tables, target="ethnicity"):
    m = tables["metrics"]
    return m[(m.metric == "agreement") & (m.target == target)]


def test_overall_reference_difference_and_ratio(table):
    tabs = _run(table, groupings=["ethnicity", "gender"], max_order=1, random_state=3)
    agr = _agreement(tabs)
    overall = agr[agr.attribute == "overall"]["value"].iloc[0]
    eth = agr[agr.attribute == "ethnicity"]
    assert (eth["reference"] == "overall").all()
    np.testing.assert_allclose(eth["difference"], eth["value"] - overall, rtol=1e-12)
    np.testing.assert_allclose(eth["ratio"], eth["value"] / overall, rtol=1e-12)
    np.testing.assert_allclose(eth["reference_value"], overall, rtol=1e-12)
    ok = eth["diff_ci_low"].notna()
    assert (eth["diff_ci_low"][ok] <= eth["difference"][ok]).all()
    assert (eth["difference"][ok] <= eth["diff_ci_high"][ok]).all()
    # Black speakers' ethnicity is rarely recovered (truth 0.11 vs ~0.5): a significant gap
    black = eth[eth.group_label == "ethnicity=Black"].iloc[0]
    assert "significant" in black["flags"] and black["diff_ci_high"] < 0


def test_best_reference_is_flagged_and_has_no_difference(table):
    tabs = _run(table, groupings=["ethnicity"], max_order=1, reference="best", random_state=3)
    eth = _agreement(tabs)
    eth = eth[eth.attribute == "ethnicity"]
    eligible = eth[eth["flags"].map(lambda f: "insufficient_data" not in f and "empty" not in f)]
    best = eligible.loc[eligible["value"].idxmax()]
    assert "reference" in best["flags"] and np.isnan(best["difference"])
    assert (eth["reference"] == best["group_label"]).all()
    others = eth[eth.index != best.name]
    np.testing.assert_allclose(others["difference"], others["value"] - best["value"], rtol=1e-12)
    assert (others["difference"].dropna() <= 0).all()


def test_named_reference_and_fallback(table):
    tabs = _run(
        table,
        groupings=["gender", "ethnicity"],
        max_order=1,
        reference={"gender": "male"},
        random_state=3,
    )
    agr = _agreement(tabs, "gender")
    assert (agr[agr.attribute == "gender"]["reference"] == "gender=male").all()
    assert (agr[agr.attribute == "ethnicity"]["reference"] == "overall").all()
    male = agr[(agr.attribute == "gender") & (agr.group_label == "gender=male")].iloc[0]
    assert "reference" in male["flags"]
    with pytest.raises(AuditInputError, match=r"reference group \{'gender': 'other'\} does not"):
        _run(table, groupings=["gender"], max_order=1, reference={"gender": "other"})


def test_holm_and_bh_against_references():
    rng = np.random.default_rng(0)
    p = rng.random(30) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p), rtol=1e-12)
    # Holm by hand: step-down with running maximum
    order = np.argsort(p)
    want = np.empty(30)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, (30 - rank) * p[idx])
        want[idx] = min(running, 1.0)
    np.testing.assert_allclose(holm(p), want, rtol=1e-12)
    with_nan = np.array([0.01, np.nan, 0.04])
    np.testing.assert_allclose(holm(with_nan), [0.02, np.nan, 0.04], equal_nan=True)
    np.testing.assert_array_equal(adjust_p_values(p, "none"), p)
    with pytest.raises(AuditInputError, match=r"p-values must lie in \[0, 1\], got 1.5"):
        holm([0.1, 1.5])


def test_families_exclude_small_groups_and_adjust_together(table):
    tabs = _run(
        table, groupings=["ethnicity", "language"], max_order=1, random_state=2, correction="bh"
    )
    agr = _agreement(tabs)
    small = agr["flags"].map(lambda f: "insufficient_data" in f or "empty" in f)
    assert agr[small]["p_adjusted"].isna().all()
    fam = agr[~small & agr["p_value"].notna()]
    np.testing.assert_allclose(
        fam["p_adjusted"], stats.false_discovery_control(fam["p_value"]), rtol=1e-12
    )
    sig = fam["flags"].map(lambda f: "significant" in f)
    assert (sig == (fam["p_adjusted"] < 0.05)).all()


def test_no_difference_rarely_significant():
    # two groups drawn from one distribution: the gap test keeps its level
    false_pos = 0
    for seed in range(6):
        t = make_evaluation_table(80, 2, random_state=100 + seed)
        t["coin"] = np.where(t["speaker_id"].str[-1].astype(int) % 2 == 0, "a", "b")
        tabs = _run(t, groupings=["coin"], max_order=1, random_state=seed)
        m = tabs["metrics"]
        rows = m[(m.metric == "agreement") & (m.attribute == "coin")]
        false_pos += int(rows["flags"].map(lambda f: "significant" in f).any())
    assert false_pos <= 2


def _rate_table(rates, n_spk, utt=3, seed=0):
    """Groups g0, g1, ... of ``n_spk`` speakers; speaker-level rates around ``rates``."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, rate in enumerate(rates):
        p_spk = np.clip(rng.normal(rate, 0.15, n_spk), 0.02, 0.98)
        for s in range(n_spk):
            for _ in range(utt):
                rows.append((f"g{g}", f"s{g}_{s}", float(rng.random() < p_spk[s])))
    t = pd.DataFrame(rows, columns=["grp", "speaker_id", "y"])
    t["utterance_id"] = [f"u{i}" for i in range(len(t))]
    return t


def _engine(t, reference, n_boot=300, seed=4, value=None, higher_is_better=True):
    """Metric records of one rate (or mean) of ``t`` per group, with raw p-values."""
    y = t["y"].to_numpy(float) if value is None else value
    spec = rate_spec("m", "x", y, np.ones(len(t), bool), higher_is_better=higher_is_better)
    grouping = next(g for g in build_groupings(t, ["grp"], 1) if g.attribute == "grp")
    boot = SpeakerBootstrap(t["speaker_id"].to_numpy(), n_boot, seed)
    got, _ = metric_tables(t, [spec], [grouping], boot, reference=reference, correction="none")
    got.index = [g["grp"] for g in got["group"]]
    return got, spec, grouping, boot


def test_best_reference_with_two_groups_is_the_fixed_two_sided_test():
    # K = 2: max-T over one comparison times K / (K - 1) = 2 is the two-sided p-value
    t = _rate_table([0.6, 0.7], 30)
    best, *_ = _engine(t, "best")
    ref = best.loc[best["flags"].map(lambda f: "reference" in f)].index[0]
    other = "g0" if ref == "g1" else "g1"
    named, *_ = _engine(t, {"grp": ref})
    # same test, two code paths: equal up to the rounding of a few float operations
    assert best.loc[other, "p_value"] == pytest.approx(named.loc[other, "p_value"], rel=1e-12)
    assert np.isnan(best.loc[ref, "p_value"])


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_best_reference_p_values_match_a_hand_built_max_t(higher_is_better):
    # 5 groups of unequal size; pairwise two-sided p-values come from the fixed-reference
    # test (reference = each group in turn), the rest is rebuilt here with loops.
    sizes = [40, 12, 25, 60, 30]
    parts = [
        _rate_table([r], n, seed=i)
        for i, (r, n) in enumerate(zip([0.7, 0.55, 0.62, 0.72, 0.5], sizes, strict=True))
    ]
    for i, part in enumerate(parts):
        part["grp"] = f"g{i}"
        part["speaker_id"] = f"g{i}_" + part["speaker_id"]
    t = pd.concat(parts, ignore_index=True)
    t["utterance_id"] = [f"u{i}" for i in range(len(t))]
    kw = {"higher_is_better": higher_is_better}
    best, spec, grouping, boot = _engine(t, "best", **kw)
    names = [f"g{i}" for i in range(5)]
    value = best.loc[names, "value"].to_numpy()
    sign = 1.0 if higher_is_better else -1.0
    b = names[int(np.argmax(sign * value))]
    assert "reference" in best.loc[b, "flags"]
    pair_p = {h: _engine(t, {"grp": h}, **kw)[0]["p_value"] for h in names}
    # replicate values from the same bootstrap, recomputed from the group sums
    _, reps = boot.group_sums(spec.stats, grouping.codes, grouping.n_groups)
    order = [grouping.labels().index(f"grp={g}") for g in names]
    v_reps = reps[:, order, 0] / reps[:, order, 1]
    k_pool = len(names)
    for gi, g in enumerate(names):
        if g == b:
            assert np.isnan(best.loc[g, "p_value"])
            continue
        p_one, z_max = [], np.full(len(v_reps), -np.inf)
        for hi, h in enumerate(names):
            if h == g:
                continue
            d = sign * (value[hi] - value[gi])
            p_two = pair_p[h][g]
            p_one.append(p_two / 2 if d >= 0 else 1 - p_two / 2)
            d_reps = sign * (v_reps[:, hi] - v_reps[:, gi])
            z_max = np.maximum(z_max, (d_reps - d) / d_reps.std(ddof=1))
        p_min = min(p_one)
        exceed = np.sum(z_max >= stats.norm.isf(p_min))
        max_t = min(4 * p_min, (1 + exceed) / (len(v_reps) + 1))
        want = min(1.0, max_t * k_pool / (k_pool - 1))
        assert best.loc[g, "p_value"] == pytest.approx(want, rel=1e-9, abs=1e-12), g
        # never above the Bonferroni bound over the 4 comparisons and the omitted one
        assert best.loc[g, "p_value"] <= min(1.0, 5 * p_min) * (1 + 1e-12)


def test_best_reference_still_finds_a_clear_gap():
    t = _rate_table([0.8, 0.8, 0.8, 0.8, 0.45], 30, seed=2)
    best, *_ = _engine(t, "best")
    assert best.loc["g4", "p_value"] < 1e-3
