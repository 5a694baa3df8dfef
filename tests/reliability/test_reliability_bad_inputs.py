"""Bad-input corpus across the entry points: CLI, population specs, audit.json, audit tables.

Every case names its expected handling: the CLI returns 2 with a single line
``s2f-audit <command>: error: ...`` naming the offending file or option; the Python APIs raise
a `ValueError` subclass whose message names the offending key, field, row or value. The media
cases (audio and face files) live in ``tests/s2f_data/test_bad_inputs.py``; the malicious
pickle and corrupt checkpoint cases of the loader in ``tests/s2f_model/test_checkpoint.py``.
"""

from __future__ import annotations

import copy
import json
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from audit import (
    SCHEMA_VERSION,
    AuditInputError,
    AuditResult,
    AuditSchemaError,
    make_evaluation_table,
    read_audit,
    run_audit_tables,
)
from s2f_cli import main
from s2f_data.biaslab import PopulationSpec, PopulationSpecError


@dataclass(frozen=True)
class CliCase:
    name: str
    argv: Callable[[Path], list[str]]
    message: str  # regex the one-line error must match


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _bad_manifest(tmp: Path) -> str:
    return str(_write(tmp / "m" / "manifest.csv", "not,a,manifest\n1,2,3\n"))


def _bad_json(tmp: Path) -> str:
    return str(_write(tmp / "a" / "audit.json", "garbage"))


def _future_audit(tmp: Path) -> str:
    obj = json.loads(AuditResult({"t": pd.DataFrame({"v": [1.0]})}, seed=0).to_json())
    obj["schema_version"] = SCHEMA_VERSION + 1
    return str(_write(tmp / "f" / "audit.json", json.dumps(obj)))


def _truncated_run(tmp: Path) -> str:
    _write(tmp / "run" / "model.json", '{"format": "s2f-audit-checkpoint"')
    return str(tmp / "run")


def _random_tensor_file(tmp: Path) -> str:
    return str(_write(tmp / "ck" / "model.safetensors", bytes(range(256)) * 2))


CLI_CASES = [
    CliCase(
        "report_missing_audit",
        lambda t: ["report", str(t / "nope.json"), "--out", str(t / "r.html")],
        r"nope\.json: no such",
    ),
    CliCase(
        "report_not_json",
        lambda t: ["report", _bad_json(t), "--out", str(t / "r.html")],
        r"audit\.json: not valid JSON",
    ),
    CliCase(
        "report_future_schema",
        lambda t: ["report", _future_audit(t), "--out", str(t / "r.html")],
        r"schema_version",
    ),
    CliCase(
        "compare_not_json",
        lambda t: ["compare", _bad_json(t), _bad_json(t), "--out", str(t / "c.html")],
        r"not valid JSON",
    ),
    CliCase(
        "data_check_missing",
        lambda t: ["data", "check", str(t / "none.csv")],
        r"none\.csv: manifest file not found",
    ),
    CliCase(
        "population_bad_toml",
        lambda t: ["population", "--spec", _bad_json(t), "--out", str(t / "pop")],
        r"not valid TOML",
    ),
    CliCase(
        "population_negative_speakers",
        lambda t: ["population", "--speakers", "-5", "--out", str(t / "pop")],
        r"--speakers must be an integer in \[1, 1,000,000\], got -5",
    ),
    CliCase(
        "population_absurd_speakers",  # used to run for ever (a loop over 10**13 speakers)
        lambda t: ["population", "--speakers", str(10**13), "--out", str(t / "pop")],
        r"--speakers must be an integer in \[1, 1,000,000\], got 10000000000000",
    ),
    CliCase(
        "predict_tensor_file_without_json",
        lambda t: [
            "predict",
            "--checkpoint",
            _random_tensor_file(t),
            _bad_manifest(t),
            "--out",
            str(t / "p"),
        ],
        r"model\.safetensors: no checkpoint JSON",
    ),
    CliCase(
        "predict_truncated_checkpoint_json",
        lambda t: [
            "predict",
            "--checkpoint",
            _truncated_run(t),
            _bad_manifest(t),
            "--out",
            str(t / "p"),
        ],
        r"model\.json: not a readable checkpoint JSON",
    ),
    CliCase(
        "audit_zero_boot",
        lambda t: [
            "audit",
            "--checkpoint",
            _truncated_run(t),
            "--manifest",
            _bad_manifest(t),
            "--out",
            str(t / "o"),
            "--n-boot",
            "0",
        ],
        r"--n-boot must be at least 1",
    ),
    CliCase(
        "train_missing_manifest",
        lambda t: ["train", "--manifest", str(t / "none.csv"), "--out", str(t / "run2")],
        r"none\.csv: manifest file not found",
    ),
    CliCase(
        "import_missing_root",
        lambda t: ["data", "import", "voxceleb1", str(t / "vox"), "--out", str(t / "m.csv")],
        r"VoxCeleb1 root folder not found",
    ),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.name)
def test_cli_bad_input_is_a_one_line_error(case: CliCase, tmp_path: Path, capsys) -> None:
    argv = case.argv(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"s2f-audit {argv[0]}: error: ")
    assert re.search(case.message, lines[0]), lines[0]


