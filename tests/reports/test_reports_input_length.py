"""The input-length section: a small 3 s vs 6 s table, or why it was not evaluated."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from report_helpers import check_record, rows_by_source, soup_of, table_cells

from audit import AuditResult, SmallGroupWarning, make_evaluation_table, run_audit_tables
from reports import render_report

_BASES = ("cos_sim", "l1", "l2", "recall@1", "recall@2", "recall@5", "recall@10")


def _audit(with_lengths: bool, requested: Any = "auto") -> dict[str, Any]:
    table = make_evaluation_table(40, 3, random_state=3)
    if with_lengths:
        rng = np.random.default_rng(0)
        for tag, shift, seconds in (("3s", -0.05, 3.0), ("6s", 0.0, 6.0)):
            cos = table["cos_sim"].to_numpy() + shift + rng.normal(0, 0.01, len(table))
            table[f"cos_sim_{tag}"] = cos
            table[f"l2_{tag}"] = np.sqrt(2 - 2 * cos)
            table[f"l1_{tag}"] = 10 * table[f"l2_{tag}"]
            rank = table["retrieval_rank"].to_numpy() + (3 if tag == "3s" else 0)
            table[f"retrieval_rank_{tag}"] = np.minimum(rank, table["gallery_size"])
            table[f"speech_seconds_{tag}"] = np.minimum(seconds, 4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        tables = run_audit_tables(table, groupings=["gender"], max_order=1, n_boot=50, focus=())
    result = AuditResult(
        tables,
        settings={
            "input_seconds": [3.0, 6.0] if with_lengths else None,
            "input_seconds_requested": requested,
        },
        seed=0,
        created="2026-01-01T00:00:00+00:00",
        tool={"name": "s2f-audit", "version": "0", "packages": {}},
        model={"name": "m", "config": {"audio": {"clip_seconds": 3.0}}},
    )
    return result.to_dict()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    audit = _audit(True)
    out = render_report(audit, tmp_path_factory.mktemp("il") / "report.html")
    return audit, soup_of(out)


def test_summary_table_shows_each_duration_with_n_and_interval(rendered) -> None:
    audit, soup = rendered
    section = soup.find(attrs={"data-section": "input_length"})
    assert "Input length: 3 s vs 6 s (all utterances" in section.get_text(" ")
    rows = table_cells(section, "input_length_summary")
    assert [rows[i]["metric"]["text"] for i in sorted(rows)] == list(_BASES)
    overall = {
        r["metric"]: r
        for r in audit["tables"]["metrics"]
        if r["target"] == "input_length" and r["attribute"] == "overall"
    }
    for i, base in enumerate(_BASES):
        cells = rows[i]
        for key, metric in (
            ("value_3s", f"{base} (3 s)"),
            ("value_6s", f"{base} (6 s)"),
            ("value_6s_minus_3s", f"{base} (6 s - 3 s)"),
        ):
            record = overall[metric]
            assert float(cells[key]["data-value"]) == record["value"]
            assert float(cells[key]["data-ci-low"]) == record["ci_low"]
            assert float(cells[key]["data-ci-high"]) == record["ci_high"]
            assert "[" in cells[key]["text"]  # value [low, high]
        assert cells["n_utterances"]["text"] == str(overall[f"{base} (6 s - 3 s)"]["n_utterances"])
        assert cells["n_speakers"]["text"] == "40"
        assert float(cells["speech_seconds_3s"]["data-value"]) == 3.0
    headers = [th.get_text() for th in section.find("table").find_all("th")]
    assert {"3 s [CI]", "6 s [CI]", "6 s − 3 s [CI]"} <= set(headers)
    # the similarity and retrieval sections keep only their own rows
    for sid in ("similarity", "retrieval"):
        text = soup.find(attrs={"data-section": sid}).get_text(" ")
        assert "(3 s)" not in text and "(6 s)" not in text


def test_every_input_length_record_is_in_the_section(rendered) -> None:
    audit, soup = rendered
    section = soup.find(attrs={"data-section": "input_length"})
    rows = rows_by_source(section)
    checked = 0
    for i, record in enumerate(audit["tables"]["metrics"]):
        if record["target"] != "input_length":
            continue
        assert ("metrics", i) in rows, record["metric"]
        for cells in rows[("metrics", i)]:
            checked += check_record(cells, record)
    assert checked > 21 * 3 * 5


def test_not_evaluated_names_the_model_clip(tmp_path) -> None:
    out = render_report(_audit(False), tmp_path / "report.html")
    section = soup_of(out).find(attrs={"data-section": "input_length"})
    assert section.find("table") is None
    assert "Not evaluated (model clip is 3 s)." in section.get_text(" ")
    out = render_report(_audit(False, "none"), tmp_path / "none.html")
    section = soup_of(out).find(attrs={"data-section": "input_length"})
    assert "Not requested in this audit" in section.get_text(" ")


def test_the_overview_reads_the_record_keys_not_the_metric_text(tmp_path) -> None:
    """Schema 2: durations come from input_seconds/baseline_seconds, never from ``metric``.

    Relabelling every input-length ``metric`` (display text only) leaves the overview's
    numbers and durations unchanged; changing ``input_seconds`` moves a value to another
    column.
    """
    audit = _audit(True)
    records = audit["tables"]["metrics"]
    lengths = [r for r in records if r.get("section") == "input_length"]
    assert lengths and all(r["target"] == "input_length" for r in lengths)
    for i, record in enumerate(lengths):
        record["metric"] = f"renamed {i}"
    out = render_report(audit, tmp_path / "renamed.html")
    rows = table_cells(
        soup_of(out).find(attrs={"data-section": "input_length"}), "input_length_summary"
    )
    assert [rows[i]["metric"]["text"] for i in sorted(rows)] == list(_BASES)
    first = next(
        r
        for r in lengths
        if r["attribute"] == "overall"
        and r["base_metric"] == "cos_sim"
        and r["input_seconds"] == 3.0
    )
    assert float(rows[0]["value_3s"]["data-value"]) == first["value"]
    for record in lengths:
        if record["baseline_seconds"] is None:
            record["input_seconds"] = record["input_seconds"] / 2  # 3 s -> 1.5 s, 6 s -> 3 s
    out = render_report(audit, tmp_path / "halved.html")
    section = soup_of(out).find(attrs={"data-section": "input_length"})
    assert "Input length: 1.5 s vs 3 s (all utterances" in section.get_text(" ")
