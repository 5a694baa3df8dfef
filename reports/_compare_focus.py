"""The comparison's first screen: the focus questions answered, read from the audit.

Everything shown comes from the comparison's ``focus`` table (`audit.compare_evaluations`
or `audit.compare_arms`): per focus group the focus metric under A and B, its gap to the
overall value under A and B, the change in the gap's size with the simultaneous interval of
its family and the adjusted p, and the verdict. The audit ranks the rows (changed gaps
first); this module only words them, folds the long tail and lays out the figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reports._figures import ForestPlot, forest_plot
from reports._tables import group_label

__all__ = ["FIGURE_ROWS", "FOCUS_ROWS", "focus_context", "moved_order"]

#: Focus rows shown in the first-screen table; the rest are folded in ``<details>``.
FOCUS_ROWS = 6
#: Rows of the first-screen figure at most (tested groups, changed ones first).
FIGURE_ROWS = 10
_WORDS = {
    "grew": "gap larger under B",
    "shrank": "gap smaller under B",
    "no_change": "no evidence that the gap changed",
    "value_unchanged": "value identical under A and B: not a change",
    "too_few": "too few speakers to say",
}
_TESTED = ("grew", "shrank", "no_change")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _pts(value: Any, signed: bool = False) -> str:
    if not _finite(value):
        return "—"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}%"


def _p(value: Any) -> str:
    if not _finite(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _row(rec: Mapping[str, Any]) -> dict[str, Any]:
    verdict = str(rec.get("verdict"))
    return {
        "rank": rec.get("rank"),
        "question": str(rec.get("question", "")).replace(" x ", " × "),
        "label": rec.get("group_label") or group_label(rec.get("group")),
        "n_speakers": rec.get("n_speakers"),
        "value_a": _pts(rec.get("value_a")),
        "value_b": _pts(rec.get("value_b")),
        "gap_a": _pts(rec.get("disparity_a"), True),
        "gap_b": _pts(rec.get("disparity_b"), True),
        "change": _pts(rec.get("change"), True)
        if verdict in _TESTED
        else ("not a change" if verdict == "value_unchanged" else "—"),
        "ci": f"{_pts(rec.get('change_sim_low'), True)} to {_pts(rec.get('change_sim_high'), True)}"
        if _finite(rec.get("change_sim_low"))
        else "",
        "p": _p(rec.get("p_adjusted")),
        "verdict": verdict,
        "verdict_text": _WORDS.get(verdict, verdict),
        "raw": {
            key: rec.get(key)
            for key in ("change", "change_sim_low", "change_sim_high", "p_adjusted")
        },
    }


def _answer(rows: Sequence[Mapping[str, Any]], questions: Sequence[str]) -> str:
    moved = [r for r in rows if r.get("verdict") in ("grew", "shrank")]
    if moved:
        parts = [
            f"{r.get('group_label')} ({_WORDS[str(r.get('verdict'))]}, "
            f"{_pts(r.get('change'), True)} points, adjusted p {_p(r.get('p_adjusted'))})"
            for r in moved[:3]
        ]
        more = f" and {len(moved) - 3} more" if len(moved) > 3 else ""
        return "The gap changed for " + "; ".join(parts) + more + "."
    tested = sum(r.get("verdict") in _TESTED for r in rows)
    asked = " and ".join(q.replace(" x ", " × ") for q in questions)
    if not tested:
        same = sum(r.get("verdict") == "value_unchanged" for r in rows)
        return (
            f"No group of {asked} could be tested: {same} have the same value under A and B "
            f"and {len(rows) - same} too few speakers."
        )
    return (
        f"No gap of {asked} changed significantly ({tested} group(s) tested). This is not "
        "evidence that nothing changed: small changes can stay undetected."
    )


def _gaps_figure(rows: Sequence[Mapping[str, Any]]) -> tuple[ForestPlot | None, str]:
    """No focus group was tested: each group's gap under A and under B, points only."""
    kept = [r for r in rows if r.get("verdict") != "too_few" and _finite(r.get("disparity_b"))]
    kept = kept[: FIGURE_ROWS // 2]
    labels, points, muted = [], [], []
    for r in kept:
        for arm in ("a", "b"):
            labels.append(f"{r.get('group_label')}, {arm.upper()}")
            points.append({"gap": r.get(f"disparity_{arm}")})
            muted.append(arm == "a")
    plot = forest_plot(
        labels,
        points,
        point="gap",
        low="",
        high="",
        muted=muted,
        title="gap to the overall value",
        reference=0.0,
    )
    caption = (
        "No focus group could be tested, so no change is estimated: each group's gap to the "
        "overall value under A (hollow grey) and B (blue), without intervals."
    )
    return plot, caption if plot is not None else ""


def _figure(rows: Sequence[Mapping[str, Any]]) -> tuple[ForestPlot | None, str]:
    tested = [r for r in rows if r.get("verdict") in _TESTED and _finite(r.get("change"))]
    shown = tested[:FIGURE_ROWS]
    if not shown:
        return _gaps_figure(rows)
    plot = forest_plot(
        [str(r.get("group_label")) for r in shown],
        shown,
        point="change",
        low="change_sim_low",
        high="change_sim_high",
        muted=[r.get("verdict") == "no_change" for r in shown],
        title="change in the size of the gap to overall, B − A",
        reference=0.0,
    )
    left = len(tested) - len(shown)
    caption = (
        "Focus groups: change in the size of each group's gap to the overall value (B − A) "
        "with its simultaneous interval; right of the dashed line the gap grew. Hollow grey: "
        "no significant change. Groups whose value is identical under A and B are not drawn."
        + (f" {left} more tested group(s) are in the table." if left else "")
    )
    return plot, caption


def focus_context(records: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Context of the comparison's first screen from the ``focus`` table's records.

    Returns
    -------
    dict
        ``available`` (False when the comparison has no focus table), ``answer`` (one
        sentence), ``rows`` (the first `FOCUS_ROWS`), ``folded`` (the others),
        ``figure`` and ``figure_caption``.
    """
    records = list(records or [])
    if not records:
        return {"available": False, "rows": [], "folded": [], "figure": None}
    questions = list(dict.fromkeys(str(r.get("question")) for r in records))
    rows = [_row(r) for r in records]
    plot, caption = _figure(records)
    return {
        "available": True,
        "questions": [q.replace(" x ", " × ") for q in questions],
        "answer": _answer(records, questions),
        "rows": rows[:FOCUS_ROWS],
        "folded": rows[FOCUS_ROWS:],
        "figure": plot,
        "figure_caption": caption,
        "records": records,
    }


def moved_order(record: Mapping[str, Any], focus: frozenset[frozenset[str]]) -> tuple:
    """Sort key of a grown or shrunk gap: focus intersections first, then adjusted p.

    Examples
    --------
    >>> focus = frozenset({frozenset({"language", "ethnicity"})})
    >>> moved_order({"group": {"language": "en", "ethnicity": "Asian"}, "p_adjusted": 0.2}, focus)
    (0, 0.2)
    """
    group = record.get("group")
    in_focus = isinstance(group, Mapping) and frozenset(group) in focus
    p = record.get("p_adjusted")
    return (0 if in_focus else 1, p if _finite(p) else 2.0)
