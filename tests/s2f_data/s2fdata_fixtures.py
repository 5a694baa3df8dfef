"""Small copies of public data sets in their exact published layouts, with their quirks."""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf
from s2fdata_media import tone, write_image, write_m4a, write_mp4

VOX1_META = (
    "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\n"
    "id10001\tA.J._Buckley\tm\tIreland\tdev\n"
    "id10002\tAJ_Cook\tf\tCanada\tdev\n"
    "id10003\tAaron_Tveit\tm\tUSA\tdev\n"
    "id10270\tx_Jean_Dujardin\tm\tNorway\ttest\n"
)

# Hechmi et al.'s enrichment table (subset of its columns, same names and order).
AGE_TABLE = (
    "Name,gender_wiki,birth_date_wiki,nationality_wiki,video_id,VoxCeleb_ID,gender,"
    "birth_year,year_upload_yt,recording_year,speaker_age\n"
    "A.J._Buckley,male,1978-02-09,Ireland,1zcIwhmdeo4,id10001,male,1978,2014,2014,36\n"
    "A.J._Buckley,male,1978-02-09,Ireland,7gWzIy6yIIk,id10001,male,1978,2016,2023,45\n"
    "AJ_Cook,female,1978-07-22,Canada,Q8lnNb1OIaY,id10002,male,1978,2008,2008,30\n"
    "x_Jean_Dujardin,male,,France,5r0dWxy17C8,id10270,male,,2012,2012,\n"
    "Someone_Else,male,1950-01-01,USA,abc,id19999,male,1950,2010,2010,60\n"
)


def make_voxceleb1(root: Path) -> Path:
    """vox1_meta.csv (tab-separated), dev and test wav trees, a VGGFace1 folder, crops."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "vox1_meta.csv").write_text(VOX1_META, encoding="utf-8")
    files = [
        ("vox1_dev_wav/wav", "id10001", "1zcIwhmdeo4", "00001"),
        ("vox1_dev_wav/wav", "id10001", "1zcIwhmdeo4", "00002"),
        ("vox1_dev_wav/wav", "id10001", "7gWzIy6yIIk", "00001"),
        ("vox1_dev_wav/wav", "id10002", "Q8lnNb1OIaY", "00001"),
        ("vox1_test_wav/wav", "id10270", "5r0dWxy17C8", "00001"),
        ("vox1_dev_wav/wav", "id10999", "zzzzzzzzzzz", "00001"),  # not in the meta file
    ]
    for base, spk, video, utt in files:
        p = root / base / spk / video / f"{utt}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, tone(0.5), 16000, subtype="PCM_16")
    # faces: VGGFace1 images by name; a user crop per video for id10270
    write_image(root / "faces" / "A.J._Buckley" / "00000003.jpg")
    write_image(root / "faces" / "A.J._Buckley" / "00000001.jpg")
    write_image(root / "faces" / "id10270" / "5r0dWxy17C8" / "0001.png")
    (root / "age.csv").write_text(AGE_TABLE, encoding="utf-8")
    return root


def make_voxceleb2(root: Path, *, tab_with_name: bool = False) -> Path:
    """vox2_meta.csv (space-padded cells) and an aac/ tree of real m4a files."""
    root.mkdir(parents=True, exist_ok=True)
    if tab_with_name:
        meta = (
            "Name \tVoxCeleb2 ID \tVGGFace2 ID \tGender \tSet \n"
            "Aaron_Ashmore \tid00012 \tn000012 \tm \tdev \n"
            "Aditi_Rao_Hydari \tid00080 \tn000080 \tm \tdev \n"
            "Aaron_Rodgers \tid00017 \tn000017 \tm \ttest \n"
        )
    else:
        meta = (
            "VoxCeleb2 ID ,VGGFace2 ID ,Gender ,Set \n"
            "id00012 ,n000012 ,m ,dev \n"
            "id00080 ,n000080 ,m ,dev \n"
            "id00017 ,n000017 ,m ,test \n"
        )
    (root / "vox2_meta.csv").write_text(meta, encoding="utf-8")
    for spk, video in [
        ("id00012", "21Uxsk56VDQ"),
        ("id00080", "0hEmNbWqUc8"),
        ("id00017", "01dfn2spqyE"),
    ]:
        write_m4a(root / "dev" / "aac" / spk / video / "00001.m4a", tone(0.5, freq=150))
    return root


AVSPEECH_ROWS = [
    ("AvWWVOgaMlk", 90.0, 93.566667, 0.586719, 0.311111),
    ("AvWWVOgaMlk", 100.5, 104.0, 0.5, 0.5),
    ("-0Z9R7Ka8Uk", 3.2, 6.8, 0.25, 0.75),
    ("zzNoClipHere", 1.0, 4.0, 0.5, 0.5),
]


def avspeech_clip_name(ytid: str, start: float, end: float) -> str:
    return f"{ytid}_{start:010.6f}-{end:010.6f}"


def make_avspeech(root: Path) -> Path:
    """avspeech_train.csv / avspeech_test.csv without header; downloaded clips."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"{y},{s:.6f},{e:.6f},{x:.6f},{yy:.6f}" for y, s, e, x, yy in AVSPEECH_ROWS]
    (root / "avspeech_train.csv").write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    (root / "avspeech_test.csv").write_text(lines[2] + "\n")
    for y, s, e, _, _ in AVSPEECH_ROWS[:3]:
        write_mp4(root / "clips" / f"{avspeech_clip_name(y, s, e)}.mp4", seconds=0.6, size=(80, 60))
    (root / "demographics.csv").write_text(
        "ytid,gender,age_group\nAvWWVOgaMlk,female,30-44\n-0Z9R7Ka8Uk,,60+\n"
    )
    return root


