"""Findings: the significant gaps the audit decided are findings, ranked and worded.

The decision is the audit's: each significant gap carries ``finding`` and
``held_back_reason`` (`audit._findings`; derived for version-1 files by `reports._v1`).
This module only ranks the findings, words them, and folds an upper-bound gap into the
sentence of the reconstruction gap of the same group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reports._tables import has_flag
from reports._wording import finding_text, finite, is_proportion, p_text, pct, subject

__all__ = ["Finding", "collect_findings", "finding_rank", "held_back_reason", "is_gap"]


@dataclass(frozen=True, kw_only=True)
class Finding:
    """A sentence of the summary and the record it came from."""

    text: str
    table: str
    index: int
    record: Mapping[str, Any]
    reason: str = ""  # why a significant gap is held back ("" for a finding)


def held_back_reason(record: Mapping[str, Any]) -> str:
    """Why the audit held a significant gap back (its ``held_back_reason``; "" for a finding)."""
    reason = record.get("held_back_reason")
    return reason if isinstance(reason, str) else ""


def is_gap(record: Mapping[str, Any]) -> bool:
    """Whether a record is a gap flagged significant (a finding, or held back)."""
    return "difference" in record and has_flag(record, "significant")


def _upper_bound_of(metric: Any) -> str | None:
    """Return the reconstruction metric of an upper-bound metric (``upper_kappa`` -> ``kappa``)."""
    if isinstance(metric, str) and metric.startswith("upper_"):
        return metric.removeprefix("upper_")
    return None


def _finding_key(table: str, record: Mapping[str, Any], metric: Any) -> tuple[str, ...]:
    """Identity of a gap apart from its metric name: table, target, label, group, reference."""
    return (
        table,
        str(metric),
        str(record.get("target")),
        str(record.get("label")),
        subject(record),
        str(record.get("reference")),
    )


def finding_rank(record: Mapping[str, Any]) -> tuple[float, float]:
    """Sort key of a significant gap: adjusted p (smallest first), then largest |difference|.

    Metrics of different scales (rates, kappa, cosine, r) have differences that cannot be
    compared, so the size of a difference only breaks ties of p. A missing adjusted p falls
    back to the raw p, then to 1.

    Examples
    --------
    >>> rows = [{"p_adjusted": 0.01, "difference": 0.5}, {"p_adjusted": 0.001, "difference": 0.1},
    ...         {"p_adjusted": 0.01, "difference": -0.7}]
    >>> [row["difference"] for row in sorted(rows, key=finding_rank)]
    [0.1, -0.7, 0.5]
    """
    p = record.get("p_adjusted")
    if not finite(p):
        p = record.get("p_value")
    diff = record.get("difference")
    return (p if finite(p) else 1.0, -abs(diff) if finite(diff) else 0.0)


def _fold_upper_bounds(findings: list[Finding]) -> list[Finding]:
    """Fold each upper-bound finding into the reconstruction finding of the same gap."""
    by_key = {
        _finding_key(f.table, f.record, f.record.get("metric")): i for i, f in enumerate(findings)
    }
    merged: set[int] = set()
    for i, upper in enumerate(findings):
        base = _upper_bound_of(upper.record.get("metric"))
        j = by_key.get(_finding_key(upper.table, upper.record, base)) if base else None
        if j is None:
            continue
        merged.add(i)
        record = upper.record
        prop = is_proportion(base)
        p = record.get("p_adjusted")
        p_words = f"adjusted p {p_text(p)}" if finite(p) else f"p {p_text(record.get('p_value'))}"
        context = (
            f" Upper bound (true face through the decoder): difference "
            f"{pct(record.get('difference'), prop, points=True)}, {p_words}."
        )
        findings[j] = replace(findings[j], text=findings[j].text + context)
    return [f for i, f in enumerate(findings) if i not in merged]


def collect_findings(
    tables: Mapping[str, Sequence[Mapping[str, Any]]], ci_label: str
) -> tuple[list[Finding], list[Finding]]:
    """Return (findings, held back): significant gaps ranked by adjusted p, then |difference|.

    A gap flagged ``significant`` is a finding unless the audit gave a
    ``held_back_reason`` (groups with insufficient data, empty groups, one true class...);
    held-back gaps are returned separately, so the summary can say so without presenting
    them. An upper-bound gap (``upper_<metric>``: true face -> encoder -> decoder -> judge)
    of a group whose reconstruction gap is also a finding is not listed again: it is added
    to the reconstruction finding's sentence as context. Upper-bound gaps without a
    reconstruction finding stay in the list.
    """
    findings, held = [], []
    for name, records in tables.items():
        for index, record in enumerate(records):
            if not is_gap(record):
                continue
            reason = held_back_reason(record)
            item = Finding(
                text=finding_text(record, ci_label),
                table=name,
                index=index,
                record=record,
                reason=reason,
            )
            (held if reason else findings).append(item)
    findings = _fold_upper_bounds(findings)
    findings.sort(key=lambda item: finding_rank(item.record))
    return findings, held
