"""Groups of an evaluation table: single columns and their intersections, empty ones kept.

Every row belongs to exactly one group of a grouping: a missing label is its own group,
``"(missing)"``. The groups of an intersection are the full product of the levels of its
columns, so an intersection that no row falls into is still listed (with ``n = 0``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.exceptions import AuditInputError

__all__ = [
    "MISSING",
    "OVERALL",
    "Grouping",
    "build_groupings",
    "column_levels",
    "group_label",
]

#: Label of the group of rows whose value in a grouping column is missing.
MISSING = "(missing)"
#: ``attribute`` of the grouping that puts every row in one group.
OVERALL = "overall"


def _is_missing(values: pd.Series) -> np.ndarray:
    """Missing = NA/None/NaN or a blank string (the manifest reads empty cells as NA)."""
    miss = values.isna().to_numpy(dtype=bool, copy=True)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype("string").str.strip()
        miss = miss | (text == "").fillna(True).to_numpy(dtype=bool)
    return miss


def column_levels(table: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes and the label list of one grouping column.

    Parameters
    ----------
    table : DataFrame
        Evaluation table.
    column : str
        Grouping column. A pandas ``Categorical`` keeps its category order and its unused
        categories (which then become empty groups); other columns use their sorted observed
        values. Labels are strings; missing values form the last level, ``"(missing)"``, when
        any row lacks a label.

    Returns
    -------
    codes : ndarray of int64, shape (n_rows,)
        Level index per row.
    levels : list of str
        Level labels.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, levels = column_levels(pd.DataFrame({"g": ["m", None, "f"]}), "g")
    >>> levels, codes.tolist()
    (['f', 'm', '(missing)'], [1, 2, 0])
    """
    if column not in table.columns:
        raise AuditInputError(
            f"grouping column {column!r} is not in the evaluation table; "
            f"columns are {sorted(map(str, table.columns))}"
        )
    values = table[column]
    missing = _is_missing(values)
    present = np.flatnonzero(~missing)
    text = values.iloc[present].astype(str).to_numpy(dtype=object)
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = [str(c) for c in values.cat.categories]
    else:
        levels = sorted(set(pd.unique(text)))
    if MISSING in levels:
        raise AuditInputError(
            f"column {column!r} contains the reserved label {MISSING!r}; leave unknown values "
            "empty instead"
        )
    codes = np.full(len(values), len(levels), dtype=np.int64)
    codes[present] = pd.Index(levels).get_indexer(text)
    if missing.any():
        levels.append(MISSING)
    return codes, levels


def group_label(columns: Sequence[str], values: Sequence[str]) -> str:
    """Human-readable label of a group, e.g. ``"gender=female x language=en"``.

    Parameters
    ----------
    columns : sequence of str
        Grouping columns (empty for the overall group).
    values : sequence of str
        One label per column.

    Returns
    -------
    str
        ``"all"`` for the overall group.

    Examples
    --------
    >>> group_label(["gender", "language"], ["female", "en"])
    'gender=female x language=en'
    """
    if not columns:
        return "all"
    return " x ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))


@dataclass(frozen=True)
class Grouping:
    """One grouping of the rows: by a set of columns, every level combination a group.

    Attributes
    ----------
    columns : tuple of str
        Grouping columns; empty for the overall grouping.
    codes : ndarray of int64, shape (n_rows,)
        Group index of every row.
    groups : tuple of dict
        ``groups[i]`` maps each column to the label of group ``i``.
    """

    columns: tuple[str, ...]
    codes: np.ndarray
    groups: tuple[dict[str, str], ...]

    @property
    def attribute(self) -> str:
        """Grouping columns joined by ``" x "`` (``"overall"`` when there are none)."""
        return " x ".join(self.columns) if self.columns else OVERALL

    @property
    def n_groups(self) -> int:
        """Number of groups, empty ones included."""
        return len(self.groups)

    def labels(self) -> list[str]:
        """Readable label of every group (see `group_label`)."""
        return [group_label(self.columns, [g[c] for c in self.columns]) for g in self.groups]

    def find(self, group: Mapping[str, str]) -> int | None:
        """Index of the group whose labels equal ``group`` on this grouping's columns."""
        for i, g in enumerate(self.groups):
            if all(str(group[c]) == g[c] for c in self.columns):
                return i
        return None


def _grouping(table: pd.DataFrame, columns: Sequence[str], cache: dict) -> Grouping:
    codes = np.zeros(len(table), dtype=np.int64)
    level_lists: list[list[str]] = []
    for column in columns:
        if column not in cache:
            cache[column] = column_levels(table, column)
        col_codes, levels = cache[column]
        codes = codes * len(levels) + col_codes  # mixed radix, last column fastest
        level_lists.append(levels)
    groups = tuple(
        dict(zip(columns, combo, strict=True)) for combo in itertools.product(*level_lists)
    )
    return Grouping(tuple(columns), codes, groups)


def build_groupings(
    table: pd.DataFrame,
    columns: Iterable[str | Sequence[str]],
    max_order: int = 1,
    *,
    include_overall: bool = True,
) -> list[Grouping]:
    """Build groupings by single columns and their intersections up to ``max_order`` columns.

    Parameters
    ----------
    table : DataFrame
        Evaluation table.
    columns : iterable of str or of sequences of str
        Grouping columns. A string is a single column whose intersections with the other
        strings (up to ``max_order``) are added; a sequence is one explicit intersection.
    max_order : int
        Largest number of columns in an automatically built intersection (1 = no
        intersections).
    include_overall : bool
        Put the overall grouping (every row in one group) first.

    Returns
    -------
    list of Grouping
        Overall first, then by order, then in the order the columns were given.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"a": ["x", "y"], "b": ["u", "u"]})
    >>> [g.attribute for g in build_groupings(t, ["a", "b"], max_order=2)]
    ['overall', 'a', 'b', 'a x b']
    """
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise AuditInputError(f"max_order must be an integer >= 1, got {max_order!r}")
    singles: list[str] = []
    explicit: list[tuple[str, ...]] = []
    for item in columns:
        if isinstance(item, str):
            if item not in singles:
                singles.append(item)
        else:
            combo = tuple(item)
            if len(set(combo)) != len(combo) or not combo:
                raise AuditInputError(f"an intersection needs distinct columns, got {combo!r}")
            explicit.append(combo)
    combos: list[tuple[str, ...]] = []
    for order in range(1, max_order + 1):
        combos.extend(itertools.combinations(singles, order))
    for combo in explicit:
        if combo not in combos:
            combos.append(combo)
    cache: dict = {}
    result = [_grouping(table, (), cache)] if include_overall else []
    result.extend(_grouping(table, combo, cache) for combo in combos)
    return result
