"""Errors of the judges subpackage."""

from __future__ import annotations

# The classes live with every other audit error in audit/exceptions.py.
from audit.exceptions import JudgeError, MissingJudgeDependencyError

__all__ = ["JudgeError", "MissingJudgeDependencyError", "missing_extra"]

#: The install extra that brings the real-face judge packages (see pyproject.toml).
JUDGES_EXTRA = "judges"


def missing_extra(package: str, err: ImportError) -> MissingJudgeDependencyError:
    """Build the error raised when an optional judge package cannot be imported."""
    return MissingJudgeDependencyError(
        f"this judge needs the optional package {package!r}, which failed to import "
        f"({err}); install the extra with: pip install 's2f-audit[{JUDGES_EXTRA}]'"
    )
