"""The population checks: features, held-out classification, speaker identification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from s2f_data.biaslab._checks import (
    accent_study_spec,
    held_out_classification,
    speaker_identification,
    utterance_features,
)


def _frame(n_speakers: int, per: int, labels: list[str]) -> pd.DataFrame:
    rows = [
        {"speaker_id": f"s{i:03d}", "accent": labels[i % len(labels)], "audio_path": f"{i}-{j}.wav"}
        for i in range(n_speakers)
        for j in range(per)
    ]
    return pd.DataFrame(rows)


def test_utterance_features_shape_and_pitch_sensitivity() -> None:
    t = np.arange(16000) / 16000
    low = np.sign(np.sin(2 * np.pi * 110 * t)) * 0.1
    high = np.sign(np.sin(2 * np.pi * 220 * t)) * 0.1
    a, b = utterance_features(low), utterance_features(high)
    assert a.shape == (64,) and np.isfinite(a).all()
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match=r">= 512 samples, got shape \(100,\)"):
        utterance_features(np.zeros(100))


def test_held_out_classification_never_tests_on_training_speakers() -> None:
    rng = np.random.default_rng(0)
    frame = _frame(40, 3, ["a", "b"])
    # label signal shared by the class, plus a strong per-speaker offset
    speaker_offset = rng.normal(0, 3, (40, 5)).repeat(3, axis=0)
    label = (frame["accent"] == "b").to_numpy()[:, None] * 1.0
    x = speaker_offset + label * 4.0 + rng.normal(0, 0.3, (120, 5))
    res = held_out_classification(frame, ".", "accent", features=x)
    assert res["n_speakers"] == 40 and res["chance"] == 0.5
    assert res["accuracy"] > 0.8
    # speaker identity alone carries no label information: held out, it is at chance
    res_null = held_out_classification(
        frame, ".", "accent", features=speaker_offset + rng.normal(0, 0.3, (120, 5))
    )
    assert res_null["accuracy"] < 0.75


def test_speaker_identification_against_hand_made_clusters() -> None:
    rng = np.random.default_rng(1)
    frame = _frame(30, 4, ["x"])
    centres = rng.normal(0, 1, (30, 8))
    tight = centres.repeat(4, axis=0) + rng.normal(0, 0.05, (120, 8))
    loose = centres.repeat(4, axis=0) + rng.normal(0, 50, (120, 8))
    good = speaker_identification(frame, ".", features=tight)
    bad = speaker_identification(frame, ".", features=loose)
    assert good["top1"] == 1.0 and good["n_trials"] == 60
    assert bad["top1"] < 0.3
    assert good["chance"] == pytest.approx(1 / 30)


def test_accent_study_spec_is_english_with_uniform_accents() -> None:
    spec = accent_study_spec(speakers=70)
    assert all(t == {"en": 1.0} for t in spec.language.values())
    assert len(spec.accent["en"]["default"]) == 7


def test_face_grid_covers_every_group(tmp_path: Path) -> None:
    from PIL import Image

    from s2f_data.biaslab._checks import face_grid

    path = face_grid(tmp_path / "grid.png", size=64)
    with Image.open(path) as img:
        assert img.size == (64 + 8 * 64, 28 + 4 * 64)  # 8 gender x age columns, 4 rows
        pixels = np.asarray(img.convert("RGB"))
    # every cell holds a face: no cell is a flat colour
    cells = [
        pixels[28 + i * 64 : 28 + (i + 1) * 64, 64 + j * 64 : 64 + (j + 1) * 64]
        for i in range(4)
        for j in range(8)
    ]
    assert min(float(c.std()) for c in cells) > 10