CV_HEADER = (
    "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes"
    "\tage\tgender\taccents\tvariant\tlocale\tsegment\n"
)
CV_ROWS = {
    "train.tsv": [
        (
            "c1",
            "common_voice_en_1.mp3",
            'He said "hello and left.',
            "fourties",
            "male_masculine",
            "United States English",
        ),
        (
            "c1",
            "common_voice_en_2.mp3",
            "Second one.",
            "fourties",
            "male_masculine",
            "United States English",
        ),
        ("c2", "common_voice_en_3.mp3", "It's fine.", "twenties", "female", ""),
        (
            "c3",
            "common_voice_en_4.mp3",
            "Third.",
            "",
            "do_not_wish_to_say",
            "India and South Asia (India, Pakistan, Sri Lanka)",
        ),
    ],
    "dev.tsv": [
        ("c4", "common_voice_en_5.mp3", "Dev.", "sixties", "non-binary", ""),
        ("c4", "common_voice_en_missing.mp3", "No file.", "sixties", "non-binary", ""),
    ],
    "test.tsv": [
        ("c5", "common_voice_en_6.mp3", "Test.", "teens", "intersex", "Scottish English"),
        ("c6", "common_voice_en_7.mp3", "Old label.", "fifties", "other", ""),
    ],
}


def make_common_voice(root: Path) -> Path:
    """cv-corpus-17.0-2024-03-15/en with TSVs (unbalanced quotes) and real mp3 clips."""
    loc = root / "cv-corpus-17.0-2024-03-15" / "en"
    (loc / "clips").mkdir(parents=True, exist_ok=True)
    for name, rows in CV_ROWS.items():
        lines = [CV_HEADER]
        for k, (cid, path, sent, age, gender, acc) in enumerate(rows):
            lines.append(f"{cid}\t{path}\tsid{k}\t{sent}\t\t2\t0\t{age}\t{gender}\t{acc}\t\ten\t\n")
            if "missing" not in path:
                sf.write(loc / "clips" / path, tone(0.3), 16000)
        (loc / name).write_text("".join(lines), encoding="utf-8")
    return loc


CC_JSON = {
    "1001": {
        "files": ["CasualConversationsA/1001/1001_00.MP4", "CasualConversationsA/1001/1001_01.MP4"],
        "dark_files": ["CasualConversationsA/1001/1001_10.MP4"],
        "label": {"age": "28", "gender": "Female", "skin-type": "4"},
    },
    "1002": {
        "files": ["CasualConversationsA/1002/1002_00.MP4"],
        "dark_files": [],
        "label": {"age": "N/A", "gender": "Male", "skin-type": "6"},
    },
    "1003": {
        "files": ["CasualConversationsA/1003/1003_00.MP4", "CasualConversationsA/1003/1003_05.MP4"],
        "dark_files": [],
        "label": {"age": "67", "gender": "Other", "skin-type": "1"},
    },
}


def make_casual_conversations(root: Path) -> Path:
    """CasualConversations.json plus real MP4 videos (one listed file is missing)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "CasualConversations.json").write_text(json.dumps(CC_JSON, indent=1))
    for rec in CC_JSON.values():
        for f in rec["files"] + rec["dark_files"]:
            if f.endswith("1003_05.MP4"):
                continue
            write_mp4(root / f, seconds=0.6, size=(48, 64))
    return root
