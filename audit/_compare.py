"""Two models on the same rows: paired differences, McNemar, and disparities that moved.

Both evaluation tables must describe the same utterances of the same speakers (the same
``utterance_id`` set, the same speaker and grouping labels per utterance). One stratified
speaker-cluster bootstrap draws the same speakers for both models in every replicate, so
the intervals of the differences account for the pairing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from audit._audit import DEFAULT_GROUPING_COLUMNS, build_metric_specs, check_evaluation_table
from audit._bootstrap import (
    CI_METHODS,
    SpeakerBootstrap,
    bootstrap_interval,
    bootstrap_p_value,
    check_random_state,
)
from audit._compare_focus import comparison_groupings, control_comparison, focus_changes
from audit._compare_focus import unchanged_flags as _unchanged
from audit._metrics import MetricSpec, _labels_of, detect_targets, label_vocabulary
from audit._multitest import CORRECTIONS
from audit._schema import EVALUATION_FILENAME, read_audit
from audit._simultaneous import ERROR_CONTROLS, ErrorControl
from audit._tables import _collapsed, _CountCache
from audit.exceptions import AuditInputError, MismatchedRowsError

__all__ = [
    "align_evaluations",
    "compare_audits",
    "compare_evaluations",
    "mcnemar_exact",
    "read_evaluation_audit",
]


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts ``b`` and ``c``.

    Examples
    --------
    >>> round(mcnemar_exact(10, 2), 4)
    0.0386
    """
    from scipy import stats

    n = int(b) + int(c)
    if n == 0:
        return 1.0
    return float(stats.binomtest(int(min(b, c)), n, 0.5).pvalue)


