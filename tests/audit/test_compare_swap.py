"""Change of the language-swap effect between two models (issue #15): `language_swap_change`.

Checked against an independent pandas computation of the per-speaker shifts, a planted change
that must be found, equal models that must show none, and the seed statistics of arms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit import CompareSettings, MismatchedRowsError, compare_arms, compare_evaluations
from audit._swap_change import SWAP_CHANGE_COLUMNS, swap_change_table

P = "p_judged_ethnicity=Asian"


def _population(n_speakers: int) -> pd.DataFrame:
    """Bilingual speakers (2 zh + 2 en utterances); half Asian, half White; no outcomes yet."""
    rows = []
    for s in range(n_speakers):
        for j, lang in enumerate(["zh", "zh", "en", "en"]):
            rows.append(
                {
                    "utterance_id": f"s{s}-{j}",
                    "speaker_id": f"s{s}",
                    "language": lang,
                    "ethnicity": ["Asian", "White"][s % 2],
                    "true_ethnicity": ["Asian", "White"][s % 2],
                }
            )
    return pd.DataFrame(rows)


def _model(rows: pd.DataFrame, shift: float, seed: int) -> pd.DataFrame:
    """A model whose P(judged Asian) rises by ``shift`` when the speaker talks Mandarin."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.4, 0.15, rows["speaker_id"].nunique())
    speaker = rows["speaker_id"].str[1:].astype(int).to_numpy()
    p = (
        base[speaker]
        + shift * (rows["language"] == "zh").to_numpy()
        + rng.normal(0, 0.05, len(rows))
    )
    p = np.clip(p, 0.0, 1.0)
    return rows.assign(
        recon_ethnicity_p_Asian=p,
        recon_ethnicity_p_White=1 - p,
        recon_ethnicity=np.where(p > 0.5, "Asian", "White"),
        cos_sim=rng.normal(0.5, 0.05, len(rows)),
    )


def _speaker_shifts(table: pd.DataFrame) -> pd.Series:
    """Independent reference: per speaker, mean P(Asian) in zh minus mean in en."""
    means = table.groupby(["speaker_id", "language"])["recon_ethnicity_p_Asian"].mean().unstack()
    return means["zh"] - means["en"]


SETTINGS = CompareSettings(n_boot=300, min_group_size=5, random_state=3)


@pytest.fixture(scope="module")
def rows():
    return _population(40)


def _row(frame, grouping, group, outcome=P):
    hit = frame[
        (frame["grouping"] == grouping) & (frame["group"] == group) & (frame["outcome"] == outcome)
    ]
    assert len(hit) == 1, (grouping, group, outcome)
    return hit.iloc[0]


def test_change_equals_the_independent_per_speaker_computation(rows):
    a, b = _model(rows, 0.2, 1), _model(rows, 0.02, 2)
    out = compare_evaluations(a, b, SETTINGS)["language_swap_change"]
    assert list(out.columns) == [c for c in SWAP_CHANGE_COLUMNS if c in out.columns]
    ref_a, ref_b = _speaker_shifts(a), _speaker_shifts(b)
    r = _row(out, "all", "zh-en")
    assert r["n_speakers"] == 40
    assert r["shift_a"] == pytest.approx(ref_a.mean(), abs=1e-12)
    assert r["shift_b"] == pytest.approx(ref_b.mean(), abs=1e-12)
    assert r["change"] == pytest.approx(ref_b.mean() - ref_a.mean(), abs=1e-12)
    asian = ref_b[rows.groupby("speaker_id")["ethnicity"].first() == "Asian"]
    asian_a = ref_a[asian.index]
    r = _row(out, "ethnicity", "Asian x zh-en")
    assert r["n_speakers"] == 20
    assert r["change"] == pytest.approx(asian.mean() - asian_a.mean(), abs=1e-12)


def test_a_planted_change_is_found_and_covered(rows):
    a, b = _model(rows, 0.2, 1), _model(rows, 0.02, 2)
    out = compare_evaluations(a, b, SETTINGS)["language_swap_change"]
    r = _row(out, "all", "zh-en")
    # planted: B's swap effect 0.18 smaller; the interval covers the realised truth
    assert r["ci_low"] < r["change"] < r["ci_high"] and r["ci_high"] < 0
    assert bool(r["significant"]) and "significant" in r["flags"]
    assert r["p_adjusted"] >= r["p_value"]
    # cos_sim was drawn independently of the language: no change flagged there
    assert not bool(_row(out, "all", "zh-en", "cos_sim")["significant"])


def test_equal_models_show_no_change(rows):
    a = _model(rows, 0.2, 1)
    out = compare_evaluations(a, a.copy(), SETTINGS)["language_swap_change"]
    assert (out["change"] == 0).all() and not out["significant"].any()


def test_arms_add_seed_variance_and_report_the_seed_spread(rows):
    arm_a = [_model(rows, 0.2, s) for s in (1, 2, 3)]
    arm_b = [_model(rows, 0.2, s) for s in (4, 5, 6)]  # the same recipe: seed noise only
    out = compare_arms(arm_a, arm_b, SETTINGS)["language_swap_change"]
    r = _row(out, "all", "zh-en")
    per_seed = np.array([_speaker_shifts(t).mean() for t in [*arm_a, *arm_b]])
    assert r["shift_a"] == pytest.approx(per_seed[:3].mean(), abs=1e-12)
    assert r["shift_b"] == pytest.approx(per_seed[3:].mean(), abs=1e-12)
    pooled = np.sqrt((np.var(per_seed[:3], ddof=1) + np.var(per_seed[3:], ddof=1)) / 2)
    assert r["seed_sd"] == pytest.approx(pooled, rel=1e-9)
    assert (r["n_seeds_a"], r["n_seeds_b"]) == (3, 3)
    # the interval with seed variance is wider than the speakers-only one
    assert r["ci_high"] - r["ci_low"] > r["speaker_ci_high"] - r["speaker_ci_low"]
    one = compare_evaluations(arm_a[0], arm_b[0], SETTINGS)["language_swap_change"]
    assert "seed_sd" not in one.columns  # the paired comparison has no seed columns


def test_no_bilingual_speaker_gives_an_empty_table(rows):
    a = _model(rows, 0.2, 1)
    mono = a[a["language"] == "en"]
    out = swap_change_table([mono], [mono], SETTINGS)
    assert out.empty and list(out.columns) == list(SWAP_CHANGE_COLUMNS)
    assert swap_change_table([a.drop(columns="language")], [a], SETTINGS).empty


def test_other_speakers_are_refused(rows):
    a = _model(rows, 0.2, 1)
    b = a[a["speaker_id"] != "s3"]
    with pytest.raises(MismatchedRowsError, match="checkpoint 1 has other bilingual speakers"):
        swap_change_table([a], [b], SETTINGS)
