import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit import (
    SCHEMA_VERSION,
    AuditResult,
    AuditSchemaError,
    data_identity,
    read_audit,
    row_ids_sha256,
    validate_audit,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _result():
    tables = {
        "metrics": pd.DataFrame(
            {
                "metric": ["agreement", "agreement"],
                "label": [None, "f"],
                "group": [{}, {"gender": "female"}],
                "n_utterances": [10, 0],
                "value": [0.5, np.nan],
                "flags": [[], ["empty"]],
            }
        ),
        "empty": pd.DataFrame({"a": pd.Series([], dtype=float)}),
    }
    return AuditResult(
        tables,
        settings={"ci_level": 0.95, "n_boot": 10},
        seed=3,
        created="2026-01-01T00:00:00+00:00",
        command="x",
        data={"n_utterances": 10},
    )


def test_round_trip_is_the_same_object_and_nan_is_null():
    res = _result()
    text = res.to_json()
    obj = json.loads(text)
    assert obj["schema_version"] == SCHEMA_VERSION
    assert obj["tables"]["metrics"][1]["value"] is None  # NaN written as null
    assert "NaN" not in text
    back = AuditResult.from_json(text)
    assert back == res
    assert np.isnan(back.tables["metrics"]["value"].iloc[1])
    assert back.tables["metrics"]["label"].iloc[0] is None
    assert back.tables["metrics"]["n_utterances"].dtype == np.int64
    assert back.to_json() == text
    changed = AuditResult.from_json(text)
    changed.tables["metrics"].loc[0, "value"] = 0.25
    assert changed != res


def test_write_and_read_folder_with_csvs(tmp_path):
    res = _result()
    evaluation = pd.DataFrame({"utterance_id": ["a", "b"], "speaker_id": ["s", "t"]})
    path = res.write(tmp_path / "out", evaluation=evaluation)
    assert path.name == "audit.json"
    back = read_audit(tmp_path / "out")
    assert back.artifacts["evaluation"] == "evaluation.csv"
    assert back == res
    csv = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert json.loads(csv["group"][1]) == {"gender": "female"}
    assert json.loads(csv["flags"][1]) == ["empty"]
    assert np.isnan(csv["value"][1])
    assert (tmp_path / "out" / "empty.csv").exists()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "evaluation.csv"), evaluation)


def test_validation_names_the_field():
    obj = json.loads(_result().to_json())
    bad = dict(obj)
    del bad["seed"]
    with pytest.raises(AuditSchemaError, match="lacks the required field 'seed'"):
        validate_audit(bad)
    with pytest.raises(AuditSchemaError, match="schema_version is 99; this version reads 1, 2"):
        validate_audit({**obj, "schema_version": 99})
    kinds = json.loads(json.dumps(obj["table_columns"]))
    kinds["metrics"]["value"] = "complex"
    with pytest.raises(AuditSchemaError, match="column 'value': kind 'complex' is not one of"):
        validate_audit({**obj, "table_columns": kinds})
    with pytest.raises(AuditSchemaError, match="table 'metrics' must be a list of records"):
        validate_audit({**obj, "tables": {"metrics": [1, 2]}})
    with pytest.raises(AuditSchemaError, match="not valid JSON"):
        AuditResult.from_json("{")


def test_data_identity_hash_ignores_row_order():
    t = pd.DataFrame({"utterance_id": ["b", "a"], "speaker_id": ["s", "s"]})
    ident = data_identity(t, source="x")
    assert ident == {
        "source": "x",
        "n_utterances": 2,
        "n_speakers": 1,
        "row_ids_sha256": row_ids_sha256(["a", "b"]),
    }


def test_fixture_matches_the_code():
    spec = importlib.util.spec_from_file_location(
        "make_audit_small", FIXTURES / "make_audit_small.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built, evaluation = module.build()
    stored = read_audit(FIXTURES / "audit_small.json")
    assert stored == built, "regenerate: python tests/fixtures/make_audit_small.py"
    stored_eval = pd.read_csv(
        FIXTURES / "audit_small_evaluation.csv", keep_default_na=False, na_values=[""]
    )
    assert list(stored_eval.columns) == list(evaluation.columns)
    assert stored_eval["utterance_id"].tolist() == evaluation["utterance_id"].tolist()
    assert stored.data["row_ids_sha256"] == row_ids_sha256(stored_eval["utterance_id"])


def test_version_1_files_are_still_read_and_keep_their_version():
    """A v1 audit.json (before the record keys) reads back and writes back as v1."""
    v1 = read_audit(FIXTURES / "audit_small_v1.json")
    assert v1.schema_version == 1
    assert "section" not in v1.tables["metrics"].columns
    obj = v1.to_dict()
    assert obj["schema_version"] == 1 and "table_sections" not in obj


def test_version_2_adds_keys_and_changes_nothing_else():
    """The v2 fixture equals the v1 fixture apart from the added keys (same code, same seed)."""
    v1 = json.loads((FIXTURES / "audit_small_v1.json").read_text(encoding="utf-8"))
    v2 = json.loads((FIXTURES / "audit_small.json").read_text(encoding="utf-8"))
    added = {"section", "finding", "held_back_reason"}
    assert v2["schema_version"] == SCHEMA_VERSION == 2
    assert set(v2) - set(v1) == {"table_sections"}
    for name, records in v1["tables"].items():
        new = v2["tables"][name]
        assert [{k: v for k, v in r.items() if k not in added} for r in new] == records, name
        assert all(set(r) - set(old) <= added for r, old in zip(new, records, strict=True))
    assert v2["table_sections"]["groups"] == "composition"
    assert v2["table_sections"]["metrics"] is None  # its records carry `section`
    assert {r["section"] for r in v2["tables"]["metrics"]} == {
        "agreement",
        "retrieval",
        "similarity",
        "calibration",
    }
    with pytest.raises(AuditSchemaError, match="'table_sections' must map table names"):
        validate_audit({**v2, "table_sections": {"metrics": 3}})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{}", r"audit\.json: not UTF-8 text"),
        ('{"a": 1}'.encode("utf-16"), r"audit\.json: not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, r"audit\.json: .*nested too deeply"),
    ],
)
def test_read_audit_names_the_file_of_undecodable_or_deep_json(tmp_path, content, message):
    path = tmp_path / "audit.json"
    path.write_bytes(content)
    with pytest.raises(AuditSchemaError, match=message):
        read_audit(path)
