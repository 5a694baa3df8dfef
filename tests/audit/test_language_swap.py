"""Language-swap table: paired within-speaker shifts checked against hand and scipy values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit._feature_shift import feature_shift_columns
from audit._language_swap import (
    LANGUAGE_SWAP_COLUMNS,
    language_swap_table,
    paired_differences,
)
from audit.exceptions import AuditInputError


def _bilingual_table(n_speakers: int, shift: float, seed: int) -> pd.DataFrame:
    """Speakers heard in zh (2 utterances) and en (2): a speaker effect + a planted shift."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_speakers):
        base = rng.normal(0.4, 0.15)  # between-speaker spread, larger than the shift
        for j, lang in enumerate(["zh", "zh", "en", "en"]):
            p = float(np.clip(base + (shift if lang == "zh" else 0.0) + rng.normal(0, 0.03), 0, 1))
            rows.append(
                {
                    "utterance_id": f"s{s}-{j}",
                    "speaker_id": f"s{s}",
                    "language": lang,
                    "ethnicity": "Asian",
                    "gender": ["female", "male"][s % 2],
                    "recon_ethnicity_p_Asian": p,
                    "recon_ethnicity_p_White": 1 - p,
                    "recon_ethnicity": "Asian" if p > 0.5 else "White",
                    "true_ethnicity": "Asian",
                    "cos_sim": rng.normal(0.5, 0.05),
                }
            )
    return pd.DataFrame(rows)


def test_paired_difference_matches_hand_value() -> None:
    t = pd.DataFrame(
        {
            "utterance_id": list("abcdef"),
            "speaker_id": ["s", "s", "s", "t", "u", "u"],
            "language": ["zh", "en", "en", "en", "hi", "es"],
            "recon_ethnicity_p_Asian": [0.9, 0.4, 0.2, 0.5, 0.1, 0.3],
            "recon_ethnicity": ["Asian", "White", "White", "Asian", "White", "White"],
            "true_ethnicity": ["Asian"] * 6,
            "cos_sim": [0.1, 0.2, 0.4, 0.0, 0.5, 0.1],
        }
    )
    d = paired_differences(t).set_index("speaker_id")
    # s: zh mean 0.9 minus en mean (0.4 + 0.2) / 2 = 0.3 -> 0.6; agreement 1 - 0 = 1
    assert d.loc["s", "language_pair"] == "zh-en"
    assert d.loc["s", "p_judged_ethnicity=Asian"] == pytest.approx(0.6, abs=1e-12)
    assert d.loc["s", "agree_ethnicity"] == 1.0
    assert d.loc["s", "cos_sim"] == pytest.approx(0.1 - 0.3, abs=1e-12)
    # u has no English: alphabetical pair es-hi, difference es - hi
    assert d.loc["u", "language_pair"] == "es-hi"
    assert d.loc["u", "cos_sim"] == pytest.approx(0.1 - 0.5, abs=1e-12)
    assert "t" not in d.index  # one language only: no pair, no row


def test_shift_interval_and_p_value_agree_with_paired_t_test() -> None:
    t = _bilingual_table(30, 0.05, seed=1)
    out = language_swap_table(t, n_boot=4000, random_state=3)
    row = out[(out["grouping"] == "all") & (out["outcome"] == "p_judged_ethnicity=Asian")].iloc[0]
    per_speaker = t.pivot_table(
        index="speaker_id", columns="language", values="recon_ethnicity_p_Asian", aggfunc="mean"
    )
    diff = per_speaker["zh"] - per_speaker["en"]
    assert row["shift"] == pytest.approx(diff.mean(), abs=1e-12)  # exact: same arithmetic
    assert row["n_speakers"] == 30
    t_test = stats.ttest_rel(per_speaker["zh"], per_speaker["en"])
    # bootstrap se with the m/(m-1) correction estimates the t-test's se: within 10 %
    # (Monte Carlo error of an sd from 4000 replicates is ~1.1 %; skew of the diffs adds some)
    se_boot = (row["ci_high"] - row["ci_low"]) / (2 * stats.t.ppf(0.975, 29))
    se_t = diff.std(ddof=1) / np.sqrt(30)
    assert se_boot == pytest.approx(se_t, rel=0.10)
    assert np.log(row["p_value"]) == pytest.approx(np.log(t_test.pvalue), rel=0.25)
    assert row["ci_low"] > 0 and bool(row["significant"])


def test_no_shift_not_flagged_and_groupings_present() -> None:
    out = language_swap_table(_bilingual_table(20, 0.0, seed=2), n_boot=500, random_state=0)
    assert list(out.columns) == list(LANGUAGE_SWAP_COLUMNS)
    assert {"all", "ethnicity", "first_language", "ethnicity x gender"} <= set(out["grouping"])
    assert not out["significant"].any()
    assert (out["p_adjusted"] >= out["p_value"]).all()


