"""P-values against the ``"best"`` group of a grouping, corrected for choosing it on the data.

Used by :mod:`audit._tables` when ``reference="best"``: a max-T construction over all pairs
(see `best_p_values`), so that a group is not flagged only because the winner of a draw
looks better than everyone (winner's curse).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit._intervals import replicate_variance
from audit._metrics import MetricSpec
from audit._power import score_p_value

__all__ = ["BestCandidates", "best_p_values", "best_pool"]


def best_pool(values: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Return the groups the ``"best"`` reference may be chosen from (eligible, finite value).

    Falls back to every group with a finite value when none is eligible.
    """
    pool = np.flatnonzero(eligible & np.isfinite(values))
    if len(pool) == 0:
        pool = np.flatnonzero(np.isfinite(values))
    return pool


@dataclass(frozen=True, kw_only=True)
class BestCandidates:
    """One metric's groups in one grouping, as `best_p_values` compares them.

    Attributes
    ----------
    sums : ndarray, shape (n_groups, n_stats)
        The metric's group totals (its columns of the grouping's totals).
    value : ndarray, shape (n_groups,)
        Group values.
    value_reps : ndarray, shape (n_boot, n_groups)
        Their replicates.
    n_spk, n_eff : ndarray, shape (n_groups,)
        Speakers and effective sample sizes (rates) of every group.
    """

    sums: np.ndarray
    value: np.ndarray
    value_reps: np.ndarray
    n_spk: np.ndarray
    n_eff: np.ndarray


