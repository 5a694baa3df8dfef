"""Representative reweighting: post-stratification and raking (IPF) to target margins.

The weights make the evaluation sample look like a target population (a census-style table
of shares, or the bias lab's ``representative`` spec), so that weighted metrics estimate
what the model would score on that population. Pass them to `audit.run_audit_tables`
through a weight column; every weighted estimate carries Kish's effective sample size.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from audit._groups import column_levels
from audit.exceptions import AuditInputError, ReweightingWarning

__all__ = ["kish_effective_n", "poststratification_weights", "raking_weights"]


def kish_effective_n(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``.

    Examples
    --------
    >>> kish_effective_n([1.0, 1.0, 1.0, 1.0])
    4.0
    >>> round(kish_effective_n([3.0, 1.0, 1.0, 1.0]), 3)
    3.0
    """
    w = np.asarray(weights, dtype=np.float64)
    sq = float(np.sum(w * w))
    return float(np.sum(w) ** 2 / sq) if sq > 0 else 0.0


def _shares(spec: Mapping[str, float], what: str) -> dict[str, float]:
    shares = {str(k): float(v) for k, v in spec.items()}
    bad = [k for k, v in shares.items() if not np.isfinite(v) or v < 0]
    if bad:
        raise AuditInputError(f"{what}: share of {bad[0]!r} is {shares[bad[0]]!r}, expected >= 0")
    total = sum(shares.values())
    if total <= 0:
        raise AuditInputError(f"{what}: shares sum to {total}, expected a positive total")
    return {k: v / total for k, v in shares.items()}


