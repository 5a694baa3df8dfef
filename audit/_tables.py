"""Tidy group-metric tables: values, CIs, disparities against a reference, corrected p-values.

`metric_tables` is the engine behind `audit.run_audit_tables`: for every grouping it runs one
stratified speaker-cluster bootstrap of the group totals of all metrics at once, then derives
values, intervals, differences and ratios to the reference group, and p-values; the p-values
of each family (one metric of one target and label, over all groupings and groups) are then
corrected together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from audit._best_reference import best_p_values, best_pool
from audit._bootstrap import (
    SpeakerBootstrap,
    bootstrap_interval,
    boundary_interval,
    effective_sample_size,
    replicate_variance,
    wilson_interval,
)
from audit._groups import OVERALL, Grouping
from audit._metrics import MetricSpec
from audit._multitest import CORRECTIONS, adjust_p_values
from audit._power import null_effective_size, score_p_value, within_speaker_correlation
from audit._simultaneous import control_errors
from audit.exceptions import AuditInputError

__all__ = [
    "CONFUSION_COLUMNS",
    "FAMILY_COLUMNS",
    "FLAGS",
    "RECORD_COLUMNS",
    "Reference",
    "metric_tables",
]

Reference = Literal["overall", "best"] | Mapping[str, str] | None

#: Columns of every group-metric table, in order (extra metric columns follow).
RECORD_COLUMNS: tuple[str, ...] = (
    "metric",
    "target",
    "label",
    "attribute",
    "group",
    "group_label",
    "n_utterances",
    "n_speakers",
    "value",
    "ci_low",
    "ci_high",
    "reference",
    "reference_value",
    "difference",
    "diff_ci_low",
    "diff_ci_high",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "p_value",
    "p_adjusted",
    "flags",
)
#: Columns that define a p-value family of the metric table.
FAMILY_COLUMNS: tuple[str, ...] = ("metric", "target", "label")
#: Columns of the confusion table.
CONFUSION_COLUMNS: tuple[str, ...] = (
    "metric",
    "target",
    "attribute",
    "group",
    "group_label",
    "true_label",
    "pred_label",
    "n_utterances",
    "n_speakers",
    "count",
    "value",
    "ci_low",
    "ci_high",
    "flags",
)
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
# An interval narrower than this, relative to the size of the values it is built from, has
# collapsed to a point: every replicate gave the same value up to rounding.
_COLLAPSE_TOLERANCE = 1e-9


def _collapsed(
    low: np.ndarray, high: np.ndarray, estimate: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """Finite intervals of (about) zero width around a finite estimate.

    ``size`` is the magnitude of the values behind the estimate (e.g. of both groups for
    a difference), which sets the rounding noise of the replicates.
    """
    with np.errstate(invalid="ignore"):
        width = high - low
        tol = _COLLAPSE_TOLERANCE * np.fmax(np.abs(estimate), np.abs(size))
        return np.isfinite(estimate) & np.isfinite(width) & (width <= tol)


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
        Per-bin totals (count, confidence, correctness) of `audit.ece_from_sums`.
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


def _check_reference(reference: Reference) -> None:
    if reference is None or reference in ("overall", "best"):
        return
    if isinstance(reference, Mapping) and reference:
        return
    raise AuditInputError(
        "reference must be 'overall', 'best' or a mapping column -> group label "
        f"(e.g. {{'gender': 'male'}}), got {reference!r}"
    )


def _speaker_counts(
    boot: SpeakerBootstrap, codes: np.ndarray, valid: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Utterances and distinct speakers per group among valid rows."""
    n_utt = np.bincount(codes[valid], minlength=n_groups)
    pairs = np.unique(boot.speaker_codes[valid] * n_groups + codes[valid])
    n_spk = np.bincount(pairs % n_groups, minlength=n_groups)
    return n_utt, n_spk


def _rest_speakers(
    boot: SpeakerBootstrap, codes: np.ndarray, valid: np.ndarray, n_groups: int
) -> tuple[int, np.ndarray]:
    """Speakers with valid rows in total, and per group outside that group."""
    pairs = np.unique(boot.speaker_codes[valid] * n_groups + codes[valid])
    spk, grp = pairs // n_groups, pairs % n_groups
    per_speaker = np.bincount(spk, minlength=boot.n_speakers)
    n_total = int(np.count_nonzero(per_speaker))
    only_here = np.bincount(grp[per_speaker[spk] == 1], minlength=n_groups)
    return n_total, n_total - only_here


