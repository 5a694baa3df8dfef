"""`s2f-audit audit --input-seconds`: parsing, pass-through and the recorded settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from s2f_cli import main
from s2f_cli.commands.audit import parse_input_seconds


def test_parse_input_seconds() -> None:
    assert parse_input_seconds(["3", "6"]) == [3.0, 6.0]
    assert parse_input_seconds(["2.5"]) == [2.5]
    assert parse_input_seconds(["auto"]) == "auto"
    assert parse_input_seconds(["NONE"]) == "none"
    with pytest.raises(ValueError, match="numbers of seconds, or one word 'auto' or 'none'"):
        parse_input_seconds(["3", "auto"])


@pytest.fixture(scope="module")
def checkpoint_and_manifest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An untrained compact model (3 s clip) and 4 speakers x 2 utterances of 2 and 4 s."""
    from s2f_data import ManifestInfo, write_manifest
    from s2f_model import S2FConfig, build_model, save_checkpoint

    root = tmp_path_factory.mktemp("cli-audit")
    cfg = S2FConfig.compact()
    save_checkpoint(root / "run", build_model(cfg, seed=0).eval(), cfg.to_dict(), name="model.json")
    rng = np.random.default_rng(0)
    rows = []
    for s in range(4):
        Image.fromarray(np.full((64, 64, 3), 40 + 50 * s, dtype=np.uint8)).save(root / f"f{s}.png")
        for seconds in (2, 4):
            name = f"s{s}_{seconds}.wav"
            sf.write(root / name, 0.1 * rng.standard_normal(8000 * seconds), 8000)
            rows.append(
                {
                    "utterance_id": f"s{s}_{seconds}",
                    "speaker_id": f"s{s}",
                    "split": "test",
                    "audio_path": name,
                    "face_path": f"f{s}.png",
                    "gender": "female" if s % 2 else "male",
                }
            )
    manifest = write_manifest(
        pd.DataFrame(rows), root / "manifest.csv", ManifestInfo(source="test")
    )
    return root / "run", manifest


def _audit(tmp_path: Path, ckpt: Path, manifest: Path, *extra: str) -> int:
    return main(
        [
            "audit",
            "--quiet",
            "--checkpoint",
            str(ckpt),
            "--manifest",
            str(manifest),
            "--out",
            str(tmp_path),
            "--judge",
            "none",
            "--n-boot",
            "20",
            "--min-group-size",
            "2",
            "--gallery-size",
            "3",
            *extra,
        ]
    )


def test_audit_records_and_evaluates_the_durations(checkpoint_and_manifest, tmp_path) -> None:
    ckpt, manifest = checkpoint_and_manifest
    assert _audit(tmp_path, ckpt, manifest, "--input-seconds", "1.5", "3") == 0
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert audit["settings"]["input_seconds"] == [1.5, 3.0]
    assert audit["settings"]["input_seconds_requested"] == [1.5, 3.0]
    metrics = {r["metric"] for r in audit["tables"]["metrics"] if r["target"] == "input_length"}
    assert {"cos_sim (1.5 s)", "recall@1 (3 s)", "cos_sim (3 s - 1.5 s)"} <= metrics
    evaluation = pd.read_csv(tmp_path / "evaluation.csv")
    np.testing.assert_array_equal(evaluation["cos_sim_3s"], evaluation["cos_sim"])
    assert sorted(evaluation["speech_seconds_1.5s"].unique()) == [1.5]


def test_audit_none_and_impossible_duration(checkpoint_and_manifest, tmp_path, capsys) -> None:
    ckpt, manifest = checkpoint_and_manifest
    assert _audit(tmp_path / "none", ckpt, manifest, "--input-seconds", "none") == 0
    audit = json.loads((tmp_path / "none" / "audit.json").read_text())
    assert audit["settings"]["input_seconds"] is None
    assert audit["settings"]["input_seconds_requested"] == "none"
    assert not [r for r in audit["tables"]["metrics"] if r["target"] == "input_length"]
    assert _audit(tmp_path / "bad", ckpt, manifest, "--input-seconds", "0.001") == 2
    assert "input duration 0.001 s is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "audit.json").exists()
