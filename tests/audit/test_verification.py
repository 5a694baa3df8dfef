"""Cross-modal verification protocol: EER by hand and against sklearn, trials, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_curve

from audit._verification import (
    equal_error_rate,
    make_trials,
    score_trials,
    verification_eer_table,
    write_challenge_files,
)
from audit.exceptions import AuditInputError


def _sklearn_eer(target: np.ndarray, score: np.ndarray) -> float:
    """Independent EER: sklearn's ROC (every threshold), crossing of FPR and FNR."""
    fpr, tpr, _ = roc_curve(target, score, drop_intermediate=False)
    fnr = 1 - tpr
    d = fnr - fpr
    k = int(np.flatnonzero(d <= 0)[0])
    if d[k] == 0:
        return float(fpr[k])
    lam = d[k - 1] / (d[k - 1] - d[k])
    return float(fpr[k - 1] + lam * (fpr[k] - fpr[k - 1]))


def test_eer_hand_computed() -> None:
    # accept at score >= 0.7: 2 of 3 targets accepted (FRR 1/3), 1 of 3 others (FAR 1/3)
    assert equal_error_rate([1, 1, 1, 0, 0, 0], [0.9, 0.8, 0.3, 0.7, 0.2, 0.1]) == pytest.approx(
        1 / 3, abs=1e-15
    )
    # no threshold with FAR = FRR: between t = 0.9 (FAR 0, FRR 2/3) and t = 0.6 (FAR 1,
    # FRR 2/3) the interpolated curves cross at FAR = FRR = 2/3
    assert equal_error_rate([1, 1, 1, 0], [0.9, 0.5, 0.2, 0.6]) == pytest.approx(2 / 3, abs=1e-15)
    assert equal_error_rate([1, 0], [0.9, 0.1]) == 0.0  # perfectly separated
    assert equal_error_rate([1, 0], [0.1, 0.9]) == 1.0
    assert np.isnan(equal_error_rate([1, 1], [0.3, 0.4]))  # no non-target trial


def test_eer_matches_sklearn_and_weights_equal_duplicates() -> None:
    rng = np.random.default_rng(0)
    target = rng.random(400) < 0.3
    score = rng.normal(size=400) + 0.8 * target
    score[:40] = np.round(score[:40], 1)  # some ties
    assert equal_error_rate(target, score) == pytest.approx(_sklearn_eer(target, score), abs=1e-12)
    w = rng.integers(0, 3, size=400).astype(float)
    dup = np.repeat(np.arange(400), w.astype(int))
    assert equal_error_rate(target, score, w) == pytest.approx(
        equal_error_rate(target[dup], score[dup]), abs=1e-12
    )


def _table(n_speakers: int = 8, single: str | None = None) -> pd.DataFrame:
    rows = []
    for s in range(n_speakers):
        for lang in ("en", "ur"):
            if single == f"s{s}" and lang == "ur":
                continue
            for j in range(3):
                rows.append(
                    {
                        "utterance_id": f"s{s}/{lang}/{j}",
                        "speaker_id": f"s{s}",
                        "language": lang,
                        "audio_path": f"voices/s{s}/{lang}/{j}.wav",
                        "face_path": f"faces/s{s}.jpg",
                    }
                )
    return pd.DataFrame(rows)


def _features(table: pd.DataFrame, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = {s: rng.normal(size=16) for s in table["speaker_id"].unique()}
    faces = {f"faces/{s}.jpg": v for s, v in ids.items()}
    voices = {
        u: ids[s] + noise * rng.normal(size=16)
        for u, s in zip(table["utterance_id"], table["speaker_id"], strict=True)
    }
    return voices, faces


def test_trials_scores_and_eer_table() -> None:
    table = _table(single="s7")
    trials = make_trials(table, n_nontarget=2, random_state=1)
    assert len(trials) == len(table) * 3
    per_utt = trials.groupby("utterance_id")["target"].agg(["sum", "size"])
    assert (per_utt["sum"] == 1).all() and (per_utt["size"] == 3).all()
    assert (
        trials.loc[~trials["target"], "face_speaker_id"]
        != trials.loc[~trials["target"], "speaker_id"]
    ).all()
    voices, faces = _features(table, noise=0.0)
    scored = score_trials(trials, voices, faces)
    l2 = np.sqrt(np.maximum(2 - 2 * scored["score"].to_numpy(), 0.0))  # cos may round above 1
    np.testing.assert_allclose(scored["l2"], l2, atol=1e-7)
    eer = verification_eer_table(scored, heard_language="en", n_boot=200)
    assert list(eer["language"]) == ["en", "ur"]
    assert list(eer["condition"]) == ["heard", "unheard"]
    assert (eer["eer"] == 0).all()  # the voice feature is the face feature
    assert list(eer["flags"]) == ["single_language_speakers", ""]  # s7 speaks English only
    noisy = score_trials(trials, *_features(table, noise=2.0))
    table2 = verification_eer_table(noisy, heard_language="ur", n_boot=300, random_state=4)
    for row in table2.itertuples():
        m = noisy["language"] == row.language
        assert row.eer == pytest.approx(_sklearn_eer(noisy["target"][m], noisy["score"][m]))
        assert row.ci_low <= row.eer <= row.ci_high


def test_challenge_files_and_bad_inputs(tmp_path: Path) -> None:
    table = _table(3)
    trials = score_trials(make_trials(table), *_features(table, noise=1.0))
    files = write_challenge_files(trials, tmp_path, heard_language="en")
    names = sorted(p.name for p in files)
    assert names == [
        "English_test.txt",
        "Urdu_test.txt",
        "sub_score_English_heard.txt",
        "sub_score_English_unheard.txt",
    ]
    first = (tmp_path / "English_test.txt").read_text("utf-8").splitlines()[0].split(" ")
    assert first == ["t000000", "voices/s0/en/0.wav", "faces/s0.jpg"]
    key, value = (
        (tmp_path / "sub_score_English_heard.txt").read_text("utf-8").split("\n")[0].split(" ")
    )
    assert key == "t000000" and float(value) == pytest.approx(trials["l2"].iloc[0], abs=1e-6)
    with pytest.raises(AuditInputError, match=r"need column\(s\) \['face_path'\]"):
        make_trials(table.drop(columns="face_path"))
    with pytest.raises(AuditInputError, match="at least 2 speakers, got 1"):
        make_trials(table[table["speaker_id"] == "s0"])
    with pytest.raises(AuditInputError, match="no voice feature for utterance"):
        score_trials(trials, {}, {})
