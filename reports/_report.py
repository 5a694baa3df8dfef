"""Build the report context from an audit and render it with Jinja2 (autoescaped)."""

from __future__ import annotations

import base64
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reports import _text
from reports._figures import forest_plot
from reports._language_swap import LANGUAGE_SWAP_TABLE, fill_language_swap_section
from reports._load import LoadedAudit, load_audit
from reports._render import render_template, safe_name, write_page  # noqa: F401 (_compare)
from reports._summary import SUMMARY_TABLES, build_summary
from reports._tables import (
    DEFAULT_FOCUS,
    NO_INTERVAL,
    OTHER,
    DisplayTable,
    build_table,
    check_focus,
    fmt_number,
    focus_label,
    group_label,
    has_flag,
    row_category,
)
from reports.exceptions import AuditFormatError

__all__ = ["render_report"]

#: Report sections fed by audit tables: (section id, title, keywords matched in table names).
TABLE_SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("composition", "Population composition and coverage", ("composition", "coverage")),
    ("confusion", "Attribute confusion", ("confusion",)),
    ("agreement", "Attribute agreement", ("agreement", "upper_bound")),
    ("disparities", "Disparities", ("disparit",)),
    ("language_swap", "Does the language spoken change the face?", ("language_swap",)),
    ("retrieval", "Retrieval", ("retrieval",)),
    ("similarity", "Feature similarity", ("similarity",)),
    ("input_length", "Input length", ("input_length",)),
    ("craniofacial", "Craniofacial measures", ("craniofacial",)),
    ("pitch", "Pitch analysis", ("pitch",)),
    ("calibration", "Judge calibration", ("calibration",)),
)
#: Tables named exactly so belong to a section (audit's TABLE_NAMES).
EXACT_TABLES = {"groups": "composition", "judge_accuracy_by_group": "agreement"}
#: Tables whose records are sorted into sections by their ``metric`` (audit's ``metrics``).
MIXED_TABLES = frozenset({"metrics"})
#: Rows shown per table in the HTML; every row is in the CSV/JSON exports.
DEFAULT_MAX_ROWS = 400
#: Rows drawn per forest plot.
FOREST_MAX_ROWS = 40
#: Heatmaps drawn per judged attribute (all cells are in the exports).
HEATMAPS_PER_TARGET = 40
#: Metrics whose gaps get a forest plot in the disparities section.
HEADLINE_METRICS = ("agreement", "recall@1", "cos_sim", "cosine", "predicted_rate")
_PROPORTION_WORDS = ("rate", "agreement", "recall", "accuracy", "share", "precision")
#: Target of audit's input-length records; their metric names are ``<metric> (<d> s)`` and,
#: for the paired difference, ``<metric> (<b> s - <a> s)``.
INPUT_LENGTH_TARGET = "input_length"
_INPUT_LENGTH_METRIC = re.compile(
    r"^(?P<base>\S+) \((?P<seconds>[0-9.e+]+) s(?: - (?P<baseline>[0-9.e+]+) s)?\)$"
)


@dataclass
class Heatmap:
    """One confusion matrix: labels, rows of (rate, n) cells, and the row totals."""

    task: str
    group: str
    labels: list[str]
    rows: list[dict[str, Any]]
    insufficient: bool = False
    source: str = ""


@dataclass
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

    @property
    def measured(self) -> bool:
        """Whether the audit had any table for this section."""
        return bool(self.tables or self.heatmaps or self.figures or self.note)


@dataclass(frozen=True)
class Finding:
    """A sentence of the summary and the record it came from."""

    text: str
    table: str
    index: int
    record: Mapping[str, Any]
    reason: str = ""  # why a significant gap is held back ("" for a finding)


def section_of(table: str) -> str | None:
    """Return the id of the section a table belongs to, or None for 'other tables'."""
    lowered = table.lower()
    if lowered in EXACT_TABLES:
        return EXACT_TABLES[lowered]
    for section_id, _, keywords in TABLE_SECTIONS:
        if any(word in lowered for word in keywords):
            return section_id
    return None


def section_of_metric(metric: Any, target: Any = None) -> str:
    """Return the section of a record of a mixed metrics table, from its metric name."""
    name = str(metric).lower()
    if target == INPUT_LENGTH_TARGET:
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


def is_proportion(metric: Any) -> bool:
    """Whether a metric name denotes a proportion (shown in %)."""
    return isinstance(metric, str) and any(w in metric.lower() for w in _PROPORTION_WORDS)


