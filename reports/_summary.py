"""The executive summary on the report's first screen: verdicts, findings, headline figure.

Everything shown here is read from the audit's tables ``focus`` (one verdict per focus
question), ``focus_groups`` (one row per group of a focus question) and ``summary`` (the
findings the audit selected, by the rule in `audit._focus`); this module only words and
lays them out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reports._figures import ForestPlot, forest_plot
from reports._tables import fmt_number, group_label

__all__ = ["SUMMARY_TABLES", "VerdictBox", "build_summary", "verdict_sentence"]

#: Tables rendered by the executive summary (and exported) rather than as "other tables".
SUMMARY_TABLES = frozenset({"focus", "focus_groups", "summary"})
#: Groups listed in a verdict box's table (tested ones first); the rest are folded.
BOX_ROWS = 6
_PROPORTION = ("agreement", "recall", "rate", "accuracy")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_rate(metric: Any) -> bool:
    return any(word in str(metric) for word in _PROPORTION)


def _num(value: Any, rate: bool, signed: bool = False) -> str:
    if not _finite(value):
        return "—"
    if rate:
        return f"{100 * value:+.1f} pts" if signed else f"{100 * value:.1f}%"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _p(value: Any) -> str:
    if not _finite(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def verdict_sentence(code: str, mdd: Any, rate: bool) -> str:
    """Plain-language verdict of a focus question or group.

    Examples
    --------
    >>> verdict_sentence("no_evidence", 0.123, True)
    'No evidence; gaps smaller than 12.3 points could not have been detected'
    >>> verdict_sentence("no_evidence", None, True)
    'No evidence; the size of a detectable gap is unknown'
    """
    if code == "gap":
        return "Evidence of a gap"
    if code == "no_evidence":
        if not _finite(mdd):  # JSON null: no interval to size the gap with
            return "No evidence; the size of a detectable gap is unknown"
        size = f"{100 * mdd:.1f} points" if rate else f"{mdd:.3f}"
        return f"No evidence; gaps smaller than {size} could not have been detected"
    return "Too few speakers to say"


@dataclass(frozen=True)
class VerdictBox:
    """One focus question's box: verdict, overall value and a few group rows."""

    question: str
    metric: str
    verdict: str
    text: str
    overall: str
    rows: tuple[dict[str, Any], ...]
    folded: tuple[dict[str, Any], ...] = field(default=())


def _group_row(rec: Mapping[str, Any], rate: bool) -> dict[str, Any]:
    sim = _finite(rec.get("diff_sim_low")) or _finite(rec.get("diff_sim_high"))
    low, high = ("diff_sim_low", "diff_sim_high") if sim else ("diff_ci_low", "diff_ci_high")
    return {
        "label": rec.get("group_label") or group_label(rec.get("group")),
        "value": _num(rec.get("value"), rate),
        "ci": f"{_num(rec.get('ci_low'), rate)} to {_num(rec.get('ci_high'), rate)}",
        "n_speakers": rec.get("n_speakers"),
        "gap": _num(rec.get("difference"), rate, signed=True),
        "gap_ci": f"{_num(rec.get(low), rate, True)} to {_num(rec.get(high), rate, True)}",
        "p": _p(rec.get("p_adjusted")),
        "verdict": rec.get("verdict"),
        "verdict_text": verdict_sentence(str(rec.get("verdict")), rec.get("mdd"), rate),
        "raw": {
            "value": rec.get("value"),
            "difference": rec.get("difference"),
            "low": rec.get(low),
            "high": rec.get(high),
            "p_adjusted": rec.get("p_adjusted"),
        },
    }


def _boxes(
    questions: Sequence[Mapping[str, Any]], groups: Sequence[Mapping[str, Any]]
) -> list[VerdictBox]:
    order = {"gap": 0, "no_evidence": 1, "too_few": 2}
    boxes = []
    for q in questions:
        rate = _is_rate(q.get("metric"))
        mine = [g for g in groups if g.get("question") == q.get("question")]
        mine.sort(key=lambda g: (order.get(str(g.get("verdict")), 3), _sort_p(g)))
        rows = tuple(_group_row(g, rate) for g in mine if g.get("verdict") != "too_few")
        folded = (
            tuple(_group_row(g, rate) for g in mine if g.get("verdict") == "too_few")
            + rows[BOX_ROWS:]
        )
        what = _of(q.get("metric"), q.get("target")) if q.get("target") else "not measured"
        boxes.append(
            VerdictBox(
                question=str(q.get("question", "")).replace(" x ", " × "),
                metric=what,
                verdict=str(q.get("verdict")),
                text=verdict_sentence(str(q.get("verdict")), q.get("mdd_max"), rate)
                if q.get("measured")
                else "Not measured in this audit",
                overall=_num(q.get("overall_value"), rate),
                rows=rows[:BOX_ROWS],
                folded=folded,
            )
        )
    return boxes


