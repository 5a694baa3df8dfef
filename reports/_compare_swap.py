"""The comparison page's "did the language-swap effect change?" rows, read from the audit.

Every number comes from the comparison's ``language_swap_change`` table
(`audit.compare_evaluations` / `audit.compare_arms`): per group of bilingual speakers,
language pair and outcome, the within-speaker shift under A and under B, the change B - A
with its paired interval and adjusted p, the seed spread with several checkpoints per arm,
and the flags. This module picks the rows to show (significant changes first, then every
outcome over all bilingual speakers) and words the flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports._tables import has_flag

__all__ = ["SWAP_ROWS", "swap_change_context", "swap_verdict"]

#: Rows shown at most; every row is in the export ``language_swap_change``.
SWAP_ROWS = 24


def swap_verdict(record: Mapping[str, Any]) -> str:
    """Plain words for one row's flags (decided by the audit), first match wins.

    Examples
    --------
    >>> swap_verdict({"flags": ["significant"], "change": -0.2})
    'the swap effect is smaller under B'
    >>> swap_verdict({"flags": ["seed_spread_exceeds_difference"], "change": 0.01})
    'seed noise: retraining with another seed moves this more than the models differ'
    """
    if has_flag(record, "insufficient_data"):
        return "too few speakers to say"
    if has_flag(record, "seed_spread_exceeds_difference"):
        return "seed noise: retraining with another seed moves this more than the models differ"
    if has_flag(record, "significant"):
        change = record.get("change")
        larger = isinstance(change, int | float) and change > 0
        return f"the swap effect is {'larger' if larger else 'smaller'} under B"
    return "no evidence that the swap effect changed"


def _shown(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Significant rows first (in the audit's order), then the ``all`` grouping's rows."""
    first = [r for r in records if has_flag(r, "significant")]
    rest = [r for r in records if r.get("grouping") == "all" and not has_flag(r, "significant")]
    return [*first, *rest][:SWAP_ROWS]


def swap_change_context(records: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Context of the swap-change section from the ``language_swap_change`` records.

    Returns
    -------
    dict
        ``available`` (False when no speaker is heard in two languages), ``answer`` (one
        sentence), ``rows`` (records with ``verdict`` added, at most `SWAP_ROWS`),
        ``left_out`` (rows only in the export) and ``seeds`` (several checkpoints per arm).
    """
    records = list(records or [])
    if not records:
        return {"available": False, "rows": [], "left_out": 0, "seeds": False}
    rows = [{**r, "verdict": swap_verdict(r)} for r in _shown(records)]
    changed = [r for r in records if has_flag(r, "significant")]
    tested = sum(not has_flag(r, "insufficient_data") for r in records)
    if changed:
        names = "; ".join(f"{r.get('outcome')} in {r.get('group')}" for r in changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        answer = f"The language-swap effect changed significantly for {names}."
    else:
        answer = (
            f"No change of the language-swap effect is significant ({tested} row(s) tested). "
            "This is not evidence that nothing changed: small changes can stay undetected."
        )
    seeds = any(r.get("n_seeds_a", 1) > 1 or r.get("n_seeds_b", 1) > 1 for r in records)
    return {
        "available": True,
        "answer": answer,
        "rows": rows,
        "left_out": len(records) - len(rows),
        "seeds": seeds,
    }
