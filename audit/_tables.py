"""Tidy group-metric tables: values, CIs, disparities against a reference, corrected p-values.

`metric_tables` is the engine behind `audit.run_audit_tables`: for every grouping it runs one
stratified speaker-cluster bootstrap of the group totals of all metrics at once, then
`grouping_records` derives, step by step, values (`audit._estimates.estimate_groups`),
intervals (`group_intervals`), differences and ratios to the reference group
(`audit._disparity.group_differences`), p-values (`difference_p_values`) and flags; the
p-values of each family (one metric of one target and label, over all groupings and groups)
are then corrected together.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from audit._bootstrap import SpeakerBootstrap
from audit._counts import GroupCounts
from audit._disparity import (
    Disparities,
    difference_p_values,
    finish_differences,
    group_differences,
)
from audit._estimates import (
    GroupEstimates,
    GroupingData,
    GroupIntervals,
    Reference,
    TableSettings,
    estimate_groups,
    group_intervals,
)
from audit._groups import OVERALL, Grouping
from audit._intervals import bootstrap_interval, boundary_interval
from audit._metrics import MetricSpec
from audit._multitest import CORRECTIONS, adjust_p_values
from audit._records import CONFUSION_COLUMNS, FAMILY_COLUMNS, RECORD_COLUMNS
from audit._simultaneous import control_errors
from audit.exceptions import AuditInputError

__all__ = [
    "CONFUSION_COLUMNS",
    "FAMILY_COLUMNS",
    "FLAGS",
    "RECORD_COLUMNS",
    "Reference",
    "adjust_families",
    "grouping_records",
    "metric_tables",
]

#: Every flag a record can carry.
FLAGS: tuple[str, ...] = (
    "degenerate_ci",
    "empty",
    "insufficient_data",
    "insufficient_reference",
    "reference",
    "significant",
    "single_class",
    "unstable_ci",
)
_UNSTABLE_FRACTION = 0.05


def _check_reference(reference: Reference) -> None:
    if reference is None or reference in ("overall", "best"):
        return
    if isinstance(reference, Mapping) and reference:
        return
    raise AuditInputError(
        "reference must be 'overall', 'best' or a mapping column -> group label "
        f"(e.g. {{'gender': 'male'}}), got {reference!r}"
    )


def _table_settings(settings: TableSettings | None, options: dict[str, Any]) -> TableSettings:
    """Return ``settings`` (default: the defaults) with the keyword ``options`` replaced."""
    names = {f.name for f in dataclasses.fields(TableSettings)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(
            f"metric_tables() got unexpected keyword argument(s) {unknown}; "
            f"settings are {sorted(names)}"
        )
    base = TableSettings() if settings is None else settings
    return dataclasses.replace(base, **options) if options else base


def _check_settings(table: pd.DataFrame, settings: TableSettings) -> None:
    """Raise `AuditInputError` for an unusable reference, correction, group size or table."""
    _check_reference(settings.reference)
    correction = settings.correction
    if correction not in CORRECTIONS:
        raise AuditInputError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    min_group_size = settings.min_group_size
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int | np.integer):
        raise AuditInputError(f"min_group_size must be an integer, got {min_group_size!r}")
    if min_group_size < 2:
        raise AuditInputError(f"min_group_size must be >= 2 speakers, got {min_group_size}")
    if len(table) == 0:
        raise AuditInputError("the evaluation table has no rows")


def _check_weights(weights: np.ndarray | None, n_rows: int) -> np.ndarray | None:
    """Row weights as float64, or raise naming the first bad row."""
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n_rows,):
        raise AuditInputError(f"weights must have shape ({n_rows},), got {weights.shape}")
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise AuditInputError(
            f"weight of row {row} is {float(weights[row])!r}; weights must be finite and >= 0"
        )
    return weights


class _StatColumns:
    """One stacked statistics matrix; metrics sharing a statistics array share its columns."""

    def __init__(self, n_rows: int, specs: Sequence[MetricSpec]) -> None:
        blocks: list[np.ndarray] = []
        self.offsets: dict[int, int] = {}
        for spec in specs:
            if id(spec.stats) not in self.offsets:
                self.offsets[id(spec.stats)] = sum(b.shape[1] for b in blocks)
                blocks.append(spec.stats)
        self.stacked = np.hstack(blocks) if blocks else np.zeros((n_rows, 0))

    def __call__(self, spec: MetricSpec) -> slice:
        """Return the columns of ``spec``'s statistics in the stacked matrix."""
        start = self.offsets[id(spec.stats)]
        return slice(start, start + spec.n_stats)


