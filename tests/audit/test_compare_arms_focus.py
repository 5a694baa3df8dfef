"""Focus verdicts of an arm comparison state the seed spread (issue #19).

Per focus group the audit reports the change of the gap between arms, its interval with and
without seed variance, the seed-to-seed spread of the gap and a seed verdict; checked here
against an independent pandas computation from the per-seed evaluation tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit import compare_arms, make_evaluation_table
from audit._compare_focus import SEED_VERDICTS, seed_verdict

KW = {
    "groupings": ["language", "ethnicity"],
    "focus": [("language", "ethnicity")],
    "n_boot": 80,
    "min_group_size": 5,
    "random_state": 2,
}


def _seed(base: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """Another checkpoint: a share of rows gets a random judged ethnicity."""
    out = base.copy()
    rng = np.random.default_rng(seed)
    redraw = rng.random(len(out)) < share
    labels = np.array(sorted(out["true_ethnicity"].dropna().unique()))
    out.loc[redraw, "recon_ethnicity"] = rng.choice(labels, int(redraw.sum()))
    return out


@pytest.fixture(scope="module")
def arms():
    base = make_evaluation_table(150, 3, random_state=11, missing_rate=0.0)
    return [_seed(base, 0.3, s) for s in range(3)], [_seed(base, 0.3, s) for s in range(10, 13)]


@pytest.fixture(scope="module")
def focus(arms):
    return compare_arms(*arms, **KW)["focus"]


def _gaps(table: pd.DataFrame) -> pd.Series:
    """Independent reference: per language x ethnicity group, agreement minus overall."""
    agree = (table["recon_ethnicity"] == table["true_ethnicity"]).astype(float)
    label = "language=" + table["language"] + " x ethnicity=" + table["ethnicity"]
    return agree.groupby(label).mean() - agree.mean()


def test_focus_rows_carry_the_seed_spread_and_both_intervals(arms, focus):
    gaps = pd.DataFrame([_gaps(t) for t in [*arms[0], *arms[1]]])  # (6 seeds, groups)
    assert len(focus) >= 8
    checked = 0
    for _, r in focus.iterrows():
        per_seed = gaps[r["group_label"]].to_numpy()
        gap_a, gap_b = per_seed[:3].mean(), per_seed[3:].mean()
        assert r["disparity_a"] == pytest.approx(gap_a, abs=1e-12)
        assert r["change"] == pytest.approx(abs(gap_b) - abs(gap_a), abs=1e-12)
        pooled = np.sqrt((np.var(per_seed[:3], ddof=1) + np.var(per_seed[3:], ddof=1)) / 2)
        assert r["seed_sd"] == pytest.approx(pooled, rel=1e-9, abs=1e-15)
        assert r["gap_b_seed_min"] == pytest.approx(per_seed[3:].min(), abs=1e-12)
        assert (r["n_seeds_a"], r["n_seeds_b"]) == (3, 3)
        if r["verdict"] in ("grew", "shrank", "no_change"):
            # the interval with seed variance contains the one without it
            assert r["change_ci_low"] <= r["speaker_ci_low"] <= r["change"]
            assert r["change"] <= r["speaker_ci_high"] <= r["change_ci_high"]
            checked += 1
    assert checked >= 5


def test_seed_verdict_says_when_the_seed_spread_exceeds_the_change(focus):
    assert set(focus["seed_verdict"]) <= set(SEED_VERDICTS)
    tested = focus[focus["verdict"].isin(["grew", "shrank", "no_change"])]
    noisy = tested["seed_sd"] > tested["change"].abs()
    assert (tested.loc[noisy, "seed_verdict"] == "seed_noise").all()
    assert (tested.loc[~noisy, "seed_verdict"] != "seed_noise").all()
    # the two arms are one recipe with other seeds: seed noise must show, no real change
    assert noisy.any() and not tested["seed_verdict"].eq("beyond_seed_noise").any()


def test_seed_verdict_rule():
    assert seed_verdict(["insufficient_data", "seed_spread_exceeds_difference"], 3, 3) == "too_few"
    assert seed_verdict(["value_unchanged"], 3, 3) == "value_unchanged"
    assert seed_verdict(["seed_spread_exceeds_difference"], 1, 1) == "one_checkpoint"
    assert seed_verdict(["significant", "shrank"], 2, 3) == "beyond_seed_noise"
    assert seed_verdict([], 3, 1) == "within_noise"
