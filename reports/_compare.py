"""Comparison report of two audits (or two arms of audits) of models on the same rows.

The renderer computes nothing: the paired comparison comes from the audit package
(`audit.paired_comparison`, `audit.compare_audits`, `audit.compare_arm_audits`), computed by
the caller (the command line, the demo, a notebook) and passed as ``comparison``. Without
it the audits' own tables are set side by side, labelled unpaired, with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports._compare_focus import focus_context
from reports._compare_seeds import seed_rows
from reports._compare_swap import swap_change_context
from reports._compare_tables import ComparisonPage, clean_records, paired_tables, unpaired_tables
from reports._load import LoadedAudit, load_audit
from reports._render import write_page
from reports._report import DEFAULT_MAX_ROWS, _key_values
from reports._tables import DEFAULT_FOCUS, check_focus
from reports.exceptions import AuditFormatError, IncompatibleAuditsError

__all__ = ["check_comparable", "render_comparison"]

AuditLike = dict[str, Any] | str | os.PathLike[str]
Tables = dict[str, list[dict[str, Any]]]

#: Why the page is unpaired when the caller passed no comparison.
NO_COMPARISON = (
    "no paired comparison was passed to the renderer: compute it with "
    "audit.paired_comparison and pass it as comparison="
)
#: Options of the tables' layout, as in `reports.render_report`.
_LAYOUT = frozenset({"max_rows", "focus"})


def _vocabularies(loaded: LoadedAudit) -> tuple[str, Any] | None:
    """Label vocabularies: recorded ones, else the labels of the confusion tables."""
    for where in ("data", "settings", "judge"):
        vocab = loaded.section(where).get("vocabularies")
        if vocab is not None:
            return where, vocab
    labels: dict[str, set[str]] = {}
    sections = loaded.table_sections
    for name, records in loaded.tables.items():
        if sections.get(name) != "confusion":
            continue
        for record in records:
            target = str(record.get("target", record.get("task", "")))
            for key in ("true_label", "pred_label", "predicted_label"):
                if key in record and record[key] is not None:
                    labels.setdefault(target, set()).add(str(record[key]))
    if not labels:
        return None
    return "confusion", {target: sorted(values) for target, values in sorted(labels.items())}


def check_comparable(a: LoadedAudit, b: LoadedAudit) -> None:
    """Raise :class:`IncompatibleAuditsError` unless two audits used the same rows and labels.

    The rows are identified by ``data.row_ids_sha256``; the label sets by the
    ``vocabularies`` mapping (under ``data``, ``settings`` or ``judge``).
    """
    rows_a = a.section("data").get("row_ids_sha256")
    rows_b = b.section("data").get("row_ids_sha256")
    if not rows_a or not rows_b:
        missing = a.source if not rows_a else b.source
        raise IncompatibleAuditsError(
            f"cannot compare: {missing} has no data.row_ids_sha256, so it cannot be shown that "
            "both audits evaluated the same rows"
        )
    if rows_a != rows_b:
        raise IncompatibleAuditsError(
            f"cannot compare: the audits were run on different evaluation rows "
            f"(data.row_ids_sha256 {rows_a} in {a.source} versus {rows_b} in {b.source}); "
            "audit both models on the same manifest and split"
        )
    vocab_a, vocab_b = _vocabularies(a), _vocabularies(b)
    if vocab_a is None and vocab_b is None:
        return
    if vocab_a is None or vocab_b is None or vocab_a[1] != vocab_b[1]:
        shown_a = vocab_a[1] if vocab_a else "none recorded"
        shown_b = vocab_b[1] if vocab_b else "none recorded"
        raise IncompatibleAuditsError(
            f"cannot compare: incompatible label vocabularies ({shown_a} in {a.source} versus "
            f"{shown_b} in {b.source})"
        )


def _arm(audits: Any, name: str) -> list[Any]:
    """One audit (dict or path) or a list or tuple of them (the seeds of one arm)."""
    if isinstance(audits, list | tuple):
        if not audits:
            raise IncompatibleAuditsError(f"arm {name} holds no audit; give at least one")
        return list(audits)
    return [audits]


def _comparison_tables(comparison: Any) -> tuple[Tables | None, str]:
    """Return the comparison's tables as records, or (None, why the page is unpaired).

    ``comparison`` is None, a mapping of table name to a DataFrame or records (what
    `audit.compare_audits` returns) or an object with ``tables`` and ``unpaired_reason``
    (`audit.PairedComparison`).
    """
    if comparison is None:
        return None, NO_COMPARISON
    if hasattr(comparison, "unpaired_reason") and hasattr(comparison, "tables"):
        if comparison.tables is None:
            return None, str(comparison.unpaired_reason) or NO_COMPARISON
        comparison = comparison.tables
    if not isinstance(comparison, Mapping):
        raise AuditFormatError(
            f"comparison is a {type(comparison).__name__}; expected a mapping of table name "
            "to a DataFrame or records (what audit.compare_audits returns) or "
            "audit.PairedComparison"
        )
    return {str(name): clean_records(value, str(name)) for name, value in comparison.items()}, ""


def _side(loaded: LoadedAudit) -> dict[str, Any]:
    """Provenance of one side's (first) audit."""
    return {
        "source": loaded.source,
        "model": loaded.section("model"),
        "created": loaded.audit.get("created", "—"),
        "command": loaded.audit.get("command", "—"),
        "seed": loaded.audit.get("seed", "—"),
    }


