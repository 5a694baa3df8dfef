import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit import AuditInputError
from audit.stats import SpeakerBootstrap, bootstrap_interval, bootstrap_p_value, expanded_alpha


def _data(seed=0, n_rows=300, n_spk=40, n_groups=4):
    rng = np.random.default_rng(seed)
    spk = rng.integers(0, n_spk, n_rows)
    spk[:n_spk] = np.arange(n_spk)  # every speaker present
    group_of = rng.integers(0, n_groups, n_spk)
    group_of[:n_groups] = np.arange(n_groups)
    return rng, spk, group_of[spk]


def test_point_sums_equal_groupby():
    rng, spk, codes = _data()
    vals = rng.random((len(spk), 3))
    boot = SpeakerBootstrap(spk, 10, 0)
    point, reps = boot.group_sums(vals, codes, 5)
    expected = pd.DataFrame(vals).groupby(codes).sum().reindex(range(5), fill_value=0.0)
    np.testing.assert_allclose(point, expected.to_numpy(), rtol=1e-12)
    assert reps.shape == (10, 5, 3)
    assert np.all(reps[:, 4] == 0)  # the empty group stays empty


def test_stratified_replicates_keep_every_group_and_its_speaker_count():
    _rng, spk, codes = _data(n_spk=30, n_groups=6)
    first_row = np.zeros(len(spk))
    first_row[np.unique(spk, return_index=True)[1]] = 1  # one per speaker
    boot = SpeakerBootstrap(spk, 500, 1)
    point, reps = boot.group_sums(np.column_stack([first_row, np.ones(len(spk))]), codes, 6)
    # the number of drawn speakers of each group is fixed; utterance counts never hit 0
    assert np.all(reps[:, :, 0] == point[None, :, 0])
    assert np.all(reps[:, :, 1] > 0)


