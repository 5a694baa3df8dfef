"""Exports of the report: every table as CSV and JSON, records as audit wrote them."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports._format import plain

__all__ = ["export_table"]


def _csv_value(value: Any) -> str:
    kind = type(value)
    if value is None:
        return ""
    if kind is str:
        return value
    if kind is float:
        return "" if value != value else repr(value)  # NaN -> empty
    if kind is int:
        return str(value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ";".join(plain(v) for v in value)
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(float(value))
    return str(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False)  # one encoder for every line


def _json_line(record: Mapping[str, Any]) -> str:
    try:  # fast path: records of audit.json hold no NaN (written as null)
        return _JSON.encode(record)
    except (ValueError, TypeError):
        return _JSON.encode(_json_safe(record))


def _csv_row(record: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
    """Values of one CSV row; the csv module writes None as "" and floats with ``repr``."""
    row = [record.get(key) for key in columns]
    for i, value in enumerate(row):
        kind = type(value)
        if kind is str or kind is int or value is None:
            continue
        if kind is float:
            if value != value:
                row[i] = ""
            continue
        row[i] = _csv_value(value)
    return row


def export_table(
    folder: Path,
    name: str,
    records: Sequence[Mapping[str, Any]],
    cache: dict[int, tuple[Any, ...]] | None = None,
) -> tuple[Path, Path]:
    """Write ``<folder>/<name>.csv`` and ``<name>.json`` with every record of a table.

    The JSON holds the records as audit wrote them (NaN written as null); the CSV flattens a
    ``group`` mapping to ``key=value; key=value`` and ``flags`` to ``a;b``.

    Parameters
    ----------
    folder : Path
        Export folder (created if missing).
    name : str
        Table name, used as the file stem.
    records : sequence of mapping
        The records.
    cache : dict or None
        Reuse the JSON line and CSV row of a record already written by an earlier call with
        the same dict (keyed by ``id``; the records must outlive the cache, which holds them).

    Returns
    -------
    (Path, Path)
        The CSV and JSON paths.
    """
    folder.mkdir(parents=True, exist_ok=True)
    columns: dict[str, None] = {}
    for keys_of_record in dict.fromkeys(tuple(record) for record in records):
        for key in keys_of_record:
            columns.setdefault(str(key), None)
    keys = tuple(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    header = buffer.getvalue()
    csv_lines, json_lines = [header], []
    for record in records:
        hit = cache.get(id(record)) if cache is not None else None
        if hit is None or hit[0] is not record or hit[1] != keys:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(_csv_row(record, keys))
            json_line = hit[3] if hit is not None and hit[0] is record else _json_line(record)
            hit = (record, keys, buffer.getvalue(), json_line)
            if cache is not None:
                cache[id(record)] = hit
        csv_lines.append(hit[2])
        json_lines.append(hit[3])
    csv_path, json_path = folder / f"{name}.csv", folder / f"{name}.json"
    from s2f_data import atomic_write_text  # lazy: s2f_data imports pandas

    atomic_write_text(csv_path, "".join(csv_lines))
    text = "[\n" + ",\n".join(json_lines) + "\n]\n" if records else "[]\n"
    atomic_write_text(json_path, text)
    return csv_path, json_path
