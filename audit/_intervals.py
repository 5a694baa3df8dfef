"""Bootstrap intervals and tests: expanded percentile intervals, the boundary rule, p-values.

Intervals: the default ``"expanded"`` method is Hesterberg's expanded percentile interval
(Hesterberg 2015, "What teachers should know about the bootstrap"): the percentiles are taken
at the level ``alpha' = 2 Phi(-sqrt(m / (m - 1)) t_{m-1, 1-alpha/2})`` for a group of ``m``
speakers, which corrects both the ``(m - 1) / m`` variance shrinkage of the bootstrap and the
use of normal instead of t quantiles. The plain ``"percentile"`` interval is available too.

Boundary rule for rates (binary per-row outcomes): when every speaker of a group has rate 0
(or 1), every replicate is 0 (or 1) and a percentile interval collapses to a point. Rate
intervals are therefore never narrower than a Wilson score interval at an effective sample
size that respects speaker clustering (`effective_sample_size`, `wilson_interval`,
`boundary_interval`), and disparity p-values use a standard error that cannot collapse
(``null_se`` of `bootstrap_p_value`). The replicates come from `audit.stats.SpeakerBootstrap`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from audit.exceptions import AuditInputError

__all__ = [
    "CI_METHODS",
    "bootstrap_interval",
    "bootstrap_p_value",
    "boundary_interval",
    "effective_sample_size",
    "expanded_alpha",
    "replicate_variance",
    "wilson_interval",
]

CIMethod = Literal["expanded", "percentile"]
# Relative size below which a bootstrap spread is rounding error, not variability.
_ROUNDING = 1e-9
CI_METHODS: tuple[str, ...] = ("expanded", "percentile")


def expanded_alpha(alpha: float, n_clusters: np.ndarray) -> np.ndarray:
    """Two-sided level of Hesterberg's expanded percentile interval for ``m`` clusters.

    Parameters
    ----------
    alpha : float
        Nominal two-sided error, e.g. 0.05.
    n_clusters : array-like
        Number of independent clusters (speakers) ``m``; NaN where ``m < 2``.

    Returns
    -------
    ndarray
        ``2 Phi(-sqrt(m / (m - 1)) t_{m-1, 1-alpha/2})``.

    Examples
    --------
    >>> round(float(expanded_alpha(0.05, 5)), 4)
    0.0019
    """
    from scipy import stats  # lazy: keeps `import audit` light

    m = np.asarray(n_clusters, dtype=np.float64)
    out = np.full(m.shape, np.nan)
    ok = m >= 2
    uniq, inverse = np.unique(m[ok], return_inverse=True)  # few distinct sizes: cheap
    if len(uniq):
        adj = 2 * stats.norm.cdf(-np.sqrt(uniq / (uniq - 1)) * stats.t.ppf(1 - alpha / 2, uniq - 1))
        out[ok] = adj[inverse.reshape(-1)]
    return out


def _quantiles(replicates: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-element linear-interpolation quantile ``q[...]`` of ``replicates[:, ...]``."""
    srt = np.sort(replicates, axis=0)  # NaN sort last
    n_valid = np.sum(~np.isnan(replicates), axis=0)
    pos = q * (n_valid - 1)
    ok = (n_valid > 0) & np.isfinite(pos)
    pos = np.where(ok, pos, 0.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n_valid - 1, 0))
    frac = pos - lo
    v_lo = np.take_along_axis(srt, lo[None], axis=0)[0]
    v_hi = np.take_along_axis(srt, hi[None], axis=0)[0]
    with np.errstate(invalid="ignore"):  # inf - inf (ratios to a subnormal reference)
        out = v_lo + frac * (v_hi - v_lo)
    # exact order statistic, also for infinities
    out = np.where((frac == 0) | (v_lo == v_hi), v_lo, out)
    return np.where(ok, out, np.nan)


