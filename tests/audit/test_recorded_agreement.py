"""Data without face images: reconstructions judged against the speaker's recorded attributes.

Before, an audit of voice-only data (Common Voice: the README's "typical audit") judged
nothing and measured nothing from the model: every table but the voice measures was empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, recall_score

from audit import SmallGroupWarning, default_groupings, run_audit_tables
from audit._labels import detect_recorded_targets

N_SPEAKERS, PER_SPEAKER = 60, 2


def _voice_only_table(seed: int = 0) -> pd.DataFrame:
    """Recorded gender (some "other"), age, two languages, no ethnicity; judged reconstructions."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(N_SPEAKERS):
        gender = "other" if s % 15 == 0 else ("female" if s % 2 else "male")
        right = rng.random() < (0.6 if gender == "female" else 0.95)
        judged = gender if (right and gender != "other") else rng.choice(["female", "male"])
        for u in range(PER_SPEAKER):
            p_female = 0.9 if judged == "female" else 0.1
            rows.append(
                {
                    "utterance_id": f"s{s}u{u}",
                    "speaker_id": f"s{s}",
                    "language": "en" if s % 3 else "es",
                    "gender": gender,
                    "age_group": "18-29" if s % 4 < 2 else "60+",
                    "ethnicity": None,
                    "accent": "",
                    "recon_gender": judged,
                    "recon_gender_p_female": p_female,
                    "recon_gender_p_male": 1 - p_female,
                    "f0_median_hz": 210.0 if gender == "female" else 120.0,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    with pytest.warns(SmallGroupWarning, match="gender=other"):  # 4 speakers recorded "other"
        return run_audit_tables(_voice_only_table(), n_boot=200, min_group_size=5, random_state=0)


def _row(metrics: pd.DataFrame, metric: str, label=None, attribute: str = "overall") -> pd.Series:
    rows = metrics[(metrics.metric == metric) & (metrics.attribute == attribute)]
    rows = rows[rows.label.isna()] if label is None else rows[rows.label == label]
    assert len(rows) == 1, (metric, label, attribute)
    return rows.iloc[0]


def test_recorded_metrics_match_sklearn_on_the_speakers_the_judge_can_label(tables):
    table = _voice_only_table()
    known = table[table.gender.isin(["female", "male"])]  # "other": not measured
    metrics = tables["metrics"]
    agreement = _row(metrics, "recorded_agreement")
    assert agreement["target"] == "gender" and agreement["section"] == "agreement"
    assert agreement["n_utterances"] == len(known) < len(table)
    assert agreement["value"] == pytest.approx(accuracy_score(known.gender, known.recon_gender))
    kappa = _row(metrics, "recorded_kappa")["value"]
    assert kappa == pytest.approx(cohen_kappa_score(known.gender, known.recon_gender))
    for label in ("female", "male"):
        want = recall_score(known.gender, known.recon_gender, labels=[label], average=None)[0]
        assert _row(metrics, "recorded_recall", label)["value"] == pytest.approx(want)
    assert "agreement" not in set(metrics.metric)  # no true faces: nothing to agree with


def test_a_recall_empty_by_construction_is_not_listed(tables):
    """Speakers recorded male hold none recorded female: no such row, no "empty" group."""
    metrics = tables["metrics"]
    recalls = metrics[(metrics.metric == "recorded_recall") & (metrics.attribute == "gender")]
    assert sorted(zip(recalls.group_label, recalls.label, strict=True)) == [
        ("gender=female", "female"),
        ("gender=male", "male"),
    ]
    other = metrics[
        (metrics.group_label == "gender=other") & (metrics.metric == "recorded_agreement")
    ]
    assert other.n_utterances.tolist() == [0] and other.value.isna().all()  # not measured, not 0
    groups = tables["groups"].set_index("group_label")
    assert groups.loc["gender=other", "n_speakers"] == 4  # the speakers are still counted


def test_women_reconstructed_as_men_is_a_focus_gap(tables):
    focus = tables["focus"].set_index("question")
    assert list(focus.index) == ["gender x age_group"]  # no ethnicity recorded: not asked
    assert focus.loc["gender x age_group", "metric"] == "recorded_agreement"
    assert bool(focus.loc["gender x age_group", "measured"])
    groups = tables["focus_groups"]
    women = groups[groups.group_label.str.startswith("gender=female")]
    assert (women.value < groups.value.max()).all()


def test_pitch_analysis_runs_on_recorded_gender(tables):
    pitch = tables["pitch"]
    assert len(pitch) and set(pitch.metric) == {"predicted_rate"}
    high_women = pitch[
        (pitch.group_label == "f0_bin=190-220 Hz x gender=female") & (pitch.label == "female")
    ]
    table = _voice_only_table()
    women = table[table.gender == "female"]
    assert high_women.iloc[0]["value"] == pytest.approx((women.recon_gender == "female").mean())


def test_detect_recorded_targets_only_without_true_faces():
    table = pd.DataFrame(
        {
            "gender": ["f"],
            "recon_gender": ["m"],
            "age_group": ["30-44"],
            "recon_age_group": ["30-44"],
            "true_age_group": ["30-44"],
            "recon_gender_p_f": [0.2],
            "language": ["en"],
        }
    )
    assert detect_recorded_targets(table) == ["gender"]


def test_default_groupings_skip_columns_that_do_not_split_the_rows():
    table = _voice_only_table()
    assert default_groupings(table) == ["language", "gender", "age_group"]
    one_language = table.assign(language="en", accent="en-us")
    assert "language" not in default_groupings(one_language)
    assert "accent" not in default_groupings(one_language)