def _margins_from_frame(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    needed = {"variable", "level", "share"}
    if not needed <= set(frame.columns):
        raise AuditInputError(
            f"a margins table needs columns {sorted(needed)}, got {list(frame.columns)}"
        )
    out: dict[str, dict[str, float]] = {}
    for var, part in frame.groupby("variable", sort=False):
        out[str(var)] = dict(zip(part["level"].astype(str), part["share"], strict=True))
    return out


def _codes_for(table: pd.DataFrame, column: str, levels_wanted: Sequence[str]) -> np.ndarray:
    """Index of each row's level in ``levels_wanted``; raise for rows outside it."""
    codes, levels = column_levels(table, column)
    lookup = {lab: i for i, lab in enumerate(levels_wanted)}
    missing = [lab for lab in levels if lab not in lookup and np.any(codes == levels.index(lab))]
    if missing:
        n = int(np.sum(codes == levels.index(missing[0])))
        raise AuditInputError(
            f"column {column!r}: {n} row(s) have level {missing[0]!r}, which the target "
            f"margins {list(levels_wanted)} do not cover (give it a share, possibly 0)"
        )
    mapping = np.array([lookup.get(lab, -1) for lab in levels], dtype=np.int64)
    return mapping[codes]


def poststratification_weights(
    table: pd.DataFrame,
    targets: pd.DataFrame | Mapping[object, float],
    columns: Sequence[str] | None = None,
) -> np.ndarray:
    """Post-stratification weights: each cell's rows share its target share.

    Parameters
    ----------
    table : DataFrame
        Evaluation table.
    targets : DataFrame or mapping
        A DataFrame with the cell columns and a ``share`` column, or a mapping from cell
        (a label, or a tuple of labels in ``columns`` order) to share. Shares are
        normalised to sum to 1.
    columns : sequence of str, optional
        Cell columns (required with a mapping; default: the DataFrame's other columns).

    Returns
    -------
    ndarray, shape (n_rows,)
        Weights with mean 1: ``w = target_share(cell) / sample_share(cell)``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"g": ["f", "m", "m", "m"]})
    >>> poststratification_weights(t, {"f": 0.5, "m": 0.5}, ["g"]).tolist()
    [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    """
    if isinstance(targets, pd.DataFrame):
        if "share" not in targets.columns:
            raise AuditInputError("a post-stratification table needs a 'share' column")
        columns = list(columns or [c for c in targets.columns if c != "share"])
        keys = [tuple(str(v) for v in row) for row in targets[columns].itertuples(index=False)]
        spec = dict(zip(keys, targets["share"], strict=True))
    else:
        if not columns:
            raise AuditInputError("poststratification_weights needs columns with a mapping")
        columns = list(columns)
        spec = {(k if isinstance(k, tuple) else (k,)): v for k, v in targets.items()}
        spec = {tuple(str(x) for x in k): v for k, v in spec.items()}
    shares = _shares({" x ".join(k): v for k, v in spec.items()}, "post-stratification targets")
    parts = []
    for col in columns:
        codes, levels = column_levels(table, col)
        parts.append(np.array(levels, dtype=object)[codes])
    cell = [" x ".join(vals) for vals in zip(*parts, strict=True)]
    counts = pd.Series(cell).value_counts()
    uncovered = [c for c in counts.index if c not in shares]
    if uncovered:
        raise AuditInputError(
            f"cell {uncovered[0]!r} ({int(counts[uncovered[0]])} rows) has no target share; "
            f"targets cover {sorted(shares)}"
        )
    empty = [c for c, v in shares.items() if v > 0 and c not in counts.index]
    if empty:
        raise AuditInputError(
            f"target cell {empty[0]!r} has share {shares[empty[0]]:.3g} but no rows in the "
            "sample: it cannot be represented (merge cells or use raking)"
        )
    n = len(cell)
    return np.array([shares[c] * n / counts[c] for c in cell], dtype=np.float64)


def raking_weights(
    table: pd.DataFrame,
    margins: pd.DataFrame | Mapping[str, Mapping[str, float]],
    *,
    base_weights: np.ndarray | None = None,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> np.ndarray:
    """Raking (iterative proportional fitting) weights that match every target margin.

    Parameters
    ----------
    table : DataFrame
        Evaluation table.
    margins : DataFrame or mapping
        ``{column: {level: share}}``, or a table with columns ``variable``, ``level``,
        ``share``. Shares per column are normalised to sum to 1.
    base_weights : ndarray, optional
        Starting weights (default 1).
    max_iter : int
        Maximum sweeps over the margins.
    tol : float
        Stop when every weighted margin share is within ``tol`` of its target.

    Returns
    -------
    ndarray, shape (n_rows,)
        Weights with mean 1. Warns `ReweightingWarning` if IPF did not converge.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"g": list("ffmmmm"), "a": list("yoyooo")})
    >>> w = raking_weights(t, {"g": {"f": 0.5, "m": 0.5}, "a": {"y": 0.5, "o": 0.5}})
    >>> [round(float(w[t.g == "f"].sum() / 6), 6), round(float(w[t.a == "y"].sum() / 6), 6)]
    [0.5, 0.5]
    """
    spec = _margins_from_frame(margins) if isinstance(margins, pd.DataFrame) else margins
    if not spec:
        raise AuditInputError("raking needs at least one margin")
    n = len(table)
    w = np.ones(n) if base_weights is None else np.asarray(base_weights, dtype=float).copy()
    if w.shape != (n,) or np.any(~np.isfinite(w)) or np.any(w < 0):
        raise AuditInputError(f"base_weights must be {n} finite non-negative numbers")
    variables = []
    for column, shares_spec in spec.items():
        shares = _shares(shares_spec, f"margin {column!r}")
        levels = list(shares)
        codes = _codes_for(table, column, levels)
        target = np.array([shares[lab] for lab in levels])
        present = np.bincount(codes, weights=w, minlength=len(levels))
        empty = [levels[i] for i in range(len(levels)) if target[i] > 0 and present[i] == 0]
        if empty:
            raise AuditInputError(
                f"margin {column!r}: level {empty[0]!r} has a target share but no rows"
            )
        variables.append((codes, target, len(levels)))
    for _ in range(max_iter):
        for codes, target, k in variables:
            current = np.bincount(codes, weights=w, minlength=k)
            factor = np.where(current > 0, target * w.sum() / np.where(current > 0, current, 1), 0)
            w = w * factor[codes]
        worst = max(
            float(np.max(np.abs(np.bincount(c, weights=w, minlength=k) / w.sum() - t)))
            for c, t, k in variables
        )
        if worst <= tol:
            break
    else:
        warnings.warn(
            f"raking did not converge in {max_iter} sweeps (largest margin error {worst:.2e}); "
            "the margins may be incompatible with the sample",
            ReweightingWarning,
            stacklevel=2,
        )
    return w * n / w.sum()
