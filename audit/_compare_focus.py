"""The comparison's answer first: focus intersections, error control and what really moved.

Shared by `audit.compare_evaluations` and `audit.compare_arms` (issue #16, item 5):

- **Focus intersections are always computed** (`comparison_groupings`): the intersections
  of the focus questions (default language x ethnicity and gender x age group, where their
  columns are grouping columns) are added to the groupings whatever ``max_order`` is.
- **Identical values are never a change**: a group whose value is the same under A and B
  (bit for bit) gets the flag ``value_unchanged`` in ``disparity_change`` and is not tested
  there (``p_value`` NaN): its gap to the overall value moved only because the overall value
  moved, which the ``overall`` row of ``paired`` already reports.
- **Significance and intervals agree** (`control_comparison`): the p-values of ``paired``
  and ``disparity_change`` are corrected by `audit._simultaneous.control_errors` (one family
  per (metric, target, label) and table, or one family for the whole comparison with
  ``error_control="audit"``), which also gives each tested row the simultaneous interval of
  its family (``diff_sim_*`` in ``paired``, ``change_sim_*`` in ``disparity_change``), so the
  interval excludes 0 exactly when ``p_adjusted < alpha``. A gap ``grew`` or ``shrank`` only
  when its change is flagged ``significant``.
- **The focus table** (`focus_changes`): per focus question and group, the focus metric
  (``agreement`` of the question's judged attribute) under A and B, the gap to the overall
  value under A and B and the change of its size with the paired (unadjusted and
  simultaneous) interval and adjusted p, and a verdict; groups whose gap grew or shrank come
  first (smallest adjusted p first), then the others in question order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit._audit import resolve_focus
from audit._focus import FOCUS_METRIC, _attribute, _target
from audit._groups import Grouping, build_groupings
from audit._simultaneous import ErrorControl, control_errors

__all__ = [
    "COMPARE_VERDICTS",
    "SEED_VERDICTS",
    "add_seed_verdicts",
    "comparison_groupings",
    "control_comparison",
    "focus_changes",
    "unchanged_flags",
]

#: Verdicts of a focus group in a comparison.
COMPARE_VERDICTS: dict[str, str] = {
    "grew": "gap larger under B",
    "shrank": "gap smaller under B",
    "no_change": "no evidence that the gap changed",
    "value_unchanged": "value identical under A and B",
    "too_few": "too few speakers to say",
}
#: Seed verdicts of a focus group in an arm comparison (column ``seed_verdict``): what the
#: Seed verdicts of an arm comparison's rows (column ``seed_verdict`` of ``paired``,
#: ``disparity_change`` and ``focus``): what the training seeds say. Rule in `seed_verdict`.
SEED_VERDICTS: dict[str, str] = {
    "too_few": "too few speakers to say",
    "one_checkpoint": "one checkpoint per arm: training noise not measured",
    "seed_noise": "the seed spread is larger than the difference: retraining moves this more "
    "than the arms differ",
    "beyond_seed_noise": "a difference beyond speaker and seed noise",
    "value_unchanged": "value identical under A and B (not tested)",
    "within_noise": "no difference beyond speaker and seed noise",
}
#: Columns of an arm comparison's ``disparity_change`` copied into the focus table.
_SEED_COLUMNS = (
    "n_seeds_a",
    "n_seeds_b",
    "seed_sd",
    "gap_a_seed_sd",
    "gap_a_seed_min",
    "gap_a_seed_max",
    "gap_b_seed_sd",
    "gap_b_seed_min",
    "gap_b_seed_max",
    "speaker_ci_low",
    "speaker_ci_high",
    "speaker_p_value",
)
_FAMILY = ("metric", "target", "label")
_NOT_TESTED = frozenset({"empty", "insufficient_data"})
#: Columns of ``disparity_change`` copied into the focus table.
_CHANGE_COLUMNS = (
    "n_utterances",
    "n_speakers",
    "disparity_a",
    "disparity_b",
    "change",
    "change_ci_low",
    "change_ci_high",
    "change_sim_low",
    "change_sim_high",
    "p_value",
    "p_adjusted",
)


def comparison_groupings(
    table: pd.DataFrame,
    groupings: Sequence[str | Sequence[str]],
    max_order: int,
    focus: Sequence[Sequence[str]] | None,
) -> tuple[list[Grouping], tuple[tuple[str, ...], ...]]:
    """Build the groupings of a comparison, the focus intersections always included.

    Parameters
    ----------
    table : DataFrame
        Evaluation table (arm A's first).
    groupings, max_order
        As in `audit.compare_evaluations`.
    focus : sequence of tuple of str, or None
        Focus questions; None: the default ones whose columns are all grouping columns.

    Returns
    -------
    groupings : list of Grouping
        `audit.stats.build_groupings` of ``groupings`` and every focus intersection.
    questions : tuple of tuple of str
        The focus questions.
    """
    columns = {c for g in groupings for c in ([g] if isinstance(g, str) else g)}
    questions = resolve_focus(table, focus, columns)
    grouping_list = build_groupings(table, groupings, max_order)
    have = {frozenset(g.columns) for g in grouping_list}
    extra = [q for q in questions if frozenset(q) not in have]
    if extra:
        grouping_list = build_groupings(table, [*groupings, *extra], max_order)
    return grouping_list, questions


def unchanged_flags(value_a: float, value_b: float) -> list[str]:
    """``["value_unchanged"]`` when a group's value is identical under A and B.

    Examples
    --------
    >>> unchanged_flags(0.5, 0.5), unchanged_flags(0.5, 0.6), unchanged_flags(np.nan, np.nan)
    (['value_unchanged'], [], [])
    """
    return ["value_unchanged"] if value_a == value_b else []


def _as_tested(frame: pd.DataFrame, est: str, low: str, high: str) -> pd.DataFrame:
    """Copy the columns of a table that `control_errors` reads, under its names."""
    view = frame[[*_FAMILY, "p_value", "flags", "n_speakers"]].copy()
    view["difference"] = frame[est].to_numpy(np.float64)
    view["diff_ci_low"] = frame[low].to_numpy(np.float64)
    view["diff_ci_high"] = frame[high].to_numpy(np.float64)
    view["reference"] = None  # B - A, or a change of a gap: no named reference group
    view["p_adjusted"] = np.nan
    return view


def control_comparison(
    paired: pd.DataFrame,
    changes: pd.DataFrame,
    correction: str,
    alpha: float,
    error_control: ErrorControl = "family",
) -> None:
    """Correct both tables, add simultaneous intervals and ``grew`` / ``shrank``, in place.

    Parameters
    ----------
    paired, changes : DataFrame
        ``paired`` and ``disparity_change`` of a comparison (``value_unchanged`` rows of
        ``changes`` with ``p_value`` NaN).
    correction : {"holm", "bh", "none"}
        Multiple-testing correction.
    alpha : float
        Significance level.
    error_control : {"family", "audit"}
        One family per (metric, target, label) and table, or one for the whole comparison.
    """
    tables = [
        (frame, _as_tested(frame, *cols))
        for frame, cols in (
            (paired, ("difference", "diff_ci_low", "diff_ci_high")),
            (changes, ("change", "change_ci_low", "change_ci_high")),
        )
        if len(frame)
    ]
    control_errors([(view, _FAMILY) for _, view in tables], correction, alpha, error_control)  # type: ignore[arg-type]
    for frame, view in tables:
        prefix = "diff" if frame is paired else "change"
        frame["p_adjusted"] = view["p_adjusted"].to_numpy()
        frame[f"{prefix}_sim_low"] = view["diff_sim_low"].to_numpy()
        frame[f"{prefix}_sim_high"] = view["diff_sim_high"].to_numpy()
        frame["sim_alpha"] = view["sim_alpha"].to_numpy()
        frame["flags"] = list(view["flags"])
    if len(changes):
        changes["flags"] = [
            [f for f in flags if f not in ("grew", "shrank")] + _moved(flags, change)
            for flags, change in zip(changes["flags"], changes["change"], strict=True)
        ]


def _moved(flags: Sequence[str], change: float) -> list[str]:
    if "significant" not in flags or _NOT_TESTED & set(flags) or not np.isfinite(change):
        return []
    return ["grew"] if change > 0 else ["shrank"] if change < 0 else []


def _verdict(flags: Sequence[str]) -> str:
    for code in ("grew", "shrank", "value_unchanged"):
        if code in flags:
            return code
    return "too_few" if _NOT_TESTED & set(flags) else "no_change"


def seed_verdict(flags: Sequence[str], n_seeds_a: int, n_seeds_b: int) -> str:
    """Seed verdict of an arm-comparison row (a key of `SEED_VERDICTS`), first match wins.

    Too few speakers; one checkpoint per arm; ``seed_spread_exceeds_difference`` (the
    pooled seed SD of the value or gap is larger than the difference or change); a
    ``significant`` difference or change (seed variance in the interval); a value identical
    under A and B (not tested); otherwise no change beyond speaker and seed noise.

    Examples
    --------
    >>> seed_verdict(["seed_spread_exceeds_difference"], 3, 3)
    'seed_noise'
    >>> seed_verdict(["significant", "grew"], 3, 3), seed_verdict([], 1, 1)
    ('beyond_seed_noise', 'one_checkpoint')
    """
    if _NOT_TESTED & set(flags):
        return "too_few"
    if n_seeds_a == 1 and n_seeds_b == 1:
        return "one_checkpoint"
    if "seed_spread_exceeds_difference" in flags:
        return "seed_noise"
    if "significant" in flags:
        return "beyond_seed_noise"
    if "value_unchanged" in flags:
        return "value_unchanged"
    return "within_noise"


def add_seed_verdicts(frame: pd.DataFrame) -> None:
    """Add ``seed_verdict`` to an arm comparison's ``paired`` or ``disparity_change``, in place."""
    if len(frame) and "n_seeds_a" in frame.columns:
        frame["seed_verdict"] = [
            seed_verdict(flags, int(k_a), int(k_b))
            for flags, k_a, k_b in zip(
                frame["flags"], frame["n_seeds_a"], frame["n_seeds_b"], strict=True
            )
        ]


def _seed_part(rec: pd.Series) -> dict[str, object]:
    """Seed columns of an arm comparison's focus row (none for a paired comparison)."""
    if "seed_sd" not in rec.index:
        return {}
    return {c: rec[c] for c in (*_SEED_COLUMNS, "seed_verdict")}


def focus_changes(
    paired: pd.DataFrame,
    changes: pd.DataFrame,
    questions: Sequence[Sequence[str]],
    metric: str = FOCUS_METRIC,
) -> pd.DataFrame:
    """Build the focus table of a comparison (see the module docstring).

    Returns
    -------
    DataFrame
        One row per (question, group): ``rank``, ``question``, ``attribute``, ``metric``,
        ``target``, ``group``, ``group_label``, ``value_a``, ``value_b`` (the group's value),
        ``overall_a``, ``overall_b``, the `_CHANGE_COLUMNS` of ``disparity_change``,
        ``flags``, ``verdict`` (a key of `COMPARE_VERDICTS`) and ``row`` (index in
        ``disparity_change``); in an arm comparison also the seed columns of
        ``disparity_change`` (`_SEED_COLUMNS`: seeds per arm, pooled and per-arm seed
        spread of the gap, the interval and p without seed variance) and ``seed_verdict``
        (a key of `SEED_VERDICTS`). Empty when no question is measured.
    """
    rows: list[dict] = []
    if not len(changes) or not len(paired):
        return pd.DataFrame(rows)
    rates = paired[paired["metric"] == metric]
    targets = list(dict.fromkeys(rates["target"]))
    # each attribute's grouping columns, read from the records' groups (never from its name)
    attributes: dict[str, frozenset[str]] = {}
    for attribute, group in zip(changes["attribute"], changes["group"], strict=True):
        attributes.setdefault(attribute, frozenset(group))
    for question in questions:
        attribute = _attribute(question, attributes)
        target = _target(question, targets)
        if attribute is None or target is None:
            continue
        overall = rates[(rates["attribute"] == "overall") & (rates["target"] == target)]
        values = rates[(rates["attribute"] == attribute) & (rates["target"] == target)]
        by_label = dict(zip(values["group_label"], values.index, strict=True))
        mine = changes[
            (changes["metric"] == metric)
            & (changes["target"] == target)
            & (changes["attribute"] == attribute)
        ]
        for idx, rec in mine.iterrows():
            value = paired.loc[by_label[rec["group_label"]]]
            rows.append(
                {
                    "question": " x ".join(question),
                    "attribute": attribute,
                    "metric": metric,
                    "target": target,
                    "group": dict(rec["group"]),
                    "group_label": rec["group_label"],
                    "value_a": float(value["value_a"]),
                    "value_b": float(value["value_b"]),
                    "overall_a": float(overall["value_a"].iloc[0]) if len(overall) else np.nan,
                    "overall_b": float(overall["value_b"].iloc[0]) if len(overall) else np.nan,
                    **{c: rec[c] for c in _CHANGE_COLUMNS},
                    "flags": list(rec["flags"]),
                    "verdict": _verdict(rec["flags"]),
                    "row": int(idx),
                    **_seed_part(rec),
                }
            )
    return _ranked(pd.DataFrame(rows))


#: Order of the verdicts in the focus table (ties: adjusted p, then question order).
_VERDICT_ORDER = {"grew": 0, "shrank": 0, "no_change": 1, "value_unchanged": 2, "too_few": 3}


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Rank the focus rows (order in the module docstring), adding ``rank``.

    Changed groups first, then tested unchanged ones (smallest adjusted p first), then
    groups with an identical value, then groups with too few speakers (in their order).
    """
    if not len(frame):
        return frame
    verdict = frame["verdict"].map(_VERDICT_ORDER).to_numpy()
    p = np.nan_to_num(frame["p_adjusted"].to_numpy(np.float64), nan=2.0)
    order = np.lexsort((np.arange(len(frame)), p, verdict))
    out = frame.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
