"""`s2f-audit data import` for every format, and `data check` (every problem, --decode)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from s2fdata_fixtures import (
    make_avspeech,
    make_casual_conversations,
    make_common_voice,
    make_voxceleb1,
    make_voxceleb2,
)
from s2fdata_media import tone

from s2f_cli import main
from s2f_data import read_manifest
from s2f_data.adapters import SpeakerSplit, import_casual_conversations


@pytest.mark.parametrize(
    ("fmt", "make", "extra", "n_rows"),
    [
        (
            "voxceleb1",
            make_voxceleb1,
            ["--age-table", "{root}/age.csv", "--faces", "{root}/faces"],
            5,
        ),
        ("voxceleb2", make_voxceleb2, [], 3),
        (
            "avspeech",
            make_avspeech,
            ["--side-table", "{root}/demographics.csv", "--frames-dir", "{out}/frames"],
            3,
        ),
        ("common_voice", make_common_voice, ["--age-scheme", "decades"], 7),
        ("casual_conversations", make_casual_conversations, ["--exclude-dark"], 4),
    ],
)
def test_data_import_each_format(tmp_path: Path, capsys, fmt, make, extra, n_rows):
    root = make(tmp_path / "src")
    out = tmp_path / "out"
    args = [a.format(root=root, out=out) for a in extra]
    assert main(["data", "import", fmt, str(root), "--out", str(out / "m.csv"), *args]) == 0
    printed = capsys.readouterr().out
    assert f"{n_rows} utterances" in printed
    m = read_manifest(out / "m.csv", check_files=True)
    assert len(m.frame) == n_rows and m.info.source == fmt
    skipped = out / "m.skipped.csv"
    assert skipped.exists() == ("skipped x" in printed)
    assert main(["data", "check", str(out / "m.csv")]) == 0


def test_data_import_table_with_map_and_seed(tmp_path: Path, capsys):
    for k in range(6):
        sf.write(tmp_path / f"u{k}.wav", tone(0.2), 16000)
    pd.DataFrame(
        {
            "file": [f"u{k}.wav" for k in range(6)],
            "spk": ["a", "a", "b", "c", "d", "e"],
            "sex": ["f", "f", "m", "", "m", "f"],
        }
    ).to_csv(tmp_path / "t.csv", index=False)
    argv = [
        "data",
        "--seed",
        "5",
        "import",
        "table",
        str(tmp_path / "t.csv"),
        "--out",
        str(tmp_path / "o" / "m.csv"),
        "--map",
        "audio_path=file",
        "--map",
        "speaker_id=spk",
        "--map",
        "gender=sex",
        "--test-fraction",
        "0.4",
    ]
    assert main(argv) == 0
    f = read_manifest(tmp_path / "o" / "m.csv", check_files=True).frame
    gender = {
        u: (None if pd.isna(g) else g) for u, g in zip(f["utterance_id"], f["gender"], strict=True)
    }
    assert gender == {"u0": "f", "u1": "f", "u2": "m", "u3": None, "u4": "m", "u5": "f"}
    assert (f.groupby("speaker_id")["split"].nunique() == 1).all()
    assert (f.drop_duplicates("speaker_id")["split"] == "test").sum() == 2
    # --seed after the format is the same option; a different seed gives another split
    splits = {}
    for seed in ("5", "6"):
        argv2 = argv[:1] + argv[3:] + ["--seed", seed]
        argv2[argv2.index("--out") + 1] = str(tmp_path / seed / "m.csv")
        assert main(argv2) == 0
        g = read_manifest(tmp_path / seed / "m.csv").frame
        splits[seed] = g.drop_duplicates("speaker_id").set_index("speaker_id")["split"]
    assert (
        splits["5"].to_dict()
        == f.drop_duplicates("speaker_id").set_index("speaker_id")["split"].to_dict()
    )
    assert splits["5"].to_dict() != splits["6"].to_dict()


def test_data_import_refuses_options_of_other_formats(tmp_path: Path, capsys):
    root = make_voxceleb2(tmp_path / "vox2")
    code = main(
        [
            "data",
            "import",
            "voxceleb2",
            str(root),
            "--out",
            str(tmp_path / "m.csv"),
            "--map",
            "gender=sex",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--map does not apply to format 'voxceleb2'" in err and "--age-table" in err


def test_data_import_missing_root_is_one_line_error(tmp_path: Path, capsys):
    code = main(
        ["data", "import", "common_voice", str(tmp_path / "nope"), "--out", str(tmp_path / "m.csv")]
    )
    assert code == 2
    assert "Common Voice locale folder not found" in capsys.readouterr().err


def test_data_check_lists_every_problem(tmp_path: Path, capsys):
    rows = ["utterance_id,speaker_id,audio_path,split,gender"]
    rows += [f"u{k},s{k},a{k}.wav,exam,female" for k in range(25)]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    assert main(["data", "check", str(tmp_path / "m.csv"), "--no-files"]) == 2
    err = capsys.readouterr().err
    assert "25 problem(s)" in err
    assert all(f"line {k + 2}, column 'split'" in err for k in range(25))
    assert "more" not in err


def test_data_check_decode_reports_quality_and_errors(tmp_path: Path, capsys):
    sf.write(tmp_path / "ok.wav", tone(2.0), 16000)
    sf.write(tmp_path / "quiet.wav", np.zeros(32000, dtype=np.float32), 16000)
    (tmp_path / "bad.wav").write_text("not audio")
    (tmp_path / "m.csv").write_text(
        "utterance_id,speaker_id,audio_path,split\n"
        "u1,s1,ok.wav,train\nu2,s1,quiet.wav,train\nu3,s2,bad.wav,test\n"
    )
    code = main(
        [
            "data",
            "check",
            str(tmp_path / "m.csv"),
            "--decode",
            "--errors",
            str(tmp_path / "e.csv"),
            "--quality",
            str(tmp_path / "q.csv"),
        ]
    )
    assert code == 2  # bad input (README: exit status 2)
    out = capsys.readouterr().out
    assert "decoded: 2 of 3 audio files" in out
    assert "flag silent: 1 utterance(s)" in out
    assert f"line 4: audio {tmp_path / 'bad.wav'}:" in out
    errors = pd.read_csv(tmp_path / "e.csv")
    assert errors["path"].tolist() == [str(tmp_path / "bad.wav")]
    quality = pd.read_csv(tmp_path / "q.csv")
    assert quality["utterance_id"].tolist() == ["u1", "u2", "u3"]
    code = main(["data", "check", str(tmp_path / "m.csv"), "--decode", "--strict"])
    assert code == 2
    assert "stopped at the first bad file" in capsys.readouterr().err


def test_data_import_parquet_table(tmp_path: Path, capsys):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the 'table' format's extra)")
    sf.write(tmp_path / "a.wav", tone(0.2), 16000)
    pd.DataFrame({"path": ["a.wav"], "who": ["s1"], "lang": ["en"]}).to_parquet(
        tmp_path / "t.parquet"
    )
    argv = [
        "data",
        "import",
        "table",
        str(tmp_path / "t.parquet"),
        "--out",
        str(tmp_path / "m.csv"),
        "--map",
        "audio_path=path",
        "--map",
        "speaker_id=who",
        "--map",
        "language=lang",
        "--test-fraction",
        "0",
    ]
    assert main(argv) == 0
    f = read_manifest(tmp_path / "m.csv", check_files=True).frame
    assert f[["utterance_id", "speaker_id", "split", "language"]].values.tolist() == [
        ["a", "s1", "train", "en"]
    ]


def test_data_import_split_options_start_from_the_adapters_default(tmp_path: Path, capsys):
    # Casual Conversations splits 10% val / 20% test by default: --val-fraction alone keeps
    # its 20% test, and --seed is the split's seed (all recorded in the sidecar)
    root = make_casual_conversations(tmp_path / "cc")
    out = tmp_path / "m.csv"
    argv = ["data", "import", "casual_conversations", str(root), "--out", str(out)]
    assert main([*argv, "--no-frames", "--val-fraction", "0", "--seed", "4"]) == 0
    extra = read_manifest(out).info.extra
    assert extra["split_fractions"] == {"val": 0.0, "test": 0.2}
    assert extra["split_seed"] == 4
    # the same split as the adapter called with that SpeakerSplit
    lib = import_casual_conversations(
        root,
        tmp_path / "lib.csv",
        extract_frames=False,
        split=SpeakerSplit(val_fraction=0.0, test_fraction=0.2, seed=4),
    )
    assert read_manifest(out).frame["split"].tolist() == lib.frame["split"].tolist()
    capsys.readouterr()
    # a split that cannot be made stops before anything is read or written
    bad = tmp_path / "bad.csv"
    assert main([*argv[:-1], str(bad), "--val-fraction", "0.5", "--test-fraction", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "need val_fraction, test_fraction >= 0 with sum < 1, got 0.5, 0.5" in err
    assert not bad.exists()


def test_data_import_split_options_only_for_formats_that_split(tmp_path: Path, capsys):
    root = make_voxceleb2(tmp_path / "vox2")
    argv = ["data", "import", "voxceleb2", str(root), "--out", str(tmp_path / "m.csv")]
    assert main([*argv, "--val-fraction", "0.2"]) == 2
    err = capsys.readouterr().err
    assert "--val-fraction does not apply to format 'voxceleb2'" in err
    assert "'--age-table', '--faces', '--meta'" in err  # what voxceleb2 takes instead
    argv = ["data", "import", "common_voice", str(tmp_path / "no-cv"), "--out", "m.csv"]
    assert main([*argv, "--frames-dir", "f"]) == 2
    err = capsys.readouterr().err
    assert "'--test-fraction', '--tsv', '--val-fraction'" in err  # common_voice splits


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_import_refuses_a_frame_time_that_is_no_time(tmp_path: Path, capsys, value: str):
    root = make_casual_conversations(tmp_path / "cc")
    out = tmp_path / "m.csv"
    with pytest.raises(SystemExit) as exc:
        main(["data", "import", "casual_conversations", str(root), "--out", str(out),
              "--frame-time", value])  # fmt: skip
    assert exc.value.code == 2
    assert f"--frame-time: must be a finite number >= 0, got '{value}'" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ValueError, match=r"frame_time must be a finite number of seconds >= 0"):
        import_casual_conversations(root, out, frame_time=float(value))
    assert not out.exists()


def test_data_check_decode_names_the_line_after_blank_lines_and_multiline_cells(
    tmp_path: Path, capsys
):
    sf.write(tmp_path / "ok.wav", tone(1.0), 16000)
    (tmp_path / "bad.wav").write_text("not audio")
    (tmp_path / "m.csv").write_text(
        "utterance_id,speaker_id,audio_path,split,text\n"
        'u1,s1,ok.wav,train,"two\nlines"\n'  # lines 2-3
        "\n"  # line 4: blank
        "u2,s2,bad.wav,test,x\n"  # line 5
    )
    assert main(["data", "check", str(tmp_path / "m.csv"), "--decode"]) == 2
    assert f"  line 5: audio {tmp_path / 'bad.wav'}:" in capsys.readouterr().out