def bootstrap_interval(
    replicates: np.ndarray,
    n_clusters: np.ndarray,
    level: float = 0.95,
    method: CIMethod = "expanded",
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval from bootstrap replicates.

    Parameters
    ----------
    replicates : ndarray, shape (n_boot, ...)
        Replicate estimates; NaN replicates (undefined estimates) are ignored.
    n_clusters : array-like, shape (...)
        Speakers behind each estimate (used by ``"expanded"``; fewer than 2 gives NaN).
    level : float
        Confidence level in (0, 1).
    method : {"expanded", "percentile"}
        Expanded percentile (default) or plain percentile interval.

    Returns
    -------
    low, high : ndarray, shape (...)
        Interval bounds.

    Examples
    --------
    >>> import numpy as np
    >>> reps = np.random.default_rng(0).normal(size=(2000, 1))
    >>> low, high = bootstrap_interval(reps, np.array([1000]), method="percentile")
    >>> bool(-2.2 < low[0] < -1.8 and 1.8 < high[0] < 2.2)
    True
    """
    if not 0 < level < 1:
        raise AuditInputError(f"ci_level must be in (0, 1), got {level!r}")
    if method not in CI_METHODS:
        raise AuditInputError(f"ci method must be one of {CI_METHODS}, got {method!r}")
    replicates = np.asarray(replicates, dtype=np.float64)
    shape = replicates.shape[1:]
    m = np.broadcast_to(np.asarray(n_clusters, dtype=np.float64), shape)
    alpha = 1 - level
    if method == "expanded":
        a = expanded_alpha(alpha, m)
    else:
        a = np.where(m >= 1, alpha, np.nan)
    low = _quantiles(replicates, a / 2)
    high = _quantiles(replicates, 1 - a / 2)
    return low, high


def bootstrap_p_value(
    estimate: np.ndarray,
    replicates: np.ndarray,
    n_clusters: np.ndarray,
    null_se: np.ndarray | None = None,
) -> np.ndarray:
    """Two-sided p-value of ``estimate == 0`` from the bootstrap standard error.

    ``t = estimate / se`` referred to Student's t with ``m - 1`` degrees of freedom, where
    ``se = max(se* sqrt(m / (m - 1)), null_se)`` and ``se*`` is the standard deviation of
    the finite replicates: the test that matches the expanded interval, with a floor. The
    bootstrap standard error collapses to 0 when a group is at the boundary (every speaker
    at rate 0 or 1); ``null_se`` (e.g. a score standard error at the effective sample size,
    see `audit.stats.metric_tables`) keeps such a group from looking significant.

    Parameters
    ----------
    estimate : ndarray, shape (...)
        Point estimates (e.g. differences to a reference group).
    replicates : ndarray, shape (n_boot, ...)
        Their replicates.
    n_clusters : array-like, shape (...)
        Speakers behind each estimate; NaN p-value below 2.
    null_se : array-like, shape (...), optional
        Lower bound of the standard error (NaN entries are ignored).

    Returns
    -------
    ndarray, shape (...)
        p-values; 1 where the estimate and the standard error are both 0, NaN where only
        the standard error is (the data cannot tell how uncertain the estimate is, so no
        p-value is honest; it used to be 0). A standard error below ``1e-9`` times the
        size of the estimate or of the replicates is rounding noise and counts as 0.

    Examples
    --------
    >>> import numpy as np
    >>> reps = np.zeros((100, 1))  # a degenerate bootstrap: every replicate equal
    >>> bool(np.isnan(bootstrap_p_value(np.array([-0.25]), reps, np.array([5]))[0]))
    True
    >>> p = bootstrap_p_value(np.array([-0.25]), reps, np.array([5]), null_se=np.array([0.19]))
    >>> bool(p[0] > 0.2)
    True
    """
    from scipy import stats

    estimate = np.asarray(estimate, dtype=np.float64)
    replicates = np.asarray(replicates, dtype=np.float64)
    m = np.broadcast_to(np.asarray(n_clusters, dtype=np.float64), estimate.shape)
    count = np.isfinite(replicates).sum(axis=0)
    se = np.sqrt(replicate_variance(replicates))
    ok = (m >= 2) & np.isfinite(estimate) & (count >= 2)
    p = np.full(estimate.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = se * np.sqrt(m / np.maximum(m - 1, 1))
        if null_se is not None:
            floor = np.broadcast_to(np.asarray(null_se, dtype=np.float64), estimate.shape)
            scale = np.where(np.isfinite(floor), np.fmax(scale, floor), scale)
        t = np.abs(estimate) / scale
        p_t = 2 * stats.t.sf(t, np.maximum(m - 1, 1))
    # A spread at rounding level (e.g. every replicate is the mean of one constant column)
    # is no spread: relative to the size of the replicates it is treated as 0.
    size = np.abs(np.where(np.isfinite(replicates), replicates, 0.0)).max(axis=0, initial=0.0)
    no_spread = scale <= _ROUNDING * np.fmax(np.abs(estimate), size)
    p_t = np.where(no_spread, np.where(estimate == 0, 1.0, np.nan), p_t)
    p[ok] = p_t[ok]
    return p


def replicate_variance(replicates: np.ndarray) -> np.ndarray:
    """Sample variance (``ddof=1``) of the finite replicates; NaN with fewer than 2.

    Parameters
    ----------
    replicates : ndarray, shape (n_boot, ...)
        Replicate estimates.

    Returns
    -------
    ndarray, shape (...)
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    finite = np.isfinite(replicates)
    count = finite.sum(axis=0)
    safe = np.where(finite, replicates, 0.0)
    mean = safe.sum(axis=0) / np.maximum(count, 1)
    var = (np.where(finite, replicates - mean, 0.0) ** 2).sum(axis=0) / np.maximum(count - 1, 1)
    return np.where(count >= 2, var, np.nan)


def effective_sample_size(
    rate: np.ndarray, boot_var: np.ndarray, n_rows: np.ndarray, n_clusters: np.ndarray
) -> np.ndarray:
    """Effective sample size of a rate estimated from clustered rows.

    ``n_eff = n_rows / deff`` with the design effect ``deff = v / (p (1 - p) / n_rows)``
    estimated from the bootstrap variance ``v`` (inflated by ``m / (m - 1)``, the
    bootstrap's shrinkage for ``m`` speakers), so ``n_eff = p (1 - p) / v``, kept in
    ``[1, n_rows]``. When the bootstrap cannot inform it (``p`` is 0 or 1, ``v`` is 0 or
    undefined, fewer than 2 speakers), ``n_eff = min(m, n_rows)``: every speaker counts as
    one observation.

    Parameters
    ----------
    rate : array-like
        Rates ``p`` in [0, 1].
    boot_var : array-like
        Bootstrap variance of each rate.
    n_rows : array-like
        Rows behind each rate (Kish's effective size for weighted rows).
    n_clusters : array-like
        Speakers behind each rate.

    Returns
    -------
    ndarray
        ``n_eff``; NaN where ``n_rows`` or ``m`` is 0 or ``rate`` is NaN.

    Examples
    --------
    >>> float(effective_sample_size(0.0, 0.0, 50, 5))  # 5 speakers, all at rate 0
    5.0
    >>> float(effective_sample_size(0.5, 0.25 / 20, 100, 40))  # design effect 5 (m/(m-1) aside)
    19.5
    """
    p = np.asarray(rate, dtype=np.float64)
    v = np.asarray(boot_var, dtype=np.float64)
    n = np.asarray(n_rows, dtype=np.float64)
    m = np.asarray(n_clusters, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        inflated = v * m / np.maximum(m - 1, 1)
        informative = (m >= 2) & np.isfinite(v) & (v > 0) & (p > 0) & (p < 1)
        n_eff = np.where(informative, p * (1 - p) / inflated, np.minimum(m, n))
        n_eff = np.clip(n_eff, 1.0, np.maximum(n, 1.0))
    return np.where(np.isfinite(p) & (n > 0) & (m > 0), n_eff, np.nan)


def wilson_interval(
    rate: np.ndarray, n: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a rate observed on ``n`` (effective) independent trials.

    ``(p + z^2 / 2n +- z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n)`` with
    ``z = Phi^-1(1 - alpha / 2)``; ``n`` need not be an integer.

    Examples
    --------
    >>> low, high = wilson_interval(0.0, 10)  # 0 of 10: upper bound z^2 / (10 + z^2)
    >>> float(low), round(float(high), 4)
    (0.0, 0.2775)
    """
    from scipy import stats

    if not 0 < level < 1:
        raise AuditInputError(f"ci_level must be in (0, 1), got {level!r}")
    p = np.asarray(rate, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z2 = stats.norm.ppf(1 - (1 - level) / 2) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = np.sqrt(z2 * (p * (1 - p) / n + z2 / (4 * n * n))) / denom
        low = np.where(p <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        high = np.where(p >= 1, 1.0, np.clip(centre + half, 0.0, 1.0))
    bad = ~(np.isfinite(p) & np.isfinite(n) & (n > 0))
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def boundary_interval(
    rate: np.ndarray,
    replicates: np.ndarray,
    n_rows: np.ndarray,
    n_clusters: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Widen a bootstrap interval of a rate to contain the Wilson interval at ``n_eff``.

    Parameters
    ----------
    rate : ndarray, shape (...)
        Point estimates.
    replicates : ndarray, shape (n_boot, ...)
        Their bootstrap replicates (for the design effect).
    n_rows, n_clusters : array-like, shape (...)
        Rows and speakers behind each rate (see `effective_sample_size`).
    low, high : ndarray, shape (...)
        The bootstrap interval; NaN bounds stay NaN.
    level : float
        Confidence level.

    Returns
    -------
    low, high, n_eff : ndarray, shape (...)
        ``[min(low, wilson_low), max(high, wilson_high)]`` and the effective sample size.
    """
    rate = np.asarray(rate, dtype=np.float64)
    n_eff = effective_sample_size(rate, replicate_variance(replicates), n_rows, n_clusters)
    w_low, w_high = wilson_interval(rate, n_eff, level)
    out_low = np.where(np.isfinite(w_low), np.minimum(low, w_low), low)
    out_high = np.where(np.isfinite(w_high), np.maximum(high, w_high), high)
    return out_low, out_high, n_eff
