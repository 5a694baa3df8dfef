"""Report sections: their titles, the tables routed to them, and the disparity plots.

Routing reads exact keys only: audit.json's ``table_sections`` names the section of a
table, and a record of a table without one (``metrics``) names its own ``section``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reports._figures import forest_plot
from reports._heatmaps import Heatmap
from reports._render import safe_name
from reports._tables import RECORD_KEYS, DisplayTable, build_table, has_flag
from reports._wording import finite, metric_name, subject

__all__ = [
    "FOREST_MAX_ROWS",
    "HEADLINE_METRICS",
    "RECORD_KEYS",
    "SECTION_TITLES",
    "Section",
    "TableSink",
    "add_tables",
    "disparity_figures",
    "record_sections",
    "split_by_metric",
]

#: Report sections fed by audit tables, in display order: (section id, title).
SECTION_TITLES: tuple[tuple[str, str], ...] = (
    ("composition", "Population composition and coverage"),
    ("confusion", "Attribute confusion"),
    ("agreement", "Attribute agreement"),
    ("disparities", "Disparities"),
    ("language_swap", "Does the language spoken change the face?"),
    ("retrieval", "Retrieval"),
    ("similarity", "Feature similarity"),
    ("input_length", "Input length"),
    ("craniofacial", "Craniofacial measures"),
    ("pitch", "Pitch analysis"),
    ("calibration", "Judge calibration"),
)
#: The section of tables rendered by the executive summary (and exported).
SUMMARY_SECTION = "summary"
#: Rows drawn per forest plot.
FOREST_MAX_ROWS = 40
#: Metrics whose gaps get a forest plot in the disparities section.
HEADLINE_METRICS = ("agreement", "recall@1", "cos_sim", "cosine", "predicted_rate")


@dataclass(kw_only=True)
class Section:
    """A report section fed by audit tables."""

    id: str
    title: str
    intro: str
    tables: list[DisplayTable] = field(default_factory=list)
    figures: list[dict[str, str]] = field(default_factory=list)
    heatmaps: list[Heatmap] = field(default_factory=list)
    note: str = ""
    not_measured: str = "Not measured in this audit."
    faces: list[dict[str, Any]] = field(default_factory=list)  # sample faces (label, images)

    @property
    def measured(self) -> bool:
        """Whether the audit had any table for this section."""
        return bool(self.tables or self.heatmaps or self.figures or self.note)


@dataclass(kw_only=True)
class TableSink:
    """Where the tables of a report go: the exports (name -> records) and display settings.

    Attributes
    ----------
    exports : dict
        Export name -> records, each written as ``<name>.csv`` / ``.json``.
    max_rows : int
        Rows shown per table in the HTML.
    focus : list of tuple of str
        Focus intersections (see `reports._tables.build_table`).
    """

    exports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    max_rows: int
    focus: list[tuple[str, ...]]
    used: set[str] = field(default_factory=set)

    def unique(self, name: str) -> str:
        """Return a file-safe export name not used before (``_`` appended on a clash)."""
        name = safe_name(name)
        while name in self.used:
            name += "_"
        self.used.add(name)
        return name

    def export(self, name: str, records: Sequence[Mapping[str, Any]]) -> str:
        """Add an export under a unique name made from ``name``; return that name."""
        unique = self.unique(name)
        self.exports[unique] = list(records)
        return unique


def record_sections(
    name: str, records: Sequence[Mapping[str, Any]], table_section: str | None
) -> dict[str | None, list[int]]:
    """Positions of a table's records per section (None: "other tables").

    A table with a ``table_section`` belongs to it whole; otherwise each record goes to its
    own ``section`` key, and records without one to "other tables".

    Examples
    --------
    >>> record_sections("metrics", [{"section": "retrieval"}, {"section": "agreement"}], None)
    {'retrieval': [0], 'agreement': [1]}
    >>> record_sections("groups", [{}, {}], "composition")
    {'composition': [0, 1]}
    >>> record_sections("errors", [], None)
    {None: []}
    """
    if table_section is not None:
        return {table_section: list(range(len(records)))}
    if not records:
        return {None: []}  # an empty table of no section is listed under "other tables"
    out: dict[str | None, list[int]] = {}
    for index, record in enumerate(records):
        section = record.get("section")
        out.setdefault(section if isinstance(section, str) else None, []).append(index)
    return out


def _metric_key(record: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return (record.get("metric"), record.get("target"), record.get("label"))


def split_by_metric(
    name: str, records: Sequence[Mapping[str, Any]], indices: Sequence[int]
) -> list[tuple[str, str, list[int], list[Mapping[str, Any]]]]:
    """Split records into one table per (metric, target, label).

    Returns
    -------
    list of (table name, caption, indices, records)
        ``indices`` are the records' positions in the audit table ``name``.
    """
    if not any("metric" in r for r in records):
        return [(safe_name(name), "", list(indices), list(records))]
    buckets: dict[tuple[Any, Any, Any], tuple[list[int], list[Mapping[str, Any]]]] = {}
    for index, record in zip(indices, records, strict=True):
        bucket = buckets.setdefault(_metric_key(record), ([], []))
        bucket[0].append(index)
        bucket[1].append(record)
    out = []
    for (metric, target, label), (idx, recs) in buckets.items():
        parts = [name] + [str(p) for p in (metric, target, label) if p is not None]
        if len(buckets) == 1:
            parts = [name]
        ids = ", ".join(
            f"{k} {v}"
            for k, v in (("metric", metric), ("target", target), ("label", label))
            if v is not None
        )
        caption = f"{metric_name(metric, target, label)} ({ids})"
        out.append((safe_name("__".join(parts)), caption, idx, recs))
    return out


def add_tables(
    section: Section,
    sink: TableSink,
    source: str,
    records: Sequence[Mapping[str, Any]],
    indices: Sequence[int],
    whole: tuple[str, int] | None = None,
) -> None:
    """Add the display tables of records of one audit table, one per metric, to a section.

    ``whole`` is (export name, number of records) of the complete audit table: a part that
    is the whole table is not exported again.
    """
    for sub, caption, idx, recs in split_by_metric(source, records, indices):
        if whole is not None and sub == safe_name(source) and len(recs) == whole[1]:
            export = whole[0]
        else:
            export = sink.export(sub, recs)
        hidden = ("metric", "target", "label") if caption else ()
        section.tables.append(
            build_table(
                export,
                recs,
                hidden=hidden,
                max_rows=sink.max_rows,
                indices=idx,
                source=source,
                caption=caption,
                focus=sink.focus,
            )
        )


def disparity_figures(
    items: Sequence[tuple[str, Mapping[str, Any]]], limit: int = 12
) -> list[dict[str, Any]]:
    """Forest plots of the gaps of headline metrics (one per metric, target and label)."""
    by_key: dict[tuple[Any, Any, Any], list[Mapping[str, Any]]] = {}
    for _, record in items:
        if has_flag(record, "empty") or not finite(record.get("difference")):
            continue
        by_key.setdefault(_metric_key(record), []).append(record)
    figures = []
    for (metric, target, label), all_rows in by_key.items():
        if len(figures) >= limit:
            break
        rows = all_rows[:FOREST_MAX_ROWS]
        shown = (
            ""
            if len(all_rows) <= FOREST_MAX_ROWS
            else f" (first {FOREST_MAX_ROWS} of {len(all_rows)} groups; all are in the tables)"
        )
        labels = [
            subject(r) + (" (insufficient data)" if has_flag(r, "insufficient_data") else "")
            for r in rows
        ]
        muted = [has_flag(r, "insufficient_data") for r in rows]
        what = metric_name(metric, target, label)
        # tested gaps carry their family's simultaneous interval, which agrees with the
        # adjusted p; untested ones (insufficient data) the unadjusted interval
        drawn = [
            {**r, "diff_ci_low": r["diff_sim_low"], "diff_ci_high": r["diff_sim_high"]}
            if finite(r.get("diff_sim_low"))
            else r
            for r in rows
        ]
        plot = forest_plot(labels, drawn, muted=muted, title=f"difference in {what}")
        if plot is not None:
            figures.append(
                {
                    "plot": plot,
                    "caption": f"{what}: difference from the reference with its simultaneous "
                    "interval (unadjusted for groups with insufficient data: hollow grey, "
                    "not a finding)" + shown,
                }
            )
    return figures
