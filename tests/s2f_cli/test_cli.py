"""The command line: help for every subcommand, one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from s2f_cli import build_parser, main
from s2f_cli.commands import COMMANDS

CONTRACT = {"demo", "population", "train", "predict", "audit", "report", "compare", "data"}


def test_every_contract_subcommand_exists() -> None:
    assert {m.NAME for m in COMMANDS} >= CONTRACT


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_subcommand_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"s2f-audit {name}" in out
    assert "--seed" in out and "--device" in out


def test_console_script_help_runs_in_a_fresh_process() -> None:
    exe = Path(sys.executable).with_name("s2f-audit")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "s2f_cli"]
    done = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "population" in done.stdout and "demo" in done.stdout


def test_packages_import() -> None:
    code = "import audit, s2f_model, reports, s2f_data, s2f_cli"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_unknown_subcommand_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_negative_seed_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["data", "check", str(tmp_path / "m.csv"), "--seed", "-1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "--seed must be an integer in [0, 2**63), got -1" in err


def test_data_check_reports_problem_with_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.DataFrame(
        {
            "utterance_id": ["a", "b"],
            "speaker_id": ["s", "t"],
            "audio_path": ["a.wav", "../../b.wav"],
            "split": ["train", "test"],
        }
    )
    path = tmp_path / "manifest.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "manifest.json").write_text(json.dumps({"source": "t"}))
    assert main(["data", "check", str(path), "--no-files"]) == 2
    err = capsys.readouterr().err
    assert "line 3, column 'audio_path'" in err and "outside the data root" in err


def test_data_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    frame = pd.DataFrame(
        {"utterance_id": ["a"], "speaker_id": ["s"], "audio_path": ["a.wav"], "split": ["test"]}
    )
    frame.to_csv(tmp_path / "manifest.csv", index=False)
    assert main(["data", "check", str(tmp_path / "manifest.csv")]) == 0
    assert "OK (1 utterances, 1 speakers)" in capsys.readouterr().out


def test_parser_builds_without_heavy_imports() -> None:
    code = (
        "import sys; from s2f_cli import build_parser; build_parser(); "
        "heavy = [m for m in ('torch', 'matplotlib', 'fairlearn') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
    assert build_parser().prog == "s2f-audit"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "not an audit.json: JSON nested too deeply"),
        (b"\xff\xfe{}", "not UTF-8 text (an audit.json is UTF-8 JSON)"),
    ],
)
@pytest.mark.parametrize("command", ["report", "compare"])
def test_report_and_compare_name_an_audit_json_that_is_no_json_text(
    tmp_path, capsys, content, message, command
):
    # these used to end in a RecursionError traceback, or an error without the file's name
    bad = tmp_path / "bad" / "audit.json"
    bad.parent.mkdir()
    bad.write_bytes(content)
    good = Path(__file__).resolve().parents[1] / "fixtures" / "audit_small.json"
    inputs = [str(bad)] if command == "report" else [str(good), str(bad.parent)]
    assert main([command, *inputs, "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert f"s2f-audit {command}: error: {bad}: {message}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