def metric_name(metric: Any, target: Any = None, label: Any = None) -> str:
    """Readable description of a metric of a judged attribute (target) and label.

    Examples
    --------
    >>> metric_name("recall", "ethnicity", "Asian")
    'reconstructions judged Asian among true-Asian faces (ethnicity recall)'
    >>> metric_name("agreement", "gender")
    'gender agreement'
    """
    if not isinstance(metric, str):
        return "value"
    upper = metric.startswith("upper_")
    base = metric.removeprefix("upper_")
    untargeted = {"feature", "retrieval", INPUT_LENGTH_TARGET}
    target = target if isinstance(target, str) and target not in untargeted else ""
    label = label if isinstance(label, str) else ""
    if base == "recall" and label:
        text = f"reconstructions judged {label} among true-{label} faces ({target} recall)".replace(
            " ( recall)", " (recall)"
        )
    elif base == "predicted_rate" and label:
        text = f"reconstructions judged {label}" + (f" ({target})" if target else "")
    elif base == "kappa":
        text = f"Cohen's kappa for {target}" if target else "Cohen's kappa"
    elif base == "ece":
        text = "judge calibration error (ECE)" + (f" for {target}" if target else "")
        text += f" {label}" if label else ""
    elif base == "pearson_r":
        text = f"Pearson r of {target}" if target else "Pearson r"
    else:
        readable = _text.METRIC_NAMES.get(base, base.replace("_", " "))
        text = f"{target} {readable}" if target else readable
    return f"upper bound: {text}" if upper else text


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _pct(value: Any, proportion: bool, points: bool = False) -> str:
    if not _finite(value):
        return "—"
    if proportion:
        return f"{100 * value:+.1f} points" if points else f"{100 * value:.1f}%"
    return f"{value:+.3f}" if points else f"{value:.3f}"


