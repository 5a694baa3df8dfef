"""Two audits side by side when no paired comparison is available (unpaired view).

Records of the same table in audit A and audit B are matched by their identifying fields;
the difference of two point estimates is shown, clearly not a paired estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reports._tables import _flags, group_label, has_flag

__all__ = ["simultaneous_gaps", "unpaired_comparison"]

#: Keys that vary between two audits of the same rows (never part of a record's identity);
#: ``finding`` and ``held_back_reason`` are the audit's judgement of a significant gap.
_MEASURED = frozenset(
    {
        "finding",
        "held_back_reason",
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


#: Columns of an audit's simultaneous interval of a gap.
_SIM = ("diff_sim_low", "diff_sim_high")


def simultaneous_gaps(records: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str, str], ...]:
    """Show each audit's gap with its simultaneous interval where the audit has one."""
    return tuple(
        (f"difference_{s}", f"diff_sim_low_{s}", f"diff_sim_high_{s}")
        for s in ("a", "b")
        if any(math.isfinite(_number(r.get(f"diff_sim_low_{s}"))) for r in records)
    )
