"""Turn audit records into display tables (cells with text and exact values) and exports.

Nothing here computes a statistic: values are shown as audit wrote them, only formatted.
Every numeric cell keeps the exact value in a ``data-value`` attribute so tests (and readers
with a parser) can check the HTML against audit.json.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_FOCUS",
    "Cell",
    "DisplayTable",
    "build_table",
    "check_focus",
    "export_table",
    "fmt_number",
    "group_label",
    "has_flag",
    "row_category",
]

#: Intersections shown in full in the HTML by default: language x ethnicity, where the paper
#: found its gap (English-speaking Asian speakers). Other intersections show only their rows
#: flagged ``significant*``; every row is in the exports.
DEFAULT_FOCUS: tuple[tuple[str, ...], ...] = (("language", "ethnicity"),)

#: Text of an estimate the audit flagged ``degenerate_ci``: a value with no interval because
#: the data show no spread (e.g. every utterance agrees).
NO_INTERVAL = "no interval: no spread in the data"

#: Flags that mean a row must never be presented as a finding.
NOT_A_FINDING = frozenset({"insufficient_data", "empty"})

#: Known columns in display order; unknown columns follow in record order.
_LEADING = (
    "metric",
    "target",
    "label",
    "task",
    "measure",
    "attribute",
    "group",
    "true_label",
    "predicted_label",
    "pred_label",
    "gallery_size",
    "chance",
    "k",
    "n_utterances",
    "n_speakers",
    "n",
    "count",
)
#: (point, low, high) columns shown together as "value [low, high]".
_ESTIMATES = (
    ("value", "ci_low", "ci_high"),
    ("value_a", "ci_low_a", "ci_high_a"),
    ("value_b", "ci_low_b", "ci_high_b"),
    ("difference", "diff_ci_low", "diff_ci_high"),
    ("ratio", "ratio_ci_low", "ratio_ci_high"),
    ("difference_a", "diff_ci_low_a", "diff_ci_high_a"),
    ("difference_b", "diff_ci_low_b", "diff_ci_high_b"),
    ("change", "change_ci_low", "change_ci_high"),
)
_COUNT_COLUMNS = frozenset({"gallery_size", "n", "count", "k", "n_utterances", "n_speakers"})
_TRAILING = (
    "reference",
    "reference_value",
    "p_value",
    "p_adjusted",
    "mdd",
    "flags",
    "not_a_finding",
)
_HEADERS = {
    "n_utterances": "n utt.",
    "n_speakers": "n spk.",
    "value": "value [CI]",
    "difference": "difference [CI]",
    "ratio": "ratio [CI]",
    "p_value": "p",
    "p_adjusted": "p adj.",
    "gallery_size": "gallery",
    "true_label": "true",
    "value_a": "A",
    "value_b": "B",
    "difference_a": "A gap [CI]",
    "difference_b": "B gap [CI]",
    "difference_b_minus_a": "B − A (unpaired)",
    "disparity_a": "gap A",
    "disparity_b": "gap B",
    "change": "change in |gap| [CI]",
    "predicted_label": "predicted",
    "pred_label": "predicted",
    "reference_value": "reference value",
    "mdd": "min. detectable |gap|",
}


@dataclass(frozen=True)
class Cell:
    """One table cell.

    Attributes
    ----------
    column : str
        Record key the cell shows (``data-col``).
    text : str
        Displayed text.
    raw : str or None
        Exact value for ``data-value`` (``repr`` of floats, so it round-trips), or None.
    low, high : str or None
        Exact CI bounds for ``data-ci-low`` / ``data-ci-high`` when the cell is an estimate.
    flags : tuple of str
        Flags to show as badges (flags column only).
    """

    column: str
    text: str
    raw: str | None = None
    low: str | None = None
    high: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """A table row: its cells and its status (``insufficient``, ``empty``, ``significant``)."""

    cells: tuple[Cell, ...]
    status: tuple[str, ...] = ()
    index: int = 0
    source: str = ""


@dataclass(frozen=True)
class DisplayTable:
    """A table ready for the template, plus the records it came from (for exports).

    ``source`` names the audit table the rows come from and each row's ``index`` is the
    record's position in it, so every HTML row can be traced back to audit.json.
    """

    name: str
    headers: tuple[tuple[str, str], ...]  # (column key, header text)
    rows: tuple[Row, ...]
    records: tuple[dict[str, Any], ...] = field(repr=False)
    truncated: int = 0  # rows left out of the HTML by ``max_rows`` (all are in the exports)
    source: str = ""
    caption: str = ""
    unfocused: int = 0  # intersection rows outside the focus, not flagged significant
    focus_text: str = ""  # the focus intersections, for the note under the table

    @property
    def not_shown(self) -> int:
        """Rows of the table left out of the HTML (every one is in the exports)."""
        return self.truncated + self.unfocused

    @property
    def note(self) -> str:
        """One line saying how many rows are not shown, why, and which export holds them."""
        if not self.not_shown:
            return ""
        reasons = []
        if self.unfocused:
            outside = f" other than {self.focus_text}" if self.focus_text else ""
            reasons.append(f"{self.unfocused} of intersections{outside}, none flagged significant")
        if self.truncated:
            reasons.append(f"{self.truncated} past the first {len(self.rows)} rows shown")
        return (
            f"{self.not_shown} of {len(self.records)} rows are not shown here "
            f"({'; '.join(reasons)}); all rows are in {self.name}.csv / {self.name}.json."
        )


def has_flag(record: Mapping[str, Any], flag: str) -> bool:
    """Return whether ``record['flags']`` contains ``flag`` (flags may be a list or a string)."""
    return flag in _flags(record.get("flags"))


def _flags(value: Any) -> tuple[str, ...]:
    if type(value) is list:
        return tuple(value) if all(type(v) is str for v in value) else tuple(map(str, value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(part for part in value.replace(",", ";").split(";") if part)
    if isinstance(value, Iterable):
        return tuple(str(part) for part in value)
    return (str(value),)


def group_label(group: Any) -> str:
    """Return a readable label for a group (``{"language": "en"}`` -> ``language=en``).

    Examples
    --------
    >>> group_label({"ethnicity": "Asian", "language": "en"})
    'ethnicity=Asian × language=en'
    >>> group_label({})
    'all'
    """
    if isinstance(group, Mapping):
        if not group:
            return "all"
        return " × ".join(f"{key}={_plain(value)}" for key, value in group.items())
    if group is None:
        return "all"
    return _plain(group)


def _plain(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _present(value: Any) -> bool:
    return _is_number(value) and not (isinstance(value, float) and math.isnan(value))


def fmt_number(value: Any, column: str = "") -> str:
    """Format a number for display; None and NaN show as an em dash (never as 0).

    Examples
    --------
    >>> fmt_number(0.123456), fmt_number(float("nan")), fmt_number(12), fmt_number(0.0004, "p")
    ('0.123', '—', '12', '<0.001')
    """
    kind = type(value)
    if kind is int:
        return str(value)
    if value is None or (kind is float and value != value):
        return "—"
    if kind is not float:
        if not _is_number(value):
            return str(value)
        if isinstance(value, int):
            return str(value)
        if math.isnan(value):
            return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if column.startswith("p") and 0 <= value < 0.001:
        return "<0.001"
    if value != 0 and abs(value) < 0.001:
        return f"{value:.1e}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3f}"


def _raw(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    if _is_number(value):
        return str(value)
    return None


def _column_order(
    records: Sequence[Mapping[str, Any]],
    hidden: Iterable[str],
    triples: Sequence[tuple[str, str, str]] = _ESTIMATES,
) -> list[str]:
    present: dict[str, None] = {}
    for record in records:
        for key in record:
            present.setdefault(key, None)
    hidden = set(hidden)
    estimate_parts = {part for triple in triples for part in triple[1:]}
    estimate_heads = {triple[0] for triple in triples}
    keys = [k for k in present if k not in hidden and k not in estimate_parts]

    def non_empty(key: str) -> bool:
        for record in records:
            value = record.get(key)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if key == "flags" and not _flags(value):
                continue
            return True
        return key in {"value", "n_utterances", "n"}  # keep n and value even when all missing

    ordered = [k for k in _LEADING if k in keys]
    ordered += [k for k in keys if k not in _LEADING and k not in _TRAILING]
    ordered += [k for k in _TRAILING if k in keys and k not in estimate_heads]
    # estimates go right after the counts / leading columns
    insert_at = max((ordered.index(k) + 1 for k in _LEADING if k in ordered), default=0)
    estimates = [t[0] for t in triples if t[0] in present and t[0] not in hidden]
    for offset, head in enumerate(estimates):
        if head in ordered:
            ordered.remove(head)
        ordered.insert(insert_at + offset, head)
    return [k for k in ordered if non_empty(k)]


_ESTIMATE_OF = {head: (low, high) for head, low, high in _ESTIMATES}
#: Columns kept in the exports but not shown as HTML columns: the standard error under the
#: null and the levels behind ``mdd`` and the simultaneous interval.
EXPORT_ONLY = ("null_se", "null_rate", "mdd_alpha", "sim_alpha")
#: Columns of the simultaneous interval of a difference (shown inside the difference cell).
_SIMULTANEOUS = ("diff_sim_low", "diff_sim_high", "sim_alpha")


def _cell(
    record: Mapping[str, Any],
    key: str,
    estimate_of: Mapping[str, tuple[str, str]] = _ESTIMATE_OF,
) -> Cell:
    value = record.get(key)
    kind = type(value)
    if key == "flags":
        flags = _flags(value)
        return Cell(key, ", ".join(flags), flags=flags)
    if key == "group":
        label = record.get("group_label")
        return Cell(key, label if type(label) is str else group_label(value))
    bounds = estimate_of.get(key)
    if key == "difference" and (
        _present(record.get("diff_sim_low")) or _present(record.get("diff_sim_high"))
    ):
        bounds = ("diff_sim_low", "diff_sim_high")
    if bounds is not None:
        low, high = record.get(bounds[0]), record.get(bounds[1])
        text = fmt_number(value, key)
        if _present(low) or _present(high):
            text = f"{text} [{fmt_number(low, key)}, {fmt_number(high, key)}]"
        elif _present(value) and has_flag(record, "degenerate_ci"):
            text = f"{text} ({NO_INTERVAL})"
        return Cell(key, text, _raw(value), _raw(low), _raw(high))
    if kind is str:
        return Cell(key, value)
    if kind is float or kind is int or _is_number(value):
        if key in _COUNT_COLUMNS and kind is float and value.is_integer():
            return Cell(key, str(int(value)), _raw(value))
        return Cell(key, fmt_number(value, key), _raw(value))
    if isinstance(value, Mapping):
        return Cell(key, group_label(value))
    if isinstance(value, list | tuple):
        return Cell(key, ", ".join(_plain(v) for v in value))
    return Cell(key, _plain(value) if value is not None else "—")


def row_status(record: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the display status of a record: ``empty``, ``insufficient``, ``significant``."""
    flags = _flags(record.get("flags"))
    status = []
    if "empty" in flags:
        status.append("empty")
    if "insufficient_data" in flags:
        status.append("insufficient")
    if record.get("not_a_finding"):
        status.append("heldback")
    elif "significant" in flags and not NOT_A_FINDING.intersection(flags):
        status.append("significant")
    return tuple(status)