def _group_flags(
    est: GroupEstimates, iv: GroupIntervals, point_flags: dict, i: int, g: int, min_size: int
) -> list[str]:
    """Return the flags of group ``g`` of metric ``i`` (see `FLAGS`), in their fixed order."""
    flags = []
    n_utt, n_spk, ref = est.n_utt[i], est.n_spk[i], est.refs[i]
    if n_utt[g] == 0:
        flags.append("empty")
    elif n_spk[g] < min_size:
        flags.append("insufficient_data")
    flags.extend(name for name, on in point_flags.items() if on[g])
    if isinstance(ref, int) and g == ref:
        flags.append("reference")
    elif isinstance(ref, int) and n_spk[ref] < min_size:
        flags.append("insufficient_reference")
    if n_utt[g] > 0 and np.isfinite(est.value[i, g]) and iv.nan_frac[i, g] > _UNSTABLE_FRACTION:
        flags.append("unstable_ci")
    if iv.degenerate[i, g]:
        flags.append("degenerate_ci")
    return flags


def _metric_records(
    data: GroupingData,
    est: GroupEstimates,
    iv: GroupIntervals,
    disp: Disparities,
    i: int,
    min_group_size: int,
) -> list[dict]:
    """Step 5: the records (one per group, flags included) of metric ``i``."""
    spec, ref, grouping = est.specs[i], est.refs[i], data.grouping
    labels = grouping.labels()
    ref_label = None if ref is None else OVERALL if ref == "overall" else labels[ref]
    sums = data.point[:, data.columns(spec)]
    extras = {name: f(sums) for name, f in spec.extras.items()}
    point_flags = {name: f(sums) for name, f in spec.flag_funcs.items()}
    records = []
    for g in range(grouping.n_groups):
        rec = {
            "metric": spec.metric,
            "target": spec.target,
            "label": spec.label,
            "attribute": grouping.attribute,
            "group": dict(grouping.groups[g]),
            "group_label": labels[g],
            "n_utterances": int(est.n_utt[i, g]),
            "n_speakers": int(est.n_spk[i, g]),
            "value": float(est.value[i, g]),
            "ci_low": float(iv.low[i, g]),
            "ci_high": float(iv.high[i, g]),
            "reference": ref_label,
            "reference_value": float(est.ref_value[i]) if ref is not None else np.nan,
            "difference": float(disp.diff[i, g]),
            "diff_ci_low": float(disp.d_lo[i, g]),
            "diff_ci_high": float(disp.d_hi[i, g]),
            "ratio": float(disp.ratio[i, g]),
            "ratio_ci_low": float(disp.r_lo[i, g]),
            "ratio_ci_high": float(disp.r_hi[i, g]),
            "p_value": float(disp.p[i, g]),
            "p_adjusted": np.nan,
            "flags": _group_flags(est, iv, point_flags, i, g, min_group_size),
            "null_se": float(disp.null_se[i, g]),
            "null_rate": float(est.ref_value[i]) if spec.binary else np.nan,
        }
        for name, vals in extras.items():
            rec[name] = float(vals[g])
        if est.w_sum is not None and est.ess is not None:
            rec["weight_sum"] = float(est.w_sum[i, g])
            rec["effective_n"] = float(est.ess[i, g])
        records.append(rec)
    return records


def grouping_records(
    data: GroupingData, specs: Sequence[MetricSpec], settings: TableSettings
) -> list[dict]:
    """Build the records of all scalar metrics of one grouping (intervals in one batch).

    The steps, each on the result of the one before: estimate (`estimate_groups`) ->
    intervals (`group_intervals`) -> differences (`group_differences`) -> p-values
    (`difference_p_values`, `finish_differences`) -> flags and records.
    """
    est = estimate_groups(data, specs, settings)
    iv = group_intervals(data, est, settings)
    disp = group_differences(data, est, iv, settings)
    difference_p_values(data, est, iv, disp, settings)
    finish_differences(est, iv, disp)
    return [
        rec
        for i in range(len(specs))
        for rec in _metric_records(data, est, iv, disp, i, settings.min_group_size)
    ]


