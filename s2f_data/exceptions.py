"""Errors and warnings of the data layer (manifests, loaders, adapters, bias lab)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s2f_data._manifest import ManifestIssue

__all__ = [
    "BatchError",
    "DataFormatError",
    "EspeakError",
    "IsolatedCallError",
    "ManifestError",
    "PopulationSpecError",
    "ShardError",
]


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


class BatchError(DataFormatError):
    """A file failed in a strict batch; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class PopulationSpecError(ValueError):
    """A population spec is invalid; the message names the key (e.g. ``language.Asian.zh``)."""


class EspeakError(RuntimeError):
    """libespeak-ng is missing or refused a request (the message names the voice or text)."""


class IsolatedCallError(RuntimeError):
    """A function run in a forked child by the bias lab's ``run_isolated`` failed.

    The message is the child's message and traceback.
    """


class ShardError(ValueError):
    """A training shard is damaged, incomplete or does not match ``shards.json``."""
