"""End-to-end generation: files, manifest, determinism, resume, data card, CLI."""

from __future__ import annotations

import filecmp
import json
import os
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from s2f_cli import main
from s2f_data import read_manifest
from s2f_data.biaslab import PopulationSpec, generate_population

pytestmark = pytest.mark.espeak


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def tiny_spec() -> PopulationSpec:
    data = PopulationSpec.preset("representative").to_dict()
    data.update(
        name="tiny", speakers=3, utterances_per_speaker=2, clip_seconds=1.0, face_size_px=64
    )
    return PopulationSpec.from_dict(data)


@pytest.fixture(scope="module")
def generated(tiny_spec: PopulationSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop_a")
    generate_population(tiny_spec, out, seed=21, workers=2, progress=False)
    return out


def test_manifest_is_valid_and_complete(generated: Path) -> None:
    man = read_manifest(generated / "manifest.csv", check_files=True)
    frame = man.frame
    assert len(frame) == 6 and frame["speaker_id"].nunique() == 3
    for col in ("landmarks_path", "face_size", "f0_hz", "voice", "text", "accent", "language"):
        assert frame[col].notna().all(), col
    assert man.info.source == "biaslab"
    assert man.info.extra["spec"]["name"] == "tiny"
    # one face and one voice per speaker
    per_speaker = frame.groupby("speaker_id")[["face_path", "voice", "f0_hz"]].nunique()
    assert (per_speaker == 1).all().all()
    for _, row in frame.iterrows():
        with wave.open(str(man.resolve(row["audio_path"])), "rb") as fh:
            assert (fh.getnchannels(), fh.getsampwidth(), fh.getframerate()) == (1, 2, 16000)
            assert fh.getnframes() == 16000
        with Image.open(man.resolve(row["face_path"])) as img:
            assert img.size == (64, 64) and img.mode == "RGB"
        lm = np.load(generated / row["landmarks_path"])
        assert lm.shape == (68, 2) and lm.dtype == np.float32
        assert ((lm >= 0) & (lm <= 1)).all()


def test_voice_column_matches_the_language(generated: Path) -> None:
    frame = read_manifest(generated / "manifest.csv").frame
    voices = {"zh": "cmn-latn-pinyin", "hi": "hi", "es": "es", "ar": "ar", "ja": "ja"}
    english = {
        "en-us": "en-us",
        "en-gb": "gmw/en",
        "en-gb-scotland": "en-gb-scotland",
        "en-029": "en-029",
        "en-x-zh": "cmn-latn-pinyin",
        "en-x-hi": "hi",
        "en-x-es": "es",
    }
    for _, row in frame.iterrows():
        base = row["voice"].split("+")[0]
        want = english[row["accent"]] if row["language"] == "en" else voices[row["language"]]
        assert base == want, dict(row)


def test_same_seed_identical_bytes_across_worker_counts(
    tiny_spec: PopulationSpec, generated: Path, tmp_path: Path
) -> None:
    again = tmp_path / "pop_b"
    generate_population(tiny_spec, again, seed=21, workers=1, progress=False)
    a, b = _files(generated), _files(again)
    assert a.keys() == b.keys()
    different = [k for k in a if not filecmp.cmp(a[k], b[k], shallow=False)]
    assert different == []


def test_different_seed_different_files(
    tiny_spec: PopulationSpec, generated: Path, tmp_path: Path
) -> None:
    other = tmp_path / "pop_c"
    generate_population(tiny_spec, other, seed=22, workers=1, progress=False)
    wavs = sorted((other / "audio").rglob("*.wav"))
    assert len(wavs) == 6
    first = read_manifest(generated / "manifest.csv").frame
    second = read_manifest(other / "manifest.csv").frame
    assert set(first["speaker_id"]).isdisjoint(second["speaker_id"])  # tr21- vs tr22-
    assert (first["text"].to_numpy() != second["text"].to_numpy()).all()


def test_rerun_skips_finished_work_and_refuses_another_population(
    tiny_spec: PopulationSpec, tmp_path: Path
) -> None:
    out = tmp_path / "pop"
    first = generate_population(tiny_spec, out, seed=5, n_speakers=2, workers=1, progress=False)
    assert (first.n_generated, first.n_skipped) == (2, 0)
    kept = out / "audio" / "tr5-00000" / "tr5-00000-000.wav"
    redone = out / "audio" / "tr5-00001" / "tr5-00001-000.wav"
    before = kept.stat().st_mtime_ns, redone.stat().st_mtime_ns
    # an interrupted run: one speaker's record is gone, so only that speaker is redone
    (out / "done" / "tr5-00001.json").unlink()
    second = generate_population(tiny_spec, out, seed=5, n_speakers=2, workers=1, progress=False)
    assert (second.n_generated, second.n_skipped) == (1, 1)
    assert kept.stat().st_mtime_ns == before[0]  # finished speaker untouched
    assert redone.stat().st_mtime_ns > before[1]  # unfinished speaker written again
    assert (out / "done" / "tr5-00001.json").is_file()
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    with pytest.raises(ValueError, match="already holds a different population"):
        generate_population(tiny_spec, out, seed=6, n_speakers=2, workers=1, progress=False)


def test_data_card_counts(generated: Path) -> None:
    card: dict[str, Any] = json.loads((generated / "data_card.json").read_text("utf-8"))
    assert card["n_speakers"] == 3 and card["n_utterances"] == 6
    for attr in ("ethnicity", "language", "gender", "age_group", "split"):
        assert sum(r["speakers"] for r in card["tables"][attr]) == 3
    text = (generated / "data_card.md").read_text("utf-8")
    assert "not statements about real people" in text
    assert "## speakers by language x ethnicity" in text


def test_evaluation_population_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_path = tmp_path / "tiny.toml"
    preset = (
        Path(__file__).parents[3] / "s2f_data" / "biaslab" / "presets" / "representative.toml"
    ).read_text("utf-8")
    spec_path.write_text(
        preset.replace("utterances_per_speaker = 5", "utterances_per_speaker = 1")
        .replace("clip_seconds = 3.0", "clip_seconds = 0.5")
        .replace("face_size_px = 128", "face_size_px = 64"),
        "utf-8",
    )
    out = tmp_path / "eval"
    status = main(
        [
            "population",
            "--spec",
            str(spec_path),
            "--eval",
            "--per-cell",
            "1",
            "--seed",
            "4",
            "--out",
            str(out),
            "--quiet",
            "--workers",
            "2",
        ]
    )
    assert status == 0
    frame = read_manifest(out / "manifest.csv", check_files=True).frame
    cells = set(zip(frame["language"], frame["ethnicity"], strict=True))
    assert {
        ("en", "Asian"),
        ("en", "Black"),
        ("en", "Indian"),
        ("en", "White"),
        ("zh", "Asian"),
        ("hi", "Indian"),
        ("ja", "Asian"),
    } <= cells
    assert (frame["split"] == "test").all()
    assert frame["speaker_id"].str.startswith("ev4-").all()
    assert "manifest.csv" in capsys.readouterr().out


def test_cli_rejects_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["population", "--eval", "--speakers", "3", "--out", str(tmp_path / "x")])
    assert status == 2
    assert "use --per-cell with --eval" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nspeakers = 0\n', "utf-8")
    assert main(["population", "--spec", str(bad), "--out", str(tmp_path / "y")]) == 2
    assert "key 'speakers'" in capsys.readouterr().err
