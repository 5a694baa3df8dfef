"""Generic adapter: any CSV, TSV or Parquet table plus a column mapping.

``mapping`` maps manifest columns to the table's columns, e.g.
``{"audio_path": "file", "speaker_id": "spk", "gender": "sex"}`` (on the command line
``--map audio_path=file --map gender=sex``). ``audio_path`` and ``speaker_id`` are required;
``utterance_id`` defaults to the audio path without suffix; ``split`` defaults to a speaker
split with ``seed``. Labels are used exactly as given (empty cells stay missing); other
columns are kept under their own names. Paths in the table are relative to ``base_dir``
(default: the table's folder) and are rewritten relative to the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from s2f_data._files import path_problem
from s2f_data._manifest import DEMOGRAPHIC_COLUMNS, REQUIRED_COLUMNS, SPLITS, ManifestInfo
from s2f_data.adapters._common import (
    DEFAULT_SPLIT,
    ImportResult,
    PathWriter,
    SpeakerSplit,
    clean,
    finish,
    read_delimited,
)
from s2f_data.exceptions import DataFormatError

__all__ = ["MAPPABLE_COLUMNS", "import_table", "parse_mapping"]

MAPPABLE_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, "face_path", *DEMOGRAPHIC_COLUMNS)


def parse_mapping(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Parse ``["audio_path=file", "gender=sex"]`` into a mapping.

    Examples
    --------
    >>> parse_mapping(["audio_path=file", "gender=sex"])
    {'audio_path': 'file', 'gender': 'sex'}
    """
    out: dict[str, str] = {}
    for item in items:
        target, sep, source = item.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise ValueError(f"--map expects MANIFEST_COLUMN=SOURCE_COLUMN, got {item!r}")
        if target in out:
            raise ValueError(f"--map: column {target!r} mapped twice")
        out[target] = source
    return out


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        if not path.is_file():
            raise DataFormatError(f"{path}: table not found")
        try:
            frame = pd.read_parquet(path)
        except ImportError as err:
            raise DataFormatError(
                f"{path}: reading Parquet needs pyarrow (pip install pyarrow); or convert the "
                f"table to CSV: {err}"
            ) from err
        except (OSError, ValueError) as err:
            raise DataFormatError(f"{path}: cannot read Parquet table: {err}") from err
        return frame.astype("string").fillna("").apply(lambda c: c.str.strip())
    sep = "\t" if suffix in (".tsv", ".tab") else None
    return read_delimited(path, sep=sep, what="table")


def _check_targets(mapping: dict[str, str]) -> None:
    """Raise unless every mapped target is a manifest column."""
    bad = sorted(set(mapping) - set(MAPPABLE_COLUMNS))
    if bad:
        raise ValueError(
            f"cannot map to {bad}; manifest columns are {list(MAPPABLE_COLUMNS)} "
            "(other table columns are kept under their own names)"
        )


def _columns(table: Path, frame: pd.DataFrame, mapping: dict[str, str]) -> dict[str, str]:
    """Return manifest column -> table column, checking the mapping against the table."""
    for target, col in mapping.items():
        if col not in frame.columns:
            raise DataFormatError(
                f"{table}: --map {target}={col}: no column {col!r}; found {list(frame.columns)}"
            )
    columns = {t: mapping.get(t, t) for t in MAPPABLE_COLUMNS if mapping.get(t, t) in frame}
    for need in ("audio_path", "speaker_id"):
        if need not in columns:
            raise DataFormatError(
                f"{table}: no column for {need!r}; name one with --map "
                f"{need}=COLUMN (found {list(frame.columns)})"
            )
    return columns


def _face_cell(
    rec: dict[str, Any], columns: dict[str, str], base: Path, writer: PathWriter
) -> str | None:
    """Return the row's ``face_path`` cell (relative to the manifest) or None."""
    face = clean(rec[columns["face_path"]])
    if face is None:
        return None
    return writer.cell(Path(face) if Path(face).is_absolute() else base / face)


