"""The fairness report: the template context built from an audit, and `render_report`.

`build_context` runs named steps: route every audit table to its section (`_route_tables`),
the language-swap section, the disparities section (`_add_disparities`), the findings, then
the provenance and cards. Wording, sections, heatmaps, input length, findings and samples
live in their own modules; `reports._render.write_page` writes the page.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reports import _text
from reports._findings import collect_findings, finding_rank, held_back_reason
from reports._heatmaps import build_heatmaps, is_long_confusion, vocabularies
from reports._input_length import add_input_length, not_evaluated
from reports._language_swap import (
    LANGUAGE_SWAP_TABLE,
    add_language_pair_faces,
    fill_language_swap_section,
)
from reports._load import LoadedAudit, load_audit
from reports._render import render_template, safe_name, write_page  # noqa: F401
from reports._samples import samples
from reports._sections import (
    HEADLINE_METRICS,
    SECTION_TITLES,
    Section,
    TableSink,
    add_tables,
    disparity_figures,
    record_sections,
    split_by_metric,  # noqa: F401
)
from reports._summary import build_summary
from reports._tables import (
    DEFAULT_FOCUS,
    DisplayTable,
    build_table,
    check_focus,
    focus_label,
    has_flag,
)
from reports._wording import ci_label_of, error_control_text, key_values, subject

# The comparison modules import render_template, safe_name, split_by_metric and _key_values
# from here: re-exported from where they live now.
_key_values = key_values

__all__ = ["build_context", "render_report"]

#: Rows shown per table in the HTML; every row is in the CSV/JSON exports.
DEFAULT_MAX_ROWS = 400


def audit_focus(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[tuple[str, ...]]:
    """Focus intersections of the audit (its ``focus`` table), else `DEFAULT_FOCUS`."""
    questions = [str(q.get("question", "")) for q in tables.get("focus", [])]
    found = [tuple(q.split(" x ")) for q in questions if " x " in q]
    return found if found else [tuple(item) for item in DEFAULT_FOCUS]


@dataclass(kw_only=True)
class _Routed:
    """What routing the audit tables gave besides the sections' tables."""

    other: list[DisplayTable] = field(default_factory=list)
    gaps: list[tuple[str, int, Mapping[str, Any]]] = field(default_factory=list)
    skipped_heatmaps: list[str] = field(default_factory=list)
    heatmaps_outside: int = 0


def _route_table(
    loaded: LoadedAudit, name: str, sections: dict[str, Section], sink: TableSink, routed: _Routed
) -> None:
    """Add one audit table's records to their sections (or to "other tables")."""
    records = loaded.tables[name]
    whole = sink.export(name, records)
    table_section = loaded.table_sections.get(name)
    if table_section == "summary":
        return  # rendered by the executive summary; exported like every table
    if table_section == "confusion" and is_long_confusion(records):
        # the heatmaps show every cell (rate and n); the long table is in the exports
        maps, skipped, outside = build_heatmaps(
            records, vocabularies(loaded), source=name, focus=sink.focus
        )
        sections["confusion"].heatmaps.extend(maps)
        routed.skipped_heatmaps += skipped
        routed.heatmaps_outside += outside
        return
    shown: set[int] = set()  # records shown in a section (not under "other tables")
    for sid, idx in record_sections(name, records, table_section).items():
        recs = [records[i] for i in idx]
        if sid not in sections:
            export = whole if len(idx) == len(records) else sink.export(name, recs)
            routed.other.append(
                build_table(
                    export, recs, max_rows=sink.max_rows, indices=idx, source=name, focus=sink.focus
                )
            )
            continue
        if sid == "input_length" and table_section is None:
            add_input_length(sections[sid], sink, name, recs, idx)
        else:
            add_tables(sections[sid], sink, name, recs, idx, whole=(whole, len(records)))
        shown.update(idx)
    # gaps in the order of the audit table (the rank of tied findings keeps it)
    routed.gaps += [(name, i, r) for i, r in enumerate(records) if i in shown and "difference" in r]


def _with_sources(table: DisplayTable, sources: Sequence[str]) -> DisplayTable:
    """Return ``table`` with each row's source table set (for a table mixing sources)."""
    rows = tuple(replace(row, source=src) for row, src in zip(table.rows, sources, strict=False))
    return replace(table, rows=rows, source="")


