"""Per-grouping estimates of the group-metric tables: values, replicates, counts, reference.

The first two steps of `audit._tables.grouping_records` (estimate -> intervals ->
differences -> p-values -> flags): `estimate_groups` turns one grouping's bootstrapped
group totals into a `GroupEstimates` (every metric's value per group, its replicates, its
utterance and speaker counts, and its reference), and `group_intervals` gives each value
its confidence interval (`GroupIntervals`). Shapes: ``S`` metrics, ``G`` groups, ``B``
bootstrap replicates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

from audit._best_reference import best_pool
from audit._counts import GroupCounts
from audit._groups import Grouping
from audit._intervals import (
    bootstrap_interval,
    boundary_interval,
    effective_sample_size,
    replicate_variance,
    wilson_interval,
)
from audit._metrics import MetricSpec
from audit.exceptions import AuditInputError

__all__ = [
    "GroupEstimates",
    "GroupIntervals",
    "GroupingData",
    "Reference",
    "TableSettings",
    "collapsed",
    "estimate_groups",
    "group_intervals",
]

Reference = Literal["overall", "best"] | Mapping[str, str] | None

# An interval narrower than this, relative to the size of the values it is built from, has
# collapsed to a point: every replicate gave the same value up to rounding.
_COLLAPSE_TOLERANCE = 1e-9


@dataclass(frozen=True, kw_only=True)
class TableSettings:
    """Settings of the group-metric tables (the keywords of `audit.stats.metric_tables`).

    Attributes
    ----------
    reference : {"overall", "best"}, mapping or None
        Reference of the disparities; None computes none.
    ci_level : float
        Confidence level.
    ci_method : {"expanded", "percentile"}
        Interval method (see `audit.stats.bootstrap_interval`).
    min_group_size : int
        Fewer speakers than this flags ``insufficient_data``; such groups stay in the table
        but are left out of the p-value families and never flagged significant.
    correction : {"holm", "bh", "none"}
        Multiple-testing correction per family.
    """

    reference: Reference = "overall"
    ci_level: float = 0.95
    ci_method: Literal["expanded", "percentile"] = "expanded"
    min_group_size: int = 10
    correction: Literal["holm", "bh", "none"] = "holm"


@dataclass(frozen=True, kw_only=True)
class GroupingData:
    """One grouping's bootstrapped statistics, shared by all of its metrics.

    Attributes
    ----------
    grouping : Grouping
        The grouping of the rows.
    point : ndarray, shape (G, n_stats)
        Group totals of the stacked statistics matrix.
    reps : ndarray, shape (B, G, n_stats)
        Their bootstrap replicates.
    counts : GroupCounts
        Utterance and speaker counts per validity mask.
    weights : ndarray, shape (n_rows,), optional
        Row weights (None: unweighted).
    columns : callable
        Maps a metric to its slice of the ``n_stats`` columns.
    """

    grouping: Grouping
    point: np.ndarray
    reps: np.ndarray
    counts: GroupCounts
    weights: np.ndarray | None
    columns: Callable[[MetricSpec], slice]

    @cached_property
    def reps_total(self) -> np.ndarray:
        """Each replicate's whole-table sums, shape (B, n_stats)."""
        return self.reps.sum(axis=1)


