"""Score tests of rate differences take their standard error under the null (issue #16)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit._power import null_effective_size, score_p_value, within_speaker_correlation
from audit.stats import SpeakerBootstrap, build_groupings, metric_tables, rate_spec


def _table(rates, n_spk, utt, sd=0.2, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for g, (rate, m) in enumerate(zip(rates, n_spk, strict=True)):
        p_spk = np.clip(rng.normal(rate, sd, m), 0.01, 0.99)
        for s in range(m):
            rows += [(f"g{g}", f"s{g}_{s}", float(rng.random() < p_spk[s])) for _ in range(utt)]
    t = pd.DataFrame(rows, columns=["grp", "speaker_id", "y"])
    t["utterance_id"] = [f"u{i}" for i in range(len(t))]
    return t


def _engine(t, reference="overall", n_boot=300, seed=4):
    spec = rate_spec("agreement", "x", t["y"].to_numpy(float), np.ones(len(t), bool))
    grouping = next(g for g in build_groupings(t, ["grp"], 1) if g.attribute == "grp")
    boot = SpeakerBootstrap(t["speaker_id"].to_numpy(), n_boot, seed)
    got, _ = metric_tables(t, [spec], [grouping], boot, reference=reference, correction="none")
    got.index = [g["grp"] for g in got["group"]]
    return got, boot


def test_within_speaker_correlation_matches_the_anova_estimator():
    # the design-effect estimate agrees with the one-way ANOVA intraclass correlation
    # computed from the rows (same speakers, equal cluster sizes)
    t = _table([0.7], [200], 6, sd=0.25, seed=1)
    y = t["y"].to_numpy()
    k = 6
    spk_mean = t.groupby("speaker_id")["y"].mean().to_numpy()
    msb = k * np.var(spk_mean, ddof=1)
    row_mean = t.groupby("speaker_id")["y"].transform("mean").to_numpy()
    msw = ((y - row_mean) ** 2).sum() / (len(y) - len(spk_mean))
    icc = (msb - msw) / (msb + (k - 1) * msw)
    # the exact variance of the speaker-cluster mean (no bootstrap noise)
    m = len(spk_mean)
    v = np.var(spk_mean, ddof=0) / m
    rho = within_speaker_correlation(y.mean(), v * m / (m - 1) * (m - 1) / m, len(y), m * k**2, m)
    assert rho == pytest.approx(icc, abs=0.02)


def test_null_effective_size_bounds():
    # rho 0: every row counts; rho 1: every speaker counts once
    assert null_effective_size([100.0], [500.0], 0.0).tolist() == [100.0]
    assert null_effective_size([100.0], [500.0], 1.0).tolist() == [20.0]
    assert null_effective_size([100.0], [500.0], np.nan).tolist() == [20.0]
    assert np.isnan(null_effective_size([0.0], [0.0], 0.3)[0])


def test_rate_p_value_is_the_score_test_at_the_overall_rate():
    # a 20-speaker group observed near 1 against an overall rate near 0.9: the standard
    # error is the one under the null (overall rate, whole table's correlation), rebuilt here
    t = _table([0.97, 0.88], [20, 200], 10, seed=2)
    got, boot = _engine(t)
    y = t["y"].to_numpy(float)
    p0 = y.mean()
    # the overall rate's replicates: the group bootstrap's (stratified by group) totals
    grp = next(g for g in build_groupings(t, ["grp"], 1) if g.attribute == "grp")
    _, reps = boot.group_sums(np.column_stack([y, np.ones_like(y)]), grp.codes, 2)
    tot = reps.sum(axis=1)
    v = np.var(tot[:, 0] / tot[:, 1], ddof=1)
    n, m = len(y), 220
    rho = within_speaker_correlation(p0, v, n, m * 100, m)
    assert 0 < rho < 1
    ne_g, ne_rest = 200 / (1 + 9 * rho), 2000 / (1 + 9 * rho)
    f = 200 / n
    se0 = (1 - f) * np.sqrt(p0 * (1 - p0) * (1 / ne_g + 1 / ne_rest))
    diff = got.loc["g0", "value"] - p0
    expected = 2 * stats.t.sf(abs(diff) / se0, 19)
    assert got.loc["g0", "p_value"] == pytest.approx(expected, rel=1e-9)


def test_score_p_value_edge_cases():
    reps = np.zeros((20, 3))
    p = score_p_value(np.array([0.0, 0.1, 0.1]), reps, np.array([10, 10, 1]), 0.0, True)
    assert p[0] == 1.0 and np.isnan(p[1]) and np.isnan(p[2])


@pytest.mark.slow
def test_small_group_near_the_boundary_is_not_flagged_under_the_null_slow():
    # issue #16: a 20-speaker group near 0.9 agreement under a true null; 300 tables
    hits = []
    for r in range(300):
        t = _table([0.9, 0.9], [20, 200], 10, sd=0.1, seed=100 + r)
        got, _ = _engine(t, n_boot=200, seed=r)
        hits.append(got.loc["g0", "p_value"] < 0.05)
    rate = float(np.mean(hits))
    assert rate <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 300), rate
