"""Adapters: each published layout (with its quirks) imports to the expected manifest."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from s2fdata_fixtures import (
    AGE_TABLE,
    AVSPEECH_ROWS,
    make_avspeech,
    make_casual_conversations,
    make_common_voice,
    make_voxceleb1,
    make_voxceleb2,
)
from s2fdata_media import tone

from s2f_data import DataFormatError, load_audio, load_face, read_manifest
from s2f_data.adapters import (
    FORMATS,
    SPLIT_DEFAULTS,
    SpeakerSplit,
    assign_splits,
    avspeech_clip_id,
    import_avspeech,
    import_casual_conversations,
    import_common_voice,
    import_dataset,
    import_table,
    import_voxceleb1,
    import_voxceleb2,
    parse_mapping,
    read_age_table,
    read_avspeech_csv,
)


def _cells(frame: pd.DataFrame, cols: list[str]) -> list[list]:
    sub = frame[cols].astype(object)
    return sub.where(sub.notna(), None).values.tolist()


# --------------------------------------------------------------------------- VoxCeleb1
def test_voxceleb1_imports_to_expected_manifest(tmp_path: Path):
    root = make_voxceleb1(tmp_path / "vox1")
    res = import_voxceleb1(root, tmp_path / "out" / "manifest.csv", faces_dir=root / "faces")
    m = read_manifest(tmp_path / "out" / "manifest.csv", check_files=True)
    f = m.frame
    assert _cells(
        f,
        ["utterance_id", "speaker_id", "split", "gender", "nationality", "video_id", "vggface1_id"],
    ) == [
        [
            "id10001/1zcIwhmdeo4/00001",
            "id10001",
            "train",
            "male",
            "Ireland",
            "1zcIwhmdeo4",
            "A.J._Buckley",
        ],
        [
            "id10001/1zcIwhmdeo4/00002",
            "id10001",
            "train",
            "male",
            "Ireland",
            "1zcIwhmdeo4",
            "A.J._Buckley",
        ],
        [
            "id10001/7gWzIy6yIIk/00001",
            "id10001",
            "train",
            "male",
            "Ireland",
            "7gWzIy6yIIk",
            "A.J._Buckley",
        ],
        [
            "id10002/Q8lnNb1OIaY/00001",
            "id10002",
            "train",
            "female",
            "Canada",
            "Q8lnNb1OIaY",
            "AJ_Cook",
        ],
        [
            "id10270/5r0dWxy17C8/00001",
            "id10270",
            "test",
            "male",
            "Norway",
            "5r0dWxy17C8",
            "x_Jean_Dujardin",
        ],
    ]
    # Nationality is never mapped to ethnicity or language; nothing else is guessed.
    for col in ("ethnicity", "language", "accent", "age_group"):
        assert f[col].isna().all(), col
    assert m.info.source == "voxceleb1"
    assert m.info.vocabularies["gender"] == ("female", "male")
    # paths resolve to the real files; faces: first VGGFace1 image by name, per-video crop
    assert (
        m.resolve(f["audio_path"][0])
        == (root / "vox1_dev_wav/wav/id10001/1zcIwhmdeo4/00001.wav").resolve()
    )
    faces = [None if pd.isna(v) else Path(v).name for v in f["face_path"]]
    assert faces == ["00000001.jpg"] * 3 + [None, "0001.png"]
    assert load_audio(m.audio_paths()[4]).shape == (8000,)
    # skipped: speaker folder not in the meta file, and meta speaker without audio
    assert sorted(res.skipped["item"]) == ["id10003", "id10999"]
    assert any("not ethnicity" in n for n in res.notes)
    assert "1 face" in res.summary() or "no face image found for 1 of 5" in res.summary()


def test_voxceleb1_meta_read_as_comma_csv_would_fail(tmp_path: Path):
    """The quirk: the .csv file is tab-separated; a comma reader sees one column."""
    root = make_voxceleb1(tmp_path / "vox1")
    assert pd.read_csv(root / "vox1_meta.csv").shape[1] == 1
    res = import_voxceleb1(root / "vox1_meta.csv", tmp_path / "m.csv")  # meta file as root
    assert len(res.frame) == 5


def test_voxceleb1_age_enrichment_join(tmp_path: Path):
    root = make_voxceleb1(tmp_path / "vox1")
    res = import_voxceleb1(root, tmp_path / "m.csv", age_table=root / "age.csv")
    f = res.frame
    assert _cells(f, ["utterance_id", "age", "age_group", "gender", "gender_enriched"]) == [
        ["id10001/1zcIwhmdeo4/00001", "36", "30-44", "male", "male"],
        ["id10001/1zcIwhmdeo4/00002", "36", "30-44", "male", "male"],
        ["id10001/7gWzIy6yIIk/00001", "45", "45-59", "male", "male"],
        ["id10002/Q8lnNb1OIaY/00001", "30", "30-44", "female", "male"],
        ["id10270/5r0dWxy17C8/00001", None, None, "male", "male"],
    ]
    notes = " ".join(res.notes)
    assert "disagree for 1 utterance" in notes
    assert "1 speaker id(s) not in the meta file" in notes
    assert "age known for 4 of 5" in notes


def test_age_table_recomputes_age_from_years(tmp_path: Path):
    (tmp_path / "a.csv").write_text(
        "VoxCeleb_ID,video_id,birth_year,recording_year,"
        "speaker_age\nid1,v1,1970,2000,99\nid1,v2,,,41\n"
    )
    t = read_age_table(tmp_path / "a.csv")
    assert t["age"].tolist() == [30.0, 41.0]
    (tmp_path / "b.csv").write_text("VoxCeleb_ID,birth_year\nid1,1970\n")
    with pytest.raises(DataFormatError, match="needs 'speaker_age' or both 'birth_year'"):
        read_age_table(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("VoxCeleb_ID,speaker_age\nid1,forty\n")
    with pytest.raises(
        DataFormatError,
        match=r"line 2, column 'speaker_age': expected a "
        r"number, got 'forty'",
    ):
        read_age_table(tmp_path / "c.csv")


def test_voxceleb1_bad_meta_names_line_and_column(tmp_path: Path):
    root = make_voxceleb1(tmp_path / "vox1")
    text = (root / "vox1_meta.csv").read_text()
    text = text.replace("id10002\tAJ_Cook\tf", "id10002\tAJ_Cook\tx")
    (root / "vox1_meta.csv").write_text(text)
    with pytest.raises(
        DataFormatError,
        match=r"vox1_meta\.csv: line 3, column 'Gender': "
        r"expected 'm' or 'f', got 'x'",
    ):
        import_voxceleb1(root, tmp_path / "m.csv")
    (root / "vox1_meta.csv").write_text("VoxCeleb1 ID,Gender\nid1,m\n")
    with pytest.raises(
        DataFormatError,
        match=r"lacks column\(s\) \['VGGFace1 ID', 'Set', "
        r"'Nationality'\]",
    ):
        import_voxceleb1(root, tmp_path / "m.csv")


# --------------------------------------------------------------------------- VoxCeleb2
@pytest.mark.parametrize("tab_with_name", [False, True])
def test_voxceleb2_imports_m4a_tree(tmp_path: Path, tab_with_name: bool):
    root = make_voxceleb2(tmp_path / "vox2", tab_with_name=tab_with_name)
    res = import_voxceleb2(root, tmp_path / "m.csv")
    f = res.frame
    assert _cells(f, ["utterance_id", "speaker_id", "split", "gender", "vggface2_id"]) == [
        ["id00012/21Uxsk56VDQ/00001", "id00012", "train", "male", "n000012"],
        ["id00017/01dfn2spqyE/00001", "id00017", "test", "male", "n000017"],
        ["id00080/0hEmNbWqUc8/00001", "id00080", "train", "male", "n000080"],
    ]
    assert "nationality" not in f.columns
    assert ("name" in f.columns) == tab_with_name
    assert any("some gender labels in vox2_meta.csv are known to be wrong" in n for n in res.notes)
    side = json.loads((tmp_path / "m.json").read_text())
    assert any("known to be wrong" in n for n in side["extra"]["notes"])
    m = read_manifest(tmp_path / "m.csv", check_files=True)
    y = load_audio(m.audio_paths()[0])
    assert y.shape == (8000,)
    assert np.argmax(np.abs(np.fft.rfft(y))) * 16000 / len(y) == pytest.approx(150, abs=2)


# ----------------------------------------------------------------------------- AVSpeech
def test_avspeech_first_row_is_not_lost(tmp_path: Path):
    root = make_avspeech(tmp_path / "avs")
    naive = pd.read_csv(root / "avspeech_train.csv")  # the common bug: header row assumed
    ours = read_avspeech_csv(root / "avspeech_train.csv")
    assert len(naive) == 2 and len(ours) == 3
    first = AVSPEECH_ROWS[0]
    assert ours.loc[0, "ytid"] == first[0] and ours.loc[0, "start"] == first[1]
    assert ours.loc[0, "clip_id"] == "AvWWVOgaMlk_090.000000-093.566667"


def test_avspeech_clip_id_format():
    assert avspeech_clip_id("abc", 5.5, 12.25) == "abc_005.500000-012.250000"
    assert avspeech_clip_id("abc", 1234.5, 1240.0) == "abc_1234.500000-1240.000000"


def test_avspeech_imports_with_side_table_and_face_frames(tmp_path: Path):
    root = make_avspeech(tmp_path / "avs")
    res = import_avspeech(
        root,
        tmp_path / "out" / "m.csv",
        side_table=root / "demographics.csv",
        frames_dir=tmp_path / "out" / "frames",
    )
    f = res.frame
    assert _cells(f, ["utterance_id", "speaker_id", "split", "gender", "age_group"]) == [
        ["AvWWVOgaMlk_090.000000-093.566667", "AvWWVOgaMlk", "train", "female", "30-44"],
        ["AvWWVOgaMlk_100.500000-104.000000", "AvWWVOgaMlk", "train", "female", "30-44"],
        ["-0Z9R7Ka8Uk_003.200000-006.800000", "-0Z9R7Ka8Uk", "test", None, "60+"],
    ]
    assert res.skipped.values.tolist() == [
        ["zzNoClipHere_001.000000-004.000000", "clip file not found"]
    ]
    assert f["ethnicity"].isna().all()
    assert f["face_x"].tolist() == ["0.586719", "0.500000", "0.250000"]
    m = read_manifest(tmp_path / "out" / "m.csv", check_files=True)
    # face crop: 0.6 x 60 px = 36 px square around the centre, taken from the middle frame
    face = load_face(m.face_paths()[0], 36, fit="resize")
    assert face.shape == (36, 36, 3)
    from PIL import Image

    with Image.open(m.face_paths()[0]) as img:
        assert img.size == (36, 36)
    assert load_audio(m.audio_paths()[2]).shape[0] > 0


def test_avspeech_bad_rows(tmp_path: Path):
    (tmp_path / "a.csv").write_text("ytid,start,end,x,y\nabc,1,2,0.5,0.5\n")
    with pytest.raises(DataFormatError, match=r"line 1, column 'start'.*is there a header row"):
        read_avspeech_csv(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("abc,1,2,0.5,0.5\nabc,3,2,0.5,0.5\n")
    with pytest.raises(DataFormatError, match=r"line 2: need 0 <= start < end"):
        read_avspeech_csv(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("abc,1,2,1.5,0.5\n")
    with pytest.raises(DataFormatError, match=r"line 1, column 'face_x'.*\[0, 1\], got 1.5"):
        read_avspeech_csv(tmp_path / "c.csv")


# -------------------------------------------------------------------------- Common Voice
def test_common_voice_imports_with_documented_mappings(tmp_path: Path):
    loc = make_common_voice(tmp_path / "cv")
    res = import_common_voice(loc, tmp_path / "m.csv")
    f = res.frame
    assert _cells(
        f,
        [
            "utterance_id",
            "speaker_id",
            "split",
            "gender",
            "age_group",
            "language",
            "accent",
            "cv_gender",
            "cv_age",
        ],
    ) == [
        [
            "common_voice_en_1",
            "c1",
            "train",
            "male",
            None,
            "en",
            "United States English",
            "male_masculine",
            "fourties",
        ],
        [
            "common_voice_en_2",
            "c1",
            "train",
            "male",
            None,
            "en",
            "United States English",
            "male_masculine",
            "fourties",
        ],
        ["common_voice_en_3", "c2", "train", "female", "18-29", "en", None, "female", "twenties"],
        [
            "common_voice_en_4",
            "c3",
            "train",
            None,
            None,
            "en",
            "India and South Asia (India, Pakistan, Sri Lanka)",
            "do_not_wish_to_say",
            None,
        ],
        ["common_voice_en_5", "c4", "val", "other", "60+", "en", None, "non-binary", "sixties"],
        [
            "common_voice_en_6",
            "c5",
            "test",
            None,
            None,
            "en",
            "Scottish English",
            "intersex",
            "teens",
        ],
        ["common_voice_en_7", "c6", "test", "other", "45-59", "en", None, "other", "fifties"],
    ]
    # the unbalanced quote did not swallow the following lines
    assert f["cv_sentence"][0] == 'He said "hello and left.'
    assert {c for c in f.columns if c.startswith("cv_")} == {
        "cv_client_id",
        "cv_path",
        "cv_sentence_id",
        "cv_sentence",
        "cv_sentence_domain",
        "cv_up_votes",
        "cv_down_votes",
        "cv_age",
        "cv_gender",
        "cv_accents",
        "cv_variant",
        "cv_locale",
        "cv_segment",
    }
    assert res.skipped["reason"].tolist() == ["audio file not found"]
    assert any("straddle" in n for n in res.notes)
    assert res.info.source_version == "cv-corpus-17.0-2024-03-15"
    assert load_audio(read_manifest(tmp_path / "m.csv").audio_paths()[0]).shape[0] > 4000


def test_common_voice_decade_scheme_keeps_age_words(tmp_path: Path):
    loc = make_common_voice(tmp_path / "cv")
    res = import_common_voice(loc, tmp_path / "m.csv", age_scheme="decades")
    assert res.frame["age_group"].tolist()[:3] == ["fourties", "fourties", "twenties"]
    assert "fourties" in res.info.vocabularies["age_group"]


def test_common_voice_unknown_label_names_file_line_column(tmp_path: Path):
    loc = make_common_voice(tmp_path / "cv")
    text = (loc / "dev.tsv").read_text().replace("sixties", "sixtys", 1)
    (loc / "dev.tsv").write_text(text)
    with pytest.raises(
        DataFormatError,
        match=r"dev\.tsv: line 2, column 'age': unknown age "
        r"'sixtys'",
    ):
        import_common_voice(loc, tmp_path / "m.csv")


# ------------------------------------------------------------------ Casual Conversations
def test_casual_conversations_videos_to_audio_and_face_frames(tmp_path: Path):
    root = make_casual_conversations(tmp_path / "cc")
    split = SpeakerSplit(val_fraction=0.1, test_fraction=0.2, seed=3)
    res = import_casual_conversations(root, tmp_path / "out" / "m.csv", split=split)
    f = res.frame
    assert _cells(
        f, ["utterance_id", "speaker_id", "gender", "age", "age_group", "skin_type", "lighting"]
    ) == [
        ["1001/1001_00", "1001", "female", "28", "18-29", "4", "normal"],
        ["1001/1001_01", "1001", "female", "28", "18-29", "4", "normal"],
        ["1001/1001_10", "1001", "female", "28", "18-29", "4", "dark"],
        ["1002/1002_00", "1002", "male", None, None, "6", "normal"],
        ["1003/1003_00", "1003", "other", "67", "60+", "1", "normal"],
    ]
    assert f["ethnicity"].isna().all()  # skin type is not ethnicity
    assert res.skipped.values.tolist() == [
        ["CasualConversationsA/1003/1003_05.MP4", "video file not found"]
    ]
    splits = assign_splits(["1001", "1002", "1003"], 0.1, 0.2, 3)
    assert f["split"].tolist() == [splits[s] for s in f["speaker_id"]]
    m = read_manifest(tmp_path / "out" / "m.csv", check_files=True)
    assert load_audio(m.audio_paths()[0]).shape == (9600,)  # 0.6 s audio track of the video
    face = load_face(m.face_paths()[0], 32)
    assert face.shape == (32, 32, 3)


def test_casual_conversations_list_layout_and_bad_labels(tmp_path: Path):
    root = make_casual_conversations(tmp_path / "cc")
    data = json.loads((root / "CasualConversations.json").read_text())
    as_list = [{"subject_id": k, **v} for k, v in data.items()]
    (root / "CasualConversations.json").write_text(json.dumps(as_list))
    res = import_casual_conversations(
        root, tmp_path / "m.csv", extract_frames=False, include_dark=False
    )
    assert len(res.frame) == 4 and "face_path" not in res.frame.columns
    assert "dark file excluded (include_dark=False)" in res.skipped["reason"].tolist()
    as_list[0]["label"]["skin-type"] = "7"
    (root / "CasualConversations.json").write_text(json.dumps(as_list))
    with pytest.raises(
        DataFormatError,
        match=r"subject '1001', label 'skin-type': expected "
        r"1-6 \(Fitzpatrick\) or N/A, got '7'",
    ):
        import_casual_conversations(root, tmp_path / "m.csv", extract_frames=False)


# -------------------------------------------------------------------------- generic table
def test_generic_table_with_column_mapping(tmp_path: Path):
    import soundfile as sf

    (tmp_path / "audio").mkdir()
    for k in range(4):
        sf.write(tmp_path / "audio" / f"u{k}.wav", tone(0.2), 16000)
    (tmp_path / "meta.csv").write_text(
        "file,spk,sex,set,notes\n"
        "audio/u0.wav,s1,female,train,a\n"
        "audio/u1.wav,s1,female,train,\n"
        "audio/u2.wav,s2,,test,b\n"
        "audio/u3.wav,s3,male,val,c\n"
        "audio/gone.wav,s3,male,val,d\n"
    )
    mapping = parse_mapping(["audio_path=file", "speaker_id=spk", "gender=sex", "split=set"])
    res = import_table(tmp_path / "meta.csv", tmp_path / "out" / "m.csv", mapping=mapping)
    f = res.frame
    assert _cells(f, ["utterance_id", "speaker_id", "audio_path", "split", "gender", "notes"]) == [
        ["audio/u0", "s1", "../audio/u0.wav", "train", "female", "a"],
        ["audio/u1", "s1", "../audio/u1.wav", "train", "female", None],
        ["audio/u2", "s2", "../audio/u2.wav", "test", None, "b"],
        ["audio/u3", "s3", "../audio/u3.wav", "val", "male", "c"],
    ]
    assert res.skipped.values.tolist() == [["line 6: audio/gone.wav", "audio file not found"]]
    read_manifest(tmp_path / "out" / "m.csv", check_files=True)


def test_generic_table_errors(tmp_path: Path):
    (tmp_path / "t.csv").write_text("file,spk\na.wav,s1\n")
    with pytest.raises(DataFormatError, match=r"--map gender=sex: no column 'sex'"):
        import_table(
            tmp_path / "t.csv",
            tmp_path / "m.csv",
            mapping={"audio_path": "file", "speaker_id": "spk", "gender": "sex"},
        )
    with pytest.raises(
        DataFormatError,
        match=r"no column for 'speaker_id'; name one with "
        r"--map speaker_id=COLUMN",
    ):
        import_table(tmp_path / "t.csv", tmp_path / "m.csv", mapping={"audio_path": "file"})
    with pytest.raises(
        ValueError,
        match=r"--map expects MANIFEST_COLUMN=SOURCE_COLUMN, got "
        r"'gender'",
    ):
        parse_mapping(["gender"])
    with pytest.raises(ValueError, match=r"cannot map to \['colour'\]"):
        import_table(tmp_path / "t.csv", tmp_path / "m.csv", mapping={"colour": "file"})


def test_generic_table_bad_split_value_names_line(tmp_path: Path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", tone(0.2), 16000)
    (tmp_path / "t.csv").write_text("file,speaker_id,set\ngone.wav,s0,train\na.wav,s1,dev\n")
    with pytest.raises(
        DataFormatError,
        match=r"t\.csv: line 3, column 'set': split 'dev' is "
        r"not one of \['test', 'train', 'val'\]",
    ):
        import_table(
            tmp_path / "t.csv", tmp_path / "m.csv", mapping={"audio_path": "file", "split": "set"}
        )


def test_import_dataset_dispatch_and_unknown_format(tmp_path: Path):
    root = make_voxceleb2(tmp_path / "vox2")
    assert len(import_dataset("voxceleb2", root, tmp_path / "m.csv").frame) == 3
    with pytest.raises(ValueError, match=r"unknown data set format 'vox3'; known: \["):
        import_dataset("vox3", root, tmp_path / "m.csv")


def test_assign_splits_deterministic_and_by_speaker():
    ids = [f"s{i:02d}" for i in range(40)]
    a = assign_splits(ids, 0.1, 0.2, seed=7)
    assert a == assign_splits(list(reversed(ids)) + ids, 0.1, 0.2, seed=7)
    assert a != assign_splits(ids, 0.1, 0.2, seed=8)
    counts = pd.Series(a).value_counts().to_dict()
    assert counts == {"train": 28, "test": 8, "val": 4}
    assert SpeakerSplit(val_fraction=0.1, test_fraction=0.2, seed=7).assign(ids) == a


def test_speaker_split_refuses_bad_fractions_when_built():
    with pytest.raises(ValueError, match=r"got 0\.6, 0\.4"):
        SpeakerSplit(val_fraction=0.6, test_fraction=0.4)
    with pytest.raises(ValueError, match=r"got -0\.1, 0\.1"):
        SpeakerSplit(val_fraction=-0.1)


def test_split_defaults_are_the_adapters_own_defaults():
    # SPLIT_DEFAULTS (what the CLI starts from) must be each adapter's signature default,
    # and exactly the adapters that take a split have an entry
    for fmt, adapter in FORMATS.items():
        params = inspect.signature(adapter).parameters
        if fmt in SPLIT_DEFAULTS:
            assert params["split"].default == SPLIT_DEFAULTS[fmt], fmt
        else:
            assert "split" not in params, fmt
    assert SPLIT_DEFAULTS["casual_conversations"].test_fraction == 0.2


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            "1978,2014,1900,",
            r"line 2 \(recording_year - birth_year\): age -78 is not in \[0, 130\]",
        ),
        (",2014,,inf", r"line 2 \(speaker_age\): age inf is not in \[0, 130\]"),
        (",2014,,1e6", r"line 2 \(speaker_age\): age 1e\+06 is not in \[0, 130\]"),
    ],
)
def test_age_table_refuses_impossible_ages(tmp_path: Path, cells: str, message: str):
    root = make_voxceleb1(tmp_path / "vox1")
    table = tmp_path / "age.csv"
    table.write_text(AGE_TABLE.replace("1978,2014,2014,36", cells), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"age\.csv: " + message):
        import_voxceleb1(root, tmp_path / "m.csv", age_table=table)


@pytest.mark.parametrize("age", ["-3", "inf", "nan", "400"])
def test_casual_conversations_refuses_impossible_age(tmp_path: Path, age: str):
    root = make_casual_conversations(tmp_path / "cc")
    data = json.loads((root / "CasualConversations.json").read_text())
    data["1001"]["label"]["age"] = age
    (root / "CasualConversations.json").write_text(json.dumps(data))
    with pytest.raises(
        DataFormatError,
        match=r"CasualConversations\.json: subject '1001', label 'age': age \S+ is not in",
    ):
        import_casual_conversations(root, tmp_path / "m.csv", extract_frames=False)


def test_voxceleb_folder_named_like_a_wav_is_not_an_utterance(tmp_path: Path):
    root = make_voxceleb1(tmp_path / "vox1")
    (root / "vox1_dev_wav/wav/id10001/1zcIwhmdeo4/00009.wav").mkdir()
    res = import_voxceleb1(root, tmp_path / "m.csv")
    assert "id10001/1zcIwhmdeo4/00009" not in set(res.frame["utterance_id"])
    assert len(res.frame) == 5
    read_manifest(res.path, check_files=True)  # every audio_path is a file


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_generic_table_base_dir_that_is_no_folder_is_named(tmp_path: Path, kind: str):
    (tmp_path / "t.csv").write_text("audio_path,speaker_id\na.wav,s1\n")
    base = tmp_path / "base"
    if kind == "file":
        base.write_text("x")
    what = "not found" if kind == "missing" else "not a folder"
    with pytest.raises(DataFormatError, match=rf"base: base_dir \(--base-dir\) {what}"):
        import_table(tmp_path / "t.csv", tmp_path / "m.csv", base_dir=base)


def test_table_errors_name_the_line_after_blank_lines_and_multiline_cells(tmp_path: Path):
    import soundfile as sf

    for name in ("a", "b", "c"):
        sf.write(tmp_path / f"{name}.wav", tone(0.2), 16000)
    (tmp_path / "t.csv").write_text(
        "file,speaker_id,set,note\n"
        'a.wav,s0,train,"two\nlines"\n'  # lines 2-3
        "\n"  # line 4: blank
        "gone.wav,s1,train,x\n"  # line 5
        "c.wav,s2,dev,y\n"  # line 6
    )
    mapping = {"audio_path": "file", "split": "set"}
    with pytest.raises(DataFormatError, match=r"t\.csv: line 6, column 'set': split 'dev'"):
        import_table(tmp_path / "t.csv", tmp_path / "m.csv", mapping=mapping)
    (tmp_path / "t.csv").write_text((tmp_path / "t.csv").read_text().replace("dev", "test"))
    res = import_table(tmp_path / "t.csv", tmp_path / "m.csv", mapping=mapping)
    assert res.skipped.values.tolist() == [["line 5: gone.wav", "audio file not found"]]
    assert res.frame["note"].tolist() == ["two\nlines", "y"]