@dataclass(kw_only=True)
class GroupEstimates:
    """Point estimates of every metric of one grouping, with replicates, counts and reference.

    Attributes
    ----------
    specs : tuple of MetricSpec
        The ``S`` metrics.
    value : ndarray, shape (S, G)
        Value of every metric in every group.
    value_reps : ndarray, shape (B, S, G)
        Its bootstrap replicates.
    n_utt, n_spk : ndarray of int, shape (S, G)
        Valid utterances and distinct speakers behind each value.
    refs : tuple
        Per metric the reference: a group index, ``"overall"`` or None (no reference).
    ref_value : ndarray, shape (S,)
        Value of the reference (NaN without one).
    ref_reps : ndarray, shape (B, S)
        Its replicates.
    m : ndarray, shape (S, G)
        Speakers behind each difference (the smaller side of the pair).
    n_rows : ndarray, shape (S, G)
        Rows behind each value (the weight sum when weighted).
    n_rows_total : ndarray, shape (S,)
        Rows (weight sum) of the whole table.
    rest_rows : ndarray, shape (S, G)
        Rows outside each group (Kish's effective size when weighted).
    ess : ndarray, shape (S, G), optional
        Kish's effective sample size of each group (weighted tables only).
    w_sum : ndarray, shape (S, G), optional
        Weight sum of each group (weighted tables only).
    """

    specs: tuple[MetricSpec, ...]
    value: np.ndarray
    value_reps: np.ndarray
    n_utt: np.ndarray
    n_spk: np.ndarray
    refs: tuple[int | str | None, ...]
    ref_value: np.ndarray
    ref_reps: np.ndarray
    m: np.ndarray
    n_rows: np.ndarray
    n_rows_total: np.ndarray
    rest_rows: np.ndarray
    ess: np.ndarray | None = None
    w_sum: np.ndarray | None = None

    @property
    def sizes(self) -> np.ndarray:
        """Sample sizes of the rate intervals: rows, or Kish's effective size when weighted."""
        return self.n_utt.astype(np.float64) if self.ess is None else self.ess


@dataclass(kw_only=True)
class GroupIntervals:
    """Confidence intervals of the values of a `GroupEstimates` (all shape (S, G)).

    ``degenerate`` marks intervals that collapsed to a point (their bounds are NaN),
    ``n_eff`` the effective sample sizes of the rates' boundary rule (NaN for other
    metrics) and ``nan_frac`` the share of undefined replicates.
    """

    low: np.ndarray
    high: np.ndarray
    n_eff: np.ndarray
    degenerate: np.ndarray
    nan_frac: np.ndarray


