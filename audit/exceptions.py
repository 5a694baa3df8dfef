"""Errors and warnings of the audit package (one module, as in every package here)."""

from __future__ import annotations

__all__ = [
    "AuditInputError",
    "AuditSchemaError",
    "MismatchedRowsError",
    "ReweightingWarning",
    "SmallGroupWarning",
]


class AuditInputError(ValueError):
    """The evaluation table or an argument is not usable; the message names column and value."""


class MismatchedRowsError(AuditInputError):
    """Two evaluation tables that must describe the same rows do not."""


class AuditSchemaError(ValueError):
    """An ``audit.json`` does not follow the schema; the message names the field."""


class SmallGroupWarning(UserWarning):
    """A group has fewer speakers than ``min_group_size``; its estimates are flagged."""


class ReweightingWarning(UserWarning):
    """Raking did not converge: the target margins may not fit the sample."""
