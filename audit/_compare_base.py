"""Building blocks of a comparison on the same rows: alignment, McNemar, recorded settings.

Both evaluation tables must describe the same utterances of the same speakers (the same
``utterance_id`` set, the same speaker and grouping labels per utterance).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from audit._audit import check_evaluation_table
from audit._metrics import MetricSpec, _labels_of
from audit._schema import EVALUATION_FILENAME, read_audit
from audit.exceptions import AuditInputError, MismatchedRowsError

__all__ = [
    "align_evaluations",
    "evaluation_path",
    "mcnemar_counts",
    "mcnemar_exact",
    "metric_key",
    "read_evaluation_audit",
]


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts ``b`` and ``c``.

    Examples
    --------
    >>> round(mcnemar_exact(10, 2), 4)
    0.0386
    """
    from scipy import stats

    n = int(b) + int(c)
    if n == 0:
        return 1.0
    return float(stats.binomtest(int(min(b, c)), n, 0.5).pvalue)


def align_evaluations(
    table_a: pd.DataFrame, table_b: pd.DataFrame, columns: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return both tables in the same row order, refusing tables of different rows.

    Parameters
    ----------
    table_a, table_b : DataFrame
        Evaluation tables of two models.
    columns : sequence of str
        Columns that must agree row by row besides ``speaker_id`` (the grouping columns).

    Returns
    -------
    tuple of DataFrame
        ``table_a`` (index reset) and ``table_b`` reordered to match it.
    """
    check_evaluation_table(table_a)
    check_evaluation_table(table_b)
    ids_a = table_a["utterance_id"].astype(str)
    ids_b = table_b["utterance_id"].astype(str)
    only_a = sorted(set(ids_a) - set(ids_b))
    only_b = sorted(set(ids_b) - set(ids_a))
    if only_a or only_b:
        raise MismatchedRowsError(
            "the two evaluation tables do not hold the same utterances: "
            f"{len(only_a)} only in A (e.g. {only_a[:3]}), {len(only_b)} only in B "
            f"(e.g. {only_b[:3]}); audit both models on the same manifest and split"
        )
    a = table_a.reset_index(drop=True)
    position = pd.Series(np.arange(len(table_b)), index=ids_b.to_numpy())
    b = table_b.iloc[position.loc[ids_a.to_numpy()].to_numpy()].reset_index(drop=True)
    for col in ("speaker_id", *columns):
        if col not in a.columns or col not in b.columns:
            raise MismatchedRowsError(f"column {col!r} is missing from one of the tables")
        va, vb = _labels_of(a[col]), _labels_of(b[col])
        differ = ~((va == vb) | (va.isna() & vb.isna()))
        if differ.any():
            row = int(np.flatnonzero(differ.to_numpy())[0])
            utt = str(a["utterance_id"].iloc[row])
            raise MismatchedRowsError(
                f"utterance {utt!r}: {col} is {va.iloc[row]!r} in A but "
                f"{vb.iloc[row]!r} in B; the tables must describe the same rows"
            )
    return a, b


def metric_key(spec: MetricSpec) -> tuple[str, str, str | None]:
    """Identity of a metric spec across models: ``(metric, target, label)``."""
    return spec.metric, spec.target, spec.label


def mcnemar_counts(
    key: tuple[str, str, str | None],
    correct_a: Mapping[tuple[str, str], np.ndarray],
    correct_b: Mapping[tuple[str, str], np.ndarray],
    valid: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """McNemar's discordant counts per group and their exact p-values (agreement only).

    Returns ``(b, c, p)`` (A right and B wrong, A wrong and B right, exact p), each of shape
    ``(n_groups,)``, or None for a metric that is not an agreement.
    """
    metric, target, _ = key
    if metric not in ("agreement", "upper_agreement"):
        return None
    source = "upper" if metric.startswith("upper_") else "recon"
    ca, cb = correct_a[(source, target)], correct_b[(source, target)]
    b = np.bincount(codes[valid & ca & ~cb], minlength=n_groups)
    c = np.bincount(codes[valid & ~ca & cb], minlength=n_groups)
    p = np.array([mcnemar_exact(bi, ci) for bi, ci in zip(b, c, strict=True)])
    return b, c, p


#: Settings recorded in an audit that a comparison reuses.
_RECORDED_OPTIONS = (
    "groupings",
    "max_order",
    "n_boot",
    "ci_level",
    "ci_method",
    "min_group_size",
    "correction",
    "random_state",
    "focus",
    "error_control",
)


def read_evaluation_audit(
    path: str | os.PathLike[str],
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Read a written audit's evaluation table and the comparison settings it records.

    Parameters
    ----------
    path : path-like
        ``audit.json`` or its folder.

    Returns
    -------
    table : DataFrame
        The per-utterance evaluation table (``artifacts.evaluation``).
    options : dict
        The audit's groupings, max_order, n_boot, ci_level, ci_method, min_group_size,
        correction, seed (as ``random_state``), focus and error_control, where recorded.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    result = read_audit(p)
    settings = dict(result.settings)
    settings.setdefault("random_state", result.seed)
    name = result.artifacts.get("evaluation") or EVALUATION_FILENAME
    csv = folder / name
    if not csv.exists():
        raise AuditInputError(f"{p}: its evaluation table {csv} does not exist")
    table = pd.read_csv(
        csv,
        keep_default_na=False,
        na_values=[""],
        dtype={"utterance_id": str, "speaker_id": str},
    )
    options = {k: settings[k] for k in _RECORDED_OPTIONS if settings.get(k) is not None}
    if "groupings" in options:
        options["groupings"] = [g if isinstance(g, str) else tuple(g) for g in options["groupings"]]
    if "focus" in options:
        options["focus"] = [tuple(q) for q in options["focus"]]  # type: ignore[union-attr]
    return table, options


def evaluation_path(path: str | os.PathLike[str]) -> Path | None:
    """Return the evaluation table beside a written audit, or None when it is missing.

    Reads only ``artifacts.evaluation`` of the audit.json (or its folder), without checking
    the rest of the file, so that a caller can say which audit lacks its table.
    """
    p = Path(path)
    file = p / "audit.json" if p.is_dir() else p
    try:
        artifacts = json.loads(file.read_text(encoding="utf-8")).get("artifacts") or {}
    except (OSError, ValueError, AttributeError):
        return None
    name = artifacts.get("evaluation") if isinstance(artifacts, dict) else None
    csv = file.parent / str(name or EVALUATION_FILENAME)
    return csv if csv.is_file() else None
