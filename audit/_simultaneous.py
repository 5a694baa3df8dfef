"""Intervals that agree with the corrected tests, and the scope of error control.

A difference presented as significant must not come with an interval that contains 0, and
a non-significant one must not come with an interval that excludes 0. Each tested row gets
a *simultaneous* interval of its family, ``diff_sim_low`` / ``diff_sim_high``, at the level
``1 - sim_alpha``:

- ``sim_alpha = alpha / k`` (Bonferroni over the ``k`` tests of the family; ``alpha`` with
  ``correction="none"``), so the intervals of a family cover jointly with probability at
  least ``1 - alpha``;
- except where the correction's verdict would disagree: a row with ``p_adjusted < alpha``
  whose Bonferroni interval contains 0 (Holm and Benjamini-Hochberg reject more than
  Bonferroni) gets ``sim_alpha = alpha p / p_adjusted`` (> p), and a row with
  ``p_adjusted >= alpha`` whose Bonferroni interval excludes 0 gets the same (<= p).

The interval is ``difference +- c se`` with ``c`` the two-sided Student-t quantile at
``sim_alpha`` (``m - 1`` degrees of freedom, ``m`` the speakers of the test) and ``se`` the
standard error the test used, recovered from its p-value (``|difference| / t_(1 - p / 2)``),
so "interval excludes 0" holds exactly when ``p < sim_alpha``, i.e. when ``p_adjusted <
alpha``. The unadjusted ``diff_ci_low`` / ``diff_ci_high`` stay in the tables.

``error_control="family"`` corrects each family (one metric of one target and label) on its
own; ``"audit"`` puts every test of the audit (all metric families and the craniofacial
correlations) into one family, so that the chance of any false flag in the whole audit is
controlled, not only per family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from audit._multitest import CORRECTIONS, adjust_p_values
from audit.exceptions import AuditInputError

__all__ = [
    "ERROR_CONTROLS",
    "SIM_COLUMNS",
    "ErrorControl",
    "consistent_alpha",
    "control_errors",
    "minimum_detectable_difference",
    "simultaneous_intervals",
]

ErrorControl = Literal["family", "audit"]
ERROR_CONTROLS: tuple[str, ...] = ("family", "audit")
#: Columns added to tables with differences: the simultaneous interval and its level.
SIM_COLUMNS: tuple[str, ...] = ("diff_sim_low", "diff_sim_high", "sim_alpha")
#: Power of the minimum detectable difference (``mdd``).
POWER = 0.8
_EXCLUDED = frozenset({"empty", "insufficient_data", "insufficient_reference", "reference"})


def consistent_alpha(
    p: np.ndarray, p_adjusted: np.ndarray, k: np.ndarray, alpha: float
) -> np.ndarray:
    """Per-row level of the simultaneous interval (see the module docstring).

    Parameters
    ----------
    p, p_adjusted : ndarray
        Raw and corrected p-values (NaN: untested).
    k : ndarray
        Bonferroni multiplier of each row's family (its number of tests; 1 for no
        correction).
    alpha : float
        Significance level.

    Returns
    -------
    ndarray
        ``sim_alpha``; NaN where untested.

    Examples
    --------
    >>> import numpy as np
    >>> # Holm over 0.01, 0.02, 0.03: all rejected at 0.05; Bonferroni (0.0167) only the first
    >>> p = np.array([0.01, 0.02, 0.03])
    >>> consistent_alpha(p, np.array([0.03, 0.04, 0.04]), np.full(3, 3.0), 0.05).round(4).tolist()
    [0.0167, 0.025, 0.0375]
    """
    p = np.asarray(p, dtype=np.float64)
    pa = np.asarray(p_adjusted, dtype=np.float64)
    bonf = alpha / np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        matched = np.where(pa > 0, alpha * p / pa, bonf)
    rejected = pa < alpha
    out = np.where(rejected, np.fmax(bonf, matched), np.fmin(bonf, matched))
    # Bonferroni agrees with the verdict: keep it (the joint guarantee)
    agrees = (p < bonf) == rejected
    out = np.where(agrees, bonf, out)
    return np.where(np.isfinite(p) & np.isfinite(pa), out, np.nan)


def _test_df(frame: pd.DataFrame) -> np.ndarray:
    """Degrees of freedom ``m - 1`` of each row's test (``m`` = the fewer speakers)."""
    m = frame["n_speakers"].to_numpy(np.float64).copy()
    named = frame["reference"].notna() & (frame["reference"] != "overall")
    if named.any():
        keys = ["metric", "target", "label", "attribute"]
        key = _family_keys(frame, keys, "")
        ref_spk = dict(
            zip(key + "\x1f" + frame["group_label"].map(str), frame["n_speakers"], strict=True)
        )
        lookup = key + "\x1f" + frame["reference"].map(str)
        other = lookup.map(ref_spk).to_numpy(np.float64)
        m = np.where(named.to_numpy() & np.isfinite(other), np.fmin(m, other), m)
    return np.maximum(m - 1, 1)