def collapsed(
    low: np.ndarray, high: np.ndarray, estimate: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """Finite intervals of (about) zero width around a finite estimate.

    ``size`` is the magnitude of the values behind the estimate (e.g. of both groups for
    a difference), which sets the rounding noise of the replicates.

    Examples
    --------
    >>> import numpy as np
    >>> collapsed(np.array([0.5, 0.4]), np.array([0.5, 0.6]), np.array([0.5, 0.5]),
    ...           np.array([0.5, 0.5])).tolist()
    [True, False]
    """
    with np.errstate(invalid="ignore"):
        width = high - low
        tol = _COLLAPSE_TOLERANCE * np.fmax(np.abs(estimate), np.abs(size))
        return np.isfinite(estimate) & np.isfinite(width) & (width <= tol)


def _reference_index(
    grouping: Grouping,
    reference: Reference,
    values: np.ndarray,
    eligible: np.ndarray,
    higher_is_better: bool,
) -> int | Literal["overall"] | None:
    """Find the reference of a grouping: a group index, ``"overall"`` or None (none)."""
    if reference is None or not grouping.columns:
        return None
    if reference == "overall":
        return "overall"
    if reference == "best":
        pool = best_pool(values, eligible)
        if len(pool) == 0:
            return None
        key = values[pool] if higher_is_better else -values[pool]
        return int(pool[np.argmax(key)])
    if not isinstance(reference, Mapping):
        raise AuditInputError(f"unknown reference {reference!r}")
    if not all(c in reference for c in grouping.columns):
        return "overall"
    index = grouping.find(reference)
    if index is None:
        wanted = {c: reference[c] for c in grouping.columns}
        raise AuditInputError(
            f"reference group {wanted} does not exist in grouping {grouping.attribute!r}; "
            f"groups are {grouping.labels()}"
        )
    return index


def _weighted_sizes(grouping: Grouping, weights: np.ndarray, est: GroupEstimates) -> None:
    """Put weight sums and Kish's effective sizes into ``est`` (in place, weighted tables).

    The share of a group in the overall rate is its share of the weights, and the rows
    outside a group count as Kish's effective size of the rest of the table.
    """
    n_specs, n_groups = est.value.shape
    est.w_sum = np.zeros((n_specs, n_groups))
    est.ess = np.full((n_specs, n_groups), np.nan)
    for i, spec in enumerate(est.specs):
        codes, w = grouping.codes[spec.valid], weights[spec.valid]
        est.w_sum[i] = np.bincount(codes, weights=w, minlength=n_groups)
        w_sq = np.bincount(codes, weights=w * w, minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            est.ess[i] = np.where(w_sq > 0, est.w_sum[i] ** 2 / w_sq, 0.0)
            sum_all, sq_all = est.w_sum[i].sum(), w_sq.sum()
            est.rest_rows[i] = np.where(
                sq_all - w_sq > 0, (sum_all - est.w_sum[i]) ** 2 / (sq_all - w_sq), 0.0
            )
            est.n_rows_total[i] = sum_all
        est.n_rows[i] = est.w_sum[i]


def estimate_groups(
    data: GroupingData, specs: Sequence[MetricSpec], settings: TableSettings
) -> GroupEstimates:
    """Step 1: every metric's value, replicates, counts and reference in every group.

    Parameters
    ----------
    data : GroupingData
        The grouping's bootstrapped totals.
    specs : sequence of MetricSpec
        Scalar metrics.
    settings : TableSettings
        Reference and minimum group size (a reference must have enough speakers).

    Returns
    -------
    GroupEstimates
    """
    n_groups, n_specs = data.grouping.n_groups, len(specs)
    n_boot = data.reps.shape[0]
    value = np.empty((n_specs, n_groups))
    value_reps = np.empty((n_boot, n_specs, n_groups))
    n_utt = np.empty((n_specs, n_groups), dtype=np.int64)
    n_spk = np.empty((n_specs, n_groups), dtype=np.int64)
    ref_value = np.full(n_specs, np.nan)
    ref_reps = np.full((n_boot, n_specs), np.nan)
    m = np.zeros((n_specs, n_groups))
    refs: list[int | str | None] = []
    for i, spec in enumerate(specs):
        sl = data.columns(spec)
        value[i] = spec.func(data.point[:, sl])
        value_reps[:, i] = spec.func(data.reps[:, :, sl])
        n_utt[i], n_spk[i] = data.counts(spec.valid)
        sufficient = n_spk[i] >= settings.min_group_size
        ref = _reference_index(
            data.grouping, settings.reference, value[i], sufficient, spec.higher_is_better
        )
        refs.append(ref)
        if ref == "overall":
            ref_value[i] = spec.func(data.point[:, sl].sum(axis=0))
            ref_reps[:, i] = spec.func(data.reps_total[:, sl])
            m[i] = n_spk[i]
        elif ref is not None:
            ref_value[i], ref_reps[:, i] = value[i, ref], value_reps[:, i, ref]
            m[i] = np.minimum(n_spk[i], n_spk[i, ref])
    # Rows behind each value (Kish's effective size when weighted), for the whole table
    # and outside each group: the sample sizes of the boundary rule.
    n_rows = n_utt.astype(np.float64)
    n_rows_total = n_rows.sum(axis=1)
    est = GroupEstimates(
        specs=tuple(specs),
        value=value,
        value_reps=value_reps,
        n_utt=n_utt,
        n_spk=n_spk,
        refs=tuple(refs),
        ref_value=ref_value,
        ref_reps=ref_reps,
        m=m,
        n_rows=n_rows,
        n_rows_total=n_rows_total,
        rest_rows=n_rows_total[:, None] - n_rows,
    )
    if data.weights is not None:
        _weighted_sizes(data.grouping, data.weights, est)
    return est


def _ece_accuracy_floor(
    sums: np.ndarray,
    sums_reps: np.ndarray,
    ece: np.ndarray,
    n_rows: np.ndarray,
    n_spk: np.ndarray,
    ci_level: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return an ECE interval from the Wilson interval of the top-label accuracy.

    ECE ``= sum_b (n_b / n) |acc_b - conf_b|`` moves by at most ``delta`` when every
    bin's accuracy moves by ``delta``, so ``[ECE - delta, ECE + delta]`` (within [0, 1]),
    with ``delta`` the larger half of the Wilson interval of the group's accuracy at its
    effective sample size (`effective_sample_size`: the speakers when every speaker is
    right or every one wrong), is an interval that does not claim more than the counts
    allow. Used where the bootstrap interval of ECE collapsed to a point.

    Parameters
    ----------
    sums : ndarray, shape (n_groups, 3 * n_bins)
        Per-bin totals (count, confidence, correctness) of `audit.stats.ece_from_sums`.
    sums_reps : ndarray, shape (n_boot, n_groups, 3 * n_bins)
        Their replicates.
    ece : ndarray, shape (n_groups,)
        ECE of every group.
    n_rows, n_spk : ndarray, shape (n_groups,)
        Rows (Kish's effective size when weighted) and speakers behind each value.
    ci_level : float
        Confidence level.

    Returns
    -------
    low, high : ndarray, shape (n_groups,)
    """
    n_bins = sums.shape[-1] // 3
    per_bin = sums.reshape(*sums.shape[:-1], n_bins, 3)  # (G, bins, 3)
    per_bin_reps = sums_reps.reshape(*sums_reps.shape[:-1], n_bins, 3)  # (B, G, bins, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = per_bin[..., 2].sum(axis=-1) / per_bin[..., 0].sum(axis=-1)
        acc_reps = per_bin_reps[..., 2].sum(axis=-1) / per_bin_reps[..., 0].sum(axis=-1)
    n_eff = effective_sample_size(acc, replicate_variance(acc_reps), n_rows, n_spk)
    w_low, w_high = wilson_interval(acc, n_eff, ci_level)
    delta = np.fmax(acc - w_low, w_high - acc)
    return np.clip(ece - delta, 0.0, 1.0), np.clip(ece + delta, 0.0, 1.0)


def group_intervals(
    data: GroupingData, est: GroupEstimates, settings: TableSettings
) -> GroupIntervals:
    """Step 2: the confidence interval of every value.

    The speaker bootstrap interval (`audit.stats.bootstrap_interval`); a rate's interval contains
    the Wilson interval at its effective sample size (boundary rule); a collapsed ECE
    interval is replaced by one from the accuracy's Wilson interval; any other interval
    that collapsed to a point gets NaN bounds and ``degenerate``.
    """
    ci_level = settings.ci_level
    value, n_spk = est.value, est.n_spk
    low, high = bootstrap_interval(est.value_reps, n_spk, ci_level, settings.ci_method)
    n_eff = np.full(value.shape, np.nan)
    binary = np.array([spec.binary for spec in est.specs], dtype=bool)
    if binary.any():
        b = np.flatnonzero(binary)
        low[b], high[b], n_eff[b] = boundary_interval(
            value[b], est.value_reps[:, b], est.sizes[b], n_spk[b], low[b], high[b], ci_level
        )
    # ECE is bounded and built from counts: a collapsed interval (e.g. every row right at the
    # same confidence) is replaced by one from the Wilson interval of the accuracy.
    for i, spec in enumerate(est.specs):
        if spec.metric == "ece" and spec.n_stats % 3 == 0:
            sl = data.columns(spec)
            e_lo, e_hi = _ece_accuracy_floor(
                data.point[:, sl], data.reps[:, :, sl], value[i], est.sizes[i], n_spk[i], ci_level
            )
            flat = collapsed(low[i], high[i], value[i], value[i]) & np.isfinite(e_lo)
            low[i] = np.where(flat, e_lo, low[i])
            high[i] = np.where(flat, e_hi, high[i])
    # Any other interval that collapsed to a point claims a certainty the data do not
    # support (kappa of a group that always agrees, a constant similarity): NaN bounds and
    # the flag degenerate_ci instead.
    degenerate = collapsed(low, high, value, value)
    low[degenerate] = np.nan
    high[degenerate] = np.nan
    return GroupIntervals(
        low=low,
        high=high,
        n_eff=n_eff,
        degenerate=degenerate,
        nan_frac=np.mean(~np.isfinite(est.value_reps), axis=0),
    )
