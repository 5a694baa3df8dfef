"""Bilingual speakers: one voice identity in two languages, labels per utterance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import parselmouth
import pytest

from s2f_data import read_manifest
from s2f_data.biaslab import (
    SAMPLE_RATE,
    PopulationSpec,
    PopulationSpecError,
    VoiceProfile,
    generate_population,
    sample_speakers,
    sample_voice,
    synthesize_utterance,
    voice_in_language,
)

_VOICE_IDENTITY = ("f0_hz", "vtl_factor", "jitter", "tremor_hz", "tremor_depth", "breathiness")


@pytest.fixture
def bilingual_dict() -> dict[str, Any]:
    data = PopulationSpec.preset("representative").to_dict()
    data.update(name="tiny-bilingual", utterances_per_speaker=1, clip_seconds=1.5, face_size_px=64)
    data["bilingual"] = {"share": 0.5, "eval_block": True, "utterances_per_language": 2}
    return data


def test_spec_option_validated_and_round_trips(bilingual_dict: dict[str, Any]) -> None:
    spec = PopulationSpec.from_dict(bilingual_dict)
    assert PopulationSpec.from_dict(spec.to_dict()) == spec
    assert spec.bilingual_cells() == [
        ("Asian", "zh"),
        ("Asian", "ja"),
        ("Black", "es"),
        ("Black", "ar"),
        ("Indian", "hi"),
        ("White", "es"),
        ("White", "ar"),
    ]
    bilingual_dict["bilingual"] = {"share": 1.5}
    with pytest.raises(PopulationSpecError, match=r"bilingual.share.*\[0, 1\], got 1.5"):
        PopulationSpec.from_dict(bilingual_dict)
    bilingual_dict["bilingual"] = {"shares": 0.1}
    with pytest.raises(PopulationSpecError, match=r"'bilingual\.shares': unknown key"):
        PopulationSpec.from_dict(bilingual_dict)
    # a spec without the option keeps its fingerprint (no bilingual key written)
    plain = PopulationSpec.preset("web-skewed")
    assert "bilingual" not in plain.to_dict() and not plain.bilingual_cells()


def test_voice_in_language_keeps_the_identity() -> None:
    zh = sample_voice(
        np.random.default_rng(3),
        language="zh",
        accent="native",
        gender="female",
        age_group="60+",
        face_size=-1.2,
    )
    en = voice_in_language(zh, language="en", accent="en-x-zh", rng=np.random.default_rng(0))
    for name in _VOICE_IDENTITY:
        assert getattr(en, name) == getattr(zh, name), name
    assert en.voice.split("+")[1] == zh.voice.split("+")[1]  # same espeak variant
    assert en.rate == round(zh.rate * 0.85)  # the Mandarin-L1 speed factor of en-x-zh
    with pytest.raises(ValueError, match="derive other languages"):
        voice_in_language(en, language="zh", accent="native", rng=np.random.default_rng(0))


def test_train_draw_share_and_unchanged_monolinguals(bilingual_dict: dict[str, Any]) -> None:
    spec = PopulationSpec.from_dict(bilingual_dict)
    plain = PopulationSpec.preset("representative")
    plain = PopulationSpec.from_dict({k: v for k, v in plain.to_dict().items() if k != "bilingual"})
    two = sample_speakers(spec, seed=2, n_speakers=400)
    one = sample_speakers(plain, seed=2, n_speakers=400)
    # the option adds columns and never changes who the speakers are or how they sound
    assert "bilingual" not in one.columns
    pd.testing.assert_frame_equal(two[one.columns], one)
    non_en = two[two["language"] != "en"]
    share = non_en["bilingual"].mean()
    # binomial(n ~ 190, 0.5): 4 standard errors is about 0.145
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / len(non_en))
    assert not two.loc[two["language"] == "en", "bilingual"].any()


@pytest.mark.espeak
def test_generated_bilingual_speakers_labels_per_utterance(
    bilingual_dict: dict[str, Any], tmp_path: Path
) -> None:
    bilingual_dict["clip_seconds"] = 0.5
    spec = PopulationSpec.from_dict(bilingual_dict)
    res = generate_population(
        spec, tmp_path, seed=7, kind="eval", min_per_cell=1, workers=2, progress=False
    )
    frame = read_manifest(res.manifest_path, check_files=True).frame
    speakers = pd.read_csv(tmp_path / "speakers.csv")
    two = speakers[speakers["bilingual"]]
    assert len(two) == 7  # one per (ethnicity, non-English language) pair of the spec
    for row in two.itertuples():
        utts = frame[frame["speaker_id"] == row.speaker_id]
        by_lang = dict(tuple(utts.groupby("language")))
        assert sorted(by_lang) == sorted(["en", row.first_language])  # labels per utterance
        assert len(by_lang["en"]) == len(by_lang[row.first_language]) == 2
        assert (by_lang[row.first_language]["accent"] == "native").all()
        expected = {"zh": "en-x-zh", "hi": "en-x-hi", "es": "en-x-es"}.get(row.first_language)
        if expected:  # the L1 accent where the lab simulates one
            assert (by_lang["en"]["accent"] == expected).all()
        assert row.voice_vtl_factor == row.voice2_vtl_factor  # identical formant warp
        assert row.voice_f0_hz == row.voice2_f0_hz
    card = json.loads((tmp_path / "data_card.json").read_text("utf-8"))
    assert {r["speaker_id"] for r in card["tables"]["bilingual_speakers"]} == set(two["speaker_id"])
    assert "## bilingual speakers" in (tmp_path / "data_card.md").read_text("utf-8")
    assert set(frame.loc[frame["bilingual"] == "true", "speaker_id"]) == set(two["speaker_id"])
    mono = frame[frame["bilingual"] == "false"]
    assert (mono.groupby("speaker_id")["language"].nunique() == 1).all()


def _median_f0_of(waves: list[np.ndarray]) -> float:
    """Median F0 over the voiced frames of several 16 kHz clips (parselmouth, 60-450 Hz)."""
    frames = []
    for x in waves:
        pitch = parselmouth.Sound(x.astype(np.float64), SAMPLE_RATE).to_pitch(
            time_step=0.01, pitch_floor=60.0, pitch_ceiling=450.0
        )
        f0 = pitch.selected_array["frequency"]
        frames.append(f0[f0 > 0])
    return float(np.median(np.concatenate(frames)))


@pytest.mark.espeak
def test_bilingual_voices_keep_median_f0_across_languages() -> None:
    # The bilingual speakers of an evaluation draw, one per (ethnicity, L1) pair: all five
    # L1s, both English accent kinds (L1 accent and native), both genders. Clips of 3 s, the
    # length the demo population uses (median F0 over a shorter clip leans on the
    # sentence-initial pitch, which differs between languages).
    table = sample_speakers(
        PopulationSpec.preset("representative"), seed=7, kind="eval", min_per_cell=1
    )
    two = table[table["bilingual"]].to_dict("records")
    assert {r["first_language"] for r in two} == {"zh", "ja", "es", "ar", "hi"}
    for row in two:
        first = VoiceProfile.from_dict({k[6:]: v for k, v in row.items() if k.startswith("voice_")})
        english = VoiceProfile.from_dict(
            {k[7:]: v for k, v in row.items() if k.startswith("voice2_")}
        )
        f0 = {
            p.language: _median_f0_of(
                [
                    synthesize_utterance(p, np.random.default_rng(j), clip_seconds=3.0).wave
                    for j in range(2)
                ]
            )
            for p in (first, english)
        }
        ratio = f0["en"] / f0[row["first_language"]]
        assert abs(ratio - 1) < 0.05, (row["speaker_id"], row["first_language"], f0)