def _pairwise_null_se(
    spec: MetricSpec, groups: BestCandidates, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Return the standard error under "no difference" of every pair (h in rows, g in cols).

    The same floor as `audit._disparity._null_se` with a named reference, for all pairs at
    once: for rates the score standard error at the pooled rate of the pair and the
    effective sample sizes; for other metrics a group of ``m_g`` speakers drawn from
    reference ``h``'s speakers.

    Returns
    -------
    ndarray, shape (len(rows), len(cols))
    """
    n_spk, n_eff = groups.n_spk, groups.n_eff
    m_g = n_spk[cols].astype(np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        if spec.binary:
            p0 = spec.func(groups.sums[rows, None] + groups.sums[None, cols])  # (H, G)
            return np.sqrt(p0 * (1 - p0) * (1 / n_eff[rows, None] + 1 / n_eff[None, cols]))
        m_r = n_spk[rows].astype(np.float64)[:, None]
        var = replicate_variance(groups.value_reps[:, rows])[:, None]
        sigma2 = var * m_r**2 / np.maximum(m_r - 1, 1)
        se = np.sqrt(sigma2 * (1 / m_g + 1 / m_r))
    return np.where(m_g > 0, se, np.nan)


def best_p_values(
    spec: MetricSpec,
    groups: BestCandidates,
    pool: np.ndarray,
    best: int,
    max_cells: int = 4_000_000,
) -> np.ndarray:
    """Selection-aware p-values of the differences to the ``"best"`` group.

    The best group is chosen on the data, so a difference to it is biased away from 0 and
    the fixed-reference test is anti-conservative (winner's curse). Group ``g`` is tested
    for "no group of the pool is better than g" with a max-T (min-P) construction:

    - every pair ``(h, g)``, ``h`` in the pool: ``d_hg = s (value_h - value_g)`` (``s`` = +1
      when higher is better, else -1), its one-sided p-value ``p_hg`` from the same t test as
      a fixed reference (bootstrap standard error inflated by ``sqrt(m / (m - 1))``, floored
      by the pair's standard error under "no difference", ``m - 1`` degrees of freedom);
    - ``p_g = min_h p_hg``, referred to its null distribution: in every replicate the centred,
      standardised pairwise differences ``z*_hg = (d*_hg - d_hg) / sd*_hg`` (the same
      replicates for all pairs, so their correlation is kept) give ``max_h z*_hg``, and
      ``p_boot = (1 + #{b: max_h z*_hg >= Phi^-1(1 - p_g)}) / (n_boot + 1)``;
    - the max-T p-value is ``min(p_boot, k_g p_g)`` (``k_g`` comparisons; Bonferroni is its
      upper bound and takes over in the far tail the replicates cannot resolve);
    - finally it is multiplied by ``K / (K - 1)`` (``K`` groups in the pool): each of the ``K``
      hypotheses "g is a best group" has level alpha, but the one of the chosen group (whose
      p-value is near 1) is not shown, so the ``K - 1`` shown rows would carry the whole
      family's error. With ``K = 2`` the result is exactly the two-sided test against a
      fixed reference.

    Parameters
    ----------
    spec : MetricSpec
        The metric.
    groups : BestCandidates
        Its group totals, values, replicates, speakers and effective sizes.
    pool : ndarray of int
        Groups the best one was chosen from (`best_pool`).
    best : int
        The chosen group.
    max_cells : int
        Bound on ``n_boot x len(pool) x groups`` held at once (groups are processed in
        chunks).

    Returns
    -------
    ndarray, shape (n_groups,)
        p-values; NaN for the best group and where its pair with the group is untestable.
    """
    n_groups = len(groups.value)
    n_boot = groups.value_reps.shape[0]
    out = np.full(n_groups, np.nan)
    chunk = max(1, max_cells // max(1, n_boot * len(pool)))
    for start in range(0, n_groups, chunk):
        cols = np.arange(start, min(start + chunk, n_groups))
        out[cols] = _chunk_p_values(spec, groups, pool, best, cols)
    out[best] = np.nan
    return out


def _chunk_p_values(
    spec: MetricSpec, groups: BestCandidates, pool: np.ndarray, best: int, cols: np.ndarray
) -> np.ndarray:
    """Max-T p-values of the groups ``cols`` against the pool (see `best_p_values`)."""
    from scipy import stats  # scipy only when a "best" reference is tested

    value, value_reps = groups.value, groups.value_reps
    n_boot, n_pool = value_reps.shape[0], len(pool)
    sign = 1.0 if spec.higher_is_better else -1.0
    d = sign * (value[pool, None] - value[None, cols])  # (H, G)
    d_reps = sign * (value_reps[:, pool, None] - value_reps[:, None, cols])  # (B, H, G)
    m = np.minimum(groups.n_spk[pool, None], groups.n_spk[None, cols]).astype(np.float64)
    null_se = _pairwise_null_se(spec, groups, pool, cols)
    p_two = score_p_value(d, d_reps, m, null_se, spec.binary)
    p_one = np.where(d >= 0, p_two / 2, 1 - p_two / 2)  # "h is better than g"
    other = pool[:, None] != cols[None, :]  # (H, G): pairs of two different groups
    p_one = np.where(other, p_one, np.nan)
    k = other.sum(axis=0)  # comparisons of each group
    finite = np.isfinite(p_one)
    p_min = np.where(finite.any(axis=0), np.where(finite, p_one, np.inf).min(axis=0), np.nan)
    p_max_t = np.minimum(1.0, k * p_min)  # Bonferroni bound
    many = k >= 2
    if many.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.sqrt(replicate_variance(d_reps))  # (H, G)
            z = (d_reps - d[None]) / sd[None]
        z = np.where(other[None] & np.isfinite(z), z, -np.inf)
        z_max = z.max(axis=1)  # (B, G)
        q = stats.norm.isf(np.where(np.isfinite(p_min), p_min, 1.0))
        p_boot = (1 + np.sum(z_max >= q[None], axis=0)) / (n_boot + 1)
        p_max_t = np.where(many, np.minimum(p_max_t, p_boot), p_max_t)
    p = np.minimum(1.0, p_max_t * n_pool / (n_pool - 1))
    # untestable against the chosen group (no spread at all): untested, as for a
    # fixed reference
    p = np.where(np.isfinite(p_one[pool == best][0]) | (cols == best), p, np.nan)
    return np.where(np.isfinite(p_min), p, np.nan)
