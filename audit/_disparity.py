"""Differences and ratios to the reference, their intervals and p-values, for one grouping.

Steps 3 and 4 of `audit._tables.grouping_records` (estimate -> intervals -> differences ->
p-values -> flags), on a `audit._estimates.GroupEstimates` and its `GroupIntervals`:
`group_differences` gives every group's difference and ratio to its reference with
bootstrap intervals (a rate's difference interval also contains Newcombe's score interval)
and the standard error under "no difference"; `difference_p_values` the p-values (score
tests for rates; the selection-aware max-T test against a ``"best"`` reference); and
`finish_differences` blanks the reference's own row and collapsed intervals. Shapes: ``S``
metrics, ``G`` groups, ``B`` replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit._best_reference import BestCandidates, best_p_values, best_pool
from audit._estimates import (
    GroupEstimates,
    GroupingData,
    GroupIntervals,
    TableSettings,
    collapsed,
)
from audit._intervals import (
    bootstrap_interval,
    effective_sample_size,
    replicate_variance,
    wilson_interval,
)
from audit._metrics import MetricSpec
from audit._power import null_effective_size, score_p_value, within_speaker_correlation

__all__ = ["Disparities", "difference_p_values", "finish_differences", "group_differences"]

NullSizes = tuple[np.ndarray, np.ndarray]


@dataclass(kw_only=True)
class Disparities:
    """Differences and ratios to the reference of a `GroupEstimates` (arrays (S, G)).

    Attributes
    ----------
    diff, d_lo, d_hi : ndarray
        Difference ``value - reference`` and its interval.
    diff_reps : ndarray, shape (B, S, G)
        Replicates of the difference.
    ratio, r_lo, r_hi : ndarray
        Ratio ``value / reference`` and its interval.
    null_se : ndarray
        Standard error of the difference under "no difference" (NaN without a reference).
    null_n : list
        Per metric the null effective sizes of the groups and of the rest of the table
        (rates with a reference), else None.
    p : ndarray
        p-value of the difference (filled by `difference_p_values`).
    """

    diff: np.ndarray
    diff_reps: np.ndarray
    d_lo: np.ndarray
    d_hi: np.ndarray
    ratio: np.ndarray
    r_lo: np.ndarray
    r_hi: np.ndarray
    null_se: np.ndarray
    null_n: list[NullSizes | None]
    p: np.ndarray


def _newcombe(
    diff: np.ndarray,
    p1: tuple[np.ndarray, np.ndarray, np.ndarray],
    p2: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval of ``p1 - p2`` from (estimate, low, high) of each."""
    (v1, l1, u1), (v2, l2, u2) = p1, p2
    low = diff - np.sqrt((v1 - l1) ** 2 + (u2 - v2) ** 2)
    high = diff + np.sqrt((u1 - v1) ** 2 + (v2 - l2) ** 2)
    return low, high


def _null_sizes(
    data: GroupingData,
    spec: MetricSpec,
    n_utt: np.ndarray,
    size_g: np.ndarray,
    size_rest: np.ndarray,
) -> NullSizes:
    """Effective sizes of each group and of the rest of the table under the null.

    The within-speaker correlation comes from the design effect of the whole table's rate
    (`audit._power.within_speaker_correlation`); each group's design effect from its own
    speakers' row counts. ``size_g`` / ``size_rest`` are the rows (Kish's effective size
    when weighted) the design effects divide.
    """
    sl = data.columns(spec)
    n_utt = n_utt.astype(np.float64)
    n_all = float(n_utt.sum())
    sq_g, sq_rest, sq_all = data.counts.squares(spec.valid)
    size_all = float(size_g.sum()) if n_all else 0.0
    p_all = float(spec.func(data.point[:, sl].sum(axis=0)))
    v_all = float(replicate_variance(spec.func(data.reps_total[:, sl])))
    m_all = float(data.counts.rest(spec.valid)[0])
    scale = size_all / n_all if n_all > 0 and size_all != n_all else 1.0
    rho = within_speaker_correlation(p_all, v_all, size_all, sq_all * scale, m_all)
    n_rest = n_all - n_utt
    with np.errstate(divide="ignore", invalid="ignore"):
        # weighted rows: the design effect of the counts divides Kish's effective size
        w_g = np.where(size_g == n_utt, 1.0, size_g / n_utt)
        w_rest = np.where(size_rest == n_rest, 1.0, size_rest / n_rest)
    ne_g = null_effective_size(n_utt, sq_g, rho) * w_g
    ne_rest = null_effective_size(n_rest, sq_rest, rho) * w_rest
    return ne_g, ne_rest