def align_evaluations(
    table_a: pd.DataFrame, table_b: pd.DataFrame, columns: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return both tables in the same row order, refusing tables of different rows.

    Parameters
    ----------
    table_a, table_b : DataFrame
        Evaluation tables of two models.
    columns : sequence of str
        Columns that must agree row by row besides ``speaker_id`` (the grouping columns).

    Returns
    -------
    tuple of DataFrame
        ``table_a`` (index reset) and ``table_b`` reordered to match it.
    """
    check_evaluation_table(table_a)
    check_evaluation_table(table_b)
    ids_a = table_a["utterance_id"].astype(str)
    ids_b = table_b["utterance_id"].astype(str)
    only_a = sorted(set(ids_a) - set(ids_b))
    only_b = sorted(set(ids_b) - set(ids_a))
    if only_a or only_b:
        raise MismatchedRowsError(
            "the two evaluation tables do not hold the same utterances: "
            f"{len(only_a)} only in A (e.g. {only_a[:3]}), {len(only_b)} only in B "
            f"(e.g. {only_b[:3]}); audit both models on the same manifest and split"
        )
    a = table_a.reset_index(drop=True)
    position = pd.Series(np.arange(len(table_b)), index=ids_b.to_numpy())
    b = table_b.iloc[position.loc[ids_a.to_numpy()].to_numpy()].reset_index(drop=True)
    for col in ("speaker_id", *columns):
        if col not in a.columns or col not in b.columns:
            raise MismatchedRowsError(f"column {col!r} is missing from one of the tables")
        va, vb = _labels_of(a[col]), _labels_of(b[col])
        differ = ~((va == vb) | (va.isna() & vb.isna()))
        if differ.any():
            row = int(np.flatnonzero(differ.to_numpy())[0])
            utt = str(a["utterance_id"].iloc[row])
            raise MismatchedRowsError(
                f"utterance {utt!r}: {col} is {va.iloc[row]!r} in A but "
                f"{vb.iloc[row]!r} in B; the tables must describe the same rows"
            )
    return a, b


def _key(spec: MetricSpec) -> tuple[str, str, str | None]:
    return spec.metric, spec.target, spec.label


def compare_evaluations(
    table_a: pd.DataFrame,
    table_b: pd.DataFrame,
    *,
    groupings: Sequence[str | Sequence[str]] | None = None,
    max_order: int = 1,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    ci_method: Literal["expanded", "percentile"] = "expanded",
    min_group_size: int = 10,
    correction: Literal["holm", "bh", "none"] = "holm",
    random_state: int = 0,
    labels: Mapping[str, Sequence[str]] | None = None,
    retrieval_ks: Sequence[int] = (1, 2, 5, 10),
    focus: Sequence[Sequence[str]] | None = None,
    error_control: ErrorControl = "family",
) -> dict[str, pd.DataFrame]:
    """Compare model B with model A (the baseline) on the same evaluation rows.

    Parameters
    ----------
    table_a, table_b : DataFrame
        Evaluation tables of the baseline (A) and the new model (B).
    groupings, max_order, n_boot, ci_level, ci_method, min_group_size, correction
        As in `audit.run_audit_tables`.
    random_state : int
        Seed of the paired bootstrap.
    labels : mapping, optional
        Full label list per judged attribute (default: labels seen in either table).
    retrieval_ks : sequence of int
        K of recall@K.
    focus : sequence of tuple of str, optional
        Focus questions (default: language x ethnicity and gender x age group, where their
        columns are grouping columns); their intersections are always compared, whatever
        ``max_order`` is.
    error_control : {"family", "audit"}
        Scope of the multiple-testing correction: each (metric, target, label) family of
        each table, or every test of the comparison as one family.

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
        ``disparity_change``: per metric and group the gap to the overall value under A and
        B and ``change = |gap_B| - |gap_A|`` with its paired interval, its simultaneous
        interval ``change_sim_low`` / ``change_sim_high`` and adjusted p, flagged ``grew``
        or ``shrank`` when it is ``significant`` (adjusted p < 1 - ci_level, exactly when
        the simultaneous interval excludes 0); a group whose value is identical under A and
        B is flagged ``value_unchanged`` and not tested (``p_value`` NaN).
        ``focus``: the focus questions' groups, changed gaps first (`audit._compare_focus`).

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
    seed = check_random_state(random_state)
    if ci_method not in CI_METHODS:
        raise AuditInputError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}")
    if correction not in CORRECTIONS:
        raise AuditInputError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if error_control not in ERROR_CONTROLS:
        raise AuditInputError(
            f"error_control must be one of {ERROR_CONTROLS}, got {error_control!r}"
        )
    if groupings is None:
        groupings = [c for c in DEFAULT_GROUPING_COLUMNS if c in table_a.columns]
    grouping_list, questions = comparison_groupings(table_a, groupings, max_order, focus)
    group_cols = sorted({c for g in grouping_list for c in g.columns})
    a, b = align_evaluations(table_a, table_b, group_cols)
    both = pd.concat([a, b], ignore_index=True)
    targets = [t for t in detect_targets(a) if t in detect_targets(b)]
    vocab = {t: label_vocabulary(both, t, (labels or {}).get(t)) for t in targets}
    specs_a = {
        _key(s): s for s in build_metric_specs(a, labels=vocab, retrieval_ks=retrieval_ks)[0]
    }
    specs_b = {
        _key(s): s for s in build_metric_specs(b, labels=vocab, retrieval_ks=retrieval_ks)[0]
    }
    keys = [k for k in specs_a if k in specs_b]
    boot = SpeakerBootstrap(a["speaker_id"].to_numpy(), n_boot, seed)
    stacked = np.hstack([specs_a[k].stats for k in keys] + [specs_b[k].stats for k in keys])
    widths = [specs_a[k].n_stats for k in keys]
    starts = np.concatenate([[0], np.cumsum(widths)])
    offset_b = int(starts[-1])
    correct: dict[tuple[str, str], np.ndarray] = {}
    correct_b: dict[tuple[str, str], np.ndarray] = {}
    for t in targets:
        for source in ("recon", "upper"):
            if f"{source}_{t}" in a.columns and f"{source}_{t}" in b.columns:
                for frame, out in ((a, correct), (b, correct_b)):
                    same = _labels_of(frame[f"true_{t}"]) == _labels_of(frame[f"{source}_{t}"])
                    out[(source, t)] = same.to_numpy(bool)
    paired_rows: list[dict] = []
    change_rows: list[dict] = []
    for grouping in grouping_list:
        n_groups = grouping.n_groups
        point, reps = boot.group_sums(stacked, grouping.codes, n_groups)
        reps_total = reps.sum(axis=1)  # (B, stats): each replicate's whole table, once
        counts = _CountCache(boot, grouping.codes, n_groups)
        labels_g = grouping.labels()
        for i, key in enumerate(keys):
            sa, sb = specs_a[key], specs_b[key]
            sl_a = slice(starts[i], starts[i + 1])
            sl_b = slice(offset_b + starts[i], offset_b + starts[i + 1])
            va, vb = sa.func(point[:, sl_a]), sb.func(point[:, sl_b])
            ra, rb = sa.func(reps[:, :, sl_a]), sb.func(reps[:, :, sl_b])
            n_utt, n_spk = counts(sa.valid & sb.valid)
            with np.errstate(invalid="ignore"):
                diff, diff_reps = vb - va, rb - ra
            lo, hi = bootstrap_interval(diff_reps, n_spk, ci_level, ci_method)
            # both models agree on every resampled speaker: no spread, so no interval (as
            # in the metric tables), never a [0, 0] that claims certainty
            flat = _collapsed(lo, hi, diff, np.fmax(np.abs(va), np.abs(vb))) & (n_utt > 0)
            lo[flat], hi[flat] = np.nan, np.nan
            p = bootstrap_p_value(diff, diff_reps, n_spk)
            mcn = _mcnemar(key, correct, correct_b, sa.valid & sb.valid, grouping.codes, n_groups)
            # disparity to the overall value of the same grouping, under A and under B
            oa, ob = sa.func(point[:, sl_a].sum(axis=0)), sb.func(point[:, sl_b].sum(axis=0))
            roa = sa.func(reps_total[:, sl_a])[:, None]
            rob = sb.func(reps_total[:, sl_b])[:, None]
            with np.errstate(invalid="ignore"):
                change = np.abs(vb - ob) - np.abs(va - oa)
                change_reps = np.abs(rb - rob) - np.abs(ra - roa)
            c_lo, c_hi = bootstrap_interval(change_reps, n_spk, ci_level, ci_method)
            flat_c = _collapsed(c_lo, c_hi, change, np.fmax(np.abs(va - oa), np.abs(vb - ob)))
            flat_c &= n_utt > 0
            c_lo[flat_c], c_hi[flat_c] = np.nan, np.nan
            c_p = bootstrap_p_value(change, change_reps, n_spk)
            for g in range(n_groups):
                flags = []
                if n_utt[g] == 0:
                    flags.append("empty")
                elif n_spk[g] < min_group_size:
                    flags.append("insufficient_data")
                paired_flags = flags if mcn else [*flags, "mcnemar_not_applicable"]
                if flat[g]:
                    paired_flags = [*paired_flags, "degenerate_ci"]
                base = {
                    "metric": key[0],
                    "target": key[1],
                    "label": key[2],
                    "attribute": grouping.attribute,
                    "group": dict(grouping.groups[g]),
                    "group_label": labels_g[g],
                    "n_utterances": int(n_utt[g]),
                    "n_speakers": int(n_spk[g]),
                }
                paired_rows.append(
                    {
                        **base,
                        "value_a": float(va[g]),
                        "value_b": float(vb[g]),
                        "difference": float(diff[g]),
                        "diff_ci_low": float(lo[g]),
                        "diff_ci_high": float(hi[g]),
                        "p_value": float(p[g]),
                        "p_adjusted": np.nan,
                        "mcnemar_b": float(mcn[0][g]) if mcn else np.nan,
                        "mcnemar_c": float(mcn[1][g]) if mcn else np.nan,
                        "mcnemar_p": float(mcn[2][g]) if mcn else np.nan,
                        "flags": paired_flags,
                    }
                )
                if not grouping.columns:
                    continue
                same = _unchanged(va[g], vb[g])
                change_rows.append(
                    {
                        **base,
                        "disparity_a": float(va[g] - oa),
                        "disparity_b": float(vb[g] - ob),
                        "change": float(change[g]),
                        "change_ci_low": float(c_lo[g]),
                        "change_ci_high": float(c_hi[g]),
                        "p_value": np.nan if same else float(c_p[g]),
                        "p_adjusted": np.nan,
                        "flags": flags + same + (["degenerate_ci"] if flat_c[g] else []),
                    }
                )
    paired = pd.DataFrame(paired_rows)
    changes = pd.DataFrame(change_rows)
    control_comparison(paired, changes, correction, 1 - ci_level, error_control)
    return {
        "paired": paired,
        "disparity_change": changes,
        "focus": focus_changes(paired, changes, questions),
    }