def _layout(layout: Mapping[str, Any]) -> tuple[int, list[tuple[str, ...]]]:
    unknown = sorted(set(layout) - _LAYOUT)
    if unknown:
        raise TypeError(f"render_comparison got unexpected option(s) {unknown}")
    focus = layout.get("focus", DEFAULT_FOCUS)
    check_focus(focus)
    return int(layout.get("max_rows", DEFAULT_MAX_ROWS)), [tuple(item) for item in focus]


def _page_context(
    arms: tuple[list[LoadedAudit], list[LoadedAudit]],
    tables: Tables | None,
    page: ComparisonPage,
    parts: Mapping[str, Any],
) -> dict[str, Any]:
    """Template context; ``parts`` holds title, command, reason, focus_first and swap."""
    arm_a, arm_b = arms
    la, lb = arm_a[0], arm_b[0]
    model_a, model_b = la.section("model"), lb.section("model")
    return {
        "title": parts["title"]
        or f"Comparison: {model_a.get('name') or 'model A'} (A) versus "
        f"{model_b.get('name') or 'model B'} (B)",
        "paired": tables is not None,
        "unpaired_reason": parts["reason"],
        "a": _side(la),
        "b": _side(lb),
        "arm_a": [x.source for x in arm_a],
        "arm_b": [x.source for x in arm_b],
        "seeds": seed_rows(tables, page.focus) if tables is not None else None,
        "focus_first": parts["focus_first"],
        "swap": parts["swap"],
        "data": _key_values(la.section("data")),
        "row_ids": la.section("data").get("row_ids_sha256"),
        "tables": page.tables(),
        "changes": page.changes,
        "only": sorted(set(la.tables) ^ set(lb.tables)),
        "report_command": parts["command"],
        "files_dir": None,
    }


def render_comparison(
    a: AuditLike | Sequence[AuditLike],
    b: AuditLike | Sequence[AuditLike],
    out_html: str | os.PathLike[str],
    *,
    comparison: Any = None,
    pdf: bool = False,
    title: str | None = None,
    command: str | None = None,
    **layout: Any,
) -> Path:
    """Render a comparison of two audits, or two arms of audits, as one HTML file.

    A is the baseline, B the candidate; an arm is one audit or a list of audits of models
    trained with different seeds on the same data (:func:`audit.compare_arms`). Refuses
    (:class:`IncompatibleAuditsError`) audits of different rows or label vocabularies.
    With ``comparison`` the page shows its paired differences, focus answer (with the seed
    spread for arms), gaps that grew or shrank and language-swap change; without it the
    audits' own tables side by side, labelled unpaired, with the reason.

    Parameters
    ----------
    a, b : dict or path-like, or a list of them
        The two audits (objects or audit.json paths), or the two arms' lists of audits.
    out_html : path-like
        Output HTML; tables are exported to ``<out stem>_files/``.
    comparison : mapping or audit.PairedComparison, optional
        The audit's comparison of these audits: ``audit.paired_comparison(a, b)`` (whose
        ``unpaired_reason`` is shown when it has no tables), or the tables of
        ``audit.compare_audits`` / ``audit.compare_arm_audits`` (name -> DataFrame or
        records). Required for arms of several checkpoints.
    pdf : bool
        Also print ``<out stem>.pdf`` with headless Chromium.
    title, command : str or None
        Report title; command line that rendered the comparison (shown in the provenance).
    **layout
        ``max_rows`` (rows shown per table, default `DEFAULT_MAX_ROWS`; all rows are
        exported) and ``focus`` (intersections whose every group is shown, default
        language x ethnicity), as in :func:`reports.render_report`.

    Returns
    -------
    Path
        The HTML path.

    Examples
    --------
    The command line does this (``audit`` computes, ``reports`` renders)::

        from audit import paired_comparison

        comparison = paired_comparison("a/audit.json", "b/audit.json")
        render_comparison("a/audit.json", "b/audit.json", "c.html", comparison=comparison)
    """
    max_rows, focus = _layout(layout)
    arm_a, arm_b = [load_audit(x) for x in _arm(a, "A")], [load_audit(x) for x in _arm(b, "B")]
    for other in [*arm_a[1:], *arm_b]:
        check_comparable(arm_a[0], other)
    tables, reason = _comparison_tables(comparison)
    if tables is None and (len(arm_a) > 1 or len(arm_b) > 1):
        raise IncompatibleAuditsError(
            f"cannot compare arms of several checkpoints: {reason}; the arm "
            "comparison needs every audit's evaluation table"
        )
    page = ComparisonPage(focus=focus, max_rows=max_rows)
    focus_first = focus_context(tables.pop("focus", None) if tables else None)
    if focus_first["available"]:
        page.exports["paired_focus"] = focus_first.pop("records")
    swap_records = tables.pop("language_swap_change", None) if tables else None
    if tables is not None:
        paired_tables(page, tables)
    else:
        unpaired_tables(page, arm_a[0], arm_b[0])
    if swap_records:
        page.exports["paired_language_swap_change"] = swap_records
    parts = {"title": title, "command": command, "reason": reason}
    parts.update(focus_first=focus_first, swap=swap_change_context(swap_records))
    context = _page_context((arm_a, arm_b), tables, page, parts)
    return write_page(out_html, "compare.html.j2", context, page.exports, pdf=pdf)
