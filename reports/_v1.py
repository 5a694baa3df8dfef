"""Read an audit.json of schema version 1: derive the keys that version 2 writes.

Version 1 records did not say what they are: the section of a table followed from its name,
the section of a ``metrics`` record and the durations of an input-length record from its
metric name, the findings decision was taken by the renderer, and hand-written confusion
cells could say ``task``, ``predicted_label``, ``n``, ``rate`` for ``target``,
``pred_label``, ``count``, ``value``, and label vocabularies could sit under ``settings`` or
``judge`` rather than ``data``. `upgrade_v1` derives the
version-2 keys from those names once, at load time, with the rules of version 1 frozen here,
so the rest of the renderer reads exact keys only: ``table_sections`` (top level), and on
records ``section``, ``base_metric``, ``input_seconds``, ``baseline_seconds``, ``finding``
and ``held_back_reason`` (and the confusion keys). Records are copied, never changed in
place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reports._tables import has_flag

__all__ = [
    "comparison_section",
    "section_of",
    "section_of_metric",
    "swap_speaker_group",
    "upgrade_v1",
]

#: Version-1 routing of tables to sections by words in their names.
_TABLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("composition", ("composition", "coverage")),
    ("confusion", ("confusion",)),
    ("agreement", ("agreement", "upper_bound")),
    ("disparities", ("disparit",)),
    ("language_swap", ("language_swap",)),
    ("retrieval", ("retrieval",)),
    ("similarity", ("similarity",)),
    ("input_length", ("input_length",)),
    ("craniofacial", ("craniofacial",)),
    ("pitch", ("pitch",)),
    ("calibration", ("calibration",)),
)
_EXACT_TABLES = {
    "groups": "composition",
    "judge_accuracy_by_group": "agreement",
    "focus": "summary",
    "focus_groups": "summary",
    "summary": "summary",
}
#: The version-1 table whose records are sorted into sections by their metric.
_MIXED_TABLE = "metrics"
_INPUT_LENGTH_TARGET = "input_length"
_INPUT_LENGTH_METRIC = re.compile(
    r"^(?P<base>\S+) \((?P<seconds>[0-9.e+]+) s(?: - (?P<baseline>[0-9.e+]+) s)?\)$"
)
_MULTICLASS_METRICS = frozenset({"kappa", "macro_recall"})
_LENGTH_KEYS = ("base_metric", "input_seconds", "baseline_seconds")


def section_of(table: str) -> str | None:
    """Section of a version-1 table from its name, or None for "other tables"."""
    lowered = table.lower()
    if lowered in _EXACT_TABLES:
        return _EXACT_TABLES[lowered]
    for section_id, words in _TABLE_WORDS:
        if any(word in lowered for word in words):
            return section_id
    return None


def section_of_metric(metric: Any, target: Any = None) -> str:
    """Section of a record of a version-1 ``metrics`` table, from its metric and target."""
    name = str(metric).lower()
    if target == _INPUT_LENGTH_TARGET:
        return "input_length"
    if name.startswith("recall@") or target == "retrieval":
        return "retrieval"
    if name in {"cos_sim", "cosine", "l1", "l2", "angle"} or target == "feature":
        return "similarity"
    if name.startswith("ece") or "calibration" in name:
        return "calibration"
    if "pearson" in name:
        return "craniofacial"
    if name == "predicted_rate":
        return "pitch"
    return "agreement"


def comparison_section(record: Mapping[str, Any]) -> str | None:
    """Section of a record of audit's comparison: its ``section``, else the version-1 rule.

    Comparisons computed before their records carried ``section`` (saved results) are
    placed by their metric and target as version 1 did (`section_of_metric`).

    Examples
    --------
    >>> comparison_section({"metric": "recall@1", "section": "input_length"})
    'input_length'
    >>> comparison_section({"metric": "recall@1", "target": "retrieval"})
    'retrieval'
    """
    if "section" in record:
        section = record["section"]
        return section if isinstance(section, str) else None
    return section_of_metric(record.get("metric"), record.get("target"))


def swap_speaker_group(record: Mapping[str, Any]) -> dict[str, str]:
    """Speaker attributes of a ``language_swap`` record written without ``speaker_group``.

    Such records name their group only as text, the grouping's attribute values and the
    language pair joined by " x " (``grouping`` names the attributes the same way).

    Examples
    --------
    >>> swap_speaker_group(
    ...     {"grouping": "ethnicity x first_language", "group": "Asian x ja x ja-en"}
    ... )
    {'ethnicity': 'Asian', 'first_language': 'ja'}
    >>> swap_speaker_group({"grouping": "all", "group": "ja-en"})
    {}
    """
    grouping = str(record.get("grouping", ""))
    attributes = [] if grouping in ("", "all") else grouping.split(" x ")
    values = str(record.get("group", "")).split(" x ")[: len(attributes)]
    return dict(zip(attributes, values, strict=False))


def _held_back_reason(record: Mapping[str, Any]) -> str:
    """Apply the findings policy of version 1 (audit._findings holds it from version 2 on)."""
    for flag, reason in (
        ("empty", "empty group"),
        ("insufficient_data", "insufficient data"),
        ("single_class", "one true class in the group"),
    ):
        if has_flag(record, flag):
            return reason
    metric = str(record.get("metric", "")).removeprefix("upper_")
    group = record.get("group")
    if metric in _MULTICLASS_METRICS and isinstance(group, Mapping):
        if record.get("target") in group:
            return f"group fixes the judged attribute ({record.get('target')})"
    return ""


def _input_length_keys(record: Mapping[str, Any]) -> dict[str, Any]:
    match = _INPUT_LENGTH_METRIC.match(str(record.get("metric", "")))
    if match is None:
        return {}
    baseline = match["baseline"]
    return {
        "base_metric": match["base"],
        "input_seconds": float(match["seconds"]),
        "baseline_seconds": None if baseline is None else float(baseline),
    }


#: Version-1 confusion cells could name their keys so: key -> the older names, in order.
_CONFUSION_KEYS = {
    "target": ("task", "metric"),
    "pred_label": ("predicted_label",),
    "count": ("n",),
    "value": ("rate",),
}


def _confusion_keys(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the keys audit writes on a confusion cell, from the older names if missing."""
    keys = {}
    for key, older in _CONFUSION_KEYS.items():
        if key in record:
            continue
        found = next((name for name in older if name in record), None)
        if found is not None:
            keys[key] = record[found]
    return keys


