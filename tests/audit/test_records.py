"""Keys that say what a record is (audit._records) and the findings policy (audit._findings)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from audit import SmallGroupWarning, make_evaluation_table, run_audit_tables
from audit._findings import finding_columns, held_back_reason
from audit._input_length_metrics import input_length_specs
from audit._metrics import rate_spec
from audit._records import (
    INPUT_LENGTH_TARGET,
    RECORD_COLUMNS,
    REFERENCE_COLUMNS,
    TABLE_SECTIONS,
    record_fields,
    table_sections,
)
from audit.exceptions import AuditInputError


def _tables(with_lengths: bool) -> dict[str, pd.DataFrame]:
    table = make_evaluation_table(40, 3, random_state=3)
    if with_lengths:
        for tag, shift in (("3s", -0.05), ("6s", 0.0)):
            table[f"cos_sim_{tag}"] = table["cos_sim"] + shift
            table[f"retrieval_rank_{tag}"] = table["retrieval_rank"]
            table[f"speech_seconds_{tag}"] = float(tag[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        return run_audit_tables(table, groupings=["gender"], n_boot=40, focus=())


def test_reference_columns_are_the_disparity_block_of_the_record_columns():
    assert REFERENCE_COLUMNS == (
        "reference",
        "reference_value",
        "difference",
        "diff_ci_low",
        "diff_ci_high",
        "ratio",
        "ratio_ci_low",
        "ratio_ci_high",
    )
    assert RECORD_COLUMNS[-3:] == ("p_value", "p_adjusted", "flags")


def test_input_length_records_carry_their_durations_as_numbers():
    metrics = _tables(True)["metrics"]
    lengths = metrics[metrics["target"] == INPUT_LENGTH_TARGET]
    assert (lengths["section"] == "input_length").all()
    # every record's fields agree with its display string, written independently here
    for metric, base, seconds, baseline in zip(
        lengths["metric"],
        lengths["base_metric"],
        lengths["input_seconds"],
        lengths["baseline_seconds"],
        strict=True,
    ):
        expected = (
            f"{base} ({seconds:g} s)"
            if np.isnan(baseline)
            else (f"{base} ({seconds:g} s - {baseline:g} s)")
        )
        assert metric == expected
    assert set(lengths["input_seconds"]) == {3.0, 6.0}
    assert set(lengths["baseline_seconds"].dropna()) == {3.0}
    others = metrics[metrics["target"] != INPUT_LENGTH_TARGET]
    assert (
        others["input_seconds"].isna().all()
        and others["base_metric"].map(lambda v: v is None).all()
    )


def test_existing_columns_keep_their_order_and_keys_are_appended():
    metrics = _tables(False)["metrics"]
    assert list(metrics.columns[: len(RECORD_COLUMNS)]) == list(RECORD_COLUMNS)
    assert list(metrics.columns[-3:]) == ["section", "finding", "held_back_reason"]
    assert "input_seconds" not in metrics.columns  # no input-length rows: no such keys


def test_sections_of_tables_are_exact_names():
    tables = _tables(False)
    sections = table_sections(list(tables))
    assert sections["metrics"] is None
    assert sections == {n: TABLE_SECTIONS.get(n) for n in tables}
    assert table_sections(["confusion_extra"]) == {"confusion_extra": None}  # no substrings


def test_a_record_without_a_spec_is_an_error():
    x = np.array([1.0, 0.0])
    spec = replace(rate_spec("m", "t", x, np.ones(2, bool)), fields={"section": "agreement"})
    frame = pd.DataFrame({"metric": ["m", "other"], "target": ["t", "t"], "label": [None, None]})
    with pytest.raises(AuditInputError, match=r"metrics record 1 \('other', 't', None\)"):
        record_fields(frame, [spec])
    twin = replace(spec, fields={"section": "pitch"})
    with pytest.raises(AuditInputError, match="carry different record fields"):
        record_fields(frame.iloc[:1], [spec, twin])


def test_input_length_specs_without_durations_is_empty():
    assert input_length_specs(pd.DataFrame({"cos_sim": [0.1]})) == []


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"flags": ["significant", "empty", "insufficient_data"]}, "empty group"),
        ({"flags": ["significant", "insufficient_data"]}, "insufficient data"),
        ({"flags": ["significant", "single_class"]}, "one true class in the group"),
        (
            {
                "flags": ["significant"],
                "metric": "kappa",
                "target": "gender",
                "group": {"gender": "female"},
            },
            "group fixes the judged attribute (gender)",
        ),
        (
            {
                "flags": ["significant"],
                "metric": "kappa",
                "target": "gender",
                "group": {"ethnicity": "Asian"},
            },
            "",
        ),
        (
            {
                "flags": ["significant"],
                "metric": "agreement",
                "target": "gender",
                "group": {"gender": "female"},
            },
            "",
        ),
    ],
)
def test_held_back_reason(record, reason):
    assert held_back_reason(record) == reason


def test_finding_columns_mark_only_significant_gaps():
    frame = pd.DataFrame(
        {
            "metric": ["agreement", "agreement", "kappa"],
            "target": ["gender"] * 3,
            "group": [{"ethnicity": "Asian"}, {"ethnicity": "Black"}, {"gender": "male"}],
            "difference": [0.1, 0.2, 0.3],
            "flags": [["significant"], [], ["significant"]],
        }
    )
    out = finding_columns(frame)
    assert out["finding"].tolist() == [True, False, False]
    assert out["held_back_reason"].tolist() == ["", "", "group fixes the judged attribute (gender)"]
    assert "finding" not in frame.columns  # a new frame
    no_gaps = finding_columns(frame.drop(columns=["difference"]))
    assert not no_gaps["finding"].any()


def test_fixture_findings_agree_with_the_flags():
    metrics = _tables(False)["metrics"]
    significant = metrics["flags"].map(lambda f: "significant" in f)
    assert not (metrics["finding"] & ~significant).any()
    held = metrics["held_back_reason"] != ""
    assert not (held & ~significant).any()
    assert (metrics["finding"] == (significant & ~held)).all()