def _of(metric: Any, target: Any, label: str = "") -> str:
    """Return e.g. "agreement of gender" (``recorded_``: "... with the recorded value")."""
    name = str(metric)
    if name.startswith("recorded_"):
        return f"{name.removeprefix('recorded_')}{label} of {target} with the recorded value"
    return f"{name}{label} of {target}"


def _sort_p(rec: Mapping[str, Any]) -> float:
    p = rec.get("p_adjusted")
    return p if _finite(p) else 2.0


def finding_sentence(rec: Mapping[str, Any], ci_label: str) -> str:
    """One executive-summary finding in plain language, with its numbers."""
    rate = _is_rate(rec.get("metric"))
    label = f" ({rec['label']})" if isinstance(rec.get("label"), str) else ""
    what = _of(rec.get("metric"), rec.get("target"), label)
    diff = rec.get("difference")
    direction = "higher" if _finite(diff) and diff > 0 else "lower"
    size = _num(abs(diff), rate, False).replace("%", " points") if _finite(diff) else "—"
    sim = _finite(rec.get("diff_sim_low"))
    low, high = ("diff_sim_low", "diff_sim_high") if sim else ("diff_ci_low", "diff_ci_high")
    kind = f"{ci_label} simultaneous CI" if sim else f"{ci_label} CI"
    ref = "overall" if rec.get("reference") == "overall" else f"for {rec.get('reference')}"
    return (
        f"{rec.get('group_label')}: {what} {_num(rec.get('value'), rate)} against "
        f"{_num(rec.get('reference_value'), rate)} {ref}, {size} {direction} "
        f"({kind} {_num(rec.get(low), rate, True)} to {_num(rec.get(high), rate, True)}; "
        f"adjusted p {_p(rec.get('p_adjusted'))}; {fmt_number(rec.get('n_speakers'))} speakers)."
    )


def _headline(
    questions: Sequence[Mapping[str, Any]], groups: Sequence[Mapping[str, Any]]
) -> tuple[ForestPlot | None, str]:
    """Forest plot of the first measured focus question's metric per group vs overall."""
    for q in questions:
        if not q.get("measured"):
            continue
        mine = [g for g in groups if g.get("question") == q.get("question")]
        mine = [g for g in mine if _finite(g.get("value"))][:40]
        labels = [str(g.get("group_label")) for g in mine]
        muted = [g.get("verdict") == "too_few" for g in mine]
        overall = q.get("overall_value")
        plot = forest_plot(
            labels,
            mine,
            point="value",
            low="ci_low",
            high="ci_high",
            muted=muted,
            title=f"{_of(q.get('metric'), q.get('target'))} (dashed: overall)",
            reference=float(overall) if _finite(overall) else None,
        )
        caption = (
            f"Headline: {_of(q.get('metric'), q.get('target'))} per group of "
            f"{str(q.get('question')).replace(' x ', ' × ')}, with intervals, against the "
            "overall value (dashed). Hollow grey: too few speakers to say."
        )
        return plot, caption
    return None, ""


def build_summary(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    model: Mapping[str, Any],
    data: Mapping[str, Any],
    ci_label: str,
) -> dict[str, Any]:
    """Context of the executive summary (empty ``boxes`` for audits without focus tables)."""
    questions = list(tables.get("focus", []))
    groups = list(tables.get("focus_groups", []))
    findings = [finding_sentence(r, ci_label) for r in tables.get("summary", [])][:5]
    plot, caption = _headline(questions, groups)
    training = model.get("training_data") if isinstance(model, Mapping) else None
    trained_on = training.get("source") if isinstance(training, Mapping) else None
    return {
        "available": bool(questions),
        "boxes": _boxes(questions, groups),
        "findings": findings,
        "figure": plot,
        "figure_caption": caption,
        "model_line": f"{model.get('name') or 'unnamed model'}"
        + (f", trained on {trained_on}" if trained_on else ""),
        "data_line": f"{data.get('source') or 'unknown source'}: "
        f"{fmt_number(data.get('n_utterances'))} utterances from "
        f"{fmt_number(data.get('n_speakers'))} speakers",
    }
