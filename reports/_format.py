"""Formatting of audit values: numbers, groups and flags, as the report shows them.

Nothing here computes a statistic: values are shown as audit wrote them, only formatted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["flags_of", "fmt_number", "group_label", "has_flag", "is_number", "present", "raw_value"]


def has_flag(record: Mapping[str, Any], flag: str) -> bool:
    """Return whether ``record['flags']`` contains ``flag`` (flags may be a list or a string)."""
    return flag in flags_of(record.get("flags"))


def flags_of(value: Any) -> tuple[str, ...]:
    """Return the flags of a ``flags`` cell (a list, or a string joined by ``;`` or ``,``)."""
    if type(value) is list:
        return tuple(value) if all(type(v) is str for v in value) else tuple(map(str, value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(part for part in value.replace(",", ";").split(";") if part)
    if isinstance(value, Iterable):
        return tuple(str(part) for part in value)
    return (str(value),)


def group_label(group: Any) -> str:
    """Return a readable label for a group (``{"language": "en"}`` -> ``language=en``).

    Examples
    --------
    >>> group_label({"ethnicity": "Asian", "language": "en"})
    'ethnicity=Asian × language=en'
    >>> group_label({})
    'all'
    """
    if isinstance(group, Mapping):
        if not group:
            return "all"
        return " × ".join(f"{key}={plain(value)}" for key, value in group.items())
    if group is None:
        return "all"
    return plain(group)


def plain(value: Any) -> str:
    """Return the text of a group value; None and NaN are ``unknown``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return str(value)


def is_number(value: Any) -> bool:
    """Whether a value is a number (bools are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def present(value: Any) -> bool:
    """Whether a value is a number other than NaN."""
    return is_number(value) and not (isinstance(value, float) and math.isnan(value))


def fmt_number(value: Any, column: str = "") -> str:
    """Format a number for display; None and NaN show as an em dash (never as 0).

    Examples
    --------
    >>> fmt_number(0.123456), fmt_number(float("nan")), fmt_number(12), fmt_number(0.0004, "p")
    ('0.123', '—', '12', '<0.001')
    """
    kind = type(value)
    if kind is int:
        return str(value)
    if value is None or (kind is float and value != value):
        return "—"
    if kind is not float:
        if not is_number(value):
            return str(value)
        if isinstance(value, int):
            return str(value)
        if math.isnan(value):
            return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if column.startswith("p") and 0 <= value < 0.001:
        return "<0.001"
    if value != 0 and abs(value) < 0.001:
        return f"{value:.1e}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3f}"


def raw_value(value: Any) -> str | None:
    """Return the exact text of a number for ``data-value`` (``repr`` of floats), or None."""
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    if is_number(value):
        return str(value)
    return None
