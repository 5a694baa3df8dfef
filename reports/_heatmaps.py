"""Confusion heatmaps: one matrix of rates and counts per judged attribute and group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports._load import LoadedAudit
from reports._tables import OTHER, check_focus, has_flag, row_category
from reports._wording import subject

__all__ = ["HEATMAPS_PER_TARGET", "Heatmap", "build_heatmaps", "is_long_confusion", "vocabularies"]

#: Heatmaps drawn per judged attribute (all cells are in the exports).
HEATMAPS_PER_TARGET = 40
#: Title prefix of a confusion metric by its first word (``upper_confusion`` -> "upper").
_TITLE_PREFIX = {"upper": "upper bound: ", "recorded": "recorded against reconstruction: "}


@dataclass(kw_only=True)
class Heatmap:
    """One confusion matrix: labels, rows of (rate, n) cells, and the row totals."""

    task: str
    group: str
    labels: list[str]
    rows: list[dict[str, Any]]
    insufficient: bool = False
    source: str = ""
    rows_are: str = "true"  # what the rows hold: the true face's label, or "recorded"


def is_long_confusion(records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether records are confusion cells (``true_label``, ``pred_label``, count, rate)."""
    return bool(records) and all("true_label" in r and "pred_label" in r for r in records)


def _matrices(
    records: Sequence[Mapping[str, Any]], wanted: frozenset[frozenset[str]] | None
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Cells grouped by (metric, judged attribute, group), with their labels in order."""
    matrices: dict[tuple[str, str, str], dict[str, Any]] = {}
    for index, record in enumerate(records):
        task = str(record.get("target") or "attribute")
        metric = str(record.get("metric", "confusion"))
        group = subject(record)
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
        true, pred = str(record["true_label"]), str(record["pred_label"])
        for label in (true, pred):
            if label not in entry["order"]:
                entry["order"].append(label)
        entry["cells"][(true, pred)] = (index, record)
        if has_flag(record, "insufficient_data"):
            entry["insufficient_rows"].add(true)
        entry["empty"] &= has_flag(record, "empty")
    return matrices


def _rows(entry: Mapping[str, Any], labels: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of one matrix: per true label its cells (rate, n) and its total n."""
    rows = []
    for true in labels:
        cells, row_n = [], None
        for pred in labels:
            index, record = entry["cells"].get((true, pred), (None, {}))
            if row_n is None and isinstance(record.get("n_utterances"), int):
                row_n = record["n_utterances"]
            cells.append(
                {
                    "label": pred,
                    "n": record.get("count"),
                    "rate": record.get("value"),
                    "index": index,
                }
            )
        if row_n is None:  # no row total recorded: show the sum of the cell counts
            row_n = sum(c["n"] for c in cells if isinstance(c["n"], int))
        insufficient = true in entry["insufficient_rows"]
        rows.append({"label": true, "n": row_n, "cells": cells, "insufficient": insufficient})
    return rows


def build_heatmaps(
    records: Sequence[Mapping[str, Any]],
    vocabularies: Mapping[str, Sequence[str]],
    per_target: int = HEATMAPS_PER_TARGET,
    source: str = "confusion",
    focus: Sequence[Sequence[str]] | None = None,
) -> tuple[list[Heatmap], list[str], int]:
    """Group confusion cells into matrices, one per (judged attribute, group).

    Cell count is ``count``, cell rate ``value``; the row total is the record's
    ``n_utterances`` when present. Groups whose cells are all flagged ``empty`` get no
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
    matrices = _matrices(records, wanted)
    outside = 0
    heatmaps, skipped = [], []
    drawn: dict[tuple[str, str], int] = {}
    for (metric, task, group), entry in sorted(
        matrices.items(), key=lambda item: item[1]["category"]
    ):
        if entry["category"] == OTHER:
            outside += 1
            continue
        title = _TITLE_PREFIX.get(metric.split("_")[0], "") + task
        if entry["empty"]:
            skipped.append(f"{title} — {group} (empty)")
            continue
        if drawn.get((metric, task), 0) >= per_target:
            skipped.append(f"{title} — {group}")
            continue
        drawn[(metric, task)] = drawn.get((metric, task), 0) + 1
        vocab = [str(v) for v in vocabularies.get(task, ())]
        labels = vocab + [label for label in entry["order"] if label not in vocab]
        rows = _rows(entry, labels)
        populated = [r for r in rows if r["n"]]
        all_small = bool(populated) and all(r["insufficient"] for r in populated)
        heatmaps.append(
            Heatmap(
                task=title,
                group=group,
                labels=labels,
                rows=rows,
                insufficient=all_small,
                source=source,
                rows_are="recorded" if metric.startswith("recorded_") else "true",
            )
        )
    return heatmaps, skipped, outside


def vocabularies(loaded: LoadedAudit) -> dict[str, Sequence[str]]:
    """Label vocabularies the audit recorded (``data.vocabularies``)."""
    vocab = loaded.section("data").get("vocabularies")
    if not isinstance(vocab, Mapping):
        return {}
    return {str(k): list(v) for k, v in vocab.items() if isinstance(v, list | tuple)}