def _add_disparities(
    loaded: LoadedAudit, section: Section, sink: TableSink, gaps: Sequence[tuple]
) -> None:
    """Forest plots of the headline gaps and the table of every gap flagged significant."""
    disparity_tables = {n for n, sid in loaded.table_sections.items() if sid == "disparities"}
    headline = [
        (name, r)
        for name, _, r in gaps
        if r.get("metric") in HEADLINE_METRICS or name in disparity_tables
    ]
    section.figures.extend(disparity_figures(headline))
    significant = sorted(
        (item for item in gaps if has_flag(item[2], "significant")),
        key=lambda item: finding_rank(item[2]),
    )
    if significant:
        export = sink.export(
            "significant_gaps",
            [
                {"table": n, "row": i, **r, "not_a_finding": held_back_reason(r)}
                for n, i, r in significant
            ],
        )
        table = build_table(
            export,
            [{**r, "not_a_finding": held_back_reason(r)} for _, _, r in significant],
            max_rows=sink.max_rows,
            indices=[i for _, i, _ in significant],
            caption="Every gap flagged significant, smallest adjusted p first (then largest "
            "|difference|); the last column says why a "
            "gap is not a finding (insufficient data, or a statistic that needs several true "
            "classes in a group defined by the judged attribute)",
        )
        section.tables.insert(0, _with_sources(table, [n for n, _, _ in significant]))
    if gaps and not significant:
        section.note = (
            "No gap was flagged significant in this audit. Each group's difference from its "
            "reference, with its interval and adjusted p-value, is in the tables of the "
            "sections above and below."
        )


def _insufficient(loaded: LoadedAudit) -> list[tuple[str, Any]]:
    """List the groups empty or below the minimum size in some table (confusion aside)."""
    found: dict[str, Any] = {}
    for name, records in loaded.tables.items():
        if loaded.table_sections.get(name) == "confusion":
            continue  # its flags are per true-label row of a group, listed in the heatmaps
        for record in records:
            if has_flag(record, "insufficient_data") or has_flag(record, "empty"):
                found.setdefault(
                    subject(record), (record.get("n_utterances"), record.get("n_speakers"))
                )
    return list(found.items())


def _cards(loaded: LoadedAudit, sections: Mapping[str, Section]) -> dict[str, Any]:
    """Model card, data card and the fixed prose of the report."""
    model = loaded.section("model")
    # a finished run's step counter is that of its last stage ("done", step 0): not shown
    hidden = {"config"} | ({"training_step"} if model.get("finished") is True else set())
    return {
        "model_card": {
            "intended_use": _text.INTENDED_USE,
            "out_of_scope": _text.OUT_OF_SCOPE,
            "fields": key_values({k: v for k, v in model.items() if k not in hidden}),
            # an audit of a run that stopped early (allowed only on request) says so first
            "unfinished": model.get("finished") is False,
            "config": key_values(model.get("config", {}) or {}),
            "metrics": [s.title for s in sections.values() if s.measured],
        },
        "data_card": key_values(loaded.section("data")),
        "limitations": _text.LIMITATIONS,
        "definitions": _text.DEFINITIONS,
    }


def _provenance(loaded: LoadedAudit, ci_label: str) -> dict[str, Any]:
    """Title-block fields: model, data, tool, settings, seed and commands."""
    audit, settings, tool = loaded.audit, loaded.section("settings"), loaded.section("tool")
    return {
        "audit": audit,
        "model": loaded.section("model"),
        "data": loaded.section("data"),
        "tool": tool,
        "settings": key_values(settings),
        "ci_label": ci_label,
        "error_control": error_control_text(settings, ci_label),
        "seed": audit.get("seed", "—"),
        "created": audit.get("created", "—"),
        "audit_command": audit.get("command", "—"),
        "packages": key_values(tool.get("packages", {}) if isinstance(tool, Mapping) else {}),
    }


