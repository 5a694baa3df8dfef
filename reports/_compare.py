"""Comparison report of two audits of two models on the same evaluation rows."""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports._compare_focus import focus_context, moved_order
from reports._compare_seeds import seed_rows
from reports._load import LoadedAudit, load_audit
from reports._report import (
    DEFAULT_MAX_ROWS,
    MIXED_TABLES,
    _key_values,
    render_template,
    safe_name,
    section_of,
    section_of_metric,
    split_by_metric,
)
from reports._tables import (
    DEFAULT_FOCUS,
    DisplayTable,
    _flags,
    build_table,
    check_focus,
    export_table,
    group_label,
    has_flag,
)
from reports.exceptions import AuditFormatError, IncompatibleAuditsError

__all__ = ["check_comparable", "render_comparison", "unpaired_comparison"]

AuditLike = dict[str, Any] | str | os.PathLike[str]

#: Keys that vary between two audits of the same rows (never part of a record's identity).
_MEASURED = frozenset(
    {
        "value",
        "ci_low",
        "ci_high",
        "difference",
        "diff_ci_low",
        "diff_ci_high",
        "ratio",
        "ratio_ci_low",
        "ratio_ci_high",
        "p_value",
        "p_adjusted",
        "flags",
        "n_utterances",
        "n_speakers",
        "n",
        "rate",
        "count",
        "share",
        "reference_value",
        "baseline",
        "se",
    }
)
_VALUE_KEYS = ("value", "rate", "share")


def _vocabularies(loaded: LoadedAudit) -> tuple[str, Any] | None:
    """Label vocabularies: recorded ones, else the labels of the confusion tables."""
    for where in ("data", "settings", "judge"):
        vocab = loaded.section(where).get("vocabularies")
        if vocab is not None:
            return where, vocab
    labels: dict[str, set[str]] = {}
    for name, records in loaded.tables.items():
        if section_of(name) != "confusion":
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