def simultaneous_intervals(frame: pd.DataFrame, k: np.ndarray, alpha: float) -> None:
    """Fill `SIM_COLUMNS` of a table with differences, in place.

    Parameters
    ----------
    frame : DataFrame
        Records with ``difference``, ``diff_ci_low``, ``diff_ci_high``, ``p_value``,
        ``p_adjusted``, ``n_speakers``, ``reference`` (and the family key columns).
    k : ndarray, shape (len(frame),)
        Bonferroni multiplier of each row's family.
    alpha : float
        Significance level.
    """
    from scipy import stats

    d = frame["difference"].to_numpy(np.float64)
    p = frame["p_value"].to_numpy(np.float64)
    pa = frame["p_adjusted"].to_numpy(np.float64)
    a_row = consistent_alpha(p, pa, k, alpha)
    df = _test_df(frame)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_p = stats.t.isf(p / 2, df)
        se = np.abs(d) / t_p
        # p = 1 (difference 0) or beyond float range: the unadjusted interval's scale
        ci = frame["diff_ci_high"].to_numpy(np.float64) - frame["diff_ci_low"].to_numpy(np.float64)
        se_ci = ci / (2 * stats.t.isf(alpha / 2, df))
        se = np.where(np.isfinite(se) & (se > 0), se, se_ci)
        half = stats.t.isf(a_row / 2, df) * se
    ok = np.isfinite(a_row) & np.isfinite(half)
    frame["diff_sim_low"] = np.where(ok, d - half, np.nan)
    frame["diff_sim_high"] = np.where(ok, d + half, np.nan)
    frame["sim_alpha"] = np.where(ok, a_row, np.nan)


def minimum_detectable_difference(
    null_se: np.ndarray,
    df: np.ndarray,
    level: np.ndarray,
    power: float = POWER,
    rate: np.ndarray | None = None,
) -> np.ndarray:
    """Smallest |difference| the test detects with probability ``power`` at ``level``.

    ``d = t_(df)(1 - level / 2) null_se + t_(df)(power) se_1(d)``: the gap at which the
    two-sided t test with the standard error under the null (`audit._power`) rejects with
    the given power. ``se_1`` is the standard error under the alternative: ``null_se`` for
    metrics that are not rates; for a rate ``p0`` (``rate``, the reference rate) it is
    ``null_se sqrt(p1 (1 - p1) / (p0 (1 - p0)))`` at the group rate ``p1 = p0 -+ d``
    moved towards 0.5 (the direction with the larger variance, so the MDD errs high),
    solved by fixed-point iteration.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(minimum_detectable_difference(np.array([0.05]), np.array([1e9]),
    ...                                           np.array([0.05]))[0]), 4)  # (1.96 + 0.84) se
    0.1401
    """
    from scipy import stats

    with np.errstate(invalid="ignore", divide="ignore"):
        t_a, t_b = stats.t.isf(level / 2, df), stats.t.ppf(power, df)
        d = (t_a + t_b) * null_se
        if rate is None:
            return d
        p0 = np.asarray(rate, dtype=np.float64)
        is_rate = np.isfinite(p0) & (p0 > 0) & (p0 < 1)
        toward = np.where(p0 > 0.5, -1.0, 1.0)
        for _ in range(30):  # contraction: converges in a few steps
            p1 = np.clip(p0 + toward * d, 0.0, 1.0)
            ratio = np.sqrt(p1 * (1 - p1) / (p0 * (1 - p0)))
            d = np.where(is_rate, (t_a + t_b * ratio) * null_se, d)
        return d