def build_context(
    loaded: LoadedAudit,
    *,
    include_faces: bool = False,
    title: str | None = None,
    command: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    focus: Sequence[Sequence[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Return the template context and the tables to export (name -> records)."""
    focus = audit_focus(loaded.tables) if focus is None else focus
    check_focus(focus)
    sink = TableSink(max_rows=max_rows, focus=[tuple(item) for item in focus])
    settings, model = loaded.section("settings"), loaded.section("model")
    ci_label = ci_label_of(settings)
    sections = {
        sid: Section(id=sid, title=t, intro=_text.SECTION_INTROS.get(sid, ""))
        for sid, t in SECTION_TITLES
    }
    routed = _Routed()
    for name in loaded.tables:
        _route_table(loaded, name, sections, sink, routed)
    if LANGUAGE_SWAP_TABLE in loaded.tables:  # answer, figure and a compact view
        fill_language_swap_section(
            sections["language_swap"],
            loaded.tables[LANGUAGE_SWAP_TABLE],
            sink.exports,
            sink.unique,
            max_rows,
        )
        add_language_pair_faces(sections["language_swap"], loaded, include_faces)
    _add_disparities(loaded, sections["disparities"], sink, routed.gaps)
    if not sections["input_length"].measured:
        sections["input_length"].not_measured = not_evaluated(model, settings)
    findings, held = collect_findings(loaded.tables, ci_label)
    sink.exports["findings"] = [
        {"rank": i + 1, "table": f.table, "row": f.index, "text": f.text}
        for i, f in enumerate(findings)
    ]
    sink.exports["settings"] = [{"setting": k, "value": v} for k, v in key_values(settings)]
    insufficient = _insufficient(loaded)
    context = {
        "title": title or f"Fairness audit: {model.get('name', 'unnamed model')}",
        **_provenance(loaded, ci_label),
        "executive": build_summary(loaded.tables, model, loaded.section("data"), ci_label),
        "report_command": command,
        "findings": findings,
        "held": held,
        "insufficient": insufficient,
        "insufficient_shown": insufficient[:60],
        "skipped_heatmaps": routed.skipped_heatmaps,
        "heatmaps_outside": routed.heatmaps_outside,
        "focus": focus_label(sink.focus) or "none",
        "sections": list(sections.values()),
        "other_tables": routed.other,
        "samples": samples(loaded, include_faces),
        **_cards(loaded, sections),
        "files_dir": None,
    }
    return context, sink.exports


def render_report(
    audit: dict[str, Any] | str | os.PathLike[str],
    out_html: str | os.PathLike[str],
    *,
    include_faces: bool = False,
    pdf: bool = False,
    title: str | None = None,
    command: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    focus: Sequence[Sequence[str]] | None = None,
) -> Path:
    """Render a self-contained HTML fairness report from an audit.

    The HTML has inline CSS and figures as data URIs, no scripts and no external references;
    every table shown is also written as CSV and JSON to ``<out stem>_files/`` beside it.
    Each table shows the overall row, the single-attribute groups, the ``focus``
    intersections and the rows of other intersections flagged significant; a note under the
    table counts the rows left out, which are in its export.

    Parameters
    ----------
    audit : dict or path-like
        The audit object or the path of its audit.json.
    out_html : path-like
        Output HTML file.
    include_faces : bool
        Show sample faces for real (non built-in) data; built-in population faces are always
        shown when the audit lists samples.
    pdf : bool
        Also print the report to ``<out stem>.pdf`` with headless Chromium.
    title : str or None
        Report title (default: from the model name).
    command : str or None
        Command line that rendered the report, shown in the title block.
    max_rows : int
        Rows shown per table in the HTML at most (all rows are in the exports).
    focus : sequence of tuple of str
        Intersections whose every group is shown (empty and insufficient groups included),
        e.g. ``[("language", "ethnicity"), ("gender", "age_group")]``; default (None) the
        audit's focus questions (its ``focus`` table; language x ethnicity and gender x age
        group unless the audit named others), or language x ethnicity for audits without
        one. ``()`` shows no intersection except those flagged significant.

    Returns
    -------
    Path
        The HTML path.

    Raises
    ------
    ValueError
        If ``focus`` is not a sequence of tuples of two or more attribute names.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> audit = {"schema_version": 1, "tables": {}}
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> render_report(audit, out).name
    'report.html'
    """
    if focus is not None:
        check_focus(focus)
    loaded = load_audit(audit)
    context, exports = build_context(
        loaded,
        include_faces=include_faces,
        title=title,
        command=command,
        max_rows=max_rows,
        focus=focus,
    )
    return write_page(out_html, "report.html.j2", context, exports, pdf=pdf)
