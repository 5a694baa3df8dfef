"""Report section "Input length": an overview per metric and duration, then every record.

Only reshapes the audit's input-length records (section ``input_length``), by their keys
``base_metric``, ``input_seconds`` and ``baseline_seconds``; no statistic is computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports._sections import Section, TableSink
from reports._tables import build_table
from reports._wording import finite

__all__ = ["add_input_length", "input_length_summary", "not_evaluated"]


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

    Examples
    --------
    >>> rows, estimates, headers = input_length_summary([
    ...     {"attribute": "overall", "base_metric": "l1", "input_seconds": 3.0,
    ...      "baseline_seconds": None, "value": 0.5, "n_utterances": 9},
    ...     {"attribute": "overall", "base_metric": "l1", "input_seconds": 6.0,
    ...      "baseline_seconds": 3.0, "value": -0.1, "n_utterances": 8}])
    >>> rows[0]["value_3s"], rows[0]["value_6s_minus_3s"], rows[0]["n_utterances"]
    (0.5, -0.1, 8)
    >>> headers["value_6s_minus_3s"]
    '6 s − 3 s [CI]'
    """
    rows: dict[str, dict[str, Any]] = {}
    estimates: list[tuple[str, str, str]] = []
    headers: dict[str, str] = {}
    for record in records:
        base, seconds = record.get("base_metric"), record.get("input_seconds")
        if record.get("attribute") != "overall" or not finite(seconds) or base is None:
            continue
        baseline = record.get("baseline_seconds")
        paired = finite(baseline)
        key = f"{seconds:g}s_minus_{baseline:g}s" if paired else f"{seconds:g}s"
        title = f"{seconds:g} s − {baseline:g} s" if paired else f"{seconds:g} s"
        row = rows.setdefault(base, {"metric": base})
        if paired or "n_utterances" not in row:
            row["n_utterances"] = record.get("n_utterances")
            row["n_speakers"] = record.get("n_speakers")
            row["flags"] = [f for f in record.get("flags") or () if f != "reference"]
        triple = (f"value_{key}", f"ci_low_{key}", f"ci_high_{key}")
        for part, field_name in zip(triple, ("value", "ci_low", "ci_high"), strict=True):
            row[part] = record.get(field_name)
        if triple not in estimates:
            estimates.append(triple)
            headers[triple[0]] = f"{title} [CI]"
        if not paired and "speech_seconds" in record:
            row[f"speech_seconds_{key}"] = record["speech_seconds"]
            headers[f"speech_seconds_{key}"] = f"speech s ({title})"
    return list(rows.values()), estimates, headers


def add_input_length(
    section: Section,
    sink: TableSink,
    source: str,
    records: Sequence[Mapping[str, Any]],
    indices: Sequence[int],
) -> None:
    """Add a small overview (overall rows, one per metric), then every record, to a section."""
    rows, estimates, headers = input_length_summary(records)
    if rows:
        durations = [
            headers[head].removesuffix(" [CI]") for head, _, _ in estimates if "_minus_" not in head
        ]
        export = sink.export("input_length_summary", rows)
        section.tables.append(
            build_table(
                export,
                rows,
                max_rows=sink.max_rows,
                caption=f"Input length: {' vs '.join(durations)} (all utterances; n is "
                "the rows behind the paired difference)",
                estimates=estimates,
                headers=headers,
            )
        )
    export = sink.export(f"{source}__input_length", records)
    section.tables.append(
        build_table(
            export,
            records,
            hidden=("target", "label"),
            max_rows=sink.max_rows,
            indices=indices,
            source=source,
            focus=sink.focus,
            caption="Input length by group: every metric and duration, with the gap to "
            "the reference",
        )
    )


def not_evaluated(model: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """Text of an input-length section without records: why, from the audit's settings."""
    requested = settings.get("input_seconds_requested", "auto")
    if requested is None or requested == "none":
        return "Not requested in this audit (input_seconds = none)."
    config = model.get("config")
    audio = config.get("audio") if isinstance(config, Mapping) else None
    clip = audio.get("clip_seconds") if isinstance(audio, Mapping) else None
    if finite(clip):
        return f"Not evaluated (model clip is {clip:g} s)."
    return "Not evaluated in this audit."
