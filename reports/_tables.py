"""Turn audit records into display tables: cells with their text and exact values.

Nothing here computes a statistic: values are shown as audit wrote them, only formatted.
Every numeric cell keeps the exact value in a ``data-value`` attribute so tests (and readers
with a parser) can check the HTML against audit.json. Formatting lives in
`reports._format`, the choice of rows in `reports._focus`, the exports in `reports._export`
(their names are re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from reports._export import export_table
from reports._focus import (
    DEFAULT_FOCUS,
    OTHER,
    SINGLE,
    check_focus,
    focus_label,
    row_category,
)
from reports._format import (
    flags_of,
    fmt_number,
    group_label,
    has_flag,
    is_number,
    plain,
    present,
    raw_value,
)
from reports._format import flags_of as _flags  # noqa: F401 (older name: the comparison)

__all__ = [
    "DEFAULT_FOCUS",
    "RECORD_KEYS",
    "Cell",
    "DisplayTable",
    "build_table",
    "check_focus",
    "export_table",
    "fmt_number",
    "focus_label",
    "group_label",
    "has_flag",
    "row_category",
]

#: Text of an estimate the audit flagged ``degenerate_ci``: a value with no interval because
#: the data show no spread (e.g. every utterance agrees).
NO_INTERVAL = "no interval: no spread in the data"

#: Flags that mean a row must never be presented as a finding.
NOT_A_FINDING = frozenset({"insufficient_data", "empty"})
#: Keys that say what a record is (audit.json schema 2): exported, never shown as columns.
RECORD_KEYS = (
    "section",
    "base_metric",
    "input_seconds",
    "baseline_seconds",
    "finding",
    "held_back_reason",
)
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


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
class Row:
    """A table row: its cells and its status (``insufficient``, ``empty``, ``significant``)."""

    cells: tuple[Cell, ...]
    status: tuple[str, ...] = ()
    index: int = 0
    source: str = ""


@dataclass(frozen=True, kw_only=True)
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
            if key == "flags" and not flags_of(value):
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
        flags = flags_of(value)
        return Cell(column=key, text=", ".join(flags), flags=flags)
    if key == "group":
        label = record.get("group_label")
        return Cell(column=key, text=label if type(label) is str else group_label(value))
    bounds = estimate_of.get(key)
    if key == "difference" and (
        present(record.get("diff_sim_low")) or present(record.get("diff_sim_high"))
    ):
        bounds = ("diff_sim_low", "diff_sim_high")
    if bounds is not None:
        low, high = record.get(bounds[0]), record.get(bounds[1])
        text = fmt_number(value, key)
        if present(low) or present(high):
            text = f"{text} [{fmt_number(low, key)}, {fmt_number(high, key)}]"
        elif present(value) and has_flag(record, "degenerate_ci"):
            text = f"{text} ({NO_INTERVAL})"
        return Cell(
            column=key, text=text, raw=raw_value(value), low=raw_value(low), high=raw_value(high)
        )
    if kind is str:
        return Cell(column=key, text=value)
    if kind is float or kind is int or is_number(value):
        if key in _COUNT_COLUMNS and kind is float and value.is_integer():
            return Cell(column=key, text=str(int(value)), raw=raw_value(value))
        return Cell(column=key, text=fmt_number(value, key), raw=raw_value(value))
    if isinstance(value, Mapping):
        return Cell(column=key, text=group_label(value))
    if isinstance(value, list | tuple):
        return Cell(column=key, text=", ".join(plain(v) for v in value))
    return Cell(column=key, text=plain(value) if value is not None else "—")


def row_status(record: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the display status of a record: ``empty``, ``insufficient``, ``significant``."""
    flags = flags_of(record.get("flags"))
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


class ColumnOptions(TypedDict, total=False):
    """Column choices of `build_table`.

    Attributes
    ----------
    hidden : iterable of str
        Keys not shown as columns (still exported).
    estimates : sequence of (str, str, str)
        Further (point, low, high) columns shown together as "value [low, high]".
    headers : mapping of str to str
        Header text of columns, overriding the defaults.
    """

    hidden: Iterable[str]
    estimates: Sequence[tuple[str, str, str]]
    headers: Mapping[str, str] | None