def test_replicate_matches_explicit_resampling():
    rng, spk, codes = _data(seed=3)
    vals = rng.random((len(spk), 2))
    boot = SpeakerBootstrap(spk, 5, 11)
    _, reps = boot.group_sums(vals, codes, 4)
    # independent re-implementation of replicate b from the same uniforms
    group_of = np.zeros(boot.n_speakers, dtype=int)
    group_of[spk] = codes
    order = np.argsort(group_of, kind="stable")
    u = boot.uniforms()
    for b in range(5):
        total = np.zeros((4, 2))
        for i, s_pos in enumerate(order):
            g = group_of[s_pos]
            members = order[group_of[order] == g]
            drawn = members[
                min(int(np.float32(u[b, i]) * np.float32(len(members))), len(members) - 1)
            ]
            total[g] += vals[spk == drawn].sum(axis=0)
        np.testing.assert_allclose(reps[b], total, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_fast_path_equals_general_path(k):
    rng, spk, codes = _data(seed=4)
    vals = rng.random((len(spk), k))
    boot = SpeakerBootstrap(spk, 40, 2)
    _, auto = boot.group_sums(vals, codes, 4)
    _, general = boot.group_sums(vals, codes, 4, strata=boot.strata(codes, 4))
    np.testing.assert_allclose(auto, general, rtol=1e-12, atol=1e-12)


def test_speakers_in_several_groups_are_stratified_by_their_group_set():
    # speaker 0 speaks a and b; speakers 1-3 only a; speaker 4 only b
    spk = np.array([0, 0, 1, 2, 3, 4, 4])
    codes = np.array([0, 1, 0, 0, 0, 1, 1])
    boot = SpeakerBootstrap(spk, 300, 0)
    strata = boot.strata(codes, 2)
    assert len({strata[0], strata[1], strata[4]}) == 3
    assert strata[1] == strata[2] and strata[2] == strata[3]
    _point, reps = boot.group_sums(np.ones((7, 1)), codes, 2)
    # stratum {a,b} holds only speaker 0, so it is drawn every time: b never vanishes
    assert np.all(reps[:, 1, 0] >= 1) and np.all(reps[:, 0, 0] >= 1)


def test_same_seed_same_replicates_different_seed_different():
    rng, spk, codes = _data()
    vals = rng.random((len(spk), 1))
    a = SpeakerBootstrap(spk, 50, 7).group_sums(vals, codes, 4)[1]
    b = SpeakerBootstrap(spk, 50, 7).group_sums(vals, codes, 4)[1]
    c = SpeakerBootstrap(spk, 50, 8).group_sums(vals, codes, 4)[1]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # one seed per replicate: the first replicates do not depend on n_boot
    d = SpeakerBootstrap(spk, 20, 7).group_sums(vals, codes, 4)[1]
    np.testing.assert_array_equal(a[:20], d)


def test_threads_and_chunks_do_not_change_replicates():
    rng, spk, codes = _data(seed=6)
    vals = rng.random((len(spk), 2))
    ref = SpeakerBootstrap(spk, 60, 9).group_sums(vals, codes, 4)[1]
    for kw in ({"n_jobs": 2}, {"chunk_size": 7}, {"n_jobs": 2, "chunk_size": 1}):
        got = SpeakerBootstrap(spk, 60, 9, **kw).group_sums(vals, codes, 4)[1]
        np.testing.assert_array_equal(got, ref)
        boot = SpeakerBootstrap(spk, 60, 9, **kw)
        general = boot.group_sums(vals, codes, 4, strata=boot.strata(codes, 4))[1]
        np.testing.assert_allclose(general, ref, rtol=1e-12, atol=1e-12)


def test_replicate_mean_is_unbiased_for_totals():
    rng, spk, codes = _data(seed=5)
    vals = rng.random((len(spk), 1))
    point, reps = SpeakerBootstrap(spk, 4000, 3).group_sums(vals, codes, 4)
    se = reps.std(axis=0) / np.sqrt(4000)
    assert np.all(np.abs(reps.mean(axis=0) - point) < 5 * se + 1e-9)


def test_expanded_alpha_formula():
    m = np.array([1, 2, 5, 20, 1e6])
    got = expanded_alpha(0.05, m)
    assert np.isnan(got[0])
    for mi, gi in zip(m[1:], got[1:], strict=True):
        want = 2 * stats.norm.cdf(-np.sqrt(mi / (mi - 1)) * stats.t.ppf(0.975, mi - 1))
        assert gi == pytest.approx(want, rel=1e-12)
    assert got[-1] == pytest.approx(0.05, abs=1e-4)
    assert got[1] < got[2] < got[3] < 0.05


def test_percentile_interval_equals_numpy_percentile():
    reps = np.random.default_rng(0).normal(size=(999, 3))
    low, high = bootstrap_interval(reps, np.array([50, 50, 50]), 0.9, "percentile")
    np.testing.assert_allclose(low, np.percentile(reps, 5, axis=0), rtol=1e-12)
    np.testing.assert_allclose(high, np.percentile(reps, 95, axis=0), rtol=1e-12)
    # expanded is wider, and NaN replicates are ignored
    elow, ehigh = bootstrap_interval(reps, np.array([5, 5, 5]), 0.9, "expanded")
    assert np.all(elow < low) and np.all(ehigh > high)
    reps[:10, 0] = np.nan
    low2, _ = bootstrap_interval(reps, np.array([50, 50, 50]), 0.9, "percentile")
    assert low2[0] == pytest.approx(np.nanpercentile(reps[:, 0], 5))


def test_p_value_matches_hand_computation():
    reps = np.random.default_rng(1).normal(0.3, 0.1, size=(500, 1))
    est = np.array([0.3])
    se = reps[:, 0].std(ddof=1)
    t = 0.3 / (se * np.sqrt(10 / 9))
    assert bootstrap_p_value(est, reps, np.array([10]))[0] == pytest.approx(
        2 * stats.t.sf(t, 9), rel=1e-10
    )
    assert bootstrap_p_value(np.array([0.0]), np.zeros((10, 1)), np.array([10]))[0] == 1.0
    assert np.isnan(bootstrap_p_value(est, reps, np.array([1]))[0])


def _coverage(method, n_speakers, n_sims, seed):
    """Share of intervals covering the true mean of clustered binary data (ICC ~0.3)."""
    rng = np.random.default_rng(seed)
    true_mean = np.mean(np.clip(0.5 + np.random.default_rng(99).normal(0, 0.28, 10**6), 0.01, 0.99))
    hits = 0
    for sim in range(n_sims):
        p_spk = np.clip(0.5 + rng.normal(0, 0.28, n_speakers), 0.01, 0.99)
        spk = np.repeat(np.arange(n_speakers), 5)
        y = (rng.random(len(spk)) < p_spk[spk]).astype(float)
        boot = SpeakerBootstrap(spk, 400, sim)
        _point, reps = boot.group_sums(np.column_stack([y, np.ones_like(y)]), np.zeros_like(spk), 1)
        rate = reps[:, :, 0] / reps[:, :, 1]
        low, high = bootstrap_interval(rate, np.array([n_speakers]), 0.95, method)
        hits += low[0] <= true_mean <= high[0]
    return hits / n_sims


@pytest.mark.slow
def test_expanded_interval_fixes_small_sample_undercoverage():
    plain = _coverage("percentile", 5, 300, 0)
    expanded = _coverage("expanded", 5, 300, 0)
    # measured (400 sims): plain 0.83, expanded 0.92 at 5 speakers (docs/benchmarks.md)
    assert plain < 0.9  # the known undercoverage of the plain cluster bootstrap
    assert expanded > 0.88
    assert expanded > plain + 0.05


def test_bad_arguments():
    with pytest.raises(AuditInputError, match="random_state must be a non-negative integer"):
        SpeakerBootstrap([1, 2], 10, 0.5)
    with pytest.raises(AuditInputError, match="n_boot must be a positive integer, got 0"):
        SpeakerBootstrap([1, 2], 0, 1)
    with pytest.raises(AuditInputError, match="speaker_id is missing in row 1"):
        SpeakerBootstrap(["a", None], 10, 1)
    with pytest.raises(AuditInputError, match="ci_level must be in"):
        bootstrap_interval(np.zeros((3, 1)), [5], level=95)