def _speaker_squares(
    boot: SpeakerBootstrap, codes: np.ndarray, valid: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Sum ``n_s^2`` per group, outside each group, and over the table (valid rows).

    ``n_s`` counts a speaker's valid rows (in the group, outside it, in the table): the
    cluster sizes behind the design effect of `audit._power.null_effective_size`.
    """
    spk_all = boot.speaker_codes[valid]
    per_speaker = np.bincount(spk_all, minlength=boot.n_speakers).astype(np.float64)
    keys, cnt = np.unique(spk_all * n_groups + codes[valid], return_counts=True)
    spk, grp = keys // n_groups, keys % n_groups
    cnt = cnt.astype(np.float64)
    sq_g = np.bincount(grp, weights=cnt**2, minlength=n_groups)
    cross = np.bincount(grp, weights=cnt * per_speaker[spk], minlength=n_groups)
    total = float((per_speaker**2).sum())
    return sq_g, total - 2 * cross + sq_g, total


class _CountCache:
    """Utterance and speaker counts per group for each distinct validity mask."""

    def __init__(self, boot: SpeakerBootstrap, codes: np.ndarray, n_groups: int) -> None:
        self.boot, self.codes, self.n_groups = boot, codes, n_groups
        self.cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self.rest_cache: dict[bytes, tuple[int, np.ndarray]] = {}

    def __call__(self, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = np.packbits(valid).tobytes()
        if key not in self.cache:
            self.cache[key] = _speaker_counts(self.boot, self.codes, valid, self.n_groups)
        return self.cache[key]

    def rest(self, valid: np.ndarray) -> tuple[int, np.ndarray]:
        """Speakers with valid rows in total and, per group, outside the group."""
        key = np.packbits(valid).tobytes()
        if key not in self.rest_cache:
            self.rest_cache[key] = _rest_speakers(self.boot, self.codes, valid, self.n_groups)
        return self.rest_cache[key]

    def squares(self, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Sum ``n_s^2`` per group, outside each group and in total (`_speaker_squares`)."""
        return _speaker_squares(self.boot, self.codes, valid, self.n_groups)


def _newcombe(
    diff: np.ndarray,
    p1: np.ndarray,
    l1: np.ndarray,
    u1: np.ndarray,
    p2: np.ndarray,
    l2: np.ndarray,
    u2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval of ``p1 - p2`` from intervals of ``p1`` and ``p2``."""
    low = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def _null_se(
    spec: MetricSpec,
    i: int,
    ref: int | str | None,
    sl: slice,
    point: np.ndarray,
    reps: np.ndarray,
    reps_total: np.ndarray,
    value: np.ndarray,
    value_reps: np.ndarray,
    ref_reps: np.ndarray,
    n_rows: np.ndarray,
    n_rows_total: float,
    rest_rows: np.ndarray,
    n_spk: np.ndarray,
    rest_spk: tuple[int, np.ndarray],
    low: np.ndarray,
    high: np.ndarray,
    n_eff: np.ndarray,
    null_n: tuple[np.ndarray, np.ndarray] | None,
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
    n_groups = len(value[i])
    nan = np.full(n_groups, np.nan)
    m_g = n_spk[i].astype(np.float64)
    if ref is None:
        return nan, nan, nan
    with np.errstate(divide="ignore", invalid="ignore"):
        if not spec.binary:
            if ref == "overall":
                m_all = float(rest_spk[0])
                var = replicate_variance(ref_reps[:, i])
                sigma2 = var * m_all**2 / max(m_all - 1, 1)
                se = np.sqrt(sigma2 * np.maximum(1 / m_g - 1 / max(m_all, 1), 0))
            else:
                m_r = float(n_spk[i, ref])
                var = replicate_variance(value_reps[:, i, ref])
                sigma2 = var * m_r**2 / max(m_r - 1, 1)
                se = np.sqrt(sigma2 * (1 / m_g + 1 / m_r))
            return np.where(m_g > 0, se, np.nan), nan, nan
        p_g = value[i]
        if ref == "overall":
            total = point[:, sl].sum(axis=0)
            rest_value = spec.func(total[None, :] - point[:, sl])  # (G,)
            rest_reps = spec.func(reps_total[:, None, sl] - reps[:, :, sl])
            ne_rest = effective_sample_size(
                rest_value, replicate_variance(rest_reps), rest_rows[i], rest_spk[1]
            )
            share = n_rows[i] / n_rows_total if n_rows_total > 0 else nan
            p0 = spec.func(total)
            ne0_g, ne0_rest = null_n if null_n is not None else (n_eff[i], ne_rest)
            se = (1 - share) * np.sqrt(p0 * (1 - p0) * (1 / ne0_g + 1 / ne0_rest))
            l_r, u_r = wilson_interval(rest_value, ne_rest, ci_level)
            gap = p_g - rest_value
            lo, hi = _newcombe(gap, p_g, low[i], high[i], rest_value, l_r, u_r)
            # around the reported difference (= (1 - f) gap for a rate; macro recall is not
            # linear in the rows, so only the scaled widths carry over)
            diff = p_g - p0
            return se, diff - (1 - share) * (gap - lo), diff + (1 - share) * (hi - gap)
        p0 = spec.func(point[:, sl] + point[ref, sl][None, :])  # pooled rate of the pair
        ne0 = null_n[0] if null_n is not None else n_eff[i]
        se = np.sqrt(p0 * (1 - p0) * (1 / ne0 + 1 / ne0[ref]))
        p_r, l_r, u_r = value[i, ref], low[i, ref], high[i, ref]
        lo, hi = _newcombe(p_g - p_r, p_g, low[i], high[i], p_r, l_r, u_r)
        return se, lo, hi


def _null_sizes(
    spec: MetricSpec,
    sl: slice,
    point: np.ndarray,
    reps_total: np.ndarray,
    counts: _CountCache,
    n_utt: np.ndarray,
    size_g: np.ndarray,
    size_rest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Effective sizes of each group and of the rest of the table under the null.

    The within-speaker correlation comes from the design effect of the whole table's rate
    (`audit._power.within_speaker_correlation`); each group's design effect from its own
    speakers' row counts. ``size_g`` / ``size_rest`` are the rows (Kish's effective size
    when weighted) the design effects divide.
    """
    n_utt = n_utt.astype(np.float64)
    n_all = float(n_utt.sum())
    sq_g, sq_rest, sq_all = counts.squares(spec.valid)
    size_all = float(size_g.sum()) if n_all else 0.0
    p_all = float(spec.func(point[:, sl].sum(axis=0)))
    v_all = float(replicate_variance(spec.func(reps_total[:, sl])))
    m_all = float(counts.rest(spec.valid)[0])
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


def _grouping_records(
    grouping: Grouping,
    specs: Sequence[MetricSpec],
    cols: Callable[[MetricSpec], slice],
    weights: np.ndarray | None,
    point: np.ndarray,
    reps: np.ndarray,
    counts: _CountCache,
    reference: Reference,
    labels: list[str],
    ci_level: float,
    ci_method: Literal["expanded", "percentile"],
    min_group_size: int,
) -> list[dict]:
    """Build the records of all scalar metrics of one grouping (intervals in one batch)."""
    n_groups, n_specs = grouping.n_groups, len(specs)
    n_boot = reps.shape[0]
    value = np.empty((n_specs, n_groups))
    value_reps = np.empty((n_boot, n_specs, n_groups))
    n_utt = np.empty((n_specs, n_groups), dtype=np.int64)
    n_spk = np.empty((n_specs, n_groups), dtype=np.int64)
    ref_value = np.full(n_specs, np.nan)
    ref_reps = np.full((n_boot, n_specs), np.nan)
    m = np.zeros((n_specs, n_groups))
    refs: list[int | str | None] = []
    reps_total = reps.sum(axis=1)  # (B, stats): each replicate's whole-table sums, once
    for i, spec in enumerate(specs):
        sl = cols(spec)
        value[i] = spec.func(point[:, sl])
        value_reps[:, i] = spec.func(reps[:, :, sl])
        n_utt[i], n_spk[i] = counts(spec.valid)
        sufficient = n_spk[i] >= min_group_size
        ref = _reference_index(grouping, reference, value[i], sufficient, spec.higher_is_better)
        refs.append(ref)
        if ref == "overall":
            ref_value[i] = spec.func(point[:, sl].sum(axis=0))
            ref_reps[:, i] = spec.func(reps_total[:, sl])
            m[i] = n_spk[i]
        elif ref is not None:
            ref_value[i], ref_reps[:, i] = value[i, ref], value_reps[:, i, ref]
            m[i] = np.minimum(n_spk[i], n_spk[i, ref])
    # Rows behind each value (Kish's effective size when weighted), for the whole table
    # and outside each group: the sample sizes of the boundary rule.
    n_rows = n_utt.astype(np.float64)
    n_rows_total = n_rows.sum(axis=1)
    rest_rows = n_rows_total[:, None] - n_rows
    if weights is not None:
        w_sum = np.zeros((n_specs, n_groups))
        ess = np.full((n_specs, n_groups), np.nan)
        for i, spec in enumerate(specs):
            codes, w = grouping.codes[spec.valid], weights[spec.valid]
            w_sum[i] = np.bincount(codes, weights=w, minlength=n_groups)
            w_sq = np.bincount(codes, weights=w * w, minlength=n_groups)
            with np.errstate(divide="ignore", invalid="ignore"):
                ess[i] = np.where(w_sq > 0, w_sum[i] ** 2 / w_sq, 0.0)
                sum_all, sq_all = w_sum[i].sum(), w_sq.sum()
                rest_rows[i] = np.where(
                    sq_all - w_sq > 0, (sum_all - w_sum[i]) ** 2 / (sq_all - w_sq), 0.0
                )
                # the share of the group in the overall rate is its share of the weights
                n_rows_total[i] = sum_all
            n_rows[i] = w_sum[i]
    low, high = bootstrap_interval(value_reps, n_spk, ci_level, ci_method)
    # Boundary rule: a rate's interval contains the Wilson interval at n_eff.
    n_eff = np.full((n_specs, n_groups), np.nan)
    binary = np.array([spec.binary for spec in specs], dtype=bool)
    if binary.any():
        b = np.flatnonzero(binary)
        size = n_utt[b].astype(np.float64) if weights is None else ess[b]
        low[b], high[b], n_eff[b] = boundary_interval(
            value[b], value_reps[:, b], size, n_spk[b], low[b], high[b], ci_level
        )
    # ECE is bounded and built from counts: a collapsed interval (e.g. every row right at the
    # same confidence) is replaced by one from the Wilson interval of the accuracy.
    for i, spec in enumerate(specs):
        if spec.metric == "ece" and spec.n_stats % 3 == 0:
            sl = cols(spec)
            size = n_utt[i].astype(np.float64) if weights is None else ess[i]
            e_lo, e_hi = _ece_accuracy_floor(
                point[:, sl], reps[:, :, sl], value[i], size, n_spk[i], ci_level
            )
            flat = _collapsed(low[i], high[i], value[i], value[i]) & np.isfinite(e_lo)
            low[i] = np.where(flat, e_lo, low[i])
            high[i] = np.where(flat, e_hi, high[i])
    # Any other interval that collapsed to a point claims a certainty the data do not
    # support (kappa of a group that always agrees, a constant similarity): NaN bounds and
    # the flag degenerate_ci instead.
    degenerate = _collapsed(low, high, value, value)
    low[degenerate] = np.nan
    high[degenerate] = np.nan
    nan_frac = np.mean(~np.isfinite(value_reps), axis=0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        diff = value - ref_value[:, None]
        diff_reps = value_reps - ref_reps[:, :, None]
        ratio = np.where(ref_value[:, None] != 0, value / ref_value[:, None], np.nan)
        ratio_reps = np.where(ref_reps[:, :, None] != 0, value_reps / ref_reps[:, :, None], np.nan)
    d_lo, d_hi = bootstrap_interval(diff_reps, m, ci_level, ci_method)
    r_lo, r_hi = bootstrap_interval(ratio_reps, m, ci_level, ci_method)
    null_se = np.full((n_specs, n_groups), np.nan)
    null_n = [
        _null_sizes(spec, cols(spec), point, reps_total, counts, n_utt[i], size_g, size_r)
        if spec.binary and refs[i] is not None
        else None
        for i, (spec, size_g, size_r) in enumerate(
            zip(specs, n_utt if weights is None else ess, rest_rows, strict=True)
        )
    ]
    for i, spec in enumerate(specs):
        if refs[i] is None:
            continue
        valid_rest = counts.rest(spec.valid)
        null_se[i], s_lo, s_hi = _null_se(
            spec,
            i,
            refs[i],
            cols(spec),
            point,
            reps,
            reps_total,
            value,
            value_reps,
            ref_reps,
            n_rows,
            float(n_rows_total[i]),
            rest_rows,
            n_spk,
            valid_rest,
            low,
            high,
            n_eff,
            null_n[i],
            ci_level,
        )
        if spec.binary:
            # the difference's interval contains the score interval built from the
            # boundary-aware intervals, so it cannot collapse either
            d_lo[i] = np.where(np.isfinite(s_lo), np.minimum(d_lo[i], s_lo), d_lo[i])
            d_hi[i] = np.where(np.isfinite(s_hi), np.maximum(d_hi[i], s_hi), d_hi[i])
            with np.errstate(divide="ignore", invalid="ignore"):
                q_lo = np.where(ref_value[i] > 0, low[i] / ref_value[i], np.nan)
                q_hi = np.where(ref_value[i] > 0, high[i] / ref_value[i], np.nan)
            r_lo[i] = np.where(np.isfinite(q_lo), np.minimum(r_lo[i], q_lo), r_lo[i])
            r_hi[i] = np.where(np.isfinite(q_hi), np.maximum(r_hi[i], q_hi), r_hi[i])
    # rates: score tests, the standard error under the null (never at the observed rate)
    score = np.repeat(binary[:, None], n_groups, axis=1)
    p = score_p_value(diff, diff_reps, m, null_se, score)
    if reference == "best":
        for i, spec in enumerate(specs):
            ref = refs[i]
            if not isinstance(ref, int):
                continue
            pool = best_pool(value[i], n_spk[i] >= min_group_size)
            if len(pool) >= 2:  # with one candidate the reference was not selected
                p[i] = best_p_values(
                    spec,
                    cols(spec),
                    point,
                    value[i],
                    value_reps[:, i],
                    n_spk[i],
                    n_eff[i] if null_n[i] is None else null_n[i][0],
                    pool,
                    ref,
                )
    for i, ref in enumerate(refs):
        if isinstance(ref, int):
            for arr in (diff, d_lo, d_hi, ratio, r_lo, r_hi, p):
                arr[i, ref] = np.nan
    # A group that holds every row of the metric equals the overall reference in every
    # replicate: its difference is 0 (ratio 1) by construction, and [0, 0] is exact.
    overall_ref = np.array([ref == "overall" for ref in refs], dtype=bool)
    identical = overall_ref[:, None] & (n_rows == n_rows_total[:, None]) & (n_utt > 0)
    size = np.fmax(np.abs(value), np.abs(ref_value)[:, None])
    for est, lo_arr, hi_arr, mag in ((diff, d_lo, d_hi, size), (ratio, r_lo, r_hi, ratio)):
        flat = _collapsed(lo_arr, hi_arr, est, mag) & ~identical
        lo_arr[flat] = np.nan
        hi_arr[flat] = np.nan
        degenerate |= flat
    records = []
    for i, spec in enumerate(specs):
        ref = refs[i]
        ref_label = None if ref is None else OVERALL if ref == "overall" else labels[ref]
        extras = {name: f(point[:, cols(spec)]) for name, f in spec.extras.items()}
        point_flags = {name: f(point[:, cols(spec)]) for name, f in spec.flag_funcs.items()}
        for g in range(n_groups):
            flags = []
            if n_utt[i, g] == 0:
                flags.append("empty")
            elif n_spk[i, g] < min_group_size:
                flags.append("insufficient_data")
            flags.extend(name for name, on in point_flags.items() if on[g])
            if isinstance(ref, int) and g == ref:
                flags.append("reference")
            elif isinstance(ref, int) and n_spk[i, ref] < min_group_size:
                flags.append("insufficient_reference")
            if n_utt[i, g] > 0 and np.isfinite(value[i, g]) and nan_frac[i, g] > _UNSTABLE_FRACTION:
                flags.append("unstable_ci")
            if degenerate[i, g]:
                flags.append("degenerate_ci")
            rec = {
                "metric": spec.metric,
                "target": spec.target,
                "label": spec.label,
                "attribute": grouping.attribute,
                "group": dict(grouping.groups[g]),
                "group_label": labels[g],
                "n_utterances": int(n_utt[i, g]),
                "n_speakers": int(n_spk[i, g]),
                "value": float(value[i, g]),
                "ci_low": float(low[i, g]),
                "ci_high": float(high[i, g]),
                "reference": ref_label,
                "reference_value": float(ref_value[i]) if ref is not None else np.nan,
                "difference": float(diff[i, g]),
                "diff_ci_low": float(d_lo[i, g]),
                "diff_ci_high": float(d_hi[i, g]),
                "ratio": float(ratio[i, g]),
                "ratio_ci_low": float(r_lo[i, g]),
                "ratio_ci_high": float(r_hi[i, g]),
                "p_value": float(p[i, g]),
                "p_adjusted": np.nan,
                "flags": flags,
                "null_se": float(null_se[i, g]),
                "null_rate": float(ref_value[i]) if spec.binary else np.nan,
            }
            for name, vals in extras.items():
                rec[name] = float(vals[g])
            if weights is not None:
                rec["weight_sum"] = float(w_sum[i, g])
                rec["effective_n"] = float(ess[i, g])
            records.append(rec)
    return records


def metric_tables(
    table: pd.DataFrame,
    specs: Sequence[MetricSpec],
    groupings: Sequence[Grouping],
    boot: SpeakerBootstrap,
    *,
    confusion: Sequence[MetricSpec] = (),
    reference: Reference = "overall",
    ci_level: float = 0.95,
    ci_method: Literal["expanded", "percentile"] = "expanded",
    min_group_size: int = 10,
    correction: Literal["holm", "bh", "none"] = "holm",
    weights: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group-metric records (and confusion-matrix records) for every grouping.

    Parameters
    ----------
    table : DataFrame
        Evaluation table (rows aligned with ``boot`` and the groupings).
    specs : sequence of MetricSpec
        Scalar metrics.
    groupings : sequence of Grouping
        Groupings of the rows (see `audit.build_groupings`).
    boot : SpeakerBootstrap
        Bootstrap over the table's speakers.
    confusion : sequence of MetricSpec
        Confusion-count specs (see `audit.confusion_spec`) for the confusion table.
    reference : {"overall", "best"}, mapping or None
        Reference of the disparities; None computes none.
    ci_level : float
        Confidence level.
    ci_method : {"expanded", "percentile"}
        Interval method (see `audit.bootstrap_interval`).
    min_group_size : int
        Fewer speakers than this flags ``insufficient_data``; such groups stay in the table
        but are left out of the p-value families and never flagged significant.
    correction : {"holm", "bh", "none"}
        Multiple-testing correction per family.
    weights : ndarray, shape (n_rows,), optional
        Row weights (e.g. from `audit.raking_weights`): every metric becomes its weighted
        version, and the metric table gains ``weight_sum`` and ``effective_n`` (Kish's
        ``(sum w)^2 / sum w^2`` over the group's valid rows). The weights are taken as
        fixed in the bootstrap. ``n_utterances`` stays the unweighted count.

    Returns
    -------
    metrics : DataFrame
        Columns `RECORD_COLUMNS` plus extra metric columns (e.g. ``chance``).
    confusion : DataFrame
        Columns `CONFUSION_COLUMNS`.
    """
    _check_reference(reference)
    if correction not in CORRECTIONS:
        raise AuditInputError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int | np.integer):
        raise AuditInputError(f"min_group_size must be an integer, got {min_group_size!r}")
    if min_group_size < 2:
        raise AuditInputError(f"min_group_size must be >= 2 speakers, got {min_group_size}")
    if len(table) == 0:
        raise AuditInputError("the evaluation table has no rows")
    # One stacked statistics matrix; specs sharing a statistics array share its columns.
    blocks: list[np.ndarray] = []
    offsets: dict[int, int] = {}
    for spec in [*specs, *confusion]:
        if id(spec.stats) not in offsets:
            offsets[id(spec.stats)] = sum(b.shape[1] for b in blocks)
            blocks.append(spec.stats)
    stacked = np.hstack(blocks) if blocks else np.zeros((len(table), 0))
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(table),):
            raise AuditInputError(f"weights must have shape ({len(table)},), got {weights.shape}")
        bad = ~np.isfinite(weights) | (weights < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise AuditInputError(
                f"weight of row {row} is {float(weights[row])!r}; weights must be finite and >= 0"
            )
        stacked = stacked * weights[:, None]

    def cols(spec: MetricSpec) -> slice:
        start = offsets[id(spec.stats)]
        return slice(start, start + spec.n_stats)

    records: list[dict] = []
    conf_records: list[dict] = []
    alpha = 1 - ci_level
    for grouping in groupings:
        n_groups = grouping.n_groups
        point, reps = boot.group_sums(stacked, grouping.codes, n_groups)
        labels = grouping.labels()
        counts = _CountCache(boot, grouping.codes, n_groups)

        if specs:
            records.extend(
                _grouping_records(
                    grouping,
                    specs,
                    cols,
                    weights,
                    point,
                    reps,
                    counts,
                    reference,
                    labels,
                    ci_level,
                    ci_method,
                    min_group_size,
                )
            )

        for spec in confusion:
            sl = cols(spec)
            cnt = spec.func(point[:, sl])  # (G, L, L)
            cnt_reps = spec.func(reps[:, :, sl])  # (B, G, L, L)
            n_lab = cnt.shape[-1]
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = cnt / cnt.sum(axis=-1, keepdims=True)
                rate_reps = cnt_reps / cnt_reps.sum(axis=-1, keepdims=True)
            if spec.labels is None:
                raise AuditInputError(f"confusion spec {spec.metric!r} carries no label list")
            labels_t = list(spec.labels)
            t_codes = np.argmax(spec.stats, axis=1) // n_lab
            n_spk_rows = np.zeros((n_groups, n_lab), dtype=np.int64)
            n_utt_rows = np.zeros((n_groups, n_lab), dtype=np.int64)
            for i in range(n_lab):
                n_utt_rows[:, i], n_spk_rows[:, i] = counts(spec.valid & (t_codes == i))
            m = np.repeat(n_spk_rows[:, :, None], n_lab, axis=2)
            low, high = bootstrap_interval(rate_reps, m, ci_level, ci_method)
            # every cell is a rate of a binary outcome: the boundary rule applies
            n_cell = np.repeat(n_utt_rows[:, :, None], n_lab, axis=2)
            low, high, _ = boundary_interval(rate, rate_reps, n_cell, m, low, high, ci_level)
            row_n = cnt.sum(axis=-1)
            for g in range(n_groups):
                for i in range(n_lab):
                    flags = []
                    if row_n[g, i] == 0:
                        flags.append("empty")
                    elif n_spk_rows[g, i] < min_group_size:
                        flags.append("insufficient_data")
                    for j in range(n_lab):
                        conf_records.append(
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
                        )

    metrics = pd.DataFrame.from_records(records)
    if metrics.empty:
        metrics = pd.DataFrame(columns=list(RECORD_COLUMNS))
    else:
        extra_cols = [c for c in metrics.columns if c not in RECORD_COLUMNS]
        metrics = metrics[list(RECORD_COLUMNS) + extra_cols]
        if reference is None:
            metrics = metrics.drop(columns=["null_se", "null_rate"])
            adjust_families(metrics, correction, alpha)
        else:
            # p_adjusted, significant, and the simultaneous interval of each family
            control_errors([(metrics, FAMILY_COLUMNS)], correction, alpha, "family")
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
