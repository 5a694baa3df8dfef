"""The manifest: one table format that every data source writes and every consumer reads.

One row per utterance. Stored as ``manifest.csv`` with a JSON sidecar ``manifest.json`` that
names the data source, its version and the label vocabularies. Paths in the CSV are relative
to the manifest's folder (absolute paths are allowed) and must stay inside the data root.
"""

from __future__ import annotations

import csv
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from s2f_data._atomic import atomic_write_text
from s2f_data._csvlines import index_by_line
from s2f_data._files import path_problem
from s2f_data._sidecar import MANIFEST_SCHEMA_VERSION, ManifestInfo, sidecar_path
from s2f_data.exceptions import ManifestError

__all__ = [
    "DEMOGRAPHIC_COLUMNS",
    "MANIFEST_SCHEMA_VERSION",
    "REQUIRED_COLUMNS",
    "SPLITS",
    "Manifest",
    "ManifestInfo",
    "ManifestIssue",
    "read_manifest",
    "sidecar_path",
    "validate_manifest",
    "write_manifest",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("utterance_id", "speaker_id", "audio_path", "split")
DEMOGRAPHIC_COLUMNS: tuple[str, ...] = ("language", "accent", "gender", "age_group", "ethnicity")
OPTIONAL_COLUMNS: tuple[str, ...] = ("face_path",)
PATH_COLUMNS: tuple[str, ...] = ("audio_path", "face_path")
SPLITS: frozenset[str] = frozenset({"train", "val", "test"})
#: Columns whose empty cells mean "unknown" and are kept as missing (<NA>), never guessed.
MISSABLE_COLUMNS: tuple[str, ...] = (*OPTIONAL_COLUMNS, *DEMOGRAPHIC_COLUMNS)


@dataclass(frozen=True, kw_only=True)
class ManifestIssue:
    """One problem found in a manifest.

    Parameters
    ----------
    line : int or None
        Line in the CSV file (the header is line 1), or ``None`` for a table-level problem.
    column : str or None
        Offending column.
    value : str or None
        Offending cell value.
    message : str
        What was expected.
    """

    line: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


@dataclass
class Manifest:
    """A validated manifest table and its sidecar.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per utterance; string columns, missing values as ``<NA>``.
    info : ManifestInfo
        Sidecar metadata.
    folder : pathlib.Path
        Folder the manifest lives in; relative paths resolve against it.
    lines : tuple of int or None
        CSV line on which each row starts (blank lines and cells spanning several lines move
        rows down); ``None`` when row ``i`` is on line ``i + 2``.
    """

    frame: pd.DataFrame
    info: ManifestInfo
    folder: Path
    lines: tuple[int, ...] | None = None

    def line(self, position: int) -> int:
        """Return the CSV line of the row at ``position`` (the header is line 1)."""
        return _line(position) if self.lines is None else self.lines[position]

    @property
    def data_root(self) -> Path:
        """Folder every path must stay inside."""
        return _data_root(self.folder, self.info)

    def resolve(self, value: str) -> Path:
        """Resolve a path cell to an absolute path inside the data root.

        Parameters
        ----------
        value : str
            A cell of ``audio_path`` or ``face_path``.

        Returns
        -------
        pathlib.Path
            Absolute, normalised path.

        Raises
        ------
        ValueError
            If the path escapes the data root.
        """
        return _resolve(value, self.folder, self.data_root)

    def audio_paths(self) -> list[Path]:
        """Absolute audio paths, one per row."""
        return [self.resolve(v) for v in self.frame["audio_path"]]

    def face_paths(self) -> list[Path | None]:
        """Absolute face paths, one per row (``None`` where missing)."""
        if "face_path" not in self.frame:
            return [None] * len(self.frame)
        return [None if pd.isna(v) else self.resolve(v) for v in self.frame["face_path"]]


def _data_root(folder: Path, info: ManifestInfo) -> Path:
    if info.data_root is None:
        return Path(os.path.normpath(folder.absolute()))
    root = Path(info.data_root)
    if not root.is_absolute():
        root = folder / root
    return Path(os.path.normpath(root.absolute()))


def _inside(path: str, root: str) -> bool:
    """Whether the normalised ``path`` is ``root`` or lies under it."""
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def _real(path: str, cache: dict[str, str]) -> str:
    """``os.path.realpath`` with each folder's answer cached: one ``lstat`` per file."""
    parent, name = os.path.split(path)
    real_parent = cache.get(parent)
    if real_parent is None:
        real_parent = cache[parent] = os.path.realpath(parent)
    joined = os.path.join(real_parent, name)
    return os.path.realpath(joined) if os.path.islink(joined) else joined


def _resolve(value: str, folder: Path, root: Path, cache: dict[str, str] | None = None) -> Path:
    """Absolute, normalised path of a cell; refuse one that leaves the data root.

    The check is made on the real paths (symbolic links followed), so a link inside the
    root that points outside it is refused too; the path returned keeps the link. ``cache``
    holds the real paths of folders already seen (for a whole table; none by default).
    """
    cache = {} if cache is None else cache
    full = os.path.normpath(os.path.join(os.path.abspath(folder), value))
    if not _inside(full, str(root)):
        raise ValueError(f"path {value!r} resolves to {full}, outside the data root {root}")
    real = _real(full, cache)
    if not _inside(real, _real(str(root), cache)):
        raise ValueError(
            f"path {value!r} is a symbolic link (or lies under one) to {real}, "
            f"outside the data root {root}; copy the file in, or set data_root in the "
            "manifest.json sidecar to a folder that holds it"
        )
    return Path(full)


def validate_manifest(
    frame: pd.DataFrame,
    info: ManifestInfo,
    folder: str | os.PathLike[str],
    *,
    check_files: bool = False,
) -> list[ManifestIssue]:
    """Check a manifest table and return every problem found (empty list when valid).

    Checks: required columns present and non-empty; unique ``utterance_id``; ``split`` in
    ``{"train", "val", "test"}``; demographic labels inside the declared vocabularies; paths
    inside the data root; one speaker never in two splits; optionally that files exist.

    Parameters
    ----------
    frame : pandas.DataFrame
        Manifest table as read by :func:`read_manifest` (strings, ``<NA>`` for missing).
    info : ManifestInfo
        Sidecar with vocabularies and data root.
    folder : path-like
        Folder of the manifest file.
    check_files : bool
        Also check that every referenced file exists.

    Returns
    -------
    list of ManifestIssue
        Problems, in line order for row-level ones.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"utterance_id": ["a"], "speaker_id": ["s"],
    ...                    "audio_path": ["a.wav"], "split": ["exam"]})
    >>> [str(i) for i in validate_manifest(df, ManifestInfo(source="demo"), ".")]
    ["line 2, column 'split': value 'exam' is not one of ['test', 'train', 'val']"]
    """
    folder = Path(folder)
    issues: list[ManifestIssue] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    for col in missing:
        issues.append(
            ManifestIssue(
                line=None, column=col, value=None, message=f"required column {col!r} is missing"
            )
        )
    if missing:
        return issues
    if frame.empty:
        issues.append(
            ManifestIssue(
                line=None,
                column=None,
                value=None,
                message="the manifest has a header but no rows (no utterances)",
            )
        )
        return issues
    root = _data_root(folder, info)
    issues += _empty_required_issues(frame)
    issues += _duplicate_id_issues(frame)
    issues += _split_issues(frame)
    issues += _vocabulary_issues(frame, info)
    issues += _path_issues(frame, folder, root, check_files)
    issues += _speaker_split_issues(frame)
    issues.sort(key=lambda x: (x.line is not None, x.line or 0))
    return issues


def _line(i: Any) -> int:
    """CSV line of the row with index ``i`` (the header is line 1)."""
    return int(i) + 2


def _blank(column: pd.Series) -> pd.Series:
    """Mask of the cells that are missing, empty or whitespace only."""
    return column.isna() | (column.astype("string").str.strip() == "")


def _empty_required_issues(frame: pd.DataFrame) -> list[ManifestIssue]:
    """One issue per empty (or whitespace-only) cell of a required column."""
    return [
        ManifestIssue(line=_line(i), column=col, value="", message="required value is empty")
        for col in REQUIRED_COLUMNS
        for i in frame.index[_blank(frame[col])]
    ]


def _duplicate_id_issues(frame: pd.DataFrame) -> list[ManifestIssue]:
    """One issue per repeated ``utterance_id``, naming the line of its first use."""
    ids = frame["utterance_id"]
    dup = ids.duplicated(keep="first") & ids.notna()
    issues = []
    for i in frame.index[dup]:
        first = int(frame.index[(ids == ids[i])][0])
        issues.append(
            ManifestIssue(
                line=_line(i),
                column="utterance_id",
                value=str(ids[i]),
                message=f"duplicate utterance_id {ids[i]!r} (first seen on line {_line(first)})",
            )
        )
    return issues


def _split_issues(frame: pd.DataFrame) -> list[ManifestIssue]:
    """One issue per ``split`` value outside train/val/test."""
    allowed = sorted(SPLITS)
    return [
        ManifestIssue(
            line=_line(i),
            column="split",
            value=str(v),
            message=f"value {v!r} is not one of {allowed}",
        )
        for i, v in frame["split"][~_blank(frame["split"])].items()
        if v not in SPLITS
    ]


def _vocabulary_issues(frame: pd.DataFrame, info: ManifestInfo) -> list[ManifestIssue]:
    """One issue per label outside its column's declared vocabulary."""
    issues = []
    for col, vocab in info.vocabularies.items():
        if col not in frame.columns:
            continue
        allowed_set = set(vocab)
        for i, v in frame[col].items():
            if pd.notna(v) and v not in allowed_set:
                issues.append(
                    ManifestIssue(
                        line=_line(i),
                        column=col,
                        value=str(v),
                        message=f"label {v!r} is not in the declared vocabulary {list(vocab)}",
                    )
                )
    return issues


def _path_issues(
    frame: pd.DataFrame, folder: Path, root: Path, check_files: bool
) -> list[ManifestIssue]:
    """Paths outside the data root, missing files (if checked), audio files used twice."""
    issues = []
    audio_files: dict[Path, list[tuple[int, str]]] = {}  # resolved path -> (line, cell)
    real_folders: dict[str, str] = {}
    for col in PATH_COLUMNS:
        if col not in frame.columns:
            continue
        for i, v in frame[col][~_blank(frame[col])].items():
            try:
                full = _resolve(str(v), folder, root, real_folders)
            except ValueError as err:
                issues.append(
                    ManifestIssue(line=_line(i), column=col, value=str(v), message=str(err))
                )
                continue
            if col == "audio_path":
                audio_files.setdefault(full, []).append((_line(i), str(v)))
            problem = _file_problem(full) if check_files else None
            if problem is not None:  # missing, a link loop, a FIFO, a name too long, ...
                issues.append(
                    ManifestIssue(
                        line=_line(i), column=col, value=str(v), message=f"{problem}: {full}"
                    )
                )
    return issues + _shared_audio_issues(audio_files)


def _speaker_split_issues(frame: pd.DataFrame) -> list[ManifestIssue]:
    """One issue per speaker found in more than one split."""
    issues = []
    splits_per_speaker = frame.groupby("speaker_id", dropna=True)["split"].nunique()
    for spk in splits_per_speaker.index[splits_per_speaker > 1]:
        rows = frame.index[frame["speaker_id"] == spk]
        names = sorted(frame.loc[rows, "split"].dropna().unique())
        issues.append(
            ManifestIssue(
                line=_line(rows[0]),
                column="split",
                value=None,
                message=f"speaker {spk!r} appears in several splits {names}; split by speaker",
            )
        )
    return issues


def _shared_audio_issues(audio_files: dict[Path, list[tuple[int, str]]]) -> list[ManifestIssue]:
    """One issue per audio file that several rows point at (after path normalisation).

    Each utterance needs its own recording: a file listed twice is counted twice by every
    rate of the audit (and under two speakers it contradicts itself). ``audio_files`` maps
    each resolved path to the ``(line, cell)`` pairs that name it.
    """
    issues = []
    for full, uses in audio_files.items():
        if len(uses) < 2:
            continue
        lines = [n for n, _ in uses]
        shown = ", ".join(str(x) for x in lines[:5]) + (", ..." if len(lines) > 5 else "")
        issues.append(
            ManifestIssue(
                line=lines[1],
                column="audio_path",
                value=uses[1][1],
                message=f"{len(lines)} rows point at the same audio file {full} "
                f"(lines {shown}); each utterance needs its own recording",
            )
        )
    return issues


def _file_problem(full: Path) -> str | None:
    """``None`` for an existing regular file, else what the path is (see ``path_problem``)."""
    try:
        if stat.S_ISREG(os.stat(full).st_mode):
            return None
    except (OSError, ValueError):
        pass
    return path_problem(full) or "not a regular file"


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        header = _header(path)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    except (
        OSError,
        UnicodeDecodeError,
        csv.Error,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
    ) as err:
        raise ManifestError(f"{path}: cannot read manifest CSV: {err}") from err
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise ManifestError(f"{path}: line 1: column(s) {twice} appear more than once")
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the extra cells as an index
        raise ManifestError(
            f"{path}: line 2 has {frame.index.nlevels + len(frame.columns)} cells but the "
            f"header names {len(frame.columns)} columns (an unquoted comma?)"
        )
    frame = frame.astype("string")
    for col in MISSABLE_COLUMNS:
        if col in frame.columns:
            frame[col] = frame[col].mask(frame[col].str.strip() == "")
    return frame


def read_manifest(
    path: str | os.PathLike[str],
    *,
    validate: bool = True,
    check_files: bool = False,
) -> Manifest:
    """Read ``manifest.csv`` and its JSON sidecar.

    Parameters
    ----------
    path : path-like
        The CSV file. The sidecar is the same name with ``.json``.
    validate : bool
        Raise :class:`~s2f_data.exceptions.ManifestError` listing every problem.
    check_files : bool
        Also check that referenced files exist.

    Returns
    -------
    Manifest
        The table (string columns; empty demographic cells as ``<NA>``) and its sidecar.
    """
    path = Path(path)
    problem = _file_problem(path)
    if problem is not None:
        problem = "manifest file not found" if not os.path.lexists(path) else problem
        raise ManifestError(f"{path}: {problem}")
    side = sidecar_path(path)
    if os.path.lexists(side):
        problem = _file_problem(side)
        if problem is not None:
            raise ManifestError(f"{side}: bad manifest sidecar: {problem}")
        try:
            info = ManifestInfo.from_dict(json.loads(side.read_text(encoding="utf-8")))
        except (OSError, ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
            what = "nested too deeply" if isinstance(err, RecursionError) else err
            raise ManifestError(f"{side}: bad manifest sidecar: {what}") from err
    else:
        info = ManifestInfo(source="unknown")
    frame = _read_csv(path)
    by_line = index_by_line(frame, path)  # label i is the row on line i + 2
    if validate:
        issues = validate_manifest(by_line, info, path.parent, check_files=check_files)
        if issues:
            raise ManifestError.from_issues(path, issues)
    lines = tuple(_line(i) for i in by_line.index)
    plain = lines == tuple(range(2, len(frame) + 2))
    return Manifest(frame=frame, info=info, folder=path.parent, lines=None if plain else lines)


def write_manifest(frame: pd.DataFrame, path: str | os.PathLike[str], info: ManifestInfo) -> Path:
    """Validate and write a manifest CSV and its sidecar atomically.

    Column order: required columns, ``face_path``, demographic columns, then extras in the
    given order. Missing values are written as empty cells.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per utterance.
    path : path-like
        Destination CSV.
    info : ManifestInfo
        Sidecar metadata.

    Returns
    -------
    pathlib.Path
        The CSV path.
    """
    path = Path(path)
    frame = frame.reset_index(drop=True)
    for col in DEMOGRAPHIC_COLUMNS:
        if col not in frame.columns:
            frame[col] = pd.NA
    check = frame.astype("string")
    issues = validate_manifest(check, info, path.parent)
    if issues:
        raise ManifestError.from_issues(path, issues)
    front = [*REQUIRED_COLUMNS, *[c for c in OPTIONAL_COLUMNS if c in frame], *DEMOGRAPHIC_COLUMNS]
    order = front + [c for c in frame.columns if c not in front]
    atomic_write_text(path, frame[order].to_csv(index=False, lineterminator="\n"))
    atomic_write_text(sidecar_path(path), json.dumps(info.to_dict(), indent=2) + "\n")
    return path
