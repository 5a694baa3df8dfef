"""Labels and measures of an evaluation table: which attributes were judged, with which labels.

Re-exported by `audit._metrics` (where callers have always imported them from).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit._groups import _is_missing
from audit.exceptions import AuditInputError

__all__ = [
    "detect_measures",
    "detect_recorded_targets",
    "detect_targets",
    "label_vocabulary",
    "recorded_labels",
]

#: Infix of a judge-probability column: ``<source>_<target>_p_<label>``.
_PROB = "_p_"


def _labels_of(values: pd.Series) -> pd.Series:
    """Strings with missing (NA or blank) as None."""
    miss = _is_missing(values)
    out = np.full(len(values), None, dtype=object)
    out[~miss] = values[~miss].astype(str).to_numpy(dtype=object)
    return pd.Series(out, index=values.index, dtype=object)


def _named(table: pd.DataFrame, prefix: str) -> list[tuple[str, str]]:
    """``(column, name)`` of the columns ``<prefix><name>`` that are not probability columns."""
    return [
        (col, col[len(prefix) :])
        for col in table.columns
        if isinstance(col, str) and col.startswith(prefix) and _PROB not in col
    ]


def detect_targets(table: pd.DataFrame) -> list[str]:
    """Judged attributes: ``t`` with label columns ``true_<t>`` and ``recon_<t>``.

    Examples
    --------
    >>> import pandas as pd
    >>> detect_targets(pd.DataFrame({"true_gender": ["f"], "recon_gender": ["m"]}))
    ['gender']
    """
    return [
        target
        for col, target in _named(table, "true_")
        if f"recon_{target}" in table.columns
        and not pd.api.types.is_numeric_dtype(table[col].dtype)
    ]


def detect_recorded_targets(table: pd.DataFrame) -> list[str]:
    """Attributes judged on reconstructions only, with the speaker's recorded value beside.

    ``t`` with a label column ``recon_<t>``, a recorded column ``<t>`` and no ``true_<t>``:
    voice-only data (Common Voice, say), where the reconstruction can only be compared
    with what the manifest records about the speaker.

    Examples
    --------
    >>> import pandas as pd
    >>> detect_recorded_targets(pd.DataFrame({"gender": ["f"], "recon_gender": ["m"]}))
    ['gender']
    """
    return [
        target
        for col, target in _named(table, "recon_")
        if target in table.columns
        and f"true_{target}" not in table.columns
        and not pd.api.types.is_numeric_dtype(table[col].dtype)
    ]


def recorded_labels(table: pd.DataFrame, target: str, labels: Sequence[str]) -> pd.Series:
    """Return the recorded ``<t>``, values outside the judge's ``labels`` set missing.

    A recorded value the judge cannot output (Common Voice's "other", say) cannot be
    compared with a judged label; such rows are not measured, never counted as errors.
    """
    recorded = _labels_of(table[target])
    return recorded.where(recorded.isin(list(labels)))


def detect_measures(table: pd.DataFrame) -> list[str]:
    """Craniofacial measures: ``m`` with numeric columns ``true_<m>`` and ``recon_<m>``."""
    out = []
    for col, measure in _named(table, "true_"):
        other = f"recon_{measure}"
        if (
            other in table.columns
            and pd.api.types.is_numeric_dtype(table[col].dtype)
            and not pd.api.types.is_bool_dtype(table[col].dtype)
            and pd.api.types.is_numeric_dtype(table[other].dtype)
            and table[col].notna().any()  # an all-NaN column is "not measured", not a measure
            and table[other].notna().any()
        ):
            out.append(measure)
    return out


def label_vocabulary(
    table: pd.DataFrame, target: str, labels: Sequence[str] | None = None
) -> list[str]:
    """Full label list of a judged attribute.

    Categories of categorical columns, else the sorted union of the labels seen in
    ``true_<t>``, ``recon_<t>``, ``upper_<t>``, ``<t>`` and the ``*_<t>_p_<label>`` columns.
    ``labels`` overrides; a label outside it raises.
    """
    seen: set[str] = set()
    for col in (f"true_{target}", f"recon_{target}", f"upper_{target}"):
        if col in table.columns:
            if isinstance(table[col].dtype, pd.CategoricalDtype):
                seen.update(map(str, table[col].cat.categories))
            seen.update(v for v in _labels_of(table[col]) if v is not None)
    for col in table.columns:
        for prefix in ("true", "recon", "upper"):
            head = f"{prefix}_{target}{_PROB}"
            if isinstance(col, str) and col.startswith(head):
                seen.add(col[len(head) :])
    if labels is None:
        return sorted(seen)
    labels = [str(v) for v in labels]
    unknown = sorted(seen - set(labels))
    if unknown:
        raise AuditInputError(
            f"labels {unknown} of {target!r} are not in the given label list {labels}"
        )
    return labels


def _pair_codes(
    table: pd.DataFrame, true_col: str, pred_col: str, labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    true = _labels_of(table[true_col])
    pred = _labels_of(table[pred_col])
    for col, ser in ((true_col, true), (pred_col, pred)):
        bad = ser.notna() & ~ser.isin(list(labels))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise AuditInputError(
                f"column {col!r} row {row}: label {ser.iloc[row]!r} is not in {list(labels)}"
            )
    valid = (true.notna() & pred.notna()).to_numpy()
    index = pd.Index(list(labels))
    t = np.where(true.notna(), index.get_indexer(true.fillna("").to_numpy(object)), -1)
    p = np.where(pred.notna(), index.get_indexer(pred.fillna("").to_numpy(object)), -1)
    return t.astype(np.int64), p.astype(np.int64), valid