def _upgrade_record(record: dict[str, Any], mixed: bool, lengths: bool) -> dict[str, Any]:
    """Copy of a record with the keys of version 2 (audit's order: section, lengths, finding).

    On the mixed ``metrics`` table every record gets ``section``, the input-length keys
    when the table has input-length records, ``finding`` and ``held_back_reason`` (as audit
    writes them); on other tables only significant gaps get the findings keys.
    """
    keys: dict[str, Any] = _confusion_keys(record) if "true_label" in record else {}
    if mixed:
        keys["section"] = section_of_metric(record.get("metric"), record.get("target"))
        if lengths:
            found = _input_length_keys(record) if keys["section"] == "input_length" else {}
            keys.update({k: found.get(k) for k in _LENGTH_KEYS})
    gap = "difference" in record and has_flag(record, "significant")
    if mixed or gap:
        reason = _held_back_reason(record) if gap else ""
        keys.update(finding=gap and not reason, held_back_reason=reason)
    return {**record, **keys} if keys else record


def upgrade_v1(audit: Mapping[str, Any]) -> dict[str, Any]:
    """Return a version-1 audit with the keys of version 2 derived (a new dict).

    Examples
    --------
    >>> audit = {"schema_version": 1, "tables": {"metrics": [{"metric": "cos_sim (3 s)",
    ...          "target": "input_length"}], "disparities": []}}
    >>> new = upgrade_v1(audit)
    >>> new["table_sections"], new["tables"]["metrics"][0]["input_seconds"]
    ({'metrics': None, 'disparities': 'disparities'}, 3.0)
    """
    tables = {}
    for name, records in audit["tables"].items():
        mixed = name.lower() == _MIXED_TABLE
        lengths = mixed and any(r.get("target") == _INPUT_LENGTH_TARGET for r in records)
        tables[name] = [_upgrade_record(r, mixed, lengths) for r in records]
    sections = {name: None if name.lower() == _MIXED_TABLE else section_of(name) for name in tables}
    return {**audit, **_data_vocabularies(audit), "tables": tables, "table_sections": sections}


def _data_vocabularies(audit: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``data`` with the vocabularies of ``settings`` or ``judge`` where it has none."""
    data = audit.get("data")
    data = data if isinstance(data, Mapping) else {}
    if "vocabularies" in data:
        return {}
    for where in ("settings", "judge"):
        block = audit.get(where)
        if isinstance(block, Mapping) and isinstance(block.get("vocabularies"), Mapping):
            return {"data": {**data, "vocabularies": block["vocabularies"]}}
    return {}
