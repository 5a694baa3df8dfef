"""Focus questions and the executive summary: what the audit was run for, answered first.

A *focus question* is an intersection of grouping columns (default: language x ethnicity,
where the paper found its gap, and gender x age group). For each, the audit picks the
focus metric (``agreement`` of a judged attribute of the intersection) and gives every group
of the intersection a verdict:

- ``gap``: "evidence of a gap" (the row is flagged ``significant``);
- ``no_evidence``: "no evidence; gaps smaller than ``mdd`` could not have been detected";
- ``too_few``: "too few speakers to say" (empty, insufficient data, or untested).

The question's verdict is ``gap`` when any group has one, else ``no_evidence`` when some
group was tested (with the largest ``mdd`` of its tested groups), else ``too_few``.

The executive summary (`summary_findings`) lists at most `MAX_FINDINGS` findings by this
rule: first, per focus question with a gap, its group with the smallest adjusted p; then the
other significant gaps of reconstructions (no ``upper_`` metrics, none of a group with
insufficient data, one true class, or kappa / macro recall in a group that fixes the judged
attribute), at most one per (metric, target, label, attribute), smallest adjusted p first,
ties by the larger |difference|. Everything is data (fields), never text to parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from audit.exceptions import AuditInputError

__all__ = [
    "DEFAULT_FOCUS",
    "FOCUS_METRIC",
    "MAX_FINDINGS",
    "RECORDED_FOCUS_METRIC",
    "VERDICTS",
    "check_focus",
    "focus_metric_of",
    "focus_tables",
    "summary_findings",
]

#: Default focus questions.
DEFAULT_FOCUS: tuple[tuple[str, ...], ...] = (("language", "ethnicity"), ("gender", "age_group"))
#: Metric answering a focus question.
FOCUS_METRIC = "agreement"
#: Focus metric of an audit of data without face images (`focus_metric_of`).
RECORDED_FOCUS_METRIC = "recorded_agreement"
#: Judged attributes in the order a focus question's target is chosen from.
_TARGET_ORDER = ("ethnicity", "gender", "age_group")
#: Findings of the executive summary at most.
MAX_FINDINGS = 5
#: Verdict codes and their plain-language meaning (the report words them).
VERDICTS: dict[str, str] = {
    "gap": "evidence of a gap",
    "no_evidence": "no evidence; gaps smaller than the minimum detectable difference could "
    "not have been detected",
    "too_few": "too few speakers to say",
}
_MULTICLASS = frozenset({"kappa", "macro_recall"})
_NOT_TESTED = frozenset({"empty", "insufficient_data", "insufficient_reference"})
_ROW_COLUMNS = (
    "value",
    "ci_low",
    "ci_high",
    "n_utterances",
    "n_speakers",
    "reference",
    "reference_value",
    "difference",
    "diff_ci_low",
    "diff_ci_high",
    "diff_sim_low",
    "diff_sim_high",
    "p_value",
    "p_adjusted",
    "mdd",
)


def check_focus(focus: object) -> tuple[tuple[str, ...], ...]:
    """Validate focus questions: a sequence of tuples of two or more distinct column names.

    Examples
    --------
    >>> check_focus([("language", "ethnicity")])
    (('language', 'ethnicity'),)
    """
    if isinstance(focus, str) or not isinstance(focus, Sequence):
        raise AuditInputError(
            "focus must be a sequence of column tuples such as [('language', 'ethnicity')], "
            f"got {focus!r}"
        )
    out = []
    for item in focus:
        if isinstance(item, str) or not all(isinstance(c, str) for c in item):
            raise AuditInputError(
                f"a focus question is a tuple of column names such as ('language', 'ethnicity'), "
                f"got {item!r}"
            )
        if len(set(item)) < 2 or len(set(item)) != len(item):
            raise AuditInputError(
                f"a focus question needs two or more distinct columns, got {tuple(item)!r}"
            )
        out.append(tuple(item))
    return tuple(out)


def _attribute(question: Sequence[str], columns: Mapping[str, frozenset[str]]) -> str | None:
    """Find the metric table's attribute of an intersection (columns in any order).

    ``columns`` maps each attribute to its grouping columns, read from the records' ``group``
    (column -> label), never from the attribute's name.
    """
    wanted = set(question)
    for attribute, grouped in columns.items():
        if grouped == wanted:
            return attribute
    return None


def _target(question: Sequence[str], targets: Sequence[str]) -> str | None:
    for column in question:
        if column in targets:
            return column
    return next((t for t in _TARGET_ORDER if t in targets), None)


def focus_metric_of(metrics: pd.DataFrame) -> str:
    """Return the metric that answers focus questions in this metric table.

    ``agreement`` (true face against reconstruction) where measured; without face images,
    ``recorded_agreement`` (the speaker's recorded attribute against the reconstruction).
    """
    names = set(metrics["metric"]) if len(metrics) else set()
    if FOCUS_METRIC not in names and RECORDED_FOCUS_METRIC in names:
        return RECORDED_FOCUS_METRIC
    return FOCUS_METRIC


def _verdict(flags: Sequence[str], p_adjusted: float) -> str:
    if _NOT_TESTED & set(flags) or not np.isfinite(p_adjusted):
        return "too_few"
    return "gap" if "significant" in flags else "no_evidence"


def focus_tables(
    metrics: pd.DataFrame, focus: Sequence[Sequence[str]], metric: str = FOCUS_METRIC
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verdicts of the focus questions, per question and per group.

    Parameters
    ----------
    metrics : DataFrame
        The audit's metric table (with ``p_adjusted``, flags and ``mdd``).
    focus : sequence of tuple of str
        Focus questions (`check_focus`).
    metric : str
        Focus metric.

    Returns
    -------
    questions : DataFrame
        One row per question: ``question`` (columns joined by " x "), ``attribute`` (the
        metric table's), ``metric``, ``target``, ``overall_value``, ``verdict``,
        ``verdict_text``, ``n_groups``, ``n_gap``, ``n_tested``, ``n_too_few``, ``mdd_max``
        (largest minimum detectable difference among tested groups), ``measured``
        (False when the table lacks the intersection or the metric).
    groups : DataFrame
        One row per (question, group) with ``group``, ``group_label``, the estimates of the
        metric table (value and CI, n, difference with unadjusted and simultaneous
        intervals, p-values, ``mdd``), ``verdict`` and ``row`` (index in ``metrics``).
    """
    columns: dict[str, frozenset[str]] = {}
    if len(metrics):
        for attribute, group in zip(metrics["attribute"], metrics["group"], strict=True):
            columns.setdefault(attribute, frozenset(group))
    rates = metrics[metrics["metric"] == metric] if len(metrics) else metrics
    targets = list(dict.fromkeys(rates["target"])) if len(rates) else []
    q_rows, g_rows = [], []
    for question in check_focus(focus):
        name = " x ".join(question)
        attribute = _attribute(question, columns)
        target = _target(question, targets)
        rows = rates[(rates["attribute"] == attribute) & (rates["target"] == target)]
        overall = rates[(rates["attribute"] == "overall") & (rates["target"] == target)]
        verdicts = []
        for idx, rec in rows.iterrows():
            verdict = _verdict(rec["flags"], rec["p_adjusted"])
            verdicts.append((verdict, rec.get("mdd", np.nan)))
            g_rows.append(
                {
                    "question": name,
                    "metric": metric,
                    "target": target,
                    "group": dict(rec["group"]),
                    "group_label": rec["group_label"],
                    **{c: rec.get(c, np.nan) for c in _ROW_COLUMNS},
                    "verdict": verdict,
                    "row": int(idx),
                }
            )
        q_rows.append(
            {
                "question": name,
                "attribute": attribute,
                "metric": metric,
                "target": target,
                "overall_value": float(overall["value"].iloc[0]) if len(overall) else np.nan,
                "measured": bool(len(rows)),
                **_question_verdict(verdicts),
            }
        )
    return pd.DataFrame(q_rows), pd.DataFrame(g_rows)


def _question_verdict(verdicts: Sequence[tuple[str, float]]) -> dict[str, object]:
    """Return a question's verdict and counts from its groups' (verdict, mdd) pairs."""
    codes = [v for v, _ in verdicts]
    tested_mdd = [m for v, m in verdicts if v != "too_few" and np.isfinite(m)]
    if "gap" in codes:
        verdict = "gap"
    elif "no_evidence" in codes:
        verdict = "no_evidence"
    else:
        verdict = "too_few"
    return {
        "verdict": verdict,
        "verdict_text": VERDICTS[verdict],
        "n_groups": len(codes),
        "n_gap": codes.count("gap"),
        "n_tested": len(codes) - codes.count("too_few"),
        "n_too_few": codes.count("too_few"),
        "mdd_max": float(max(tested_mdd)) if tested_mdd else np.nan,
    }


def _eligible_finding(rec: Mapping) -> bool:
    flags = set(rec["flags"])
    if "significant" not in flags or flags & (_NOT_TESTED | {"single_class", "reference"}):
        return False
    metric = str(rec["metric"])
    if metric.startswith("upper_") or metric.endswith("_upper_bound"):
        return False
    group, base = rec["group"], metric.removeprefix("recorded_")
    return not (base in _MULTICLASS and isinstance(group, Mapping) and rec["target"] in group)


def summary_findings(
    metrics: pd.DataFrame, focus_groups: pd.DataFrame, max_findings: int = MAX_FINDINGS
) -> pd.DataFrame:
    """Select the executive summary's findings (rule in the module docstring).

    Returns
    -------
    DataFrame
        At most ``max_findings`` rows, in order: ``rank``, ``kind`` (``focus`` or ``gap``),
        ``question`` (focus findings), ``metric``, ``target``, ``label``, ``attribute``,
        ``group``, ``group_label``, the estimates (`focus_tables`) and ``row`` (index in
        ``metrics``).
    """
    chosen: list[tuple[str, str | None, int]] = []
    if len(focus_groups):
        gaps = focus_groups[focus_groups["verdict"] == "gap"]
        for question, rows in gaps.groupby("question", sort=False):
            best = rows.sort_values(["p_adjusted", "p_value"], kind="stable").iloc[0]
            chosen.append(("focus", str(question), int(best["row"])))
    used = {row for _, _, row in chosen}
    if len(metrics):
        cand = metrics[[_eligible_finding(r) for _, r in metrics.iterrows()]]
        cand = cand.assign(_abs=-cand["difference"].abs()).sort_values(
            ["p_adjusted", "_abs"], kind="stable"
        )
        families = {tuple(str(metrics.at[r, c]) for c in _KEY) for _, _, r in chosen}
        for idx, rec in cand.iterrows():
            key = tuple(str(rec[c]) for c in _KEY)
            if idx in used or key in families:
                continue
            families.add(key)
            chosen.append(("gap", None, int(idx)))
    out = []
    for rank, (kind, question, row) in enumerate(chosen[:max_findings], start=1):
        rec = metrics.loc[row]
        out.append(
            {
                "rank": rank,
                "kind": kind,
                "question": question,
                "metric": rec["metric"],
                "target": rec["target"],
                "label": rec["label"],
                "attribute": rec["attribute"],
                "group": dict(rec["group"]),
                "group_label": rec["group_label"],
                **{c: rec.get(c, np.nan) for c in _ROW_COLUMNS},
                "row": row,
            }
        )
    return pd.DataFrame(out)


_KEY = ("metric", "target", "label", "attribute")
