from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from PIL import Image

from s2f_data import DataFormatError, read_manifest
from s2f_model._data import (
    load_face_image,
    load_landmarks,
    load_voice_face_data,
    training_identities,
)
from s2f_model._frontend import fit_clip


def test_load_face_image_converts_and_resizes(tmp_path):
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))  # (64, 64) gradient
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    out = load_face_image(tmp_path / "g.png", 16)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    # bilinear with anti-aliasing equals Pillow's own resize of the RGB image
    ref = np.asarray(Image.fromarray(grey).convert("RGB").resize((16, 16), Image.BILINEAR))
    np.testing.assert_array_equal(out, ref)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataFormatError, match=r"bad\.png: cannot decode face image"):
        load_face_image(tmp_path / "bad.png", 16)


def test_load_landmarks_validates(tmp_path):
    good = np.full((68, 2), 0.5, dtype=np.float64)
    np.save(tmp_path / "good.npy", good)
    out = load_landmarks(tmp_path / "good.npy")
    assert out.dtype == np.float32 and out.shape == (68, 2)
    np.save(tmp_path / "shape.npy", np.zeros((5, 2)))
    with pytest.raises(DataFormatError, match=r"shape \(5, 2\), expected \(68, 2\)"):
        load_landmarks(tmp_path / "shape.npy")
    np.save(tmp_path / "pixels.npy", good * 200)
    with pytest.raises(DataFormatError, match=r"normalised to \[0, 1\]"):
        load_landmarks(tmp_path / "pixels.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"obj\.npy: cannot read landmarks"):
        load_landmarks(tmp_path / "obj.npy")


def test_training_identities_are_sorted_train_speakers(tiny_manifest):
    manifest = read_manifest(tiny_manifest)
    assert training_identities(manifest) == ["spk00", "spk01", "spk02", "spk03"]


def test_load_split_matches_files(tiny_manifest):
    manifest = read_manifest(tiny_manifest)
    data = load_voice_face_data(
        manifest, "train", sample_rate=16000, clip_samples=20000, image_size=24
    )
    frame = manifest.frame[manifest.frame["split"] == "train"].reset_index(drop=True)
    assert len(data) == len(frame) == 12
    assert data.waves.shape == (12, 20000) and data.waves.dtype == torch.float32
    assert len(data.faces) == 4  # one distinct face per speaker, decoded once
    for i, row in frame.iterrows():
        raw, sr = sf.read(manifest.resolve(row["audio_path"]), dtype="float32")
        assert sr == 16000
        np.testing.assert_allclose(data.waves[i].numpy(), fit_clip(raw, 20000), atol=1e-7)
        j = int(data.face_index[i])
        assert data.faces.paths[j] == manifest.resolve(row["face_path"])
        marks = np.load(manifest.resolve(row["landmarks_path"]))
        np.testing.assert_array_equal(data.faces.landmarks[j].numpy(), marks)
        assert data.faces.identity[j] == data.identities.index(row["speaker_id"])
    batch = data.batch([0, 5])
    assert batch["image"].shape == (2, 3, 24, 24)
    assert 0.0 <= float(batch["image"].min()) and float(batch["image"].max()) <= 1.0
    assert batch["wave"].shape == (2, 20000)
    assert batch["has_landmarks"].all()


def test_load_split_resamples_and_marks_unknown_identities(manifest_factory):
    path = manifest_factory(sample_rate=8000, n_speakers=4, utts_per_speaker=1)
    data = load_voice_face_data(path, "test", sample_rate=16000, clip_samples=4000, image_size=8)
    assert data.waves.shape == (1, 4000)
    assert data.faces.identity.tolist() == [-1]  # test speakers are not fc8 classes


def test_rows_without_face_or_landmarks(manifest_factory):
    path = manifest_factory(n_speakers=4, utts_per_speaker=2)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "face_path"] = ""
    frame.loc[2, "landmarks_path"] = ""
    frame.to_csv(path, index=False)
    data = load_voice_face_data(path, "train", sample_rate=16000, clip_samples=100, image_size=8)
    assert data.n_dropped == 1 and len(data) == 3
    # spk00's face comes from row 1 (with landmarks), spk01's from row 2 (without)
    assert data.faces.has_landmarks.tolist() == [True, False]
    assert data.faces.landmarks[1].abs().sum() == 0
    frame["face_path"] = ""
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match="no row of split 'train' has a face_path"):
        load_voice_face_data(path, "train", sample_rate=16000, clip_samples=100, image_size=8)
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'val', 'test'\]"):
        load_voice_face_data(path, "dev", sample_rate=16000, clip_samples=100, image_size=8)


def test_broken_audio_names_the_file(manifest_factory):
    path = manifest_factory(n_speakers=3, utts_per_speaker=1)
    (path.parent / "audio" / "spk00_u0.wav").write_bytes(b"RIFF garbage")
    with pytest.raises(DataFormatError, match=r"spk00_u0\.wav: cannot decode audio"):
        load_voice_face_data(path, "train", sample_rate=16000, clip_samples=100, image_size=8)
