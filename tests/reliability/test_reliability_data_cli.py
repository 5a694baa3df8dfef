"""Issue #18, data and command-line side: each case reproduces a defect the fuzz found.

Every bad input ends in a clear error (exit status 2 from the CLI, naming the file, key or
line) or in a row that says what happened; nothing is dropped silently and one bad file never
stops a batch.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2f_cli import main
from s2f_data import (
    ManifestError,
    assess_audio,
    file_digest,
    load_audio,
    load_audio_checked,
    load_face,
    path_problem,
    read_manifest,
    video_info,
)
from s2f_data.adapters import SpeakerSplit, import_common_voice
from s2f_data.adapters._commonvoice import locale_languages

SR = 16000


def _tone(seconds: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)


_NO_SIDECAR = object()


def _manifest(folder: Path, rows: list[tuple[str, str, str, str]], sidecar=_NO_SIDECAR) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["utterance_id,speaker_id,audio_path,split"] + [",".join(r) for r in rows]
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    if sidecar is not _NO_SIDECAR:
        (folder / "manifest.json").write_text(json.dumps(sidecar))
    return folder / "manifest.csv"


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


# ------------------------------------------------------------------ 1. manifest sidecar types
@pytest.mark.parametrize(
    ("sidecar", "message"),
    [
        ({"source": "x", "extra": [1]}, r"key 'extra': expected a JSON object .*got list \[1\]"),
        ({"source": "x", "data_root": 5}, r"key 'data_root': expected a folder path .*got int 5"),
        ({"source": 3}, r"key 'source': expected a non-empty string, got int 3"),
        ({"source": "x", "source_version": None}, r"key 'source_version': expected a string"),
        (
            {"source": "x", "vocabularies": {"gender": "f"}},
            r"key 'vocabularies.gender': expected a list of string labels, got str 'f'",
        ),
        ({"source": "x", "vocabularies": [["gender"]]}, r"key 'vocabularies': expected an obj"),
        ({"source": "x", "schema_version": True}, r"key 'schema_version': expected an integer"),
        ({"source": "x", "schema_version": None}, r"key 'schema_version': expected an integer"),
        ({"source": "x", "schema_version": "1"}, r"key 'schema_version': expected an integer"),
        ({"source": "x", "data_rot": "."}, r"unknown key\(s\) \['data_rot'\]"),
        ([1], r"expected a JSON object with a 'source' key, got list \[1\]"),
        (None, r"expected a JSON object with a 'source' key, got NoneType None"),
    ],
)
def test_damaged_sidecar_is_one_error_naming_file_and_key(tmp_path, capsys, sidecar, message):
    sf.write(tmp_path / "a.wav", _tone(1.0), SR)
    path = _manifest(tmp_path, [("u1", "s1", "a.wav", "train")], sidecar=sidecar)
    assert main(["data", "check", str(path)]) == 2
    err = _one_line_error(capsys)
    assert len(err.splitlines()) == 1, err
    assert f"{tmp_path / 'manifest.json'}: bad manifest sidecar: " in err
    assert re.search(message, err), err


def test_valid_sidecar_still_round_trips(tmp_path):
    sf.write(tmp_path / "a.wav", _tone(1.0), SR)
    side = {
        "schema_version": 1,
        "source": "x",
        "source_version": "2",
        "data_root": ".",
        "vocabularies": {"gender": ["female", "male"]},
        "extra": None,
    }
    m = read_manifest(_manifest(tmp_path, [("u1", "s1", "a.wav", "train")], side))
    assert (m.info.data_root, m.info.extra, m.info.vocabularies) == (
        ".",
        {},
        {"gender": ("female", "male")},
    )


HEADER = "utterance_id,speaker_id,audio_path,split\n"


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _loop(path: Path) -> Path:
    path.symlink_to(path)
    return path


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        (
            "deep_sidecar",
            lambda d: (d / "m.json").write_text("[" * 100000 + "]" * 100000),
            r"m\.json: bad manifest sidecar: nested too deeply",
        ),
        (
            "sidecar_folder",
            lambda d: (d / "m.json").mkdir(),
            r"m\.json: bad manifest sidecar: a folder, not a regular file",
        ),
        (
            "twice_named_column",
            lambda d: (d / "m.csv").write_text(
                "utterance_id,utterance_id,speaker_id,audio_path,split\nu,u,s,a.wav,train\n"
            ),
            r"m\.csv: line 1: column\(s\) \['utterance_id'\] appear more than once",
        ),
        (
            "extra_cells_on_line_2",
            lambda d: (d / "m.csv").write_text(HEADER + "u,s,a.wav,train,x,y\n"),
            r"m\.csv: line 2 has 6 cells but the header names 4 columns",
        ),
        (
            "name_too_long",
            lambda d: (d / "m.csv").write_text(HEADER + f"u,s,{'x' * 5000}.wav,train\n"),
            r"line 2, column 'audio_path': cannot access the path: File name too long",
        ),
        (
            "nul_in_path",
            lambda d: (d / "m.csv").write_text(HEADER + "u,s,a\x00.wav,train\n"),
            r"line 2, column 'audio_path': the path contains a NUL character",
        ),
        (
            "manifest_is_a_fifo",
            lambda d: ((d / "m.csv").unlink(), _fifo(d / "m.csv")),
            r"m\.csv: a FIFO \(named pipe\)",
        ),
    ],
)
def test_data_check_odd_manifests_give_an_error_not_a_traceback(
    tmp_path, capsys, name, make, message
):
    sf.write(tmp_path / "a.wav", _tone(1.0), SR)
    (tmp_path / "m.csv").write_text(HEADER + "u,s,a.wav,train\n")
    make(tmp_path)
    assert main(["data", "check", str(tmp_path / "m.csv")]) == 2, name
    assert re.search(message, _one_line_error(capsys))


# ----------------------------------------------------------- 2. symlinks leaving the data root
def test_symlink_inside_the_root_pointing_outside_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    sf.write(outside / "secret.wav", _tone(1.0), SR)
    root = tmp_path / "data"
    (root / "clips").mkdir(parents=True)
    sf.write(root / "clips" / "own.wav", _tone(1.0), SR)
    (root / "clips" / "link.wav").symlink_to(outside / "secret.wav")
    (root / "linked_dir").symlink_to(outside)
    (root / "clips" / "inner.wav").symlink_to(root / "clips" / "own.wav")  # stays inside
    path = _manifest(
        root,
        [
            ("u1", "s1", "clips/link.wav", "train"),
            ("u2", "s2", "linked_dir/secret.wav", "train"),
            ("u3", "s3", "clips/inner.wav", "train"),
        ],
    )
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    issues = [(i.line, i.column) for i in info.value.issues]
    assert issues == [(2, "audio_path"), (3, "audio_path")]
    assert "symbolic link" in str(info.value) and str(outside / "secret.wav") in str(info.value)


# --------------------------------------------------- 3. Common Voice regional variants and splits
CV_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\n"


def _cv(folder: Path, rows: dict[str, list[tuple[str, str, str]]], locale_col=True) -> Path:
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    for name, entries in rows.items():
        lines = [CV_HEADER if locale_col else CV_HEADER.replace("\tlocale", "")]
        for cid, clip, locale in entries:
            cells = [cid, clip, "hello", "2", "0", "twenties", "female", ""]
            lines.append("\t".join(cells + ([locale] if locale_col else [])) + "\n")
            sf.write(folder / "clips" / clip, _tone(0.3), SR)
        (folder / name).write_text("".join(lines), encoding="utf-8")
    return folder


def test_common_voice_keeps_cantonese_and_taiwanese_mandarin_apart(tmp_path):
    loc = _cv(
        tmp_path / "zh",
        {
            "train.tsv": [
                ("a", "1.wav", "zh-CN"),
                ("b", "2.wav", "zh-HK"),
                ("c", "3.wav", "zh-TW"),
            ],
            "dev.tsv": [],
            "test.tsv": [],
        },
    )
    res = import_common_voice(loc, tmp_path / "m.csv")
    assert res.frame["language"].tolist() == ["zh", "yue", "zh-TW"]
    assert res.frame["cv_locale"].tolist() == ["zh-CN", "zh-HK", "zh-TW"]
    assert res.info.extra["locale_languages"] == {"zh-CN": "zh", "zh-HK": "yue", "zh-TW": "zh-TW"}
    # without a locale column the folder name decides, with the same table
    hk = _cv(
        tmp_path / "cv" / "zh-HK",
        {"train.tsv": [("a", "1.wav", "")], "dev.tsv": [], "test.tsv": []},
        locale_col=False,
    )
    assert import_common_voice(hk, tmp_path / "h.csv").frame["language"].tolist() == ["yue"]


def test_locale_languages_never_merges_two_locales_of_one_import():
    assert locale_languages(["sv-SE", "en"]) == {"sv-SE": "sv", "en": "en"}
    got = locale_languages(["es-AR", "es-ES", "pt"])
    assert got == {"es-AR": "es-AR", "es-ES": "es-ES", "pt": "pt"}
    assert len(set(got.values())) == len(got)


def test_common_voice_speaker_in_two_splits_points_at_the_tsv_lines(tmp_path, capsys):
    loc = _cv(
        tmp_path / "cv" / "en",
        {
            "train.tsv": [("a", "1.wav", "en"), ("b", "2.wav", "en")],
            "dev.tsv": [("c", "3.wav", "en")],
            "test.tsv": [("d", "4.wav", "en"), ("b", "5.wav", "en")],
        },
    )
    out = tmp_path / "out" / "m.csv"
    assert main(["data", "import", "common_voice", str(loc), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert (
        f"client_id 'b' at {loc / 'train.tsv'} line 3 (train); {loc / 'test.tsv'} line 3 "
        "(test)" in err
    )
    assert "line 3" in err and not out.exists()


def test_common_voice_other_tsv_keeps_the_split_of_a_known_speaker(tmp_path):
    known = [(c, f"{c}1.wav", "en") for c in "abcd"]
    loc = _cv(
        tmp_path / "cv" / "en",
        {
            "train.tsv": known,
            "validated.tsv": [(c, f"{c}2.wav", "en") for c in "abcd"] + [("z", "z.wav", "en")],
        },
    )
    res = import_common_voice(
        loc,
        tmp_path / "m.csv",
        tsv_files=("train.tsv", "validated.tsv"),
        split=SpeakerSplit(test_fraction=0.5),
    )
    split = dict(zip(res.frame["utterance_id"], res.frame["split"], strict=True))
    assert [split[f"{c}2"] for c in "abcd"] == ["train"] * 4  # before: half went to test
    assert split["z"] == "train"  # the one new speaker: round(0.5 * 1) == 0 test speakers


def test_common_voice_problems_point_at_the_tsv_line_not_an_unwritten_manifest(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    sf.write(outside / "x.wav", _tone(0.3), SR)
    loc = _cv(
        tmp_path / "cv" / "en", {"train.tsv": [("a", "1.wav", "en")], "dev.tsv": [], "test.tsv": []}
    )
    (loc / "clips" / "link.wav").symlink_to(outside / "x.wav")
    (loc / "clips" / "sub").mkdir()
    sf.write(loc / "clips" / "sub" / "1.wav", _tone(0.3), SR)  # same utterance id "1"
    with open(loc / "train.tsv", "a", encoding="utf-8") as fh:
        for clip in ("link.wav", "sub/1.wav", str(outside / "x.wav"), "../../../elsewhere/x.wav"):
            fh.write("\t".join(["b", clip, "hi", "2", "0", "twenties", "male", "", "en"]) + "\n")
    out = tmp_path / "m.csv"
    with pytest.raises(ManifestError) as info:
        import_common_voice(loc, out)
    text = str(info.value)
    assert f"nothing was written to {out}; 2 problem(s)" in text
    assert f"{loc / 'train.tsv'} line 3 (utterance 'link'): column 'audio_path': path " in text
    assert "symbolic link" in text
    assert f"{loc / 'train.tsv'} line 4 (utterance '1'): column 'utterance_id': duplicate" in text
    assert not out.exists()
    (loc / "clips" / "link.wav").unlink()
    (loc / "clips" / "link.wav").symlink_to(tmp_path / "gone.wav")
    (loc / "clips" / "sub" / "1.wav").unlink()
    res = import_common_voice(loc, out)  # the clip paths that leave clips/ are skipped, listed
    assert res.skipped["reason"].tolist() == [
        f"dangling symbolic link: it points to '{tmp_path / 'gone.wav'}', which does not exist",
        "audio file not found",
        "clip path leaves the clips folder",
        "clip path leaves the clips folder",
    ]


def test_tsv_row_with_extra_cells_is_an_error_naming_the_line(tmp_path, capsys):
    loc = _cv(
        tmp_path / "cv" / "en", {"train.tsv": [("a", "1.wav", "en")], "dev.tsv": [], "test.tsv": []}
    )
    text = (loc / "train.tsv").read_text().rstrip("\n") + "\textra\textra\n"
    (loc / "train.tsv").write_text(text)
    assert main(["data", "import", "common_voice", str(loc), "--out", str(tmp_path / "m.csv")]) == 2
    assert (
        f"{loc / 'train.tsv'}: line 2 has 11 cells but the header names 9 columns"
        in _one_line_error(capsys)
    )


def test_readme_spelling_commonvoice_is_accepted(tmp_path, capsys):
    loc = _cv(
        tmp_path / "cv" / "en", {"train.tsv": [("a", "1.wav", "en")], "dev.tsv": [], "test.tsv": []}
    )
    out = tmp_path / "m.csv"
    assert main(["data", "import", "commonvoice", str(loc), "--out", str(out)]) == 0
    assert read_manifest(out).info.source == "common_voice"
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for fmt in re.findall(r"s2f-audit data import (\w+) ", readme):
        assert fmt in {
            "voxceleb1",
            "voxceleb2",
            "avspeech",
            "common_voice",
            "casual_conversations",
            "table",
            "FORMAT",
        }, fmt


# ---------------------------------------------------- 4. data check: empty and one-file manifests
def test_data_check_refuses_a_header_only_manifest(tmp_path, capsys):
    path = _manifest(tmp_path, [])
    assert main(["data", "check", str(path)]) == 2
    assert "header but no rows" in _one_line_error(capsys)


def test_data_check_flags_ten_thousand_rows_of_one_file(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", _tone(1.0), SR)
    rows = [(f"u{k}", f"s{k}", "a.wav" if k % 2 else "./a.wav", "train") for k in range(10000)]
    path = _manifest(tmp_path, rows)
    start = time.perf_counter()
    assert main(["data", "check", str(path)]) == 2
    assert time.perf_counter() - start < 30
    err = _one_line_error(capsys)
    assert "1 problem(s)" in err
    assert (
        f"line 3, column 'audio_path': 10000 rows point at the same audio file "
        f"{tmp_path / 'a.wav'} (lines 2, 3, 4, 5, 6, ...)" in err
    )


# --------------------------------------------- 5. predict: quality flags, folders, one decoder
@pytest.fixture(scope="module")
def model():
    """The test-size model of tests/s2f_model (untrained: these tests are about the inputs)."""
    import importlib.util

    from s2f_model import S2FConfig, build_model

    where = Path(__file__).parents[1] / "s2f_model" / "conftest.py"
    spec = importlib.util.spec_from_file_location("s2f_model_test_conftest", where)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return build_model(S2FConfig.compact().replace(**module.TINY_OVERRIDES), seed=0)


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {Path(r["input"]).name: r for r in csv.DictReader(fh)}


def test_predict_reports_the_quality_flags_data_check_gives(model, tmp_path):
    from s2f_model import predict_faces

    d = tmp_path / "in"
    d.mkdir()
    sf.write(d / "silent.wav", np.zeros(2 * SR, dtype=np.float32), SR)
    sf.write(d / "one_sample.wav", np.full(1, 0.2, dtype=np.float32), SR)
    sf.write(d / "short.wav", _tone(0.05), SR)
    sf.write(d / "clipped.wav", np.sign(_tone(2.0)), SR, subtype="FLOAT")
    sf.write(d / "fine.wav", _tone(2.0), SR)
    report = predict_faces(model, [d], tmp_path / "out")
    assert report.n_ok == 5 and report.n_failed == 0
    rows = _rows(tmp_path / "out" / "predictions.csv")
    for name in rows:  # the same rules as data check --decode
        assert rows[name]["flags"] == ";".join(assess_audio(d / name).flags), name
    assert {n: rows[n]["flags"] for n in rows} == {
        "silent.wav": "silent",
        "one_sample.wav": "too_short",
        "short.wav": "too_short",
        "clipped.wav": "clipped",
        "fine.wav": "",
    }


def test_predict_folder_lists_links_and_fifos_instead_of_dropping_them(model, tmp_path):
    from s2f_model import predict_faces

    d = tmp_path / "in"
    d.mkdir()
    sf.write(d / "fine.wav", _tone(2.0), SR)
    (d / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    (d / "loop.wav").symlink_to(d / "loop.wav")
    os.mkfifo(d / "pipe.wav")
    (d / "notes.txt").write_text("not audio, not listed")
    report = predict_faces(model, [d], tmp_path / "out")
    rows = _rows(tmp_path / "out" / "predictions.csv")
    assert sorted(rows) == ["dangling.wav", "fine.wav", "loop.wav", "pipe.wav"]
    assert rows["fine.wav"]["status"] == "ok" and report.n_failed == 3
    assert rows["dangling.wav"]["reason"].startswith("dangling symbolic link: it points to")
    assert rows["loop.wav"]["reason"].startswith("symbolic link loop")
    assert rows["pipe.wav"]["reason"].startswith("a FIFO (named pipe)")


def test_gsm_in_wav_decodes_the_same_in_data_check_and_predict(tmp_path):
    path = tmp_path / "gsm.wav"
    sf.write(path, _tone(2.0, 8000), 8000, subtype="GSM610")
    checked = assess_audio(path)
    wave, quality = load_audio_checked(path, SR)
    assert wave.shape == (2 * SR,) and quality.flags == checked.flags == ()
    assert quality.duration_s == checked.duration_s == 2.0
    # both read the same samples: the RMS agrees to float32 summation (1e-9 dB)
    assert abs(quality.rms_dbfs - checked.rms_dbfs) < 1e-6
    seg = load_audio(path, 8000, start_s=0.5, duration_s=0.25)  # unseekable: skipped, not sought
    np.testing.assert_array_equal(seg, load_audio(path, 8000)[4000:6000])


# ---------------------------------------------------- 6. one bad file never stops the batch
def test_predict_batch_survives_every_bad_file_and_counts_it(model, tmp_path):
    from s2f_model import predict_faces

    d = tmp_path / "in"
    d.mkdir()
    sf.write(d / "a_fine.wav", _tone(2.0), SR)
    sf.write(d / "tmp.wav", _tone(2.0), SR)
    odd = d / os.fsdecode(b"name\xff.wav")  # not UTF-8: crashed the predictions.csv writer
    os.rename(d / "tmp.wav", odd)
    header = bytearray((d / "a_fine.wav").read_bytes())
    header[24:28] = (2**31 - 1).to_bytes(4, "little")  # a forged rate: a 137 TB resample
    (d / "b_forged_rate.wav").write_bytes(bytes(header))
    (d / "c_garbage.wav").write_bytes(b"RIFF" + bytes(100))
    report = predict_faces(model, [d], tmp_path / "out")
    assert report.n_ok == 2 and report.n_failed == 2
    rows = _rows(tmp_path / "out" / "predictions.csv")
    assert rows["name\\xff.wav"]["status"] == "ok"
    assert "sample rate 2147483647 Hz is outside" in rows["b_forged_rate.wav"]["reason"]
    assert rows["c_garbage.wav"]["status"] == "failed" and rows["c_garbage.wav"]["reason"]


# ----------------------------------------------- 7. errors that name things, exit statuses
def test_write_error_names_the_file(tmp_path):
    """A write that fails for lack of room (here the file size limit, EFBIG, as a disk-full
    ENOSPC would) names the file; the old content and no temporary file remain."""
    target = tmp_path / "out.csv"
    target.write_text("old")
    code = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        from s2f_data import atomic_write_text
        try:
            atomic_write_text({str(target)!r}, "x" * 5000)
        except OSError as err:
            print(err)
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == f"[Errno 27] File too large: '{target}'"
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["out.csv"]


@pytest.mark.parametrize(
    ("option", "value", "low"), [("--gallery-size", "0", 2), ("--max-order", "0", 1)]
)
def test_audit_arguments_are_checked_before_any_work(tmp_path, capsys, option, value, low):
    out = tmp_path / "audit"
    start = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        main(
            [
                "audit",
                "--checkpoint",
                str(tmp_path / "nope"),
                "--manifest",
                str(tmp_path / "nope.csv"),
                "--out",
                str(out),
                option,
                value,
            ]
        )
    assert info.value.code == 2 and time.perf_counter() - start < 5
    assert (
        f"argument {option}: must be an integer >= {low}, got '{value}'" in capsys.readouterr().err
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("name", "value", "low"), [("gallery_size", 0, 2), ("max_order", 0, 1), ("n_boot", True, 1)]
)
def test_audit_model_checks_arguments_first(tmp_path, name, value, low):
    from audit import AuditInputError
    from audit._run import audit_model

    with pytest.raises(AuditInputError, match=f"{name} must be an integer >= {low}"):
        audit_model(tmp_path / "nope", tmp_path / "nope.csv", tmp_path / "a", **{name: value})
    assert not (tmp_path / "a").exists()


def test_fifo_and_link_loop_are_called_what_they_are(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    (tmp_path / "dir.wav").mkdir()
    assert path_problem(tmp_path / "pipe.wav").startswith("a FIFO (named pipe)")
    assert path_problem(tmp_path / "loop.wav").startswith("symbolic link loop")
    assert path_problem(tmp_path / "dir.wav") == "a folder, not a regular file"
    assert path_problem(tmp_path / "none.wav", "audio file") == "audio file not found"
    with pytest.raises(ValueError, match=r"pipe\.wav: a FIFO \(named pipe\)"):
        load_audio(tmp_path / "pipe.wav")  # returns at once: the pipe is never opened
    with pytest.raises(ValueError, match=r"face\.png: symbolic link loop"):
        load_face(_loop(tmp_path / "face.png"))
    with pytest.raises(ValueError, match=r"clip\.mp4: a FIFO \(named pipe\)"):
        video_info(_fifo(tmp_path / "clip.mp4"))
    with pytest.raises(ValueError, match=r"pipe\.wav: a FIFO"):
        file_digest(tmp_path / "pipe.wav")  # hashing a manifest or cached input: never blocks
    (tmp_path / "text.mp3").write_text("hello")  # libsndfile: "File does not exist ..."
    with pytest.raises(
        ValueError,
        match=r"text\.mp3: cannot decode audio: libsndfile does not "
        r"recognise the content",
    ):
        load_audio(tmp_path / "text.mp3")


def test_data_check_decode_exits_2_on_bad_files(tmp_path, capsys):
    sf.write(tmp_path / "ok.wav", _tone(2.0), SR)
    os.mkfifo(tmp_path / "pipe.wav")
    path = _manifest(tmp_path, [("u1", "s1", "ok.wav", "train"), ("u2", "s2", "pipe.wav", "train")])
    assert main(["data", "check", str(path), "--decode", "--no-files"]) == 2
    assert f"line 3: audio {tmp_path / 'pipe.wav'}: a FIFO" in capsys.readouterr().out


@pytest.mark.slow  # trains a 1 + 1 step run: about 5-10 s on 2 shared cores
def test_cli_predict_finishes_the_batch_warns_and_exits_2(tmp_path, capsys):
    """The command line end to end on a finished (1 + 1 step) run: the bad file is a row and
    a line, the silent one a warning, and the exit status says that some input failed."""
    import importlib.util

    from s2f_model import S2FConfig
    from s2f_model._train import train

    where = Path(__file__).parents[1] / "s2f_model" / "conftest.py"
    spec = importlib.util.spec_from_file_location("s2f_model_test_conftest", where)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    steps = {"train.face_steps": 1, "train.voice_steps": 1}
    cfg = S2FConfig.compact().replace(**{**module.TINY_OVERRIDES, **steps})
    train(cfg, module.make_tiny_manifest(tmp_path / "tiny"), tmp_path / "run", progress=False)
    d = tmp_path / "in"
    d.mkdir()
    sf.write(d / "fine.wav", _tone(2.0), SR)
    sf.write(d / "silent.wav", np.zeros(2 * SR, dtype=np.float32), SR)
    (d / "garbage.wav").write_bytes(b"not audio at all")
    argv = ["predict", "--checkpoint", str(tmp_path / "run"), str(d), "--out", str(tmp_path / "o")]
    assert main([*argv, "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "2 face(s) written, 1 failed" in captured.out
    assert f"warning: {d / 'silent.wav'}: silent (the face was written" in captured.err
    assert f"failed: {d / 'garbage.wav'}: " in captured.err
    rows = _rows(tmp_path / "o" / "predictions.csv")
    assert {n: (r["status"], r["flags"]) for n, r in rows.items()} == {
        "fine.wav": ("ok", ""),
        "silent.wav": ("ok", "silent"),
        "garbage.wav": ("failed", ""),
    }


def test_table_import_problem_names_the_table_line(tmp_path, capsys):
    sf.write(tmp_path / "u.wav", _tone(0.3), SR)
    (tmp_path / "t.csv").write_text("file,spk,id\nu.wav,a,x1\nok.wav,b,x2\n./u.wav,c,x3\n")
    sf.write(tmp_path / "ok.wav", _tone(0.3), SR)
    argv = [
        "data",
        "import",
        "table",
        str(tmp_path / "t.csv"),
        "--out",
        str(tmp_path / "o.csv"),
        "--map",
        "audio_path=file",
        "--map",
        "speaker_id=spk",
        "--map",
        "utterance_id=id",
    ]
    assert main(argv) == 2
    err = _one_line_error(capsys)
    assert (
        f"{tmp_path / 't.csv'} line 4 (utterance 'x3'): column 'audio_path': 2 rows point "
        "at the same audio file" in err
    )
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("fmt", ["voxceleb1", "avspeech", "table", "casual_conversations"])
def test_data_import_root_that_is_a_fifo_or_link_loop_says_so(tmp_path, capsys, fmt):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for root, message in (("pipe", "a FIFO (named pipe)"), ("loop", "symbolic link loop")):
        argv = ["data", "import", fmt, str(tmp_path / root), "--out", str(tmp_path / "m.csv")]
        assert main(argv) == 2
        assert f"{tmp_path / root}: {message}" in _one_line_error(capsys)
