"""Speaker tables: composition against the spec, splits, holdouts, evaluation draws."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from s2f_data.biaslab import (
    PopulationSpec,
    evaluation_cells,
    expected_shares,
    sample_speakers,
)

N = 3000


@pytest.fixture(scope="module")
def web_table() -> pd.DataFrame:
    return sample_speakers(PopulationSpec.preset("web-skewed"), seed=11, n_speakers=N)


@pytest.mark.parametrize("attribute", ["ethnicity", "gender", "age_group", "language", "accent"])
def test_marginal_composition_matches_spec(web_table: pd.DataFrame, attribute: str) -> None:
    expected = expected_shares(PopulationSpec.preset("web-skewed"))[attribute]
    labels = [k for k, p in expected.items() if p > 0]
    observed = web_table[attribute].value_counts().reindex(labels, fill_value=0)
    assert observed.sum() == N  # no label outside the spec's support
    exp = np.array([expected[k] for k in labels]) * N
    # Pool rare labels so that every expected count is >= 5 (chi-square validity).
    rare = exp < 5
    obs_v = np.append(observed.to_numpy()[~rare], observed.to_numpy()[rare].sum())
    exp_v = np.append(exp[~rare], exp[rare].sum())
    if rare.sum() == 0:
        obs_v, exp_v = obs_v[:-1], exp_v[:-1]
    result = stats.chisquare(obs_v, exp_v)
    assert result.pvalue > 1e-3, (attribute, observed.to_dict(), exp.round(1))


def test_conditional_language_given_ethnicity(web_table: pd.DataFrame) -> None:
    spec = PopulationSpec.preset("web-skewed")
    for eth, table in spec.language.items():
        rows = web_table[web_table["ethnicity"] == eth]
        for lang, p in table.items():
            k = int((rows["language"] == lang).sum())
            # two-sided binomial test of the conditional share
            assert stats.binomtest(k, len(rows), p).pvalue > 1e-3, (eth, lang, k, len(rows), p)


def test_accent_given_language_and_ethnicity(web_table: pd.DataFrame) -> None:
    spec = PopulationSpec.preset("web-skewed")
    asian_en = web_table[(web_table["ethnicity"] == "Asian") & (web_table["language"] == "en")]
    p = spec.accent_table("en", "Asian")["en-x-zh"]
    k = int((asian_en["accent"] == "en-x-zh").sum())
    assert stats.binomtest(k, len(asian_en), p).pvalue > 1e-3
    # non-English speakers are always 'native'; Indian speakers never get a Mandarin accent
    assert (web_table.loc[web_table["language"] != "en", "accent"] == "native").all()
    assert not ((web_table["ethnicity"] == "Indian") & (web_table["accent"] == "en-x-zh")).any()


def test_split_by_speaker_fractions(web_table: pd.DataFrame) -> None:
    counts = web_table["split"].value_counts()
    assert counts["train"] == round(0.8 * N)
    assert counts["val"] == round(0.1 * N)
    assert counts.sum() == N
    assert web_table["speaker_id"].is_unique


def test_face_size_latent_is_standard_normal_and_tied_to_vtl(web_table: pd.DataFrame) -> None:
    z = web_table["face_size"].to_numpy()
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.05
    np.testing.assert_allclose(web_table["voice_vtl_factor"], np.exp(-0.08 * z), rtol=1e-4)


def test_f0_targets_by_gender_and_age(web_table: pd.DataFrame) -> None:
    med = web_table.groupby(["gender", "age_group"])["voice_f0_hz"].median()
    assert (med["female"] > 1.5 * med["male"]).all()
    rate = web_table.groupby("age_group")["voice_rate"].median()
    assert rate["18-29"] > rate["30-44"] > rate["45-59"] > rate["60+"]
    old = web_table["age_group"] == "60+"
    assert (web_table.loc[old, "voice_tremor_depth"] > 0).all()
    assert (web_table.loc[~old, "voice_tremor_depth"] == 0).all()


def test_same_seed_same_table_different_seed_different() -> None:
    spec = PopulationSpec.preset("representative")
    a = sample_speakers(spec, seed=4, n_speakers=40)
    b = sample_speakers(spec, seed=4, n_speakers=40)
    c = sample_speakers(spec, seed=5, n_speakers=40)
    pd.testing.assert_frame_equal(a, b)
    assert not a.drop(columns="speaker_id").equals(c.drop(columns="speaker_id"))
    # the first speakers of a larger draw are the same people (labels and voices)
    big = sample_speakers(spec, seed=4, n_speakers=80)
    cols = [c for c in a.columns if c != "split"]
    pd.testing.assert_frame_equal(a[cols], big[cols].iloc[:40])


def test_holdout_combination_never_in_training(small_spec_dict: dict[str, Any]) -> None:
    small_spec_dict["holdout"] = [
        {"language": "zh", "ethnicity": "Asian"},
        {"gender": "female", "age_group": "60+"},
    ]
    spec = PopulationSpec.from_dict(small_spec_dict)
    table = sample_speakers(spec, seed=0, n_speakers=600)
    held = ((table["language"] == "zh") & (table["ethnicity"] == "Asian")) | (
        (table["gender"] == "female") & (table["age_group"] == "60+")
    )
    assert held.sum() > 20
    assert (table.loc[held, "split"] == "test").all()
    assert (table.loc[~held, "split"] == "train").mean() == pytest.approx(0.8, abs=0.01)


@pytest.mark.parametrize("preset", ["web-skewed", "representative"])
def test_evaluation_draw_fills_every_cell(preset: str) -> None:
    spec = PopulationSpec.preset(preset)
    cells = evaluation_cells(spec)
    assert [c for c in cells if c[0] == "en"] == [
        ("en", e) for e in ("Asian", "Black", "Indian", "White")
    ]
    main = dict(c for c in cells if c[0] != "en")
    assert main["zh"] == "Asian" and main["hi"] == "Indian" and main["ja"] == "Asian"
    ev = sample_speakers(spec, seed=3, kind="eval", min_per_cell=20)
    if spec.bilingual_cells():  # the counterfactual block: 20 per pair, after the cells
        block = ev[ev["bilingual"]]
        assert ev["bilingual"].to_numpy().argmax() == len(cells) * 20
        per_pair = block.groupby(["ethnicity", "first_language"]).size()
        assert sorted(per_pair.index) == sorted(spec.bilingual_cells())
        assert (per_pair == 20).all()
        ev = ev[~ev["bilingual"]]
    counts = ev.groupby(["language", "ethnicity"]).size()
    assert len(counts) == len(cells)
    assert (counts >= 20).all()
    assert (ev["split"] == "test").all()
    # gender and age balanced inside each cell
    per_cell = ev.groupby(["language", "ethnicity", "gender"]).size()
    assert (per_cell == 10).all()
    assert ev.groupby(["language", "ethnicity", "age_group"]).size().between(4, 6).all()
    train = sample_speakers(spec, seed=3, n_speakers=200)
    assert set(ev["speaker_id"]).isdisjoint(train["speaker_id"])
    assert ev["speaker_id"].str.startswith("ev3-").all()
    assert train["speaker_id"].str.startswith("tr3-").all()


def test_bad_arguments() -> None:
    spec = PopulationSpec.preset("representative")
    match = r"n_speakers must be an integer in \[1, 1,000,000\], got 0"
    with pytest.raises(ValueError, match=match):
        sample_speakers(spec, n_speakers=0)
    # absurd counts are refused before any speaker is drawn (they used to run for ever)
    with pytest.raises(ValueError, match=r"in \[1, 1,000,000\], got 10000000000000"):
        sample_speakers(spec, n_speakers=10**13)
    with pytest.raises(ValueError, match=r"min_per_cell 100,000,000 x \d+ cells is more than"):
        sample_speakers(spec, kind="eval", min_per_cell=10**8)
    with pytest.raises(ValueError, match=r"kind must be one of \['eval', 'train'\], got 'dev'"):
        sample_speakers(spec, kind="dev")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -2"):
        sample_speakers(spec, seed=-2)
