"""Record conventions of audit.json: the column lists and the keys that say what a record is.

This module is the one owner of the column conventions of the audit's tables. A record says
what it is in its own keys, so that readers (``reports``) select by exact keys and never
parse a metric name:

- ``section``: the report section of a record of the ``metrics`` table (other tables
  belong to one section as a whole: audit.json's top-level ``table_sections``);
- ``base_metric``, ``input_seconds``, ``baseline_seconds``: on input-length records (target
  `INPUT_LENGTH_TARGET`), the metric measured, the input duration and, for a paired
  difference ``<metric> (b s - a s)``, the shorter duration ``a`` it is taken from (NaN
  otherwise);
- ``finding``, ``held_back_reason``: the findings decision of every gap (`audit._findings`).

The ``metric`` strings stay as they were (display text such as ``cos_sim (3 s)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from audit._findings import finding_columns
from audit.exceptions import AuditInputError

__all__ = [
    "BASELINE_SECONDS",
    "BASE_METRIC",
    "CONFUSION_COLUMNS",
    "FAMILY_COLUMNS",
    "INPUT_LENGTH_TARGET",
    "INPUT_SECONDS",
    "RECORD_COLUMNS",
    "REFERENCE_COLUMNS",
    "SECTION",
    "SECTIONS",
    "TABLE_SECTIONS",
    "record_fields",
    "spec_fields",
    "table_sections",
]

#: Columns of every group-metric table, in order (extra metric columns follow).
RECORD_COLUMNS: tuple[str, ...] = (
    "metric",
    "target",
    "label",
    "attribute",
    "group",
    "group_label",
    "n_utterances",
    "n_speakers",
    "value",
    "ci_low",
    "ci_high",
    "reference",
    "reference_value",
    "difference",
    "diff_ci_low",
    "diff_ci_high",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "p_value",
    "p_adjusted",
    "flags",
)
#: Disparity columns of a metric record; tables without a reference drop them.
REFERENCE_COLUMNS: tuple[str, ...] = RECORD_COLUMNS[
    RECORD_COLUMNS.index("reference") : RECORD_COLUMNS.index("p_value")
]
#: Columns that define a p-value family of the metric table.
FAMILY_COLUMNS: tuple[str, ...] = ("metric", "target", "label")
#: Columns of the confusion table.
CONFUSION_COLUMNS: tuple[str, ...] = (
    "metric",
    "target",
    "attribute",
    "group",
    "group_label",
    "true_label",
    "pred_label",
    "n_utterances",
    "n_speakers",
    "count",
    "value",
    "ci_low",
    "ci_high",
    "flags",
)
#: Target of the input-length metrics (feature similarity and recall@K per input duration).
INPUT_LENGTH_TARGET = "input_length"

#: Key of a record's report section.
SECTION = "section"
#: Keys of an input-length record: the metric measured, its duration, the paired baseline.
BASE_METRIC, INPUT_SECONDS, BASELINE_SECONDS = "base_metric", "input_seconds", "baseline_seconds"
#: Report sections, in the order the report shows them (``summary``: the first screen).
SECTIONS: tuple[str, ...] = (
    "summary",
    "composition",
    "confusion",
    "agreement",
    "disparities",
    "language_swap",
    "retrieval",
    "similarity",
    "input_length",
    "craniofacial",
    "pitch",
    "calibration",
)
#: Section of each table the audit writes whose records all belong to one section; a table
#: not named here is shown under "other tables". The ``metrics`` table mixes sections: each
#: of its records carries ``section``.
TABLE_SECTIONS: Mapping[str, str] = {
    "groups": "composition",
    "confusion": "confusion",
    "confusion_judge_corrected": "confusion",
    "judge_accuracy_by_group": "agreement",
    "craniofacial": "craniofacial",
    "pitch": "pitch",
    "language_swap": "language_swap",
    "focus": "summary",
    "focus_groups": "summary",
    "summary": "summary",
}


class _Spec(Protocol):
    """What `record_fields` reads of a `audit.stats.MetricSpec`."""

    metric: str
    target: str
    label: str | None
    fields: Mapping[str, Any]


def table_sections(names: Sequence[str]) -> dict[str, str | None]:
    """Return audit.json's ``table_sections``: table name -> section id, None for "other".

    Examples
    --------
    >>> table_sections(["groups", "metrics", "errors"])
    {'groups': 'composition', 'metrics': None, 'errors': None}
    """
    return {name: TABLE_SECTIONS.get(name) for name in names}


def _key(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def record_fields(metrics: pd.DataFrame, specs: Sequence[_Spec]) -> pd.DataFrame:
    """Return the metric table with the keys that say what each record is, appended.

    Each record gets the ``fields`` of the spec it was computed from (matched by the family
    key ``metric``, ``target``, ``label``): ``section`` always, the input-length keys when
    some spec has them (NaN, or None for text, elsewhere), then ``finding`` and ``held_back_reason``
    (`audit._findings.finding_columns`). Existing columns and their order are unchanged.

    Raises
    ------
    AuditInputError
        If a record matches no spec, or two specs share a family key with different fields.
    """
    return finding_columns(spec_fields(metrics, specs))


def spec_fields(metrics: pd.DataFrame, specs: Sequence[_Spec]) -> pd.DataFrame:
    """Return a table of metric records with its specs' ``fields`` appended, ``section`` first.

    The keys of `record_fields` without the findings decision: the comparison's ``paired``
    and ``disparity_change`` tables carry them too. Raises as `record_fields`.
    """
    by_key: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for spec in specs:
        key = (spec.metric, spec.target, spec.label)
        if by_key.setdefault(key, spec.fields) != spec.fields:
            raise AuditInputError(f"two metric specs {key} carry different record fields")
    names = list(dict.fromkeys(name for fields in by_key.values() for name in fields))
    if SECTION in names:  # section first, the rest in spec order
        names.remove(SECTION)
    names = [SECTION, *names]
    out = metrics.copy()
    rows = []
    for i, key in enumerate(zip(*(out[c] for c in FAMILY_COLUMNS), strict=True)):
        fields = by_key.get(tuple(_key(v) for v in key))
        if fields is None:
            raise AuditInputError(f"metrics record {i} {key} matches no metric spec")
        rows.append(fields)
    for name in names:
        values = [fields.get(name) for fields in rows]
        if all(v is None or isinstance(v, float) for v in values):  # NaN where absent
            out[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            out[name] = pd.Series(values, index=out.index, dtype=object)
    return out
