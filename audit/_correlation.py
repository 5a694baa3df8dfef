"""Craniofacial Pearson r (true face vs reconstruction) with a shuffled-pairing test."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit._metrics import MetricSpec
from audit.exceptions import AuditInputError

__all__ = ["pearson_from_sums", "pearson_spec", "speaker_permutation_test"]


def pearson_from_sums(sums: np.ndarray) -> np.ndarray:
    """Pearson r from totals ``(..., 6)`` of ``[1, x, y, x^2, y^2, x*y]``.

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.array([1.0, 2, 3]), np.array([1.0, 3, 2])
    >>> s = np.array([3, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()])
    >>> round(float(pearson_from_sums(s)), 6)
    0.5
    """
    n, sx, sy, sxx, syy, sxy = np.moveaxis(sums, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        r = cov / np.sqrt(vx * vy)
    return np.where((n >= 2) & (vx > 0) & (vy > 0), np.clip(r, -1, 1), np.nan)


def pearson_spec(table: pd.DataFrame, measure: str) -> MetricSpec:
    """Pearson r between ``true_<measure>`` and ``recon_<measure>`` over rows with both.

    The values are centred on their overall means first, which keeps the sums well
    conditioned.
    """
    cols = (f"true_{measure}", f"recon_{measure}")
    for col in cols:
        if col not in table.columns:
            raise AuditInputError(f"craniofacial column {col!r} is not in the evaluation table")
    x = pd.to_numeric(table[cols[0]], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(table[cols[1]], errors="coerce").to_numpy(dtype=float)
    valid = np.isfinite(x) & np.isfinite(y)
    if valid.any():
        x = x - x[valid].mean()
        y = y - y[valid].mean()
    x, y = np.where(valid, x, 0.0), np.where(valid, y, 0.0)
    stats = np.column_stack([valid.astype(float), x, y, x * x, y * y, x * y])
    return MetricSpec(
        metric="pearson_r",
        target=measure,
        label=None,
        stats=stats,
        valid=valid,
        func=pearson_from_sums,
    )


def speaker_permutation_test(
    x: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    n_permutations: int,
    rng: np.random.Generator,
) -> tuple[float, float, float]:
    """Test the association of ``x`` and ``y`` by shuffling the pairing of speakers.

    Utterances of one speaker are not independent, so the test works on speaker means:
    the statistic is Pearson r over speakers, and the null shuffles which speaker's
    reconstruction goes with which speaker's true face.

    Parameters
    ----------
    x, y : ndarray, shape (n_rows,)
        True-face and reconstruction measures (NaN rows are ignored).
    speakers : ndarray of int, shape (n_rows,)
        Speaker code of every row.
    n_permutations : int
        Shuffles.
    rng : numpy.random.Generator
        Randomness.

    Returns
    -------
    p_value : float
        Two-sided, ``(1 + #{|r*| >= |r|}) / (1 + n_permutations)``; NaN below 3 speakers.
    r_speaker : float
        Speaker-level r.
    null_abs_r : float
        Mean ``|r*|`` under shuffled pairing (the random-pairing baseline).
    """
    ok = np.isfinite(x) & np.isfinite(y)
    codes, inverse = np.unique(speakers[ok], return_inverse=True)
    n_spk = len(codes)
    if n_spk < 3:
        return np.nan, np.nan, np.nan
    count = np.bincount(inverse, minlength=n_spk)
    xs = np.bincount(inverse, weights=x[ok], minlength=n_spk) / count
    ys = np.bincount(inverse, weights=y[ok], minlength=n_spk) / count
    xs, ys = xs - xs.mean(), ys - ys.mean()
    norm = np.sqrt((xs * xs).sum() * (ys * ys).sum())
    if norm == 0:
        return np.nan, np.nan, np.nan
    r_obs = float((xs * ys).sum() / norm)
    perms = rng.permuted(np.tile(np.arange(n_spk), (n_permutations, 1)), axis=1)
    null = (xs[perms] @ ys) / norm  # (n_permutations,)
    extreme = np.sum(np.abs(null) >= abs(r_obs) - 1e-12)
    return float((1 + extreme) / (1 + n_permutations)), r_obs, float(np.mean(np.abs(null)))