def test_same_seed_same_table_and_no_bilinguals_gives_empty_table() -> None:
    t = _bilingual_table(8, 0.1, seed=4)
    a = language_swap_table(t, n_boot=200, random_state=5)
    b = language_swap_table(t, n_boot=200, random_state=5)
    pd.testing.assert_frame_equal(a, b)
    mono = t[t["language"] == "en"]
    empty = language_swap_table(mono, n_boot=50)
    assert empty.empty and list(empty.columns) == list(LANGUAGE_SWAP_COLUMNS)


def test_feature_shift_and_bad_inputs() -> None:
    t = _bilingual_table(6, 0.0, seed=5)
    feats = np.tile(np.eye(4)[0], (len(t), 1))
    feats[t["language"].to_numpy() == "zh"] = np.eye(4)[1]  # orthogonal unit vectors
    out = language_swap_table(t, features=feats, n_boot=100)
    row = out[(out["grouping"] == "all") & (out["outcome"] == "feature_shift")].iloc[0]
    assert row["shift"] == pytest.approx(1.0, abs=1e-12)  # 1 - cos of orthogonal vectors
    assert (row["mean_a"], row["mean_b"]) == (pytest.approx(1.0, abs=1e-12), 0.0)
    assert np.isnan(row["p_value"])
    # every speaker has the same mean feature: no between-speaker spread to compare with
    rel = out[(out["grouping"] == "all") & (out["outcome"] == "feature_shift_relative")]
    assert rel["shift"].isna().all()
    with pytest.raises(AuditInputError, match=r"features must have shape \(24, D\)"):
        language_swap_table(t, features=feats[:3], n_boot=10)
    with pytest.raises(AuditInputError, match="needs column 'language'"):
        language_swap_table(t.drop(columns="language"), n_boot=10)
    with pytest.raises(AuditInputError, match=r"needs speaker attribute\(s\) \['age_group'\]"):
        language_swap_table(t, groupings=[("age_group",)], n_boot=10)


def _loop_shift(t: pd.DataFrame, feats: np.ndarray, spk: str, a: str, b: str) -> float:
    """Independent value: 1 - cos of the speaker's mean unit features in a and in b."""
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    ma = unit[((t["speaker_id"] == spk) & (t["language"] == a)).to_numpy()].mean(axis=0)
    mb = unit[((t["speaker_id"] == spk) & (t["language"] == b)).to_numpy()].mean(axis=0)
    return 1.0 - float(ma @ mb) / (np.linalg.norm(ma) * np.linalg.norm(mb))


def test_feature_shift_columns_match_a_loop_over_speakers() -> None:
    rng = np.random.default_rng(7)
    t = pd.DataFrame(
        {
            "speaker_id": ["s", "s", "s", "t", "t", "u", "u", "v"],
            "language": ["zh", "zh", "en", "hi", "es", "en", "hi", "en"],
        }
    )
    feats = rng.normal(size=(len(t), 5))
    cols = feature_shift_columns(t, feats)
    # spread: mean over the 6 pairs of the 4 speakers of 1 - cos of their mean unit features
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    means = {s: unit[(t["speaker_id"] == s).to_numpy()].mean(axis=0) for s in "stuv"}
    spread = np.mean(
        [
            1 - means[x] @ means[y] / (np.linalg.norm(means[x]) * np.linalg.norm(means[y]))
            for i, x in enumerate("stuv")
            for y in "stuv"[i + 1 :]
        ]
    )
    # s: base en; t: no English, base = alphabetically last (hi); u: base en; v: one language
    assert cols["feature_shift_base"].tolist()[:7] == ["en", "en", "en", "hi", "hi", "en", "en"]
    assert pd.isna(cols.loc[7, "feature_shift_base"]) and np.isnan(cols.loc[7, "feature_shift"])
    assert cols.loc[0, "feature_shift"] == pytest.approx(_loop_shift(t, feats, "s", "zh", "en"))
    assert cols.loc[1, "feature_shift"] == cols.loc[0, "feature_shift"]
    assert cols.loc[2, "feature_shift"] == 0.0
    assert cols.loc[4, "feature_shift"] == pytest.approx(_loop_shift(t, feats, "t", "es", "hi"))
    assert cols.loc[0, "feature_shift_relative"] == pytest.approx(
        cols.loc[0, "feature_shift"] / spread, rel=1e-12
    )
    # carried as columns, the table gives the same paired rows as the features do
    d = paired_differences(t.join(cols)).set_index("speaker_id")
    assert d.loc["t", "language_pair"] == "es-hi"
    assert d.loc["t", "feature_shift"] == pytest.approx(_loop_shift(t, feats, "t", "es", "hi"))
    pd.testing.assert_frame_equal(
        d.reset_index(), paired_differences(t, features=feats), check_exact=True
    )