def check_focus(focus: Iterable[Sequence[str]]) -> frozenset[frozenset[str]]:
    """Validate focus intersections and return them as sets of attribute names.

    Parameters
    ----------
    focus : iterable of sequence of str
        Intersections, each a tuple of at least two attribute names, e.g.
        ``[("language", "ethnicity")]``; the order of attributes within one does not matter.

    Returns
    -------
    frozenset of frozenset of str
        The intersections.

    Raises
    ------
    ValueError
        If ``focus`` is a string or holds something other than tuples of two or more names.

    Examples
    --------
    >>> sorted(sorted(f) for f in check_focus([("language", "ethnicity")]))
    [['ethnicity', 'language']]
    """
    if isinstance(focus, str):
        raise ValueError(
            f"focus must be a sequence of attribute tuples such as [('language', 'ethnicity')], "
            f"got the string {focus!r}"
        )
    out = []
    for item in focus:
        if isinstance(item, str) or not all(isinstance(a, str) for a in item):
            raise ValueError(
                f"focus must be a sequence of attribute tuples such as "
                f"[('language', 'ethnicity')]; got the item {item!r}"
            )
        if len(set(item)) < 2:
            raise ValueError(
                f"a focus intersection needs two or more different attributes, got {tuple(item)!r}"
                " (single attributes are always shown)"
            )
        out.append(frozenset(item))
    return frozenset(out)