def _confusion_records(data: GroupingData, spec: MetricSpec, settings: TableSettings) -> list[dict]:
    """Return the records of one confusion spec in one grouping: one per (group, true, pred).

    Each row of a group's matrix is a rate of a binary outcome over the rows with that
    true label, so its cells get the boundary-aware interval of a rate.
    """
    if spec.labels is None:
        raise AuditInputError(f"confusion spec {spec.metric!r} carries no label list")
    grouping, sl = data.grouping, data.columns(spec)
    n_groups, labels = grouping.n_groups, grouping.labels()
    cnt = spec.func(data.point[:, sl])  # (G, L, L)
    cnt_reps = spec.func(data.reps[:, :, sl])  # (B, G, L, L)
    n_lab = cnt.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = cnt / cnt.sum(axis=-1, keepdims=True)
        rate_reps = cnt_reps / cnt_reps.sum(axis=-1, keepdims=True)
    labels_t = list(spec.labels)
    t_codes = np.argmax(spec.stats, axis=1) // n_lab
    n_spk_rows = np.zeros((n_groups, n_lab), dtype=np.int64)
    n_utt_rows = np.zeros((n_groups, n_lab), dtype=np.int64)
    for i in range(n_lab):
        n_utt_rows[:, i], n_spk_rows[:, i] = data.counts(spec.valid & (t_codes == i))
    m = np.repeat(n_spk_rows[:, :, None], n_lab, axis=2)
    ci_level = settings.ci_level
    low, high = bootstrap_interval(rate_reps, m, ci_level, settings.ci_method)
    n_cell = np.repeat(n_utt_rows[:, :, None], n_lab, axis=2)
    low, high, _ = boundary_interval(rate, rate_reps, n_cell, m, low, high, ci_level)
    row_n = cnt.sum(axis=-1)
    records = []
    for g, i in itertools.product(range(n_groups), range(n_lab)):
        flags = []
        if row_n[g, i] == 0:
            flags.append("empty")
        elif n_spk_rows[g, i] < settings.min_group_size:
            flags.append("insufficient_data")
        records.extend(
            {
                "metric": spec.metric,
                "target": spec.target,
                "attribute": grouping.attribute,
                "group": dict(grouping.groups[g]),
                "group_label": labels[g],
                "true_label": labels_t[i],
                "pred_label": labels_t[j],
                "n_utterances": int(row_n[g, i]),
                "n_speakers": int(n_spk_rows[g, i]),
                "count": int(np.rint(cnt[g, i, j])),
                "value": float(rate[g, i, j]),
                "ci_low": float(low[g, i, j]),
                "ci_high": float(high[g, i, j]),
                "flags": list(flags),
            }
            for j in range(n_lab)
        )
    return records


def _metrics_frame(records: list[dict], settings: TableSettings) -> pd.DataFrame:
    """Return the metric table in `RECORD_COLUMNS` order with adjusted p-values and flags."""
    correction, alpha = settings.correction, 1 - settings.ci_level
    metrics = pd.DataFrame.from_records(records)
    if metrics.empty:
        return pd.DataFrame(columns=list(RECORD_COLUMNS))
    extra_cols = [c for c in metrics.columns if c not in RECORD_COLUMNS]
    metrics = metrics[list(RECORD_COLUMNS) + extra_cols]
    if settings.reference is None:
        metrics = metrics.drop(columns=["null_se", "null_rate"])
        adjust_families(metrics, correction, alpha)
    else:
        # p_adjusted, significant, and the simultaneous interval of each family
        control_errors([(metrics, FAMILY_COLUMNS)], correction, alpha, "family")
    return metrics


