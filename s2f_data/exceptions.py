"""Errors and warnings of the data layer (manifests, loaders, adapters, bias lab)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s2f_data._manifest import ManifestIssue

__all__ = ["DataFormatError", "ManifestError"]


class ManifestError(ValueError):
    """A manifest failed validation; ``issues`` lists every problem with line and column."""

    def __init__(self, message: str, issues: Sequence[ManifestIssue] = ()) -> None:
        super().__init__(message)
        self.issues = list(issues)

    @classmethod
    def from_issues(
        cls, path: str | os.PathLike[str], issues: Sequence[ManifestIssue], shown: int = 20
    ) -> ManifestError:
        """Build an error whose message lists the first ``shown`` issues."""
        lines = [f"{path}: {len(issues)} problem(s) in manifest"]
        lines += [f"  {issue}" for issue in issues[:shown]]
        if len(issues) > shown:
            lines.append(f"  ... and {len(issues) - shown} more")
        return cls("\n".join(lines), issues)


class DataFormatError(ValueError):
    """An input file is not in the expected format; the message names the file and field."""
