"""AVSpeech adapter.

Published layout: ``avspeech_train.csv`` / ``avspeech_test.csv`` with NO header row; columns
YouTube id, start seconds, end seconds, face-centre x, y (normalised to [0, 1]). A clip is
named ``{ytid}_{start:%010.6f}-{end:%010.6f}`` (the id the downloaders use for file names).
Reading these files with a header (pandas' default) silently loses the first row; this
adapter reads them with ``header=None``.

AVSpeech has no demographic fields and no speaker ids: ``speaker_id`` is the YouTube id (one
video is taken as one speaker, an assumption recorded in the notes); a side table keyed by
``clip_id`` or ``ytid`` may supply demographics, which are used exactly as given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from s2f_data._audio import VIDEO_SUFFIXES
from s2f_data._manifest import DEMOGRAPHIC_COLUMNS, ManifestInfo
from s2f_data._video import save_frame
from s2f_data.adapters._common import (
    DEFAULT_SPLIT,
    ImportResult,
    PathWriter,
    SpeakerSplit,
    finish,
    read_delimited,
)
from s2f_data.exceptions import DataFormatError

__all__ = ["AVSPEECH_COLUMNS", "avspeech_clip_id", "import_avspeech", "read_avspeech_csv"]

AVSPEECH_COLUMNS: tuple[str, ...] = ("ytid", "start", "end", "face_x", "face_y")
CLIP_SUFFIXES: tuple[str, ...] = (".mp4", ".wav", ".m4a", ".flac", ".webm", ".mkv")
SPEAKER_NOTE = (
    "AVSpeech has no speaker ids: speaker_id is the YouTube id (one video taken as one speaker)"
)


def avspeech_clip_id(ytid: str, start: float, end: float) -> str:
    """Clip id ``{ytid}_{start:%010.6f}-{end:%010.6f}``.

    Examples
    --------
    >>> avspeech_clip_id("AvWWVOgaMlk", 90.89, 93.96)
    'AvWWVOgaMlk_090.890000-093.960000'
    """
    return f"{ytid}_{start:010.6f}-{end:010.6f}"


def read_avspeech_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a headerless AVSpeech CSV, keeping its first row.

    Parameters
    ----------
    path : path-like
        ``avspeech_train.csv`` or ``avspeech_test.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``ytid``, ``start``, ``end``, ``face_x``, ``face_y`` (floats) and
        ``clip_id``; one row per line of the file.

    Raises
    ------
    DataFormatError
        Wrong column count or a non-numeric / out-of-range value; the message names the
        line and column.
    """
    path = Path(path)
    raw = read_delimited(path, sep=",", header=False, what="AVSpeech CSV")
    if raw.shape[1] != len(AVSPEECH_COLUMNS):
        raise DataFormatError(
            f"{path}: expected {len(AVSPEECH_COLUMNS)} columns (YouTube id, "
            f"start, end, x, y) and no header, found {raw.shape[1]}"
        )
    raw.columns = list(AVSPEECH_COLUMNS)
    out = pd.DataFrame({"ytid": raw["ytid"]})
    for col in AVSPEECH_COLUMNS[1:]:
        values = pd.to_numeric(raw[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            i = int(bad.idxmax())
            hint = " (is there a header row? AVSpeech files have none)" if i == 0 else ""
            raise DataFormatError(
                f"{path}: line {i + 1}, column {col!r}: expected a number, "
                f"got {raw[col][i]!r}{hint}"
            )
        out[col] = values.astype(float)
    for i in out.index:
        if not out["ytid"][i]:
            raise DataFormatError(f"{path}: line {i + 1}, column 'ytid': empty YouTube id")
        if not 0 <= out["start"][i] < out["end"][i]:
            raise DataFormatError(
                f"{path}: line {i + 1}: need 0 <= start < end, got "
                f"{out['start'][i]}, {out['end'][i]}"
            )
        for col in ("face_x", "face_y"):
            if not 0 <= out[col][i] <= 1:
                raise DataFormatError(
                    f"{path}: line {i + 1}, column {col!r}: expected a "
                    f"normalised coordinate in [0, 1], got {out[col][i]}"
                )
    out["clip_id"] = [
        avspeech_clip_id(y, s, e)
        for y, s, e in zip(out["ytid"], out["start"], out["end"], strict=True)
    ]
    return out


def _find_clip(clips_dir: Path, ytid: str, clip_id: str) -> Path | None:
    for folder in (clips_dir, clips_dir / ytid):
        for ext in CLIP_SUFFIXES:
            p = folder / f"{clip_id}{ext}"
            if p.is_file():
                return p
    return None


def _side_table(path: Path) -> tuple[str, pd.DataFrame]:
    side = read_delimited(path, what="side table")
    key = "clip_id" if "clip_id" in side else "ytid" if "ytid" in side else None
    if key is None:
        raise DataFormatError(
            f"{path}: side table needs a 'clip_id' or 'ytid' column; found {list(side.columns)}"
        )
    dup = side[key].duplicated()
    if dup.any():
        i = int(dup.idxmax())
        raise DataFormatError(
            f"{path}: line {i + 2}, column {key!r}: duplicate key {side[key][i]!r}"
        )
    return key, side.set_index(key)


def _csv_files(root: Path) -> tuple[list[Path], Path]:
    """Return the AVSpeech CSV(s) under ``root`` (a file or a folder) and their folder."""
    if root.is_file():
        return [root], root.parent
    if not root.is_dir():
        raise DataFormatError(f"{root}: AVSpeech CSV or folder not found")
    csvs = [root / n for n in ("avspeech_train.csv", "avspeech_test.csv") if (root / n).is_file()]
    if not csvs:
        raise DataFormatError(f"{root}: no avspeech_train.csv or avspeech_test.csv found")
    return csvs, root


def _clip_table(csvs: list[Path], split: SpeakerSplit) -> pd.DataFrame:
    """All listed clips, with ``split`` from the file name or else by YouTube id."""
    tables = []
    for csv in csvs:
        t = read_avspeech_csv(csv)
        name = csv.name.lower()
        t["split"] = "test" if "test" in name else "train" if "train" in name else None
        t["source_file"] = csv.name
        tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    unsplit = table["split"].isna()
    if unsplit.any():
        split_of = split.assign(table.loc[unsplit, "ytid"])
        table.loc[unsplit, "split"] = table.loc[unsplit, "ytid"].map(split_of)
    return table


@dataclass(frozen=True)
class _Frames:
    """Where face frames go and how they are cropped (``folder`` None: no frames)."""

    folder: Path | None
    side_fraction: float


def _clip_row(r: Any, clip: Path, writer: PathWriter) -> dict[str, Any]:
    """Return the manifest row of one listed clip (without face and side-table columns)."""
    return {
        "utterance_id": r.clip_id,
        "speaker_id": r.ytid,
        "audio_path": writer.cell(clip),
        "split": r.split,
        "ytid": r.ytid,
        "start": f"{r.start:.6f}",
        "end": f"{r.end:.6f}",
        "face_x": f"{r.face_x:.6f}",
        "face_y": f"{r.face_y:.6f}",
        "source_file": r.source_file,
    }


def _add_face(
    row: dict[str, Any], r: Any, clip: Path, frames: _Frames, writer: PathWriter
) -> str | None:
    """Save the clip's middle frame around the face centre; return why not, if it failed."""
    row["face_path"] = None
    if frames.folder is None or clip.suffix.lower() not in VIDEO_SUFFIXES:
        return None
    png = frames.folder / f"{r.clip_id}.png"
    try:
        save_frame(clip, png, None, centre=(r.face_x, r.face_y), side_fraction=frames.side_fraction)
    except DataFormatError as err:
        return f"no face frame: {err}"
    row["face_path"] = writer.cell(png)
    return None


def _side_notes(
    rows: list[dict[str, Any]], side: pd.DataFrame, side_key: str
) -> tuple[str, dict[str, tuple[str, ...]]]:
    """Return the side table's match note and its demographic columns' vocabularies."""
    matched = sum(1 for r in rows if any(c in r for c in side.columns))
    vocab = {
        col: tuple(sorted({v for v in side[col] if v}))
        for col in DEMOGRAPHIC_COLUMNS
        if col in side.columns
    }
    return f"side table matched {matched} of {len(rows)} clips by {side_key}", vocab


def _clips_folder(clips_dir: str | os.PathLike[str] | None, base: Path) -> Path:
    """Return the clips folder: ``clips_dir``, else ``<base>/clips`` if it exists, else ``base``."""
    clips = (
        Path(clips_dir)
        if clips_dir is not None
        else (base / "clips" if (base / "clips").is_dir() else base)
    )
    if not clips.is_dir():
        raise DataFormatError(f"{clips}: clips folder not found")
    return clips


def _clip_rows(
    table: pd.DataFrame,
    clips: Path,
    frames: _Frames,
    side_info: tuple[str | None, pd.DataFrame | None],
    writer: PathWriter,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Build one manifest row per listed clip that has a file.

    Returns the rows and the skipped ``(clip_id, reason)`` pairs: clips without a file are
    left out; a clip whose face frame fails keeps its row and is also listed as skipped.
    ``side_info`` is the side table's key column and the table (``(None, None)`` without one).
    """
    side_key, side = side_info
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for r in table.itertuples(index=False):
        clip = _find_clip(clips, r.ytid, r.clip_id)
        if clip is None:
            skipped.append((r.clip_id, "clip file not found"))
            continue
        row = _clip_row(r, clip, writer)
        if frames.folder is not None and (problem := _add_face(row, r, clip, frames, writer)):
            skipped.append((r.clip_id, problem))
        if side is not None:
            key = r.clip_id if side_key == "clip_id" else r.ytid
            if key in side.index:
                row.update({str(col): val or None for col, val in side.loc[key].items()})
        rows.append(row)
    return rows, skipped


def import_avspeech(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    clips_dir: str | os.PathLike[str] | None = None,
    side_table: str | os.PathLike[str] | None = None,
    frames_dir: str | os.PathLike[str] | None = None,
    face_side: float = 0.6,
    split: SpeakerSplit = DEFAULT_SPLIT,
) -> ImportResult:
    """Import AVSpeech clips listed in the headerless CSV(s).

    Parameters
    ----------
    root : path-like
        Folder with ``avspeech_train.csv`` and/or ``avspeech_test.csv`` (the split comes
        from the file name), or one CSV file (split by YouTube id with ``split`` unless its
        name contains ``train`` or ``test``).
    out : path-like
        Manifest CSV to write.
    clips_dir : path-like, optional
        Folder of downloaded clips ``<clip_id>.<ext>`` or ``<ytid>/<clip_id>.<ext>``
        (default: ``<root>/clips`` if it exists, else ``<root>``). Listed clips without a
        file are skipped and counted.
    side_table : path-like, optional
        CSV keyed by ``clip_id`` or ``ytid`` with demographic columns (``gender``,
        ``age_group``, ``ethnicity``, ``language``, ``accent``) and any others; used as given.
    frames_dir : path-like, optional
        When given, the middle frame of every video clip, cropped to a square of
        ``face_side`` of the frame height around the face centre, is saved there as
        ``<clip_id>.png`` and becomes ``face_path``.
    face_side : float
        Crop size relative to the frame height.
    split : SpeakerSplit
        Speaker split for a CSV whose name does not give the split.

    Returns
    -------
    ImportResult
        The written manifest, skipped items and notes.
    """
    root = Path(root)
    csvs, base = _csv_files(root)
    clips = _clips_folder(clips_dir, base)
    frames = _Frames(None if frames_dir is None else Path(frames_dir), face_side)
    side_key, side = (None, None) if side_table is None else _side_table(Path(side_table))
    table = _clip_table(csvs, split)
    writer = PathWriter(out, [clips] + ([frames.folder] if frames.folder is not None else []))
    rows, skipped = _clip_rows(table, clips, frames, (side_key, side), writer)
    notes = [SPEAKER_NOTE]
    vocab: dict[str, tuple[str, ...]] = {}
    if side is not None:
        side_note, vocab = _side_notes(rows, side, side_key)
        notes.append(side_note)
    info = ManifestInfo(
        source="avspeech",
        vocabularies=vocab,
        data_root=writer.data_root(),
        extra={
            "csv": [str(c) for c in csvs],
            "clips_dir": str(clips),
            "side_table": None if side_table is None else str(side_table),
            "split_seed": split.seed,
            "clip_id_format": "{ytid}_{start:%010.6f}-{end:%010.6f}",
        },
    )
    return finish(rows, out, info, skipped, notes, f"AVSpeech at {root}")
