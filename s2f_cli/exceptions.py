"""Errors of the command line: bad input, printed as one line with exit status 2."""

from __future__ import annotations

__all__ = ["CLIError", "NotBuiltYet"]


class CLIError(Exception):
    """Bad command-line input; printed as one line and exit status 2."""


class NotBuiltYet(CLIError):
    """A stage of the pipeline that is not available in this build; says what is missing."""
