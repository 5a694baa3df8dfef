"""The findings policy: which significant gaps are findings, and why the others are not.

The audit decides, the report only shows: every record of the ``metrics`` table gets
``finding`` (True for a gap flagged ``significant`` that is not held back) and
``held_back_reason`` (why a significant gap is not a finding; "" otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["FINDING", "HELD_BACK_REASON", "finding_columns", "held_back_reason"]

#: Keys of the findings decision in a record.
FINDING, HELD_BACK_REASON = "finding", "held_back_reason"
#: Agreement statistics that need more than one true class in the group.
_MULTICLASS_METRICS = frozenset({"kappa", "macro_recall"})
#: Flags that hold a gap back, with the reason shown, in this order of precedence.
_HOLDING_FLAGS = (
    ("empty", "empty group"),
    ("insufficient_data", "insufficient data"),
    ("single_class", "one true class in the group"),
)


def held_back_reason(record: Mapping[str, Any]) -> str:
    """Why a significant gap is not a finding: "" when it is one.

    Gaps of groups flagged ``insufficient_data``, ``empty`` or ``single_class`` (a group
    holding one true class) are never findings. Neither are kappa and macro recall in a
    group defined by the judged attribute itself (e.g. kappa of gender among women): such a
    group holds one true class, so these statistics do not measure agreement there and their
    gap to the overall value is an artefact.

    Examples
    --------
    >>> held_back_reason({"flags": ["significant", "insufficient_data"]})
    'insufficient data'
    >>> record = {"metric": "upper_kappa", "target": "gender", "group": {"gender": "female"}}
    >>> held_back_reason({**record, "flags": ["significant"]})
    'group fixes the judged attribute (gender)'
    >>> held_back_reason({"metric": "agreement", "flags": ["significant"]})
    ''
    """
    flags = record.get("flags")
    flags = flags if isinstance(flags, list | tuple) else ()
    for flag, reason in _HOLDING_FLAGS:
        if flag in flags:
            return reason
    metric = str(record.get("metric", "")).removeprefix("upper_").removeprefix("recorded_")
    group = record.get("group")
    if metric in _MULTICLASS_METRICS and isinstance(group, Mapping):
        if record.get("target") in group:
            return f"group fixes the judged attribute ({record.get('target')})"
    return ""


def finding_columns(metrics: pd.DataFrame) -> pd.DataFrame:
    """Append ``finding`` and ``held_back_reason`` to a metric table (a new frame).

    A record is a gap when the table has a ``difference`` column; a gap flagged
    ``significant`` is a finding unless `held_back_reason` gives a reason. Records that are
    not significant gaps get ``finding`` False and ``held_back_reason`` "".
    """
    out = metrics.copy()
    if "difference" not in out.columns or "flags" not in out.columns:
        out[FINDING] = pd.Series(False, index=out.index, dtype=bool)
        out[HELD_BACK_REASON] = pd.Series("", index=out.index, dtype=object)
        return out
    columns = [c for c in ("metric", "target", "group", "flags") if c in out.columns]
    reasons = []
    for values in zip(*(out[c] for c in columns), strict=True):
        record = dict(zip(columns, values, strict=True))
        significant = "significant" in (record["flags"] or ())
        reasons.append(held_back_reason(record) if significant else None)
    out[FINDING] = pd.Series([r == "" for r in reasons], index=out.index, dtype=bool)
    out[HELD_BACK_REASON] = pd.Series([r or "" for r in reasons], index=out.index, dtype=object)
    return out
