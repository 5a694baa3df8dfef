"""Errors raised by the report renderer."""

from __future__ import annotations

__all__ = ["AuditFormatError", "ChromiumError", "IncompatibleAuditsError"]


class AuditFormatError(ValueError):
    """An audit.json (or the dict given instead) is not in the expected format.

    The message names the file, the key or table and what was expected.
    """


class IncompatibleAuditsError(ValueError):
    """Two audits cannot be compared: different evaluation rows or label vocabularies."""


class ChromiumError(OSError):
    """Headless Chromium is missing, failed or timed out while printing a PDF."""
