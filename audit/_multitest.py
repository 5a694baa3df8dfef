"""Multiple-testing corrections across a family of comparisons (Holm, Benjamini-Hochberg)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from audit.exceptions import AuditInputError

__all__ = ["CORRECTIONS", "adjust_p_values", "benjamini_hochberg", "holm"]

Correction = Literal["holm", "bh", "none"]
CORRECTIONS: tuple[str, ...] = ("holm", "bh", "none")


def _check(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1:
        raise AuditInputError(f"p-values must be one-dimensional, got shape {p.shape}")
    finite = p[np.isfinite(p)]
    if np.any((finite < 0) | (finite > 1)):
        bad = finite[(finite < 0) | (finite > 1)][0]
        raise AuditInputError(f"p-values must lie in [0, 1], got {float(bad)!r}")
    return p


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error); NaN entries stay NaN.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = _check(p_values)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate); NaN entries stay NaN.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = _check(p_values)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return out


def adjust_p_values(p_values: np.ndarray, correction: Correction = "holm") -> np.ndarray:
    """Adjust a family of p-values: ``"holm"``, ``"bh"`` (Benjamini-Hochberg) or ``"none"``."""
    if correction == "holm":
        return holm(p_values)
    if correction == "bh":
        return benjamini_hochberg(p_values)
    if correction == "none":
        return _check(p_values).copy()
    raise AuditInputError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