def _table_rows(
    table: Path,
    frame: pd.DataFrame,
    columns: dict[str, str],
    base: Path,
    writer: PathWriter,
    check_files: bool,
    split_of: Mapping[str, str] | None,
) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, str]]]:
    """Turn the table's records into manifest rows: (rows, their sources, skipped items)."""
    used = set(columns.values())
    extras = [c for c in frame.columns if c not in used]
    rows: list[dict[str, Any]] = []
    sources: list[str] = []  # file and line of each row, for error messages
    skipped: list[tuple[str, str]] = []
    for i, rec in zip(frame.index, frame.to_dict("records"), strict=True):
        line = int(i) + 2  # read_delimited: label i is the row on line i + 2
        audio_raw = clean(rec[columns["audio_path"]])
        spk = clean(rec[columns["speaker_id"]])
        if audio_raw is None or spk is None:
            skipped.append((f"line {line}", "empty audio path or speaker id"))
            continue
        audio = Path(audio_raw) if Path(audio_raw).is_absolute() else base / audio_raw
        if check_files and not audio.is_file():  # missing, or what it is (a FIFO, ...)
            reason = path_problem(audio, "audio file") or "not a regular file"
            skipped.append((f"line {line}: {audio_raw}", reason))
            continue
        row_split = clean(rec[columns["split"]]) if split_of is None else split_of[spk]
        if row_split not in SPLITS:
            raise DataFormatError(
                f"{table}: line {line}, column {columns.get('split')!r}: "
                f"split {row_split!r} is not one of {sorted(SPLITS)}"
            )
        uid = clean(rec[columns["utterance_id"]]) if "utterance_id" in columns else None
        row: dict[str, Any] = {
            "utterance_id": uid or Path(audio_raw).with_suffix("").as_posix(),
            "speaker_id": spk,
            "audio_path": writer.cell(audio),
            "split": row_split,
        }
        if "face_path" in columns:
            row["face_path"] = _face_cell(rec, columns, base, writer)
        row.update(
            {
                col: clean(rec[columns[col]]) if col in columns else None
                for col in DEMOGRAPHIC_COLUMNS
            }
        )
        row.update({col: clean(rec[col]) for col in extras})
        rows.append(row)
        sources.append(f"{table} line {line}")
    return rows, sources, skipped


def import_table(
    table: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    mapping: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    source: str = "table",
    split: SpeakerSplit = DEFAULT_SPLIT,
    check_files: bool = True,
) -> ImportResult:
    """Import a table with a column mapping.

    Parameters
    ----------
    table : path-like
        ``.csv`` (comma or tab, sniffed), ``.tsv`` or ``.parquet``.
    out : path-like
        Manifest CSV to write.
    mapping : mapping, optional
        Manifest column -> table column. Columns already named like the manifest's need no
        entry.
    base_dir : path-like, optional
        Folder the table's paths are relative to (default: the table's folder).
    source : str
        Source name for the sidecar.
    split : SpeakerSplit
        Speaker split when no ``split`` column is given.
    check_files : bool
        Rows whose audio file does not exist are skipped (and listed).

    Returns
    -------
    ImportResult
        The written manifest, skipped items and notes.
    """
    table = Path(table)
    mapping = dict(mapping or {})
    _check_targets(mapping)
    frame = _read_table(table)
    columns = _columns(table, frame, mapping)
    base = Path(base_dir) if base_dir is not None else table.parent
    if base_dir is not None and not base.is_dir():  # else every row is "audio file not found"
        what = "not found" if not os.path.lexists(base) else "not a folder"
        raise DataFormatError(
            f"{base}: base_dir (--base-dir) {what}; the table's paths are relative to it"
        )
    speakers = frame[columns["speaker_id"]]
    split_of = None if "split" in columns else split.assign([s for s in speakers if s])

    writer = PathWriter(out, [base])
    rows, sources, skipped = _table_rows(table, frame, columns, base, writer, check_files, split_of)
    info = ManifestInfo(
        source=source,
        data_root=writer.data_root(),
        extra={
            "table": str(table),
            "mapping": mapping,
            "split_seed": None if split_of is None else split.seed,
        },
    )
    return finish(rows, out, info, skipped, [], f"table {table}", sources)