def focus_label(focus: Iterable[Sequence[str]]) -> str:
    """Readable list of focus intersections (``language × ethnicity``)."""
    return ", ".join(" × ".join(item) for item in focus)


def _attributes(record: Mapping[str, Any]) -> frozenset[str] | None:
    """Attributes defining a record's group, or None for a record without a group."""
    group = record.get("group")
    if isinstance(group, Mapping):
        return frozenset(map(str, group))
    attribute = record.get("attribute")
    if isinstance(attribute, str):
        if attribute == "overall":
            return frozenset()
        return frozenset(a.strip() for a in attribute.replace("×", " x ").split(" x "))
    return None


#: Comparison flags of a gap that changed significantly (audit.compare_audits).
_MOVED = frozenset({"grew", "shrank"})
#: ``gap_status`` of an unpaired comparison row whose gap was significant in A or B.
_GAP_SIGNIFICANT = frozenset({"opened", "closed", "persists"})
#: Row categories in display order (see `row_category`).
OVERALL, SINGLE, FOCUS, SIGNIFICANT, OTHER = range(5)


def row_category(record: Mapping[str, Any], focus: frozenset[frozenset[str]]) -> int:
    """Return where a record goes in a display table (smaller first; ``OTHER`` not shown).

    ``OVERALL`` (also records without a group), ``SINGLE`` (one attribute), ``FOCUS`` (an
    intersection in ``focus``), ``SIGNIFICANT`` (another intersection with a flag starting
    with ``significant``; in a comparison also a gap that ``grew`` or ``shrank``, or whose
    ``gap_status`` is ``opened``, ``closed`` or ``persists``) or ``OTHER`` (another
    intersection: exports only).

    Examples
    --------
    >>> focus = check_focus([("language", "ethnicity")])
    >>> row_category({"group": {"ethnicity": "Asian", "language": "en"}}, focus)
    2
    >>> row_category({"group": {"accent": "x", "gender": "f"}, "flags": []}, focus)
    4
    """
    attributes = _attributes(record)
    if not attributes:
        return OVERALL
    if len(attributes) == 1:
        return SINGLE
    if attributes in focus:
        return FOCUS
    if any(f.startswith("significant") or f in _MOVED for f in _flags(record.get("flags"))):
        return SIGNIFICANT
    if record.get("gap_status") in _GAP_SIGNIFICANT:
        return SIGNIFICANT
    return OTHER


