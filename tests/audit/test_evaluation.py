"""The evaluation-table builder: model + judge + manifest -> one row per utterance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from audit import build_evaluation_table
from s2f_data import ManifestInfo, read_manifest, write_manifest


class BrightnessJudge:
    """A deterministic judge: 'light' when the mean pixel is above 128, else 'dark'."""

    def __init__(self) -> None:
        self.name = "brightness"
        self.vocabularies = {"tone": ("dark", "light")}

    def predict_proba(self, images: np.ndarray) -> dict[str, np.ndarray]:
        light = (images.reshape(len(images), -1).mean(axis=1) > 128).astype(float)
        return {"tone": np.stack([1 - light, light], axis=1)}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    import torch

    from s2f_model import S2FConfig, build_model

    root = tmp_path_factory.mktemp("evalset")
    rng = np.random.default_rng(0)
    rows = []
    for s in range(4):
        face = np.full((80, 80, 3), 40 + 60 * s, dtype=np.uint8)
        Image.fromarray(face).save(root / f"f{s}.png")
        lm = rng.uniform(0.2, 0.8, size=(68, 2)).astype(np.float32)
        np.save(root / f"f{s}.npy", lm)
        for u in range(2):
            name = f"s{s}u{u}.wav"
            sf.write(root / name, 0.1 * rng.standard_normal(8000 * (1 + u)), 8000)
            rows.append({"utterance_id": f"s{s}u{u}", "speaker_id": f"s{s}", "split": "test",
                         "audio_path": name, "face_path": f"f{s}.png",
                         "landmarks_path": f"f{s}.npy", "language": "en" if s < 2 else "zh"})
    (root / "bad.wav").write_text("not audio")
    rows.append({"utterance_id": "bad", "speaker_id": "s9", "split": "test",
                 "audio_path": "bad.wav", "face_path": "f0.png", "landmarks_path": "f0.npy",
                 "language": "en"})
    path = write_manifest(pd.DataFrame(rows), root / "manifest.csv", ManifestInfo("test"))
    torch.manual_seed(0)
    model = build_model(S2FConfig.compact(), seed=0).eval()
    result = build_evaluation_table(
        model, read_manifest(path), BrightnessJudge(), gallery_size=3,
        samples_dir=root / "samples", samples_per_group=1, random_state=0,
        voice_measures=False,
    )
    return root, result


def test_one_row_per_good_utterance_and_bad_file_listed(setup) -> None:
    _, result = setup
    assert sorted(result.table["utterance_id"]) == [f"s{s}u{u}" for s in range(4) for u in (0, 1)]
    assert result.errors["utterance_id"].tolist() == ["bad"]
    assert result.errors["stage"].tolist() == ["audio"]
    assert "bad.wav" in result.errors["reason"].iloc[0]


def test_measurement_columns_are_consistent(setup) -> None:
    _, result = setup
    t = result.table
    assert t["cos_sim"].between(-1, 1).all()
    # L2 between unit vectors equals sqrt(2 - 2 cos)
    np.testing.assert_allclose(t["l2"], np.sqrt(np.maximum(2 - 2 * t["cos_sim"], 0)), atol=1e-5)
    assert t["retrieval_rank"].between(1, 3).all()
    assert (t["gallery_size"] == 3).all()
    # the judge sees the true faces at the reconstruction's size; s0 (40) is dark, s3 light
    true_tone = t.set_index("utterance_id")["true_tone"]
    assert true_tone["s0u0"] == "dark" and true_tone["s3u1"] == "light"
    probs = t[["recon_tone_p_dark", "recon_tone_p_light"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert {"true_nasal_index", "recon_nasal_index"} <= set(t.columns)
    assert {"upper_tone"} <= set(t.columns)


def test_true_landmarks_come_from_the_manifest(setup) -> None:
    from audit import craniofacial_measures

    root, result = setup
    t = result.table.set_index("utterance_id")
    expected = craniofacial_measures(np.load(root / "f2.npy")[None])["nasal_index"].iloc[0]
    assert t.loc["s2u0", "true_nasal_index"] == pytest.approx(expected)


def test_samples_written_per_group(setup) -> None:
    root, result = setup
    assert {s["language"] for s in result.samples} == {"en", "zh"}
    for sample in result.samples:
        for key in ("true_face", "reconstruction", "upper_bound"):
            assert (root / "samples" / sample[key]).is_file()


def test_empty_split_is_a_clear_error(setup, tmp_path: Path) -> None:
    from audit import AuditInputError

    root, _ = setup
    with pytest.raises(AuditInputError, match="no rows in split 'train'"):
        build_evaluation_table(None, read_manifest(root / "manifest.csv"), None, split="train")