def _shown_order(
    records: Sequence[Mapping[str, Any]], focus: Iterable[Sequence[str]] | None
) -> tuple[list[int], int]:
    """Positions of the records to show, in display order, and the count left out by focus."""
    order = list(range(len(records)))
    if focus is None:
        return order, 0
    wanted = check_focus(focus)
    categories = [row_category(r, wanted) for r in records]
    if not any(c <= SINGLE for c in categories):
        return order, 0  # only intersections (e.g. pitch by F0 bin x gender): shown whole
    order = sorted((i for i in order if categories[i] != OTHER), key=categories.__getitem__)
    return order, len(records) - len(order)


def _columns(
    records: Sequence[Mapping[str, Any]],
    chosen: Sequence[Mapping[str, Any]],
    options: ColumnOptions,
) -> tuple[list[str], dict[str, tuple[str, str]], tuple[tuple[str, str], ...]]:
    """Columns to show, the (low, high) keys of each estimate column, and the headers."""
    hidden = set(options.get("hidden", ())) | set(EXPORT_ONLY) | set(RECORD_KEYS)
    if any("group" in r for r in records):
        # the group column shows the audit's own label, which names the attributes
        hidden.update(("group_label", "attribute"))
    headers = dict(options.get("headers") or {})
    triples = (*_ESTIMATES, *options.get("estimates", ()))
    estimate_of = {head: (low, high) for head, low, high in triples}
    if any(present(r.get("diff_sim_low")) for r in chosen):
        # tested differences show their family's simultaneous interval (audit.json
        # diff_sim_*), which excludes 0 exactly when p_adjusted < alpha; the unadjusted
        # interval (diff_ci_*) stays in the exports
        hidden.update(_SIMULTANEOUS)
        headers = {"difference": "difference [simultaneous CI]", **headers}
    columns = _column_order(chosen if chosen else records, hidden, triples)
    names = {**_HEADERS, **headers}
    head = tuple((key, names.get(key, key.replace("_", " "))) for key in columns)
    return columns, estimate_of, head


def build_table(
    name: str,
    records: Sequence[Mapping[str, Any]],
    *,
    max_rows: int | None = None,
    indices: Sequence[int] | None = None,
    source: str = "",
    caption: str = "",
    focus: Iterable[Sequence[str]] | None = None,
    **columns: Unpack[ColumnOptions],
) -> DisplayTable:
    """Build a display table from records.

    Parameters
    ----------
    name : str
        Table name (used for ids, ``data-table`` and export file names).
    records : sequence of mapping
        The audit's records.
    max_rows : int or None
        Show at most this many rows in the HTML (the exports keep all of them).
    indices : sequence of int or None
        Position of each record in its audit table (default: 0, 1, ...).
    source : str
        Name of the audit table the records come from (default: ``name``).
    caption : str
        Text shown above the table.
    focus : iterable of sequence of str, or None
        None shows every record in the given order. Otherwise the rows shown are, in this
        order: the overall rows (and records without a group), the single-attribute groups,
        the intersections in ``focus``, then rows of other intersections flagged
        ``significant*``; the other rows are only counted (``unfocused``). A table holding
        only intersections (no overall or single-attribute row, e.g. pitch by F0 bin x
        gender) is shown whole.
    **columns
        `ColumnOptions`: ``hidden`` keys, further ``estimates`` and ``headers``. The keys
        that say what a record is (`RECORD_KEYS`) are never shown.

    Returns
    -------
    DisplayTable
        Headers, rows and the source records.
    """
    positions = list(indices) if indices is not None else list(range(len(records)))
    if len(positions) != len(records):
        raise ValueError(f"table {name!r}: {len(positions)} indices for {len(records)} records")
    order, unfocused = _shown_order(records, focus)
    shown = order if max_rows is None else order[:max_rows]
    chosen = [records[i] for i in shown]
    keys, estimate_of, headers = _columns(records, chosen, columns)
    rows = tuple(
        Row(
            cells=tuple(_cell(record, key, estimate_of) for key in keys),
            status=row_status(record),
            index=positions[i],
        )
        for i, record in zip(shown, chosen, strict=True)
    )
    return DisplayTable(
        name=name,
        headers=headers,
        rows=rows,
        records=tuple(records),
        truncated=len(order) - len(shown),
        source=source or name,
        caption=caption,
        unfocused=unfocused,
        focus_text=focus_label(focus) if focus is not None else "",
    )