def test_feature_shift_undefined_for_pairs_without_the_base_language() -> None:
    t = pd.DataFrame(
        {"speaker_id": ["s"] * 3, "language": ["zh", "hi", "en"], "cos_sim": [0.1, 0.2, 0.3]}
    )
    feats = np.eye(3)
    d = paired_differences(t, features=feats).set_index("language_pair")
    assert d.loc["zh-en", "feature_shift"] == pytest.approx(1.0)
    assert d.loc["hi-en", "feature_shift"] == pytest.approx(1.0)
    assert np.isnan(d.loc["hi-zh", "feature_shift"])  # measured from English only
    assert d.loc["hi-zh", "cos_sim"] == pytest.approx(0.1)


def test_feature_shift_excess_subtracts_the_relabelling_mean_by_hand() -> None:
    rng = np.random.default_rng(11)
    t = pd.DataFrame(
        {
            "speaker_id": ["s"] * 4 + ["t"] * 2,
            "language": ["zh", "zh", "en", "en", "en", "en"],
        }
    )
    feats = rng.normal(size=(6, 3))
    cols = feature_shift_columns(t, feats)
    unit = feats[:4] / np.linalg.norm(feats[:4], axis=1, keepdims=True)

    def shift(a: list[int], b: list[int]) -> float:
        ma, mb = unit[a].mean(axis=0), unit[b].mean(axis=0)
        return 1.0 - float(ma @ mb) / (np.linalg.norm(ma) * np.linalg.norm(mb))

    # the 6 ways to call 2 of the 4 utterances "zh" (each partition twice, once per side)
    null = np.mean([shift(list(s), [i for i in range(4) if i not in s])
                    for s in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]])  # fmt: skip
    assert cols.loc[0, "feature_shift"] == pytest.approx(shift([0, 1], [2, 3]), abs=1e-12)
    assert cols.loc[0, "feature_shift_excess"] == pytest.approx(
        shift([0, 1], [2, 3]) - null, abs=1e-12
    )
    assert cols.loc[2, "feature_shift_excess"] == 0.0  # the base language's rows
    assert np.isnan(cols.loc[4, "feature_shift_excess"])  # t speaks one language


@pytest.mark.parametrize("effect", [0.0, 0.6])
def test_feature_shift_excess_is_flagged_only_with_a_planted_language_effect(effect: float) -> None:
    rng = np.random.default_rng(5)
    direction = rng.normal(size=16)
    rows, feats = [], []
    for s in range(40):
        speaker = 3.0 * rng.normal(size=16)
        for lang in ["zh"] * 3 + ["en"] * 3:
            rows.append({"speaker_id": f"s{s}", "language": lang, "ethnicity": "Asian"})
            feats.append(
                speaker + (effect * direction if lang == "zh" else 0) + rng.normal(size=16)
            )
    out = language_swap_table(pd.DataFrame(rows), features=np.array(feats), n_boot=400)
    row = out[(out["grouping"] == "all") & (out["outcome"] == "feature_shift_excess")].iloc[0]
    raw = out[(out["grouping"] == "all") & (out["outcome"] == "feature_shift")].iloc[0]
    assert raw["shift"] > 0  # the plain shift is positive even without any effect
    assert bool(row["significant"]) == (effect > 0)
    if effect == 0:
        assert row["ci_low"] <= 0 <= row["ci_high"]


def test_speaker_group_holds_the_groups_attribute_values() -> None:
    t = _bilingual_table(20, 0.0, seed=2)
    out = language_swap_table(t, n_boot=50, random_state=0)
    assert (out.loc[out["grouping"] == "all", "speaker_group"].map(len) == 0).all()
    rows = out[(out["grouping"] == "ethnicity x gender") & (out["outcome"] == "cos_sim")]
    assert sorted(r["gender"] for r in rows["speaker_group"]) == ["female", "male"]
    for _, row in rows.iterrows():
        group = row["speaker_group"]
        # the speakers of that gender, counted in the input table (every one is bilingual)
        speakers = t.loc[t["gender"] == group["gender"], "speaker_id"].nunique()
        assert group == {"ethnicity": "Asian", "gender": group["gender"]}
        assert row["n_speakers"] == speakers == 10
        assert row["group"] == f"Asian x {group['gender']} x {row['language_pair']}"
