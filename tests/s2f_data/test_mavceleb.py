"""MAV-Celeb adapter on a fixture in the published layout (voices/faces per language folder)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2f_cli import main
from s2f_data import read_manifest
from s2f_data.adapters import FORMATS, import_mavceleb
from s2f_data.exceptions import DataFormatError


def _wav(path: Path, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(16000)
        fh.writeframes(np.zeros(int(16000 * seconds), dtype="<i2").tobytes())
    path.write_bytes(buf.getvalue())


def _jpg(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), (shade, shade, shade)).save(path)


def _fixture(root: Path, *, single: bool = False) -> Path:
    """A v1-like root: 3 speakers in English and Urdu (the third English only if single)."""
    root.mkdir(parents=True)
    (root / "v1_meta.csv").write_text(
        "ids,name,gender\nid0001,Alpha,Male\nid0002,Beta,Female\nid0003,Gamma,Male\n", "utf-8"
    )
    for spk in ("id0001", "id0002", "id0003"):
        for lang in ("English", "Urdu"):
            if single and spk == "id0003" and lang == "Urdu":
                continue
            for video in ("vidA", "vidB"):
                for n in (1, 2):
                    _wav(root / "voices" / spk / lang / f"{lang[:2]}{video}" / f"{n:05d}.wav")
                _jpg(root / "faces" / spk / lang / f"{lang[:2]}{video}" / "0001.jpg", 40)
    return root


def test_import_layout_languages_faces_and_test_ids(tmp_path: Path) -> None:
    root = _fixture(tmp_path / "v1")
    ids = tmp_path / "test_ids.txt"
    ids.write_text("id0002\n", "utf-8")
    res = import_mavceleb(root, tmp_path / "m.csv", test_ids=ids)
    frame = read_manifest(res.path, check_files=True).frame
    assert len(frame) == 3 * 2 * 2 * 2  # speakers x languages x videos x utterances
    per_speaker = frame.groupby("speaker_id")["language"].agg(lambda s: sorted(set(s)))
    assert all(v == ["en", "ur"] for v in per_speaker)  # language per utterance
    assert set(frame.loc[frame["split"] == "test", "speaker_id"]) == {"id0002"}
    row = frame[frame["utterance_id"] == "id0001/Urdu/UrvidB/00002"].iloc[0]
    assert row["language"] == "ur" and row["gender"] == "male"
    assert row["face_path"].endswith("faces/id0001/Urdu/UrvidB/0001.jpg")  # same video's crop
    assert frame["ethnicity"].isna().all()  # not published: never guessed
    assert res.notes == [] and len(res.skipped) == 0
    assert "mavceleb" in FORMATS


def test_single_language_speaker_is_kept_and_flagged(tmp_path: Path) -> None:
    root = _fixture(tmp_path / "v1", single=True)
    res = import_mavceleb(root, tmp_path / "m.csv")
    frame = res.frame
    assert set(frame.loc[frame["speaker_id"] == "id0003", "languages"]) == {"en"}
    assert set(frame.loc[frame["speaker_id"] == "id0001", "languages"]) == {"en;ur"}
    assert any("1 speaker(s) with a single language" in n and "id0003" in n for n in res.notes)
    assert res.info.extra["single_language_speakers"] == ["id0003"]


def test_bad_layouts_give_clear_errors(tmp_path: Path) -> None:
    root = _fixture(tmp_path / "v1")
    _wav(root / "voices" / "id0001" / "Klingon" / "v" / "00001.wav")
    with pytest.raises(
        DataFormatError,
        match=r"Klingon: unknown language folder 'Klingon'; "
        r"expected one of \['English', 'German', 'Hindi', 'Urdu'\]",
    ):
        import_mavceleb(root, tmp_path / "m.csv")
    with pytest.raises(DataFormatError, match=r"no voices/ folder \(expected voices/<id>/"):
        import_mavceleb(tmp_path / "empty", tmp_path / "m.csv")


def test_missing_language_folder_is_skipped_with_reason(tmp_path: Path) -> None:
    root = _fixture(tmp_path / "v1")
    _wav(root / "voices" / "id0002" / "00009.wav")  # directly under the speaker
    res = import_mavceleb(root, tmp_path / "m.csv")
    reasons = dict(zip(res.skipped["item"], res.skipped["reason"], strict=True))
    item = str(root / "voices" / "id0002" / "00009.wav")
    assert reasons[item].startswith("not inside a language folder")


def test_cli_data_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _fixture(tmp_path / "v1")
    out = tmp_path / "m.csv"
    assert (
        main(
            [
                "data",
                "import",
                "mavceleb",
                str(root),
                "--out",
                str(out),
                "--test-fraction",
                "0.34",
                "--val-fraction",
                "0",
            ]
        )
        == 0
    )
    frame = read_manifest(out).frame
    assert frame.groupby("speaker_id")["split"].nunique().eq(1).all()  # split by speaker
    assert (frame["split"] == "test").any()
    assert "24 utterances, 3 speakers (mavceleb)" in capsys.readouterr().out
    _wav(root / "voices" / "id0001" / "Klingon" / "v" / "00001.wav")
    assert main(["data", "import", "mavceleb", str(root), "--out", str(out)]) == 2
    assert "unknown language folder 'Klingon'" in capsys.readouterr().err


def test_folder_named_like_a_wav_is_not_an_utterance(tmp_path: Path) -> None:
    root = _fixture(tmp_path / "v1")
    (root / "voices" / "id0001" / "English" / "EnvidA" / "00009.wav").mkdir()
    res = import_mavceleb(root, tmp_path / "m.csv")
    assert len(res.frame) == 3 * 2 * 2 * 2
    read_manifest(res.path, check_files=True)  # every audio_path is a file