@pytest.mark.parametrize(
    "argv",
    [["frobnicate"], ["audit", "--n-boot", "many"], ["train", "--precision", "fp8"]],
    ids=["unknown_command", "non_integer_option", "bad_choice"],
)
def test_cli_argument_errors_exit_2(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


SPEC_CASES = {
    "negative_speakers": ({"speakers": -1}, r"key 'speakers': expected an integer"),
    "unknown_key": ({"colour": "red"}, r"key 'colour': unknown key"),
    "probabilities_do_not_sum": (
        {"gender": {"female": 0.9, "male": 0.9}},
        r"key 'gender': probabilities must sum to 1, got 1\.8",
    ),
    "unknown_ethnicity": ({"ethnicity": {"Martian": 1.0}}, r"label 'Martian' is not one of"),
    "split_does_not_sum": (
        {"split": {"train": 0.5, "val": 0.1, "test": 0.1}},
        r"key 'split': probabilities must sum to 1",
    ),
    "holdout_unknown_key": ({"holdout": [{"shoe_size": "42"}]}, r"holdout\[0\]\.shoe_size"),
    "clip_seconds_text": ({"clip_seconds": "long"}, r"key 'clip_seconds': expected a number"),
    "language_table_missing": (
        {"language": {"Asian": {"en": 1.0}}},
        r"every ethnicity needs P\(language \| ethnicity\)",
    ),
}


@pytest.mark.parametrize("name", sorted(SPEC_CASES))
def test_population_spec_errors_name_the_key(name: str) -> None:
    patch, message = SPEC_CASES[name]
    data = copy.deepcopy(PopulationSpec.preset("web-skewed").to_dict())
    data.update(patch)
    with pytest.raises(PopulationSpecError, match=r"^spec\.toml: ") as info:
        PopulationSpec.from_dict(data, source="spec.toml")
    assert re.search(message, str(info.value)), str(info.value)
    assert isinstance(info.value, ValueError)


def _audit_obj() -> dict:
    res = AuditResult({"metrics": pd.DataFrame({"value": [0.5], "flags": [["x"]]})}, seed=1)
    return json.loads(res.to_json())


AUDIT_JSON_CASES: dict[str, tuple[Callable[[dict], object], str]] = {
    "older_schema_version": (lambda o: {**o, "schema_version": 0}, r"schema_version is 0"),
    "newer_schema_version": (
        lambda o: {**o, "schema_version": SCHEMA_VERSION + 1},
        # names the refused version and the newest one it reads (it may read older ones too)
        rf"schema_version is {SCHEMA_VERSION + 1}; this version reads .*\b{SCHEMA_VERSION}$",
    ),
    "missing_tables": (
        lambda o: {k: v for k, v in o.items() if k != "tables"},
        r"lacks the required field 'tables'",
    ),
    "table_not_a_list": (
        lambda o: {**o, "tables": {"metrics": {"value": 1}}},
        r"table 'metrics' must be a list of records",
    ),
    "unknown_column_kind": (
        lambda o: {**o, "table_columns": {"metrics": {"value": "complex"}}},
        r"kind 'complex' is not one of",
    ),
    "array_at_top_level": (lambda o: [o], r"must hold an object"),
}


@pytest.mark.parametrize("name", sorted(AUDIT_JSON_CASES))
def test_audit_json_from_another_version_is_refused(name: str, tmp_path: Path) -> None:
    change, message = AUDIT_JSON_CASES[name]
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(change(_audit_obj())))
    with pytest.raises(AuditSchemaError, match=message):
        read_audit(path)


def test_audit_json_with_nan_literal_is_read_or_refused_cleanly(tmp_path: Path) -> None:
    # Python's json accepts NaN literals; the record must come back as a float NaN.
    text = AuditResult({"m": pd.DataFrame({"value": [0.5]})}, seed=1).to_json()
    path = tmp_path / "audit.json"
    path.write_text(text.replace("0.5", "NaN"))
    value = read_audit(path).tables["m"]["value"].iloc[0]
    assert math.isnan(value)


def _table() -> pd.DataFrame:
    return make_evaluation_table(30, 2, random_state=0)


TABLE_CASES: dict[str, tuple[Callable[[], pd.DataFrame], dict, str]] = {
    "no_speaker_column": (
        lambda: _table().drop(columns="speaker_id"),
        {},
        r"has no 'speaker_id' column",
    ),
    "missing_speaker": (
        lambda: _table().assign(speaker_id=lambda t: t["speaker_id"].where(t.index != 4, None)),
        {},
        r"'speaker_id' is missing in row 4",
    ),
    "duplicate_utterance": (
        lambda: pd.concat([_table(), _table().iloc[:1]], ignore_index=True),
        {},
        r"utterance_id 'u00000_0' occurs twice \(row 60\)",
    ),
    "empty_table": (lambda: _table().iloc[:0], {}, r"has no rows"),
    "zero_boot": (_table, {"n_boot": 0}, r"n_boot must be a positive integer, got 0"),
    "float_seed": (_table, {"random_state": 0.5}, r"random_state must be a non-negative integer"),
    "unknown_reference_group": (
        _table,
        {"reference": {"gender": "robot"}},
        r"reference group \{'gender': 'robot'\} does not exist",
    ),
    "bad_correction": (_table, {"correction": "bonferroni"}, r"correction must be one of"),
    "bad_ci_level": (_table, {"ci_level": 95}, r"ci_level must be in \(0, 1\), got 95"),
}


@pytest.mark.parametrize("name", sorted(TABLE_CASES))
def test_run_audit_tables_bad_input(name: str) -> None:
    make, kwargs, message = TABLE_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(AuditInputError, match=message):
            run_audit_tables(make(), n_boot=kwargs.pop("n_boot", 20), max_order=1, **kwargs)


def test_corpus_size() -> None:
    """The issue asks for at least 30 cases over all entry points (media cases elsewhere)."""
    n = len(CLI_CASES) + 3 + len(SPEC_CASES) + len(AUDIT_JSON_CASES) + 1 + len(TABLE_CASES)
    assert n >= 30
