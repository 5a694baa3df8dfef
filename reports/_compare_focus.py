"""The comparison's first screen: the focus questions answered, read from the audit.

Everything shown comes from the comparison's ``focus`` table (`audit.compare_evaluations`
or `audit.compare_arms`): per focus group the focus metric under A and B, its gap to the
overall value under A and B, the change in the gap's size with the simultaneous interval of
its family and the adjusted p, and the verdict; for arms of several training seeds also the
change's interval with and without seed variance, the seed-to-seed spread of the gap and the
audit's seed verdict. The audit ranks the rows (changed gaps first) and decides every
verdict; this module only words them, folds the long tail and lays out the figure.
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
#: Words for the audit's seed verdicts (`audit._compare_focus.SEED_VERDICTS` codes): short,
#: in the first-screen table; the sentence above the table and the intro say them in full.
_SEED_WORDS = {
    "seed_noise": "seed noise (seed SD > change)",
    "beyond_seed_noise": "beyond seed noise",
    "within_noise": "within speaker and seed noise",
    "one_checkpoint": "training noise not measured",
    "too_few": "too few speakers",
    "value_unchanged": "value identical",
}


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


def _has_seeds(rec: Mapping[str, Any]) -> bool:
    """Whether a focus record comes from arms with several checkpoints in one arm at least."""
    n_a, n_b = rec.get("n_seeds_a"), rec.get("n_seeds_b")
    return "seed_verdict" in rec and _finite(n_a) and _finite(n_b) and max(n_a, n_b) > 1


def _interval(rec: Mapping[str, Any], low: str, high: str) -> str:
    if not _finite(rec.get(low)):
        return "—"
    return f"{_pts(rec.get(low), True)} to {_pts(rec.get(high), True)}"


def _seed_cells(rec: Mapping[str, Any]) -> dict[str, Any] | None:
    """Describe what the seeds say about one focus group (arms of several checkpoints)."""
    if not _has_seeds(rec):
        return None
    sd = rec.get("seed_sd")
    verdict = str(rec.get("seed_verdict"))
    return {
        "ci_with_seeds": _interval(rec, "change_ci_low", "change_ci_high"),
        "ci_speakers": _interval(rec, "speaker_ci_low", "speaker_ci_high"),
        "seed_sd": f"{100 * sd:.1f}" if _finite(sd) else "—",
        "verdict": verdict,
        "verdict_text": _SEED_WORDS.get(verdict, verdict),
        "raw": {
            key: rec.get(key)
            for key in (
                "change_ci_low",
                "change_ci_high",
                "speaker_ci_low",
                "speaker_ci_high",
                "seed_sd",
            )
        },
    }


def _seed_answer(rows: Sequence[Mapping[str, Any]]) -> str:
    """One sentence on training noise for arms of several checkpoints (else empty)."""
    seeded = [r for r in rows if _has_seeds(r)]
    if not seeded:
        return ""
    n_a, n_b = int(seeded[0]["n_seeds_a"]), int(seeded[0]["n_seeds_b"])
    judged = [
        r
        for r in seeded
        if r.get("seed_verdict") in ("seed_noise", "beyond_seed_noise", "within_noise")
    ]
    noisy = [r for r in judged if r.get("seed_verdict") == "seed_noise"]
    head = f"Training seeds ({n_a} checkpoint(s) in A, {n_b} in B): "
    if not judged:
        return head + "no focus group could be judged against the seed spread."
    if not noisy:
        return (
            head + f"for each of the {len(judged)} tested focus group(s) the seed-to-seed "
            "spread of the gap is smaller than its change between the arms."
        )
    names = ", ".join(str(r.get("group_label")) for r in noisy[:3])
    more = f" and {len(noisy) - 3} more" if len(noisy) > 3 else ""
    return (
        head + f"for {len(noisy)} of {len(judged)} tested focus group(s) ({names}{more}) the "
        "seed-to-seed spread of the gap is larger than its change between the arms: "
        "retraining one recipe with another seed moves these gaps more than the recipes differ."
    )


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
        "seed": _seed_cells(rec),
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
        ``figure`` and ``figure_caption``; for arms of several checkpoints ``seeds`` (True),
        ``seed_answer`` (one sentence on the seed spread) and each row's ``seed`` (the
        change's interval with and without seed variance, the seed SD and the audit's seed
        verdict in words).
    """
    records = list(records or [])
    if not records:
        return {"available": False, "rows": [], "folded": [], "figure": None, "seeds": False}
    questions = list(dict.fromkeys(str(r.get("question")) for r in records))
    rows = [_row(r) for r in records]
    plot, caption = _figure(records)
    return {
        "available": True,
        "questions": [q.replace(" x ", " × ") for q in questions],
        "answer": _answer(records, questions),
        "seed_answer": _seed_answer(records),
        "seeds": any(_has_seeds(r) for r in records),
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
