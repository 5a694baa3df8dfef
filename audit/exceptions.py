"""Errors and warnings of the audit package (one module, as in every package here)."""

from __future__ import annotations

__all__ = [
    "AuditInputError",
    "AuditSchemaError",
    "JudgeError",
    "MismatchedRowsError",
    "MissingJudgeDependencyError",
    "ReweightingWarning",
    "SmallGroupWarning",
]


class AuditInputError(ValueError):
    """The evaluation table or an argument is not usable; the message names column and value."""


class MismatchedRowsError(AuditInputError):
    """Two evaluation tables that must describe the same rows do not."""


class AuditSchemaError(ValueError):
    """An ``audit.json`` does not follow the schema; the message names the field."""


class JudgeError(ValueError):
    """A judge, its input images or its saved files are not usable; the message says why."""


class MissingJudgeDependencyError(ImportError):
    """An optional package a real-face judge needs is not installed."""


class SmallGroupWarning(UserWarning):
    """A group has fewer speakers than ``min_group_size``; its estimates are flagged."""


class ReweightingWarning(UserWarning):
    """Raking did not converge: the target margins may not fit the sample."""
