"""The comparison page's "what the training seeds say" rows: selected, never computed.

Every number comes from the audit's arm comparison (`audit.compare_arms`): the arm
difference, its interval with seed variance (``diff_ci_*`` / ``change_ci_*``), the interval
without (``speaker_ci_*``), the seed spread (``seed_sd``, per-arm SD and range) and the
flags. This module only chooses the rows (headline metrics, overall and the focus
attributes) and words the audit's seed verdict (``seed_verdict``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["SEED_ROWS_MAX", "seed_rows", "seed_verdict"]

#: Rows of each kind (metric, gap) shown at most; every row is in the exports.
SEED_ROWS_MAX = 40
_HEADLINE = ("agreement", "recall@1", "cos_sim", "cosine", "predicted_rate")
_WORDS = {
    "too_few": "too few speakers to say",
    "one_checkpoint": "one checkpoint per arm: training noise not measured",
    "seed_noise": "seed noise: retraining with another seed moves this more than the arms differ",
}


def seed_verdict(record: Mapping[str, Any]) -> str:
    """Plain words for one arm-comparison record's seed verdict (decided by the audit).

    The audit's ``seed_verdict`` code (`audit.compare_arms`) is worded; a difference beyond
    speaker and seed noise says its direction (higher or lower, a gap larger or smaller)
    from the sign of the estimate. A record without a code reads as not significant.

    Examples
    --------
    >>> seed_verdict({"seed_verdict": "seed_noise", "difference": 0.02})
    'seed noise: retraining with another seed moves this more than the arms differ'
    >>> seed_verdict({"seed_verdict": "beyond_seed_noise", "difference": -0.1})
    'B lower than A beyond speaker and seed noise'
    """
    code = record.get("seed_verdict")
    if code in _WORDS:
        return _WORDS[code]
    if code == "beyond_seed_noise":
        estimate = record.get("difference", record.get("change"))
        up = isinstance(estimate, int | float) and estimate > 0
        if "change" in record and "difference" not in record:
            return f"gap {'larger' if up else 'smaller'} under B beyond speaker and seed noise"
        return f"B {'higher' if up else 'lower'} than A beyond speaker and seed noise"
    # within_noise, value_unchanged (never tested): no significant difference
    return "not significant after correction (speaker and seed noise included)"


def _focus_attributes(focus: Iterable[Sequence[str]]) -> set[str]:
    return {attribute for item in focus for attribute in item}


def _shown(record: Mapping[str, Any], attributes: set[str], gaps: bool) -> bool:
    if record.get("metric") not in _HEADLINE or "n_seeds_a" not in record:
        return False
    attribute = str(record.get("attribute"))
    if gaps:
        return attribute in attributes
    return attribute == "overall" or attribute in attributes


def seed_rows(
    tables: Mapping[str, Sequence[Mapping[str, Any]]], focus: Iterable[Sequence[str]]
) -> dict[str, Any]:
    """Rows of the seeds section: headline metrics overall and by the focus attributes.

    Parameters
    ----------
    tables : mapping
        The arm comparison's tables (``paired``, ``disparity_change``) as records.
    focus : iterable of sequence of str
        Focus intersections; their attributes (one at a time) are shown.

    Returns
    -------
    dict
        ``metrics`` (from ``paired``) and ``gaps`` (from ``disparity_change``): the records
        with a ``verdict`` added, at most `SEED_ROWS_MAX` each, and ``left_out``: how many
        of each were not shown.
    """
    attributes = _focus_attributes(focus)
    out: dict[str, Any] = {"left_out": {}}
    for kind, name in (("metrics", "paired"), ("gaps", "disparity_change")):
        rows = [
            {**record, "verdict": seed_verdict(record)}
            for record in tables.get(name, [])
            if _shown(record, attributes, kind == "gaps")
        ]
        out[kind] = rows[:SEED_ROWS_MAX]
        out["left_out"][kind] = max(0, len(rows) - SEED_ROWS_MAX)
    return out
