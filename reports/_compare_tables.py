"""The comparison page's tables: exports, display tables in section order, gaps that moved.

Paired: the tables of the audit's comparison (`audit.compare_audits` or
`audit.compare_arm_audits`), each exported as ``paired_<name>`` and split by metric for
display. Unpaired: each table the two audits share, set side by side
(`reports._compare_unpaired.unpaired_comparison`). Nothing here computes a statistic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reports._compare_focus import moved_order
from reports._compare_unpaired import simultaneous_gaps, unpaired_comparison
from reports._load import LoadedAudit
from reports._report import safe_name, split_by_metric
from reports._tables import DisplayTable, build_table, check_focus, has_flag
from reports._v1 import comparison_section
from reports.exceptions import AuditFormatError

__all__ = ["ComparisonPage", "clean_records", "paired_tables", "unpaired_tables"]

#: Order of tables in a comparison: headline metrics first, then gaps, then the population.
_COMPARE_ORDER = (
    "agreement",
    "retrieval",
    "similarity",
    "craniofacial",
    "pitch",
    "calibration",
    "disparities",
    "composition",
    "confusion",
)
#: The change of a gap is shown with its family's simultaneous interval (audit.json
#: ``change_sim_*``), which excludes 0 exactly when ``p_adjusted < alpha``.
_SIMULTANEOUS_CHANGE = (("change", "change_sim_low", "change_sim_high"),)


def _order_of_section(section: str | None) -> int:
    return _COMPARE_ORDER.index(section) if section in _COMPARE_ORDER else len(_COMPARE_ORDER)


def _own_section(record: Mapping[str, Any]) -> str | None:
    """Return a record's ``section`` key (None: "other tables")."""
    section = record.get("section")
    return section if isinstance(section, str) else None


@dataclass(kw_only=True)
class ComparisonPage:
    """What the comparison page shows and exports, filled table by table.

    Attributes
    ----------
    focus : list of tuple of str
        Intersections whose every group is shown.
    max_rows : int
        Rows shown per table at most.
    exports : dict
        Export name -> records (every record, also those not shown).
    ranked : list
        ``(section order, insertion order, table)`` of the display tables.
    changes : dict
        ``opened`` / ``closed`` / ``persists``: records of gaps that moved.
    """

    focus: list[tuple[str, ...]]
    max_rows: int
    exports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ranked: list[tuple[int, int, DisplayTable]] = field(default_factory=list)
    changes: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"opened": [], "closed": [], "persists": []}
    )

    def add(
        self,
        export: str,
        records: list[dict[str, Any]],
        section: str | None,
        estimates: tuple[tuple[str, str, str], ...] = (),
        *,
        record_section: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> None:
        """Export ``records`` and add its display tables (one per metric when split).

        With ``record_section`` each part (one metric, target and label) is placed by the
        section that function reads from its first record, otherwise by ``section``.
        """
        self.exports[export] = records
        parts = split_by_metric(export, records, range(len(records)))
        for sub, caption, idx, recs in parts:
            if len(parts) > 1:
                self.exports[sub] = recs
            table = build_table(
                sub,
                recs,
                hidden=("metric", "target", "label") if caption else (),
                max_rows=self.max_rows,
                indices=idx,
                source=export,
                caption=caption,
                focus=self.focus,
                estimates=estimates,
                headers={
                    head: f"{head.replace('_', ' ')} [simultaneous CI]" for head, _, _ in estimates
                },
            )
            first = recs[0] if recs else {}
            where = record_section(first) if record_section is not None else section
            self.ranked.append((_order_of_section(where), len(self.ranked), table))

    def tables(self) -> list[DisplayTable]:
        """Display tables in section order (ties: the order they were added)."""
        return [table for _, _, table in sorted(self.ranked, key=lambda item: item[:2])]


def paired_tables(page: ComparisonPage, tables: Mapping[str, list[dict[str, Any]]]) -> None:
    """Add the comparison's tables; gaps that grew or shrank (focus first) to ``changes``."""
    for name, records in tables.items():
        page.add(
            "paired" if name == "paired" else f"paired_{safe_name(name)}",
            records,
            None,
            _SIMULTANEOUS_CHANGE if name == "disparity_change" else (),
            record_section=comparison_section,
        )
        for record in records:
            if has_flag(record, "insufficient_data") or has_flag(record, "empty"):
                continue
            if has_flag(record, "grew"):
                page.changes["opened"].append({"table": name, **record})
            elif has_flag(record, "shrank"):
                page.changes["closed"].append({"table": name, **record})
    wanted = check_focus(page.focus)
    for kind in ("opened", "closed"):
        page.changes[kind].sort(key=lambda r: moved_order(r, wanted))


def unpaired_tables(page: ComparisonPage, la: LoadedAudit, lb: LoadedAudit) -> None:
    """Add each table the audits share, side by side; gaps opened, closed or persisting.

    A table is placed by A's ``table_sections``; one without a section (``metrics``) by
    each record's own ``section``.
    """
    sections = la.table_sections
    for name in (n for n in la.tables if n in lb.tables):
        records = unpaired_comparison(la.tables[name], lb.tables[name])
        section = sections.get(name)
        page.add(
            f"unpaired_{safe_name(name)}",
            records,
            section,
            simultaneous_gaps(records),
            record_section=_own_section if section is None else None,
        )
        for record in records:
            if record["gap_status"] in page.changes:
                page.changes[record["gap_status"]].append({"table": name, **record})


def clean_records(frame_or_records: Any, name: str) -> list[dict[str, Any]]:
    """Return the records of one comparison table (a DataFrame or a list of mappings).

    NaN in label-like fields becomes None. Raises `reports.AuditFormatError` for anything
    else, naming the table.
    """
    if hasattr(frame_or_records, "to_dict") and hasattr(frame_or_records, "columns"):
        records: Sequence[Any] = frame_or_records.to_dict(orient="records")
    elif isinstance(frame_or_records, list) and all(
        isinstance(r, Mapping) for r in frame_or_records
    ):
        records = frame_or_records
    else:
        raise AuditFormatError(
            f"comparison table {name!r} is a {type(frame_or_records).__name__}; expected a "
            "DataFrame or a list of records"
        )
    return [_clean(r) for r in records]


def _clean(record: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for key in ("metric", "target", "label", "reference", "group_label"):
        value = out.get(key)
        if isinstance(value, float) and value != value:  # NaN
            out[key] = None
    return out
