"""Which rows a display table shows: focus intersections and row categories."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reports._format import flags_of

__all__ = [
    "DEFAULT_FOCUS",
    "FOCUS",
    "OTHER",
    "OVERALL",
    "SIGNIFICANT",
    "SINGLE",
    "check_focus",
    "focus_label",
    "row_category",
]

#: Intersections shown in full in the HTML by default: language x ethnicity, where the paper
#: found its gap (English-speaking Asian speakers). Other intersections show only their rows
#: flagged ``significant*``; every row is in the exports.
DEFAULT_FOCUS: tuple[tuple[str, ...], ...] = (("language", "ethnicity"),)


def check_focus(focus: Iterable[Sequence[str]]) -> frozenset[frozenset[str]]:
    """Validate focus intersections and return them as sets of attribute names.

    Parameters
    ----------
    focus : iterable of sequence of str
        Intersections, each a tuple of at least two attribute names, e.g.
        ``[("language", "ethnicity")]``; the order of attributes within one does not matter.

    Returns
    -------
    frozenset of frozenset of str
        The intersections.

    Raises
    ------
    ValueError
        If ``focus`` is a string or holds something other than tuples of two or more names.

    Examples
    --------
    >>> sorted(sorted(f) for f in check_focus([("language", "ethnicity")]))
    [['ethnicity', 'language']]
    """
    if isinstance(focus, str):
        raise ValueError(
            f"focus must be a sequence of attribute tuples such as [('language', 'ethnicity')], "
            f"got the string {focus!r}"
        )
    out = []
    for item in focus:
        if isinstance(item, str) or not all(isinstance(a, str) for a in item):
            raise ValueError(
                f"focus must be a sequence of attribute tuples such as "
                f"[('language', 'ethnicity')]; got the item {item!r}"
            )
        if len(set(item)) < 2:
            raise ValueError(
                f"a focus intersection needs two or more different attributes, got {tuple(item)!r}"
                " (single attributes are always shown)"
            )
        out.append(frozenset(item))
    return frozenset(out)


def focus_label(focus: Iterable[Sequence[str]]) -> str:
    """Readable list of focus intersections (``language × ethnicity``)."""
    return ", ".join(" × ".join(item) for item in focus)


def _attributes(record: Mapping[str, Any]) -> frozenset[str] | None:
    """Attributes defining a record's group, or None for a record without a group."""
    group = record.get("group")
    if isinstance(group, Mapping):
        return frozenset(map(str, group))
    attribute = record.get("attribute")
    if isinstance(attribute, str):
        if attribute == "overall":
            return frozenset()
        return frozenset(a.strip() for a in attribute.replace("×", " x ").split(" x "))
    return None


#: Comparison flags of a gap that changed significantly (audit.compare_audits).
_MOVED = frozenset({"grew", "shrank"})

#: ``gap_status`` of an unpaired comparison row whose gap was significant in A or B.
_GAP_SIGNIFICANT = frozenset({"opened", "closed", "persists"})

#: Row categories in display order (see `row_category`).
OVERALL, SINGLE, FOCUS, SIGNIFICANT, OTHER = range(5)


def row_category(record: Mapping[str, Any], focus: frozenset[frozenset[str]]) -> int:
    """Return where a record goes in a display table (smaller first; ``OTHER`` not shown).

    ``OVERALL`` (also records without a group), ``SINGLE`` (one attribute), ``FOCUS`` (an
    intersection in ``focus``), ``SIGNIFICANT`` (another intersection with a flag starting
    with ``significant``; in a comparison also a gap that ``grew`` or ``shrank``, or whose
    ``gap_status`` is ``opened``, ``closed`` or ``persists``) or ``OTHER`` (another
    intersection: exports only).

    Examples
    --------
    >>> focus = check_focus([("language", "ethnicity")])
    >>> row_category({"group": {"ethnicity": "Asian", "language": "en"}}, focus)
    2
    >>> row_category({"group": {"accent": "x", "gender": "f"}, "flags": []}, focus)
    4
    """
    attributes = _attributes(record)
    if not attributes:
        return OVERALL
    if len(attributes) == 1:
        return SINGLE
    if attributes in focus:
        return FOCUS
    if any(f.startswith("significant") or f in _MOVED for f in flags_of(record.get("flags"))):
        return SIGNIFICANT
    if record.get("gap_status") in _GAP_SIGNIFICANT:
        return SIGNIFICANT
    return OTHER
