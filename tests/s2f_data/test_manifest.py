"""Manifest format: reading, writing and validation with line/column-precise messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from s2f_data import (
    ManifestError,
    ManifestInfo,
    read_manifest,
    sidecar_path,
    validate_manifest,
    write_manifest,
)

VOCAB = {"gender": ("female", "male"), "ethnicity": ("Asian", "Black", "Indian", "White")}


def _frame(**over: list) -> pd.DataFrame:
    data = {
        "utterance_id": ["u1", "u2", "u3"],
        "speaker_id": ["s1", "s1", "s2"],
        "audio_path": ["audio/u1.wav", "audio/u2.wav", "audio/u3.wav"],
        "split": ["train", "train", "test"],
        "gender": ["female", "female", "male"],
        "ethnicity": ["Asian", "Asian", "White"],
    }
    data.update(over)
    return pd.DataFrame(data)


def _write_raw(tmp_path: Path, frame: pd.DataFrame, info: ManifestInfo | None = None) -> Path:
    path = tmp_path / "manifest.csv"
    frame.to_csv(path, index=False)
    info = info or ManifestInfo(source="test", vocabularies=VOCAB)
    sidecar_path(path).write_text(json.dumps(info.to_dict()))
    return path


def test_round_trip_keeps_values_and_missing(tmp_path: Path) -> None:
    frame = _frame(gender=["female", None, "male"], accent=["", "en-us", None])
    frame["extra_col"] = ["a", "b", "c"]
    path = write_manifest(
        frame, tmp_path / "manifest.csv", ManifestInfo(source="t", vocabularies=VOCAB)
    )
    back = read_manifest(path)
    assert list(back.frame["utterance_id"]) == ["u1", "u2", "u3"]
    assert back.frame["gender"].isna().tolist() == [False, True, False]
    # empty demographic cells are kept as missing, not as "" or "nan"
    assert back.frame["accent"].isna().tolist() == [True, False, True]
    assert back.frame["extra_col"].tolist() == ["a", "b", "c"]
    assert back.info.vocabularies == VOCAB
    # required columns first, then face_path (absent), demographics, extras
    header = path.read_text().splitlines()[0].split(",")
    assert header[:4] == ["utterance_id", "speaker_id", "audio_path", "split"]
    assert header[-1] == "extra_col"


def test_labels_like_na_or_none_are_not_turned_into_missing(tmp_path: Path) -> None:
    frame = _frame(accent=["NA", "None", "null"])
    path = write_manifest(frame, tmp_path / "m.csv", ManifestInfo(source="t"))
    assert read_manifest(path).frame["accent"].tolist() == ["NA", "None", "null"]


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    path = _write_raw(tmp_path, _frame().drop(columns=["speaker_id"]))
    with pytest.raises(ManifestError, match="required column 'speaker_id' is missing"):
        read_manifest(path)


def test_label_outside_vocabulary_names_line_and_column(tmp_path: Path) -> None:
    path = _write_raw(tmp_path, _frame(gender=["female", "femal", "male"]))
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    msg = str(info.value)
    assert "line 3, column 'gender'" in msg
    assert "'femal' is not in the declared vocabulary" in msg
    assert len(info.value.issues) == 1


def test_duplicate_utterance_id(tmp_path: Path) -> None:
    path = _write_raw(tmp_path, _frame(utterance_id=["u1", "u2", "u1"]))
    with pytest.raises(ManifestError, match=r"line 4, column 'utterance_id'.*first seen on line 2"):
        read_manifest(path)


def test_bad_split_and_speaker_in_two_splits(tmp_path: Path) -> None:
    issues = validate_manifest(
        _frame(split=["train", "exam", "test"]).astype("string"), ManifestInfo(source="t"), tmp_path
    )
    msgs = [str(i) for i in issues]
    assert any("value 'exam' is not one of ['test', 'train', 'val']" in m for m in msgs)
    issues = validate_manifest(
        _frame(split=["train", "test", "test"]).astype("string"), ManifestInfo(source="t"), tmp_path
    )
    assert any("speaker 's1' appears in several splits" in str(i) for i in issues)


def test_relative_and_absolute_paths_resolve(tmp_path: Path) -> None:
    absolute = str(tmp_path / "audio" / "abs.wav")
    frame = _frame(audio_path=["audio/u1.wav", "./audio/../audio/u2.wav", absolute])
    path = write_manifest(frame, tmp_path / "manifest.csv", ManifestInfo(source="t"))
    paths = read_manifest(path).audio_paths()
    assert paths[0] == tmp_path / "audio" / "u1.wav"
    assert paths[1] == tmp_path / "audio" / "u2.wav"
    assert paths[2] == Path(absolute)


@pytest.mark.parametrize("bad", ["../outside.wav", "audio/../../x.wav", "/etc/passwd"])
def test_path_escaping_data_root_is_rejected(tmp_path: Path, bad: str) -> None:
    sub = tmp_path / "data"
    sub.mkdir()
    path = _write_raw(sub, _frame(audio_path=["a.wav", bad, "b.wav"]))
    with pytest.raises(ManifestError, match=r"line 3, column 'audio_path'.*outside the data root"):
        read_manifest(path)


def test_declared_data_root_allows_parent_folder(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir()
    info = ManifestInfo(source="t", data_root="..")
    frame = _frame(audio_path=["../wav/a.wav", "../wav/b.wav", "../wav/c.wav"])
    path = write_manifest(frame, tmp_path / "meta" / "manifest.csv", info)
    assert read_manifest(path).audio_paths()[0] == tmp_path / "wav" / "a.wav"


def test_check_files_reports_missing_file(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    for name in ("u1", "u3"):
        (tmp_path / "audio" / f"{name}.wav").write_bytes(b"x")
    path = _write_raw(tmp_path, _frame())
    read_manifest(path)  # files not checked by default
    with pytest.raises(ManifestError, match=r"line 3, column 'audio_path': file not found"):
        read_manifest(path, check_files=True)


def test_empty_required_value(tmp_path: Path) -> None:
    path = _write_raw(tmp_path, _frame(speaker_id=["s1", "", "s2"]))
    with pytest.raises(ManifestError, match="line 3, column 'speaker_id': required value is empty"):
        read_manifest(path)


@pytest.mark.parametrize("column", ["utterance_id", "speaker_id", "audio_path", "split"])
@pytest.mark.parametrize("blank", [" ", "   ", "\t"])
def test_whitespace_only_required_value_is_empty(tmp_path: Path, column: str, blank: str) -> None:
    frame = _frame()
    frame.loc[1, column] = blank
    path = _write_raw(tmp_path, frame)
    with pytest.raises(ManifestError, match=f"line 3, column '{column}': required value is empty"):
        read_manifest(path)


def test_write_refuses_invalid_frame(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not in the declared vocabulary"):
        write_manifest(
            _frame(gender=["x", "female", "male"]),
            tmp_path / "m.csv",
            ManifestInfo(source="t", vocabularies=VOCAB),
        )
    assert not (tmp_path / "m.csv").exists()


def test_sidecar_from_newer_version_is_refused(tmp_path: Path) -> None:
    path = _write_raw(tmp_path, _frame())
    data = json.loads(sidecar_path(path).read_text())
    data["schema_version"] = 99
    sidecar_path(path).write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="schema_version 99"):
        read_manifest(path)


def test_unreadable_csv_names_file(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_bytes(b"")
    with pytest.raises(ManifestError, match=r"manifest\.csv: cannot read manifest CSV"):
        read_manifest(path)
    with pytest.raises(ManifestError, match="manifest file not found"):
        read_manifest(tmp_path / "nope.csv")


def test_atomic_write_gives_the_usual_file_mode(tmp_path: Path) -> None:
    import os

    from s2f_data import atomic_write_text

    atomic_write_text(tmp_path / "x.txt", "hi")
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_problem_lines_count_blank_lines_and_multiline_cells(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text(
        "utterance_id,speaker_id,audio_path,split,text\n"
        'u1,s1,a.wav,train,"hello\nworld"\n'  # lines 2-3: a transcript with a line break
        "\n"  # line 4: blank (pandas skips it)
        "u2,s2,b.wav,exam,x\n"  # line 5
        "u1,s3,c.wav,test,y\n"  # line 6
    )
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    text = str(err.value)
    assert "line 5, column 'split': value 'exam'" in text
    assert (
        "line 6, column 'utterance_id': duplicate utterance_id 'u1' (first seen on line 2)" in text
    )


def test_manifest_line_of_each_row(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text(
        "utterance_id,speaker_id,audio_path,split,text\n"
        "\n"
        'u1,s1,a.wav,train,"a\nb\nc"\nu2,s2,b.wav,test,x\n'
    )
    manifest = read_manifest(path)
    assert manifest.frame.index.tolist() == [0, 1]  # positions, as before
    assert [manifest.line(i) for i in range(2)] == [3, 6]
    (tmp_path / "p").mkdir()
    plain = _write_raw(tmp_path / "p", _frame())
    assert [read_manifest(plain).line(i) for i in range(3)] == [2, 3, 4]
