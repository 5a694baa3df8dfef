"""Shared pieces of the adapters: results, paths, splits, age groups, table reading."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from s2f_data._csvlines import index_by_line
from s2f_data._files import path_problem
from s2f_data._manifest import DEMOGRAPHIC_COLUMNS, ManifestInfo, write_manifest
from s2f_data.exceptions import DataFormatError, ManifestError

__all__ = [
    "AGE_GROUPS",
    "DEFAULT_SPLIT",
    "ImportResult",
    "SpeakerSplit",
    "age_group",
    "assign_splits",
]

#: Age groups of the project (the bias lab uses the same); ages under 18 become ``0-17``.
AGE_GROUPS: tuple[str, ...] = ("18-29", "30-44", "45-59", "60+")
UNDER_18 = "0-17"
SKIPPED_COLUMNS = ("item", "reason")
#: Ages (years) a source may state; anything else is a damaged cell, not a person's age.
AGE_RANGE: tuple[float, float] = (0.0, 130.0)


@dataclass(kw_only=True)
class ImportResult:
    """What an adapter produced.

    Parameters
    ----------
    frame : pandas.DataFrame
        The manifest table as written.
    info : ManifestInfo
        The sidecar as written.
    path : pathlib.Path
        The manifest CSV.
    skipped : pandas.DataFrame
        Columns ``item``, ``reason``: everything in the source that did not become a row.
    notes : list of str
        Warnings about the source (known label errors, unmatched joins, ...).
    """

    frame: pd.DataFrame
    info: ManifestInfo
    path: Path
    skipped: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Multi-line summary: rows, speakers, skipped items by reason, notes."""
        lines = [
            f"{self.path}: {len(self.frame)} utterances, "
            f"{self.frame['speaker_id'].nunique()} speakers ({self.info.source}); "
            f"{len(self.skipped)} source item(s) skipped"
        ]
        if len(self.skipped):
            for reason, n in self.skipped["reason"].value_counts().items():
                lines.append(f"  skipped x{n}: {reason}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def age_group(age: float | None) -> str | None:
    """Map an age in years to the project's age group (``None`` when unknown).

    Examples
    --------
    >>> [age_group(a) for a in (17, 18, 29, 30, 44.9, 45, 59, 60, None)]
    ['0-17', '18-29', '18-29', '30-44', '30-44', '45-59', '45-59', '60+', None]
    """
    if age is None or pd.isna(age):
        return None
    if age < 0:
        raise ValueError(f"age must be >= 0, got {age}")
    if age < 18:
        return UNDER_18
    if age < 30:
        return "18-29"
    if age < 45:
        return "30-44"
    if age < 60:
        return "45-59"
    return "60+"


def check_age(age: float, where: str) -> float:
    """Return ``age`` if it is a finite number of years in :data:`AGE_RANGE`, else raise.

    ``where`` names the file, line or subject and column for the message.

    Examples
    --------
    >>> check_age(36.0, "t.csv: line 2")
    36.0
    >>> check_age(-78.0, "t.csv: line 2")
    Traceback (most recent call last):
    ...
    s2f_data.exceptions.DataFormatError: t.csv: line 2: age -78 is not in [0, 130] years
    """
    low, high = AGE_RANGE
    if not (np.isfinite(age) and low <= age <= high):
        raise DataFormatError(f"{where}: age {age:g} is not in [{low:g}, {high:g}] years")
    return age


def age_vocabulary(values: Iterable[Any]) -> tuple[str, ...]:
    """Return the age-group vocabulary, with ``0-17`` added only when it occurs."""
    present = {v for v in values if isinstance(v, str)}
    return ((UNDER_18,) if UNDER_18 in present else ()) + AGE_GROUPS


def assign_splits(
    speakers: Iterable[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, str]:
    """Split speakers (never utterances) into train/val/test with a recorded seed.

    Speakers are sorted first, so the result depends only on the set of ids and the seed
    (never on file or hash order). Counts are ``round(fraction * n)``.

    Parameters
    ----------
    speakers : iterable of str
        Speaker ids (duplicates ignored).
    val_fraction, test_fraction : float
        Fractions of speakers for validation and test.
    seed : int
        Seed of the permutation.

    Returns
    -------
    dict
        Speaker id -> ``"train"``, ``"val"`` or ``"test"``.

    Examples
    --------
    >>> s = assign_splits([f"s{i}" for i in range(10)], 0.2, 0.3, seed=0)
    >>> sorted(list(s.values()).count(k) for k in ("train", "val", "test"))
    [2, 3, 5]
    """
    _check_fractions(val_fraction, test_fraction)
    ids = sorted(set(speakers))
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = round(test_fraction * len(ids))
    n_val = round(val_fraction * len(ids))
    out = {}
    for rank, j in enumerate(order):
        out[ids[j]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return out


@dataclass(frozen=True)
class SpeakerSplit:
    """How an adapter splits speakers into train/val/test when the source gives no split.

    Parameters
    ----------
    val_fraction, test_fraction : float
        Fractions of speakers for validation and test, each in ``[0, 1)`` with sum below 1.
    seed : int
        Seed of the permutation (recorded in the sidecar as ``split_seed``).

    Examples
    --------
    >>> split = SpeakerSplit(val_fraction=0.2, test_fraction=0.3, seed=0)
    >>> sorted(split.assign([f"s{i}" for i in range(10)]).values()).count("test")
    3
    >>> SpeakerSplit(val_fraction=0.5, test_fraction=0.5)
    Traceback (most recent call last):
    ...
    ValueError: need val_fraction, test_fraction >= 0 with sum < 1, got 0.5, 0.5
    """

    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        _check_fractions(self.val_fraction, self.test_fraction)

    def assign(self, speakers: Iterable[str]) -> dict[str, str]:
        """Return speaker id -> ``"train"``, ``"val"`` or ``"test"`` (see :func:`assign_splits`)."""
        return assign_splits(speakers, self.val_fraction, self.test_fraction, self.seed)


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"need val_fraction, test_fraction >= 0 with sum < 1, got "
            f"{val_fraction}, {test_fraction}"
        )


#: The speaker split of every adapter that splits speakers itself, unless it says otherwise.
DEFAULT_SPLIT = SpeakerSplit()


def skipped_frame(rows: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Table of skipped source items."""
    return pd.DataFrame(list(rows), columns=list(SKIPPED_COLUMNS), dtype="string")


class PathWriter:
    """Write file paths relative to the manifest folder, inside one data root.

    Parameters
    ----------
    out : path-like
        Manifest CSV path.
    folders : sequence of path-like
        Every folder that holds referenced files; the data root is their common ancestor.
    """

    def __init__(self, out: str | os.PathLike[str], folders: Sequence[str | os.PathLike[str]]):
        self.out_folder = Path(os.path.abspath(Path(out).parent))
        absolute = [os.path.abspath(f) for f in folders]
        self.root = Path(os.path.commonpath(absolute))

    def cell(self, path: str | os.PathLike[str]) -> str:
        """Path string for the manifest (POSIX separators, relative to its folder)."""
        return Path(os.path.relpath(os.path.abspath(path), self.out_folder)).as_posix()

    def data_root(self) -> str:
        """``ManifestInfo.data_root`` value (relative to the manifest folder)."""
        return Path(os.path.relpath(self.root, self.out_folder)).as_posix()


def read_delimited(
    path: Path,
    *,
    sep: str | None = None,
    header: bool = True,
    what: str = "table",
    quoting: int = 0,
) -> pd.DataFrame:
    """Read a CSV/TSV as strings (nothing parsed as NaN), stripping spaces around cells.

    ``sep=None`` sniffs the header line: a tab anywhere means tab-separated, otherwise comma
    (VoxCeleb's ``*_meta.csv`` files are tab-separated despite their name).
    """
    if not path.is_file():
        raise DataFormatError(f"{path}: {path_problem(path, what) or 'not a regular file'}")
    try:
        if sep is None:
            with open(path, encoding="utf-8-sig") as fh:
                first = fh.readline()
            sep = "\t" if "\t" in first else ","
        frame = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            header=0 if header else None,
            encoding="utf-8-sig",
            quoting=quoting,
            skipinitialspace=False,
        )
    except (
        OSError,
        UnicodeDecodeError,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        ValueError,
    ) as err:
        raise DataFormatError(f"{path}: cannot read {what}: {err}") from err
    if header and not isinstance(frame.index, pd.RangeIndex):  # extra cells became an index
        raise DataFormatError(
            f"{path}: line 2 has {frame.index.nlevels + len(frame.columns)} cells but the "
            f"header names {len(frame.columns)} columns; cannot read {what}"
        )
    if header:
        frame.columns = [str(c).strip() for c in frame.columns]
    # label i is the row on line i + 2 (i + 1 without a header), blank lines and cells
    # spanning several lines included, so every "line {i + 2}" message names the right line
    frame = index_by_line(
        frame, path, first_line=2 if header else 1, sep=sep, quoting=quoting, encoding="utf-8-sig"
    )
    return frame.apply(lambda col: col.str.strip())


def require_columns(frame: pd.DataFrame, columns: Sequence[str], path: Path, what: str) -> None:
    """Raise naming the file, the missing columns and the columns found."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFormatError(
            f"{path}: {what} lacks column(s) {missing}; found {list(frame.columns)}"
        )


def finish(
    rows: list[dict[str, Any]],
    out: str | os.PathLike[str],
    info: ManifestInfo,
    skipped: Sequence[tuple[str, str]],
    notes: list[str],
    what: str,
    where: Sequence[str] | None = None,
) -> ImportResult:
    """Build the frame, write the manifest and return the result.

    ``where`` gives each row's source file and line: a problem the manifest check finds is
    reported there (else by utterance id), as the manifest it would point into is never
    written.
    """
    out = Path(out)
    if not rows:
        reasons = pd.Series([r for _, r in skipped]).value_counts().head(3).to_dict()
        raise DataFormatError(
            f"{what}: no utterances found to import; skipped {len(skipped)} item(s) {reasons}"
        )
    frame = pd.DataFrame(rows)
    for col in DEMOGRAPHIC_COLUMNS:  # unknown demographics: present and missing
        if col not in frame.columns:
            frame[col] = None
    frame = frame.astype("string")
    extra = dict(info.extra)
    if notes:
        extra["notes"] = list(notes)
    extra["n_skipped"] = len(skipped)
    info = ManifestInfo(
        source=info.source,
        source_version=info.source_version,
        vocabularies=info.vocabularies,
        data_root=info.data_root,
        extra=extra,
    )
    try:
        write_manifest(frame, out, info)
    except ManifestError as err:
        raise _in_source_terms(err, frame, where, what, out) from err
    return ImportResult(
        frame=frame, info=info, path=out, skipped=skipped_frame(skipped), notes=notes
    )


def _in_source_terms(
    err: ManifestError, frame: pd.DataFrame, where: Sequence[str] | None, what: str, out: Path
) -> ManifestError:
    """Re-word manifest issues by source line (or utterance id): ``out`` was not written."""
    lines = [f"{what}: nothing was written to {out}; {len(err.issues)} problem(s):"]
    for issue in err.issues[:20]:
        text = (
            issue.message if issue.column is None else f"column {issue.column!r}: {issue.message}"
        )
        if issue.line is not None:
            k = issue.line - 2  # the manifest's line of the row (header is line 1)
            source = f"row {k + 1} of the import" if where is None else where[k]
            text = f"{source} (utterance {frame['utterance_id'].iat[k]!r}): {text}"
        lines.append(f"  {text}")
    if len(err.issues) > 20:
        lines.append(f"  ... and {len(err.issues) - 20} more")
    return ManifestError("\n".join(lines), err.issues)


def clean(value: Any) -> str | None:
    """Empty strings and NA -> ``None``; other values stripped strings."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None
