"""Read an audit (a dict or an audit.json path) and check the parts the report relies on."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports._v1 import upgrade_v1
from reports.exceptions import AuditFormatError

__all__ = ["LoadedAudit", "load_audit"]

#: Top-level keys every audit.json carries (docs/architecture.md).
REQUIRED_KEYS = ("schema_version", "tables")
#: schema versions this renderer understands (version 1 is read through `upgrade_v1`).
SUPPORTED_SCHEMA_VERSIONS = frozenset({1, 2})


@dataclass(frozen=True)
class LoadedAudit:
    """An audit as the renderer sees it.

    Attributes
    ----------
    audit : dict
        The parsed audit.json; a version-1 audit with the keys of version 2 derived
        (`reports._v1.upgrade_v1`), so records say what they are in every version.
    folder : Path or None
        Folder of the audit.json (artifacts such as sample faces are relative to it); None when
        the audit was given as a dict.
    source : str
        What to call the audit in messages (the file path, or ``"<dict>"``).
    path : Path or None
        The audit.json file; None when the audit was given as a dict.
    """

    audit: dict[str, Any]
    folder: Path | None
    source: str
    path: Path | None = None

    @property
    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The ``tables`` mapping: table name -> list of records."""
        return self.audit["tables"]

    @property
    def table_sections(self) -> dict[str, str | None]:
        """Section of each table (``table_sections``); None: by record, or other tables."""
        value = self.audit.get("table_sections")
        return value if isinstance(value, dict) else {}

    def section(self, key: str) -> dict[str, Any]:
        """Return a top-level mapping such as ``model`` or ``data`` (empty dict if absent)."""
        value = self.audit.get(key)
        return value if isinstance(value, dict) else {}


def _reject_constant(name: str) -> float:
    # json accepts NaN/Infinity; keep NaN (audit writes NaN for zero denominators) as float.
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def load_audit(audit: dict[str, Any] | str | os.PathLike[str]) -> LoadedAudit:
    """Load and check an audit given as a dict or as the path of an audit.json.

    Parameters
    ----------
    audit : dict or path-like
        The audit object, or the path of ``audit.json`` (or of the folder holding it).

    Returns
    -------
    LoadedAudit
        The audit with its folder.

    Raises
    ------
    AuditFormatError
        If the file is not JSON, lacks ``schema_version`` or ``tables``, has an unsupported
        schema version, or a table is not a list of records (objects).

    Examples
    --------
    >>> loaded = load_audit({"schema_version": 1, "tables": {"composition": []}})
    >>> sorted(loaded.tables)
    ['composition']
    """
    if isinstance(audit, dict):
        return LoadedAudit(_check(audit, "<dict>"), None, "<dict>")
    if not isinstance(audit, str | os.PathLike):
        raise AuditFormatError(
            f"audit must be a dict or the path of an audit.json, got {type(audit).__name__}"
        )
    path = Path(audit)
    if path.is_dir():
        path = path / "audit.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise AuditFormatError(f"{path}: no such audit file") from err
    except UnicodeDecodeError as err:
        raise AuditFormatError(f"{path}: not UTF-8 text (an audit.json is UTF-8 JSON)") from err
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise AuditFormatError(
            f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from err
    except RecursionError as err:  # "[[[[...": no audit.json nests that deep
        raise AuditFormatError(f"{path}: not an audit.json: JSON nested too deeply") from err
    return LoadedAudit(_check(data, str(path)), path.parent, str(path), path)


def _check(data: Any, source: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise AuditFormatError(f"{source}: expected a JSON object, got {type(data).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise AuditFormatError(
            f"{source}: missing key(s) {', '.join(missing)}; an audit.json written by "
            "`s2f-audit audit` has schema_version, tool, model, data, settings and tables"
        )
    version = data["schema_version"]
    if isinstance(version, bool) or version not in SUPPORTED_SCHEMA_VERSIONS:
        raise AuditFormatError(
            f"{source}: schema_version {version!r} is not supported by this renderer "
            f"(supported: {sorted(SUPPORTED_SCHEMA_VERSIONS)})"
        )
    tables = data["tables"]
    if not isinstance(tables, dict):
        raise AuditFormatError(
            f"{source}: 'tables' must map table names to lists of records, "
            f"got {type(tables).__name__}"
        )
    for name, records in tables.items():
        if not isinstance(records, list):
            raise AuditFormatError(
                f"{source}: table {name!r} must be a list of records, got {type(records).__name__}"
            )
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise AuditFormatError(
                    f"{source}: table {name!r} record {i} must be an object, "
                    f"got {type(record).__name__}"
                )
    return upgrade_v1(data) if version == 1 else data