def _family_sizes(keys: pd.Series, k: np.ndarray, correction: str) -> np.ndarray:
    """Bonferroni multiplier of every row's family, also for rows outside the tests."""
    if correction == "none":
        return np.ones(len(keys))
    sizes = pd.Series(k, index=keys.index).groupby(keys.to_numpy()).transform("max")
    return np.fmax(sizes.to_numpy(np.float64), 1.0)


def _eligible(frame: pd.DataFrame) -> np.ndarray:
    return frame["p_value"].notna().to_numpy() & np.array(
        [not (_EXCLUDED & set(f)) for f in frame["flags"]], dtype=bool
    )


def _family_keys(frame: pd.DataFrame, by: Sequence[str], prefix: str) -> pd.Series:
    if not by:
        return pd.Series(prefix, index=frame.index)
    parts = [frame[c].map(lambda v: "" if v is None else str(v)) for c in by]
    key = parts[0]
    for part in parts[1:]:
        key = key + "\x1f" + part
    return prefix + "\x1f" + key


def control_errors(
    tables: Sequence[tuple[pd.DataFrame, Sequence[str]]],
    correction: Literal["holm", "bh", "none"],
    alpha: float,
    error_control: ErrorControl = "family",
) -> None:
    """Correct the p-values of several tables, fill flags and simultaneous intervals in place.

    Parameters
    ----------
    tables : sequence of (DataFrame, family columns)
        Each table with the columns that define its families (e.g. ``("metric", "target",
        "label")``). Empty, insufficient-data and reference rows are left out.
    correction : {"holm", "bh", "none"}
        Multiple-testing correction.
    alpha : float
        Significance level; ``significant`` when ``p_adjusted < alpha``.
    error_control : {"family", "audit"}
        ``"family"``: each family on its own; ``"audit"``: all tests of all tables as one
        family.
    """
    if error_control not in ERROR_CONTROLS:
        raise AuditInputError(
            f"error_control must be one of {ERROR_CONTROLS}, got {error_control!r}"
        )
    if correction not in CORRECTIONS:
        raise AuditInputError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    frames = [f for f, _ in tables]
    parts = [
        _family_keys(f, by, str(i)) if error_control == "family" else pd.Series("audit", f.index)
        for i, (f, by) in enumerate(tables)
    ]
    keys = pd.concat(parts, ignore_index=True) if parts else pd.Series([], dtype=object)
    p = np.concatenate([f["p_value"].to_numpy(np.float64) for f in frames]) if frames else []
    eligible = np.concatenate([_eligible(f) for f in frames]) if frames else []
    p_adj = np.full(len(p), np.nan)
    k = np.full(len(p), np.nan)
    for _, idx in pd.Series(np.arange(len(p))).groupby(keys.to_numpy()).groups.items():
        pos = np.asarray(idx)
        pos = pos[eligible[pos]]
        if len(pos):
            p_adj[pos] = adjust_p_values(p[pos], correction)
            k[pos] = 1.0 if correction == "none" else float(len(pos))
    start = 0
    for frame in frames:
        stop = start + len(frame)
        pa = p_adj[start:stop]
        frame["p_adjusted"] = pa
        frame["flags"] = [
            [x for x in f if x != "significant"] + (["significant"] if v < alpha else [])
            for f, v in zip(frame["flags"], pa, strict=True)
        ]
        if "difference" in frame.columns and len(frame):
            simultaneous_intervals(frame, k[start:stop], alpha)
        if "null_se" in frame.columns and len(frame):
            fam_k = _family_sizes(keys.iloc[start:stop], k[start:stop], correction)
            rate = frame["null_rate"] if "null_rate" in frame.columns else None
            frame["mdd"] = minimum_detectable_difference(
                frame["null_se"].to_numpy(np.float64),
                _test_df(frame),
                alpha / fam_k,
                rate=None if rate is None else rate.to_numpy(np.float64),
            )
            frame["mdd_alpha"] = np.where(np.isfinite(frame["mdd"]), alpha / fam_k, np.nan)
        start = stop
