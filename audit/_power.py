"""Rates of clustered rows under "no difference": design effects and null standard errors.

Utterances of one speaker are correlated, so a group's rate varies more than a binomial of
its rows. Under the null hypothesis every row has the reference rate ``p0`` and the
within-speaker correlation ``rho`` of the whole table, so the variance of a group's rate is

    Var(p_g) = p0 (1 - p0) / n_g^2 * sum_s n_s (1 + (n_s - 1) rho)

(``n_s`` the group's rows of speaker ``s``), i.e. the binomial variance at the effective
size ``n_g / (1 + (sum_s n_s^2 / n_g - 1) rho)``. ``rho`` is measured once per metric on the
whole table (from the design effect of the overall rate), never from the group's own
observed rate: a group whose observed rate sits near 0 or 1 has a small bootstrap variance,
and a test that takes its standard error there is too liberal (a 20-speaker group near 0.9
agreement was flagged under a true null).
"""

from __future__ import annotations

import numpy as np

from audit._intervals import bootstrap_p_value

__all__ = ["null_effective_size", "score_p_value", "within_speaker_correlation"]


def within_speaker_correlation(
    rate: float, boot_var: float, n_rows: float, sum_sq: float, n_clusters: float
) -> float:
    """Within-speaker correlation of a binary outcome from the design effect of its rate.

    ``deff = v m / (m - 1) / (p (1 - p) / N)`` (the bootstrap variance ``v`` of the rate
    over ``m`` speakers, inflated by the bootstrap's shrinkage) equals
    ``1 + (sum_s n_s^2 / N - 1) rho`` for speakers with ``n_s`` rows, so
    ``rho = (deff - 1) / (sum_s n_s^2 / N - 1)``, kept in ``[0, 1]`` (a negative estimate
    is read as 0, the conservative choice for a null standard error).

    Parameters
    ----------
    rate : float
        Rate ``p`` over all rows.
    boot_var : float
        Bootstrap variance of that rate.
    n_rows : float
        Rows ``N``.
    sum_sq : float
        ``sum_s n_s^2`` over the speakers.
    n_clusters : float
        Speakers ``m``.

    Returns
    -------
    float
        ``rho``; 0 when every speaker has one row, NaN when ``p`` is 0, 1 or undefined or
        the variance is not finite (the data cannot tell).

    Examples
    --------
    >>> # 40 speakers x 5 rows, p = 0.5, design effect 3 -> rho = (3 - 1) / (5 - 1)
    >>> round(within_speaker_correlation(0.5, 3 * 0.25 / 200 * 39 / 40, 200, 40 * 25, 40), 6)
    0.5
    """
    p, v, n, sq, m = (float(x) for x in (rate, boot_var, n_rows, sum_sq, n_clusters))
    if not (np.isfinite(p) and 0 < p < 1 and np.isfinite(v) and n > 0 and m >= 2):
        return float("nan")
    mean_size = sq / n
    if mean_size <= 1 + 1e-12:
        return 0.0
    deff = v * m / (m - 1) / (p * (1 - p) / n)
    return float(np.clip((deff - 1) / (mean_size - 1), 0.0, 1.0))


def null_effective_size(n_rows: np.ndarray, sum_sq: np.ndarray, rho: float) -> np.ndarray:
    """Effective sample size of a group's rate under the null: ``n / (1 + (sq / n - 1) rho)``.

    Parameters
    ----------
    n_rows : array-like
        Rows of each group.
    sum_sq : array-like
        ``sum_s n_s^2`` of each group's speakers (``n_s`` their rows in the group).
    rho : float
        Within-speaker correlation (`within_speaker_correlation`); NaN is read as 1 (every
        speaker counts once), the conservative choice.

    Returns
    -------
    ndarray
        Effective sizes, between ``n^2 / sum_sq`` (at most the speakers) and ``n``; NaN
        where a group has no rows.

    Examples
    --------
    >>> null_effective_size([100.0], [500.0], 0.25).tolist()  # 20 speakers x 5 rows
    [50.0]
    """
    n = np.asarray(n_rows, dtype=np.float64)
    sq = np.asarray(sum_sq, dtype=np.float64)
    r = 1.0 if not np.isfinite(rho) else float(rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_size = np.where(n > 0, sq / n, np.nan)
        deff = 1 + np.maximum(mean_size - 1, 0.0) * r
        return np.where(n > 0, n / deff, np.nan)


def score_p_value(
    estimate: np.ndarray,
    replicates: np.ndarray,
    n_clusters: np.ndarray,
    null_se: np.ndarray,
    score: np.ndarray | bool,
) -> np.ndarray:
    """Two-sided p-values: score tests where ``score``, else `audit.stats.bootstrap_p_value`.

    A score test takes its standard error under the null hypothesis only:
    ``t = estimate / null_se`` referred to Student's t with ``m - 1`` degrees of freedom
    (``m`` speakers). Its p-value is 1 where the estimate and ``null_se`` are both 0, NaN
    where only ``null_se`` is 0 or ``m < 2``. Rows that are not score tests, or whose
    ``null_se`` is NaN, keep the bootstrap p-value (floored by ``null_se``).

    Examples
    --------
    >>> import numpy as np
    >>> d, se0 = np.array([0.1]), np.array([0.05])
    >>> p = score_p_value(d, np.zeros((50, 1)), np.array([30]), se0, True)
    >>> round(float(p[0]), 4)  # 2 P(T_29 > 2)
    0.0549
    """
    from scipy import stats

    estimate = np.asarray(estimate, dtype=np.float64)
    se0 = np.broadcast_to(np.asarray(null_se, dtype=np.float64), estimate.shape)
    m = np.broadcast_to(np.asarray(n_clusters, dtype=np.float64), estimate.shape)
    use = np.broadcast_to(np.asarray(score, dtype=bool), estimate.shape) & np.isfinite(se0)
    p = bootstrap_p_value(estimate, replicates, n_clusters, null_se=null_se)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_score = 2 * stats.t.sf(np.abs(estimate) / se0, np.maximum(m - 1, 1))
    p_score = np.where(se0 > 0, p_score, np.where(estimate == 0, 1.0, np.nan))
    p_score = np.where((m >= 2) & np.isfinite(estimate), p_score, np.nan)
    return np.where(use, p_score, p)