def _mcnemar(
    key: tuple[str, str, str | None],
    correct_a: Mapping[tuple[str, str], np.ndarray],
    correct_b: Mapping[tuple[str, str], np.ndarray],
    valid: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    metric, target, _ = key
    if metric not in ("agreement", "upper_agreement"):
        return None
    source = "upper" if metric.startswith("upper_") else "recon"
    ca, cb = correct_a[(source, target)], correct_b[(source, target)]
    b = np.bincount(codes[valid & ca & ~cb], minlength=n_groups)
    c = np.bincount(codes[valid & ~ca & cb], minlength=n_groups)
    p = np.array([mcnemar_exact(bi, ci) for bi, ci in zip(b, c, strict=True)])
    return b, c, p


def compare_audits(
    audit_a: str | os.PathLike[str], audit_b: str | os.PathLike[str], **kwargs: object
) -> dict[str, pd.DataFrame]:
    """Compare two written audits through their ``evaluation.csv`` files.

    Parameters
    ----------
    audit_a, audit_b : path-like
        ``audit.json`` files (or their folders) of the baseline and the new model.
    **kwargs
        Passed to `compare_evaluations`; by default the settings recorded in ``audit_a``
        (groupings, max_order, n_boot, ci_level, ci_method, min_group_size, correction,
        seed, focus, error_control) are used.

    Returns
    -------
    dict of str to DataFrame
        See `compare_evaluations`.
    """
    table_a, options = read_evaluation_audit(audit_a)
    table_b, _ = read_evaluation_audit(audit_b)
    options.update(kwargs)
    return compare_evaluations(table_a, table_b, **options)


#: Settings recorded in an audit that a comparison reuses.
_RECORDED_OPTIONS = (
    "groupings",
    "max_order",
    "n_boot",
    "ci_level",
    "ci_method",
    "min_group_size",
    "correction",
    "random_state",
    "focus",
    "error_control",
)


def read_evaluation_audit(
    path: str | os.PathLike[str],
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Read a written audit's evaluation table and the comparison settings it records.

    Parameters
    ----------
    path : path-like
        ``audit.json`` or its folder.

    Returns
    -------
    table : DataFrame
        The per-utterance evaluation table (``artifacts.evaluation``).
    options : dict
        The audit's groupings, max_order, n_boot, ci_level, ci_method, min_group_size,
        correction, seed (as ``random_state``), focus and error_control, where recorded.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    result = read_audit(p)
    settings = dict(result.settings)
    settings.setdefault("random_state", result.seed)
    name = result.artifacts.get("evaluation") or EVALUATION_FILENAME
    csv = folder / name
    if not csv.exists():
        raise AuditInputError(f"{p}: its evaluation table {csv} does not exist")
    table = pd.read_csv(
        csv,
        keep_default_na=False,
        na_values=[""],
        dtype={"utterance_id": str, "speaker_id": str},
    )
    options = {k: settings[k] for k in _RECORDED_OPTIONS if settings.get(k) is not None}
    if "groupings" in options:
        options["groupings"] = [g if isinstance(g, str) else tuple(g) for g in options["groupings"]]
    if "focus" in options:
        options["focus"] = [tuple(q) for q in options["focus"]]  # type: ignore[union-attr]
    return table, options