def metric_tables(
    table: pd.DataFrame,
    specs: Sequence[MetricSpec],
    groupings: Sequence[Grouping],
    boot: SpeakerBootstrap,
    settings: TableSettings | None = None,
    *,
    confusion: Sequence[MetricSpec] = (),
    weights: np.ndarray | None = None,
    **options: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group-metric records (and confusion-matrix records) for every grouping.

    Parameters
    ----------
    table : DataFrame
        Evaluation table (rows aligned with ``boot`` and the groupings).
    specs : sequence of MetricSpec
        Scalar metrics.
    groupings : sequence of Grouping
        Groupings of the rows (see `audit.stats.build_groupings`).
    boot : SpeakerBootstrap
        Bootstrap over the table's speakers.
    settings : TableSettings, optional
        Reference, confidence level, interval method, minimum group size and correction
        (default: the `TableSettings` defaults: overall reference, 95%, expanded, 10, Holm).
    confusion : sequence of MetricSpec
        Confusion-count specs (see `audit.stats.confusion_spec`) for the confusion table.
    weights : ndarray, shape (n_rows,), optional
        Row weights (e.g. from `audit.stats.raking_weights`), fixed in the bootstrap: every metric
        becomes its weighted version, and the metric table gains ``weight_sum`` and
        ``effective_n`` (Kish's ``(sum w)^2 / sum w^2`` over the group's valid rows);
        ``n_utterances`` stays the unweighted count.
    **options
        Fields of `TableSettings` as keywords (``reference``, ``ci_level``, ``ci_method``,
        ``min_group_size``, ``correction``), replacing those of ``settings``.

    Returns
    -------
    metrics : DataFrame
        Columns `RECORD_COLUMNS` plus extra metric columns (e.g. ``chance``).
    confusion : DataFrame
        Columns `CONFUSION_COLUMNS`.
    """
    settings = _table_settings(settings, options)
    _check_settings(table, settings)
    columns = _StatColumns(len(table), [*specs, *confusion])
    weights = _check_weights(weights, len(table))
    stacked = columns.stacked if weights is None else columns.stacked * weights[:, None]
    records, conf_records = [], []
    for grouping in groupings:
        point, reps = boot.group_sums(stacked, grouping.codes, grouping.n_groups)
        data = GroupingData(
            grouping=grouping,
            point=point,
            reps=reps,
            counts=GroupCounts(boot, grouping.codes, grouping.n_groups),
            weights=weights,
            columns=columns,
        )
        if specs:
            records.extend(grouping_records(data, specs, settings))
        for spec in confusion:
            conf_records.extend(_confusion_records(data, spec, settings))
    metrics = _metrics_frame(records, settings)
    conf = pd.DataFrame.from_records(conf_records, columns=list(CONFUSION_COLUMNS))
    return metrics, conf


def adjust_families(
    metrics: pd.DataFrame,
    correction: Literal["holm", "bh", "none"],
    alpha: float,
    by: Sequence[str] = ("metric", "target", "label"),
) -> None:
    """Fill ``p_adjusted`` and the ``significant`` flag in place, one family per ``by`` key.

    By default a family is one (metric, target, label) over all groupings and groups.
    Empty, insufficient-data and reference rows, and comparisons against a reference with
    insufficient data, are left out (``p_adjusted`` NaN).
    """
    keys = [metrics[c].map(lambda v: "" if v is None else str(v)) for c in by]
    excluded = {"empty", "insufficient_data", "insufficient_reference", "reference"}
    eligible_all = metrics["p_value"].notna().to_numpy() & np.array(
        [not (excluded & set(f)) for f in metrics["flags"]], dtype=bool
    )
    p_adj = np.full(len(metrics), np.nan)
    for _, idx in pd.Series(np.arange(len(metrics))).groupby(keys).groups.items():
        pos = np.asarray(idx)
        pos = pos[eligible_all[pos]]
        if len(pos):
            p_adj[pos] = adjust_p_values(metrics["p_value"].to_numpy()[pos], correction)
    metrics["p_adjusted"] = p_adj
    metrics["flags"] = [
        [*f, "significant"] if (pa < alpha and "significant" not in f) else list(f)
        for f, pa in zip(metrics["flags"], p_adj, strict=True)
    ]