def _null_se_continuous(data: GroupingData, est: GroupEstimates, i: int) -> np.ndarray:
    """Return the standard error of a group of this many speakers drawn from the reference's.

    The reference's bootstrap variance rescaled to the group's speakers (metrics that are
    not binary rates).
    """
    spec, ref = est.specs[i], est.refs[i]
    m_g = est.n_spk[i].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if ref == "overall":
            m_all = float(data.counts.rest(spec.valid)[0])
            var = replicate_variance(est.ref_reps[:, i])
            sigma2 = var * m_all**2 / max(m_all - 1, 1)
            se = np.sqrt(sigma2 * np.maximum(1 / m_g - 1 / max(m_all, 1), 0))
        else:
            m_r = float(est.n_spk[i, ref])
            var = replicate_variance(est.value_reps[:, i, ref])
            sigma2 = var * m_r**2 / max(m_r - 1, 1)
            se = np.sqrt(sigma2 * (1 / m_g + 1 / m_r))
    return np.where(m_g > 0, se, np.nan)


def _null_se_rate_overall(
    data: GroupingData,
    est: GroupEstimates,
    iv: GroupIntervals,
    i: int,
    null_n: NullSizes | None,
    ci_level: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score standard error and Newcombe interval of a rate against the whole table."""
    spec = est.specs[i]
    sl = data.columns(spec)
    point, reps = data.point, data.reps
    n_rows_total = float(est.n_rows_total[i])
    p_g = est.value[i]
    nan = np.full(len(p_g), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = point[:, sl].sum(axis=0)
        rest_value = spec.func(total[None, :] - point[:, sl])  # (G,)
        rest_reps = spec.func(data.reps_total[:, None, sl] - reps[:, :, sl])
        ne_rest = effective_sample_size(
            rest_value,
            replicate_variance(rest_reps),
            est.rest_rows[i],
            data.counts.rest(spec.valid)[1],
        )
        share = est.n_rows[i] / n_rows_total if n_rows_total > 0 else nan
        p0 = spec.func(total)
        ne0_g, ne0_rest = null_n if null_n is not None else (iv.n_eff[i], ne_rest)
        se = (1 - share) * np.sqrt(p0 * (1 - p0) * (1 / ne0_g + 1 / ne0_rest))
        l_r, u_r = wilson_interval(rest_value, ne_rest, ci_level)
        gap = p_g - rest_value
        lo, hi = _newcombe(gap, (p_g, iv.low[i], iv.high[i]), (rest_value, l_r, u_r))
        # around the reported difference (= (1 - f) gap for a rate; macro recall is not
        # linear in the rows, so only the scaled widths carry over)
        diff = p_g - p0
        return se, diff - (1 - share) * (gap - lo), diff + (1 - share) * (hi - gap)


def _null_se(
    data: GroupingData,
    est: GroupEstimates,
    iv: GroupIntervals,
    i: int,
    null_n: NullSizes | None,
    ci_level: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the standard error of the difference under "no difference", and a score CI.

    Binary rates: the score standard error at the null effective sample sizes ``null_n``
    (of each group and of the rest of the table; `audit._power.null_effective_size`, with
    the within-speaker correlation of the whole table, never the group's observed rate)
    and Newcombe's hybrid score interval from the boundary-aware intervals. Other metrics:
    the standard error of a group of this many speakers drawn from the reference's speakers (the
    reference's bootstrap variance rescaled), and no score interval (NaN).
    """
    spec, ref = est.specs[i], est.refs[i]
    nan = np.full(est.value.shape[1], np.nan)
    if ref is None:
        return nan, nan, nan
    if not spec.binary:
        return _null_se_continuous(data, est, i), nan, nan
    if ref == "overall":
        return _null_se_rate_overall(data, est, iv, i, null_n, ci_level)
    sl = data.columns(spec)
    p_g = est.value[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        p0 = spec.func(data.point[:, sl] + data.point[ref, sl][None, :])  # pooled rate of the pair
        ne0 = null_n[0] if null_n is not None else iv.n_eff[i]
        se = np.sqrt(p0 * (1 - p0) * (1 / ne0 + 1 / ne0[ref]))
        p_r, l_r, u_r = est.value[i, ref], iv.low[i, ref], iv.high[i, ref]
        lo, hi = _newcombe(p_g - p_r, (p_g, iv.low[i], iv.high[i]), (p_r, l_r, u_r))
        return se, lo, hi


def _widen_to_score_interval(
    est: GroupEstimates, iv: GroupIntervals, disp: Disparities, i: int, score: tuple
) -> None:
    """Make a rate's difference and ratio intervals contain the score-based ones (in place).

    The difference's interval contains the score interval built from the boundary-aware
    intervals (and the ratio's the ratio of those intervals), so it cannot collapse either.
    """
    s_lo, s_hi = score
    disp.d_lo[i] = np.where(np.isfinite(s_lo), np.minimum(disp.d_lo[i], s_lo), disp.d_lo[i])
    disp.d_hi[i] = np.where(np.isfinite(s_hi), np.maximum(disp.d_hi[i], s_hi), disp.d_hi[i])
    ref_value = est.ref_value[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        q_lo = np.where(ref_value > 0, iv.low[i] / ref_value, np.nan)
        q_hi = np.where(ref_value > 0, iv.high[i] / ref_value, np.nan)
    disp.r_lo[i] = np.where(np.isfinite(q_lo), np.minimum(disp.r_lo[i], q_lo), disp.r_lo[i])
    disp.r_hi[i] = np.where(np.isfinite(q_hi), np.maximum(disp.r_hi[i], q_hi), disp.r_hi[i])


def group_differences(
    data: GroupingData, est: GroupEstimates, iv: GroupIntervals, settings: TableSettings
) -> Disparities:
    """Step 3: differences and ratios to the reference with intervals and null SEs.

    Bootstrap intervals over the smaller side's speakers; for rates, widened to contain
    the score interval (`_widen_to_score_interval`). ``p`` is left NaN for step 4.
    """
    value, ref_value, ref_reps = est.value, est.ref_value, est.ref_reps
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        diff = value - ref_value[:, None]
        diff_reps = est.value_reps - ref_reps[:, :, None]
        ratio = np.where(ref_value[:, None] != 0, value / ref_value[:, None], np.nan)
        ratio_reps = np.where(
            ref_reps[:, :, None] != 0, est.value_reps / ref_reps[:, :, None], np.nan
        )
    d_lo, d_hi = bootstrap_interval(diff_reps, est.m, settings.ci_level, settings.ci_method)
    r_lo, r_hi = bootstrap_interval(ratio_reps, est.m, settings.ci_level, settings.ci_method)
    sizes = est.n_utt if est.ess is None else est.ess
    null_n = [
        _null_sizes(data, spec, est.n_utt[i], size_g, size_r)
        if spec.binary and est.refs[i] is not None
        else None
        for i, (spec, size_g, size_r) in enumerate(
            zip(est.specs, sizes, est.rest_rows, strict=True)
        )
    ]
    disp = Disparities(
        diff=diff,
        diff_reps=diff_reps,
        d_lo=d_lo,
        d_hi=d_hi,
        ratio=ratio,
        r_lo=r_lo,
        r_hi=r_hi,
        null_se=np.full(value.shape, np.nan),
        null_n=null_n,
        p=np.full(value.shape, np.nan),
    )
    for i, spec in enumerate(est.specs):
        if est.refs[i] is None:
            continue
        disp.null_se[i], s_lo, s_hi = _null_se(data, est, iv, i, null_n[i], settings.ci_level)
        if spec.binary:
            _widen_to_score_interval(est, iv, disp, i, (s_lo, s_hi))
    return disp


def difference_p_values(
    data: GroupingData,
    est: GroupEstimates,
    iv: GroupIntervals,
    disp: Disparities,
    settings: TableSettings,
) -> None:
    """Step 4: p-value of every difference, into ``disp.p``.

    Rates get score tests (the standard error under the null, never at the observed rate);
    against a ``"best"`` reference chosen from two or more candidates, the selection-aware
    max-T p-values of `audit._best_reference.best_p_values`.
    """
    binary = np.array([spec.binary for spec in est.specs], dtype=bool)
    score = np.repeat(binary[:, None], est.value.shape[1], axis=1)
    disp.p = score_p_value(disp.diff, disp.diff_reps, est.m, disp.null_se, score)
    if settings.reference != "best":
        return
    for i, spec in enumerate(est.specs):
        ref = est.refs[i]
        if not isinstance(ref, int):
            continue
        pool = best_pool(est.value[i], est.n_spk[i] >= settings.min_group_size)
        if len(pool) >= 2:  # with one candidate the reference was not selected
            null_n = disp.null_n[i]
            candidates = BestCandidates(
                sums=data.point[:, data.columns(spec)],
                value=est.value[i],
                value_reps=est.value_reps[:, i],
                n_spk=est.n_spk[i],
                n_eff=iv.n_eff[i] if null_n is None else null_n[0],
            )
            disp.p[i] = best_p_values(spec, candidates, pool, ref)


def finish_differences(est: GroupEstimates, iv: GroupIntervals, disp: Disparities) -> None:
    """Blank the reference's own row and collapsed difference intervals (in place).

    A group that holds every row of the metric equals the overall reference in every
    replicate: its difference is 0 (ratio 1) by construction, and [0, 0] is exact. Any
    other collapsed difference or ratio interval gets NaN bounds and ``degenerate``.
    """
    for i, ref in enumerate(est.refs):
        if isinstance(ref, int):
            for arr in (disp.diff, disp.d_lo, disp.d_hi, disp.ratio, disp.r_lo, disp.r_hi, disp.p):
                arr[i, ref] = np.nan
    overall_ref = np.array([ref == "overall" for ref in est.refs], dtype=bool)
    identical = overall_ref[:, None] & (est.n_rows == est.n_rows_total[:, None]) & (est.n_utt > 0)
    size = np.fmax(np.abs(est.value), np.abs(est.ref_value)[:, None])
    pairs = (
        (disp.diff, disp.d_lo, disp.d_hi, size),
        (disp.ratio, disp.r_lo, disp.r_hi, disp.ratio),
    )
    for estimate, lo_arr, hi_arr, mag in pairs:
        flat = collapsed(lo_arr, hi_arr, estimate, mag) & ~identical
        lo_arr[flat] = np.nan
        hi_arr[flat] = np.nan
        iv.degenerate |= flat
