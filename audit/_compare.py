"""Two models on the same rows: paired differences, McNemar, and disparities that moved.

Both evaluation tables must describe the same utterances of the same speakers (the same
``utterance_id`` set, the same speaker and grouping labels per utterance). One stratified
speaker-cluster bootstrap draws the same speakers for both models in every replicate, so
the intervals of the differences account for the pairing.

The paired comparison is the arm comparison (`audit.compare_arms`) with one checkpoint per
arm, without the seed columns: with one seed per arm it has no seed variance, and every
value, interval and flag is that of the paired speaker bootstrap. `paired_comparison` is what
the command line and the report API call: the comparison of two written audits (or arms of
them), or the reason why it cannot be computed (a missing evaluation table), so that the
renderer shows the audits side by side instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audit._arms import compare_arm_audits, compare_arms
from audit._arms_rows import without_seed_columns
from audit._compare_base import (
    align_evaluations,
    evaluation_path,
    mcnemar_exact,
    read_evaluation_audit,
)
from audit._compare_settings import CompareSettings

__all__ = [
    "PairedComparison",
    "align_evaluations",
    "compare_audits",
    "compare_evaluations",
    "mcnemar_exact",
    "paired_comparison",
    "read_evaluation_audit",
]


def compare_evaluations(
    table_a: pd.DataFrame,
    table_b: pd.DataFrame,
    settings: CompareSettings | None = None,
    **options: object,
) -> dict[str, pd.DataFrame]:
    """Compare model B with model A (the baseline) on the same evaluation rows.

    Parameters
    ----------
    table_a, table_b : DataFrame
        Evaluation tables of the baseline (A) and the new model (B).
    settings : CompareSettings, optional
        The settings (`audit.CompareSettings`: groupings, max_order, n_boot, ci_level,
        ci_method, min_group_size, correction, random_state, labels, retrieval_ks, focus,
        error_control); the focus intersections are always compared, whatever
        ``max_order`` is. ``error_control`` is the scope of the multiple-testing
        correction: each (metric, target, label) family of each table, or every test of the
        comparison as one family.
    **options
        The same settings as keywords; they replace the fields of ``settings``.

    Returns
    -------
    dict of str to DataFrame
        ``paired``: per metric and group ``value_a``, ``value_b``, ``difference`` (B - A)
        with CI and p-value (paired speaker bootstrap), and for agreement metrics the
        discordant counts ``mcnemar_b`` (A right, B wrong), ``mcnemar_c`` (A wrong, B right)
        and the exact ``mcnemar_p`` (which treats utterances as independent); for other
        metrics the three are NaN and the row is flagged ``mcnemar_not_applicable`` (the
        counts are floats so that they can be NaN; they were -1 before).
        ``paired`` also holds ``diff_sim_low`` / ``diff_sim_high`` (the simultaneous
        interval of the family, see `audit._compare_focus`) and ``sim_alpha``.
        ``paired`` and ``disparity_change`` end with the keys that say what a record is, as
        on audit.json's ``metrics`` records (`audit._records.spec_fields`): ``section`` (the
        report section) and, for input-length metrics, ``base_metric``, ``input_seconds``,
        ``baseline_seconds``.
        ``disparity_change``: per metric and group the gap to the overall value under A and
        B and ``change = |gap_B| - |gap_A|`` with its paired interval, its simultaneous
        interval ``change_sim_low`` / ``change_sim_high`` and adjusted p, flagged ``grew``
        or ``shrank`` when it is ``significant`` (adjusted p < 1 - ci_level, exactly when
        the simultaneous interval excludes 0); a group whose value is identical under A and
        B is flagged ``value_unchanged`` and not tested (``p_value`` NaN).
        ``focus``: the focus questions' groups, changed gaps first (`audit._compare_focus`).
        ``language_swap_change``: the change of the language-swap effect from A to B
        (`audit._swap_change`; empty when no speaker is heard in two languages).

    Examples
    --------
    >>> from audit import make_evaluation_table
    >>> a = make_evaluation_table(40, 2, random_state=0)
    >>> b = a.assign(recon_gender=a["true_gender"])  # a model that always gets gender right
    >>> out = compare_evaluations(a, b, groupings=["gender"], n_boot=50, min_group_size=5)
    >>> row = out["paired"].query("metric == 'agreement' and target == 'gender'").iloc[0]
    >>> bool(row["value_b"] == 1.0 and row["difference"] > 0)
    True
    """
    out = compare_arms([table_a], [table_b], settings, **options)
    return {name: without_seed_columns(frame) for name, frame in out.items()}


def compare_audits(
    audit_a: str | os.PathLike[str],
    audit_b: str | os.PathLike[str],
    settings: CompareSettings | None = None,
    **options: object,
) -> dict[str, pd.DataFrame]:
    """Compare two written audits through their ``evaluation.csv`` files.

    Parameters
    ----------
    audit_a, audit_b : path-like
        ``audit.json`` files (or their folders) of the baseline and the new model.
    settings : CompareSettings, optional
        Settings to use instead of those recorded in ``audit_a`` (groupings, max_order,
        n_boot, ci_level, ci_method, min_group_size, correction, seed, focus,
        error_control), which are the default.
    **options
        Replace single settings (see `compare_evaluations`).

    Returns
    -------
    dict of str to DataFrame
        See `compare_evaluations`.
    """
    table_a, recorded = read_evaluation_audit(audit_a)
    table_b, _ = read_evaluation_audit(audit_b)
    base = settings if settings is not None else CompareSettings(**recorded)  # type: ignore[arg-type]
    return compare_evaluations(table_a, table_b, base, **options)


@dataclass(frozen=True)
class PairedComparison:
    """The comparison of two arms of written audits, or why there is none.

    Attributes
    ----------
    tables : dict of str to DataFrame, or None
        What `compare_audits` (one audit per arm) or `compare_arm_audits` returns; None
        when the comparison could not be computed.
    unpaired_reason : str
        Why ``tables`` is None (empty otherwise).
    """

    tables: dict[str, pd.DataFrame] | None
    unpaired_reason: str = ""


def _as_paths(audits: object) -> list[str | os.PathLike[str]]:
    if isinstance(audits, str | os.PathLike):
        return [audits]
    return list(audits)  # type: ignore[call-overload]


def _name(path: str | os.PathLike[str]) -> str:
    """Name an audit as the report does: its audit.json path."""
    return str(Path(path) / "audit.json") if Path(path).is_dir() else str(path)


def paired_comparison(
    audits_a: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    audits_b: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    settings: CompareSettings | None = None,
    **options: object,
) -> PairedComparison:
    """Compare two written audits, or two arms of them, for `reports.render_comparison`.

    Parameters
    ----------
    audits_a, audits_b : path-like or sequence of path-like
        ``audit.json`` files (or their folders): one per arm gives `compare_audits`, several
        (training seeds) `compare_arm_audits`.
    settings, **options
        As in `compare_audits`.

    Returns
    -------
    PairedComparison
        The tables, or None with the reason when an audit has no evaluation table beside it
        (the report then sets the audits' own tables side by side).

    Examples
    --------
    >>> paired_comparison("no/such/audit.json", "other.json").unpaired_reason[:40]
    'the per-utterance evaluation table (arti'
    """
    arm_a, arm_b = _as_paths(audits_a), _as_paths(audits_b)
    missing = [_name(p) for p in (*arm_a, *arm_b) if evaluation_path(p) is None]
    if missing:
        return PairedComparison(
            None,
            "the per-utterance evaluation table (artifacts.evaluation) of "
            + " and ".join(missing)
            + " was not found beside its audit.json",
        )
    if len(arm_a) == 1 and len(arm_b) == 1:
        return PairedComparison(compare_audits(arm_a[0], arm_b[0], settings, **options))
    return PairedComparison(compare_arm_audits(arm_a, arm_b, settings, **options))