def _identity(record: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    items = []
    for key, value in record.items():
        if key in _MEASURED:
            continue
        if isinstance(value, float):
            continue
        if isinstance(value, Mapping):
            value = group_label(value)
        items.append((key, str(value)))
    return tuple(items)


def _value_key(record: Mapping[str, Any]) -> str | None:
    return next((k for k in _VALUE_KEYS if k in record), None)


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _change(ra: Mapping[str, Any] | None, rb: Mapping[str, Any] | None) -> str:
    if ra is None or rb is None or ("difference" not in ra and "difference" not in rb):
        return ""
    if has_flag(ra, "insufficient_data") or has_flag(rb, "insufficient_data"):
        return "insufficient data"
    sig_a, sig_b = has_flag(ra, "significant"), has_flag(rb, "significant")
    return {(True, False): "closed", (False, True): "opened", (True, True): "persists"}.get(
        (sig_a, sig_b), "no significant gap"
    )


def unpaired_comparison(
    records_a: Sequence[Mapping[str, Any]], records_b: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Line up the records of one table of two audits, side by side.

    Records are matched by their identifying fields (metric, attribute, group, labels, ...).
    ``difference_b_minus_a`` is the difference of the two point estimates only: it is not a
    paired estimate and has no interval. Each audit's simultaneous interval of a gap
    (``diff_sim_low`` / ``diff_sim_high``, which agrees with its ``significant`` flag) is
    kept as ``diff_sim_low_a`` ... ``diff_sim_high_b``. ``gap_status`` says whether a
    flagged-significant gap ``closed``, ``opened`` or ``persists`` from A to B.

    Parameters
    ----------
    records_a, records_b : sequence of mapping
        Records of the same table in audit A and audit B.

    Returns
    -------
    list of dict
        One record per identity, in A's order then B-only records.

    Examples
    --------
    >>> a = [{"metric": "m", "group": {"g": "x"}, "value": 0.5}]
    >>> b = [{"metric": "m", "group": {"g": "x"}, "value": 0.75}]
    >>> unpaired_comparison(a, b)[0]["difference_b_minus_a"]
    0.25
    """
    index_b: dict[tuple, Mapping[str, Any]] = {}
    for record in records_b:
        index_b.setdefault(_identity(record), record)
    seen, out = set(), []
    keys = [_identity(r) for r in records_a] + [_identity(r) for r in records_b]
    index_a: dict[tuple, Mapping[str, Any]] = {}
    for record in records_a:
        index_a.setdefault(_identity(record), record)
    for key in keys:
        if key in seen:
            continue
        seen.add(key)
        ra, rb = index_a.get(key), index_b.get(key)
        row: dict[str, Any] = {}
        source = ra if ra is not None else rb
        for field, _ in key:
            row[field] = source[field]
        for suffix, record in (("a", ra), ("b", rb)):
            vk = _value_key(record) if record is not None else None
            row[f"n_{suffix}"] = (
                record.get("n_utterances", record.get("n")) if record is not None else None
            )
            row[f"value_{suffix}"] = _number(record.get(vk)) if record and vk else math.nan
            row[f"ci_low_{suffix}"] = _number(record.get("ci_low")) if record else math.nan
            row[f"ci_high_{suffix}"] = _number(record.get("ci_high")) if record else math.nan
        if any(r is not None and "difference" in r for r in (ra, rb)):
            for suffix, record in (("a", ra), ("b", rb)):
                for field in ("difference", "diff_ci_low", "diff_ci_high", *_SIM):
                    row[f"{field}_{suffix}"] = _number((record or {}).get(field))
        row["difference_b_minus_a"] = row["value_b"] - row["value_a"]
        row["gap_status"] = (
            "only in A" if rb is None else "only in B" if ra is None else _change(ra, rb)
        )
        flags = sorted(
            {*_flags((ra or {}).get("flags")), *_flags((rb or {}).get("flags"))} - {"significant"}
        )
        row["flags"] = flags
        out.append(row)
    return out


def _evaluation_file(loaded: LoadedAudit) -> Path | None:
    """Return the per-utterance evaluation table of a written audit (None if missing)."""
    if loaded.folder is None or loaded.path is None:
        return None
    name = loaded.section("artifacts").get("evaluation") or "evaluation.csv"
    path = loaded.folder / str(name)
    return path if path.is_file() else None


def _paired(
    arm_a: Sequence[LoadedAudit], arm_b: Sequence[LoadedAudit], options: Mapping[str, Any]
) -> tuple[dict[str, list[dict[str, Any]]] | None, str]:
    """Paired comparison from the audit package, or (None, why it is not available).

    One audit per arm: ``audit.compare_audits``; several (training seeds): the arm
    comparison ``audit.compare_arm_audits``.
    """
    everyone = [*arm_a, *arm_b]
    missing = [loaded.source for loaded in everyone if _evaluation_file(loaded) is None]
    if missing:
        return None, (
            "the per-utterance evaluation table (artifacts.evaluation) of "
            + " and ".join(missing)
            + " was not found beside its audit.json"
        )
    try:
        module = importlib.import_module("audit")
    except ImportError:
        return None, "the audit package cannot be imported"
    if len(arm_a) == 1 and len(arm_b) == 1:
        compare = getattr(module, "compare_audits", None)
        if compare is None:
            return None, "this version of the audit package has no compare_audits"
        return _as_tables(compare(arm_a[0].path, arm_b[0].path, **options)), ""
    compare_arms = getattr(module, "compare_arm_audits", None)
    if compare_arms is None:
        return None, "this version of the audit package has no compare_arm_audits"
    paths_a, paths_b = [x.path for x in arm_a], [x.path for x in arm_b]
    return _as_tables(compare_arms(paths_a, paths_b, **options)), ""


def _clean(record: Mapping[str, Any]) -> dict[str, Any]:
    """Record of a DataFrame: NaN in label-like fields becomes None."""
    out = dict(record)
    for key in ("metric", "target", "label", "reference", "group_label"):
        value = out.get(key)
        if isinstance(value, float) and math.isnan(value):
            out[key] = None
    return out


def _as_tables(result: Any) -> dict[str, list[dict[str, Any]]]:
    """Normalise what compare_audits returns (DataFrame, records or a mapping of them)."""
    if hasattr(result, "to_dict") and hasattr(result, "columns"):
        return {"paired": [_clean(r) for r in result.to_dict(orient="records")]}
    if isinstance(result, list):
        return {"paired": [_clean(r) for r in result]}
    if isinstance(result, Mapping):
        tables = {}
        for name, value in result.items():
            if hasattr(value, "to_dict") and hasattr(value, "columns"):
                tables[str(name)] = [_clean(r) for r in value.to_dict(orient="records")]
            elif isinstance(value, list) and all(isinstance(r, Mapping) for r in value):
                tables[str(name)] = [_clean(r) for r in value]
        if "tables" in result and isinstance(result["tables"], Mapping):
            tables.update(_as_tables(result["tables"]))
        return tables
    raise AuditFormatError(
        f"audit.compare_audits returned {type(result).__name__}; expected a DataFrame, a list "
        "of records or a mapping of them"
    )


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


#: Columns of an audit's simultaneous interval of a gap.
_SIM = ("diff_sim_low", "diff_sim_high")


def _simultaneous_gaps(records: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str, str], ...]:
    """Show each audit's gap with its simultaneous interval where the audit has one."""
    return tuple(
        (f"difference_{s}", f"diff_sim_low_{s}", f"diff_sim_high_{s}")
        for s in ("a", "b")
        if any(math.isfinite(_number(r.get(f"diff_sim_low_{s}"))) for r in records)
    )


#: The change of a gap is shown with its family's simultaneous interval (audit.json
#: ``change_sim_*``), which excludes 0 exactly when ``p_adjusted < alpha``.
_SIMULTANEOUS_CHANGE = (("change", "change_sim_low", "change_sim_high"),)


def _order_of_section(section: str | None) -> int:
    return _COMPARE_ORDER.index(section) if section in _COMPARE_ORDER else len(_COMPARE_ORDER)


def _arm(audits: Any, name: str) -> list[Any]:
    """One audit (dict or path) or a list or tuple of them (the seeds of one arm)."""
    if isinstance(audits, list | tuple):
        if not audits:
            raise IncompatibleAuditsError(f"arm {name} holds no audit; give at least one")
        return list(audits)
    return [audits]


def render_comparison(
    a: AuditLike | Sequence[AuditLike],
    b: AuditLike | Sequence[AuditLike],
    out_html: str | os.PathLike[str],
    *,
    pdf: bool = False,
    title: str | None = None,
    command: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    compare_options: Mapping[str, Any] | None = None,
    focus: Sequence[Sequence[str]] = DEFAULT_FOCUS,
) -> Path:
    """Render a comparison of two audits, or two arms of audits, as one HTML file.

    A is the baseline, B the candidate. An arm is one audit, or a list of audits of models
    trained with different seeds on the same data (see :func:`audit.compare_arms`): the
    page then compares the arm means, with intervals that include seed variance, and a
    section says per headline row whether the seed spread is larger than the difference.

    Refuses (:class:`IncompatibleAuditsError`) when the audits were run on different rows or
    with different label vocabularies. When :func:`audit.compare_audits` is available and both
    audits have their per-utterance evaluation table, its paired differences (B - A, paired
    speaker bootstrap) and the disparities that grew or shrank are shown; otherwise the two
    audits' own tables are set side by side with the difference of point estimates, clearly
    labelled as unpaired and with the reason.

    Parameters
    ----------
    a, b : dict or path-like, or a list of them
        The two audits (objects or audit.json paths), or the two arms' lists of audits
        (all on the same evaluation rows; several per arm need their evaluation tables).
    out_html : path-like
        Output HTML; tables are exported to ``<out stem>_files/``.
    pdf : bool
        Also print ``<out stem>.pdf`` with headless Chromium.
    title : str or None
        Report title.
    command : str or None
        Command line that rendered the comparison, shown in the title block.
    max_rows : int
        Rows shown per table in the HTML at most (all rows are exported).
    compare_options : mapping or None
        Keyword arguments for :func:`audit.compare_audits` (e.g. ``n_boot``); by default it
        uses the settings recorded in audit A.
    focus : sequence of tuple of str
        Intersections whose every group is shown (default language x ethnicity); of other
        intersections only rows flagged significant are shown, and a note under each table
        counts the rest, which are in its export. See :func:`reports.render_report`.

    Returns
    -------
    Path
        The HTML path.
    """
    check_focus(focus)
    focus = [tuple(item) for item in focus]
    arm_a, arm_b = [load_audit(x) for x in _arm(a, "A")], [load_audit(x) for x in _arm(b, "B")]
    la, lb = arm_a[0], arm_b[0]
    for other in [*arm_a[1:], *arm_b]:
        check_comparable(la, other)
    paired, unpaired_reason = _paired(arm_a, arm_b, compare_options or {})
    several = len(arm_a) > 1 or len(arm_b) > 1
    if paired is None and several:
        raise IncompatibleAuditsError(
            f"cannot compare arms of several checkpoints: {unpaired_reason}; the arm "
            "comparison needs every audit's evaluation table"
        )
    only = sorted(set(la.tables) ^ set(lb.tables))
    exports: dict[str, list[dict[str, Any]]] = {}
    ranked: list[tuple[int, int, DisplayTable]] = []
    changes: dict[str, list[dict[str, Any]]] = {"opened": [], "closed": [], "persists": []}

    def add(
        export: str,
        records: list[dict[str, Any]],
        mixed: bool,
        section: str | None,
        estimates: tuple[tuple[str, str, str], ...] = (),
    ):
        exports[export] = records
        parts = split_by_metric(export, records, range(len(records)))
        for sub, caption, idx, recs in parts:
            if len(parts) > 1:
                exports[sub] = recs
            hidden = ("metric", "target", "label") if caption else ()
            table = build_table(
                sub,
                recs,
                hidden=hidden,
                max_rows=max_rows,
                indices=idx,
                source=export,
                caption=caption,
                focus=focus,
                estimates=estimates,
                headers={
                    head: f"{head.replace('_', ' ')} [simultaneous CI]" for head, _, _ in estimates
                },
            )
            first = recs[0] if recs else {}
            where = (
                section_of_metric(first.get("metric"), first.get("target")) if mixed else (section)
            )
            ranked.append((_order_of_section(where), len(ranked), table))

    focus_first = focus_context(paired.pop("focus", None) if paired else None)
    if focus_first["available"]:
        exports["paired_focus"] = focus_first.pop("records")
    if paired is not None:
        for name, records in paired.items():
            add(
                "paired" if name == "paired" else f"paired_{safe_name(name)}",
                records,
                True,
                None,
                _SIMULTANEOUS_CHANGE if name == "disparity_change" else (),
            )
            for record in records:
                if has_flag(record, "insufficient_data") or has_flag(record, "empty"):
                    continue
                if has_flag(record, "grew"):
                    changes["opened"].append({"table": name, **record})
                elif has_flag(record, "shrank"):
                    changes["closed"].append({"table": name, **record})
        wanted = check_focus(focus)
        for kind in ("opened", "closed"):
            changes[kind].sort(key=lambda r: moved_order(r, wanted))
    else:
        for name in (n for n in la.tables if n in lb.tables):
            records = unpaired_comparison(la.tables[name], lb.tables[name])
            add(
                f"unpaired_{safe_name(name)}",
                records,
                name.lower() in MIXED_TABLES,
                section_of(name),
                _simultaneous_gaps(records),
            )
            for record in records:
                if record["gap_status"] in changes:
                    changes[record["gap_status"]].append({"table": name, **record})
    tables = [table for _, _, table in sorted(ranked, key=lambda item: item[:2])]
    model_a, model_b = la.section("model"), lb.section("model")
    context = {
        "title": title
        or f"Comparison: {model_a.get('name') or 'model A'} (A) versus "
        f"{model_b.get('name') or 'model B'} (B)",
        "paired": paired is not None,
        "unpaired_reason": unpaired_reason,
        "a": {
            "source": la.source,
            "model": model_a,
            "created": la.audit.get("created", "—"),
            "command": la.audit.get("command", "—"),
            "seed": la.audit.get("seed", "—"),
        },
        "b": {
            "source": lb.source,
            "model": model_b,
            "created": lb.audit.get("created", "—"),
            "command": lb.audit.get("command", "—"),
            "seed": lb.audit.get("seed", "—"),
        },
        "arm_a": [x.source for x in arm_a],
        "arm_b": [x.source for x in arm_b],
        "seeds": seed_rows(paired, focus) if paired is not None else None,
        "focus_first": focus_first,
        "data": _key_values(la.section("data")),
        "row_ids": la.section("data").get("row_ids_sha256"),
        "tables": tables,
        "changes": changes,
        "only": only,
        "report_command": command,
        "files_dir": None,
    }
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = out.parent / f"{out.stem}_files"
    cache: dict[int, tuple[Any, ...]] = {}  # a record split into several exports is encoded once
    for name, records in exports.items():
        export_table(files, name, records, cache)
    context["files_dir"] = files.name
    from s2f_data import atomic_write_text  # lazy: s2f_data imports pandas

    atomic_write_text(out, render_template("compare.html.j2", context))
    if pdf:
        from reports._pdf import html_to_pdf

        html_to_pdf(out, out.with_suffix(".pdf"))
    return out