def _p(value: Any) -> str:
    if not _finite(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _subject(record: Mapping[str, Any]) -> str:
    label = record.get("group_label")
    return label if isinstance(label, str) else group_label(record.get("group"))


def _interval(
    record: Mapping[str, Any],
    low: str,
    high: str,
    ci_label: str,
    proportion: bool,
    points: bool = False,
) -> str:
    """``95% CI a to b``; for a ``degenerate_ci`` record without bounds, says there is none."""
    lo, hi = record.get(low), record.get(high)
    if not (_finite(lo) or _finite(hi)) and has_flag(record, "degenerate_ci"):
        return NO_INTERVAL
    return f"{ci_label} CI {_pct(lo, proportion, points)} to {_pct(hi, proportion, points)}"


def finding_text(record: Mapping[str, Any], ci_label: str) -> str:
    """Write one finding as a plain-language sentence with its numbers."""
    prop = is_proportion(record.get("metric"))
    what = metric_name(record.get("metric"), record.get("target"), record.get("label"))
    parts = [
        f"{_subject(record)}: {what} {_pct(record.get('value'), prop)}",
        f" ({_interval(record, 'ci_low', 'ci_high', ci_label, prop)}, "
        f"n = {record.get('n_utterances', '—')} utterances"
        f" from {record.get('n_speakers', '—')} speakers)",
    ]
    reference = record.get("reference")
    reference = group_label(reference) if isinstance(reference, Mapping) else reference
    where = "overall" if reference == "overall" else f"for {reference}"
    if _finite(record.get("reference_value")):
        parts.append(f" versus {_pct(record['reference_value'], prop)} {where}")
    elif reference:
        parts.append(f" versus {reference}")
    if _finite(record.get("difference")):
        # a tested difference shows its family's simultaneous interval, which agrees with
        # the adjusted p; the unadjusted one is in the exports
        sim = _finite(record.get("diff_sim_low")) or _finite(record.get("diff_sim_high"))
        low, high = ("diff_sim_low", "diff_sim_high") if sim else ("diff_ci_low", "diff_ci_high")
        label = f"{ci_label} simultaneous" if sim else ci_label
        parts.append(
            f"; difference {_pct(record['difference'], prop, points=True)} "
            f"({_interval(record, low, high, label, prop, True)})"
        )
    if _finite(record.get("ratio")):
        parts.append(f", ratio {record['ratio']:.2f}")
    if _finite(record.get("p_adjusted")):
        parts.append(f", adjusted p {_p(record['p_adjusted'])}")
    elif _finite(record.get("p_value")):
        parts.append(f", p {_p(record['p_value'])}")
    return "".join(parts) + "."


#: Agreement statistics that need more than one true class in the group.
_MULTICLASS_METRICS = frozenset({"kappa", "macro_recall"})


def held_back_reason(record: Mapping[str, Any]) -> str:
    """Why a significant gap is not a finding: "" when it is one.

    Gaps of groups flagged ``insufficient_data``, ``empty`` or ``single_class`` (the audit's
    flag for a group holding one true class) are never findings. Neither are
    kappa and macro recall in a group defined by the judged attribute itself (e.g. kappa of
    gender among women): such a group holds one true class, so these statistics do not
    measure agreement there and their gap to the overall value is an artefact.
    """
    if has_flag(record, "empty"):
        return "empty group"
    if has_flag(record, "insufficient_data"):
        return "insufficient data"
    if has_flag(record, "single_class"):
        return "one true class in the group"
    metric = str(record.get("metric", "")).removeprefix("upper_")
    group = record.get("group")
    if metric in _MULTICLASS_METRICS and isinstance(group, Mapping):
        if record.get("target") in group:
            return f"group fixes the judged attribute ({record.get('target')})"
    return ""


def _upper_bound_of(metric: Any) -> str | None:
    """Return the reconstruction metric of an upper-bound metric (``upper_kappa`` -> ``kappa``)."""
    if not isinstance(metric, str):
        return None
    if metric.startswith("upper_"):
        return metric.removeprefix("upper_")
    if metric.endswith("_upper_bound"):
        return metric.removesuffix("_upper_bound")
    return None


def _finding_key(table: str, record: Mapping[str, Any], metric: Any) -> tuple[str, ...]:
    """Identity of a gap apart from its metric name: table, target, label, group, reference."""
    return (
        table,
        str(metric),
        str(record.get("target")),
        str(record.get("label")),
        _subject(record),
        str(record.get("reference")),
    )


def finding_rank(record: Mapping[str, Any]) -> tuple[float, float]:
    """Sort key of a significant gap: adjusted p (smallest first), then largest |difference|.

    Metrics of different scales (rates, kappa, cosine, r) have differences that cannot be
    compared, so the size of a difference only breaks ties of p. A missing adjusted p falls
    back to the raw p, then to 1.

    Examples
    --------
    >>> rows = [{"p_adjusted": 0.01, "difference": 0.5}, {"p_adjusted": 0.001, "difference": 0.1},
    ...         {"p_adjusted": 0.01, "difference": -0.7}]
    >>> [row["difference"] for row in sorted(rows, key=finding_rank)]
    [0.1, -0.7, 0.5]
    """
    p = record.get("p_adjusted")
    if not _finite(p):
        p = record.get("p_value")
    diff = record.get("difference")
    return (p if _finite(p) else 1.0, -abs(diff) if _finite(diff) else 0.0)


def collect_findings(
    tables: Mapping[str, Sequence[Mapping[str, Any]]], ci_label: str
) -> tuple[list[Finding], list[Finding]]:
    """Return (findings, held back): significant gaps ranked by adjusted p, then |difference|.

    A record is a finding when its flags contain ``significant`` and none of
    ``insufficient_data`` / ``empty``; flagged-significant records of too-small groups are
    returned separately (held back), so the summary can say so without presenting them.
    An upper-bound gap (``upper_<metric>``: true face -> encoder -> decoder -> judge) of a
    group whose reconstruction gap is also a finding is not listed again: it is added to the
    reconstruction finding's sentence as context. Upper-bound gaps without a reconstruction
    finding stay in the list.
    """
    findings, held = [], []
    for name, records in tables.items():
        for index, record in enumerate(records):
            if "difference" not in record or not has_flag(record, "significant"):
                continue
            reason = held_back_reason(record)
            item = Finding(finding_text(record, ci_label), name, index, record, reason)
            (held if reason else findings).append(item)
    by_key = {
        _finding_key(f.table, f.record, f.record.get("metric")): i for i, f in enumerate(findings)
    }
    merged: set[int] = set()
    for i, upper in enumerate(findings):
        base = _upper_bound_of(upper.record.get("metric"))
        j = by_key.get(_finding_key(upper.table, upper.record, base)) if base else None
        if j is None:
            continue
        merged.add(i)
        record = upper.record
        prop = is_proportion(base)
        p = record.get("p_adjusted")
        p_text = f"adjusted p {_p(p)}" if _finite(p) else f"p {_p(record.get('p_value'))}"
        context = (
            f" Upper bound (true face through the decoder): difference "
            f"{_pct(record.get('difference'), prop, points=True)}, {p_text}."
        )
        findings[j] = replace(findings[j], text=findings[j].text + context)
    findings = [f for i, f in enumerate(findings) if i not in merged]
    findings.sort(key=lambda item: finding_rank(item.record))
    return findings, held


def _first(record: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in record:
            return record[key]
    return None


def is_long_confusion(records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether records are confusion cells (true label, predicted label, count, rate)."""
    return bool(records) and all(
        "true_label" in r and ("pred_label" in r or "predicted_label" in r) for r in records
    )


def build_heatmaps(
    records: Sequence[Mapping[str, Any]],
    vocabularies: Mapping[str, Sequence[str]],
    per_target: int = HEATMAPS_PER_TARGET,
    source: str = "confusion",
    focus: Sequence[Sequence[str]] | None = None,
) -> tuple[list[Heatmap], list[str], int]:
    """Group confusion cells into matrices, one per (judged attribute, group).

    Cell count is ``count`` (or ``n``), cell rate ``value`` (or ``rate``); the row total is the
    record's ``n_utterances`` when present. Groups whose cells are all flagged ``empty`` get no
    matrix and are returned by label instead, as are matrices beyond ``per_target``. With a
    ``focus`` (see `reports._tables.build_table`), matrices are drawn overall first, then for
    single attributes, then for the focus intersections; those of other intersections are
    only counted (their cells are in the exports).

    Returns
    -------
    (list of Heatmap, list of str, int)
        The matrices, the labels of matrices not drawn (empty or over the limit), and the
        number of matrices of intersections outside the focus.
    """
    wanted = check_focus(focus) if focus is not None else None
    outside = 0
    matrices: dict[tuple[str, str], dict[str, Any]] = {}
    for index, record in enumerate(records):
        task = str(_first(record, "target", "task", "metric") or "attribute")
        metric = str(record.get("metric", "confusion"))
        group = _subject(record)
        entry = matrices.get((metric, task, group))
        if entry is None:
            category = 0 if wanted is None else row_category(record, wanted)
            entry = matrices[(metric, task, group)] = {
                "cells": {},
                "order": [],
                "insufficient_rows": set(),
                "empty": True,
                "category": category,
            }
        true = str(record["true_label"])
        pred = str(_first(record, "pred_label", "predicted_label"))
        for label in (true, pred):
            if label not in entry["order"]:
                entry["order"].append(label)
        entry["cells"][(true, pred)] = (index, record)
        if has_flag(record, "insufficient_data"):
            entry["insufficient_rows"].add(true)
        entry["empty"] &= has_flag(record, "empty")
    heatmaps, skipped = [], []
    drawn: dict[str, int] = {}
    for (metric, task, group), entry in sorted(
        matrices.items(), key=lambda item: item[1]["category"]
    ):
        if entry["category"] == OTHER:
            outside += 1
            continue
        title = f"upper bound: {task}" if metric.startswith("upper_") else task
        if entry["empty"]:
            skipped.append(f"{title} — {group} (empty)")
            continue
        if drawn.get((metric, task), 0) >= per_target:
            skipped.append(f"{title} — {group}")
            continue
        drawn[(metric, task)] = drawn.get((metric, task), 0) + 1
        vocab = [str(v) for v in vocabularies.get(task, ())]
        labels = vocab + [label for label in entry["order"] if label not in vocab]
        rows = []
        for true in labels:
            cells, row_n = [], None
            for pred in labels:
                index, record = entry["cells"].get((true, pred), (None, {}))
                n = _first(record, "count", "n")
                rate = _first(record, "value", "rate")
                if row_n is None and isinstance(record.get("n_utterances"), int):
                    row_n = record["n_utterances"]
                cells.append({"label": pred, "n": n, "rate": rate, "index": index})
            if row_n is None:  # no row total recorded: show the sum of the cell counts
                row_n = sum(c["n"] for c in cells if isinstance(c["n"], int))
            insufficient = true in entry["insufficient_rows"]
            rows.append({"label": true, "n": row_n, "cells": cells, "insufficient": insufficient})
        populated = [r for r in rows if r["n"]]
        all_small = bool(populated) and all(r["insufficient"] for r in populated)
        heatmaps.append(Heatmap(title, group, labels, rows, all_small, source))
    return heatmaps, skipped, outside


def _vocabularies(loaded: LoadedAudit) -> dict[str, Sequence[str]]:
    for where in ("data", "settings", "judge"):
        vocab = loaded.section(where).get("vocabularies")
        if isinstance(vocab, Mapping):
            return {str(k): list(v) for k, v in vocab.items() if isinstance(v, list | tuple)}
    return {}


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


def disparity_figures(
    items: Sequence[tuple[str, Mapping[str, Any]]], limit: int = 12
) -> list[dict[str, Any]]:
    """Forest plots of the gaps of headline metrics (one per metric, target and label)."""
    by_key: dict[tuple[Any, Any, Any], list[Mapping[str, Any]]] = {}
    for _, record in items:
        if has_flag(record, "empty") or not _finite(record.get("difference")):
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
            _subject(r) + (" (insufficient data)" if has_flag(r, "insufficient_data") else "")
            for r in rows
        ]
        muted = [has_flag(r, "insufficient_data") for r in rows]
        what = metric_name(metric, target, label)
        # tested gaps carry their family's simultaneous interval, which agrees with the
        # adjusted p; untested ones (insufficient data) the unadjusted interval
        drawn = [
            {**r, "diff_ci_low": r["diff_sim_low"], "diff_ci_high": r["diff_sim_high"]}
            if _finite(r.get("diff_sim_low"))
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


def input_length_summary(
    records: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]], dict[str, str]]:
    """Lay the overall input-length records out as one row per metric, a column per duration.

    Only reshapes the audit's records (no statistic is computed): each row holds the
    metric, the n behind its paired difference (or its only duration), and per duration
    (and per difference) the value with its interval and the mean seconds of speech used.

    Returns
    -------
    rows : list of dict
        One record per metric.
    estimates : list of (str, str, str)
        The (value, low, high) keys of each duration, for `build_table`.
    headers : dict of str to str
        Header text of those keys.
    """
    rows: dict[str, dict[str, Any]] = {}
    estimates: list[tuple[str, str, str]] = []
    headers: dict[str, str] = {}
    for record in records:
        match = _INPUT_LENGTH_METRIC.match(str(record.get("metric", "")))
        if record.get("attribute") != "overall" or match is None:
            continue
        seconds, baseline = match["seconds"], match["baseline"]
        key = f"{seconds}s" if baseline is None else f"{seconds}s_minus_{baseline}s"
        title = f"{seconds} s" if baseline is None else f"{seconds} s − {baseline} s"
        row = rows.setdefault(match["base"], {"metric": match["base"]})
        if baseline is not None or "n_utterances" not in row:
            row["n_utterances"] = record.get("n_utterances")
            row["n_speakers"] = record.get("n_speakers")
            row["flags"] = [f for f in record.get("flags") or () if f != "reference"]
        triple = (f"value_{key}", f"ci_low_{key}", f"ci_high_{key}")
        for part, field_name in zip(triple, ("value", "ci_low", "ci_high"), strict=True):
            row[part] = record.get(field_name)
        if triple not in estimates:
            estimates.append(triple)
            headers[triple[0]] = f"{title} [CI]"
        if baseline is None and "speech_seconds" in record:
            row[f"speech_seconds_{key}"] = record["speech_seconds"]
            headers[f"speech_seconds_{key}"] = f"speech s ({title})"
    return list(rows.values()), estimates, headers


def _not_evaluated(model: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """Text of an input-length section without records: why, from the audit's settings."""
    requested = settings.get("input_seconds_requested", "auto")
    if requested is None or requested == "none":
        return "Not requested in this audit (input_seconds = none)."
    config = model.get("config")
    audio = config.get("audio") if isinstance(config, Mapping) else None
    clip = audio.get("clip_seconds") if isinstance(audio, Mapping) else None
    if _finite(clip):
        return f"Not evaluated (model clip is {clip:g} s)."
    return "Not evaluated in this audit."


def _with_sources(table: DisplayTable, sources: Sequence[str]) -> DisplayTable:
    """Return ``table`` with each row's source table set (for a table mixing sources)."""
    rows = tuple(replace(row, source=src) for row, src in zip(table.rows, sources, strict=False))
    return replace(table, rows=rows, source="")


def _embed_image(root: Path, folder: Path, relative: Any) -> str | None:
    """Return a PNG data URI of ``folder / relative`` (re-encoded, at most 128 px).

    The image must lie inside ``root`` (the audit folder).
    """
    if not isinstance(relative, str) or not relative:
        return None
    path = (folder / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise AuditFormatError(f"sample image {relative!r} lies outside the audit folder {root}")
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((128, 128))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
    except (OSError, ValueError) as err:
        raise AuditFormatError(f"sample image {path} could not be read: {err}") from err
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_SAMPLE_IMAGES = (
    ("true_face", "true face"),
    ("reconstruction", "reconstruction"),
    ("upper_bound", "upper bound"),
)
_SAMPLE_META = frozenset(
    {"utterance_id", "speaker_id", "group", "group_label", *(key for key, _ in _SAMPLE_IMAGES)}
)


def _samples(loaded: LoadedAudit, include_faces: bool) -> dict[str, Any]:
    """Sample faces to show: artifacts.samples entries with image files under samples_dir.

    Faces of the built-in population are shown; faces of real data only with
    ``include_faces``. Images must lie inside the audit folder and are re-encoded.
    """
    artifacts = loaded.section("artifacts")
    samples = artifacts.get("samples") or []
    source = str(loaded.section("data").get("source", ""))
    builtin = source.lower() in _text.BUILTIN_SOURCES
    if not samples:
        return {"shown": [], "status": "none"}
    if not (builtin or include_faces):
        return {"shown": [], "status": "withheld", "count": len(samples)}
    if loaded.folder is None:
        return {"shown": [], "status": "no_folder", "count": len(samples)}
    subdir = artifacts.get("samples_dir") or ""
    if not isinstance(subdir, str):
        raise AuditFormatError(f"{loaded.source}: artifacts.samples_dir must be a string")
    shown = []
    for i, sample in enumerate(samples):
        if not isinstance(sample, Mapping):
            raise AuditFormatError(
                f"{loaded.source}: artifacts.samples[{i}] must be an object, "
                f"got {type(sample).__name__}"
            )
        if isinstance(sample.get("group_label"), str):
            label = sample["group_label"]
        elif sample.get("group") is not None:
            label = group_label(sample.get("group"))
        else:
            label = group_label({k: v for k, v in sample.items() if k not in _SAMPLE_META})
        images = [
            (caption, _embed_image(loaded.folder, loaded.folder / subdir, sample[key]))
            for key, caption in _SAMPLE_IMAGES
            if sample.get(key)
        ]
        shown.append(
            {
                "label": label,
                "speaker": str(sample.get("speaker_id", "")),
                "utterance": str(sample.get("utterance_id", "")),
                "images": images,
            }
        )
    return {"shown": shown, "status": "shown", "count": len(samples)}


def _ci_label(settings: Mapping[str, Any]) -> str:
    level = settings.get("ci_level", 0.95)
    return f"{100 * level:g}%" if _finite(level) else "95%"


_CORRECTION_NAMES = {
    "holm": "Holm (family-wise error)",
    "bh": "Benjamini-Hochberg (false discovery rate)",
    "none": "no correction",
}


def error_control_text(settings: Mapping[str, Any], ci_label: str) -> str:
    """Say which correction was used, over which scope, and what the intervals mean.

    Examples
    --------
    >>> text = error_control_text({"correction": "holm", "error_control": "audit"}, "95%")
    >>> text.startswith("Multiple comparisons: Holm (family-wise error) over every test")
    True
    """
    correction = settings.get("correction", "holm")
    name = _CORRECTION_NAMES.get(str(correction), str(correction))
    scope = settings.get("error_control")
    if scope == "audit":
        where = "over every test of this audit as one family (audit-wide error control)"
    elif scope == "family":
        where = (
            "within each family (one metric of one attribute and label, over all groups); "
            "the audit as a whole is not controlled (error_control='audit' does that)"
        )
    else:
        where = "within each family (this audit does not record the scope: per family assumed)"
    return (
        f"Multiple comparisons: {name} {where}. The interval of a tested difference is "
        f"the {ci_label} simultaneous interval of its family, so it excludes 0 exactly when "
        "the adjusted p is significant; the unadjusted intervals are in the exports "
        "(diff_ci_low, diff_ci_high)."
    )


def audit_focus(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[tuple[str, ...]]:
    """Focus intersections of the audit (its ``focus`` table), else `DEFAULT_FOCUS`."""
    questions = [str(q.get("question", "")) for q in tables.get("focus", [])]
    found = [tuple(q.split(" x ")) for q in questions if " x " in q]
    return found if found else [tuple(item) for item in DEFAULT_FOCUS]


def _key_values(mapping: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = ", ".join(" x ".join(v) if isinstance(v, list) else str(v) for v in value)
        elif value is None:
            text = "—"
        else:
            text = (
                fmt_number(value) if _finite(value) and not isinstance(value, int) else str(value)
            )
        out.append((str(key), text))
    return out


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
    if focus is None:
        focus = audit_focus(loaded.tables)
    check_focus(focus)
    focus = [tuple(item) for item in focus]
    audit = loaded.audit
    settings = loaded.section("settings")
    ci_label = _ci_label(settings)
    vocabularies = _vocabularies(loaded)
    sections = {
        sid: Section(sid, t, _text.SECTION_INTROS.get(sid, "")) for sid, t, _ in TABLE_SECTIONS
    }
    other: list[DisplayTable] = []
    exports: dict[str, list[dict[str, Any]]] = {}
    used: set[str] = set()

    def unique(name: str) -> str:
        name = safe_name(name)
        while name in used:
            name += "_"
        used.add(name)
        return name

    def add_tables(section: Section, name: str, records, indices) -> None:
        for sub, caption, idx, recs in split_by_metric(name, records, indices):
            if sub == safe_name(name) and len(recs) == len(loaded.tables[name]):
                export = full_names[name]  # the whole table: already exported
            else:
                export = unique(sub)
                exports[export] = list(recs)
            hidden = ("metric", "target", "label") if caption else ()
            section.tables.append(
                build_table(
                    export,
                    recs,
                    hidden=hidden,
                    max_rows=max_rows,
                    indices=idx,
                    source=name,
                    caption=caption,
                    focus=focus,
                )
            )

    def add_input_length(name: str, records, indices) -> None:
        # a small overview (overall rows, one per metric), then every record
        section = sections["input_length"]
        rows, estimates, headers = input_length_summary(records)
        if rows:
            durations = [
                headers[head].removesuffix(" [CI]")
                for head, _, _ in estimates
                if "_minus_" not in head
            ]
            export = unique("input_length_summary")
            exports[export] = rows
            section.tables.append(
                build_table(
                    export,
                    rows,
                    max_rows=max_rows,
                    caption=f"Input length: {' vs '.join(durations)} (all utterances; n is "
                    "the rows behind the paired difference)",
                    estimates=estimates,
                    headers=headers,
                )
            )
        export = unique(f"{name}__input_length")
        exports[export] = list(records)
        section.tables.append(
            build_table(
                export,
                records,
                hidden=("target", "label"),
                max_rows=max_rows,
                indices=indices,
                source=name,
                focus=focus,
                caption="Input length by group: every metric and duration, with the gap to "
                "the reference",
            )
        )

    skipped_heatmaps: list[str] = []
    heatmaps_outside = 0
    gap_items: list[tuple[str, int, Mapping[str, Any]]] = []
    full_names: dict[str, str] = {}
    for name, records in loaded.tables.items():
        full_names[name] = unique(name)
        exports[full_names[name]] = records
        section_id = section_of(name)
        everything = list(range(len(records)))
        if name.lower() in MIXED_TABLES:
            by_section: dict[str, list[int]] = {}
            for index, record in enumerate(records):
                sid = section_of_metric(record.get("metric"), record.get("target"))
                by_section.setdefault(sid, []).append(index)
            for sid, idx in by_section.items():
                if sid == "input_length":
                    add_input_length(name, [records[i] for i in idx], idx)
                else:
                    add_tables(sections[sid], name, [records[i] for i in idx], idx)
        elif section_id == "confusion" and is_long_confusion(records):
            # the heatmaps show every cell (rate and n); the long table is in the exports
            maps, skipped, outside = build_heatmaps(records, vocabularies, source=name, focus=focus)
            sections["confusion"].heatmaps.extend(maps)
            skipped_heatmaps += skipped
            heatmaps_outside += outside
        elif name in SUMMARY_TABLES:
            continue  # rendered by the executive summary; exported like every table
        elif section_id is None:
            other.append(
                build_table(full_names[name], records, max_rows=max_rows, source=name, focus=focus)
            )
            continue
        else:
            add_tables(sections[section_id], name, records, everything)
        for index, record in enumerate(records):
            if "difference" in record:
                gap_items.append((name, index, record))
    if LANGUAGE_SWAP_TABLE in loaded.tables:  # answer, figure and a compact view
        fill_language_swap_section(
            sections["language_swap"],
            loaded.tables[LANGUAGE_SWAP_TABLE],
            exports,
            unique,
            max_rows,
        )
    disparity_tables = {name for name in loaded.tables if section_of(name) == "disparities"}
    headline = [
        (name, r)
        for name, _, r in gap_items
        if r.get("metric") in HEADLINE_METRICS or name in disparity_tables
    ]
    sections["disparities"].figures.extend(disparity_figures(headline))
    significant = sorted(
        (item for item in gap_items if has_flag(item[2], "significant")),
        key=lambda item: finding_rank(item[2]),
    )
    if significant:
        export = unique("significant_gaps")
        exports[export] = [
            {"table": n, "row": i, **r, "not_a_finding": held_back_reason(r)}
            for n, i, r in significant
        ]
        table = build_table(
            export,
            [{**r, "not_a_finding": held_back_reason(r)} for _, _, r in significant],
            max_rows=max_rows,
            indices=[i for _, i, _ in significant],
            caption="Every gap flagged significant, smallest adjusted p first (then largest "
            "|difference|); the last column says why a "
            "gap is not a finding (insufficient data, or a statistic that needs several true "
            "classes in a group defined by the judged attribute)",
        )
        sections["disparities"].tables.insert(
            0, _with_sources(table, [n for n, _, _ in significant])
        )
    if gap_items and not significant:
        sections["disparities"].note = (
            "No gap was flagged significant in this audit. Each group's difference from its "
            "reference, with its interval and adjusted p-value, is in the tables of the "
            "sections above and below."
        )
    if not sections["input_length"].measured:
        sections["input_length"].not_measured = _not_evaluated(loaded.section("model"), settings)
    findings, held = collect_findings(loaded.tables, ci_label)
    exports["findings"] = [
        {"rank": i + 1, "table": f.table, "row": f.index, "text": f.text}
        for i, f in enumerate(findings)
    ]
    model, data = loaded.section("model"), loaded.section("data")
    tool = loaded.section("tool")
    exports["settings"] = [{"setting": k, "value": v} for k, v in _key_values(settings)]
    insufficient: dict[str, Any] = {}
    for name, records in loaded.tables.items():
        if section_of(name) == "confusion":
            continue  # its flags are per true-label row of a group, listed in the heatmaps
        for record in records:
            if has_flag(record, "insufficient_data") or has_flag(record, "empty"):
                insufficient.setdefault(
                    _subject(record), (record.get("n_utterances"), record.get("n_speakers"))
                )
    context = {
        "title": title or f"Fairness audit: {model.get('name', 'unnamed model')}",
        "audit": audit,
        "model": model,
        "data": data,
        "tool": tool,
        "settings": _key_values(settings),
        "ci_label": ci_label,
        "error_control": error_control_text(settings, ci_label),
        "executive": build_summary(loaded.tables, model, data, ci_label),
        "seed": audit.get("seed", "—"),
        "created": audit.get("created", "—"),
        "audit_command": audit.get("command", "—"),
        "report_command": command,
        "packages": _key_values(tool.get("packages", {}) if isinstance(tool, Mapping) else {}),
        "findings": findings,
        "held": held,
        "insufficient": list(insufficient.items()),
        "insufficient_shown": list(insufficient.items())[:60],
        "skipped_heatmaps": skipped_heatmaps,
        "heatmaps_outside": heatmaps_outside,
        "focus": focus_label(focus) or "none",
        "sections": [sections[sid] for sid, _, _ in TABLE_SECTIONS],
        "other_tables": other,
        "samples": _samples(loaded, include_faces),
        "model_card": {
            "intended_use": _text.INTENDED_USE,
            "out_of_scope": _text.OUT_OF_SCOPE,
            "fields": _key_values({k: v for k, v in model.items() if k != "config"}),
            # an audit of a run that stopped early (allowed only on request) says so first
            "unfinished": model.get("finished") is False,
            "config": _key_values(model.get("config", {}) or {}),
            "metrics": [s.title for s in sections.values() if s.measured],
        },
        "data_card": _key_values(data),
        "limitations": _text.LIMITATIONS,
        "definitions": _text.DEFINITIONS,
        "files_dir": None,
    }
    return context, exports


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
