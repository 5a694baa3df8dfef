"""``audit.json``: the audit's tables and provenance, written, read back and validated.

The JSON holds every table as a list of records (NaN and infinities as ``null``) and, under
``table_columns``, the kind of every column (``int``, ``float``, ``str``, ``bool``, ``list``,
``dict``, ``json``) so that reading restores the same DataFrames: ``null`` in a float column
becomes NaN again. Every table is also written as ``<table>.csv`` beside ``audit.json`` (list
and dict cells as JSON text), and the evaluation table as ``evaluation.csv``.

Schema version 2 adds the keys that say what a record is (`audit._records`): the top-level
``table_sections`` (table -> report section) and, on ``metrics`` records, ``section``, the
input-length keys and the findings decision. Version 1 files are still read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit._records import table_sections
from audit.exceptions import AuditSchemaError
from s2f_data import atomic_write_text

__all__ = [
    "AUDIT_FILENAME",
    "EVALUATION_FILENAME",
    "SCHEMA_VERSION",
    "AuditResult",
    "data_identity",
    "package_versions",
    "read_audit",
    "row_ids_sha256",
    "validate_audit",
]

#: Version of the ``audit.json`` layout. 2 added the keys that say what a record is
#: (`audit._records`: ``table_sections``; on ``metrics`` records ``section``, the input-length
#: keys, ``finding`` and ``held_back_reason``); version 1 files are still read.
SCHEMA_VERSION = 2
#: Versions `validate_audit` accepts.
READABLE_VERSIONS = frozenset({1, 2})
AUDIT_FILENAME = "audit.json"
EVALUATION_FILENAME = "evaluation.csv"
_REQUIRED = ("schema_version", "created", "tool", "seed", "settings", "tables")
_KINDS = ("int", "float", "str", "bool", "list", "dict", "json")
_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "fairlearn", "torch", "s2f-audit")


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` (None when a package is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def row_ids_sha256(utterance_ids: Any) -> str:
    """SHA-256 of the sorted utterance ids joined by newlines (identity of the row set)."""
    ids = sorted(str(v) for v in utterance_ids)
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


def data_identity(evaluation_table: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    """Build the ``data`` block: row and speaker counts, the row-id hash, and ``extra``."""
    return {
        **extra,
        "n_utterances": len(evaluation_table),
        "n_speakers": int(evaluation_table["speaker_id"].nunique()),
        "row_ids_sha256": row_ids_sha256(evaluation_table["utterance_id"]),
    }


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "int"
    if pd.api.types.is_float_dtype(series.dtype):
        return "float"
    values = [v for v in series if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if values and all(isinstance(v, list) for v in values):
        return "list"
    if values and all(isinstance(v, dict) for v in values):
        return "dict"
    if all(isinstance(v, str) for v in values):
        return "str"
    if values and all(isinstance(v, int | float | np.number) for v in values):
        return "float"
    return "json"


def _to_jsonable(value: Any) -> Any:
    kind = type(value)  # exact built-in types first: the common cells of a table
    if kind is str or value is None or kind is bool or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        return dict(value)
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_to_jsonable(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _column_to_json(series: pd.Series) -> list[Any]:
    """JSON-ready values of one column; the same values as `_to_jsonable` on each cell.

    Numeric and boolean columns are converted in one NumPy pass (non-finite -> None), the
    rest cell by cell: tables of tens of thousands of records serialise in well under a second.
    """
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":  # not extension dtypes (pd.NA)
        return series.to_numpy().tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        arr = series.to_numpy(dtype=np.float64)
        values = arr.tolist()
        for i in np.flatnonzero(~np.isfinite(arr)).tolist():
            values[i] = None
        return values
    return [_to_jsonable(v) for v in series]


def _frame_to_records(frame: pd.DataFrame) -> tuple[list[dict], dict[str, str]]:
    names = [str(c) for c in frame.columns]
    kinds = {name: _kind(frame[c]) for name, c in zip(names, frame.columns, strict=True)}
    columns = [_column_to_json(frame.iloc[:, j]) for j in range(frame.shape[1])]
    records = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    if not columns:
        records = [{} for _ in range(len(frame))]
    return records, kinds


def _frame_from_records(records: list[dict], kinds: Mapping[str, str], name: str) -> pd.DataFrame:
    columns = list(kinds)
    data: dict[str, Any] = {}
    for col in columns:
        kind = kinds[col]
        if kind not in _KINDS:
            raise AuditSchemaError(f"table {name!r} column {col!r}: unknown kind {kind!r}")
        values = [rec.get(col) for rec in records]
        if kind == "float":
            data[col] = np.array([np.nan if v is None else float(v) for v in values], float)
        elif kind == "int":
            if any(v is None for v in values):
                raise AuditSchemaError(f"table {name!r} column {col!r}: null in an int column")
            data[col] = np.array(values, dtype=np.int64)
        elif kind == "bool":
            data[col] = np.array(values, dtype=bool)
        else:
            data[col] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data, columns=columns)
    for rec_i, rec in enumerate(records):
        unknown = set(rec) - set(columns)
        if unknown:
            raise AuditSchemaError(
                f"table {name!r} record {rec_i}: columns {sorted(unknown)} are not declared in "
                "table_columns"
            )
    return frame


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x.dtype) or pd.api.types.is_float_dtype(y.dtype):
            try:
                if not np.array_equal(x.to_numpy(float), y.to_numpy(float), equal_nan=True):
                    return False
            except (TypeError, ValueError):
                return False
        elif [_to_jsonable(v) for v in x] != [_to_jsonable(v) for v in y]:
            return False
    return True


@dataclass
class AuditResult:
    """An audit: its tables and the provenance that ``audit.json`` records.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Tidy tables (see `audit.run_audit_tables`).
    settings : dict
        ``ci_level``, ``n_boot``, ``min_group_size``, ``reference``, ``correction``, ...
    seed : int
        Seed of the run.
    created : str
        ISO-8601 time of creation (the only time-dependent field).
    tool : dict
        ``name``, ``version``, ``packages``.
    command : str or None
        Command line that produced the audit.
    model : dict
        ``name``, ``checkpoint``, ``sha256``, ``config``, ``training_data``.
    data : dict
        ``manifest``, ``sha256``, ``source``, ``n_utterances``, ``n_speakers``,
        ``row_ids_sha256``.
    artifacts : dict
        ``evaluation`` (file name of the evaluation table), ``samples``.
    schema_version : int
        `SCHEMA_VERSION`.

    Examples
    --------
    >>> import pandas as pd
    >>> res = AuditResult({"t": pd.DataFrame({"value": [0.5, float("nan")]})}, seed=0)
    >>> AuditResult.from_json(res.to_json()) == res
    True
    """

    tables: dict[str, pd.DataFrame]
    settings: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    created: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    )
    tool: dict[str, Any] = field(
        default_factory=lambda: {
            "name": "s2f-audit",
            "version": package_versions(("s2f-audit",))["s2f-audit"],
            "packages": package_versions(),
        }
    )
    command: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``tables`` as records, ``table_columns`` with column kinds).

        From schema version 2 on, ``table_sections`` names the report section of each table
        (`audit._records.table_sections`).
        """
        tables, kinds = {}, {}
        for name, frame in self.tables.items():
            tables[name], kinds[name] = _frame_to_records(frame)
        sections = {} if self.schema_version < 2 else {"table_sections": table_sections(tables)}
        return {
            "schema_version": self.schema_version,
            "created": self.created,
            "tool": _to_jsonable(self.tool),
            "command": self.command,
            "seed": self.seed,
            "model": _to_jsonable(self.model),
            "data": _to_jsonable(self.data),
            "settings": _to_jsonable(self.settings),
            "tables": tables,
            "table_columns": kinds,
            **sections,
            "artifacts": _to_jsonable(self.artifacts),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> AuditResult:
        """Rebuild from `to_dict` output, validating it first (see `validate_audit`)."""
        validate_audit(obj)
        kinds = obj.get("table_columns", {})
        tables = {}
        for name, records in obj["tables"].items():
            table_kinds = kinds.get(name)
            if table_kinds is None:  # no declared kinds: infer from the records
                table_kinds = {c: "json" for rec in records for c in rec}
            tables[name] = _frame_from_records(records, table_kinds, name)
        return cls(
            tables=tables,
            settings=dict(obj["settings"]),
            seed=obj["seed"],
            created=obj["created"],
            tool=dict(obj["tool"]),
            command=obj.get("command"),
            model=dict(obj.get("model") or {}),
            data=dict(obj.get("data") or {}),
            artifacts=dict(obj.get("artifacts") or {}),
            schema_version=int(obj["schema_version"]),
        )

    def to_json(self) -> str:
        """Serialise to JSON text (strict JSON, no NaN literals; one table record per line)."""
        obj = self.to_dict()
        tables = obj.pop("tables")
        marker = "__TABLES__"
        obj = {**obj, "tables": marker}
        head = json.dumps(obj, indent=1, allow_nan=False, ensure_ascii=False)
        body = ",\n".join(
            f"  {json.dumps(name)}: [\n"
            + ",\n".join(
                "   " + json.dumps(rec, allow_nan=False, ensure_ascii=False) for rec in recs
            )
            + ("\n  ]" if recs else "]")
            for name, recs in tables.items()
        )
        return head.replace(json.dumps(marker), "{\n" + body + "\n }", 1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> AuditResult:
        """Parse JSON text written by `to_json`."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise AuditSchemaError(f"audit.json is not valid JSON: {err}") from err
        except RecursionError as err:  # e.g. "[[[[...": no audit.json nests that deep
            raise AuditSchemaError("audit.json is not an audit: JSON nested too deeply") from err
        return cls.from_dict(obj)

    def write(self, folder: str | os.PathLike[str], evaluation: pd.DataFrame | None = None) -> Path:
        """Write ``audit.json``, one ``<table>.csv`` per table and ``evaluation.csv``.

        Parameters
        ----------
        folder : path-like
            Output folder (created if missing).
        evaluation : DataFrame, optional
            The per-utterance evaluation table; written as ``evaluation.csv`` and recorded
            under ``artifacts["evaluation"]``.

        Returns
        -------
        Path
            Path of ``audit.json``.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        if evaluation is not None:
            atomic_write_text(out / EVALUATION_FILENAME, evaluation.to_csv(index=False))
            self.artifacts = {**self.artifacts, "evaluation": EVALUATION_FILENAME}
        for name, frame in self.tables.items():
            csv = frame.copy()
            for col in csv.columns:
                if _kind(csv[col]) in ("list", "dict", "json"):
                    csv[col] = [json.dumps(_to_jsonable(v), ensure_ascii=False) for v in csv[col]]
            atomic_write_text(out / f"{name}.csv", csv.to_csv(index=False))
        path = out / AUDIT_FILENAME
        atomic_write_text(path, self.to_json())
        return path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuditResult):
            return NotImplemented
        if set(self.tables) != set(other.tables):
            return False
        if not all(_frames_equal(self.tables[k], other.tables[k]) for k in self.tables):
            return False
        mine, theirs = self.to_dict(), other.to_dict()
        mine.pop("tables"), theirs.pop("tables")
        return mine == theirs


def read_audit(path: str | os.PathLike[str]) -> AuditResult:
    """Read ``audit.json`` (a file, or a folder holding one).

    Examples
    --------
    >>> res = read_audit("tests/fixtures/audit_small.json")  # doctest: +SKIP
    """
    p = Path(path)
    if p.is_dir():
        p = p / AUDIT_FILENAME
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise AuditSchemaError(f"cannot read {p}: {err}") from err
    except UnicodeDecodeError as err:
        raise AuditSchemaError(f"{p}: not UTF-8 text (audit.json is UTF-8 JSON): {err}") from err
    try:
        return AuditResult.from_json(text)
    except AuditSchemaError as err:
        raise AuditSchemaError(f"{p}: {err}") from err


def validate_audit(obj: Mapping[str, Any]) -> None:
    """Raise `AuditSchemaError` naming the first field that breaks the schema."""
    if not isinstance(obj, Mapping):
        raise AuditSchemaError(f"audit.json must hold an object, got {type(obj).__name__}")
    for key in _REQUIRED:
        if key not in obj:
            raise AuditSchemaError(f"audit.json lacks the required field {key!r}")
    version = obj["schema_version"]
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise AuditSchemaError(
            f"audit.json schema_version is {version!r}; this version reads "
            f"{', '.join(map(str, sorted(READABLE_VERSIONS)))}"
        )
    _validate_tables(obj)
    sections = obj.get("table_sections", {})
    if not isinstance(sections, Mapping) or not all(
        v is None or isinstance(v, str) for v in sections.values()
    ):
        raise AuditSchemaError(
            "audit.json field 'table_sections' must map table names to section names or null"
        )
    for key in ("settings", "tool"):
        if not isinstance(obj[key], Mapping):
            raise AuditSchemaError(f"audit.json field {key!r} must be an object")


def _validate_tables(obj: Mapping[str, Any]) -> None:
    """Check ``tables`` (lists of records) and ``table_columns`` (known kinds)."""
    if not isinstance(obj["tables"], Mapping):
        raise AuditSchemaError("audit.json field 'tables' must map table names to record lists")
    for name, records in obj["tables"].items():
        if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
            raise AuditSchemaError(f"table {name!r} must be a list of records (objects)")
    kinds = obj.get("table_columns", {})
    if not isinstance(kinds, Mapping):
        raise AuditSchemaError("audit.json field 'table_columns' must be an object")
    for name, cols in kinds.items():
        if name not in obj["tables"]:
            raise AuditSchemaError(f"table_columns names table {name!r} that 'tables' lacks")
        for col, kind in cols.items():
            if kind not in _KINDS:
                raise AuditSchemaError(
                    f"table {name!r} column {col!r}: kind {kind!r} is not one of {_KINDS}"
                )
