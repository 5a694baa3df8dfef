"""The comparison page's "what the training seeds say" rows: selected, never computed.

Every number comes from the audit's arm comparison (`audit.compare_arms`): the arm
difference, its interval with seed variance (``diff_ci_*`` / ``change_ci_*``), the interval
without (``speaker_ci_*``), the seed spread (``seed_sd``, per-arm SD and range) and the
flags. This module only chooses the rows (headline metrics, overall and the focus
attributes) and turns flags into a plain verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reports._tables import has_flag

__all__ = ["SEED_ROWS_MAX", "seed_rows", "seed_verdict"]

#: Rows of each kind (metric, gap) shown at most; every row is in the exports.
SEED_ROWS_MAX = 40
_HEADLINE = ("agreement", "recall@1", "cos_sim", "cosine", "predicted_rate")


def seed_verdict(record: Mapping[str, Any]) -> str:
    """Plain verdict of one arm-comparison record, from its flags and seed counts.

    Rule, first match wins: too few speakers; one checkpoint per arm (training noise not
    measured); ``seed_spread_exceeds_difference`` (seed noise); ``significant`` (a
    difference beyond speaker and seed noise, higher or lower by the sign of the
    difference, after the family's multiple-testing correction); otherwise not significant.

    Examples
    --------
    >>> seed_verdict({"flags": ["seed_spread_exceeds_difference"], "n_seeds_a": 3,
    ...               "n_seeds_b": 3, "difference": 0.02})
    'seed noise: retraining with another seed moves this more than the arms differ'
    >>> seed_verdict({"flags": ["significant"], "n_seeds_a": 3, "n_seeds_b": 3,
    ...               "difference": -0.1})
    'B lower than A beyond speaker and seed noise'
    """
    if has_flag(record, "empty") or has_flag(record, "insufficient_data"):
        return "too few speakers to say"
    if record.get("n_seeds_a", 1) == 1 and record.get("n_seeds_b", 1) == 1:
        return "one checkpoint per arm: training noise not measured"
    if has_flag(record, "seed_spread_exceeds_difference"):
        return "seed noise: retraining with another seed moves this more than the arms differ"
    if has_flag(record, "significant"):
        estimate = record.get("difference", record.get("change"))
        word = "higher" if isinstance(estimate, int | float) and estimate > 0 else "lower"
        if "change" in record and "difference" not in record:
            word = "larger" if word == "higher" else "smaller"
            return f"gap {word} under B beyond speaker and seed noise"
        return f"B {word} than A beyond speaker and seed noise"
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