def build_table(
    name: str,
    records: Sequence[Mapping[str, Any]],
    *,
    hidden: Iterable[str] = (),
    max_rows: int | None = None,
    indices: Sequence[int] | None = None,
    source: str = "",
    caption: str = "",
    estimates: Sequence[tuple[str, str, str]] = (),
    headers: Mapping[str, str] | None = None,
    focus: Iterable[Sequence[str]] | None = None,
) -> DisplayTable:
    """Build a display table from records.

    Parameters
    ----------
    name : str
        Table name (used for ids, ``data-table`` and export file names).
    records : sequence of mapping
        The audit's records.
    hidden : iterable of str
        Keys not shown as columns (still exported).
    max_rows : int or None
        Show at most this many rows in the HTML (the exports keep all of them).
    indices : sequence of int or None
        Position of each record in its audit table (default: 0, 1, ...).
    source : str
        Name of the audit table the records come from (default: ``name``).
    caption : str
        Text shown above the table.
    estimates : sequence of (str, str, str)
        Further (point, low, high) columns shown together as "value [low, high]".
    headers : mapping of str to str, optional
        Header text of columns, overriding the defaults.
    focus : iterable of sequence of str, or None
        None shows every record in the given order. Otherwise the rows shown are, in this
        order: the overall rows (and records without a group), the single-attribute groups,
        the intersections in ``focus``, then rows of other intersections flagged
        ``significant*``; the other rows are only counted (``unfocused``). A table holding
        only intersections (no overall or single-attribute row, e.g. pitch by F0 bin x
        gender) is shown whole.

    Returns
    -------
    DisplayTable
        Headers, rows and the source records.
    """
    hidden = set(hidden) | set(EXPORT_ONLY)
    if any("group" in r for r in records):
        # the group column shows the audit's own label, which names the attributes
        hidden.update(("group_label", "attribute"))
    positions = list(indices) if indices is not None else list(range(len(records)))
    if len(positions) != len(records):
        raise ValueError(f"table {name!r}: {len(positions)} indices for {len(records)} records")
    order = list(range(len(records)))
    unfocused = 0
    if focus is not None:
        wanted = check_focus(focus)
        categories = [row_category(r, wanted) for r in records]
        if any(c <= SINGLE for c in categories):
            order = sorted((i for i in order if categories[i] != OTHER), key=categories.__getitem__)
            unfocused = len(records) - len(order)
    shown = order if max_rows is None else order[:max_rows]
    chosen = [records[i] for i in shown]
    triples = (*_ESTIMATES, *estimates)
    estimate_of = {head: (low, high) for head, low, high in triples}
    if any(_present(r.get("diff_sim_low")) for r in chosen):
        # tested differences show their family's simultaneous interval (audit.json
        # diff_sim_*), which excludes 0 exactly when p_adjusted < alpha; the unadjusted
        # interval (diff_ci_*) stays in the exports
        hidden.update(_SIMULTANEOUS)
        headers = {"difference": "difference [simultaneous CI]", **(headers or {})}
    columns = _column_order(chosen if chosen else records, hidden, triples)
    names = {**_HEADERS, **(headers or {})}
    headers_out = tuple((key, names.get(key, key.replace("_", " "))) for key in columns)
    rows = tuple(
        Row(
            tuple(_cell(record, key, estimate_of) for key in columns),
            row_status(record),
            positions[i],
        )
        for i, record in zip(shown, chosen, strict=True)
    )
    return DisplayTable(
        name,
        headers_out,
        rows,
        tuple(records),
        len(order) - len(shown),
        source or name,
        caption,
        unfocused,
        focus_label(focus) if focus is not None else "",
    )


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
        return "; ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ";".join(_plain(v) for v in value)
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
